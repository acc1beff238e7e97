//! The live view of a task: [`Client::events`], driven by the core's [`Follower`].

use std::fmt;
use std::iter::FusedIterator;

use cloud_task_core::{AwaitOptions, Error, FollowAction, Follower, Result, TaskEvent};
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::client::{Client, Sent};

impl Client {
    /// The whole story of a task as one iterator: its status and progress changes, each
    /// entry of its logs, typed ([`TaskEvent::Log`]), in order and once, and at the end its
    /// result ([`TaskEvent::Finished`]), after every log entry it wrote. A task that fails
    /// ends the iterator with [`Error::TaskFailed`] after its logs (its error lines
    /// included); a timeout or a cancellation ends it with that error, carrying the task ID
    /// (the task keeps running).
    ///
    /// The result is polled as [`await_result`](Self::await_result) polls it (the options'
    /// interval, backoff, retries, timeout and cancel token; its progress callback is
    /// called too), and the logs are read after each poll, a page of 100 entries at a
    /// time, as OOMOL's engine follows a remote task; after the end they are read until
    /// they are complete. The core's [`Follower`] decides every request: memory holds one
    /// page at most, however long the logs. Nothing is sent until `next` is called.
    ///
    /// ```no_run
    /// use cloud_task_blocking::{AwaitOptions, Client, LogEvent, TaskEvent};
    /// let client = Client::from_env()?;
    /// for event in client.events("task-id", AwaitOptions::new()) {
    ///     match event? {
    ///         TaskEvent::Progress { status, progress } => println!("{status} {progress}%"),
    ///         TaskEvent::Log(LogEvent::BlockLog { log, .. }) => println!("{log}"),
    ///         TaskEvent::Log(other) => println!("{other:?}"),
    ///         TaskEvent::Finished(result) => println!("done: {:?}", result.result_data),
    ///         _ => {}
    ///     }
    /// }
    /// # Ok::<(), cloud_task_blocking::Error>(())
    /// ```
    pub fn events(&self, task_id: &str, options: AwaitOptions) -> TaskEvents {
        self.events_as::<Value>(task_id, options)
    }

    /// [`events`](Self::events) with the final result's data decoded as `T`.
    pub fn events_as<T: DeserializeOwned>(
        &self,
        task_id: &str,
        options: AwaitOptions,
    ) -> TaskEvents<T> {
        let state = match Follower::new_as::<T>(self.config(), task_id, &options, self.now()) {
            Ok(follower) => State::Following(Box::new(follower)),
            Err(error) => State::Failed(error),
        };
        TaskEvents {
            client: self.clone(),
            state,
        }
    }

    /// Drives `follower` to its next event: `None` once it is over.
    fn follow<T: DeserializeOwned>(
        &self,
        follower: &mut Follower<T>,
    ) -> Option<Result<TaskEvent<T>>> {
        let token = follower.options().get_cancel_token().cloned();
        loop {
            match follower.poll_action(self.now()) {
                FollowAction::Send(transmit) => {
                    let task_id = follower.task_id().to_owned();
                    match self.transmit(transmit, Some(&task_id), token.as_ref()) {
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
                    if self.timer().sleep(duration, token.as_ref()).is_err() {
                        follower.cancel();
                    }
                }
                FollowAction::Done(Ok(())) => return None,
                FollowAction::Done(Err(error)) => return Some(Err(error)),
            }
        }
    }
}

/// An iterator of [`TaskEvent`]s, from [`Client::events`] (or [`Client::events_as`], with
/// the result data decoded as `T`). Each `next` blocks until the next event.
pub struct TaskEvents<T = Value> {
    client: Client,
    state: State<T>,
}

enum State<T> {
    Following(Box<Follower<T>>),
    Failed(Error),
    Ended,
}

impl<T: DeserializeOwned> Iterator for TaskEvents<T> {
    type Item = Result<TaskEvent<T>>;

    fn next(&mut self) -> Option<Self::Item> {
        match std::mem::replace(&mut self.state, State::Ended) {
            State::Ended => None,
            State::Failed(error) => Some(Err(error)),
            State::Following(mut follower) => {
                let next = self.client.follow(&mut follower);
                if matches!(next, Some(Ok(_))) {
                    self.state = State::Following(follower);
                }
                next
            }
        }
    }
}

impl<T: DeserializeOwned> FusedIterator for TaskEvents<T> {}

impl<T> fmt::Debug for TaskEvents<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let task_id = match &self.state {
            State::Following(follower) => Some(follower.task_id()),
            _ => None,
        };
        f.debug_struct("TaskEvents")
            .field("task_id", &task_id)
            .field("ended", &matches!(self.state, State::Ended))
            .finish()
    }
}
