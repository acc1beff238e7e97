//! Polling as a value: the state machine behind `await_result` and `create_and_wait`.

use std::fmt;
use std::time::{Duration, Instant};

use http::StatusCode;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::HttpResponse;
use crate::cancel::CancelToken;
use crate::config::Config;
use crate::error::{Error, TaskFailedError, TimeoutError};
use crate::exchange::{Flight, Landing, RequestId, Transmit};
use crate::models::{TaskStatus, TaskSuccess};
use crate::ops::task_result::ResultParse;
use crate::ops::{GetTaskResult, Operation};
use crate::retry::is_retryable_status;
use crate::wait::{AwaitOptions, FINAL_POLL_WINDOW};

/// What the driver must do next; the answer of [`Poller::poll_action`].
#[must_use]
#[derive(Debug)]
// The request is handed straight to the transport: boxing it would only add an allocation.
#[allow(clippy::large_enum_variant)]
pub enum PollAction<T = Value> {
    /// Send this poll (its answer is due by its deadline), then feed the outcome to
    /// [`Poller::handle_response`] or [`Poller::handle_transport_error`] with its `id`.
    Send(Transmit),
    /// Report this progress (call the user's callback), then ask again.
    Progress {
        /// Progress, 0 to 100.
        progress: f64,
        /// The in-progress status.
        status: TaskStatus,
    },
    /// Sleep this long (or until cancelled, or until the poll in flight answers), then ask
    /// again. Never past the deadline.
    Wait(Duration),
    /// The wait is over.
    Done(Result<TaskSuccess<T>, Error>),
}

enum State<T> {
    /// Ready to send the next poll (once `now >= not_before`).
    Waiting { not_before: Option<Instant> },
    /// A poll is in flight (`Poller::flight`); `Some` holds a redirect of it to send next.
    InFlight(Option<Box<Transmit>>),
    /// Finished, with the outcome not yet handed out.
    Finished(Result<TaskSuccess<T>, Error>),
    /// Finished and handed out.
    Spent,
}

/// The polling state machine of one task.
///
/// Inputs are `handle_*` and [`cancel`](Self::cancel), each taking `now` where time
/// matters; the output is [`poll_action`](Self::poll_action). Calling order ("mutate, then
/// drain outputs"):
///
/// ```text
/// let mut poller = Poller::new(&config, task_id, &options, now)?;
/// loop {
///     match poller.poll_action(now()) {
///         PollAction::Send(t) => match send(t.request, t.limits(now())) {  // by t.deadline
///             Ok(response) => poller.handle_response(t.id, response, now()),
///             Err(error) => poller.handle_transport_error(t.id, error, now()),
///         },
///         PollAction::Progress { progress, status } => options.report_progress(progress, &status),
///         PollAction::Wait(duration) => sleep(duration),   // or until cancelled: poller.cancel()
///         PollAction::Done(outcome) => return outcome,
///     }
/// }
/// ```
///
/// Rules (API.md, with improvements over the official SDKs):
/// - the first poll is sent at once; after each in-progress result or failed poll the
///   attempt count rises by one and the next wait is [`backoff_delay`](crate::backoff_delay);
/// - `success` ends with the result, `failed` with [`Error::TaskFailed`] (classified);
/// - a failed poll is remembered and retried when retrying can mend it: transport errors,
///   bodies that do not decode, and the statuses of
///   [`is_retryable_status`](crate::is_retryable_status) (408, 425, 429, 5xx). Any other
///   status (400, 401, 403, 404, 405, 410, 422, ...) ends the wait at once with that API
///   error; 402 or a body code `OOMOL_INSUFFICIENT_CREDIT` ends it with a quota
///   [`Error::TaskFailed`]; a body over the limit or a refused redirect ends it too;
/// - a 429 or 503 with `Retry-After` waits at least that long;
/// - every poll carries a deadline: the sooner of the per-request timeout
///   ([`Config::timeout`]) and the wait's deadline. Asked for its next action after that
///   deadline, the poller gives the poll up itself (a failed poll), whatever the transport;
/// - with a timeout, no wait passes the deadline: when the next poll would come within
///   [`FINAL_POLL_WINDOW`] of it (or a tenth of the timeout, when shorter), that poll is
///   sent then instead, as the last one, with until the deadline to answer; after it the
///   wait ends with [`Error::Timeout`] quoting the last failed poll's reason. A result
///   received is always returned, never thrown away;
/// - [`cancel`](Self::cancel), or the options' cancel token, ends the wait with
///   [`Error::Cancelled`] carrying the task ID (unless a result was already obtained).
pub struct Poller<T = Value> {
    config: Config,
    /// The task ID, shared with every transmit (for logs and tracing).
    task: std::sync::Arc<str>,
    operation: GetTaskResult<T>,
    options: AwaitOptions,
    deadline: Option<Instant>,
    final_window: Duration,
    final_next: bool,
    final_sent: bool,
    attempt: u32,
    polls: u64,
    last_error: Option<Error>,
    pending_progress: Option<(f64, TaskStatus)>,
    last_reported: Option<(f64, TaskStatus)>,
    deduplicate: bool,
    flight: Option<Flight>,
    state: State<T>,
}

