//! Waiting: the requests and sleeps of `await_result`, `watch` and `await_many` are the
//! core poller's. Written once, compiled against each client (see `main.rs`); how each
//! client is cancelled from elsewhere stays in its own crate.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::sdk::core::{
    GetTaskResult, HttpResponse, Operation, PollAction, Poller, TaskErrorCode, TransportErrorKind,
};
use super::sdk::{
    AwaitOptions, BackoffStrategy, CancelToken, CreateTaskRequest, Error, Result, TaskOutcome,
    TaskStatus, WatchEvent,
};
use super::shim::{FakeTimer, MockTransport, client};
use crate::common::{config, response, response_retry_after, same_request};

pub(super) const RUNNING_10: &str = r#"{"status":"running","progress":10}"#;
const RUNNING_50: &str = r#"{"status":"running","progress":50}"#;
const SUCCESS: &str = r#"{"status":"success","resultURL":"https://r","resultData":[{"ok":true}]}"#;

pub(super) fn io_error() -> Error {
    Error::transport(
        TransportErrorKind::Io,
        std::io::Error::new(std::io::ErrorKind::ConnectionReset, "connection reset"),
    )
}

/// Clones an answer (transport errors are rebuilt: `Error` is not `Clone`).
pub(super) fn copy(answer: &Result<HttpResponse>) -> Result<HttpResponse> {
    match answer {
        Ok(r) => {
            let mut copy = response(r.status().as_u16(), std::str::from_utf8(r.body()).unwrap());
            *copy.headers_mut() = r.headers().clone();
            Ok(copy)
        }
        Err(_) => Err(io_error()),
    }
}

/// The sleeps a core poller asks for when fed `answers` (with a clock that moves only
/// when it sleeps), and how many polls it sends: the schedule the driver must follow.
fn reference_schedule(
    options: &AwaitOptions,
    answers: &[Result<HttpResponse>],
) -> (Vec<Duration>, usize) {
    let start = std::time::Instant::now();
    let mut now = start;
    let mut poller = Poller::new(&config(), "t", options, now).unwrap();
    let mut answers = answers.iter();
    let mut sleeps = Vec::new();
    let mut polls = 0;
    loop {
        match poller.poll_action(now) {
            PollAction::Send(t) => {
                polls += 1;
                match answers.next().map(copy) {
                    Some(Ok(r)) => poller.handle_response(t.id, r, now),
                    Some(Err(e)) => poller.handle_transport_error(t.id, e, now),
                    None => panic!("the reference poller asked for more answers"),
                }
            }
            PollAction::Progress { .. } => {}
            PollAction::Wait(d) => {
                sleeps.push(d);
                now += d;
            }
            PollAction::Done(_) => return (sleeps, polls),
        }
    }
}

/// A mock answering `answers` to result polls of task `t`, in order, each poll checked
/// against the core's request; a poll past the last answer fails the test.
pub(super) fn poll_mock(answers: &[Result<HttpResponse>]) -> MockTransport {
    let expected = Arc::new(GetTaskResult::new("t").request(&config()).unwrap());
    let mut mock = MockTransport::new();
    let mut sequence = mockall::Sequence::new();
    for answer in answers.iter().map(copy) {
        let expected = Arc::clone(&expected);
        let mut answer = Some(answer);
        mock.expect_send()
            .times(1)
            .in_sequence(&mut sequence)
            .withf(move |request, _| same_request(request, &expected))
            .returning(move |_, _| answer.take().expect("answered once"));
    }
    mock
}

