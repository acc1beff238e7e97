//! Cancellation from another thread, in real time: a long wait, many waits and an upload
//! end promptly, and no new part starts after the cancel.

use std::time::{Duration, Instant};

use cloud_task_core::{AwaitOptions, CancelToken, Error, UploadOptions};
use cloud_task_emulator::{BlockingEmulator, Emulator, Fault, FaultRule, Route};

use crate::driver::Driver;
use crate::{conformance, slow};

conformance!(
    cancellation_from_another_thread_ends_a_long_wait_promptly,
    cancellation_from_another_thread_ends_an_upload_promptly,
);

/// An emulator on the wall clock.
fn real_time(part_size: u64) -> BlockingEmulator {
    Emulator::builder()
        .part_size(part_size)
        .start_blocking()
        .expect("the emulator starts")
}

/// Runs `f` with a token that another thread cancels after `after`; answers what `f`
/// returned and how long it took.
fn cancelled_after<T>(after: Duration, f: impl FnOnce(CancelToken) -> T) -> (T, Duration) {
    let token = CancelToken::new();
    let canceller = token.clone();
    let cancelling = std::thread::spawn(move || {
        std::thread::sleep(after);
        canceller.cancel();
    });
    let started = Instant::now();
    let output = f(token);
    let elapsed = started.elapsed();
    cancelling.join().expect("the cancelling thread ends");
    (output, elapsed)
}

/// Polls every 60 s, until `token` fires.
fn patient(token: CancelToken) -> AwaitOptions {
    AwaitOptions::new()
        .interval(Duration::from_secs(60))
        .cancel_token(token)
}

fn cancellation_from_another_thread_ends_a_long_wait_promptly<D: Driver>() {
    let emulator = real_time(1024);
    let client = D::of(&emulator);
    let created = client.create_task(slow(10_000_000)).unwrap();
    let (outcome, elapsed) = cancelled_after(Duration::from_millis(50), |token| {
        client.await_result(&created.task_id, patient(token))
    });
    match outcome {
        Err(Error::Cancelled(c)) => assert_eq!(c.task_id.as_deref(), Some(&*created.task_id)),
        other => panic!("{other:?}"),
    }
    assert!(elapsed < Duration::from_secs(5), "{elapsed:?}");

    // The same for many tasks at once.
    let ids: Vec<String> = (0..5)
        .map(|_| client.create_task(slow(10_000_000)).unwrap().task_id)
        .collect();
    let (results, elapsed) = cancelled_after(Duration::from_millis(50), |token| {
        client.await_many(ids, patient(token))
    });
    assert!(
        results
            .iter()
            .all(|r| matches!(r, Err(Error::Cancelled(_))))
    );
    assert!(elapsed < Duration::from_secs(5), "{elapsed:?}");
}

fn cancellation_from_another_thread_ends_an_upload_promptly<D: Driver>() {
    let emulator = real_time(1024);
    let client = D::of(&emulator);
    // Every part fails: without the cancel, the retries would wait 1 s then 2 s.
    emulator.add_fault(FaultRule::new(Route::UploadPart, Fault::ServiceUnavailable));
    let (outcome, elapsed) = cancelled_after(Duration::from_millis(100), |token| {
        client.upload_bytes(
            vec![1u8; 10 * 1024],
            "x.bin",
            UploadOptions::new().cancel_token(token),
        )
    });
    assert!(matches!(outcome, Err(Error::Cancelled(_))), "{outcome:?}");
    assert!(elapsed < Duration::from_millis(2_500), "{elapsed:?}");
    // Four parts at a time, each tried at most once before the cancel (their retry waits
    // were cut short): no new part started.
    let parts = emulator.stats().count(Route::UploadPart);
    assert!((1..=4).contains(&parts), "{parts} part requests");
    assert_eq!(emulator.stats().count(Route::UploadUrl), 0);
}
