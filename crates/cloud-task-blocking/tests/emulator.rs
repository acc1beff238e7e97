//! What only the blocking client has against the real local emulator: ureq's status
//! errors kept off, with a user's own agent too. Every behaviour both clients share (the
//! mapping of each stack's failures to the core's kinds among them) is in the conformance
//! suite (`crates/cloud-task-qa/tests/conformance`), run against each.

use std::time::Duration;

use cloud_task_blocking::{Client, Error, UreqTransport};
use cloud_task_emulator::{BlockingEmulator, Emulator, Fault, FaultRule, Route};

fn start() -> BlockingEmulator {
    Emulator::builder()
        .time_scale(0.01)
        .start_blocking()
        .expect("the emulator starts")
}

#[test]
fn ureq_status_errors_are_off_even_on_a_users_own_agent() {
    let emulator = start();
    let client = Client::builder()
        .api_key(emulator.api_key())
        .base_url(emulator.base_url())
        .timeout(Duration::from_millis(200))
        .build()
        .unwrap();
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
}
