//! Polling as a value: the state machine behind `await_result` and `create_and_wait`.

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};

use http::StatusCode;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::HttpResponse;
use crate::cancel::CancelToken;
use crate::config::Config;
use crate::error::{Error, TaskFailedError, TimeoutError, is_retryable_status};
use crate::exchange::{Flight, Landing, RequestId, Transmit};
use crate::models::{TaskStatus, TaskSuccess};
use crate::ops::task_result::ResultParse;
use crate::ops::{GetTaskResult, Operation};

/// The default polling interval: 3000 ms.
pub const DEFAULT_INTERVAL: Duration = Duration::from_millis(3000);
/// The default maximum polling interval: 3000 ms.
pub const DEFAULT_MAX_INTERVAL: Duration = Duration::from_millis(3000);
/// How many polls `await_many` keeps in flight at once by default.
pub const DEFAULT_AWAIT_MANY_IN_FLIGHT: usize = 16;
/// The growth factor of the exponential strategy.
pub const BACKOFF_FACTOR: f64 = 1.5;

/// How the wait between polls grows.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum BackoffStrategy {
    /// Always `interval`.
    Fixed,
    /// `min(max_interval, interval × 1.5^attempt)` (the default).
    #[default]
    Exponential,
}

/// Optional random spread of each wait, to keep many clients from polling in step.
///
/// A wait `w` becomes `w × (1 − fraction × r)` with `r` in `[0, 1)` drawn from `seed` and
/// the attempt number: deterministic for a given seed. The fraction is kept within 0..=1 by
/// construction, so no wait is ever made negative or zero by it (a fraction of 1 may halve
/// a wait down to nearly nothing; 0.5 at most halves it).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Jitter {
    fraction: f64,
    seed: u64,
}

impl Jitter {
    /// A jitter of `fraction` (clamped to 0..=1; not a number counts as 0) seeded with
    /// `seed`.
    pub fn new(fraction: f64, seed: u64) -> Self {
        let fraction = if fraction.is_finite() {
            fraction.clamp(0.0, 1.0)
        } else {
            0.0
        };
        Jitter { fraction, seed }
    }

    /// How much of each wait may be taken off, 0.0 to 1.0.
    pub fn fraction(&self) -> f64 {
        self.fraction
    }

    /// The seed of the spread.
    pub fn seed(&self) -> u64 {
        self.seed
    }
}

/// The wait before the next poll after `attempt` polls, as a pure function.
///
/// Fixed: `interval`. Exponential: `min(max_interval, interval × 1.5^attempt)`.
///
/// ```
/// # use cloud_task_core::{backoff_delay, BackoffStrategy};
/// # use std::time::Duration;
/// let ms = |a| backoff_delay(BackoffStrategy::Exponential, Duration::from_millis(2000),
///     Duration::from_millis(10_000), a, None).as_millis();
/// assert_eq!([ms(1), ms(2), ms(3), ms(4), ms(5)], [3000, 4500, 6750, 10_000, 10_000]);
/// ```
pub fn backoff_delay(
    strategy: BackoffStrategy,
    interval: Duration,
    max_interval: Duration,
    attempt: u32,
    jitter: Option<Jitter>,
) -> Duration {
    let base_ms = match strategy {
        BackoffStrategy::Fixed => interval.as_secs_f64() * 1000.0,
        BackoffStrategy::Exponential => {
            let grown =
                interval.as_secs_f64() * 1000.0 * BACKOFF_FACTOR.powi(attempt.min(200) as i32);
            grown.min(max_interval.as_secs_f64() * 1000.0)
        }
    };
    let ms = match jitter {
        Some(j) if j.fraction > 0.0 => base_ms * (1.0 - j.fraction * unit_random(j.seed, attempt)),
        _ => base_ms,
    };
    duration_from_ms(ms)
}

