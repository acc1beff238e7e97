//! Deadlines: a wait's timeout bounds a poll in flight whatever the transport; statuses
//! that retrying cannot mend end a wait at once; the last poll before the deadline finds a
//! task that finished; zero intervals are refused before anything is sent; a cancelled
//! `create_and_wait` keeps the task ID; a download whose body never comes ends at the
//! request timeout.

use std::time::Duration;

use cloud_task_core::{
    AwaitOptions, CancelToken, CreateTaskRequest, DownloadOptions, Error, HttpRequest,
    HttpResponse, Result, SendLimits, TransportErrorKind,
};
use cloud_task_emulator::Emulator;
use cloud_task_qa::hostile::{Hostile, Mode};

use crate::driver::Driver;
use crate::{async_client, blocking_client, conformance, runtime, within};

fn one_second() -> AwaitOptions {
    AwaitOptions::new().timeout(Duration::from_secs(1))
}

#[track_caller]
fn assert_timeout(error: Error) {
    match &error {
        Error::Timeout(t) => assert_eq!(t.task_id, "t-1"),
        other => panic!("expected the wait's timeout, got {other:?}"),
    }
}

/// A blocking transport that never answers (for 60 s at most, so that the test process
/// ends), as a user's own stack without timeouts would.
struct Stuck;

impl cloud_task_blocking::HttpTransport for Stuck {
    fn send(&self, _request: HttpRequest, _limits: SendLimits) -> Result<HttpResponse> {
        std::thread::sleep(Duration::from_secs(60));
        Err(Error::transport(TransportErrorKind::Other, "gave up"))
    }
}

#[test]
fn a_wait_timeout_bounds_a_poll_that_is_never_answered() {
    let server = Hostile::start(Mode::Hang).unwrap();
    // The default transports, with a 30 s request timeout: the wait's 1 s wins.
    let blocking = blocking_client(&server.url(), |b| b.timeout(Duration::from_secs(30)));
    within(Duration::from_secs(5), || {
        assert_timeout(blocking.await_result("t-1", one_second()).unwrap_err())
    });
    let client = async_client(&server.url(), |b| b.timeout(Duration::from_secs(30)));
    within(Duration::from_secs(5), || {
        assert_timeout(
            runtime()
                .block_on(client.await_result("t-1", one_second()))
                .unwrap_err(),
        );
    });
    // A user's own stack with no timeout at all: bounded all the same.
    let blocking = blocking_client(&server.url(), |b| {
        b.transport(cloud_task_blocking::UreqTransport::from(
            ureq::Agent::new_with_defaults(),
        ))
    });
    within(Duration::from_secs(5), || {
        assert_timeout(blocking.await_result("t-1", one_second()).unwrap_err())
    });
    let blocking = blocking_client(&server.url(), |b| b.transport(Stuck));
    within(Duration::from_secs(5), || {
        assert_timeout(blocking.await_result("t-1", one_second()).unwrap_err())
    });
    let client = async_client(&server.url(), |b| {
        b.transport(cloud_task_async::ReqwestTransport::from(
            reqwest::Client::new(),
        ))
    });
    within(Duration::from_secs(5), || {
        assert_timeout(
            runtime()
                .block_on(client.await_result("t-1", one_second()))
                .unwrap_err(),
        );
    });
}

#[test]
fn a_call_never_answered_ends_at_the_request_timeout() {
    for mode in [Mode::Hang, Mode::HangAfterHead] {
        let server = Hostile::start(mode).unwrap();
        let short = Duration::from_millis(500);
        let check = |error: Error| match error {
            Error::Transport(t) => assert_eq!(t.kind, TransportErrorKind::Timeout),
            other => panic!("expected a timeout, got {other:?}"),
        };
        let blocking = blocking_client(&server.url(), |b| b.timeout(short));
        within(Duration::from_secs(3), || {
            check(blocking.get_dashboard().unwrap_err())
        });
        let blocking = blocking_client(&server.url(), |b| b.timeout(short).transport(Stuck));
        within(Duration::from_secs(3), || {
            check(blocking.get_dashboard().unwrap_err())
        });
        let client = async_client(&server.url(), |b| {
            b.timeout(short)
                .transport(cloud_task_async::ReqwestTransport::from(
                    reqwest::Client::new(),
                ))
        });
        within(Duration::from_secs(3), || {
            check(runtime().block_on(client.get_dashboard()).unwrap_err())
        });
    }
}

/// An async stack of the user's own that streams: its heads come at once, its bodies
/// never end (for 30 s, so that a test that fails ends), and it keeps no deadline itself.
struct NeverEnds;

/// What [`NeverEnds`] answers after 30 s.
async fn given_up<T>() -> Result<T> {
    tokio::time::sleep(Duration::from_secs(30)).await;
    Err(Error::transport(TransportErrorKind::Other, "gave up"))
}

#[cloud_task_async::async_trait]
impl cloud_task_async::HttpTransport for NeverEnds {
    async fn send(&self, _request: HttpRequest, _limits: SendLimits) -> Result<HttpResponse> {
        given_up().await
    }

    async fn send_streaming(
        &self,
        _request: HttpRequest,
        _limits: SendLimits,
    ) -> Result<(cloud_task_async::ResponseHead, cloud_task_async::BodyStream)> {
        let head = cloud_task_core::http::Response::builder()
            .status(206)
            .header("content-range", "bytes 0-4095/4096")
            .body(())
            .unwrap()
            .into_parts()
            .0;
        Ok((head, Box::pin(futures_util::stream::once(given_up()))))
    }
}

