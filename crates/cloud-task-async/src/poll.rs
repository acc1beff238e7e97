//! Waiting for results: `await_result`, `create_and_wait`, `watch` and `await_many`, all
//! driven by the core's [`Poller`].

use cloud_task_core::{
    AwaitOptions, CreateTaskRequest, Poller, PollerSet, Result, TaskOutcome, TaskSuccess,
    WatchEvent,
};
#[cfg(doc)]
use cloud_task_core::{DEFAULT_AWAIT_MANY_IN_FLIGHT, Error};
use tracing::Instrument;

use crate::client::Client;
use crate::engine::{self, Engine};

impl Client {
    /// Polls `task_id` until it succeeds (its result), fails ([`Error::TaskFailed`]),
    /// times out ([`Error::Timeout`]) or is cancelled ([`Error::Cancelled`]).
    ///
    /// The schedule, retries of failed polls, progress reports and the timeout are the
    /// core [`Poller`]'s; the options' progress callback is called for each in-progress
    /// result. Dropping the future stops polling.
    pub async fn await_result(&self, task_id: &str, options: AwaitOptions) -> Result<TaskSuccess> {
        let poller = Poller::new(self.config(), task_id, &options, self.now())?;
        Engine::new(self, poller)
            .run(|poller, p| poller.report(&p))
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
    /// # async fn run(client: oomol_cloud_task::Client) -> oomol_cloud_task::Result<()> {
    /// use oomol_cloud_task::{AwaitOptions, CreateTaskRequest, TaskOutcome};
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
        // Bad options or a cancelled wait create nothing. The creation itself is not raced
        // with the token: cut short, it could start a task whose ID would be lost.
        let span = cloud_task_core::__operation_span!(name = "create_and_wait");
        let outcome = async {
            options.check_before_create(self.config())?;
            let created = self.create_task(request).await?;
            tracing::Span::current().record("oomol.task.id", created.task_id.as_str());
            let result = self.await_result(&created.task_id, options).await?;
            Ok(TaskOutcome::new(created.task_id, result))
        }
        .instrument(span.clone())
        .await;
        cloud_task_core::__record_failure!(&span, outcome.as_ref().err());
        outcome
    }

    /// A stream of a task's status and progress changes (no repeats), ending with
    /// [`WatchEvent::Finished`], or with the error that ended the wait (task failed,
    /// timeout, cancellation).
    ///
    /// Polls as [`await_result`](Self::await_result) does (the options' progress callback
    /// is called too). Nothing is sent until the stream is polled; dropping it stops.
    ///
    /// ```no_run
    /// # async fn run(client: oomol_cloud_task::Client) -> oomol_cloud_task::Result<()> {
    /// use oomol_cloud_task::{AwaitOptions, WatchEvent};
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
    pub fn watch(&self, task_id: &str, options: AwaitOptions) -> Watch {
        let engine = Poller::new(self.config(), task_id, &options, self.now())
            .map(|poller| Engine::new(self, poller.deduplicate_progress(true)));
        Watch::new(engine::stream(engine, |poller, next| {
            poller.watch_flow(next)
        }))
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
    /// # async fn run(client: oomol_cloud_task::Client) {
    /// use oomol_cloud_task::AwaitOptions;
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
        let set = PollerSet::new(self.config(), task_ids, &options, self.now());
        Engine::new(self, set)
            .run(|set, (index, p)| {
                set.report(index, &p);
            })
            .await
    }
}

boxed_stream! {
    /// A stream of [`WatchEvent`]s, from [`Client::watch`]: status and progress changes,
    /// then the result. `Unpin`: call `next()` directly.
    Watch => WatchEvent
}