/// A float in `[0, 1)` from splitmix64 of `seed` and `attempt`.
fn unit_random(seed: u64, attempt: u32) -> f64 {
    let mut z = seed.wrapping_add(u64::from(attempt).wrapping_mul(0x9E37_79B9_7F4A_7C15));
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^= z >> 31;
    (z >> 11) as f64 / (1u64 << 53) as f64
}

/// Milliseconds (possibly fractional, possibly absurd) to a `Duration`, never panicking.
fn duration_from_ms(ms: f64) -> Duration {
    if !ms.is_finite() || ms <= 0.0 {
        return Duration::ZERO;
    }
    // About 31 years: far beyond any real wait, far below Duration's limit.
    const MAX_MS: f64 = 1.0e12;
    Duration::from_micros((ms.min(MAX_MS) * 1000.0).round() as u64)
}

/// Called with `(progress, status)` for each in-progress result.
pub type ProgressFn = Arc<dyn Fn(f64, &TaskStatus) + Send + Sync>;

/// Called with `(task_id, progress, status)` for each in-progress result: the callback
/// that tells the tasks of `await_many` apart.
pub type TaskProgressFn = Arc<dyn Fn(&str, f64, &TaskStatus) + Send + Sync>;

/// The shortest interval, max interval or timeout [`AwaitOptions`] accept: 1 ms.
pub const MIN_INTERVAL: Duration = Duration::from_millis(1);

/// The most time the last poll before a wait's deadline is given to answer: 1 s (or a
/// tenth of the timeout, when that is shorter).
pub const FINAL_POLL_WINDOW: Duration = Duration::from_secs(1);

/// Options of `await_result`, `create_and_wait`, `watch` and `await_many`.
///
/// Defaults: interval 3000 ms, exponential strategy, max interval 3000 ms (or the interval,
/// when a larger interval is set and no max interval is), no timeout, no jitter. An
/// interval, max interval or timeout shorter than [`MIN_INTERVAL`] (zero included) is
/// refused by [`validate`](Self::validate), which every wait runs before sending anything
/// (before creating the task, for `create_and_wait`).
///
/// A client may carry default options ([`ConfigBuilder::await_options`](crate::ConfigBuilder::await_options)):
/// every setting left unset here takes the client's default ([`or`](Self::or)), then the
/// built-in one.
///
/// The getters keep the `get_` prefix, as `std::process::Command`'s do: the bare names are
/// the builder's setters.
///
/// ```
/// # use cloud_task_core::{AwaitOptions, BackoffStrategy};
/// # use std::time::Duration;
/// let options = AwaitOptions::new()
///     .interval(Duration::from_secs(2))
///     .max_interval(Duration::from_secs(10))
///     .strategy(BackoffStrategy::Exponential)
///     .timeout(Duration::from_secs(600))
///     .on_progress(|progress, status| println!("{status}: {progress}%"));
/// assert_eq!(options.get_timeout(), Some(Duration::from_secs(600)));
/// ```
#[derive(Clone, Default)]
pub struct AwaitOptions {
    interval: Option<Duration>,
    max_interval: Option<Duration>,
    strategy: Option<BackoffStrategy>,
    timeout: Option<Duration>,
    jitter: Option<Jitter>,
    max_in_flight: Option<usize>,
    on_progress: Option<ProgressFn>,
    on_task_progress: Option<TaskProgressFn>,
    cancel: Option<CancelToken>,
}

impl AwaitOptions {
    /// The defaults.
    pub fn new() -> Self {
        Self::default()
    }

    /// The base interval between polls (default 3000 ms).
    pub fn interval(mut self, interval: Duration) -> Self {
        self.interval = Some(interval);
        self
    }

    /// The largest wait between polls (default 3000 ms, or the interval when larger).
    pub fn max_interval(mut self, max_interval: Duration) -> Self {
        self.max_interval = Some(max_interval);
        self
    }

    /// Fixed or exponential (default).
    pub fn strategy(mut self, strategy: BackoffStrategy) -> Self {
        self.strategy = Some(strategy);
        self
    }

