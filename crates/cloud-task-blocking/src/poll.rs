//! Waiting for results: `await_result`, `create_and_wait`, `watch` and `await_many`, all
//! driven by the core's [`Poller`].

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::fmt;
use std::iter::FusedIterator;
use std::panic::{self, AssertUnwindSafe};
use std::sync::mpsc::{self, Receiver, Sender, TryRecvError};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Instant;

use cloud_task_core::models::WatchEvent;
use cloud_task_core::{
    AwaitOptions, CancelToken, CreateTaskRequest, DEFAULT_AWAIT_MANY_IN_FLIGHT, Error,
    GetTaskResult, HttpRequest, HttpResponse, Operation, PollAction, Poller, Result, TaskOutcome,
    TaskStatus, TaskSuccess, TransportErrorKind,
};
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::client::Client;

/// The span name of a result poll.
const POLL: &str = GetTaskResult::<Value>::NAME;

/// What a poller produced that the caller must see.
enum Step<T> {
    Progress { progress: f64, status: TaskStatus },
    Done(Result<TaskSuccess<T>>),
}

fn is_cancelled(token: Option<&CancelToken>) -> bool {
    token.is_some_and(CancelToken::is_cancelled)
}

impl Client {
    /// Drives `poller` until it reports progress or finishes: sends what it says to send
    /// and sleeps what it says to sleep (a sleep the options' cancel token ends at once).
    fn step<T: DeserializeOwned>(&self, poller: &mut Poller<T>) -> Step<T> {
        let token = poller.options().get_cancel_token().cloned();
        loop {
            match poller.poll_action(self.now()) {
                PollAction::Send(request) => {
                    if is_cancelled(token.as_ref()) {
                        return Step::Done(Err(Error::Cancelled));
                    }
                    match self.send(POLL, Some(poller.task_id()), request) {
                        Ok(response) => poller.handle_response(response, self.now()),
                        Err(error) => poller.handle_transport_error(error, self.now()),
                    }
                }
                PollAction::Progress { progress, status } => {
                    return Step::Progress { progress, status };
                }
                PollAction::Wait(duration) => {
                    if let Err(error) = self.timer().sleep(duration, token.as_ref()) {
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
    /// core [`Poller`]'s; the options' progress callback is called (on this thread) for
    /// each in-progress result. Cancelling the options' token from another thread ends a
    /// wait between polls at once; a poll already sent is answered first (it is short).
    ///
    /// ```no_run
    /// use std::time::Duration;
    /// use cloud_task_blocking::{AwaitOptions, CancelToken, Client, Error};
    ///
    /// let client = Client::from_env()?;
    /// let token = CancelToken::new();
    /// let canceller = token.clone();
    /// std::thread::spawn(move || {
    ///     std::thread::sleep(Duration::from_secs(60));
    ///     canceller.cancel(); // ends the wait below promptly
    /// });
    /// match client.await_result("task-id", AwaitOptions::new().cancel_token(token)) {
    ///     Ok(success) => println!("{:?}", success.result_data),
    ///     Err(Error::Cancelled) => println!("gave up"),
    ///     Err(error) => return Err(error),
    /// }
    /// # Ok::<(), cloud_task_blocking::Error>(())
    /// ```
    pub fn await_result(&self, task_id: &str, options: AwaitOptions) -> Result<TaskSuccess> {
        self.await_result_as::<Value>(task_id, options)
    }

    /// [`await_result`](Self::await_result) with the result data decoded as `T`.
    pub fn await_result_as<T: DeserializeOwned>(
        &self,
        task_id: &str,
        options: AwaitOptions,
    ) -> Result<TaskSuccess<T>> {
        let span = tracing::debug_span!("cloud_task_await", task_id);
        let _entered = span.enter();
        let mut poller = Poller::<T>::new(self.config(), task_id, &options, self.now())?;
        loop {
            match self.step(&mut poller) {
                Step::Progress { progress, status } => options.report_progress(progress, &status),
                Step::Done(outcome) => return outcome,
            }
        }
    }

    /// Creates a task (once: never retried) and waits for its result.
    ///
    /// When the options' cancel token has already fired, nothing is sent; once the task
    /// is created, cancelling ends the wait (the task keeps running on the server).
    ///
    /// ```no_run
    /// use cloud_task_blocking::{AwaitOptions, Client, CreateTaskRequest, TaskOutcome};
    /// let client = Client::from_env()?;
    /// let TaskOutcome { task_id, result } = client.create_and_wait(
    ///     CreateTaskRequest::new("@oomol/echo", "1.0.0", "main").input("x", 1),
    ///     AwaitOptions::new().on_progress(|p, s| println!("{s} {p}%")),
    /// )?;
    /// # Ok::<(), cloud_task_blocking::Error>(())
    /// ```
    pub fn create_and_wait(
        &self,
        request: CreateTaskRequest,
        options: AwaitOptions,
    ) -> Result<TaskOutcome> {
        self.create_and_wait_as::<Value>(request, options)
    }

    /// [`create_and_wait`](Self::create_and_wait) with the result data decoded as `T`.
    pub fn create_and_wait_as<T: DeserializeOwned>(
        &self,
        request: CreateTaskRequest,
        options: AwaitOptions,
    ) -> Result<TaskOutcome<T>> {
        if is_cancelled(options.get_cancel_token()) {
            return Err(Error::Cancelled);
        }
        let created = self.create_task(request)?;
        let result = self.await_result_as::<T>(&created.task_id, options)?;
        Ok(TaskOutcome::new(created.task_id, result))
    }

    /// An iterator over a task's status and progress changes (no repeats), ending with
    /// [`WatchEvent::Finished`], or with the error that ended the wait (task failed,
    /// timeout, cancellation).
    ///
    /// Polls as [`await_result`](Self::await_result) does (the options' progress callback
    /// is called too). Nothing is sent until `next()` is called; each `next()` blocks until
    /// the next change.
    ///
    /// ```no_run
    /// use cloud_task_blocking::{AwaitOptions, Client, WatchEvent};
    /// let client = Client::from_env()?;
    /// for event in client.watch("task-id", AwaitOptions::new()) {
    ///     match event? {
    ///         WatchEvent::Progress { status, progress } => println!("{status} {progress}%"),
    ///         WatchEvent::Finished(result) => println!("{:?}", result.result_data),
    ///         _ => {}
    ///     }
    /// }
    /// # Ok::<(), cloud_task_blocking::Error>(())
    /// ```
    pub fn watch(&self, task_id: &str, options: AwaitOptions) -> WatchIter {
        let state = match Poller::<Value>::new(self.config(), task_id, &options, self.now()) {
            Ok(poller) => WatchState::Polling(Box::new(poller.deduplicate_progress(true))),
            Err(error) => WatchState::Failed(error),
        };
        WatchIter {
            client: self.clone(),
            state,
        }
    }

    /// Waits for many tasks with at most [`DEFAULT_AWAIT_MANY_IN_FLIGHT`] (16) polls in
    /// flight; see [`await_many_with`](Self::await_many_with).
    pub fn await_many<I, S>(&self, task_ids: I, options: AwaitOptions) -> Vec<Result<TaskSuccess>>
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.await_many_with(task_ids, options, DEFAULT_AWAIT_MANY_IN_FLIGHT)
    }

    /// Waits for many tasks: one `Result` per task ID, in input order.
    ///
    /// Each task has its own core [`Poller`] (its own schedule, retries and deadline, the
    /// timeout counting from this call). This thread interleaves them: it hands the polls
    /// that are due to a pool of `max_in_flight` scoped threads (at least 1, at most one
    /// per task), feeds each answer back to its poller, and sleeps until the earliest next
    /// poll is due or an answer arrives. Memory is a few hundred bytes per task plus the
    /// requests in flight, so thousands of tasks are fine. The progress callback is called
    /// on this thread for every in-progress result of any task. When the cancel token
    /// fires, every task not finished yet gets [`Error::Cancelled`] (after the polls in
    /// flight are answered); results already obtained are kept.
    ///
    /// ```no_run
    /// use cloud_task_blocking::{AwaitOptions, Client};
    /// let client = Client::from_env()?;
    /// let ids = ["task-1", "task-2", "task-3"];
    /// for (id, result) in ids.iter().zip(client.await_many_with(ids, AwaitOptions::new(), 4)) {
    ///     match result {
    ///         Ok(success) => println!("{id}: {:?}", success.result_data),
    ///         Err(error) => println!("{id}: {error}"),
    ///     }
    /// }
    /// # Ok::<(), cloud_task_blocking::Error>(())
    /// ```
    pub fn await_many_with<I, S>(
        &self,
        task_ids: I,
        options: AwaitOptions,
        max_in_flight: usize,
    ) -> Vec<Result<TaskSuccess>>
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let span = tracing::debug_span!("cloud_task_await_many");
        let _entered = span.enter();
        let start = self.now();
        let mut slots: Vec<Slot> = task_ids
            .into_iter()
            .map(|id| match Poller::new(self.config(), id, &options, start) {
                Ok(poller) => Slot::Polling(Box::new(poller)),
                Err(error) => Slot::Done(Err(error)),
            })
            .collect();
        let polling = slots
            .iter()
            .filter(|s| matches!(s, Slot::Polling(_)))
            .count();
        let workers = max_in_flight.clamp(1, polling.max(1));
        if polling > 0 && !is_cancelled(options.get_cancel_token()) {
            std::thread::scope(|scope| {
                let (jobs, job_queue) = mpsc::channel::<Job>();
                let (answers, answered) = mpsc::channel::<Answer>();
                let wakeup = Arc::new(Wakeup::default());
                let job_queue = Arc::new(Mutex::new(job_queue));
                for _ in 0..workers {
                    let job_queue = Arc::clone(&job_queue);
                    let answers = answers.clone();
                    let wakeup = Arc::clone(&wakeup);
                    let span = span.clone();
                    scope.spawn(move || {
                        let _entered = span.enter();
                        poll_worker(self, &job_queue, &answers, &wakeup);
                    });
                }
                // Only the workers hold the queue: should they all end, a send fails.
                drop(job_queue);
                let mut scheduler = Scheduler {
                    client: self,
                    options: &options,
                    max_in_flight: workers,
                    slots: &mut slots,
                    due: BinaryHeap::new(),
                    in_flight: 0,
                    jobs,
                    answered,
                    wakeup: Arc::clone(&wakeup),
                };
                scheduler.run(start, answers);
                // Dropping the scheduler closes the job queue: the workers end once the
                // polls in flight are answered.
            });
        }
        slots
            .into_iter()
            .map(|slot| match slot {
                Slot::Done(outcome) => outcome,
                // Only reachable when the wait was cancelled.
                Slot::Polling(_) => Err(Error::Cancelled),
            })
            .collect()
    }
}

/// The iterator of [`Client::watch`]: [`WatchEvent`]s until the task finishes.
pub struct WatchIter {
    client: Client,
    state: WatchState,
}

enum WatchState {
    Polling(Box<Poller>),
    Failed(Error),
    Ended,
}

impl Iterator for WatchIter {
    type Item = Result<WatchEvent>;

    fn next(&mut self) -> Option<Self::Item> {
        match std::mem::replace(&mut self.state, WatchState::Ended) {
            WatchState::Ended => None,
            WatchState::Failed(error) => Some(Err(error)),
            WatchState::Polling(mut poller) => match self.client.step(&mut poller) {
                Step::Progress { progress, status } => {
                    poller.options().report_progress(progress, &status);
                    self.state = WatchState::Polling(poller);
                    Some(Ok(WatchEvent::Progress { status, progress }))
                }
                Step::Done(Ok(success)) => Some(Ok(WatchEvent::Finished(success))),
                Step::Done(Err(error)) => Some(Err(error)),
            },
        }
    }
}

impl FusedIterator for WatchIter {}

impl fmt::Debug for WatchIter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let task_id = match &self.state {
            WatchState::Polling(poller) => Some(poller.task_id()),
            _ => None,
        };
        f.debug_struct("WatchIter")
            .field("task_id", &task_id)
            .field("ended", &matches!(self.state, WatchState::Ended))
            .finish()
    }
}

/// One task of `await_many`.
enum Slot {
    Polling(Box<Poller>),
    Done(Result<TaskSuccess>),
}

/// A poll handed to a worker: the slot, its task ID (for tracing) and the request.
type Job = (usize, String, HttpRequest);

/// What the workers (and the cancel token) tell the scheduler.
enum Answer {
    Polled(usize, Result<HttpResponse>),
    Cancelled,
}

/// Wakes the scheduler from its sleep: each sleep gets a fresh private token, which an
/// answer (or the user's cancel token) fires.
#[derive(Default)]
struct Wakeup {
    current: Mutex<CancelToken>,
}

impl Wakeup {
    /// A fresh token for the next sleep. Arm it before checking for answers, so that an
    /// answer sent after the check fires the token the sleep waits on.
    fn arm(&self) -> CancelToken {
        let token = CancelToken::new();
        *self.current.lock().unwrap_or_else(PoisonError::into_inner) = token.clone();
        token
    }

