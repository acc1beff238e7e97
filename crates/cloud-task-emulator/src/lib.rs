//! A local OOMOL Cloud Task server: the v3 task API and the upload API, on loopback, with
//! no account.
//!
//! Test your application (or run the SDK's examples) against a real HTTP server that
//! speaks the same contract as `https://cloud-task.oomol.com`: a faithful scheduler
//! (queue, concurrency limit, pause and resume, progress, timestamps), a catalogue of
//! blocks whose outcome you choose by package name, pagination, latest-per-workload,
//! multi-part uploads stored on disk, and fault injection (5xx, 429 with `Retry-After`,
//! delays, dropped connections, malformed bodies) to test your client under trouble. Every
//! body is built from `cloud-task-core`'s types: the emulator and the clients share one
//! definition of the JSON.
//!
//! # Start it from async code
//!
//! ```
//! use cloud_task_emulator::{Emulator, Fault, FaultRule, Route};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> cloud_task_core::Result<()> {
//! let emulator = Emulator::builder()
//!     .api_key("test-key")
//!     .time_scale(0.01) // a one-second task takes 10 ms
//!     .fault(FaultRule::new(Route::TaskResult, Fault::ServiceUnavailable).times(1))
//!     .start()
//!     .await?;
//! // Point your client at it:
//! let base_url = emulator.base_url(); // http://127.0.0.1:PORT
//! let upload_base_url = emulator.upload_base_url();
//! # let _ = (base_url, upload_base_url);
//! // ... run your code, then check what it sent:
//! assert_eq!(emulator.stats().count(Route::CreateTask), 0);
//! emulator.shutdown().await;
//! # Ok(())
//! # }
//! ```
//!
//! # Start it from blocking code
//!
//! ```
//! use cloud_task_emulator::Emulator;
//!
//! let emulator = Emulator::builder().start_blocking()?; // its own runtime and thread
//! println!("OOMOL_API_KEY={}", emulator.api_key());
//! emulator.shutdown(); // or just drop it
//! # Ok::<(), cloud_task_core::Error>(())
//! ```
//!
//! # The block catalogue
//!
//! The create request's `packageName` chooses what the task does:
//!
//! | package | outcome |
//! |---|---|
//! | `@oomol/echo` (and any unknown package) | succeeds; `resultData` is a list holding one object equal to `inputValues` (`{}` when absent) |
//! | `@oomol/fail` | fails with `inputValues.message`, or `The block raised an error` |
//! | `@oomol/quota` | fails with `Insufficient quota` |
//! | `@oomol/slow` | succeeds like echo after `inputValues.durationMs` (default 10 s) |
//!
//! `inputValues.durationMs` sets the running time of any block (default 800 ms, after
//! 100 ms `scheduling` and 100 ms `scheduled`); `inputValues.logLines` adds that many log
//! lines. Every duration is multiplied by the time scale.
//!
//! The crate README has the full guide: the binary, the control endpoints under
//! `/_emulator`, faults and statistics.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

/// The Rust blocks of this crate's README, compiled as doc tests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;

mod api;
mod catalogue;
#[cfg(feature = "cli")]
#[cfg_attr(docsrs, doc(cfg(feature = "cli")))]
pub mod cli;
mod clock;
mod emulator;
mod fault;
mod ids;
mod scheduler;
mod stats;
mod uploads;
mod util;

pub use http;

pub use api::DEFAULT_PAGE_SIZE;
pub use catalogue::{
    DEFAULT_FAIL_MESSAGE, DEFAULT_RUN, DEFAULT_SLOW_RUN, ECHO, FAIL, QUOTA, QUOTA_MESSAGE,
    SCHEDULED, SCHEDULING, SLOW,
};
pub use clock::{MANUAL_EPOCH_MS, ManualClock};
pub use cloud_task_core::ops::{MAX_PAGE_SIZE, MAX_WORKLOAD_IDS};
pub use emulator::{
    BlockingEmulator, DEFAULT_MAX_CONCURRENCY, DEFAULT_MAX_QUEUE_SIZE, DEFAULT_PART_SIZE, Emulator,
    EmulatorBuilder, EmulatorHandle,
};
pub use fault::{Fault, FaultRule, Route, UnknownRoute};
pub use scheduler::{LOG_PAGE_SIZE, workload_id};
pub use stats::{MAX_RECORDED_PARTS, Stats};
pub use uploads::{MAX_PARTS, UPLOAD_PATH};
