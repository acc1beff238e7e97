//! The live view of a task: [`Client::events`], driven by the core's [`Follower`].

use cloud_task_core::{AwaitOptions, Follower, Result, TaskEvent};
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::client::Client;
use crate::engine::{self, Engine, Flow, Next};

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
    /// # async fn run(client: cloud_task_async::Client) -> cloud_task_async::Result<()> {
    /// use cloud_task_async::{AwaitOptions, LogEvent, TaskEvent};
    /// use futures_util::StreamExt;
    /// let mut events = client.events("task-id", AwaitOptions::new());
    /// while let Some(event) = events.next().await {
    ///     match event? {
    ///         TaskEvent::Progress { status, progress } => println!("{status} {progress}%"),
    ///         TaskEvent::Log(LogEvent::BlockLog { log, .. }) => println!("{log}"),
    ///         TaskEvent::Log(other) => println!("{other:?}"),
    ///         TaskEvent::Finished(result) => println!("done: {:?}", result.result_data),
    ///         _ => {}
    ///     }
    /// }
    /// # Ok(()) }
    /// ```
    pub fn events(&self, task_id: &str, options: AwaitOptions) -> TaskEventStream {
        self.events_as::<Value>(task_id, options)
    }

    /// [`events`](Self::events) with the final result's data decoded as `T`.
    pub fn events_as<T: DeserializeOwned + Send + 'static>(
        &self,
        task_id: &str,
        options: AwaitOptions,
    ) -> TaskEventStream<T> {
        let engine = Follower::new_as::<T>(self.config(), task_id, &options, self.now())
            .map(|follower| Engine::new(self, follower));
        let stream = engine::stream(engine, |follower, next| match next {
            Next::Event(event) => {
                if let TaskEvent::Progress { status, progress } = &event {
                    follower
                        .options()
                        .report_progress(follower.task_id(), *progress, status);
                }
                Flow::Yield(Ok(event))
            }
            Next::Done(Ok(())) => Flow::End,
            Next::Done(Err(error)) => Flow::Last(Err(error)),
        });
        TaskEventStream {
            inner: Box::pin(stream),
        }
    }
}

/// A stream of [`TaskEvent`]s, from [`Client::events`] (or [`Client::events_as`], with the
/// result data decoded as `T`). `Unpin`: call `next()` directly.
pub struct TaskEventStream<T = Value> {
    inner: std::pin::Pin<Box<dyn futures_core::Stream<Item = Result<TaskEvent<T>>> + Send>>,
}

impl<T> futures_core::Stream for TaskEventStream<T> {
    type Item = Result<TaskEvent<T>>;

    fn poll_next(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Self::Item>> {
        self.inner.as_mut().poll_next(cx)
    }
}

impl<T> std::fmt::Debug for TaskEventStream<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TaskEventStream")
    }
}
