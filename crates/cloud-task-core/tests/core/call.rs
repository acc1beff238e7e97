//! The machine of one operation: deadlines, body limits, the redirect policy, cancellation.

use std::time::{Duration, Instant};

use cloud_task_core::http::{Method, StatusCode};
use cloud_task_core::{
    Call, CallAction, Config, CreateTask, CreateTaskRequest, Error, GetDashboard, Limit, Operation,
    TransportErrorKind,
};

use crate::{KEY, config, header, response, response_with};

fn send(call: &mut Call, now: Instant) -> cloud_task_core::Transmit {
    match call.poll_action(now) {
        CallAction::Send(t) => t,
        other => panic!("expected a request to send, got {other:?}"),
    }
}

fn done(call: &mut Call, now: Instant) -> Result<cloud_task_core::HttpResponse, Error> {
    match call.poll_action(now) {
        CallAction::Done(outcome) => outcome,
        other => panic!("expected the end of the call, got {other:?}"),
    }
}

fn create() -> CreateTask {
    CreateTask::new(CreateTaskRequest::new("@oomol/echo", "1.0.0", "main").input("x", 1))
}

#[test]
fn one_request_with_its_deadline_and_limit_any_status_is_the_answer() {
    let now = Instant::now();
    let mut call = Call::for_operation(&GetDashboard, &config(), now).unwrap();
    let t = send(&mut call, now);
    assert_eq!(t.name, "get_dashboard");
    assert_eq!(t.deadline, now + Duration::from_secs(30));
    assert_eq!(t.max_response_body, 32 * 1024 * 1024);
    let limits = t.limits(now + Duration::from_secs(10));
    assert_eq!(limits.timeout, Duration::from_secs(20));
    call.handle_response(t.id, response(503, "busy"), now);
    assert_eq!(
        done(&mut call, now).unwrap().status(),
        StatusCode::SERVICE_UNAVAILABLE
    );
    assert!(matches!(done(&mut call, now), Err(Error::Misuse(_))));
}

#[test]
fn a_call_never_answered_ends_at_its_deadline() {
    let now = Instant::now();
    let config = Config::builder()
        .timeout(Duration::from_millis(1500))
        .build()
        .unwrap();
    let mut call = Call::for_operation(&GetDashboard, &config, now).unwrap();
    let t = send(&mut call, now);
    let CallAction::Wait(d) = call.poll_action(now + Duration::from_millis(500)) else {
        panic!()
    };
    assert_eq!(d, Duration::from_secs(1));
    match done(&mut call, t.deadline) {
        Err(Error::Transport(e)) => {
            assert_eq!(e.kind, TransportErrorKind::Timeout);
            assert_eq!(
                Error::Transport(e).reason(),
                "request timed out: no complete response within 1500 ms"
            );
        }
        other => panic!("{other:?}"),
    }
    // A wait's deadline shortens the call.
    let call = Call::for_operation(&GetDashboard, &config, now)
        .unwrap()
        .with_deadline(now + Duration::from_millis(200));
    assert_eq!(call.deadline(), Some(now + Duration::from_millis(200)));
}

#[test]
fn a_body_over_the_limit_is_refused_and_named() {
    let now = Instant::now();
    let config = Config::builder().max_response_body(1024).build().unwrap();
    let mut call = Call::for_operation(&GetDashboard, &config, now).unwrap();
    let t = send(&mut call, now);
    call.handle_response(t.id, response(200, &"x".repeat(1025)), now);
    match done(&mut call, now) {
        Err(Error::Limit(l)) => {
            assert_eq!(
                (l.operation, l.limit, l.max),
                ("get_dashboard", Limit::ResponseBody, 1024)
            );
        }
        other => panic!("{other:?}"),
    }
    // The same error from a transport that stopped reading is named after the operation.
    let mut call = Call::for_operation(&GetDashboard, &config, now).unwrap();
    let t = send(&mut call, now);
    assert!(t.limits(now).refuses_length(Some(1025)));
    assert!(!t.limits(now).refuses_length(Some(1024)));
    call.handle_transport_error(t.id, t.limits(now).body_too_large(), now);
    let error = done(&mut call, now).unwrap_err();
    assert_eq!(
        error.to_string(),
        "get_dashboard: the response body exceeds 1024 bytes (limit max_response_body; raise it \
         on the client's builder)"
    );
}

