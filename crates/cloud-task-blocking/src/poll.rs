//! Waiting for results: `await_result`, `create_and_wait`, `watch` and `await_many`, all
//! driven by the core's [`Poller`].

use std::fmt;
use std::iter::FusedIterator;
use std::panic::{self, AssertUnwindSafe};
use std::sync::mpsc::{self, Receiver, Sender, TryRecvError};
use std::sync::{Arc, Mutex, PoisonError};

use cloud_task_core::models::WatchEvent;
use cloud_task_core::{
    AwaitOptions, CancelToken, CreateTaskRequest, DEFAULT_AWAIT_MANY_IN_FLIGHT, Error,
    GetTaskResult, HttpRequest, HttpResponse, Operation, PollAction, PollSetAction, Poller,
    PollerSet, Result, TaskOutcome, TaskStatus, TaskSuccess, TransportErrorKind,
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
        let mut set =
            PollerSet::<Value>::new(self.config(), task_ids, &options, max_in_flight, self.now());
        let token = options.get_cancel_token();
        let workers = max_in_flight.clamp(1, set.unfinished().max(1));
        if set.unfinished() > 0 && !is_cancelled(token) {
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
                // The cancel token wakes the scheduler through the answer channel; without
                // one, only the workers hold senders, so their end is noticed.
                let _on_cancel = token.map(|t| {
                    let wakeup = Arc::clone(&wakeup);
                    t.on_cancel(move || {
                        let _ = answers.send(Answer::Cancelled);
                        wakeup.wake();
                    })
                });
                self.schedule(&mut set, &options, &jobs, &answered, &wakeup);
                // Dropping `jobs` closes the queue: the workers end once the polls in
                // flight are answered.
                drop(jobs);
            });
        }
        set.into_outcomes()
    }

    /// Runs the core's [`PollerSet`] on the caller's thread: hands due polls to the
    /// workers, reports progress, and sleeps until the next poll is due or a worker
    /// answers (or the cancel token fires).
    fn schedule(
        &self,
        set: &mut PollerSet,
        options: &AwaitOptions,
        jobs: &Sender<Job>,
        answered: &Receiver<Answer>,
        wakeup: &Wakeup,
    ) {
        let token = options.get_cancel_token();
        loop {
            if is_cancelled(token) {
                set.cancel();
                return;
            }
            let answer = match set.poll_action(self.now()) {
                PollSetAction::Send { index, request } => {
                    let task_id = set.task_id(index).unwrap_or_default().to_owned();
                    if jobs.send((index, task_id, request)).is_err() {
                        // No worker is left: one panicked in a user's transport, and the
                        // panic reaches the caller when the scope ends.
                        set.cancel();
                        return;
                    }
                    continue;
                }
                PollSetAction::Progress {
                    progress, status, ..
                } => {
                    options.report_progress(progress, &status);
                    continue;
                }
                PollSetAction::Finished => return,
                // Only answers can move things on: wait for one.
                PollSetAction::AwaitResponse => match answered.recv() {
                    Ok(answer) => Some(answer),
                    Err(_) => {
                        set.cancel();
                        return;
                    }
                },
                PollSetAction::Wait(wait) => {
                    let wake = wakeup.arm();
                    match answered.try_recv() {
                        Ok(answer) => Some(answer),
                        Err(TryRecvError::Empty) => {
                            // Ended early by an answer or a cancellation: both are read next.
                            let _ = self.timer().sleep(wait, Some(&wake));
                            answered.try_recv().ok()
                        }
                        Err(TryRecvError::Disconnected) => {
                            set.cancel();
                            return;
                        }
                    }
                }
            };
            if let Some(Answer::Polled(index, outcome)) = answer {
                match outcome {
                    Ok(response) => set.handle_response(index, response, self.now()),
                    Err(error) => set.handle_transport_error(index, error, self.now()),
                }
            }
        }
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
