//! The live view of a task as a machine: its result polled as a wait polls it, and its logs
//! followed page by page, merged into one stream of [`TaskEvent`]s that ends with the
//! task's result.

use std::collections::VecDeque;
use std::fmt;
use std::time::{Duration, Instant};

use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::HttpResponse;
use crate::cancel::CancelToken;
use crate::config::Config;
use crate::error::{Error, Limit};
use crate::exchange::{Flight, Landing, RequestId, Transmit};
use crate::models::{LogEvent, TaskLogs, TaskStatus, TaskSuccess};
use crate::ops::{GetTaskLogs, Operation};
use crate::poll::{PollAction, Poller};
use crate::wait::AwaitOptions;

/// How many entries a page of the logs endpoint holds: a page is complete, and the next
/// one is asked for, once it holds this many.
pub const LOG_PAGE_SIZE: usize = 100;

/// How long the follower waits between two reads of the logs once the task has ended (the
/// logs may lag behind the status).
pub const DRAIN_INTERVAL: Duration = Duration::from_millis(300);

/// How many reads in a row that bring nothing new end the reading of the logs once the task
/// has ended (when the root block's `SessionFinished` has not been seen first).
pub const DRAIN_EMPTY_ROUNDS: u32 = 3;

/// The most rounds of reading the logs once the task has ended (30 s at
/// [`DRAIN_INTERVAL`]): a server that keeps adding a few entries after the end, without
/// the session's end, is read no longer. Full pages are read at once and do not count
/// (they are bounded by [`Config::max_pages`]).
pub const MAX_DRAIN_ROUNDS: u32 = 100;

/// One event of a task's live view.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum TaskEvent<T = Value> {
    /// The task's status or progress changed (from its result; no repeats).
    Progress {
        /// The in-progress status.
        status: TaskStatus,
        /// Progress, 0 to 100.
        progress: f64,
    },
    /// An entry of the task's logs, typed; each entry once, in order.
    Log {
        /// The entry, typed.
        event: LogEvent,
        /// When it was written, in milliseconds since the Unix epoch (the entry's `time`,
        /// see [`LogEntry::time_ms`](crate::LogEntry::time_ms)); `None` when it has none.
        time: Option<i64>,
    },
    /// The task succeeded: the last event, after every log entry the task wrote.
    Finished(TaskSuccess<T>),
}

/// As JSON, one object with a `type`, as a line of a JSON-lines stream:
/// `{"type": "Progress", "status", "progress"}`, a log event as [`LogEvent`] serializes it
/// (its own `type`, e.g. `BlockLog`) with its `time` in milliseconds when known, and `{"type": "Finished", "status": "success",
/// "resultURL", "resultData"}`.
///
/// ```
/// # use cloud_task_core::{TaskEvent, TaskStatus, TaskSuccess};
/// let event: TaskEvent = TaskEvent::Progress { status: TaskStatus::Running, progress: 40.0 };
/// assert_eq!(
///     serde_json::to_value(&event)?,
///     serde_json::json!({"type": "Progress", "status": "running", "progress": 40.0}),
/// );
/// let done: TaskEvent = TaskEvent::Finished(TaskSuccess::new(None, Some(serde_json::json!([1]))));
/// assert_eq!(serde_json::to_value(&done)?["type"], "Finished");
/// assert_eq!(serde_json::to_value(&done)?["resultData"], serde_json::json!([1]));
/// # Ok::<(), serde_json::Error>(())
/// ```
impl<T: serde::Serialize> serde::Serialize for TaskEvent<T> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        match self {
            TaskEvent::Progress { status, progress } => {
                let mut map = s.serialize_map(Some(3))?;
                map.serialize_entry("type", "Progress")?;
                map.serialize_entry("status", status)?;
                map.serialize_entry("progress", progress)?;
                map.end()
            }
            TaskEvent::Log { event, time } => event.serialize_at(*time, s),
            TaskEvent::Finished(success) => {
                let mut map = s.serialize_map(None)?;
                map.serialize_entry("type", "Finished")?;
                map.serialize_entry("status", "success")?;
                map.serialize_entry("resultURL", &success.result_url)?;
                if let Some(data) = &success.result_data {
                    map.serialize_entry("resultData", data)?;
                }
                map.end()
            }
        }
    }
}

