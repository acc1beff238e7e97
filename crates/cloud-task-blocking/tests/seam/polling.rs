//! Waiting: the requests and sleeps of `await_result`, `watch` and `await_many` are the
//! core poller's, and cancellation from another thread ends a wait at once.

use std::sync::atomic::Ordering::SeqCst;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use cloud_task_blocking::core::{
    GetTaskResult, HttpResponse, Operation, PollAction, Poller, TaskErrorCode, TransportErrorKind,
};
use cloud_task_blocking::{
    AwaitOptions, BackoffStrategy, CancelToken, CreateTaskRequest, Error, Result, TaskOutcome,
    TaskStatus, WatchEvent,
};

use crate::support::{
    FakeTimer, Fleet, MockTransport, answer_in_order, cancel_during_first_sleep, client, config,
    response, response_retry_after, same_request,
};

const RUNNING_10: &str = r#"{"status":"running","progress":10}"#;
const RUNNING_50: &str = r#"{"status":"running","progress":50}"#;
const SUCCESS: &str = r#"{"status":"success","resultURL":"https://r","resultData":[{"ok":true}]}"#;

fn io_error() -> Error {
    Error::transport(
        TransportErrorKind::Io,
        std::io::Error::new(std::io::ErrorKind::ConnectionReset, "connection reset"),
    )
}

