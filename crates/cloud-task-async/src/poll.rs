//! Waiting for results: `await_result`, `create_and_wait`, `watch` and `await_many`, all
//! driven by the core's [`Poller`].

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::future::{Future, pending};
use std::pin::Pin;
use std::time::Instant;

use cloud_task_core::models::WatchEvent;
use cloud_task_core::{
    AwaitOptions, CancelToken, CreateTaskRequest, DEFAULT_AWAIT_MANY_IN_FLIGHT, Error,
    GetTaskResult, HttpResponse, Operation, PollAction, Poller, Result, TaskOutcome, TaskStatus,
    TaskSuccess,
};
use futures_util::stream::{FuturesUnordered, StreamExt};
use serde::de::DeserializeOwned;
use serde_json::Value;
use tracing::Instrument;

use crate::client::Client;

/// Runs `fut` unless `token` fires first (checked before `fut` is first polled).
pub(crate) async fn until_cancelled<F: Future>(
    token: Option<&CancelToken>,
    fut: F,
) -> Result<F::Output> {
    match token {
        None => Ok(fut.await),
        Some(token) => tokio::select! {
            biased;
            () = token.cancelled() => Err(Error::Cancelled),
            out = fut => Ok(out),
        },
    }
}

/// Completes when `token` fires; never without one.
pub(crate) async fn cancelled(token: Option<&CancelToken>) {
    match token {
        Some(token) => token.cancelled().await,
        None => pending().await,
    }
}

/// What a poller produced that the caller must see.
enum Step<T> {
    Progress { progress: f64, status: TaskStatus },
    Done(Result<TaskSuccess<T>>),
}

impl Client {
    /// Drives `poller` until it reports progress or finishes: sends what it says to send,
    /// sleeps what it says to sleep, and races both with the options' cancel token.
    async fn step<T: DeserializeOwned>(&self, poller: &mut Poller<T>) -> Step<T> {
        let token = poller.options().get_cancel_token().cloned();
        loop {
            match poller.poll_action(self.now()) {
                PollAction::Send(request) => {
                    let send = self.send(GetTaskResult::<T>::NAME, Some(poller.task_id()), request);
                    match until_cancelled(token.as_ref(), send).await {
                        Ok(Ok(response)) => poller.handle_response(response, self.now()),
                        Ok(Err(error)) | Err(error) => {
                            poller.handle_transport_error(error, self.now());
                        }
                    }
                }
                PollAction::Progress { progress, status } => {
                    return Step::Progress { progress, status };
                }
                PollAction::Wait(duration) => {
                    let sleep = self.inner.timer.sleep(duration);
                    if let Err(error) = until_cancelled(token.as_ref(), sleep).await {
                        return Step::Done(Err(error));
                    }
                }
                PollAction::Done(outcome) => return Step::Done(outcome),
            }
        }
    }

    /// Polls `task_id` until it succeeds (its result), fails ([`Error::TaskFailed`]),
    /// times out ([`Error::Timeout`]) or is cancelled ([`Error::Cancelled`]).
    ///
    /// The schedule, retries of failed polls, progress reports and the timeout are the
    /// core [`Poller`]'s; the options' progress callback is called for each in-progress
    /// result. Dropping the future stops polling.
    pub async fn await_result(&self, task_id: &str, options: AwaitOptions) -> Result<TaskSuccess> {
        self.await_result_as::<Value>(task_id, options).await
    }

    /// [`await_result`](Self::await_result) with the result data decoded as `T`.
    pub async fn await_result_as<T: DeserializeOwned>(
        &self,
        task_id: &str,
        options: AwaitOptions,
    ) -> Result<TaskSuccess<T>> {
        let span = tracing::debug_span!("cloud_task_await", task_id);
        async {
            let mut poller = Poller::<T>::new(self.config(), task_id, &options, self.now())?;
            loop {
                match self.step(&mut poller).await {
                    Step::Progress { progress, status } => {
                        options.report_progress(progress, &status);
                    }
                    Step::Done(outcome) => return outcome,
                }
            }
        }
        .instrument(span)
        .await
    }

    /// Creates a task (once: never retried) and waits for its result.
    ///
    /// When the options' cancel token has already fired, nothing is sent; once the task
    /// is created, cancelling ends the wait (the task keeps running on the server).
    ///
    /// ```no_run
    /// # async fn run(client: cloud_task_async::Client) -> cloud_task_async::Result<()> {
    /// use cloud_task_async::{AwaitOptions, CreateTaskRequest, TaskOutcome};
    /// let TaskOutcome { task_id, result } = client
    ///     .create_and_wait(
    ///         CreateTaskRequest::new("@oomol/echo", "1.0.0", "main").input("x", 1),
    ///         AwaitOptions::new().on_progress(|p, s| println!("{s} {p}%")),
    ///     )
    ///     .await?;
    /// # Ok(()) }
    /// ```
    pub async fn create_and_wait(
        &self,
        request: CreateTaskRequest,
        options: AwaitOptions,
    ) -> Result<TaskOutcome> {
        self.create_and_wait_as::<Value>(request, options).await
    }