    /// Gives up with [`Error::Timeout`] after this long (default: wait forever).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// Spreads waits randomly (off by default).
    pub fn jitter(mut self, jitter: Jitter) -> Self {
        self.jitter = Some(jitter);
        self
    }

    /// How many polls `await_many` keeps in flight at once (default
    /// [`DEFAULT_AWAIT_MANY_IN_FLIGHT`], 16; 0 is refused). Single waits poll one at a time.
    pub fn max_in_flight(mut self, polls: usize) -> Self {
        self.max_in_flight = Some(polls);
        self
    }

    /// Called with `(progress, status)` for each in-progress result (the official
    /// callback).
    pub fn on_progress(mut self, f: impl Fn(f64, &TaskStatus) + Send + Sync + 'static) -> Self {
        self.on_progress = Some(Arc::new(f));
        self
    }

    /// Called with `(task_id, progress, status)` for each in-progress result, after
    /// [`on_progress`](Self::on_progress): with `await_many`, it says which task moved.
    ///
    /// ```
    /// # use cloud_task_core::AwaitOptions;
    /// let options = AwaitOptions::new()
    ///     .on_task_progress(|task_id, progress, status| println!("{task_id}: {status} {progress}%"));
    /// # let _ = options;
    /// ```
    pub fn on_task_progress(
        mut self,
        f: impl Fn(&str, f64, &TaskStatus) + Send + Sync + 'static,
    ) -> Self {
        self.on_task_progress = Some(Arc::new(f));
        self
    }

    /// Ends the wait with [`Error::Cancelled`] when `token` is cancelled.
    pub fn cancel_token(mut self, token: CancelToken) -> Self {
        self.cancel = Some(token);
        self
    }

    /// The base interval.
    pub fn get_interval(&self) -> Duration {
        self.interval.unwrap_or(DEFAULT_INTERVAL)
    }

    /// The effective maximum interval.
    pub fn get_max_interval(&self) -> Duration {
        self.max_interval
            .unwrap_or_else(|| DEFAULT_MAX_INTERVAL.max(self.get_interval()))
    }

    /// The strategy.
    pub fn get_strategy(&self) -> BackoffStrategy {
        self.strategy.unwrap_or_default()
    }

    /// The timeout, if any.
    pub fn get_timeout(&self) -> Option<Duration> {
        self.timeout
    }

    /// The jitter, if any.
    pub fn get_jitter(&self) -> Option<Jitter> {
        self.jitter
    }

    /// How many polls `await_many` keeps in flight at once.
    pub fn get_max_in_flight(&self) -> usize {
        self.max_in_flight.unwrap_or(DEFAULT_AWAIT_MANY_IN_FLIGHT)
    }

    /// The progress callback, if any.
    pub fn get_on_progress(&self) -> Option<&ProgressFn> {
        self.on_progress.as_ref()
    }

    /// The cancellation token, if any.
    pub fn get_cancel_token(&self) -> Option<&CancelToken> {
        self.cancel.as_ref()
    }

    /// The per-task progress callback, if any.
    pub fn get_on_task_progress(&self) -> Option<&TaskProgressFn> {
        self.on_task_progress.as_ref()
    }

    /// Calls the progress callbacks, if any: `on_progress`, then `on_task_progress`.
    pub fn report_progress(&self, task_id: &str, progress: f64, status: &TaskStatus) {
        if let Some(f) = &self.on_progress {
            f(progress, status);
        }
        if let Some(f) = &self.on_task_progress {
            f(task_id, progress, status);
        }
    }

