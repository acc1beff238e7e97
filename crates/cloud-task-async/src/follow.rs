//! The live view of a task: [`Client::events`], driven by the core's [`Follower`].

use cloud_task_core::{AwaitOptions, Follower, TaskEvent};

use crate::client::Client;
use crate::engine::{self, Engine};

impl Client {
    /// The whole story of a task as one stream: its status and progress changes, each
    /// entry of its logs, typed ([`TaskEvent::Log`]), in order and once, and at the end its
    /// result ([`TaskEvent::Finished`]), after every log entry it wrote. A task that fails
    /// ends the stream with [`Error::TaskFailed`](cloud_task_core::Error::TaskFailed)
    /// after its logs (its error lines included); a timeout or a cancellation ends it with
    /// that error, carrying the task ID (the task keeps running).
    ///
    /// The result is polled as [`await_result`](Self::await_result) polls it (the options'
    /// interval, backoff, retries, timeout and cancel token; its progress callback is
    /// called too), and the logs are read after each poll, a page of 100 entries at a
    /// time, as OOMOL's engine follows a remote task; after the end they are read until
    /// they are complete. The core's [`Follower`] decides every request: memory holds one
    /// page at most, however long the logs. Nothing is sent until the stream is polled;
    /// dropping it stops.
    ///
    /// ```no_run
    /// # async fn run(client: oomol_cloud_task::Client) -> oomol_cloud_task::Result<()> {
    /// use oomol_cloud_task::{AwaitOptions, TaskEvent, models::LogEvent};
    /// use futures_util::StreamExt;
    /// let mut events = client.events("task-id", AwaitOptions::new());
    /// while let Some(event) = events.next().await {
    ///     match event? {
    ///         TaskEvent::Progress { status, progress } => println!("{status} {progress}%"),
    ///         TaskEvent::Log { event: LogEvent::BlockLog { log, .. }, .. } => println!("{log}"),
    ///         TaskEvent::Log { event: other, .. } => println!("{other:?}"),
    ///         TaskEvent::Finished(result) => println!("done: {:?}", result.result_data),
    ///         _ => {}
    ///     }
    /// }
    /// # Ok(()) }
    /// ```
    pub fn events(&self, task_id: &str, options: AwaitOptions) -> TaskEvents {
        let engine = Follower::new(self.config(), task_id, &options, self.now())
            .map(|follower| Engine::new(self, follower));
        TaskEvents::new(engine::stream(engine, |follower, next| {
            follower.event_flow(next)
        }))
    }
}

boxed_stream! {
    /// A stream of [`TaskEvent`]s, from [`Client::events`]: progress, each log entry
    /// typed, then the result. `Unpin`: call `next()` directly.
    TaskEvents => TaskEvent
}