/// What the driver must do next; the answer of [`Follower::poll_action`].
#[must_use]
#[derive(Debug)]
// The transmit is handed straight to the transport: boxing it would only add an allocation.
#[allow(clippy::large_enum_variant)]
pub enum FollowAction<T = Value> {
    /// Send this (a result poll or a page of logs), then feed its answer to
    /// [`Follower::handle_response`] or [`Follower::handle_transport_error`] with its `id`.
    Send(Transmit),
    /// Hand this event to the caller, then ask again.
    Event(TaskEvent<T>),
    /// Sleep this long (or until cancelled), then ask again.
    Wait(Duration),
    /// The view is over: `Ok` after [`TaskEvent::Finished`], or the error that ended it (the
    /// task failed, the wait timed out or was cancelled, ...).
    Done(Result<(), Error>),
}

/// Where the follower is.
enum Phase<T> {
    /// The task runs: its result is polled, its logs read after each poll.
    Running,
    /// The task has ended with this outcome: its logs are read until they are complete.
    Draining {
        outcome: Result<TaskSuccess<T>, Error>,
        /// Reads in a row that brought nothing new.
        empty_rounds: u32,
        /// Rounds read since the end.
        rounds: u32,
        /// When the next read is due.
        next: Instant,
        /// One last read, then the end (the wait ended without the task's end).
        last: bool,
    },
    /// Over; the outcome is handed out.
    Finished(Result<(), Error>),
    Spent,
}

/// The follower of one task: its result and its logs, as one stream of events.
///
/// Inputs are `handle_*` and [`cancel`](Self::cancel); the output is
/// [`poll_action`](Self::poll_action). One request is in flight at a time. Calling order:
///
/// ```text
/// let mut follower = Follower::new(&config, task_id, &options, now())?;
/// loop {
///     match follower.poll_action(now()) {
///         FollowAction::Send(t) => match send(t.request, t.limits(now())) {   // by t.deadline
///             Ok(response) => follower.handle_response(t.id, response, now()),
///             Err(error) => follower.handle_transport_error(t.id, error, now()),
///         },
///         FollowAction::Event(event) => yield event,
///         FollowAction::Wait(d) => sleep(d),           // or until cancelled: follower.cancel()
///         FollowAction::Done(outcome) => return outcome,
///     }
/// }
/// ```
///
/// Rules, as OOMOL's engine follows a remote task:
/// - the result is polled exactly as [`Poller`] polls it (the options' interval, backoff,
///   retries of failed polls, timeout and final poll); each change of status or progress
///   is an event;
/// - after each poll, the current page of logs is read (pages from 1); the entries not
///   yet handed out are typed ([`LogEvent::from_entry`]) and handed out in order, each once;
///   a page that holds [`LOG_PAGE_SIZE`] entries is complete, and the next is read at once;
/// - once the task has ended, the logs are read every [`DRAIN_INTERVAL`] until the root
///   block's `SessionFinished` has been seen, or [`DRAIN_EMPTY_ROUNDS`] reads in a row
///   brought nothing, or [`MAX_DRAIN_ROUNDS`] were read, or the wait's deadline comes;
///   then the success ends the stream
///   ([`TaskEvent::Finished`]), or the failure (`Error::TaskFailed`);
/// - a failed read of the logs is not an error of the view (the next round reads again);
///   every read is bounded as any request is, and the pages read by
///   [`Config::max_pages`] ([`Error::Limit`]);
/// - memory holds one page of events at most: no page is read while events are waiting to
///   be handed out;
/// - [`cancel`](Self::cancel), or the options' token, ends the view with
///   [`Error::Cancelled`] (carrying the task ID), unless the result was already obtained.
pub struct Follower<T = Value> {
    config: Config,
    poller: Poller<T>,
    cancel: Option<CancelToken>,
    /// The result poll in flight, if one is.
    poll: Option<RequestId>,
    /// The read of logs in flight, if one is.
    logs: Option<Flight>,
    /// A redirect of that read, to send next.
    redirect: Option<Transmit>,
    /// A read of logs is due before anything else.
    logs_due: bool,
    page: u32,
    /// Entries of `page` already handed out.
    seen: usize,
    /// Entries the reads of the current round brought.
    fresh: usize,
    session_ended: bool,
    pending: VecDeque<TaskEvent<T>>,
    phase: Phase<T>,
}