#[test]
fn same_origin_redirects_keep_what_repeating_means() {
    let now = Instant::now();
    // 307 and 308 repeat the POST with its body and headers.
    for status in [307, 308] {
        let mut call = Call::for_operation(&create(), &config(), now).unwrap();
        let first = send(&mut call, now);
        call.handle_response(
            first.id,
            response_with(status, "", ("location", "/v3/users/me/tasks2")),
            now,
        );
        let second = send(&mut call, now);
        assert_eq!(second.request.method(), Method::POST);
        assert_eq!(
            second.request.uri(),
            "https://cloud-task.oomol.com/v3/users/me/tasks2"
        );
        assert_eq!(second.request.body(), first.request.body());
        assert_eq!(
            header(second.request.headers(), "authorization"),
            Some(&*format!("Bearer {KEY}"))
        );
        assert_eq!(
            second.deadline, first.deadline,
            "a redirect never extends the deadline"
        );
        call.handle_response(second.id, response(200, r#"{"taskID":"t"}"#), now);
        assert!(done(&mut call, now).is_ok());
    }
    // 301, 302 and 303 of a POST would become a GET, another call: not followed.
    for status in [301, 302, 303] {
        let mut call = Call::for_operation(&create(), &config(), now).unwrap();
        let first = send(&mut call, now);
        call.handle_response(first.id, response_with(status, "", ("location", "/x")), now);
        assert_eq!(done(&mut call, now).unwrap().status().as_u16(), status);
    }
    // A GET follows them all, as a GET.
    for status in [301, 302, 303, 307, 308] {
        let mut call = Call::for_operation(&GetDashboard, &config(), now).unwrap();
        let first = send(&mut call, now);
        call.handle_response(
            first.id,
            response_with(
                status,
                "",
                ("location", "https://CLOUD-TASK.oomol.com:443/d"),
            ),
            now,
        );
        let second = send(&mut call, now);
        assert_eq!(second.request.method(), Method::GET);
        assert_eq!(second.request.uri().path(), "/d");
    }
}

#[test]
fn a_request_with_headers_of_its_own_keeps_them_on_a_redirect() {
    let now = Instant::now();
    let mut request = GetDashboard.request(&config()).unwrap();
    request.headers_mut().insert(
        "x-trace",
        cloud_task_core::http::HeaderValue::from_static("t-42"),
    );
    let mut call = Call::new(&config(), "custom", request, now);
    let first = send(&mut call, now);
    call.handle_response(
        first.id,
        response_with(307, "", ("location", "/elsewhere")),
        now,
    );
    let second = send(&mut call, now);
    assert_eq!(second.request.headers(), first.request.headers());
    assert_eq!(header(second.request.headers(), "x-trace"), Some("t-42"));
}

#[test]
fn a_redirect_to_another_origin_ends_the_call_naming_the_origin() {
    let now = Instant::now();
    let config = Config::builder()
        .api_key(KEY)
        .default_header("X-Api-Key", "header-secret")
        .default_header("X-Oomol-Token", "token-secret")
        .build()
        .unwrap();
    for (location, origin) in [
        ("https://evil.test/steal?k=1", "https://evil.test:443"),
        (
            "http://cloud-task.oomol.com/v3",
            "http://cloud-task.oomol.com:80",
        ),
        (
            "https://cloud-task.oomol.com:8443/v3",
            "https://cloud-task.oomol.com:8443",
        ),
        ("//evil.test/x", "https://evil.test:443"),
    ] {
        let mut call = Call::for_operation(&GetDashboard, &config, now).unwrap();
        let t = send(&mut call, now);
        call.handle_response(t.id, response_with(307, "", ("location", location)), now);
        match done(&mut call, now) {
            Err(Error::Redirect(r)) => {
                assert_eq!(r.target_origin.as_deref(), Some(origin), "{location}");
                assert_eq!(r.operation, "get_dashboard");
                let text = Error::Redirect(r).to_string();
                assert!(
                    !text.contains("steal") && !text.contains("secret"),
                    "{text}"
                );
            }
            other => panic!("{location}: {other:?}"),
        }
    }
    // A redirect without a usable Location is an error too, not a loop.
    let mut call = Call::for_operation(&GetDashboard, &config, now).unwrap();
    let t = send(&mut call, now);
    call.handle_response(t.id, response(302, ""), now);
    assert!(matches!(done(&mut call, now), Err(Error::Redirect(r)) if r.target_origin.is_none()));
}

#[test]
fn redirects_are_bounded() {
    let now = Instant::now();
    let config = Config::builder().max_redirects(2).build().unwrap();
    let mut call = Call::for_operation(&GetDashboard, &config, now).unwrap();
    for hop in 0..3 {
        let t = send(&mut call, now);
        call.handle_response(
            t.id,
            response_with(302, "", ("location", &format!("/hop{hop}"))),
            now,
        );
    }
    match done(&mut call, now) {
        Err(Error::Limit(l)) => assert_eq!((l.limit, l.max), (Limit::Redirects, 2)),
        other => panic!("{other:?}"),
    }
    // With none allowed, the redirect is the answer.
    let config = Config::builder().max_redirects(0).build().unwrap();
    let mut call = Call::for_operation(&GetDashboard, &config, now).unwrap();
    let t = send(&mut call, now);
    call.handle_response(t.id, response_with(302, "", ("location", "/x")), now);
    assert_eq!(done(&mut call, now).unwrap().status().as_u16(), 302);
}

#[test]
fn cancel_ends_the_call_and_stale_answers_are_ignored() {
    let now = Instant::now();
    let mut call = Call::for_operation(&GetDashboard, &config(), now).unwrap();
    let t = send(&mut call, now);
    call.cancel();
    call.handle_response(t.id, response(200, "{}"), now);
    assert!(matches!(done(&mut call, now), Err(Error::Cancelled(c)) if c.task_id.is_none()));

    // An answer to another request is not this call's.
    let mut other = Call::for_operation(&GetDashboard, &config(), now).unwrap();
    let other_id = send(&mut other, now).id;
    let mut call = Call::for_operation(&GetDashboard, &config(), now).unwrap();
    let t = send(&mut call, now);
    call.handle_response(other_id, response(500, ""), now);
    call.handle_response(t.id, response(200, "{}"), now);
    assert!(done(&mut call, now).unwrap().status().is_success());
}

#[test]
fn bad_input_is_refused_before_a_call_exists() {
    let error = Call::for_operation(
        &CreateTask::new(CreateTaskRequest::new("", "1.0.0", "main")),
        &config(),
        Instant::now(),
    )
    .unwrap_err();
    assert!(matches!(error, Error::InvalidInput(_)));
}

#[test]
fn a_call_of_an_operation_about_a_task_carries_it_on_its_requests() {
    use cloud_task_core::machine::{Machine, Step};
    let now = Instant::now();
    let op = cloud_task_core::GetTaskResult::new("t-1");
    let mut call = Call::for_operation(&op, &config(), now).unwrap();
    assert_eq!(call.task_id(), Some("t-1"));
    let Step::Send(transmit) = Machine::poll_step(&mut call, now) else {
        panic!("expected a request to send");
    };
    assert_eq!(transmit.task_id.as_deref(), Some("t-1"));
    assert_eq!(transmit.name, "get_task_result");

    // An operation about no task: none.
    let mut call = Call::for_operation(&GetDashboard, &config(), now).unwrap();
    assert_eq!(call.task_id(), None);
    let Step::Send(transmit) = Machine::poll_step(&mut call, now) else {
        panic!("expected a request to send");
    };
    assert_eq!(transmit.task_id, None);
}
