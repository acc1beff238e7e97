//! The time seam: [`Timer`] (a clock and a cancellable sleeper) and its std implementation.

use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::time::{Duration, Instant};

use cloud_task_core::{CancelToken, Error, Result};

/// The clock and the sleeper of the client.
///
/// Every wait of the client (between polls, before retrying a part, until the next task of
/// `await_many` is due) goes through [`sleep`](Self::sleep), and every `now` fed to the
/// core's state machines comes from [`now`](Self::now). The default is [`StdTimer`]; tests
/// inject a fake one with [`ClientBuilder::timer`](crate::ClientBuilder::timer) that
/// advances a fake clock and records the waits, so timing is tested without sleeping.
///
/// ```
/// use std::sync::Mutex;
/// use std::time::{Duration, Instant};
/// use oomol_cloud_task::{CancelToken, Error, Result, blocking::transport::Timer};
///
/// /// A clock that jumps forward on every sleep.
/// struct FakeTimer { start: Instant, elapsed: Mutex<Duration> }
///
/// impl Timer for FakeTimer {
///     fn now(&self) -> Instant { self.start + *self.elapsed.lock().unwrap() }
///     fn sleep(&self, duration: Duration, cancel: Option<&CancelToken>) -> Result<()> {
///         if cancel.is_some_and(CancelToken::is_cancelled) {
///             return Err(Error::cancelled());
///         }
///         *self.elapsed.lock().unwrap() += duration;
///         Ok(())
///     }
/// }
/// ```
pub trait Timer: Send + Sync + 'static {
    /// The current instant.
    fn now(&self) -> Instant;

    /// Waits `duration`, or until `cancel` fires, whichever comes first.
    ///
    /// Answers `Ok(())` when the whole duration has passed and [`Error::Cancelled`] as soon
    /// as the token fires (at once when it already has), without waiting out the rest.
    /// The client also uses a private token to be woken early (for example when an answer
    /// arrives during `await_many`), so an implementation must honour the token promptly.
    fn sleep(&self, duration: Duration, cancel: Option<&CancelToken>) -> Result<()>;
}

impl<T: Timer + ?Sized> Timer for Arc<T> {
    fn now(&self) -> Instant {
        (**self).now()
    }

    fn sleep(&self, duration: Duration, cancel: Option<&CancelToken>) -> Result<()> {
        (**self).sleep(duration, cancel)
    }
}

impl<T: Timer + ?Sized> Timer for Box<T> {
    fn now(&self) -> Instant {
        (**self).now()
    }

    fn sleep(&self, duration: Duration, cancel: Option<&CancelToken>) -> Result<()> {
        (**self).sleep(duration, cancel)
    }
}

/// The default [`Timer`]: [`Instant::now`], and a sleep on a [`Condvar`] that the cancel
/// token signals, so a cancellation from another thread wakes it at once.
#[derive(Debug, Clone, Copy, Default)]
pub struct StdTimer;

/// The longest single wait on the condition variable (a `Duration` too large for an
/// `Instant` is waited out in steps of this size).
const MAX_STEP: Duration = Duration::from_secs(24 * 3600);

impl Timer for StdTimer {
    fn now(&self) -> Instant {
        Instant::now()
    }

    fn sleep(&self, duration: Duration, cancel: Option<&CancelToken>) -> Result<()> {
        let Some(token) = cancel else {
            std::thread::sleep(duration);
            return Ok(());
        };
        if token.is_cancelled() {
            return Err(Error::cancelled());
        }
        let signal = Arc::new((Mutex::new(false), Condvar::new()));
        let listener = Arc::clone(&signal);
        let _guard = token.on_cancel(move || {
            let (fired, condvar) = &*listener;
            *fired.lock().unwrap_or_else(PoisonError::into_inner) = true;
            condvar.notify_all();
        });
        let start = Instant::now();
        let (fired, condvar) = &*signal;
        let mut cancelled = fired.lock().unwrap_or_else(PoisonError::into_inner);
        loop {
            if *cancelled {
                return Err(Error::cancelled());
            }
            let remaining = duration.saturating_sub(start.elapsed());
            if remaining.is_zero() {
                return Ok(());
            }
            cancelled = condvar
                .wait_timeout(cancelled, remaining.min(MAX_STEP))
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_already_cancelled_token_ends_the_sleep_at_once() {
        let token = CancelToken::new();
        token.cancel();
        // A day-long sleep: only the token can end it within the test.
        let outcome = StdTimer.sleep(Duration::from_secs(86_400), Some(&token));
        assert!(matches!(outcome, Err(Error::Cancelled(_))));
    }

    #[test]
    fn a_zero_sleep_returns_at_once() {
        let token = CancelToken::new();
        assert!(StdTimer.sleep(Duration::ZERO, Some(&token)).is_ok());
        assert!(StdTimer.sleep(Duration::ZERO, None).is_ok());
    }

    #[test]
    fn a_cancel_from_another_thread_wakes_a_long_sleep() {
        let token = CancelToken::new();
        let canceller = token.clone();
        let sleeper =
            std::thread::spawn(move || StdTimer.sleep(Duration::from_secs(86_400), Some(&token)));
        // The sleep may start before or after the cancel: both must end it.
        canceller.cancel();
        let outcome = sleeper.join().expect("the sleeping thread ends");
        assert!(matches!(outcome, Err(Error::Cancelled(_))));
    }
}
