//! The options of every wait ([`AwaitOptions`]): interval, backoff, timeout, progress
//! callbacks, cancel token. Below the configuration, which carries a client's defaults.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use crate::cancel::CancelToken;
use crate::error::Error;
use crate::models::TaskStatus;
use crate::retry::{BackoffStrategy, Jitter, backoff_delay};

/// The default polling interval: 3000 ms.
pub const DEFAULT_INTERVAL: Duration = Duration::from_millis(3000);
/// The default maximum polling interval: 3000 ms.
pub const DEFAULT_MAX_INTERVAL: Duration = Duration::from_millis(3000);
/// How many polls `await_many` keeps in flight at once by default.
pub const DEFAULT_AWAIT_MANY_IN_FLIGHT: usize = 16;
/// Called with `(progress, status)` for each in-progress result.
pub type ProgressFn = Arc<dyn Fn(f64, &TaskStatus) + Send + Sync>;

/// Called with `(task_id, progress, status)` for each in-progress result: the callback
/// that tells the tasks of `await_many` apart.
pub type TaskProgressFn = Arc<dyn Fn(&str, f64, &TaskStatus) + Send + Sync>;

/// Called with `(task_id, error, wait)` for each failed poll that will be tried again
/// after `wait` (a 429 or 503 with its `Retry-After`, a 5xx, a network failure): what a
/// wait says while it is held back.
pub type RetryFn = Arc<dyn Fn(&str, &Error, Duration) + Send + Sync>;

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
    pub(crate) interval: Option<Duration>,
    pub(crate) max_interval: Option<Duration>,
    pub(crate) strategy: Option<BackoffStrategy>,
    pub(crate) timeout: Option<Duration>,
    pub(crate) jitter: Option<Jitter>,
    pub(crate) max_in_flight: Option<usize>,
    pub(crate) on_progress: Option<ProgressFn>,
    pub(crate) on_task_progress: Option<TaskProgressFn>,
    pub(crate) on_retry: Option<RetryFn>,
    pub(crate) cancel: Option<CancelToken>,
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

    /// Called with `(task_id, error, wait)` for each failed poll that will be tried again
    /// after `wait`: a rate limit (429, with its `Retry-After`), a busy server, a network
    /// failure. A poll that cannot be mended ends the wait instead, and is not reported.
    ///
    /// ```
    /// # use cloud_task_core::AwaitOptions;
    /// let options = AwaitOptions::new().on_retry(|task_id, error, wait| {
    ///     eprintln!("{task_id}: {} — polling again in {wait:?}", error.reason());
    /// });
    /// # let _ = options;
    /// ```
    pub fn on_retry(mut self, f: impl Fn(&str, &Error, Duration) + Send + Sync + 'static) -> Self {
        self.on_retry = Some(Arc::new(f));
        self
    }

    /// Calls the retry callback, if any.
    pub fn report_retry(&self, task_id: &str, error: &Error, wait: Duration) {
        if let Some(f) = &self.on_retry {
            f(task_id, error, wait);
        }
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
            on_retry: self.on_retry.clone().or_else(|| defaults.on_retry.clone()),
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
            .field("on_retry", &self.on_retry.as_ref().map(|_| "Fn"))
            .field("cancel", &self.cancel)
            .finish()
    }
}
