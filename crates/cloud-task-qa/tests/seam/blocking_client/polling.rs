//! Waiting: the requests and sleeps of `await_result`, `watch` and `await_many` are the
//! core poller's, and cancellation from another thread ends a wait at once.

use std::sync::atomic::Ordering::SeqCst;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use cloud_task_blocking::{AwaitOptions, BackoffStrategy, CancelToken, Error, Result};

use super::shim::{FakeTimer, Fleet, cancel_during_first_sleep, client, response};
use super::waits::{RUNNING_10, poll_mock};
use crate::common::check_fleet_results;

#[test]
fn cancelling_from_another_thread_ends_a_wait_during_a_sleep() {
    let answers = vec![Ok(response(200, RUNNING_10))];
    let timer = FakeTimer::blocking();
    let token = CancelToken::new();
    let client = client(poll_mock(&answers), &timer);
    let options = AwaitOptions::new().cancel_token(token.clone());
    let outcome = cancel_during_first_sleep(&timer, &token, || client.await_result("t", options));
    assert!(matches!(outcome, Err(Error::Cancelled(_))), "{outcome:?}");
    assert_eq!(timer.sleeps(), [Duration::from_secs(3)]);
    assert_eq!(
        timer.elapsed(),
        Duration::ZERO,
        "the interval was not slept out"
    );
}

#[test]
fn await_many_keeps_input_order_and_bounds_polls_in_flight() {
    let fleet = Arc::new(Fleet::gated(7));
    let timer = FakeTimer::new();
    let client = client(fleet.clone(), &timer);
    let mut ids: Vec<String> = (0..100).map(|i| format!("t-{i}")).collect();
    ids[3] = "fail-3".to_owned();
    ids[50] = String::new();
    let progress = Arc::new(Mutex::new(0));
    let count = progress.clone();
    let options = AwaitOptions::new()
        .interval(Duration::from_millis(10))
        .on_progress(move |_, _| *count.lock().unwrap() += 1)
        .max_in_flight(7);
    let results = client.await_many(ids.clone(), options);
    assert_eq!(results.len(), 100);
    check_fleet_results(&ids, &results);
    // The gate held the first polls until 7 were in flight: never more.
    assert_eq!(fleet.in_flight.max.load(SeqCst), 7);
    // Two polls per task, one for the failed one, none for the empty ID.
    assert_eq!(fleet.polls.load(SeqCst), 98 * 2 + 1);
    // One progress report per running answer.
    assert_eq!(*progress.lock().unwrap(), 98);
    // Every task waited the poller's 15 ms once: the scheduler never slept longer, and
    // never for nothing.
    let sleeps = timer.sleeps();
    assert!(!sleeps.is_empty());
    assert!(
        sleeps
            .iter()
            .all(|d| !d.is_zero() && *d <= Duration::from_millis(15)),
        "{sleeps:?}"
    );
    assert!(timer.elapsed() >= Duration::from_millis(15));
}

#[test]
fn await_many_on_one_thread_sleeps_until_the_earliest_poller() {
    // One poll in flight at a time: the order of events is fixed, so are the sleeps.
    let fleet = Arc::new(Fleet::gated(1));
    let timer = FakeTimer::new();
    let options = AwaitOptions::new()
        .interval(Duration::from_millis(100))
        .strategy(BackoffStrategy::Fixed)
        .max_in_flight(1);
    let results = client(fleet.clone(), &timer).await_many(["a", "b", "c"], options);
    assert!(results.iter().all(Result::is_ok));
    // a, b, c are polled at once (running); each is due 100 ms after its own poll, which
    // on the fake clock is the same instant: one sleep, then the three second polls.
    assert_eq!(timer.sleeps(), [Duration::from_millis(100)]);
    assert_eq!(fleet.polls.load(SeqCst), 6);
}

#[test]
fn await_many_scales_to_ten_thousand_tasks() {
    let fleet = Arc::new(Fleet::gated(16));
    let timer = FakeTimer::new();
    let ids: Vec<String> = (0..10_000).map(|i| format!("t-{i}")).collect();
    let results = client(fleet.clone(), &timer).await_many(ids, AwaitOptions::new());
    assert_eq!(results.len(), 10_000);
    assert!(results.iter().all(Result::is_ok));
    assert_eq!(fleet.polls.load(SeqCst), 20_000);
    assert_eq!(fleet.in_flight.max.load(SeqCst), 16);
}

#[test]
fn cancelling_await_many_keeps_the_results_already_obtained() {
    let fleet = Arc::new(Fleet::gated(1));
    let timer = FakeTimer::blocking();
    let token = CancelToken::new();
    let client = client(fleet, &timer);
    // One poll in flight at a time, so the first sleep starts only after every first poll
    // was answered: with several in flight, it could start while `now-1` was still on its
    // way, and a cancellation read before that answer rightly gives it up.
    let options = AwaitOptions::new()
        .max_in_flight(1)
        .cancel_token(token.clone());
    let results = cancel_during_first_sleep(&timer, &token, || {
        client.await_many(["now-1", "hang-2", "now-3", "hang-4"], options)
    });
    assert!(results[0].is_ok());
    assert!(matches!(results[1], Err(Error::Cancelled(_))));
    assert!(results[2].is_ok());
    assert!(matches!(results[3], Err(Error::Cancelled(_))));
}
