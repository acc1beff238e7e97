//! The time seam: [`Timer`] (a clock and a sleeper) and its tokio implementation.

use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;

/// The clock and the sleeper of the client.
///
/// Every wait of the client (between polls, before retrying a part) goes through
/// [`sleep`](Self::sleep), and every `now` fed to the core's state machines comes from
/// [`now`](Self::now). The default is [`TokioTimer`]; tests inject a fake one with
/// [`ClientBuilder::timer`](crate::ClientBuilder::timer) that advances a fake clock and
/// records the waits, so timing is tested without sleeping.
///
/// ```
/// use std::sync::Mutex;
/// use std::time::{Duration, Instant};
/// use oomol_cloud_task::transport::{async_trait, Timer};
///
/// /// A clock that jumps forward on every sleep.
/// struct FakeTimer { start: Instant, elapsed: Mutex<Duration> }
///
/// #[async_trait]
/// impl Timer for FakeTimer {
///     fn now(&self) -> Instant { self.start + *self.elapsed.lock().unwrap() }
///     async fn sleep(&self, duration: Duration) { *self.elapsed.lock().unwrap() += duration; }
/// }
/// ```
#[async_trait]
pub trait Timer: Send + Sync + 'static {
    /// The current instant.
    fn now(&self) -> Instant;

    /// Waits `duration`. Dropping the future must end the wait.
    async fn sleep(&self, duration: Duration);
}

#[async_trait]
impl<T: Timer + ?Sized> Timer for Arc<T> {
    fn now(&self) -> Instant {
        (**self).now()
    }

    async fn sleep(&self, duration: Duration) {
        (**self).sleep(duration).await;
    }
}

#[async_trait]
impl<T: Timer + ?Sized> Timer for Box<T> {
    fn now(&self) -> Instant {
        (**self).now()
    }

    async fn sleep(&self, duration: Duration) {
        (**self).sleep(duration).await;
    }
}

/// The default [`Timer`]: `tokio::time` (needs a tokio runtime with its time driver).
#[derive(Debug, Clone, Copy, Default)]
pub struct TokioTimer;

#[async_trait]
impl Timer for TokioTimer {
    fn now(&self) -> Instant {
        tokio::time::Instant::now().into_std()
    }

    async fn sleep(&self, duration: Duration) {
        tokio::time::sleep(duration).await;
    }
}
