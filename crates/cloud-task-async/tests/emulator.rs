//! What only the async client has against the real local emulator: reqwest's failures
//! mapped to the core's transport kinds. Every behaviour both clients share is in the
//! conformance suite (`crates/cloud-task-qa/tests/conformance`), run against each.

use std::time::{Duration, Instant};

use cloud_task_async::{Client, Error};
use cloud_task_emulator::{Emulator, EmulatorHandle, Fault, FaultRule, Route};

async fn start() -> EmulatorHandle {
    Emulator::builder()
        .time_scale(0.01)
        .start()
        .await
        .expect("the emulator starts")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reqwest_failures_map_to_the_core_transport_kinds() {
    use cloud_task_async::core::TransportErrorKind;
    let emulator = start().await;
    let client = Client::builder()
        .api_key(emulator.api_key())
        .base_url(emulator.base_url())
        .timeout(Duration::from_millis(200))
        .build()
        .unwrap();
    let kind = |error: Error| match error {
        Error::Transport(t) => t.kind,
        other => panic!("expected a transport error, got {other:?}"),
    };

    emulator
        .add_fault(FaultRule::new(Route::Dashboard, Fault::Delay(Duration::from_secs(5))).times(1));
    let started = Instant::now();
    let error = client.get_dashboard().await.unwrap_err();
    assert_eq!(kind(error), TransportErrorKind::Timeout);
    assert!(started.elapsed() < Duration::from_secs(4));

    emulator.add_fault(FaultRule::new(Route::Dashboard, Fault::DropConnection).times(1));
    let error = client.get_dashboard().await.unwrap_err();
    assert_eq!(kind(error), TransportErrorKind::Io);
    client.get_dashboard().await.unwrap();

    // A port nobody listens on.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let closed = listener.local_addr().unwrap();
    drop(listener);
    let nowhere = Client::builder()
        .api_key("k")
        .base_url(format!("http://{closed}"))
        .build()
        .unwrap();
    let error = nowhere.get_dashboard().await.unwrap_err();
    assert_eq!(kind(error), TransportErrorKind::Connect);
}