    fn wake(&self) {
        self.current
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .cancel();
    }
}

/// A worker of `await_many`: sends polls from the queue until it closes.
fn poll_worker(
    client: &Client,
    job_queue: &Mutex<Receiver<Job>>,
    answers: &Sender<Answer>,
    wakeup: &Wakeup,
) {
    loop {
        let job = job_queue
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .recv();
        let Ok((index, task_id, request)) = job else {
            return;
        };
        let sent = panic::catch_unwind(AssertUnwindSafe(|| {
            client.send(POLL, Some(&task_id), request)
        }));
        let (outcome, panicked) = match sent {
            Ok(outcome) => (outcome, None),
            Err(payload) => (
                Err(Error::transport(
                    TransportErrorKind::Other,
                    "the HTTP transport panicked",
                )),
                Some(payload),
            ),
        };
        let delivered = answers.send(Answer::Polled(index, outcome)).is_ok();
        wakeup.wake();
        if let Some(payload) = panicked {
            // The scheduler has its answer; the panic reaches the caller when the scope ends.
            panic::resume_unwind(payload);
        }
        if !delivered {
            return;
        }
    }
}

/// The scheduler of `await_many` (on the caller's thread): pollers keyed on their next due
/// time, at most `max_in_flight` polls handed to the workers, one sleep at a time.
struct Scheduler<'a> {
    client: &'a Client,
    options: &'a AwaitOptions,
    max_in_flight: usize,
    slots: &'a mut [Slot],
    /// `(due time, slot)` of every poller waiting to poll.
    due: BinaryHeap<Reverse<(Instant, usize)>>,
    in_flight: usize,
    jobs: Sender<Job>,
    answered: Receiver<Answer>,
    wakeup: Arc<Wakeup>,
}