impl<T> fmt::Debug for Follower<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Follower")
            .field("task_id", &self.poller.task_id())
            .field("page", &self.page)
            .field("seen", &self.seen)
            .field("pending", &self.pending.len())
            .finish_non_exhaustive()
    }
}

impl Follower {
    /// The follower of `task_id` (its result data as any JSON), started at `now`, with
    /// `options` over the configuration's defaults. Refuses an empty task ID and invalid
    /// options, as [`Poller::new`] does.
    pub fn new(
        config: &Config,
        task_id: impl Into<String>,
        options: &AwaitOptions,
        now: Instant,
    ) -> Result<Follower, Error> {
        Follower::new_as(config, task_id, options, now)
    }

    /// [`new`](Self::new), with the result data decoded as `T`.
    pub fn new_as<T: DeserializeOwned>(
        config: &Config,
        task_id: impl Into<String>,
        options: &AwaitOptions,
        now: Instant,
    ) -> Result<Follower<T>, Error> {
        let poller = Poller::new_as::<T>(config, task_id, options, now)?.deduplicate_progress(true);
        Ok(Follower {
            config: config.clone(),
            cancel: poller.options().get_cancel_token().cloned(),
            poller,
            poll: None,
            logs: None,
            redirect: None,
            logs_due: false,
            page: 1,
            seen: 0,
            fresh: 0,
            session_ended: false,
            pending: VecDeque::new(),
            phase: Phase::Running,
        })
    }
}

impl<T> Follower<T> {
    /// The task followed, shared.
    pub(crate) fn task_arc(&self) -> std::sync::Arc<str> {
        self.poller.task_arc()
    }

    /// True while a request (a poll or a read of logs) is in flight.
    pub(crate) fn awaits_answer(&self) -> bool {
        self.poll.is_some() || self.logs.is_some()
    }

    /// The task followed.
    pub fn task_id(&self) -> &str {
        self.poller.task_id()
    }

    /// The options of the view, over the configuration's defaults.
    pub fn options(&self) -> &AwaitOptions {
        self.poller.options()
    }

    /// Calls the options' progress callback for a [`TaskEvent::Progress`] (nothing for
    /// another event). A driver calls it on each event it hands out, so that the callback
    /// sees exactly the progress the caller sees.
    pub fn report(&self, event: &TaskEvent<T>) {
        if let TaskEvent::Progress { status, progress } = event {
            self.options()
                .report_progress(self.task_id(), *progress, status);
        }
    }

    /// The page of logs being read (from 1), and how many of its entries were handed out.
    pub fn log_position(&self) -> (u32, usize) {
        (self.page, self.seen)
    }

    /// Ends the view with [`Error::Cancelled`] carrying the task ID, unless the task had
    /// already ended (then the view ends with its outcome; the log entries read so far
    /// are handed out first). Requests in flight are abandoned: their answers are ignored.
    pub fn cancel(&mut self) {
        self.logs = None;
        self.redirect = None;
        self.logs_due = false;
        self.poll = None;
        match std::mem::replace(&mut self.phase, Phase::Spent) {
            Phase::Running => {
                let error = Error::cancelled_task(self.task_id());
                self.phase = Phase::Finished(Err(error));
            }
            Phase::Draining { outcome, .. } => self.finish(outcome),
            other => self.phase = other,
        }
    }

    /// Ends the view with `outcome`: the success as the last event, or the error.
    fn finish(&mut self, outcome: Result<TaskSuccess<T>, Error>) {
        self.phase = Phase::Finished(match outcome {
            Ok(success) => {
                self.pending.push_back(TaskEvent::Finished(success));
                Ok(())
            }
            Err(error) => Err(error),
        });
    }

    /// Ends the view with `error` (events already read are handed out first).
    fn fail(&mut self, error: Error) {
        self.logs = None;
        self.redirect = None;
        self.logs_due = false;
        self.phase = Phase::Finished(Err(error));
    }

