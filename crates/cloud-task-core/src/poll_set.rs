//! Waiting on many tasks at once, as a value: the scheduler behind `await_many`.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::fmt;
use std::time::{Duration, Instant};

use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::config::Config;
use crate::error::Error;
use crate::models::{TaskStatus, TaskSuccess};
use crate::poll::{AwaitOptions, PollAction, Poller};
use crate::{HttpRequest, HttpResponse};

/// What the driver must do next for a [`PollerSet`]; the answer of
/// [`PollerSet::poll_action`].
#[must_use]
#[derive(Debug)]
// The request is handed straight to the transport: boxing it would only add an allocation.
#[allow(clippy::large_enum_variant)]
pub enum PollSetAction {
    /// Send this poll of task `index`, then feed its outcome to
    /// [`PollerSet::handle_response`] or [`PollerSet::handle_transport_error`] with the
    /// same `index`. Ask again at once: more polls may be due.
    Send {
        /// The task's position in the input.
        index: usize,
        /// The poll request.
        request: HttpRequest,
    },
    /// Task `index` is in progress: report it, then ask again.
    Progress {
        /// The task's position in the input.
        index: usize,
        /// Progress, 0 to 100.
        progress: f64,
        /// The in-progress status.
        status: TaskStatus,
    },
    /// Nothing is due before this long: sleep until then or until a poll in flight
    /// answers, whichever comes first, then ask again.
    Wait(Duration),
    /// Nothing can be sent before a poll in flight answers (the in-flight limit is
    /// reached, or every unfinished task has a poll in flight): wait for an answer.
    AwaitResponse,
    /// Every task has finished; take the outcomes with [`PollerSet::into_outcomes`].
    Finished,
}

enum Slot<T> {
    Polling(Box<Poller<T>>),
    Done(Result<TaskSuccess<T>, Error>),
}

/// Many [`Poller`]s under one scheduler: each says when it next wants to poll, and at
/// most `max_in_flight` polls are in flight at once. This is `await_many` without I/O.
///
/// Calling order: loop on [`poll_action`](Self::poll_action); send what it says to send
/// (keeping the index), report progress, wait what it says to wait (waking early when a
/// poll answers), and feed each answer back with its index. Stop at
/// [`PollSetAction::Finished`] and take [`into_outcomes`](Self::into_outcomes): one result
/// per task ID, in input order. Each task keeps its own schedule, retries and deadline (its
/// timeout counts from [`new`](Self::new)). [`cancel`](Self::cancel) ends every
/// unfinished task with [`Error::Cancelled`], keeping the results already obtained.
///
/// Memory is a few hundred bytes per task: tens of thousands of tasks are fine.
pub struct PollerSet<T = Value> {
    slots: Vec<Slot<T>>,
    due: BinaryHeap<Reverse<(Instant, usize)>>,
    in_flight: usize,
    max_in_flight: usize,
    unfinished: usize,
}

impl<T> fmt::Debug for PollerSet<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PollerSet")
            .field("tasks", &self.slots.len())
            .field("unfinished", &self.unfinished)
            .field("in_flight", &self.in_flight)
            .field("max_in_flight", &self.max_in_flight)
            .finish()
    }
}

