//! The live view of a task: [`Client::events`], driven by the core's [`Follower`].

use cloud_task_core::{AwaitOptions, FollowAction, Follower, Result, TaskEvent};
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::client::{Client, Sent};
use crate::poll::until_cancelled;

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
        let follower = Follower::new_as::<T>(self.config(), task_id, &options, self.now());
        let state = Some((self.clone(), follower));
        let stream = futures_util::stream::unfold(state, |state| async move {
            let (client, follower) = state?;
            let mut follower = match follower {
                Ok(follower) => follower,
                Err(error) => return Some((Err(error), None)),
            };
            match client.follow(&mut follower).await {
                Some(Ok(event)) => Some((Ok(event), Some((client, Ok(follower))))),
                Some(Err(error)) => Some((Err(error), None)),
                None => None,
            }
        });
        TaskEventStream {
            inner: Box::pin(stream),
        }
    }

    /// Drives `follower` to its next event: `None` once it is over.
    async fn follow<T: DeserializeOwned>(
        &self,
        follower: &mut Follower<T>,
    ) -> Option<Result<TaskEvent<T>>> {
        let token = follower.options().get_cancel_token().cloned();
        loop {
            match follower.poll_action(self.now()) {
                FollowAction::Send(transmit) => {
                    let task_id = follower.task_id().to_owned();
                    match self
                        .transmit(transmit, Some(&task_id), token.as_ref())
                        .await
                    {
                        Sent::Answer(id, Ok(response)) => {
                            follower.handle_response(id, response, self.now());
                        }
                        Sent::Answer(id, Err(error)) => {
                            follower.handle_transport_error(id, error, self.now());
                        }
                        Sent::Cancelled => follower.cancel(),
                    }
                }
                FollowAction::Event(event) => {
                    if let TaskEvent::Progress { status, progress } = &event {
                        follower
                            .options()
                            .report_progress(follower.task_id(), *progress, status);
                    }
                    return Some(Ok(event));
                }
                FollowAction::Wait(duration) => {
                    let sleep = self.inner.timer.sleep(duration);
                    if until_cancelled(token.as_ref(), sleep).await.is_err() {
                        follower.cancel();
                    }
                }
                FollowAction::Done(Ok(())) => return None,
                FollowAction::Done(Err(error)) => return Some(Err(error)),
            }
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
