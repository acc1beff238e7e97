//! Starting and stopping: settings, shutdown, drop, and the blocking flavour.

use std::io::ErrorKind;
use std::time::{Duration, Instant};

use cloud_task_emulator::{Emulator, Fault, FaultRule, Route};
use reqwest::StatusCode;

use crate::support::{DEADLINE, fast};

#[tokio::test]
async fn bad_settings_are_refused_at_start() {
    for builder in [
        Emulator::builder().time_scale(0.0),
        Emulator::builder().time_scale(-1.0),
        Emulator::builder().time_scale(f64::NAN),
        Emulator::builder().time_scale(f64::INFINITY),
        Emulator::builder().part_size(0),
        Emulator::builder().api_key(""),
        Emulator::builder().api_key(" padded "),
    ] {
        let error = builder.clone().start().await.unwrap_err();
        assert!(
            matches!(error, cloud_task_core::Error::InvalidInput(_)),
            "{builder:?}: {error:?}"
        );
    }
    // The setting is named, so `?` in a test returning the SDK's `Result` says what to fix.
    let error = Emulator::builder().part_size(0).start().await.unwrap_err();
    assert_eq!(error.to_string(), "part_size must be at least 1 byte");
}

#[tokio::test]
async fn an_address_in_use_is_an_error() {
    let first = fast().start().await.unwrap();
    let error = fast().addr(first.addr()).start().await.unwrap_err();
    let cloud_task_core::Error::Io(io) = &error else {
        panic!("{error:?}")
    };
    assert_eq!(io.source.kind(), ErrorKind::AddrInUse);
    // What was being done, and why it failed.
    let text = error.to_string();
    assert!(
        text.starts_with(&format!("binding {} failed: ", first.addr())),
        "{text}"
    );
}

#[tokio::test]
async fn urls_and_addr_agree() {
    let emulator = fast().start().await.unwrap();
    let addr = emulator.addr();
    assert!(addr.ip().is_loopback());
    assert_ne!(addr.port(), 0);
    assert_eq!(emulator.base_url(), format!("http://{addr}"));
    assert_eq!(
        emulator.upload_base_url(),
        format!("http://{addr}{}", cloud_task_emulator::UPLOAD_PATH)
    );
    assert!(!format!("{emulator:?}").contains(&emulator.api_key()));
}

async fn refuses_connections(addr: std::net::SocketAddr) -> bool {
    tokio::net::TcpStream::connect(addr).await.is_err()
}

#[tokio::test]
async fn shutdown_stops_the_server_and_lets_a_request_in_flight_finish() {
    let emulator = fast()
        .fault(FaultRule::new(
            Route::Dashboard,
            Fault::Delay(Duration::from_millis(200)),
        ))
        .start()
        .await
        .unwrap();
    let (addr, url, key) = (
        emulator.addr(),
        format!("{}/v3/users/me/dashboard", emulator.base_url()),
        emulator.api_key(),
    );
    let in_flight = tokio::spawn(async move {
        reqwest::Client::new()
            .get(url)
            .bearer_auth(key)
            .send()
            .await
            .map(|r| r.status())
    });
    // Wait until the request has arrived, then shut down while it is delayed.
    let deadline = Instant::now() + DEADLINE;
    while emulator.stats().count(Route::Dashboard) == 0 {
        assert!(Instant::now() < deadline);
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    emulator.shutdown().await;
    assert_eq!(in_flight.await.unwrap().unwrap(), StatusCode::OK);
    assert!(refuses_connections(addr).await);
}

#[tokio::test]
async fn dropping_the_handle_stops_the_server() {
    let emulator = fast().start().await.unwrap();
    let addr = emulator.addr();
    assert!(!refuses_connections(addr).await);
    drop(emulator);
    let deadline = Instant::now() + DEADLINE;
    while !refuses_connections(addr).await {
        assert!(Instant::now() < deadline, "still listening after drop");
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

/// A plain test without any runtime, like the blocking client's tests.
#[test]
fn start_blocking_works_without_a_runtime() {
    let emulator = fast().api_key("blocking-key").start_blocking().unwrap();
    assert_eq!(emulator.api_key(), "blocking-key");
    let http = reqwest::blocking::Client::new();
    let created: serde_json::Value = http
        .post(format!("{}/v3/users/me/tasks", emulator.base_url()))
        .bearer_auth("blocking-key")
        .body(r#"{"packageName":"@oomol/echo","packageVersion":"1","blockName":"main"}"#)
        .send()
        .unwrap()
        .json()
        .unwrap();
    let id = created["taskID"].as_str().unwrap();
    let deadline = Instant::now() + DEADLINE;
    loop {
        let result: serde_json::Value = http
            .get(format!(
                "{}/v3/users/me/tasks/{id}/result",
                emulator.base_url()
            ))
            .bearer_auth("blocking-key")
            .send()
            .unwrap()
            .json()
            .unwrap();
        if result["status"] == "success" {
            break;
        }
        assert!(Instant::now() < deadline, "{result}");
        std::thread::sleep(Duration::from_millis(2));
    }
    emulator.add_fault(FaultRule::new(Route::Dashboard, Fault::ServiceUnavailable).times(1));
    let busy = http
        .get(format!("{}/v3/users/me/dashboard", emulator.base_url()))
        .bearer_auth("blocking-key")
        .send()
        .unwrap();
    assert_eq!(busy.status(), 503);
    let stats = emulator.stats();
    assert_eq!(stats.count(Route::CreateTask), 1);
    assert_eq!(stats.count(Route::Dashboard), 1);
    emulator.reset_stats();
    emulator.clear_faults();
    assert_eq!(emulator.stats().total(), 0);
    let addr = emulator.addr();
    emulator.shutdown();
    assert!(std::net::TcpStream::connect(addr).is_err());
}

#[test]
fn start_blocking_reports_a_bad_setting() {
    let error = Emulator::builder()
        .time_scale(0.0)
        .start_blocking()
        .unwrap_err();
    assert!(
        matches!(error, cloud_task_core::Error::InvalidInput(_)),
        "{error:?}"
    );
}

/// Called from inside a runtime, it neither panics nor runs on the caller's runtime.
#[tokio::test]
async fn start_blocking_inside_a_runtime_does_not_panic() {
    let emulator = fast().start_blocking().unwrap();
    let response = reqwest::Client::new()
        .get(format!("{}/v3/users/me/dashboard", emulator.base_url()))
        .bearer_auth(emulator.api_key())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let addr = emulator.addr();
    drop(emulator); // blocks this thread briefly while the server stops
    assert!(std::net::TcpStream::connect(addr).is_err());
}