    /// [`create_and_wait`](Self::create_and_wait) with the result data decoded as `T`.
    pub async fn create_and_wait_as<T: DeserializeOwned>(
        &self,
        request: CreateTaskRequest,
        options: AwaitOptions,
    ) -> Result<TaskOutcome<T>> {
        // A cancelled wait creates nothing. The creation itself is not raced with the
        // token: cut short, it could start a task whose ID would be lost.
        if options
            .get_cancel_token()
            .is_some_and(CancelToken::is_cancelled)
        {
            return Err(Error::Cancelled);
        }
        let created = self.create_task(request).await?;
        let result = self.await_result_as::<T>(&created.task_id, options).await?;
        Ok(TaskOutcome::new(created.task_id, result))
    }

    /// A stream of a task's status and progress changes (no repeats), ending with
    /// [`WatchEvent::Finished`], or with the error that ended the wait (task failed,
    /// timeout, cancellation).
    ///
    /// Polls as [`await_result`](Self::await_result) does (the options' progress callback
    /// is called too). Nothing is sent until the stream is polled; dropping it stops.
    ///
    /// ```no_run
    /// # async fn run(client: cloud_task_async::Client) -> cloud_task_async::Result<()> {
    /// use cloud_task_async::{AwaitOptions, WatchEvent};
    /// use futures_util::StreamExt;
    /// let mut events = client.watch("task-id", AwaitOptions::new());
    /// while let Some(event) = events.next().await {
    ///     match event? {
    ///         WatchEvent::Progress { status, progress } => println!("{status} {progress}%"),
    ///         WatchEvent::Finished(result) => println!("{:?}", result.result_data),
    ///         _ => {}
    ///     }
    /// }
    /// # Ok(()) }
    /// ```
    pub fn watch(&self, task_id: &str, options: AwaitOptions) -> WatchStream {
        let poller = Poller::<Value>::new(self.config(), task_id, &options, self.now())
            .map(|p| p.deduplicate_progress(true));
        let state = Some((self.clone(), poller));
        let stream = futures_util::stream::unfold(state, |state| async move {
            let (client, poller) = state?;
            let mut poller = match poller {
                Ok(poller) => poller,
                Err(error) => return Some((Err(error), None)),
            };
            match client.step(&mut poller).await {
                Step::Progress { progress, status } => {
                    poller.options().report_progress(progress, &status);
                    let event = WatchEvent::Progress { status, progress };
                    Some((Ok(event), Some((client, Ok(poller)))))
                }
                Step::Done(Ok(success)) => Some((Ok(WatchEvent::Finished(success)), None)),
                Step::Done(Err(error)) => Some((Err(error), None)),
            }
        });
        WatchStream::new(stream)
    }

    /// Waits for many tasks with at most [`DEFAULT_AWAIT_MANY_IN_FLIGHT`] (16) polls in
    /// flight; see [`await_many_with`](Self::await_many_with).
    pub async fn await_many<I, S>(
        &self,
        task_ids: I,
        options: AwaitOptions,
    ) -> Vec<Result<TaskSuccess>>
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.await_many_with(task_ids, options, DEFAULT_AWAIT_MANY_IN_FLIGHT)
            .await
    }

    /// Waits for many tasks: one `Result` per task ID, in input order.
    ///
    /// Each task has its own core [`Poller`] (its own schedule, retries and deadline, the
    /// timeout counting from this call); a single scheduler sends the polls that are due,
    /// at most `max_in_flight` at once (at least 1), and sleeps until the next one is due.
    /// Memory is a few hundred bytes per task plus the requests in flight, so thousands of
    /// tasks are fine. The progress callback is called for every in-progress result of any
    /// task. When the cancel token fires, every task not finished yet gets
    /// [`Error::Cancelled`]; results already obtained are kept.
    pub async fn await_many_with<I, S>(
        &self,
        task_ids: I,
        options: AwaitOptions,
        max_in_flight: usize,
    ) -> Vec<Result<TaskSuccess>>
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let start = self.now();
        let slots = task_ids
            .into_iter()
            .map(|id| match Poller::new(self.config(), id, &options, start) {
                Ok(poller) => Slot::Polling(Box::new(poller)),
                Err(error) => Slot::Done(Err(error)),
            })
            .collect();
        let mut scheduler = Scheduler {
            client: self,
            options: &options,
            max_in_flight: max_in_flight.max(1),
            slots,
            due: BinaryHeap::new(),
            in_flight: FuturesUnordered::new(),
        };
        scheduler.run(start).await;
        scheduler
            .slots
            .into_iter()
            .map(|slot| match slot {
                Slot::Done(outcome) => outcome,
                // Only reachable when the loop ended on cancellation.
                Slot::Polling(_) => Err(Error::Cancelled),
            })
            .collect()
    }
}