impl<T> fmt::Debug for Poller<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Poller")
            .field("task_id", &self.operation.task_id)
            .field("attempt", &self.attempt)
            .field("polls", &self.polls)
            .field("deadline", &self.deadline)
            .field("in_flight", &self.flight.as_ref().map(|f| f.id))
            .finish()
    }
}

impl Poller {
    /// A poller for `task_id` (its result data as any JSON), started at `now`, with
    /// `options` over the configuration's defaults ([`AwaitOptions::or`]). Refuses an empty
    /// task ID and invalid options ([`AwaitOptions::validate`]).
    pub fn new(
        config: &Config,
        task_id: impl Into<String>,
        options: &AwaitOptions,
        now: Instant,
    ) -> Result<Poller, Error> {
        Poller::new_as(config, task_id, options, now)
    }

    /// [`new`](Self::new), with the result data decoded as `T`:
    /// `Poller::new_as::<MyOutputs>(...)`.
    pub fn new_as<T: DeserializeOwned>(
        config: &Config,
        task_id: impl Into<String>,
        options: &AwaitOptions,
        now: Instant,
    ) -> Result<Poller<T>, Error> {
        let task_id = task_id.into();
        crate::wire::check_not_empty("task_id", &task_id)?;
        let options = &options.or(config.await_defaults());
        options.validate()?;
        let final_window = options
            .timeout
            .map_or(FINAL_POLL_WINDOW, |t| FINAL_POLL_WINDOW.min(t / 10));
        Ok(Poller {
            config: config.clone(),
            task: std::sync::Arc::from(task_id.as_str()),
            operation: GetTaskResult::new_as(task_id),
            options: options.clone(),
            deadline: options.timeout.map(|t| {
                now.checked_add(t)
                    .unwrap_or_else(|| crate::exchange::far_future(now))
            }),
            final_window,
            final_next: false,
            final_sent: false,
            attempt: 0,
            polls: 0,
            last_error: None,
            pending_progress: None,
            last_reported: None,
            deduplicate: false,
            flight: None,
            state: State::Waiting { not_before: None },
        })
    }
}

impl<T> Poller<T> {
    /// Reports a progress only when `(progress, status)` differs from the last one reported
    /// (for progress streams). Off by default: the official SDKs report every poll.
    pub fn deduplicate_progress(mut self, on: bool) -> Self {
        self.deduplicate = on;
        self
    }

    /// The task being polled.
    pub fn task_id(&self) -> &str {
        &self.operation.task_id
    }

    /// The task being polled, shared.
    pub(crate) fn task_arc(&self) -> std::sync::Arc<str> {
        std::sync::Arc::clone(&self.task)
    }

    /// How many polls have been sent.
    pub fn polls(&self) -> u64 {
        self.polls
    }

    /// The current attempt number (polls that did not finish the wait).
    pub fn attempt(&self) -> u32 {
        self.attempt
    }

    /// The deadline, when a timeout was set.
    pub fn deadline(&self) -> Option<Instant> {
        self.deadline
    }

    /// The options this poller was built with.
    pub fn options(&self) -> &AwaitOptions {
        &self.options
    }

    /// True once [`PollAction::Done`] has been handed out.
    pub fn is_finished(&self) -> bool {
        matches!(self.state, State::Spent)
    }