    /// Takes a page of logs: its entries not yet handed out become events; a full page
    /// moves the reading on to the next.
    fn take_page(&mut self, page: TaskLogs) {
        let len = page.logs.len();
        for (index, entry) in page.logs.into_iter().enumerate() {
            let time = entry.time_ms();
            let event = LogEvent::from_entry(entry);
            // The root block's session end counts even when it was handed out before.
            self.session_ended |= event.ends_the_session();
            if index >= self.seen {
                self.pending.push_back(TaskEvent::Log { event, time });
                self.fresh += 1;
            }
        }
        self.seen = self.seen.max(len);
        if self.seen >= LOG_PAGE_SIZE {
            self.page = self.page.saturating_add(1);
            self.seen = 0;
            self.logs_due = true;
        }
    }

    /// A read of logs is over (answered, failed or given up): unless the next page is due
    /// at once, the round ends; once the task has ended, the round counts for the drain.
    fn after_read(&mut self, now: Instant) {
        if self.logs_due {
            return;
        }
        if let Phase::Draining {
            empty_rounds,
            rounds,
            next,
            last,
            ..
        } = &mut self.phase
        {
            *rounds = rounds.saturating_add(1);
            *empty_rounds = if *last {
                DRAIN_EMPTY_ROUNDS
            } else if self.fresh == 0 {
                *empty_rounds + 1
            } else {
                0
            };
            *next = now.checked_add(DRAIN_INTERVAL).unwrap_or(now);
        }
        self.fresh = 0;
    }

    /// True when the logs of an ended task are read to their end: the root block's session
    /// end was seen, enough reads brought nothing, [`MAX_DRAIN_ROUNDS`] were read, or the
    /// wait's deadline has come.
    fn drained(&self, now: Instant) -> bool {
        let Phase::Draining {
            empty_rounds,
            rounds,
            ..
        } = &self.phase
        else {
            return false;
        };
        self.session_ended
            || *empty_rounds >= DRAIN_EMPTY_ROUNDS
            || *rounds >= MAX_DRAIN_ROUNDS
            || self.poller.deadline().is_some_and(|d| now >= d)
    }
}

impl<T: DeserializeOwned> Follower<T> {
    /// What to do next, at `now`.
    pub fn poll_action(&mut self, now: Instant) -> FollowAction<T> {
        if self.cancel.as_ref().is_some_and(CancelToken::is_cancelled) {
            self.cancel();
        }
        loop {
            if let Some(event) = self.pending.pop_front() {
                return FollowAction::Event(event);
            }
            match std::mem::replace(&mut self.phase, Phase::Spent) {
                Phase::Spent => {
                    return FollowAction::Done(Err(Error::misuse(
                        "follower",
                        "poll_action was called again after the view was over",
                    )));
                }
                Phase::Finished(outcome) => return FollowAction::Done(outcome),
                phase => self.phase = phase,
            }
            if let Some(transmit) = self.redirect.take() {
                return FollowAction::Send(transmit);
            }
            // A read of logs in flight: its answer is awaited until its deadline.
            if let Some(flight) = &self.logs {
                if flight.is_overdue(now) {
                    self.logs = None;
                    self.after_read(now);
                    continue;
                }
                return FollowAction::Wait(flight.deadline.saturating_duration_since(now));
            }
            if let Phase::Draining { next, .. } = &self.phase {
                let next = *next;
                if self.logs_due {
                    self.logs_due = false;
                    match self.read_logs(now) {
                        Ok(transmit) => return FollowAction::Send(transmit),
                        Err(error) => {
                            self.fail(error);
                            continue;
                        }
                    }
                }
                if self.drained(now) {
                    if let Phase::Draining { outcome, .. } =
                        std::mem::replace(&mut self.phase, Phase::Spent)
                    {
                        self.finish(outcome);
                    }
                    continue;
                }
                if now < next {
                    return FollowAction::Wait(next - now);
                }
                self.logs_due = true;
                continue;
            }
            match self.poller.poll_action(now) {
                PollAction::Send(transmit) => {
                    self.poll = Some(transmit.id);
                    return FollowAction::Send(transmit);
                }
                PollAction::Progress { progress, status } => {
                    self.pending
                        .push_back(TaskEvent::Progress { status, progress });
                }
                // The poll is answered and the next one is not due yet: the logs are read
                // in between (once per poll, and page after page while pages are full).
                PollAction::Wait(duration) => {
                    if !self.logs_due {
                        return FollowAction::Wait(duration);
                    }
                    self.logs_due = false;
                    match self.read_logs(now) {
                        Ok(transmit) => return FollowAction::Send(transmit),
                        Err(error) => self.fail(error),
                    }
                }
                PollAction::Done(outcome) => {
                    self.poll = None;
                    match outcome {
                        // The task has ended: its logs are read to their end first.
                        Ok(_) | Err(Error::TaskFailed(_)) => {
                            self.phase = Phase::Draining {
                                outcome,
                                empty_rounds: 0,
                                rounds: 0,
                                next: now,
                                last: false,
                            };
                            self.logs_due = true;
                        }
                        // The wait ended first (its timeout): the logs written meanwhile are
                        // read once more, when the last poll left time for it.
                        Err(error @ Error::Timeout(_))
                            if self.logs_due && self.poller.deadline().is_some_and(|d| now < d) =>
                        {
                            self.phase = Phase::Draining {
                                outcome: Err(error),
                                empty_rounds: 0,
                                rounds: 0,
                                next: now,
                                last: true,
                            };
                        }
                        Err(error) => self.fail(error),
                    }
                }
            }
        }
    }

