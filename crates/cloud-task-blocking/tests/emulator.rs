//! What only the blocking client has against the real local emulator: ureq's failures
//! mapped to the core's transport kinds, and a user's own agent. Every behaviour both
//! clients share is in the conformance suite (`crates/cloud-task-qa/tests/conformance`),
//! run against each.

use std::time::{Duration, Instant};

use cloud_task_blocking::{Client, Error, TransportErrorKind, UreqTransport};
use cloud_task_emulator::{BlockingEmulator, Emulator, Fault, FaultRule, Route};

fn start() -> BlockingEmulator {
    Emulator::builder()
        .time_scale(0.01)
        .start_blocking()
        .expect("the emulator starts")
}

#[test]
fn ureq_failures_map_to_the_core_transport_kinds() {
    let emulator = start();
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
    let error = client.get_dashboard().unwrap_err();
    assert_eq!(kind(error), TransportErrorKind::Timeout);
    assert!(started.elapsed() < Duration::from_secs(4));

    emulator.add_fault(FaultRule::new(Route::Dashboard, Fault::DropConnection).times(1));
    let error = client.get_dashboard().unwrap_err();
    assert_eq!(kind(error), TransportErrorKind::Io);
    client.get_dashboard().unwrap();

    // A 5xx answer is the server's, with its body (ureq's status errors are off).
    emulator.add_fault(FaultRule::new(Route::Dashboard, Fault::ServiceUnavailable).times(1));
    let error = client.get_dashboard().unwrap_err();
    assert!(
        matches!(&error, Error::Api(e) if e.status.as_u16() == 503 && e.message == "server busy"),
        "{error:?}"
    );

    // A user's own agent keeps ureq's default of turning 4xx/5xx into its errors: the
    // transport turns that off per request, so the core still reads the server's body.
    let agent = ureq::Agent::new_with_defaults();
    assert!(agent.config().http_status_as_error());
    let custom = Client::builder()
        .api_key(emulator.api_key())
        .base_url(emulator.base_url())
        .transport(UreqTransport::from(agent))
        .build()
        .unwrap();
    let error = custom.get_task("no-such-task").unwrap_err();
    assert!(
        matches!(&error, Error::Api(e) if e.status.as_u16() == 404 && e.body.is_some()),
        "{error:?}"
    );
    custom.get_dashboard().unwrap();

    // A port nobody listens on.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let closed = listener.local_addr().unwrap();
    drop(listener);
    let nowhere = Client::builder()
        .api_key("k")
        .base_url(format!("http://{closed}"))
        .build()
        .unwrap();
    let error = nowhere.get_dashboard().unwrap_err();
    assert_eq!(kind(error), TransportErrorKind::Connect);
}