impl Scheduler<'_> {
    fn run(&mut self, start: Instant, answers: Sender<Answer>) {
        for (index, slot) in self.slots.iter().enumerate() {
            if matches!(slot, Slot::Polling(_)) {
                self.due.push(Reverse((start, index)));
            }
        }
        let token = self.options.get_cancel_token();
        let _on_cancel = token.map(|t| {
            let wakeup = Arc::clone(&self.wakeup);
            t.on_cancel(move || {
                let _ = answers.send(Answer::Cancelled);
                wakeup.wake();
            })
        });
        loop {
            if is_cancelled(token) {
                self.cancel_all();
                return;
            }
            let now = self.client.now();
            while self.in_flight < self.max_in_flight {
                match self.due.peek() {
                    Some(Reverse((at, _))) if *at <= now => {}
                    _ => break,
                }
                if let Some(Reverse((_, index))) = self.due.pop() {
                    self.advance(index, now);
                }
            }
            if self.in_flight == 0 && self.due.is_empty() {
                return;
            }
            let next_due = match self.due.peek() {
                Some(Reverse((at, _))) if self.in_flight < self.max_in_flight => Some(*at),
                _ => None,
            };
            let answer = match next_due {
                // Only answers can move things on: wait for one.
                None => match self.answered.recv() {
                    Ok(answer) => Some(answer),
                    // Every worker is gone (a transport panicked): nothing will answer.
                    Err(_) => return,
                },
                Some(at) => {
                    let wake = self.wakeup.arm();
                    match self.answered.try_recv() {
                        Ok(answer) => Some(answer),
                        Err(TryRecvError::Empty) => {
                            let wait = at.saturating_duration_since(now);
                            // Ended early by an answer or a cancellation: both are read next.
                            let _ = self.client.timer().sleep(wait, Some(&wake));
                            self.answered.try_recv().ok()
                        }
                        Err(TryRecvError::Disconnected) => return,
                    }
                }
            };
            match answer {
                Some(Answer::Polled(index, outcome)) => {
                    self.in_flight -= 1;
                    let now = self.client.now();
                    if let Slot::Polling(poller) = &mut self.slots[index] {
                        match outcome {
                            Ok(response) => poller.handle_response(response, now),
                            Err(error) => poller.handle_transport_error(error, now),
                        }
                    }
                    // Its poll was answered: there is room for its next one.
                    self.advance(index, now);
                }
                Some(Answer::Cancelled) | None => {}
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
                    let job = (index, poller.task_id().to_owned(), request);
                    if self.jobs.send(job).is_ok() {
                        self.in_flight += 1;
                    } else {
                        // No worker is left (one panicked in a user's transport).
                        self.slots[index] = Slot::Done(Err(Error::invalid_input(
                            "transport",
                            "the poll could not be handed to a worker thread",
                        )));
                    }
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

    fn cancel_all(&mut self) {
        for slot in self.slots.iter_mut() {
            if matches!(slot, Slot::Polling(_)) {
                *slot = Slot::Done(Err(Error::Cancelled));
            }
        }
    }
}
