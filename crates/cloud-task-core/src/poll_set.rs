//! Waiting on many tasks at once, as a value: the scheduler behind `await_many`.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, VecDeque};
use std::fmt;
use std::time::{Duration, Instant};

use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::HttpResponse;
use crate::config::Config;
use crate::error::Error;
use crate::exchange::{RequestId, Transmit};
use crate::models::{TaskStatus, TaskSuccess};
use crate::poll::{PollAction, Poller};
use crate::wait::AwaitOptions;

/// What the driver must do next for a [`PollerSet`]; the answer of
/// [`PollerSet::poll_action`].
#[must_use]
#[derive(Debug)]
// The request is handed straight to the transport: boxing it would only add an allocation.
#[allow(clippy::large_enum_variant)]
pub enum PollSetAction {
    /// Send this poll of task `index`, then feed its outcome to
    /// [`PollerSet::handle_response`] or [`PollerSet::handle_transport_error`] with the
    /// transmit's `id`. Ask again at once: more polls may be due.
    Send {
        /// The task's position in the input.
        index: usize,
        /// The poll, with its deadline.
        transmit: Transmit,
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
    /// The next poll is due in this long: sleep until then or until a poll in flight
    /// answers, whichever comes first, then ask again.
    Wait(Duration),
    /// Nothing is due: only an answer can move things on (every unfinished task has a poll
    /// in flight, or the in-flight limit is reached). Wait for one. The earliest deadline
    /// of the polls in flight is this long away: a driver cuts each request off at its own
    /// deadline (and feeds that as a transport error), or asks again then, and the set
    /// gives the overdue poll up itself.
    AwaitResponse(Duration),
    /// Every task has finished; take the outcomes with [`PollerSet::into_outcomes`].
    Finished,
}

enum Slot<T> {
    Polling(Box<Poller<T>>),
    Done(Result<TaskSuccess<T>, Error>),
    /// Handed out by [`PollerSet::take_finished`].
    Taken,
}

/// Many [`Poller`]s under one scheduler: each says when it next wants to poll, and at
/// most [`AwaitOptions::max_in_flight`] polls are in flight at once. This is `await_many`
/// without I/O.
///
/// Calling order: loop on [`poll_action`](Self::poll_action); send what it says to send
/// (keeping the transmit's `id`), report progress, wait what it says to wait (waking early
/// when a poll answers, or until an answer for [`PollSetAction::AwaitResponse`]), and feed
/// each answer back with its `id`. Stop at
/// [`PollSetAction::Finished`] and take [`into_outcomes`](Self::into_outcomes): one result
/// per task ID, in input order. Each task keeps its own schedule, retries and deadline (its
/// timeout counts from [`new`](Self::new)). A poll whose answer has not arrived by its
/// deadline is given up by the set itself (a failed poll of its task, retried as the
/// poller says), so a transport that never answers cannot hold a slot for ever; its late
/// answer is ignored. [`cancel`](Self::cancel) ends every unfinished task with
/// [`Error::Cancelled`] (carrying its task ID), keeping the results already obtained.
///
/// Memory is a few hundred bytes per task: tens of thousands of tasks are fine.
pub struct PollerSet<T = Value> {
    slots: Vec<Slot<T>>,
    /// When each task not in flight next wants to be asked.
    due: BinaryHeap<Reverse<(Instant, usize)>>,
    /// The deadlines of the polls in flight (entries of answered polls are skipped).
    deadlines: BinaryHeap<Reverse<(Instant, RequestId)>>,
    /// The task of each poll in flight.
    flights: HashMap<RequestId, usize>,
    max_in_flight: usize,
    unfinished: usize,
    options: AwaitOptions,
    /// Tasks finished and not yet taken by [`PollerSet::take_finished`], in finishing order.
    finished: VecDeque<usize>,
    config: Config,
}

impl<T> fmt::Debug for PollerSet<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PollerSet")
            .field("tasks", &self.slots.len())
            .field("unfinished", &self.unfinished)
            .field("in_flight", &self.flights.len())
            .field("max_in_flight", &self.max_in_flight)
            .finish()
    }
}

impl PollerSet {
    /// A set polling `task_ids` with `options` (over the configuration's defaults), at
    /// most [`AwaitOptions::get_max_in_flight`] polls at once, started at `now`. An invalid
    /// task ID (empty) is finished at once with its [`Error::InvalidInput`]; the others are
    /// unaffected. Invalid options ([`AwaitOptions::validate`]) finish every task with that
    /// error.
    pub fn new(
        config: &Config,
        task_ids: impl IntoIterator<Item = impl Into<String>>,
        options: &AwaitOptions,
        now: Instant,
    ) -> Self {
        PollerSet::new_as(config, task_ids, options, now)
    }