    /// Feeds the answer to request `id` (an answer to any other request is ignored).
    pub fn handle_response(&mut self, id: RequestId, response: HttpResponse, now: Instant) {
        if self.poll == Some(id) {
            self.poll = None;
            self.poller.handle_response(id, response, now);
            // Each answered poll of a running task is followed by a read of the logs.
            self.logs_due = matches!(self.phase, Phase::Running);
            return;
        }
        let Some(flight) = self.logs.as_mut().filter(|f| f.id == id) else {
            return;
        };
        match flight.land(&self.config, response) {
            Landing::Follow(transmit) => self.redirect = Some(transmit),
            Landing::Response(response) => {
                self.logs = None;
                // A page that does not read is a failed read: the next round reads again.
                if let Ok(page) = GetTaskLogs::new(self.task_id()).parse(response) {
                    self.take_page(page);
                }
                self.after_read(now);
            }
            Landing::Failed(error) => {
                self.logs = None;
                match error {
                    // What the server cannot mend by being asked again ends the view.
                    Error::Limit(_) | Error::Redirect(_) => self.fail(error),
                    _ => self.after_read(now),
                }
            }
        }
    }

    /// Feeds the transport's failure of request `id` (a failure of any other request is
    /// ignored): a failed poll is the poller's to retry; a failed read of logs is read
    /// again next round.
    pub fn handle_transport_error(&mut self, id: RequestId, error: Error, now: Instant) {
        if self.poll == Some(id) {
            self.poll = None;
            self.poller.handle_transport_error(id, error, now);
            self.logs_due = matches!(self.phase, Phase::Running);
            return;
        }
        if self.logs.as_ref().is_some_and(|f| f.id == id) {
            self.logs = None;
            match error {
                Error::Cancelled(_) => self.cancel(),
                Error::Limit(_) => self.fail(error),
                _ => self.after_read(now),
            }
        }
    }

    /// The read of the current page of logs, bounded by the wait's deadline.
    fn read_logs(&mut self, now: Instant) -> Result<Transmit, Error> {
        if u64::from(self.page) > self.config.max_pages() {
            return Err(Error::limit(
                GetTaskLogs::NAME,
                Limit::Pages,
                self.config.max_pages(),
            ));
        }
        let request = GetTaskLogs::new(self.task_id())
            .page(self.page)
            .request(&self.config)?;
        let (flight, transmit) = Flight::launch(
            &self.config,
            GetTaskLogs::NAME,
            request,
            now,
            self.poller.deadline(),
            true,
        );
        self.logs = Some(flight);
        Ok(transmit)
    }
}
