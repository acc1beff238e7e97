//! The emulator's time: the wall clock, or a [`ManualClock`] that a test advances.
//!
//! Every simulated duration (scheduling, running) and every timestamp the emulator serves
//! comes from here. With a manual clock nothing happens until the test (or a client's
//! virtual timer) advances it, so a test runs in virtual time: a task of ten minutes ends
//! as soon as the clock is moved ten minutes on, and the run is repeatable.

use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// The instant a manual clock starts at by default: 2026-01-01T00:00:00Z, in epoch
/// milliseconds (a fixed instant, so timestamps repeat from run to run).
pub const MANUAL_EPOCH_MS: i64 = 1_767_225_600_000;

/// A clock that moves only when told: hand a clone to
/// [`EmulatorBuilder::manual_clock`](crate::EmulatorBuilder::manual_clock), keep one, and
/// [`advance`](Self::advance) it. Clones share the same time.
///
/// ```
/// use std::time::Duration;
/// use oomol_cloud_task::emulator::ManualClock;
///
/// let clock = ManualClock::new();
/// let shared = clock.clone();
/// shared.advance(Duration::from_secs(3));
/// assert_eq!(clock.elapsed(), Duration::from_secs(3));
/// assert_eq!(clock.epoch_ms(), oomol_cloud_task::emulator::MANUAL_EPOCH_MS + 3_000);
/// ```
#[derive(Clone)]
pub struct ManualClock {
    inner: Arc<Mutex<Duration>>,
    epoch_ms: i64,
}

impl ManualClock {
    /// A clock at zero, reading [`MANUAL_EPOCH_MS`] as the wall time.
    pub fn new() -> Self {
        ManualClock::starting_at(MANUAL_EPOCH_MS)
    }

    /// A clock at zero, reading `epoch_ms` as the wall time.
    pub fn starting_at(epoch_ms: i64) -> Self {
        ManualClock {
            inner: Arc::new(Mutex::new(Duration::ZERO)),
            epoch_ms,
        }
    }

    /// Moves the clock `by` on (never back).
    pub fn advance(&self, by: Duration) {
        let mut elapsed = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        *elapsed = elapsed.saturating_add(by);
    }

    /// How far the clock has been moved.
    pub fn elapsed(&self) -> Duration {
        *self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The wall time it reads, epoch milliseconds.
    pub fn epoch_ms(&self) -> i64 {
        self.epoch_ms.saturating_add(millis(self.elapsed()))
    }
}

impl Default for ManualClock {
    fn default() -> Self {
        ManualClock::new()
    }
}

impl fmt::Debug for ManualClock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ManualClock")
            .field("elapsed", &self.elapsed())
            .field("epoch_ms", &self.epoch_ms)
            .finish()
    }
}

/// The emulator's clock.
#[derive(Clone, Debug)]
pub(crate) enum Clock {
    /// Real time since `started`, the wall clock reading `epoch_ms` then.
    Real { started: Instant, epoch_ms: i64 },
    /// Time as a test moves it.
    Manual(ManualClock),
}

impl Clock {
    /// The wall clock, from now.
    pub(crate) fn real() -> Self {
        Clock::Real {
            started: Instant::now(),
            epoch_ms: wall_clock_ms(),
        }
    }

    /// The time since the emulator started.
    pub(crate) fn now(&self) -> Duration {
        match self {
            Clock::Real { started, .. } => started.elapsed(),
            Clock::Manual(clock) => clock.elapsed(),
        }
    }

    /// The wall time at the start, epoch milliseconds.
    pub(crate) fn start_epoch_ms(&self) -> i64 {
        match self {
            Clock::Real { epoch_ms, .. } => *epoch_ms,
            Clock::Manual(clock) => clock.epoch_ms,
        }
    }

    /// The wall time now, epoch milliseconds.
    pub(crate) fn now_epoch_ms(&self) -> i64 {
        self.start_epoch_ms().saturating_add(millis(self.now()))
    }

    /// The manual clock, when this is one.
    pub(crate) fn manual(&self) -> Option<ManualClock> {
        match self {
            Clock::Manual(clock) => Some(clock.clone()),
            Clock::Real { .. } => None,
        }
    }
}

fn millis(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

/// The wall clock now, epoch milliseconds.
fn wall_clock_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, millis)
}
