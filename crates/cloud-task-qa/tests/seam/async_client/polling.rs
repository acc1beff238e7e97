//! Waiting: the requests and sleeps of `await_result`, `watch` and `await_many` are the
//! core poller's, and cancellation ends a wait at once.

use std::sync::Arc;
use std::sync::atomic::Ordering::SeqCst;
use std::time::Duration;

use cloud_task_async::{AwaitOptions, CancelToken, Error, Result};

use super::shim::{FakeTimer, Fleet, Hang, client, response};
use super::waits::{RUNNING_10, poll_mock};
use crate::common::check_fleet_results;

#[tokio::test]
async fn cancelling_ends_a_wait_during_a_sleep() {
    let answers = vec![Ok(response(200, RUNNING_10))];
    let timer = FakeTimer::blocking();
    let token = CancelToken::new();
    let client = client(poll_mock(&answers), &timer);
    let options = AwaitOptions::new().cancel_token(token.clone());
    let wait = tokio::spawn(async move { client.await_result("t", options).await });
    while timer.sleeps().is_empty() {
        tokio::task::yield_now().await;
    }
    token.cancel();
    let outcome = wait.await.unwrap();
    assert!(matches!(outcome, Err(Error::Cancelled(_))), "{outcome:?}");
    assert_eq!(timer.sleeps(), [Duration::from_secs(3)]);
}

#[tokio::test]
async fn cancelling_ends_a_wait_during_a_request() {
    let token = CancelToken::new();
    let client = client(Hang, &FakeTimer::new());
    let options = AwaitOptions::new().cancel_token(token.clone());
    let wait = tokio::spawn(async move { client.await_result("t", options).await });
    for _ in 0..10 {
        tokio::task::yield_now().await;
    }
    token.cancel();
    assert!(matches!(wait.await.unwrap(), Err(Error::Cancelled(_))));
}

#[tokio::test]
async fn await_many_keeps_input_order_and_bounds_polls_in_flight() {
    let fleet = Arc::new(Fleet::default());
    let timer = FakeTimer::new();
    let client = client(fleet.clone(), &timer);
    let mut ids: Vec<String> = (0..100).map(|i| format!("t-{i}")).collect();
    ids[3] = "fail-3".to_owned();
    ids[50] = String::new();
    let results = client
        .await_many(
            ids.clone(),
            AwaitOptions::new()
                .interval(Duration::from_millis(10))
                .max_in_flight(7),
        )
        .await;
    assert_eq!(results.len(), 100);
    check_fleet_results(&ids, &results);
    assert_eq!(fleet.max_in_flight.load(SeqCst), 7);
    // Two polls per task, one for the failed one, none for the empty ID.
    assert_eq!(fleet.polls.load(SeqCst), 98 * 2 + 1);
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

#[tokio::test]
async fn await_many_scales_to_ten_thousand_tasks() {
    let fleet = Arc::new(Fleet::default());
    let timer = FakeTimer::new();
    let ids: Vec<String> = (0..10_000).map(|i| format!("t-{i}")).collect();
    let results = client(fleet.clone(), &timer)
        .await_many(ids, AwaitOptions::new())
        .await;
    assert_eq!(results.len(), 10_000);
    assert!(results.iter().all(Result::is_ok));
    assert_eq!(fleet.polls.load(SeqCst), 20_000);
    assert_eq!(fleet.max_in_flight.load(SeqCst), 16);
}

#[tokio::test]
async fn cancelling_await_many_keeps_the_results_already_obtained() {
    let fleet = Arc::new(Fleet::default());
    let timer = FakeTimer::blocking();
    let token = CancelToken::new();
    let client = client(fleet.clone(), &timer);
    let options = AwaitOptions::new().cancel_token(token.clone());
    let wait = tokio::spawn(async move {
        client
            .await_many(["now-1", "hang-2", "now-3", "hang-4"], options)
            .await
    });
    while timer.sleeps().is_empty() {
        tokio::task::yield_now().await;
    }
    token.cancel();
    let results = wait.await.unwrap();
    assert!(results[0].is_ok());
    assert!(matches!(results[1], Err(Error::Cancelled(_))));
    assert!(results[2].is_ok());
    assert!(matches!(results[3], Err(Error::Cancelled(_))));
}
