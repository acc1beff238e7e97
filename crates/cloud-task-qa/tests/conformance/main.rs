//! The conformance suite: every scenario of the clients against the emulator, written once
//! and run against both drivers through one adapter ([`driver::Driver`]), so the two
//! clients are held to the same behaviour and their suites cannot drift apart.
//!
//! Most scenarios run in virtual time: the emulator runs on a [`ManualClock`] and each
//! client's sleeps move it on (`VirtualTimer`), so a wait of minutes takes milliseconds and
//! its polls are exactly those of the real schedule. Scenarios about cancellation from
//! another thread run in real time.
//!
//! What only one client has (streams dropped mid-way, sender threads, each HTTP stack's
//! own error mapping) stays in that client's crate.

mod account;
mod checks;
mod downloads;
mod driver;
pub(crate) use driver::conformance;
mod faults;
mod intercept;
mod live;
mod tasks;
mod uploads;
mod waits;

use cloud_task_core::CreateTaskRequest;
use cloud_task_emulator::{BlockingEmulator, Emulator, EmulatorBuilder, ManualClock};
use serde_json::Value;

/// An emulator in virtual time (a manual clock, seed 0) as `configure` sets it up, and the
/// clock.
pub fn virtual_emulator(
    configure: impl FnOnce(EmulatorBuilder) -> EmulatorBuilder,
) -> (BlockingEmulator, ManualClock) {
    let clock = ManualClock::new();
    let emulator = configure(Emulator::builder().manual_clock(clock.clone()))
        .start_blocking()
        .expect("the emulator starts");
    (emulator, clock)
}

/// An `@oomol/echo` task with these inputs (an object): its result is `[inputs]`.
pub fn echo(inputs: Value) -> CreateTaskRequest {
    let Value::Object(map) = inputs else {
        panic!("inputs must be an object")
    };
    CreateTaskRequest::new("@oomol/echo", "1.0.0", "main").input_values(map)
}

/// An `@oomol/slow` task that runs for `duration_ms`.
pub fn slow(duration_ms: u64) -> CreateTaskRequest {
    CreateTaskRequest::new("@oomol/slow", "1.0.0", "main").input("durationMs", duration_ms)
}

/// Downloads `url` with a plain ureq agent.
pub fn download(url: &str) -> Vec<u8> {
    let mut response = ureq::get(url).call().expect("the download answers");
    assert!(response.status().is_success());
    response
        .body_mut()
        .with_config()
        .limit(u64::MAX)
        .read_to_vec()
        .expect("the download's body")
}

/// Pseudo-random bytes (xorshift), the same on every run.
pub fn pseudo_random(len: usize) -> Vec<u8> {
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}
