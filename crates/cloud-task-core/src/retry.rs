//! The retry policy, in one place: which statuses retrying may mend, how long a server
//! asks to wait (`Retry-After`), the backoff between polls (with its jitter), and the wait
//! between the tries of an upload's part. Pure functions of their inputs: tested with
//! tables of values.

use std::time::Duration;

use http::StatusCode;
use http::header::RETRY_AFTER;

/// True for the statuses that retrying the same request may mend: 408 (request timeout),
/// 425 (too early), 429 (too many requests) and every 5xx. Every other non-2xx status
/// (400, 401, 403, 404, 405, 410, 422, ...) says the request itself is wrong: waits end at
/// once on it.
///
/// ```
/// # use cloud_task_core::{is_retryable_status, http::StatusCode};
/// assert!(is_retryable_status(StatusCode::SERVICE_UNAVAILABLE));
/// assert!(is_retryable_status(StatusCode::TOO_MANY_REQUESTS));
/// assert!(!is_retryable_status(StatusCode::UNPROCESSABLE_ENTITY));
/// assert!(!is_retryable_status(StatusCode::GONE));
/// ```
pub fn is_retryable_status(status: StatusCode) -> bool {
    matches!(status.as_u16(), 408 | 425 | 429) || status.is_server_error()
}

/// The `Retry-After` header as a duration, when it holds delta-seconds.
///
/// HTTP-date values are ignored: the core does not read the wall clock.
pub fn retry_after(response: &http::Response<Vec<u8>>) -> Option<Duration> {
    let value = response.headers().get(RETRY_AFTER)?.to_str().ok()?.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs.min(24 * 3600)));
    }
    let secs: f64 = value.parse().ok()?;
    (secs.is_finite() && secs >= 0.0).then(|| Duration::from_secs_f64(secs.min(86_400.0)))
}

/// The longest wait between two tries of a part.
pub const MAX_PART_RETRY_DELAY: Duration = Duration::from_secs(30);

/// The wait after the `attempt`-th failed try of a part: `min(2^(attempt-1), 30)` seconds.
///
/// ```
/// # use cloud_task_core::part_retry_delay;
/// let s: Vec<u64> = (1..=7).map(|a| part_retry_delay(a).as_secs()).collect();
/// assert_eq!(s, [1, 2, 4, 8, 16, 30, 30]);
/// ```
pub fn part_retry_delay(attempt: u32) -> Duration {
    let exp = attempt.saturating_sub(1).min(16);
    Duration::from_secs(1u64 << exp).min(MAX_PART_RETRY_DELAY)
}

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
