//! Waiting for results: `await_result`, `create_and_wait`, `watch` and `await_many`, all
//! driven by the core's [`Poller`].

use std::future::{Future, pending};
use std::pin::Pin;

#[cfg(doc)]
use cloud_task_core::DEFAULT_AWAIT_MANY_IN_FLIGHT;
use cloud_task_core::{
    AwaitOptions, CancelToken, CreateTaskRequest, Error, HttpResponse, PollAction, PollSetAction,
    Poller, PollerSet, RequestId, Result, TaskOutcome, TaskStatus, TaskSuccess, WatchEvent,
};
use futures_util::stream::{FuturesUnordered, StreamExt};
use serde::de::DeserializeOwned;
use serde_json::Value;
use tracing::Instrument;

use crate::client::{Client, Sent};

/// Runs `fut` unless `token` fires first (checked before `fut` is first polled).
pub(crate) async fn until_cancelled<F: Future>(
    token: Option<&CancelToken>,
    fut: F,
) -> Result<F::Output> {
    match token {
        None => Ok(fut.await),
        Some(token) => tokio::select! {
            biased;
            () = token.cancelled() => Err(Error::cancelled()),
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
    /// sleeps what it says to sleep, and feeds the options' cancel token to it as an input
    /// (ending a sleep or a poll in flight at once).
    async fn step<T: DeserializeOwned>(&self, poller: &mut Poller<T>) -> Step<T> {
        let token = poller.options().get_cancel_token().cloned();
        loop {
            match poller.poll_action(self.now()) {
                PollAction::Send(transmit) => {
                    let task_id = poller.task_id().to_owned();
                    match self
                        .transmit(transmit, Some(&task_id), token.as_ref())
                        .await
                    {
                        Sent::Answer(id, Ok(response)) => {
                            poller.handle_response(id, response, self.now());
                        }
                        Sent::Answer(id, Err(error)) => {
                            poller.handle_transport_error(id, error, self.now());
                        }
                        Sent::Cancelled => poller.cancel(),
                    }
                }
                PollAction::Progress { progress, status } => {
                    return Step::Progress { progress, status };
                }
                PollAction::Wait(duration) => {
                    let sleep = self.inner.timer.sleep(duration);
                    if until_cancelled(token.as_ref(), sleep).await.is_err() {
                        poller.cancel();
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
            let mut poller = Poller::new_as::<T>(self.config(), task_id, &options, self.now())?;
            loop {
                match self.step(&mut poller).await {
                    Step::Progress { progress, status } => {
                        poller
                            .options()
                            .report_progress(poller.task_id(), progress, &status);
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
    /// The options are checked first ([`AwaitOptions::validate`]): bad options create
    /// nothing. When the options' cancel token has already fired, nothing is sent; the
    /// creation itself is never cut short by the token (its answer holds the task ID; it
    /// is bounded by the per-request timeout); once the task is created, cancelling ends
    /// the wait with [`Error::Cancelled`] carrying the task ID (the task keeps running on
    /// the server). A timeout or a failed task carries the task ID too.
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
        // Bad options or a cancelled wait create nothing. The creation itself is not raced
        // with the token: cut short, it could start a task whose ID would be lost.
        options.check_before_create(self.config())?;
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
        self.watch_as::<Value>(task_id, options)
    }

    /// [`watch`](Self::watch) with the final result's data decoded as `T`.
    pub fn watch_as<T: DeserializeOwned + Send + 'static>(
        &self,
        task_id: &str,
        options: AwaitOptions,
    ) -> WatchStream<T> {
        let poller = Poller::new_as::<T>(self.config(), task_id, &options, self.now())
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
                    poller
                        .options()
                        .report_progress(poller.task_id(), progress, &status);
                    let event = WatchEvent::Progress { status, progress };
                    Some((Ok(event), Some((client, Ok(poller)))))
                }
                Step::Done(Ok(success)) => Some((Ok(WatchEvent::Finished(success)), None)),
                Step::Done(Err(error)) => Some((Err(error), None)),
            }
        });
        WatchStream {
            inner: Box::pin(stream),
        }
    }

    /// Waits for many tasks: one `Result` per task ID, in input order.
    ///
    /// Each task has its own core [`Poller`] (its own schedule, retries and deadline, the
    /// timeout counting from this call); the core's [`PollerSet`] decides which polls are
    /// due, at most [`AwaitOptions::max_in_flight`] at once (default
    /// [`DEFAULT_AWAIT_MANY_IN_FLIGHT`], 16), and how long to sleep until the next one.
    /// Memory is a few hundred bytes per task plus the requests in flight, so thousands of
    /// tasks are fine. The progress callbacks are called for every in-progress result of
    /// any task: [`AwaitOptions::on_task_progress`] says which. When the cancel token
    /// fires, every task not finished yet gets [`Error::Cancelled`]; results already
    /// obtained are kept.
    ///
    /// ```no_run
    /// # async fn run(client: cloud_task_async::Client) {
    /// use cloud_task_async::AwaitOptions;
    /// let ids = ["task-1", "task-2", "task-3"];
    /// let options = AwaitOptions::new()
    ///     .max_in_flight(4)
    ///     .on_task_progress(|id, progress, status| println!("{id}: {status} {progress}%"));
    /// for (id, result) in ids.iter().zip(client.await_many(ids, options).await) {
    ///     match result {
    ///         Ok(success) => println!("{id}: {:?}", success.result_data),
    ///         Err(error) => println!("{id}: {error}"),
    ///     }
    /// }
    /// # }
    /// ```
    pub async fn await_many(
        &self,
        task_ids: impl IntoIterator<Item = impl Into<String>>,
        options: AwaitOptions,
    ) -> Vec<Result<TaskSuccess>> {
        self.await_many_as::<Value>(task_ids, options).await
    }

    /// [`await_many`](Self::await_many) with each result's data decoded as `T`.
    pub async fn await_many_as<T: DeserializeOwned>(
        &self,
        task_ids: impl IntoIterator<Item = impl Into<String>>,
        options: AwaitOptions,
    ) -> Vec<Result<TaskSuccess<T>>> {
        let mut set = PollerSet::new_as::<T>(self.config(), task_ids, &options, self.now());
        let token = set.options().get_cancel_token().cloned();
        let mut in_flight: FuturesUnordered<PollFuture<'_>> = FuturesUnordered::new();
        loop {
            let sleep = match set.poll_action(self.now()) {
                PollSetAction::Send { index, transmit } => {
                    let id = transmit.id;
                    let send = self.send(transmit, set.task_id(index));
                    in_flight.push(Box::pin(async move { (id, send.await) }));
                    continue;
                }
                PollSetAction::Progress {
                    index,
                    progress,
                    status,
                } => {
                    let task_id = set.task_id(index).unwrap_or_default();
                    set.options().report_progress(task_id, progress, &status);
                    continue;
                }
                PollSetAction::Finished => break,
                PollSetAction::Wait(duration) => Some(duration),
                // Each poll in flight is cut off at its own deadline: only answers matter.
                PollSetAction::AwaitResponse(_) => None,
            };
            let sleep = async {
                match sleep {
                    Some(duration) => self.inner.timer.sleep(duration).await,
                    None => pending().await,
                }
            };
            tokio::select! {
                biased;
                () = cancelled(token.as_ref()) => set.cancel(),
                Some((id, outcome)) = in_flight.next(), if !in_flight.is_empty() => {
                    match outcome {
                        Ok(response) => set.handle_response(id, response, self.now()),
                        Err(error) => set.handle_transport_error(id, error, self.now()),
                    }
                }
                () = sleep => {}
            }
        }
        set.into_outcomes()
    }
}

/// A stream of [`WatchEvent`]s, from [`Client::watch`] (or [`Client::watch_as`], with the
/// result data decoded as `T`). `Unpin`: call `next()` directly.
pub struct WatchStream<T = Value> {
    inner: Pin<Box<dyn futures_core::Stream<Item = Result<WatchEvent<T>>> + Send>>,
}

impl<T> futures_core::Stream for WatchStream<T> {
    type Item = Result<WatchEvent<T>>;

    fn poll_next(
        mut self: Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Self::Item>> {
        self.inner.as_mut().poll_next(cx)
    }
}

impl<T> std::fmt::Debug for WatchStream<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("WatchStream")
    }
}

type PollFuture<'a> = Pin<Box<dyn Future<Output = (RequestId, Result<HttpResponse>)> + Send + 'a>>;