seam_test! {
    fn await_result_sleeps_exactly_the_poller_schedule() {
        let options = AwaitOptions::new()
            .interval(Duration::from_millis(100))
            .max_interval(Duration::from_secs(1))
            .strategy(BackoffStrategy::Exponential);
        let answers = vec![
            Ok(response(200, RUNNING_10)),
            Ok(response(200, RUNNING_10)),
            Ok(response(503, r#"{"message":"busy"}"#)),
            Err(io_error()),
            Ok(response(200, RUNNING_50)),
            Ok(response(200, SUCCESS)),
        ];
        let (expected_sleeps, polls) = reference_schedule(&options, &answers);
        assert_eq!(polls, answers.len());
        assert_eq!(expected_sleeps.len(), answers.len() - 1);
        // Growing waits: 150, 225, 337.5, 506.25, 759.375 ms.
        assert_eq!(expected_sleeps[0], Duration::from_millis(150));
        assert_eq!(expected_sleeps[4], Duration::from_micros(759_375));

        let seen = Arc::new(Mutex::new(Vec::new()));
        let record = seen.clone();
        let options = options.on_progress(move |p, s| record.lock().unwrap().push((p, s.clone())));
        let timer = FakeTimer::new();
        let client = client(poll_mock(&answers), &timer);
        let success = run!(client.await_result("t", options)).unwrap();
        assert_eq!(success.result_data.unwrap()[0]["ok"], true);
        assert_eq!(timer.sleeps(), expected_sleeps);
        assert_eq!(
            *seen.lock().unwrap(),
            [
                (10.0, TaskStatus::Running),
                (10.0, TaskStatus::Running),
                (50.0, TaskStatus::Running)
            ]
        );
    }
}

seam_test! {
    fn typed_results_decode_the_data() {
        #[derive(serde::Deserialize, Debug, PartialEq)]
        struct Ok_ {
            ok: bool,
        }
        let answers = vec![Ok(response(200, SUCCESS))];
        let client = client(poll_mock(&answers), &FakeTimer::new());
        let success = run!(client.await_result("t", AwaitOptions::new()))
            .and_then(|success| success.data_as::<Vec<Ok_>>())
            .unwrap();
        assert_eq!(success.result_data, Some(vec![Ok_ { ok: true }]));
    }
}

seam_test! {
    fn retry_after_of_a_429_is_honoured() {
        let options = AwaitOptions::new().interval(Duration::from_millis(100));
        let answers = vec![
            Ok(response_retry_after(429, r#"{"message":"slow down"}"#, 5)),
            Ok(response(200, SUCCESS)),
        ];
        let timer = FakeTimer::new();
        let client = client(poll_mock(&answers), &timer);
        run!(client.await_result("t", options.clone())).unwrap();
        assert_eq!(timer.sleeps(), [Duration::from_secs(5)]);
        assert_eq!(timer.sleeps(), reference_schedule(&options, &answers).0);
    }
}

seam_test! {
    fn a_timeout_never_sleeps_past_the_deadline_and_quotes_the_last_error() {
        let options = AwaitOptions::new()
            .interval(Duration::from_millis(300))
            .strategy(BackoffStrategy::Fixed)
            .timeout(Duration::from_secs(1));
        let answers = vec![
            Ok(response(200, RUNNING_10)),
            Ok(response(502, r#"{"message":"bad gateway"}"#)),
            Ok(response(200, RUNNING_10)),
            Ok(response(200, RUNNING_10)),
        ];
        let timer = FakeTimer::new();
        let client = client(poll_mock(&answers), &timer);
        let error = run!(client.await_result("t", options.clone())).unwrap_err();
        match &error {
            Error::Timeout(t) => assert_eq!(
                t.message,
                "Task polling timeout after 1 minutes. Last polling request error: bad gateway"
            ),
            other => panic!("expected a timeout, got {other:?}"),
        }
        assert_eq!(timer.sleeps(), reference_schedule(&options, &answers).0);
        // Polls at 0, 300 and 600 ms, and the last one a tenth of the timeout before the
        // deadline: nothing waits past it.
        assert_eq!(timer.elapsed(), Duration::from_millis(900));
    }
}

seam_test! {
    fn a_wrong_key_ends_the_wait_at_once() {
        let answers = vec![Ok(response(401, r#"{"message":"invalid api key"}"#))];
        let timer = FakeTimer::new();
        let client = client(poll_mock(&answers), &timer);
        let error = run!(client.await_result("t", AwaitOptions::new())).unwrap_err();
        assert!(matches!(&error, Error::Api(e) if e.status.as_u16() == 401));
        assert!(timer.sleeps().is_empty());
    }
}

seam_test! {
    fn create_and_wait_returns_the_id_and_classifies_quota_failures() {
        let mut mock = MockTransport::new();
        let mut sequence = mockall::Sequence::new();
        mock.expect_send()
            .times(1)
            .in_sequence(&mut sequence)
            .withf(|r, _| r.method() == "POST" && r.uri().path() == "/v3/users/me/tasks")
            .returning(|_, _| Ok(response(200, r#"{"taskID":"t"}"#)));
        let expected = GetTaskResult::new("t").request(&config()).unwrap();
        mock.expect_send()
            .times(1)
            .in_sequence(&mut sequence)
            .withf(move |r, _| same_request(r, &expected))
            .returning(|_, _| Ok(response(200, SUCCESS)));
        let client = client(mock, &FakeTimer::new());
        let TaskOutcome { task_id, result } = run!(client.create_and_wait(
            CreateTaskRequest::new("@oomol/echo", "1", "main"),
            AwaitOptions::new(),
        ))
        .unwrap();
        assert_eq!(task_id, "t");
        assert_eq!(result.result_url.as_deref(), Some("https://r"));

        let answers = vec![Ok(response(
            200,
            r#"{"status":"failed","error":"Insufficient quota"}"#,
        ))];
        let client = super::shim::client(poll_mock(&answers), &FakeTimer::new());
        let error = run!(client.await_result("t", AwaitOptions::new())).unwrap_err();
        match &error {
            Error::TaskFailed(f) => {
                assert_eq!(f.code, Some(TaskErrorCode::InsufficientQuota));
                assert_eq!(f.status_code.map(|s| s.as_u16()), Some(402));
                assert_eq!(f.message, "Task failed: Insufficient quota");
                assert_eq!(f.task_id, "t");
            }
            other => panic!("expected a task failure, got {other:?}"),
        }
    }
}

seam_test! {
    fn a_cancelled_token_sends_nothing() {
        let mut mock = MockTransport::new();
        mock.expect_send().never();
        let token = CancelToken::new();
        token.cancel();
        let client = client(mock, &FakeTimer::new());
        let outcome = run!(client.await_result("t", AwaitOptions::new().cancel_token(token.clone())));
        assert!(matches!(outcome, Err(Error::Cancelled(_))));
        let outcome = run!(client.create_and_wait(
            CreateTaskRequest::new("@oomol/echo", "1", "main"),
            AwaitOptions::new().cancel_token(token.clone()),
        ));
        assert!(matches!(outcome, Err(Error::Cancelled(_))));
        let results =
            run!(client.await_many(["a", "b"], AwaitOptions::new().cancel_token(token.clone())));
        assert!(results.iter().all(|r| matches!(r, Err(Error::Cancelled(_)))));
        let events = all!(client.watch("t", AwaitOptions::new().cancel_token(token)));
        assert!(matches!(events[..], [Err(Error::Cancelled(_))]), "{events:?}");
    }
}

seam_test! {
    fn watch_yields_changes_without_repeats_then_the_result() {
        let answers = vec![
            Ok(response(200, RUNNING_10)),
            Ok(response(200, RUNNING_10)),
            Ok(response(503, "{}")),
            Ok(response(200, RUNNING_50)),
            Ok(response(200, SUCCESS)),
        ];
        let timer = FakeTimer::new();
        let options = AwaitOptions::new().interval(Duration::from_millis(10));
        let mut watch = client(poll_mock(&answers), &timer).watch("t", options.clone());
        // Lazy: nothing is sent before the first `next()` (the mock would fail otherwise).
        let mut events = Vec::new();
        while let Some(event) = next!(watch) {
            events.push(event.unwrap());
        }
        assert_eq!(events.len(), 3, "{events:?}");
        assert_eq!(
            events[0],
            WatchEvent::Progress {
                status: TaskStatus::Running,
                progress: 10.0
            }
        );
        assert_eq!(
            events[1],
            WatchEvent::Progress {
                status: TaskStatus::Running,
                progress: 50.0
            }
        );
        assert!(
            matches!(&events[2], WatchEvent::Finished(s) if s.result_url.as_deref() == Some("https://r"))
        );
        assert!(next!(watch).is_none(), "ended, and it stays so");
        assert_eq!(timer.sleeps(), reference_schedule(&options, &answers).0);
    }
}

seam_test! {
    fn watch_ends_with_the_error() {
        let answers = vec![
            Ok(response(200, RUNNING_10)),
            Ok(response(200, r#"{"status":"failed","error":"bad input"}"#)),
        ];
        let events = all!(client(poll_mock(&answers), &FakeTimer::new()).watch("t", AwaitOptions::new()));
        assert_eq!(events.len(), 2);
        assert!(events[0].is_ok());
        assert!(
            matches!(&events[1], Err(Error::TaskFailed(f)) if f.message == "Task failed: bad input")
        );

        let mut mock = MockTransport::new();
        mock.expect_send().never();
        let events = all!(client(mock, &FakeTimer::new()).watch("", AwaitOptions::new()));
        assert_eq!(events.len(), 1);
        assert!(matches!(&events[0], Err(Error::InvalidInput(_))));
    }
}

seam_test! {
    fn await_many_of_nothing_returns_nothing() {
        let mut mock = MockTransport::new();
        mock.expect_send().never();
        let client = client(mock, &FakeTimer::new());
        let results = run!(client.await_many(Vec::<String>::new(), AwaitOptions::new()));
        assert!(results.is_empty());
    }
}