    /// [`new`](Self::new), with each result's data decoded as `T`:
    /// `PollerSet::new_as::<MyOutputs>(...)`.
    pub fn new_as<T: DeserializeOwned>(
        config: &Config,
        task_ids: impl IntoIterator<Item = impl Into<String>>,
        options: &AwaitOptions,
        now: Instant,
    ) -> PollerSet<T> {
        let options = &options.or(config.await_defaults());
        let mut due = BinaryHeap::new();
        let slots: Vec<Slot<T>> = task_ids
            .into_iter()
            .enumerate()
            .map(
                |(index, id)| match Poller::new_as(config, id, options, now) {
                    Ok(poller) => {
                        due.push(Reverse((now, index)));
                        Slot::Polling(Box::new(poller))
                    }
                    Err(error) => Slot::Done(Err(error)),
                },
            )
            .collect();
        let unfinished = due.len();
        let finished = (0..slots.len())
            .filter(|&index| matches!(slots[index], Slot::Done(_)))
            .collect();
        PollerSet {
            slots,
            due,
            deadlines: BinaryHeap::new(),
            flights: HashMap::new(),
            max_in_flight: options.get_max_in_flight().max(1),
            unfinished,
            options: options.clone(),
            finished,
            config: config.clone(),
        }
    }
}

