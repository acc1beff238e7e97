//! Trouble on the server's side: polls that fail and are retried, a `Retry-After` honoured,
//! a creation that fails and is never retried.

use std::time::{Duration, Instant};

use cloud_task_core::{AwaitOptions, Error, ListTasksQuery, TransportErrorKind};
use cloud_task_emulator::{Emulator, Fault, FaultRule, Route};
use serde_json::json;

use crate::driver::Driver;
use crate::{conformance, echo, virtual_emulator};

conformance!(
    transport_failures_map_to_the_core_kinds,
    polling_survives_503_bursts_dropped_connections_and_bad_bodies,
    retry_after_of_a_429_is_honoured,
    a_failed_create_is_not_retried,
);

/// Each HTTP stack's failures (reqwest's, ureq's) become the same kinds of the core: a
/// request cut at its deadline, a dropped connection, a port nobody listens on. Real time:
/// the deadline is a real 200 ms.
fn transport_failures_map_to_the_core_kinds<D: Driver>() {
    let emulator = Emulator::builder()
        .time_scale(0.01)
        .start_blocking()
        .expect("the emulator starts");
    let client = D::of_with(&emulator, |c| c.timeout(Duration::from_millis(200)));
    let kind = |error: Error| match error {
        Error::Transport(t) => t.kind,
        other => panic!("expected a transport error, got {other:?}"),
    };

    emulator
        .add_fault(FaultRule::new(Route::Dashboard, Fault::Delay(Duration::from_secs(5))).times(1));
    let started = Instant::now();
    let error = client.get_dashboard().unwrap_err();
    assert_eq!(kind(error), TransportErrorKind::Timeout);
    assert!(started.elapsed() < Duration::from_secs(4));

    emulator.add_fault(FaultRule::new(Route::Dashboard, Fault::DropConnection).times(1));
    let error = client.get_dashboard().unwrap_err();
    assert_eq!(kind(error), TransportErrorKind::Io);
    client.get_dashboard().unwrap();

    // A port nobody listens on.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let closed = listener.local_addr().unwrap();
    drop(listener);
    let nowhere = D::at(&format!("http://{closed}"), |c| c.api_key("k"));
    let error = nowhere.get_dashboard().unwrap_err();
    assert_eq!(kind(error), TransportErrorKind::Connect);
}

fn polling_survives_503_bursts_dropped_connections_and_bad_bodies<D: Driver>() {
    let (emulator, _clock) = virtual_emulator(|b| b);
    let client = D::of(&emulator);
    emulator.add_fault(FaultRule::new(Route::TaskResult, Fault::ServiceUnavailable).times(3));
    emulator.add_fault(FaultRule::new(Route::TaskResult, Fault::DropConnection).times(2));
    emulator.add_fault(FaultRule::new(Route::TaskResult, Fault::MalformedBody).times(1));
    let outcome = client
        .create_and_wait(echo(json!({"survived": true})), AwaitOptions::new())
        .unwrap();
    assert_eq!(
        outcome.result.result_data,
        Some(json!([{"survived": true}]))
    );
    assert!(emulator.stats().count(Route::TaskResult) >= 7);
    assert_eq!(emulator.stats().count(Route::CreateTask), 1);
}

fn retry_after_of_a_429_is_honoured<D: Driver>() {
    let (emulator, clock) = virtual_emulator(|b| b);
    let client = D::of(&emulator);
    let created = client.create_task(echo(json!({}))).unwrap();
    // The task ends 1 s after its creation; a poll at once gets a 429 asking for 30 s.
    emulator.add_fault(
        FaultRule::new(
            Route::TaskResult,
            Fault::TooManyRequests {
                retry_after: Duration::from_secs(30),
            },
        )
        .times(1),
    );
    let options = AwaitOptions::new().interval(Duration::from_millis(100));
    client.await_result(&created.task_id, options).unwrap();
    // The interval is 100 ms; only the Retry-After explains a wait of 30 s, and the second
    // poll found the task ended.
    assert!(
        clock.elapsed() >= Duration::from_secs(30),
        "{:?}",
        clock.elapsed()
    );
    assert_eq!(emulator.stats().count(Route::TaskResult), 2);
}

fn a_failed_create_is_not_retried<D: Driver>() {
    let (emulator, _clock) = virtual_emulator(|b| b);
    let client = D::of(&emulator);
    for fault in [Fault::ServiceUnavailable, Fault::DropConnection] {
        emulator.reset_stats();
        emulator.add_fault(FaultRule::new(Route::CreateTask, fault).times(1));
        let error = client
            .create_and_wait(echo(json!({})), AwaitOptions::new())
            .unwrap_err();
        assert!(
            matches!(&error, Error::Api(_) | Error::Transport(_)),
            "{error:?}"
        );
        assert_eq!(emulator.stats().count(Route::CreateTask), 1);
        assert_eq!(emulator.stats().count(Route::TaskResult), 0);
    }
    assert!(
        client
            .list_tasks(ListTasksQuery::new())
            .unwrap()
            .tasks
            .is_empty()
    );
}
