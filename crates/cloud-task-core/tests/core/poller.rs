use std::collections::VecDeque;
use std::time::{Duration, Instant};

use cloud_task_core::{
    AwaitOptions, BackoffStrategy, CancelToken, Config, Error, HttpResponse, Jitter, Limit,
    PollAction, Poller, TaskErrorCode, TaskStatus, TaskSuccess, TransportErrorKind, backoff_delay,
    http::StatusCode,
};
use serde_json::{Value, json};

use crate::{config, response, response_with};

/// What the fake driver saw.
#[derive(Debug, PartialEq)]
enum Event {
    Sent,
    Waited(u128),
    Progress(f64, TaskStatus),
}

enum Reply {
    Response(HttpResponse),
    Transport,
    /// The server takes this long to answer.
    Slow(Duration, HttpResponse),
    /// The server never answers: the driver asks the poller again at the poll's deadline.
    Never,
}

fn running(progress: f64) -> Reply {
    Reply::Response(response(
        200,
        &format!(r#"{{"status":"running","progress":{progress}}}"#),
    ))
}

fn success() -> Reply {
    Reply::Response(response(
        200,
        r#"{"status":"success","resultURL":"https://r","resultData":[{"ok":true}]}"#,
    ))
}

fn status(code: u16, body: &str) -> Reply {
    Reply::Response(response(code, body))
}

struct Run {
    events: Vec<Event>,
    outcome: Result<TaskSuccess<Value>, Error>,
    elapsed: Duration,
    polls: u64,
    waits: Vec<u128>,
    /// The time each poll was given to answer.
    budgets: Vec<Duration>,
}

/// Drives a poller with a fake clock and scripted replies. Panics if it polls more than the
/// script holds.
fn run(options: AwaitOptions, replies: Vec<Reply>) -> Run {
    run_with(&config(), options, replies)
}

fn run_with(config: &Config, options: AwaitOptions, replies: Vec<Reply>) -> Run {
    let start = Instant::now();
    let mut now = start;
    let mut replies: VecDeque<Reply> = replies.into();
    let mut poller = Poller::new(config, "task-1", &options, now).unwrap();
    let mut events = Vec::new();
    let mut budgets = Vec::new();
    for _ in 0..10_000 {
        match poller.poll_action(now) {
            PollAction::Send(t) => {
                assert_eq!(t.request.uri().path(), "/v3/users/me/tasks/task-1/result");
                assert_eq!(t.limits(now).timeout, t.deadline - now);
                budgets.push(t.deadline - now);
                events.push(Event::Sent);
                match replies
                    .pop_front()
                    .expect("polled more than the script holds")
                {
                    Reply::Response(r) => poller.handle_response(t.id, r, now),
                    Reply::Slow(d, r) => {
                        now += d;
                        poller.handle_response(t.id, r, now)
                    }
                    Reply::Transport => poller.handle_transport_error(
                        t.id,
                        Error::transport(
                            TransportErrorKind::Connect,
                            std::io::Error::other("connection refused"),
                        ),
                        now,
                    ),
                    Reply::Never => now = t.deadline,
                }
            }
            PollAction::Progress { progress, status } => {
                poller
                    .options()
                    .report_progress(poller.task_id(), progress, &status);
                events.push(Event::Progress(progress, status));
            }
            PollAction::Wait(d) => {
                events.push(Event::Waited(d.as_millis()));
                now += d;
            }
            PollAction::Done(outcome) => {
                assert!(poller.is_finished());
                let waits = events
                    .iter()
                    .filter_map(|e| match e {
                        Event::Waited(ms) => Some(*ms),
                        _ => None,
                    })
                    .collect();
                return Run {
                    waits,
                    events,
                    outcome,
                    elapsed: now - start,
                    polls: poller.polls(),
                    budgets,
                };
            }
        }
    }
    panic!("the poller never finished");
}

fn ms(v: u64) -> Duration {
    Duration::from_millis(v)
}

#[test]
fn exponential_schedule_table() {
    let options = AwaitOptions::new()
        .interval(ms(2000))
        .max_interval(ms(10_000))
        .strategy(BackoffStrategy::Exponential);
    let r = run(
        options,
        vec![
            running(1.0),
            running(2.0),
            running(3.0),
            running(4.0),
            running(5.0),
            success(),
        ],
    );
    assert_eq!(r.waits, [3000, 4500, 6750, 10_000, 10_000]);
    assert_eq!(r.polls, 6);
    assert_eq!(r.elapsed, ms(34_250));
    assert!(r.outcome.is_ok());
}

#[test]
fn fixed_schedule() {
    let options = AwaitOptions::new()
        .interval(ms(500))
        .strategy(BackoffStrategy::Fixed);
    let r = run(
        options,
        vec![running(1.0), running(2.0), running(3.0), success()],
    );
    assert_eq!(r.waits, [500, 500, 500]);
}

#[test]
fn defaults_are_effectively_a_fixed_three_seconds() {
    let r = run(
        AwaitOptions::new(),
        vec![running(1.0), running(2.0), success()],
    );
    assert_eq!(r.waits, [3000, 3000]);
}

#[test]
fn a_larger_interval_without_max_is_kept() {
    let r = run(
        AwaitOptions::new().interval(ms(5000)),
        vec![running(1.0), running(2.0), success()],
    );
    assert_eq!(r.waits, [5000, 5000]);
}

#[test]
fn backoff_is_a_pure_function_of_the_attempt() {
    let d =
        |strategy, attempt| backoff_delay(strategy, ms(1000), ms(4000), attempt, None).as_millis();
    let exp: Vec<u128> = (0..7).map(|a| d(BackoffStrategy::Exponential, a)).collect();
    assert_eq!(exp, [1000, 1500, 2250, 3375, 4000, 4000, 4000]);
    let fixed: Vec<u128> = (0..3).map(|a| d(BackoffStrategy::Fixed, a)).collect();
    assert_eq!(fixed, [1000, 1000, 1000]);
    // Absurd attempt numbers neither panic nor exceed the cap.
    assert_eq!(d(BackoffStrategy::Exponential, u32::MAX), 4000);
    let huge = backoff_delay(
        BackoffStrategy::Exponential,
        Duration::MAX,
        Duration::MAX,
        u32::MAX,
        None,
    );
    assert!(huge > Duration::from_secs(1_000_000));
}

#[test]
fn jitter_is_seeded_and_bounded() {
    let with = |seed| {
        (1..50)
            .map(|a| {
                backoff_delay(
                    BackoffStrategy::Fixed,
                    ms(1000),
                    ms(1000),
                    a,
                    Some(Jitter::new(0.5, seed)),
                )
            })
            .collect::<Vec<_>>()
    };
    let a = with(7);
    assert_eq!(a, with(7));
    assert_ne!(a, with(8));
    assert!(a.iter().all(|d| *d > ms(500) && *d <= ms(1000)), "{a:?}");
    assert!(a.iter().any(|d| *d < ms(900)));
    assert_eq!(Jitter::new(f64::NAN, 1).fraction(), 0.0);
    assert_eq!(Jitter::new(7.0, 1).fraction(), 1.0);
    assert_eq!(Jitter::new(-3.0, 9).fraction(), 0.0);
    assert_eq!(Jitter::new(0.25, 9).seed(), 9);
}

#[test]
fn progress_is_reported_for_each_in_progress_result() {
    use std::sync::{Arc, Mutex};
    let seen = Arc::new(Mutex::new(Vec::new()));
    let s = seen.clone();
    let options = AwaitOptions::new()
        .interval(ms(10))
        .strategy(BackoffStrategy::Fixed)
        .on_progress(move |p, st| s.lock().unwrap().push((p, st.clone())));
    let r = run(
        options,
        vec![
            status(200, r#"{"status":"queued","progress":0}"#),
            running(50.0),
            running(50.0),
            success(),
        ],
    );
    assert_eq!(
        r.events,
        [
            Event::Sent,
            Event::Progress(0.0, TaskStatus::Queued),
            Event::Waited(10),
            Event::Sent,
            Event::Progress(50.0, TaskStatus::Running),
            Event::Waited(10),
            Event::Sent,
            Event::Progress(50.0, TaskStatus::Running),
            Event::Waited(10),
            Event::Sent,
        ]
    );
    assert_eq!(seen.lock().unwrap().len(), 3);
}

#[test]
fn deduplicated_progress_for_streams() {
    let start = Instant::now();
    let mut now = start;
    let mut poller = Poller::new(&config(), "t", &AwaitOptions::new(), now)
        .unwrap()
        .deduplicate_progress(true);
    let mut replies: VecDeque<Reply> =
        vec![running(5.0), running(5.0), running(6.0), success()].into();
    let mut progress = Vec::new();
    loop {
        match poller.poll_action(now) {
            PollAction::Send(t) => match replies.pop_front().unwrap() {
                Reply::Response(r) => poller.handle_response(t.id, r, now),
                _ => unreachable!(),
            },
            PollAction::Progress { progress: p, .. } => progress.push(p),
            PollAction::Wait(d) => now += d,
            PollAction::Done(outcome) => {
                outcome.unwrap();
                break;
            }
        }
    }
    assert_eq!(progress, [5.0, 6.0]);
}

#[test]
fn success_returns_the_result() {
    let r = run(AwaitOptions::new(), vec![success()]);
    let result = r.outcome.unwrap();
    assert_eq!(result.result_url.as_deref(), Some("https://r"));
    assert_eq!(result.result_data, Some(json!([{"ok": true}])));
    assert_eq!(r.events, [Event::Sent]);
}

#[test]
fn failure_is_a_classified_task_failed_error() {
    let r = run(
        AwaitOptions::new(),
        vec![
            running(10.0),
            status(200, r#"{"status":"failed","error":"boom"}"#),
        ],
    );
    match r.outcome.unwrap_err() {
        Error::TaskFailed(e) => {
            assert_eq!(e.task_id, "task-1");
            assert_eq!(e.message, "Task failed: boom");
            assert_eq!(e.code, None);
            // As the official SDKs keep it: the backend's `error` string...
            assert_eq!(e.detail, Some(json!("boom")));
        }
        other => panic!("{other:?}"),
    }

    // ...or the result object exactly as received when it has none (no `"error": null`
    // added), an empty one, or one that is not a string.
    for body in [
        r#"{"status":"failed"}"#,
        r#"{"status":"failed","error":""}"#,
        r#"{"status":"failed","error":{"message":"deep","code":7},"extra":1}"#,
    ] {
        let r = run(AwaitOptions::new(), vec![status(200, body)]);
        match r.outcome.unwrap_err() {
            Error::TaskFailed(e) => {
                let received: Value = serde_json::from_str(body).unwrap();
                assert_eq!(e.detail, Some(received), "{body}");
            }
            other => panic!("{other:?}"),
        }
    }

    let r = run(
        AwaitOptions::new(),
        vec![status(
            200,
            r#"{"status":"failed","error":"Insufficient quota"}"#,
        )],
    );
    let err = r.outcome.unwrap_err();
    assert!(err.is_insufficient_quota());
    match err {
        Error::TaskFailed(e) => {
            assert_eq!(e.code, Some(TaskErrorCode::InsufficientQuota));
            assert_eq!(e.status_code, Some(StatusCode::PAYMENT_REQUIRED));
            assert_eq!(e.detail, Some(json!("Insufficient quota")));
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_402_or_credit_code_on_a_poll_is_a_billing_failure() {
    for (reply, code) in [
        (
            status(402, r#"{"message":"Payment required"}"#),
            TaskErrorCode::PaymentRequired,
        ),
        (
            status(402, r#"{"message":"Insufficient balance"}"#),
            TaskErrorCode::InsufficientQuota,
        ),
        (
            status(
                403,
                r#"{"message":"no money","code":"OOMOL_INSUFFICIENT_CREDIT"}"#,
            ),
            TaskErrorCode::InsufficientQuota,
        ),
    ] {
        let r = run(AwaitOptions::new(), vec![reply]);
        let error = r.outcome.unwrap_err();
        assert!(error.is_insufficient_quota(), "{error:?}");
        match error {
            Error::TaskFailed(e) => {
                assert_eq!(e.code, Some(code));
                assert_eq!(e.status_code, Some(StatusCode::PAYMENT_REQUIRED));
                assert!(e.message.starts_with("Task failed: "));
            }
            other => panic!("{other:?}"),
        }
    }
}

#[test]
fn busy_server_then_timeout_quotes_the_last_error() {
    let options = AwaitOptions::new().timeout(ms(60));
    let busy = || status(503, r#"{"message":"server busy"}"#);
    let r = run(options, vec![busy(), busy()]);
    let err = r.outcome.unwrap_err();
    assert_eq!(
        err.to_string(),
        "Task polling timeout after 1 minutes. Last polling request error: server busy"
    );
    // Instead of sleeping the full 3 s, the last poll went out a tenth of the timeout
    // before the deadline, with until the deadline to answer.
    assert_eq!(r.waits, [54]);
    assert_eq!(r.budgets, [ms(60), ms(6)]);
    assert_eq!(r.elapsed, ms(54));
    assert_eq!(err.task_id(), Some("task-1"));
    match err {
        Error::Timeout(t) => {
            assert!(matches!(t.last_error, Some(Error::Api(_))));
            assert!(std::error::Error::source(&*t).is_some());
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn timeout_without_a_failed_poll() {
    let options = AwaitOptions::new()
        .interval(ms(100))
        .strategy(BackoffStrategy::Fixed)
        .timeout(ms(250));
    let r = run(
        options,
        vec![running(1.0), running(2.0), running(3.0), running(4.0)],
    );
    assert_eq!(
        r.outcome.unwrap_err().to_string(),
        "Task polling timeout after 1 minutes"
    );
    // The fourth poll would be at 300 ms: it goes at 225 ms instead, the last one.
    assert_eq!(r.waits, [100, 100, 25]);
    assert_eq!(r.polls, 4);
    assert_eq!(r.elapsed, ms(225));
}

#[test]
fn no_wait_ever_passes_the_deadline() {
    let options = AwaitOptions::new()
        .interval(ms(1000))
        .max_interval(ms(60_000))
        .timeout(ms(4321));
    let replies = (0..20).map(|i| running(i as f64)).collect();
    let r = run(options, replies);
    assert!(matches!(r.outcome, Err(Error::Timeout(_))));
    // The last poll leaves the final window (a tenth of the timeout, under 1 s).
    let last = Duration::from_micros(4_321_000 - 432_100);
    assert_eq!(r.elapsed, last);
    assert_eq!(r.waits, [1500, 2250, 138]);
    assert!(r.budgets.iter().all(|b| *b <= ms(4321)));
}

#[test]
fn the_last_poll_before_the_deadline_finds_a_finished_task() {
    // The interval is longer than the whole timeout: without a last poll, a task that
    // finished in the meantime would be reported as a timeout.
    let options = AwaitOptions::new().interval(ms(60_000)).timeout(ms(10_000));
    let r = run(options, vec![running(10.0), success()]);
    assert!(r.outcome.is_ok(), "{:?}", r.outcome);
    assert_eq!(r.waits, [9000]);
    assert_eq!(r.budgets, [ms(10_000), ms(1000)]);
}

#[test]
fn every_poll_is_bounded_by_the_request_timeout_and_the_deadline() {
    let config = Config::builder().timeout(ms(700)).build().unwrap();
    let r = run_with(
        &config,
        AwaitOptions::new().interval(ms(100)).timeout(ms(1000)),
        vec![
            running(1.0),
            running(2.0),
            running(3.0),
            running(4.0),
            running(5.0),
            running(6.0),
            running(7.0),
        ],
    );
    assert!(matches!(r.outcome, Err(Error::Timeout(_))));
    assert_eq!(r.budgets[0], ms(700));
    // Each budget ends by the deadline.
    let mut at = Duration::ZERO;
    for (budget, wait) in r.budgets.iter().zip(r.waits.iter().chain([0].iter())) {
        assert!(
            at + *budget <= ms(1000),
            "a poll at {at:?} was given {budget:?}"
        );
        at += ms(*wait as u64);
    }
}

#[test]
fn a_poll_never_answered_is_given_up_at_its_deadline() {
    // One second of timeout against a server that never answers: the wait ends at the
    // deadline, not after the 30 s request timeout.
    let r = run(AwaitOptions::new().timeout(ms(1000)), vec![Reply::Never]);
    let error = r.outcome.unwrap_err();
    assert_eq!(r.elapsed, ms(1000));
    assert_eq!(r.budgets, [ms(1000)]);
    assert_eq!(
        error.to_string(),
        "Task polling timeout after 1 minutes. Last polling request error: request timed out: \
         no complete response within 1000 ms"
    );
    // Without a timeout, a hung poll is a failed poll after the request timeout, retried.
    let r = run(AwaitOptions::new(), vec![Reply::Never, success()]);
    assert!(r.outcome.is_ok());
    assert_eq!(r.elapsed, Duration::from_secs(33));
}

#[test]
fn a_result_arriving_after_the_deadline_is_kept() {
    let options = AwaitOptions::new().timeout(ms(100));
    let r = run(
        options,
        vec![Reply::Slow(
            ms(5000),
            response(200, r#"{"status":"success","resultURL":null}"#),
        )],
    );
    assert!(r.outcome.is_ok());
}

#[test]
fn statuses_retrying_cannot_mend_end_the_wait_at_once() {
    for code in [400, 401, 403, 404, 405, 409, 410, 413, 422, 451, 304] {
        let r = run(
            AwaitOptions::new(),
            vec![status(code, r#"{"message":"nope"}"#)],
        );
        match r.outcome.unwrap_err() {
            Error::Api(api) => {
                assert_eq!(api.status.as_u16(), code);
                assert_eq!(api.message, "nope");
            }
            other => panic!("{code}: {other:?}"),
        }
        assert_eq!(r.polls, 1, "{code}");
        assert!(r.waits.is_empty(), "{code}");
    }
}

#[test]
fn statuses_retrying_may_mend_are_retried() {
    for code in [408, 425, 429, 500, 502, 503, 504, 599] {
        let r = run(
            AwaitOptions::new().interval(ms(10)),
            vec![status(code, "{}"), status(code, "{}"), success()],
        );
        assert!(r.outcome.is_ok(), "{code}: {:?}", r.outcome);
        assert_eq!(r.polls, 3, "{code}");
    }
}

#[test]
fn failed_polls_are_retried_with_backoff() {
    let options = AwaitOptions::new().interval(ms(100)).max_interval(ms(1000));
    let r = run(
        options,
        vec![
            Reply::Transport,
            status(500, "oops"),
            status(200, "{not json"),
            status(429, r#"{"message":"slow down"}"#),
            success(),
        ],
    );
    assert!(r.outcome.is_ok());
    assert_eq!(r.waits, [150, 225, 337, 506]);
}

#[test]
fn retry_after_is_a_floor_for_429_and_503() {
    let options = AwaitOptions::new().interval(ms(100));
    let r = run(
        options.clone(),
        vec![
            Reply::Response(response_with(429, "{}", ("retry-after", "7"))),
            Reply::Response(response_with(503, "{}", ("retry-after", "2"))),
            // A Retry-After on another status is not a floor.
            Reply::Response(response_with(500, "{}", ("retry-after", "9"))),
            success(),
        ],
    );
    assert!(r.outcome.is_ok());
    assert_eq!(r.waits, [7000, 2000, 337]);

    // Capped by the deadline: the last poll goes out before it.
    let slow_down = || Reply::Response(response_with(429, "{}", ("retry-after", "60")));
    let r = run(options.timeout(ms(1500)), vec![slow_down(), slow_down()]);
    assert_eq!(r.waits, [1350]);
    assert!(matches!(r.outcome, Err(Error::Timeout(_))));
}

#[test]
fn zero_intervals_and_timeouts_are_refused_before_polling() {
    for (options, field) in [
        (AwaitOptions::new().interval(Duration::ZERO), "interval"),
        (
            AwaitOptions::new().max_interval(Duration::ZERO),
            "max_interval",
        ),
        (AwaitOptions::new().timeout(Duration::ZERO), "timeout"),
        (
            AwaitOptions::new().interval(Duration::from_micros(999)),
            "interval",
        ),
    ] {
        let error = Poller::new(&config(), "t", &options, Instant::now()).unwrap_err();
        match error {
            Error::InvalidInput(e) => {
                assert_eq!(e.field, field);
                assert!(
                    e.message
                        .starts_with(&format!("{field} must be at least 1 ms"))
                );
            }
            other => panic!("{other:?}"),
        }
    }
    assert!(AwaitOptions::new().interval(ms(1)).validate().is_ok());
}

#[test]
fn data_that_cannot_fit_the_type_ends_the_wait() {
    let start = Instant::now();
    let mut poller =
        Poller::new_as::<Vec<u32>>(&config(), "t", &AwaitOptions::new(), start).unwrap();
    let PollAction::Send(t) = poller.poll_action(start) else {
        panic!()
    };
    poller.handle_response(
        t.id,
        response(
            200,
            r#"{"status":"success","resultURL":null,"resultData":"text"}"#,
        ),
        start,
    );
    match poller.poll_action(start) {
        PollAction::Done(Err(Error::Decode(d))) => assert_eq!(d.what, "task result data"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn early_wake_waits_the_rest_and_misuse_is_an_error() {
    let start = Instant::now();
    let mut poller = Poller::new(&config(), "t", &AwaitOptions::new(), start).unwrap();
    let PollAction::Send(t) = poller.poll_action(start) else {
        panic!()
    };
    // Asking again before feeding the response: wait for it, up to its deadline.
    let PollAction::Wait(d) = poller.poll_action(start + ms(10)) else {
        panic!()
    };
    assert_eq!(d, Duration::from_secs(30) - ms(10));
    // An answer to another request is ignored.
    let PollAction::Send(_) = Poller::new(&config(), "u", &AwaitOptions::new(), start)
        .unwrap()
        .poll_action(start)
    else {
        panic!()
    };
    poller.handle_response(t.id, response(200, r#"{"status":"queued"}"#), start);
    let PollAction::Progress { .. } = poller.poll_action(start) else {
        panic!()
    };
    let PollAction::Wait(d) = poller.poll_action(start) else {
        panic!()
    };
    assert_eq!(d, ms(3000));
    let PollAction::Wait(rest) = poller.poll_action(start + ms(1000)) else {
        panic!()
    };
    assert_eq!(rest, ms(2000));
    let PollAction::Send(second) = poller.poll_action(start + ms(3000)) else {
        panic!()
    };
    // The first poll's answer, arriving late, is not taken for the second's.
    poller.handle_response(t.id, response(200, r#"{"status":"failed"}"#), start);
    poller.handle_response(second.id, response(200, r#"{"status":"success"}"#), start);
    let PollAction::Done(Ok(_)) = poller.poll_action(start) else {
        panic!()
    };
    assert!(matches!(
        poller.poll_action(start),
        PollAction::Done(Err(Error::Misuse(_)))
    ));
}

#[test]
fn cancellation_is_an_input_and_keeps_the_task_id() {
    let start = Instant::now();
    // Fed by the driver...
    let mut poller = Poller::new(&config(), "t-9", &AwaitOptions::new(), start).unwrap();
    let PollAction::Send(t) = poller.poll_action(start) else {
        panic!()
    };
    poller.cancel();
    // ...the answer in flight is ignored.
    poller.handle_response(t.id, response(200, r#"{"status":"success"}"#), start);
    match poller.poll_action(start) {
        PollAction::Done(Err(Error::Cancelled(c))) => assert_eq!(c.task_id.as_deref(), Some("t-9")),
        other => panic!("{other:?}"),
    }
    // ...or through the options' token, seen at the next action.
    let token = CancelToken::new();
    let options = AwaitOptions::new().cancel_token(token.clone());
    let mut poller = Poller::new(&config(), "t-9", &options, start).unwrap();
    token.cancel();
    let PollAction::Done(Err(error)) = poller.poll_action(start) else {
        panic!()
    };
    assert_eq!(
        error.to_string(),
        "the wait for task t-9 was cancelled (the task keeps running)"
    );
    assert_eq!(error.task_id(), Some("t-9"));
    // A cancellation from the transport ends it the same way.
    let mut poller = Poller::new(&config(), "t-9", &AwaitOptions::new(), start).unwrap();
    let PollAction::Send(t) = poller.poll_action(start) else {
        panic!()
    };
    poller.handle_transport_error(t.id, Error::cancelled(), start);
    let PollAction::Done(Err(error)) = poller.poll_action(start) else {
        panic!()
    };
    assert_eq!(error.task_id(), Some("t-9"));
    // A result already obtained is never replaced by a cancellation.
    let mut poller = Poller::new(&config(), "t-9", &AwaitOptions::new(), start).unwrap();
    let PollAction::Send(t) = poller.poll_action(start) else {
        panic!()
    };
    poller.handle_response(t.id, response(200, r#"{"status":"success"}"#), start);
    poller.cancel();
    assert!(matches!(poller.poll_action(start), PollAction::Done(Ok(_))));
}

#[test]
fn redirects_within_the_origin_are_followed_and_others_end_the_wait() {
    let start = Instant::now();
    let config = Config::builder()
        .api_key("k")
        .base_url("https://api.test")
        .default_header("X-Api-Key", "secret-header")
        .build()
        .unwrap();
    let mut poller = Poller::new(&config, "t", &AwaitOptions::new(), start).unwrap();
    let PollAction::Send(first) = poller.poll_action(start) else {
        panic!()
    };
    poller.handle_response(
        first.id,
        response_with(307, "", ("location", "https://api.test/v3/moved/t/result")),
        start,
    );
    let PollAction::Send(second) = poller.poll_action(start) else {
        panic!()
    };
    assert_eq!(second.request.uri(), "https://api.test/v3/moved/t/result");
    assert_eq!(second.deadline, first.deadline);
    assert_eq!(poller.polls(), 1);
    poller.handle_response(
        second.id,
        response_with(302, "", ("location", "http://evil.test:8080/steal")),
        start,
    );
    match poller.poll_action(start) {
        PollAction::Done(Err(Error::Redirect(r))) => {
            assert_eq!(r.target_origin.as_deref(), Some("http://evil.test:8080"));
            assert_eq!(r.status.as_u16(), 302);
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_body_over_the_limit_ends_the_wait() {
    let config = Config::builder().max_response_body(1024).build().unwrap();
    let big = format!(
        r#"{{"status":"running","progress":1,"pad":"{}"}}"#,
        "x".repeat(2000)
    );
    let r = run_with(&config, AwaitOptions::new(), vec![status(200, &big)]);
    match r.outcome.unwrap_err() {
        Error::Limit(l) => {
            assert_eq!(l.limit, Limit::ResponseBody);
            assert_eq!(l.max, 1024);
            assert_eq!(l.operation, "get_task_result");
        }
        other => panic!("{other:?}"),
    }
    // Reported by the transport while reading, it ends the wait too, named after the poll.
    let start = Instant::now();
    let mut poller = Poller::new(&config, "t", &AwaitOptions::new(), start).unwrap();
    let PollAction::Send(t) = poller.poll_action(start) else {
        panic!()
    };
    poller.handle_transport_error(t.id, t.limits(start).body_too_large(), start);
    let PollAction::Done(Err(error)) = poller.poll_action(start) else {
        panic!()
    };
    assert!(
        error
            .to_string()
            .starts_with("get_task_result: the response body exceeds 1024 bytes"),
        "{error}"
    );
}

#[test]
fn empty_task_id_is_refused() {
    let err = Poller::new(&config(), " ", &AwaitOptions::new(), Instant::now()).unwrap_err();
    crate::assert_invalid(err, "task_id", "task_id must not be empty");
}

#[test]
fn a_configuration_gives_default_options_that_a_wait_overrides_setting_by_setting() {
    use std::sync::{Arc, Mutex};
    let reported: Arc<Mutex<Vec<(String, f64)>>> = Arc::default();
    let sink = reported.clone();
    let config = Config::builder()
        .await_options(
            AwaitOptions::new()
                .interval(Duration::from_millis(30))
                .strategy(BackoffStrategy::Fixed)
                .timeout(Duration::from_secs(1))
                .on_task_progress(move |id, progress, _| {
                    sink.lock().unwrap().push((id.to_owned(), progress))
                }),
        )
        .build()
        .unwrap();
    // The defaults: a 30 ms fixed interval, and the per-task callback.
    let r = run_with(
        &config,
        AwaitOptions::new(),
        vec![running(10.0), running(20.0), success()],
    );
    r.outcome.unwrap();
    assert_eq!(r.waits, [30, 30]);
    assert_eq!(
        *reported.lock().unwrap(),
        [("task-1".to_owned(), 10.0), ("task-1".to_owned(), 20.0)]
    );
    // A wait's own interval wins; its timeout (none set) is the default's.
    let r = run_with(
        &config,
        AwaitOptions::new().interval(Duration::from_millis(70)),
        vec![running(10.0), Reply::Never],
    );
    assert_eq!(r.waits[0], 70);
    assert!(matches!(r.outcome, Err(Error::Timeout(_))));
    assert!(r.elapsed <= Duration::from_secs(1));
}

#[test]
fn bad_default_options_are_refused_when_the_configuration_is_built() {
    let error = Config::builder()
        .await_options(AwaitOptions::new().interval(Duration::ZERO))
        .build()
        .unwrap_err();
    crate::assert_invalid(
        error,
        "interval",
        "interval must be at least 1 ms, got 0 ms",
    );
    let error = AwaitOptions::new().max_in_flight(0).validate().unwrap_err();
    crate::assert_invalid(error, "max_in_flight", "max_in_flight must be at least 1");
}

#[test]
fn each_failed_poll_tried_again_is_reported_with_its_wait() {
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let log = seen.clone();
    let options = AwaitOptions::new()
        .interval(ms(100))
        .strategy(BackoffStrategy::Fixed)
        .on_retry(move |task_id, error, wait| {
            log.lock().unwrap().push((
                task_id.to_owned(),
                error.status().map(|s| s.as_u16()),
                wait,
            ));
        });
    let run = run(
        options,
        vec![
            Reply::Response(response_with(
                429,
                r#"{"message":"slow down"}"#,
                ("retry-after", "2"),
            )),
            Reply::Transport,
            success(),
        ],
    );
    assert!(run.outcome.is_ok());
    let seen = seen.lock().unwrap();
    assert_eq!(
        *seen,
        vec![
            ("task-1".to_owned(), Some(429), Duration::from_secs(2)),
            ("task-1".to_owned(), None, ms(100)),
        ]
    );
    // The waits reported are those the poller then waited.
    assert_eq!(run.waits, vec![2000, 100]);
}

#[test]
fn a_poll_that_ends_the_wait_is_not_reported_as_retried() {
    let calls = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let count = calls.clone();
    let options = AwaitOptions::new().on_retry(move |_, _, _| {
        count.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    });
    let run = run(options, vec![status(404, r#"{"message":"no such task"}"#)]);
    assert!(run.outcome.is_err());
    assert_eq!(calls.load(std::sync::atomic::Ordering::SeqCst), 0);
}