/// Clones an answer (transport errors are rebuilt: `Error` is not `Clone`).
fn copy(answer: &Result<HttpResponse>) -> Result<HttpResponse> {
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

/// A mock answering `answers` to result polls of task `t`, each poll checked against the
/// core's request.
fn poll_mock(answers: &[Result<HttpResponse>]) -> MockTransport {
    let expected = GetTaskResult::new("t").request(&config()).unwrap();
    let expected = Arc::new(expected);
    let mut mock = MockTransport::new();
    answer_in_order(&mut mock, answers.iter().map(copy).collect(), move |r| {
        same_request(r, &expected)
    });
    mock
}

#[test]
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
    let success = client(poll_mock(&answers), &timer)
        .await_result("t", options)
        .unwrap();
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

#[test]
fn typed_results_decode_the_data() {
    #[derive(serde::Deserialize, Debug, PartialEq)]
    struct Ok_ {
        ok: bool,
    }
    let answers = vec![Ok(response(200, SUCCESS))];
    let success = client(poll_mock(&answers), &FakeTimer::new())
        .await_result("t", AwaitOptions::new())
        .and_then(|success| success.data_as::<Vec<Ok_>>())
        .unwrap();
    assert_eq!(success.result_data, Some(vec![Ok_ { ok: true }]));
}

#[test]
fn retry_after_of_a_429_is_honoured() {
    let options = AwaitOptions::new().interval(Duration::from_millis(100));
    let answers = vec![
        Ok(response_retry_after(429, r#"{"message":"slow down"}"#, 5)),
        Ok(response(200, SUCCESS)),
    ];
    let timer = FakeTimer::new();
    client(poll_mock(&answers), &timer)
        .await_result("t", options.clone())
        .unwrap();
    assert_eq!(timer.sleeps(), [Duration::from_secs(5)]);
    assert_eq!(timer.sleeps(), reference_schedule(&options, &answers).0);
}

#[test]
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
    let error = client(poll_mock(&answers), &timer)
        .await_result("t", options.clone())
        .unwrap_err();
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

#[test]
fn a_wrong_key_ends_the_wait_at_once() {
    let answers = vec![Ok(response(401, r#"{"message":"invalid api key"}"#))];
    let timer = FakeTimer::new();
    let error = client(poll_mock(&answers), &timer)
        .await_result("t", AwaitOptions::new())
        .unwrap_err();
    assert!(matches!(&error, Error::Api(e) if e.status.as_u16() == 401));
    assert!(timer.sleeps().is_empty());
}

#[test]
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
    let TaskOutcome { task_id, result } = client(mock, &FakeTimer::new())
        .create_and_wait(
            CreateTaskRequest::new("@oomol/echo", "1", "main"),
            AwaitOptions::new(),
        )
        .unwrap();
    assert_eq!(task_id, "t");
    assert_eq!(result.result_url.as_deref(), Some("https://r"));

    let answers = vec![Ok(response(
        200,
        r#"{"status":"failed","error":"Insufficient quota"}"#,
    ))];
    let error = client(poll_mock(&answers), &FakeTimer::new())
        .await_result("t", AwaitOptions::new())
        .unwrap_err();
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

#[test]
fn cancelling_from_another_thread_ends_a_wait_during_a_sleep() {
    let answers = vec![Ok(response(200, RUNNING_10))];
    let timer = FakeTimer::blocking();
    let token = CancelToken::new();
    let client = client(poll_mock(&answers), &timer);
    let options = AwaitOptions::new().cancel_token(token.clone());
    let outcome = cancel_during_first_sleep(&timer, &token, || client.await_result("t", options));
    assert!(matches!(outcome, Err(Error::Cancelled(_))), "{outcome:?}");
    assert_eq!(timer.sleeps(), [Duration::from_secs(3)]);
    assert_eq!(
        timer.elapsed(),
        Duration::ZERO,
        "the interval was not slept out"
    );
}

#[test]
fn a_cancelled_token_sends_nothing() {
    let mut mock = MockTransport::new();
    mock.expect_send().never();
    let token = CancelToken::new();
    token.cancel();
    let client = client(mock, &FakeTimer::new());
    let outcome = client.await_result("t", AwaitOptions::new().cancel_token(token.clone()));
    assert!(matches!(outcome, Err(Error::Cancelled(_))));
    let outcome = client.create_and_wait(
        CreateTaskRequest::new("@oomol/echo", "1", "main"),
        AwaitOptions::new().cancel_token(token.clone()),
    );
    assert!(matches!(outcome, Err(Error::Cancelled(_))));
    let results = client.await_many(["a", "b"], AwaitOptions::new().cancel_token(token.clone()));
    assert!(
        results
            .iter()
            .all(|r| matches!(r, Err(Error::Cancelled(_))))
    );
    let events: Vec<_> = client
        .watch("t", AwaitOptions::new().cancel_token(token))
        .collect();
    assert!(
        matches!(events[..], [Err(Error::Cancelled(_))]),
        "{events:?}"
    );
}

#[test]
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
    let first = watch.next().unwrap().unwrap();
    let mut events = vec![first];
    events.extend(watch.by_ref().map(Result::unwrap));
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
    assert!(watch.next().is_none());
    assert_eq!(timer.sleeps(), reference_schedule(&options, &answers).0);
}

#[test]
fn watch_ends_with_the_error() {
    let answers = vec![
        Ok(response(200, RUNNING_10)),
        Ok(response(200, r#"{"status":"failed","error":"bad input"}"#)),
    ];
    let events: Vec<_> = client(poll_mock(&answers), &FakeTimer::new())
        .watch("t", AwaitOptions::new())
        .collect();
    assert_eq!(events.len(), 2);
    assert!(events[0].is_ok());
    assert!(
        matches!(&events[1], Err(Error::TaskFailed(f)) if f.message == "Task failed: bad input")
    );

    let mut mock = MockTransport::new();
    mock.expect_send().never();
    let events: Vec<_> = client(mock, &FakeTimer::new())
        .watch("", AwaitOptions::new())
        .collect();
    assert_eq!(events.len(), 1);
    assert!(matches!(&events[0], Err(Error::InvalidInput(_))));
}

#[test]
fn await_many_keeps_input_order_and_bounds_polls_in_flight() {
    let fleet = Arc::new(Fleet::gated(7));
    let timer = FakeTimer::new();
    let client = client(fleet.clone(), &timer);
    let mut ids: Vec<String> = (0..100).map(|i| format!("t-{i}")).collect();
    ids[3] = "fail-3".to_owned();
    ids[50] = String::new();
    let progress = Arc::new(Mutex::new(0));
    let count = progress.clone();
    let options = AwaitOptions::new()
        .interval(Duration::from_millis(10))
        .on_progress(move |_, _| *count.lock().unwrap() += 1)
        .max_in_flight(7);
    let results = client.await_many(ids.clone(), options);
    assert_eq!(results.len(), 100);
    for (id, result) in ids.iter().zip(&results) {
        match id.as_str() {
            "fail-3" => {
                assert!(matches!(result, Err(Error::TaskFailed(f)) if f.task_id == "fail-3"))
            }
            "" => assert!(matches!(result, Err(Error::InvalidInput(_)))),
            id => assert_eq!(
                result.as_ref().unwrap().result_data.as_ref().unwrap()["id"],
                id
            ),
        }
    }
    // The gate held the first polls until 7 were in flight: never more.
    assert_eq!(fleet.in_flight.max.load(SeqCst), 7);
    // Two polls per task, one for the failed one, none for the empty ID.
    assert_eq!(fleet.polls.load(SeqCst), 98 * 2 + 1);
    // One progress report per running answer.
    assert_eq!(*progress.lock().unwrap(), 98);
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

#[test]
fn await_many_on_one_thread_sleeps_until_the_earliest_poller() {
    // One poll in flight at a time: the order of events is fixed, so are the sleeps.
    let fleet = Arc::new(Fleet::gated(1));
    let timer = FakeTimer::new();
    let options = AwaitOptions::new()
        .interval(Duration::from_millis(100))
        .strategy(BackoffStrategy::Fixed)
        .max_in_flight(1);
    let results = client(fleet.clone(), &timer).await_many(["a", "b", "c"], options);
    assert!(results.iter().all(Result::is_ok));
    // a, b, c are polled at once (running); each is due 100 ms after its own poll, which
    // on the fake clock is the same instant: one sleep, then the three second polls.
    assert_eq!(timer.sleeps(), [Duration::from_millis(100)]);
    assert_eq!(fleet.polls.load(SeqCst), 6);
}

#[test]
fn await_many_scales_to_ten_thousand_tasks() {
    let fleet = Arc::new(Fleet::gated(16));
    let timer = FakeTimer::new();
    let ids: Vec<String> = (0..10_000).map(|i| format!("t-{i}")).collect();
    let results = client(fleet.clone(), &timer).await_many(ids, AwaitOptions::new());
    assert_eq!(results.len(), 10_000);
    assert!(results.iter().all(Result::is_ok));
    assert_eq!(fleet.polls.load(SeqCst), 20_000);
    assert_eq!(fleet.in_flight.max.load(SeqCst), 16);
}

#[test]
fn cancelling_await_many_keeps_the_results_already_obtained() {
    let fleet = Arc::new(Fleet::gated(1));
    let timer = FakeTimer::blocking();
    let token = CancelToken::new();
    let client = client(fleet, &timer);
    // One poll in flight at a time, so the first sleep starts only after every first poll
    // was answered: with several in flight, it could start while `now-1` was still on its
    // way, and a cancellation read before that answer rightly gives it up.
    let options = AwaitOptions::new()
        .max_in_flight(1)
        .cancel_token(token.clone());
    let results = cancel_during_first_sleep(&timer, &token, || {
        client.await_many(["now-1", "hang-2", "now-3", "hang-4"], options)
    });
    assert!(results[0].is_ok());
    assert!(matches!(results[1], Err(Error::Cancelled(_))));
    assert!(results[2].is_ok());
    assert!(matches!(results[3], Err(Error::Cancelled(_))));
}

#[test]
fn await_many_of_nothing_returns_nothing() {
    let mut mock = MockTransport::new();
    mock.expect_send().never();
    let results =
        client(mock, &FakeTimer::new()).await_many(Vec::<String>::new(), AwaitOptions::new());
    assert!(results.is_empty());
}