    /// The ID and deadline of the poll in flight, if one is.
    pub fn in_flight(&self) -> Option<(RequestId, Instant)> {
        match self.state {
            State::InFlight(None) => self.flight.as_ref().map(|f| (f.id, f.deadline)),
            _ => None,
        }
    }
}

impl<T: DeserializeOwned> Poller<T> {
    /// What to do next, at `now`.
    pub fn poll_action(&mut self, now: Instant) -> PollAction<T> {
        if let Some((progress, status)) = self.pending_progress.take() {
            return PollAction::Progress { progress, status };
        }
        if self
            .options
            .cancel
            .as_ref()
            .is_some_and(CancelToken::is_cancelled)
        {
            self.cancel();
        }
        self.expire_overdue(now);
        match std::mem::replace(&mut self.state, State::Spent) {
            State::Finished(outcome) => PollAction::Done(outcome),
            State::Spent => PollAction::Done(Err(Error::misuse(
                "poller",
                "poll_action was called again after the poller finished",
            ))),
            State::InFlight(Some(redirect)) => {
                self.state = State::InFlight(None);
                PollAction::Send(*redirect)
            }
            State::InFlight(None) => {
                let wait = self.flight.as_ref().map_or(Duration::ZERO, |f| {
                    f.deadline.saturating_duration_since(now)
                });
                self.state = State::InFlight(None);
                PollAction::Wait(wait)
            }
            State::Waiting { not_before } => {
                if let Some(until) = not_before
                    && now < until
                {
                    self.state = State::Waiting { not_before };
                    return PollAction::Wait(until - now);
                }
                if self.deadline.is_some_and(|d| now >= d) {
                    return PollAction::Done(Err(self.timeout_error()));
                }
                match self.operation.request(&self.config) {
                    Ok(request) => {
                        let (flight, transmit) = Flight::launch(
                            &self.config,
                            GetTaskResult::<T>::NAME,
                            request,
                            now,
                            self.deadline,
                            true,
                        );
                        self.polls += 1;
                        self.final_sent |= self.final_next;
                        self.flight = Some(flight);
                        self.state = State::InFlight(None);
                        PollAction::Send(transmit)
                    }
                    Err(e) => PollAction::Done(Err(e)),
                }
            }
        }
    }

    /// Gives up on the poll in flight when its deadline has passed at `now` (a failed
    /// poll, retried as the rules say). Answers whether it did.
    pub(crate) fn expire_overdue(&mut self, now: Instant) -> bool {
        let overdue = matches!(self.state, State::InFlight(None))
            && self.flight.as_ref().is_some_and(|f| f.is_overdue(now));
        if overdue && let Some(flight) = self.flight.take() {
            self.last_error = Some(flight.elapsed());
            self.schedule_next(None, now);
        }
        overdue
    }

    /// True when poll `id` is the one awaited.
    fn awaits(&self, id: RequestId) -> bool {
        matches!(self.state, State::InFlight(None))
            && self.flight.as_ref().is_some_and(|f| f.id == id)
    }

    /// Feeds the response to poll `id` (an answer to any other request is ignored).
    pub fn handle_response(&mut self, id: RequestId, response: HttpResponse, now: Instant) {
        if !self.awaits(id) {
            return;
        }
        let Some(flight) = self.flight.as_mut() else {
            return;
        };
        let response = match flight.land(&self.config, response) {
            Landing::Response(response) => response,
            Landing::Follow(transmit) => {
                self.state = State::InFlight(Some(Box::new(transmit)));
                return;
            }
            Landing::Failed(error) => {
                self.flight = None;
                self.finish(Err(error));
                return;
            }
        };
        self.flight = None;
        match self.operation.parse_detailed(response) {
            Ok(ResultParse::Success(success)) => self.finish(Ok(success)),
            Ok(ResultParse::Failed { error, detail }) => {
                let failed = TaskFailedError::new(self.task_id(), error.as_deref(), detail);
                self.finish(Err(Error::TaskFailed(Box::new(failed))));
            }
            Ok(ResultParse::InProgress { status, progress }) => {
                let report = (progress, status);
                if !self.deduplicate || self.last_reported.as_ref() != Some(&report) {
                    self.last_reported = Some(report.clone());
                    self.pending_progress = Some(report);
                }
                self.schedule_next(None, now);
            }
            Ok(ResultParse::DataMismatch(e)) => self.finish(Err(e)),
            Err(Error::Api(api)) => {
                if api.is_quota() {
                    let failed = TaskFailedError::from_quota_api_error(self.task_id(), &api);
                    self.finish(Err(Error::TaskFailed(Box::new(failed))));
                } else if !is_retryable_status(api.status) {
                    self.finish(Err(Error::Api(api)));
                } else {
                    let floor = match api.status {
                        StatusCode::TOO_MANY_REQUESTS | StatusCode::SERVICE_UNAVAILABLE => {
                            api.retry_after
                        }
                        _ => None,
                    };
                    self.last_error = Some(Error::Api(api));
                    self.schedule_next(floor, now);
                    self.report_retry(now);
                }
            }
            Err(e) => self.failed_poll(e, now),
        }
    }