    /// These options, with every setting left unset taken from `defaults` (a client's
    /// default options): interval, max interval, strategy, timeout, jitter, callbacks and
    /// cancel token each come from here when set, else from `defaults`.
    ///
    /// ```
    /// # use cloud_task_core::AwaitOptions;
    /// # use std::time::Duration;
    /// let defaults = AwaitOptions::new().interval(Duration::from_millis(30)).timeout(Duration::from_secs(5));
    /// let options = AwaitOptions::new().timeout(Duration::from_secs(60)).or(&defaults);
    /// assert_eq!(options.get_interval(), Duration::from_millis(30));
    /// assert_eq!(options.get_timeout(), Some(Duration::from_secs(60)));
    /// ```
    #[must_use]
    pub fn or(&self, defaults: &AwaitOptions) -> AwaitOptions {
        AwaitOptions {
            interval: self.interval.or(defaults.interval),
            max_interval: self.max_interval.or(defaults.max_interval),
            strategy: self.strategy.or(defaults.strategy),
            timeout: self.timeout.or(defaults.timeout),
            jitter: self.jitter.or(defaults.jitter),
            max_in_flight: self.max_in_flight.or(defaults.max_in_flight),
            on_progress: self
                .on_progress
                .clone()
                .or_else(|| defaults.on_progress.clone()),
            on_task_progress: self
                .on_task_progress
                .clone()
                .or_else(|| defaults.on_task_progress.clone()),
            cancel: self.cancel.clone().or_else(|| defaults.cancel.clone()),
        }
    }

    /// Checks the options: the interval, max interval and timeout, when set, must be at
    /// least [`MIN_INTERVAL`], and `max_in_flight` at least 1. The error names the field.
    ///
    /// ```
    /// # use cloud_task_core::AwaitOptions;
    /// # use std::time::Duration;
    /// assert!(AwaitOptions::new().validate().is_ok());
    /// let error = AwaitOptions::new().interval(Duration::ZERO).validate().unwrap_err();
    /// assert_eq!(error.to_string(), "interval must be at least 1 ms, got 0 ms");
    /// ```
    pub fn validate(&self) -> Result<(), Error> {
        for (field, value) in [
            ("interval", self.interval),
            ("max_interval", self.max_interval),
            ("timeout", self.timeout),
        ] {
            if let Some(value) = value
                && value < MIN_INTERVAL
            {
                return Err(Error::invalid_input(
                    field,
                    format!(
                        "{field} must be at least 1 ms, got {} ms",
                        value.as_secs_f64() * 1000.0
                    ),
                ));
            }
        }
        if self.max_in_flight == Some(0) {
            return Err(Error::invalid_input(
                "max_in_flight",
                "max_in_flight must be at least 1",
            ));
        }
        Ok(())
    }

    /// What `create_and_wait` checks before it creates anything: the options, with the
    /// client's defaults from `config` ([`or`](Self::or)), are valid
    /// ([`validate`](Self::validate)), and the cancel token, if any, has not fired
    /// ([`Error::Cancelled`]). Both drivers call it, so a wait that cannot start never
    /// leaves a task behind.
    pub fn check_before_create(&self, config: &Config) -> Result<(), Error> {
        let options = self.or(config.await_defaults());
        options.validate()?;
        if options
            .cancel
            .as_ref()
            .is_some_and(CancelToken::is_cancelled)
        {
            return Err(Error::cancelled());
        }
        Ok(())
    }

    /// The wait after `attempt` polls.
    pub fn delay(&self, attempt: u32) -> Duration {
        backoff_delay(
            self.get_strategy(),
            self.get_interval(),
            self.get_max_interval(),
            attempt,
            self.jitter,
        )
    }
}

impl fmt::Debug for AwaitOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AwaitOptions")
            .field("interval", &self.get_interval())
            .field("max_interval", &self.get_max_interval())
            .field("strategy", &self.get_strategy())
            .field("timeout", &self.timeout)
            .field("jitter", &self.jitter)
            .field("max_in_flight", &self.get_max_in_flight())
            .field("on_progress", &self.on_progress.as_ref().map(|_| "Fn"))
            .field(
                "on_task_progress",
                &self.on_task_progress.as_ref().map(|_| "Fn"),
            )
            .field("cancel", &self.cancel)
            .finish()
    }
}

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
///   attempt count rises by one and the next wait is [`backoff_delay`];
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
            }
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
