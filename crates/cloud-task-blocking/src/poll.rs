use cloud_task_core::{
    AwaitOptions, CreateTaskRequest, Poller, PollerSet, Result, TaskOutcome, TaskSuccess,
    WatchEvent,
};
#[cfg(doc)]
use cloud_task_core::{DEFAULT_AWAIT_MANY_IN_FLIGHT, Error};

use crate::client::Client;
use crate::engine::{Engine, Steps, task_iter};

impl Client {
    /// Polls `task_id` until it succeeds (its result), fails ([`Error::TaskFailed`]),
    /// times out ([`Error::Timeout`]) or is cancelled ([`Error::Cancelled`]).
    ///
    /// The schedule, retries of failed polls, progress reports, deadlines and the timeout
    /// are the core [`Poller`]'s; the options' progress callback is called (on this
    /// thread) for each in-progress result. Cancelling the options' token from another
    /// thread ends the wait at once, between polls or during one (with a token, each poll
    /// runs on a sender thread, so that its wait can be interrupted).
    ///
    /// ```no_run
    /// use std::time::Duration;
    /// use oomol_cloud_task::{AwaitOptions, CancelToken, Error, blocking::Client};
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
    ///     Err(Error::Cancelled(_)) => println!("gave up"),
    ///     Err(error) => return Err(error),
    /// }
    /// # Ok::<(), oomol_cloud_task::Error>(())
    /// ```
    pub fn await_result(&self, task_id: &str, options: AwaitOptions) -> Result<TaskSuccess> {
        let poller = Poller::new(self.config(), task_id, &options, self.now())?;
        Engine::new(self, poller).run(|poller, p| poller.report(&p))
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
    /// use oomol_cloud_task::{AwaitOptions, CreateTaskRequest, TaskOutcome, blocking::Client};
    /// let client = Client::from_env()?;
    /// let TaskOutcome { task_id, result } = client.create_and_wait(
    ///     CreateTaskRequest::new("@oomol/echo", "1.0.0", "main").input("x", 1),
    ///     AwaitOptions::new().on_progress(|p, s| println!("{s} {p}%")),
    /// )?;
    /// # Ok::<(), oomol_cloud_task::Error>(())
    /// ```
    pub fn create_and_wait(
        &self,
        request: CreateTaskRequest,
        options: AwaitOptions,
    ) -> Result<TaskOutcome> {
        let span = cloud_task_core::__operation_span!(name = "create_and_wait");
        let outcome = span.in_scope(|| {
            options.check_before_create(self.config())?;
            let created = self.create_task(request)?;
            span.record("oomol.task.id", created.task_id.as_str());
            let result = self.await_result(&created.task_id, options)?;
            Ok(TaskOutcome::new(created.task_id, result))
        });
        cloud_task_core::__record_failure!(&span, outcome.as_ref().err());
        outcome
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
    /// use oomol_cloud_task::{AwaitOptions, WatchEvent, blocking::Client};
    /// let client = Client::from_env()?;
    /// for event in client.watch("task-id", AwaitOptions::new()) {
    ///     match event? {
    ///         WatchEvent::Progress { status, progress } => println!("{status} {progress}%"),
    ///         WatchEvent::Finished(result) => println!("{:?}", result.result_data),
    ///         _ => {}
    ///     }
    /// }
    /// # Ok::<(), oomol_cloud_task::Error>(())
    /// ```
    pub fn watch(&self, task_id: &str, options: AwaitOptions) -> Watch {
        let engine = Poller::new(self.config(), task_id, &options, self.now())
            .map(|poller| Engine::new(self, poller.deduplicate_progress(true)));
        Watch {
            steps: Steps::new(engine, |poller, next| poller.watch_flow(next)),
        }
    }

    /// Waits for many tasks: one `Result` per task ID, in input order.
    ///
    /// Each task has its own core [`Poller`] (its own schedule, retries and deadline, the
    /// timeout counting from this call), under the core's [`PollerSet`], which decides
    /// which polls are due, at most [`AwaitOptions::max_in_flight`] at once (default
    /// [`DEFAULT_AWAIT_MANY_IN_FLIGHT`], 16). This thread runs the set: it hands the due
    /// polls to the client's sender threads, feeds each answer back, and sleeps until the
    /// next poll is due or an answer arrives. Memory is a few hundred bytes per task plus
    /// the requests in flight, so thousands of tasks are fine. The progress callbacks are
    /// called on this thread for every in-progress result of any task:
    /// [`AwaitOptions::on_task_progress`] says which. When the cancel token fires, every
    /// task not finished yet gets [`Error::Cancelled`] (with its task ID) at once; results
    /// already obtained are kept.
    ///
    /// ```no_run
    /// use oomol_cloud_task::{AwaitOptions, blocking::Client};
    /// let client = Client::from_env()?;
    /// let ids = ["task-1", "task-2", "task-3"];
    /// let options = AwaitOptions::new()
    ///     .max_in_flight(4)
    ///     .on_task_progress(|id, progress, status| println!("{id}: {status} {progress}%"));
    /// for (id, result) in ids.iter().zip(client.await_many(ids, options)) {
    ///     match result {
    ///         Ok(success) => println!("{id}: {:?}", success.result_data),
    ///         Err(error) => println!("{id}: {error}"),
    ///     }
    /// }
    /// # Ok::<(), oomol_cloud_task::Error>(())
    /// ```
    pub fn await_many(
        &self,
        task_ids: impl IntoIterator<Item = impl Into<String>>,
        options: AwaitOptions,
    ) -> Vec<Result<TaskSuccess>> {
        let set = PollerSet::new(self.config(), task_ids, &options, self.now());
        Engine::new(self, set).run(|set, (index, p)| {
            set.report(index, &p);
        })
    }
}

task_iter! {
    /// The iterator of [`Client::watch`]: [`WatchEvent`]s until the task finishes.
    Watch(Poller) => WatchEvent
}