    /// Feeds a transport failure of poll `id` (a failure of any other request is ignored).
    /// It is remembered and retried, unless it is final (a cancellation, a body over the
    /// limit).
    pub fn handle_transport_error(&mut self, id: RequestId, error: Error, now: Instant) {
        if !self.awaits(id) {
            return;
        }
        let Some(flight) = self.flight.take() else {
            return;
        };
        let error = flight.name_error(error);
        if error.is_cancelled() {
            self.cancel();
        } else {
            self.failed_poll(error, now);
        }
    }

    /// Ends the wait with [`Error::Cancelled`] carrying the task ID, unless it has
    /// already ended (a result obtained is kept). A poll in flight is abandoned: its answer
    /// is ignored.
    pub fn cancel(&mut self) {
        if matches!(self.state, State::Waiting { .. } | State::InFlight(_)) {
            self.flight = None;
            let error = Error::cancelled_task(self.task_id());
            self.finish(Err(error));
        }
    }

    /// The last failed poll's error, if any.
    pub fn last_error(&self) -> Option<&Error> {
        self.last_error.as_ref()
    }

    /// A poll failed with `error`: retried, or the end of the wait when retrying cannot
    /// mend it.
    fn failed_poll(&mut self, error: Error, now: Instant) {
        match error {
            Error::Limit(_)
            | Error::Redirect(_)
            | Error::Protocol(_)
            | Error::InvalidInput(_)
            | Error::Misuse(_) => {
                self.finish(Err(error));
            }
            error => {
                self.last_error = Some(error);
                self.schedule_next(None, now);
                self.report_retry(now);
            }
        }
    }

    /// Tells the options' retry callback of the failed poll just scheduled again (not
    /// when the wait ended on it instead).
    fn report_retry(&self, now: Instant) {
        if let (
            State::Waiting {
                not_before: Some(until),
            },
            Some(error),
        ) = (&self.state, &self.last_error)
        {
            self.options
                .report_retry(self.task_id(), error, until.saturating_duration_since(now));
        }
    }

    fn finish(&mut self, outcome: Result<TaskSuccess<T>, Error>) {
        self.state = State::Finished(outcome);
    }

    fn schedule_next(&mut self, floor: Option<Duration>, now: Instant) {
        self.attempt = self.attempt.saturating_add(1);
        let mut wait = self.options.delay(self.attempt);
        if let Some(floor) = floor {
            wait = wait.max(floor);
        }
        let mut until = now
            .checked_add(wait)
            .unwrap_or_else(|| crate::exchange::far_future(now));
        if let Some(deadline) = self.deadline {
            // The last poll goes out with time left to answer before the deadline.
            let last = deadline.checked_sub(self.final_window).unwrap_or(now);
            if until >= last {
                if self.final_sent {
                    let error = self.timeout_error();
                    self.finish(Err(error));
                    return;
                }
                until = last.max(now);
                self.final_next = true;
            }
        }
        self.state = State::Waiting {
            not_before: Some(until),
        };
    }

    fn timeout_error(&mut self) -> Error {
        let timeout = self.options.timeout.unwrap_or_default();
        let last = self.last_error.take();
        Error::Timeout(Box::new(TimeoutError::new(self.task_id(), timeout, last)))
    }
}