/// A download whose head comes and whose body never does ends at the request timeout
/// (each of its tries), whatever the transport: the default ones, and a stack of the
/// user's own that never ends a body and keeps no deadline.
#[test]
fn a_download_whose_body_never_comes_ends_at_the_request_timeout() {
    let server = Hostile::start(Mode::HangAfterHead).unwrap();
    let url = format!("{}/r/file.bin", server.url());
    let short = Duration::from_millis(500);
    let options = || DownloadOptions::new().retries(1);
    let check = |error: Error| match error {
        Error::Transport(t) => assert_eq!(t.kind, TransportErrorKind::Timeout, "{t}"),
        other => panic!("expected a timeout, got {other:?}"),
    };
    let blocking = blocking_client(&server.url(), |b| b.timeout(short));
    within(Duration::from_secs(3), || {
        check(
            blocking
                .download_to_writer(&url, &mut Vec::new(), options())
                .unwrap_err(),
        )
    });
    for client in [
        async_client(&server.url(), |b| b.timeout(short)),
        async_client(&server.url(), |b| b.timeout(short).transport(NeverEnds)),
    ] {
        within(Duration::from_secs(3), || {
            let mut sink = Vec::new();
            check(
                runtime()
                    .block_on(client.download_to_writer(&url, &mut sink, options()))
                    .unwrap_err(),
            )
        });
    }
}

conformance!(
    statuses_retrying_cannot_mend_end_a_wait_at_once,
    the_last_poll_before_the_deadline_finds_a_finished_task,
    zero_intervals_and_timeouts_are_refused_before_anything_is_sent,
    a_cancelled_create_and_wait_keeps_the_task_id,
);

fn statuses_retrying_cannot_mend_end_a_wait_at_once<D: Driver>() {
    for status in [400, 405, 410, 422] {
        let server = Hostile::start(Mode::Status(status)).unwrap();
        let options = AwaitOptions::new().interval(Duration::from_millis(10));
        let client: D = crate::client(&server.url(), |c| c);
        match within(Duration::from_secs(5), || {
            client.await_result("t-1", options).unwrap_err()
        }) {
            Error::Api(api) => assert_eq!(api.status.as_u16(), status),
            other => panic!("HTTP {status}: {other:?}"),
        }
        assert_eq!(server.requests(), 1, "HTTP {status}: one poll");
    }
}

fn the_last_poll_before_the_deadline_finds_a_finished_task<D: Driver>() {
    // An interval longer than the whole timeout: the first poll says running, and the
    // task finishes meanwhile. The last poll, shortly before the deadline, finds it.
    let options = AwaitOptions::new()
        .interval(Duration::from_secs(60))
        .timeout(Duration::from_secs(2));
    let server = Hostile::start(Mode::RunningThenSuccess { polls: 1 }).unwrap();
    let client: D = crate::client(&server.url(), |c| c);
    let result = within(Duration::from_secs(4), || {
        client.await_result("t-1", options)
    });
    assert!(result.is_ok(), "{result:?}");
    assert_eq!(server.requests(), 2);
}

fn zero_intervals_and_timeouts_are_refused_before_anything_is_sent<D: Driver>() {
    let server = Hostile::start(Mode::Status(500)).unwrap();
    let request = || CreateTaskRequest::new("@oomol/echo", "1.0.0", "main");
    for (options, field) in [
        (
            AwaitOptions::new()
                .interval(Duration::ZERO)
                .max_interval(Duration::ZERO),
            "interval",
        ),
        (
            AwaitOptions::new().max_interval(Duration::ZERO),
            "max_interval",
        ),
        (AwaitOptions::new().timeout(Duration::ZERO), "timeout"),
    ] {
        let check = |error: Error| match error {
            Error::InvalidInput(e) => assert_eq!(e.field, field),
            other => panic!("{field}: {other:?}"),
        };
        let client: D = crate::client(&server.url(), |c| c);
        check(
            client
                .create_and_wait(request(), options.clone())
                .unwrap_err(),
        );
        check(client.await_result("t-1", options.clone()).unwrap_err());
    }
    assert_eq!(server.requests(), 0, "nothing was created or polled");
}

fn a_cancelled_create_and_wait_keeps_the_task_id<D: Driver>() {
    let emulator = Emulator::builder()
        .time_scale(1.0)
        .start_blocking()
        .unwrap();
    let slow = CreateTaskRequest::new("@oomol/slow", "1.0.0", "main").input("durationMs", 60_000);
    let client = D::of(&emulator);
    let token = CancelToken::new();
    let canceller = token.clone();
    let cancel_soon = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(300));
        canceller.cancel();
    });
    let options = AwaitOptions::new()
        .interval(Duration::from_millis(50))
        .cancel_token(token);
    let error = within(Duration::from_secs(5), || {
        client.create_and_wait(slow, options).unwrap_err()
    });
    cancel_soon.join().unwrap();
    let task_id = error.task_id().expect("the created task's ID").to_owned();
    assert!(matches!(error, Error::Cancelled(_)), "{error:?}");
    // The task is there, still running.
    assert!(!client.get_task_result(&task_id).unwrap().is_terminal());
}