boxed_stream! {
    /// A stream of [`WatchEvent`]s, from [`Client::watch`]. `Unpin`: call `next()` directly.
    WatchStream => WatchEvent
}

/// One task of `await_many`.
enum Slot {
    Polling(Box<Poller>),
    Done(Result<TaskSuccess>),
}

type PollFuture<'a> = Pin<Box<dyn Future<Output = (usize, Result<HttpResponse>)> + Send + 'a>>;

/// What woke the scheduler up.
enum Wake {
    Cancelled,
    Answered(usize, Result<HttpResponse>),
    Due,
}

/// The scheduler of `await_many`: pollers keyed on their next due time, a bounded set of
/// polls in flight, one sleep at a time.
struct Scheduler<'a> {
    client: &'a Client,
    options: &'a AwaitOptions,
    max_in_flight: usize,
    slots: Vec<Slot>,
    /// `(due time, slot)` of every poller waiting to poll.
    due: BinaryHeap<Reverse<(Instant, usize)>>,
    in_flight: FuturesUnordered<PollFuture<'a>>,
}

impl<'a> Scheduler<'a> {
    async fn run(&mut self, start: Instant) {
        for (index, slot) in self.slots.iter().enumerate() {
            if matches!(slot, Slot::Polling(_)) {
                self.due.push(Reverse((start, index)));
            }
        }
        let token = self.options.get_cancel_token().cloned();
        let timer = &self.client.inner.timer;
        loop {
            let now = self.client.now();
            while self.in_flight.len() < self.max_in_flight {
                match self.due.peek() {
                    Some(Reverse((at, _))) if *at <= now => {}
                    _ => break,
                }
                if let Some(Reverse((_, index))) = self.due.pop() {
                    self.advance(index, now);
                }
            }
            if self.in_flight.is_empty() && self.due.is_empty() {
                return;
            }
            let next_due = match self.due.peek() {
                Some(Reverse((at, _))) if self.in_flight.len() < self.max_in_flight => Some(*at),
                _ => None,
            };
            let sleep = async {
                match next_due {
                    Some(at) => timer.sleep(at.saturating_duration_since(now)).await,
                    None => pending().await,
                }
            };
            let wake = tokio::select! {
                biased;
                () = cancelled(token.as_ref()) => Wake::Cancelled,
                Some((index, outcome)) = self.in_flight.next(), if !self.in_flight.is_empty() => {
                    Wake::Answered(index, outcome)
                }
                () = sleep => Wake::Due,
            };
            match wake {
                Wake::Cancelled => {
                    for slot in &mut self.slots {
                        if matches!(slot, Slot::Polling(_)) {
                            *slot = Slot::Done(Err(Error::Cancelled));
                        }
                    }
                    return;
                }
                Wake::Answered(index, outcome) => {
                    let now = self.client.now();
                    if let Slot::Polling(poller) = &mut self.slots[index] {
                        match outcome {
                            Ok(response) => poller.handle_response(response, now),
                            Err(error) => poller.handle_transport_error(error, now),
                        }
                    }
                    // Its poll left the in-flight set: there is room for its next one.
                    self.advance(index, now);
                }
                Wake::Due => {}
            }
        }
    }

    /// Asks slot `index`'s poller what to do until it sends, waits or finishes. Call only
    /// when there is room for one more poll in flight.
    fn advance(&mut self, index: usize, now: Instant) {
        let Slot::Polling(poller) = &mut self.slots[index] else {
            return;
        };
        loop {
            match poller.poll_action(now) {
                PollAction::Send(request) => {
                    let send = self.client.send(
                        GetTaskResult::<Value>::NAME,
                        Some(poller.task_id()),
                        request,
                    );
                    self.in_flight
                        .push(Box::pin(async move { (index, send.await) }));
                    return;
                }
                PollAction::Progress { progress, status } => {
                    self.options.report_progress(progress, &status);
                }
                PollAction::Wait(duration) => {
                    let at = now.checked_add(duration).unwrap_or(now);
                    self.due.push(Reverse((at, index)));
                    return;
                }
                PollAction::Done(outcome) => {
                    self.slots[index] = Slot::Done(outcome);
                    return;
                }
            }
        }
    }
}