impl<T: DeserializeOwned> PollerSet<T> {
    /// The options of every wait of the set, over the configuration's defaults: report
    /// progress with their [`AwaitOptions::report_progress`].
    pub fn options(&self) -> &AwaitOptions {
        &self.options
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

    /// The ID of task `index`, shared, while it is being polled.
    pub(crate) fn task_arc(&self, index: usize) -> Option<std::sync::Arc<str>> {
        match self.slots.get(index) {
            Some(Slot::Polling(poller)) => Some(poller.task_arc()),
            _ => None,
        }
    }

    /// Adds task `task_id` to the set at `now`, polled from then on like the others (its
    /// timeout counts from `now`); answers its index. An invalid task ID (empty) finishes
    /// at once with its [`Error::InvalidInput`]. A set that had [`Finished`] has work
    /// again.
    ///
    /// [`Finished`]: PollSetAction::Finished
    pub fn push(&mut self, task_id: impl Into<String>, now: Instant) -> usize {
        let index = self.slots.len();
        match Poller::new_as(&self.config, task_id, &self.options, now) {
            Ok(poller) => {
                self.due.push(Reverse((now, index)));
                self.slots.push(Slot::Polling(Box::new(poller)));
                self.unfinished += 1;
            }
            Err(error) => {
                self.slots.push(Slot::Done(Err(error)));
                self.finished.push_back(index);
            }
        }
        index
    }

    /// The next outcome of a finished task, in the order they finished, with its index;
    /// the set keeps nothing of it (so a long-running set holds only its unfinished
    /// tasks' state). [`into_outcomes`](Self::into_outcomes) reports a taken outcome as
    /// [`Error::Misuse`].
    pub fn take_finished(&mut self) -> Option<(usize, Result<TaskSuccess<T>, Error>)> {
        while let Some(index) = self.finished.pop_front() {
            if let Slot::Done(outcome) = std::mem::replace(&mut self.slots[index], Slot::Taken) {
                return Some((index, outcome));
            }
        }
        None
    }

    /// How many polls are in flight.
    pub fn in_flight(&self) -> usize {
        self.flights.len()
    }

    /// How many tasks have not finished yet.
    pub fn unfinished(&self) -> usize {
        self.unfinished
    }

    /// What to do next, at `now`.
    pub fn poll_action(&mut self, now: Instant) -> PollSetAction {
        self.expire(now);
        while self.flights.len() < self.max_in_flight {
            let index = match self.due.peek() {
                Some(Reverse((at, index))) if *at <= now => *index,
                _ => break,
            };
            self.due.pop();
            let Slot::Polling(poller) = &mut self.slots[index] else {
                continue;
            };
            match poller.poll_action(now) {
                PollAction::Send(transmit) => {
                    self.flights.insert(transmit.id, index);
                    self.deadlines
                        .push(Reverse((transmit.deadline, transmit.id)));
                    return PollSetAction::Send { index, transmit };
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
                        .unwrap_or_else(|| crate::exchange::far_future(now));
                    self.due.push(Reverse((at, index)));
                }
                PollAction::Done(outcome) => {
                    self.slots[index] = Slot::Done(outcome);
                    self.finished.push_back(index);
                    self.unfinished -= 1;
                }
            }
        }
        if self.unfinished == 0 {
            return PollSetAction::Finished;
        }
        let next_poll = self
            .due
            .peek()
            .filter(|_| self.flights.len() < self.max_in_flight)
            .map(|Reverse((at, _))| *at);
        let next_deadline = self.deadlines.peek().map(|Reverse((at, _))| *at);
        match (next_poll, next_deadline) {
            (Some(due), Some(deadline)) if deadline < due => {
                PollSetAction::AwaitResponse(deadline.saturating_duration_since(now))
            }
            (Some(due), _) => PollSetAction::Wait(due.saturating_duration_since(now)),
            (None, Some(deadline)) => {
                PollSetAction::AwaitResponse(deadline.saturating_duration_since(now))
            }
            // Unreachable while a task is unfinished: it is either due or in flight.
            (None, None) => PollSetAction::Wait(Duration::ZERO),
        }
    }

    /// Gives up the polls in flight whose deadline has passed at `now`.
    fn expire(&mut self, now: Instant) {
        while let Some(Reverse((at, id))) = self.deadlines.peek().copied() {
            if at > now {
                break;
            }
            self.deadlines.pop();
            // An entry of a poll that was answered is stale: skip it.
            let Some(index) = self.flights.remove(&id) else {
                continue;
            };
            if let Some(Slot::Polling(poller)) = self.slots.get_mut(index) {
                poller.expire_overdue(now);
                self.due.push(Reverse((now, index)));
            }
        }
    }

    /// Feeds the answer to poll `id` (answers of polls given up or unknown are ignored).
    pub fn handle_response(&mut self, id: RequestId, response: HttpResponse, now: Instant) {
        if let Some(poller) = self.answered(id, now) {
            poller.handle_response(id, response, now);
        }
    }

    /// Feeds a transport failure of poll `id` (it is retried as the poller says).
    pub fn handle_transport_error(&mut self, id: RequestId, error: Error, now: Instant) {
        if let Some(poller) = self.answered(id, now) {
            poller.handle_transport_error(id, error, now);
        }
    }

    /// Bookkeeping of an answer: the poll is no longer in flight, and its poller is due
    /// at once (a redirect it follows is sent from there, as a poll of its own).
    fn answered(&mut self, id: RequestId, now: Instant) -> Option<&mut Poller<T>> {
        let index = self.flights.remove(&id)?;
        // The deadlines of answered polls are skipped when they come up; should they pile
        // up (many answers well before their deadlines), keep only the live ones.
        if self.deadlines.len() > 2 * self.flights.len() + 64 {
            let flights = &self.flights;
            self.deadlines
                .retain(|Reverse((_, id))| flights.contains_key(id));
        }
        match self.slots.get_mut(index) {
            Some(Slot::Polling(poller)) => {
                self.due.push(Reverse((now, index)));
                Some(poller)
            }
            _ => None,
        }
    }

    /// Ends every unfinished task with [`Error::Cancelled`] carrying its task ID; finished
    /// ones keep their result. Answers that arrive later are ignored.
    pub fn cancel(&mut self) {
        for (index, slot) in self.slots.iter_mut().enumerate() {
            if let Slot::Polling(poller) = slot {
                *slot = Slot::Done(Err(Error::cancelled_task(poller.task_id())));
                self.finished.push_back(index);
            }
        }
        self.due.clear();
        self.deadlines.clear();
        self.flights.clear();
        self.unfinished = 0;
    }

    /// One outcome per task ID, in input order. A task that has not finished (the set was
    /// abandoned early) reports [`Error::Cancelled`] with its task ID.
    pub fn into_outcomes(mut self) -> Vec<Result<TaskSuccess<T>, Error>> {
        self.take_outcomes()
    }

    /// [`into_outcomes`](Self::into_outcomes), leaving the set empty.
    pub(crate) fn take_outcomes(&mut self) -> Vec<Result<TaskSuccess<T>, Error>> {
        std::mem::take(&mut self.slots)
            .into_iter()
            .map(|slot| match slot {
                Slot::Done(outcome) => outcome,
                Slot::Polling(poller) => Err(Error::cancelled_task(poller.task_id())),
                Slot::Taken => Err(Error::misuse(
                    "PollerSet",
                    "this outcome was handed out by take_finished",
                )),
            })
            .collect()
    }
}