impl<T: DeserializeOwned> PollerSet<T> {
    /// A set polling `task_ids` with `options`, at most `max_in_flight` (at least 1) polls
    /// at once, started at `now`. An invalid task ID (empty) is finished at once with its
    /// [`Error::InvalidInput`]; the others are unaffected.
    pub fn new<I, S>(
        config: &Config,
        task_ids: I,
        options: &AwaitOptions,
        max_in_flight: usize,
        now: Instant,
    ) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let mut due = BinaryHeap::new();
        let slots: Vec<Slot<T>> = task_ids
            .into_iter()
            .enumerate()
            .map(|(index, id)| match Poller::new(config, id, options, now) {
                Ok(poller) => {
                    due.push(Reverse((now, index)));
                    Slot::Polling(Box::new(poller))
                }
                Err(error) => Slot::Done(Err(error)),
            })
            .collect();
        let unfinished = due.len();
        PollerSet {
            slots,
            due,
            in_flight: 0,
            max_in_flight: max_in_flight.max(1),
            unfinished,
        }
    }

    /// How many tasks the set holds.
    pub fn len(&self) -> usize {
        self.slots.len()
    }

    /// True when the set holds no task.
    pub fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }

    /// The ID of task `index`, while it is being polled (for logs and tracing).
    pub fn task_id(&self, index: usize) -> Option<&str> {
        match self.slots.get(index) {
            Some(Slot::Polling(poller)) => Some(poller.task_id()),
            _ => None,
        }
    }

    /// How many polls are in flight.
    pub fn in_flight(&self) -> usize {
        self.in_flight
    }

    /// How many tasks have not finished yet.
    pub fn unfinished(&self) -> usize {
        self.unfinished
    }

    /// What to do next, at `now`.
    pub fn poll_action(&mut self, now: Instant) -> PollSetAction {
        while self.in_flight < self.max_in_flight {
            let index = match self.due.peek() {
                Some(Reverse((at, index))) if *at <= now => *index,
                _ => break,
            };
            self.due.pop();
            let Slot::Polling(poller) = &mut self.slots[index] else {
                continue;
            };
            match poller.poll_action(now) {
                PollAction::Send(request) => {
                    self.in_flight += 1;
                    return PollSetAction::Send { index, request };
                }
                PollAction::Progress { progress, status } => {
                    // Come back to this poller at once: it has more to say.
                    self.due.push(Reverse((now, index)));
                    return PollSetAction::Progress {
                        index,
                        progress,
                        status,
                    };
                }
                PollAction::Wait(duration) => {
                    let at = now
                        .checked_add(duration)
                        .or_else(|| now.checked_add(Duration::from_secs(3600)))
                        .unwrap_or(now);
                    self.due.push(Reverse((at, index)));
                }
                PollAction::Done(outcome) => {
                    self.slots[index] = Slot::Done(outcome);
                    self.unfinished -= 1;
                }
            }
        }
        if self.unfinished == 0 {
            return PollSetAction::Finished;
        }
        match self.due.peek() {
            Some(Reverse((at, _))) if self.in_flight < self.max_in_flight => {
                PollSetAction::Wait(at.saturating_duration_since(now))
            }
            _ => PollSetAction::AwaitResponse,
        }
    }

    /// Feeds the answer to task `index`'s poll.
    pub fn handle_response(&mut self, index: usize, response: HttpResponse, now: Instant) {
        if let Some(poller) = self.answered(index, now) {
            poller.handle_response(response, now);
        }
    }

    /// Feeds a transport failure of task `index`'s poll (it is retried as the poller says).
    pub fn handle_transport_error(&mut self, index: usize, error: Error, now: Instant) {
        if let Some(poller) = self.answered(index, now) {
            poller.handle_transport_error(error, now);
        }
    }

    /// Bookkeeping of an answer: one poll fewer in flight, and the poller is due at once.
    fn answered(&mut self, index: usize, now: Instant) -> Option<&mut Poller<T>> {
        match self.slots.get_mut(index) {
            Some(Slot::Polling(poller)) => {
                self.in_flight = self.in_flight.saturating_sub(1);
                self.due.push(Reverse((now, index)));
                Some(poller)
            }
            // An answer that arrives after a cancellation.
            Some(Slot::Done(_)) => {
                self.in_flight = self.in_flight.saturating_sub(1);
                None
            }
            None => None,
        }
    }

    /// Ends every unfinished task with [`Error::Cancelled`]; finished ones keep their result.
    pub fn cancel(&mut self) {
        for slot in &mut self.slots {
            if matches!(slot, Slot::Polling(_)) {
                *slot = Slot::Done(Err(Error::Cancelled));
            }
        }
        self.due.clear();
        self.unfinished = 0;
    }

    /// One outcome per task ID, in input order. A task that has not finished (the set was
    /// abandoned early) reports [`Error::Cancelled`].
    pub fn into_outcomes(self) -> Vec<Result<TaskSuccess<T>, Error>> {
        self.slots
            .into_iter()
            .map(|slot| match slot {
                Slot::Done(outcome) => outcome,
                Slot::Polling(_) => Err(Error::Cancelled),
            })
            .collect()
    }
}
