//! Bodies: an endless or huge body ends the call at the configured limit while it is being
//! read (never after buffering it; a `Content-Length` over the limit is refused before the
//! body is read), and errors keep only a prefix of a bad body.

use std::time::Duration;

use cloud_task_core::{Error, Limit, MAX_ERROR_BODY};
use cloud_task_qa::hostile::{Hostile, Mode};

use crate::driver::Driver;
use crate::{conformance, within};

const LIMIT: u64 = 1 << 20;

#[track_caller]
fn assert_body_limit(error: Error, operation: &str) {
    match error {
        Error::Limit(l) => {
            assert_eq!(
                (l.limit, l.max, l.operation),
                (Limit::ResponseBody, LIMIT, operation)
            );
        }
        other => panic!("expected the body limit, got {other:?}"),
    }
}

/// What the server managed to write when the client stopped reading: the limit, plus what
/// loopback socket buffers hold.
const MOST_SENT: u64 = 64 << 20;

conformance!(
    an_endless_body_ends_the_call_at_the_limit,
    an_endless_body_on_a_poll_ends_the_wait,
    a_huge_body_is_refused_at_the_limit_announced_or_chunked,
    a_bad_body_is_kept_only_as_a_prefix_in_errors_and_timeouts,
);

fn an_endless_body_ends_the_call_at_the_limit<D: Driver>() {
    let server = Hostile::start(Mode::EndlessBody).unwrap();
    let client: D = crate::client(&server.url(), |c| c.max_response_body(LIMIT));
    let error = within(Duration::from_secs(10), || {
        client.get_dashboard().unwrap_err()
    });
    assert_body_limit(error, "get_dashboard");
    std::thread::sleep(Duration::from_millis(100));
    assert!(
        server.bytes_sent() < MOST_SENT,
        "{} bytes sent",
        server.bytes_sent()
    );
}

fn an_endless_body_on_a_poll_ends_the_wait<D: Driver>() {
    let server = Hostile::start(Mode::EndlessBody).unwrap();
    let options = cloud_task_core::AwaitOptions::new().interval(Duration::from_millis(10));
    let client: D = crate::client(&server.url(), |c| c.max_response_body(LIMIT));
    let error = within(Duration::from_secs(10), || {
        client.await_result("t-1", options).unwrap_err()
    });
    assert_body_limit(error, "get_task_result");
    assert_eq!(server.requests(), 1, "a body over the limit is not retried");
}

fn a_huge_body_is_refused_at_the_limit_announced_or_chunked<D: Driver>() {
    for chunked in [false, true] {
        let server = Hostile::start(Mode::HugeBody {
            len: 1 << 30,
            chunked,
        })
        .unwrap();
        let client: D = crate::client(&server.url(), |c| c.max_response_body(LIMIT));
        assert_body_limit(client.get_dashboard().unwrap_err(), "get_dashboard");
        std::thread::sleep(Duration::from_millis(100));
        assert!(
            server.bytes_sent() < MOST_SENT,
            "{} bytes sent",
            server.bytes_sent()
        );
    }
}

#[track_caller]
fn assert_prefix_kept(error: Error, len: usize) {
    match error {
        Error::Decode(d) => {
            assert_eq!(d.body.len(), MAX_ERROR_BODY);
            assert_eq!(d.body_len, len);
        }
        other => panic!("expected a decode error, got {other:?}"),
    }
}

fn a_bad_body_is_kept_only_as_a_prefix_in_errors_and_timeouts<D: Driver>() {
    let len = 8 << 20;
    let server = Hostile::start(Mode::Garbage { len }).unwrap();
    let client: D = crate::client(&server.url(), |c| c);
    assert_prefix_kept(client.get_dashboard().unwrap_err(), len);
    // A wait that times out keeps the last failed poll, bounded the same way.
    let len = 256 << 10;
    let server = Hostile::start(Mode::Garbage { len }).unwrap();
    let client: D = crate::client(&server.url(), |c| c);
    let options = cloud_task_core::AwaitOptions::new()
        .interval(Duration::from_millis(200))
        .timeout(Duration::from_secs(2));
    match client.await_result("t-1", options).unwrap_err() {
        Error::Timeout(t) => assert_prefix_kept(t.last_error.expect("the last failed poll"), len),
        other => panic!("{other:?}"),
    }
}
