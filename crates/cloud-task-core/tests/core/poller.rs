use std::collections::VecDeque;
use std::time::{Duration, Instant};

use cloud_task_core::{
    AwaitOptions, BackoffStrategy, Error, HttpResponse, Jitter, PollAction, Poller, TaskErrorCode,
    TaskStatus, TaskSuccess, TransportErrorKind, backoff_delay,
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
}

/// Drives a poller with a fake clock and scripted replies. Panics if it polls more than the
/// script holds.
fn run(options: AwaitOptions, replies: Vec<Reply>) -> Run {
    let start = Instant::now();
    let mut now = start;
    let mut replies: VecDeque<Reply> = replies.into();
    let mut poller = Poller::<Value>::new(&config(), "task-1", &options, now).unwrap();
    let mut events = Vec::new();
    for _ in 0..10_000 {
        match poller.poll_action(now) {
            PollAction::Send(request) => {
                assert_eq!(request.uri().path(), "/v3/users/me/tasks/task-1/result");
                events.push(Event::Sent);
                match replies
                    .pop_front()
                    .expect("polled more than the script holds")
                {
                    Reply::Response(r) => poller.handle_response(r, now),
                    Reply::Slow(d, r) => {
                        now += d;
                        poller.handle_response(r, now)
                    }
                    Reply::Transport => poller.handle_transport_error(
                        Error::transport(
                            TransportErrorKind::Connect,
                            std::io::Error::other("connection refused"),
                        ),
                        now,
                    ),
                }
            }
            PollAction::Progress { progress, status } => {
                options.report_progress(progress, &status);
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
    assert_eq!(Jitter::new(f64::NAN, 1).fraction, 0.0);
    assert_eq!(Jitter::new(7.0, 1).fraction, 1.0);
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
    let mut poller = Poller::<Value>::new(&config(), "t", &AwaitOptions::new(), now)
        .unwrap()
        .deduplicate_progress(true);
    let mut replies: VecDeque<Reply> =
        vec![running(5.0), running(5.0), running(6.0), success()].into();
    let mut progress = Vec::new();
    loop {
        match poller.poll_action(now) {
            PollAction::Send(_) => match replies.pop_front().unwrap() {
                Reply::Response(r) => poller.handle_response(r, now),
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
            assert_eq!(e.detail.unwrap()["error"], "boom");
        }
        other => panic!("{other:?}"),
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
            assert_eq!(e.status_code, Some(402));
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_402_or_credit_code_on_a_poll_is_a_quota_failure() {
    for reply in [
        status(402, r#"{"message":"Payment required"}"#),
        status(
            403,
            r#"{"message":"no credit","code":"OOMOL_INSUFFICIENT_CREDIT"}"#,
        ),
    ] {
        let r = run(AwaitOptions::new(), vec![reply]);
        match r.outcome.unwrap_err() {
            Error::TaskFailed(e) => {
                assert_eq!(e.code, Some(TaskErrorCode::InsufficientQuota));
                assert_eq!(e.status_code, Some(402));
                assert!(e.message.starts_with("Task failed: "));
            }
            other => panic!("{other:?}"),
        }
    }
}

#[test]
fn busy_server_then_timeout_quotes_the_last_error() {
    let options = AwaitOptions::new().timeout(ms(60));
    let r = run(options, vec![status(503, r#"{"message":"server busy"}"#)]);
    let err = r.outcome.unwrap_err();
    assert_eq!(
        err.to_string(),
        "Task polling timeout after 1 minutes. Last polling request error: server busy"
    );
    // The wait was cut at the deadline instead of sleeping the full 3 s.
    assert_eq!(r.waits, [60]);
    assert_eq!(r.elapsed, ms(60));
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
    let r = run(options, vec![running(1.0), running(2.0), running(3.0)]);
    assert_eq!(
        r.outcome.unwrap_err().to_string(),
        "Task polling timeout after 1 minutes"
    );
    assert_eq!(r.waits, [100, 100, 50]);
    assert_eq!(r.elapsed, ms(250));
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
    assert_eq!(r.elapsed, ms(4321));
    assert_eq!(r.waits, [1500, 2250, 571]);
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
fn unauthorised_forbidden_and_not_found_end_at_once() {
    for code in [401, 403, 404] {
        let r = run(
            AwaitOptions::new(),
            vec![status(code, r#"{"message":"nope"}"#)],
        );
        match r.outcome.unwrap_err() {
            Error::Api(api) => {
                assert_eq!(api.status.as_u16(), code);
                assert_eq!(api.message, "nope");
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(r.polls, 1);
        assert!(r.waits.is_empty());
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
            status(400, r#"{"message":"bad"}"#),
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

    // Capped by the deadline.
    let r = run(
        options.timeout(ms(1500)),
        vec![Reply::Response(response_with(
            429,
            "{}",
            ("retry-after", "60"),
        ))],
    );
    assert_eq!(r.waits, [1500]);
    assert!(matches!(r.outcome, Err(Error::Timeout(_))));
}

#[test]
fn data_that_cannot_fit_the_type_ends_the_wait() {
    let start = Instant::now();
    let mut poller = Poller::<Vec<u32>>::new(&config(), "t", &AwaitOptions::new(), start).unwrap();
    let PollAction::Send(_) = poller.poll_action(start) else {
        panic!()
    };
    poller.handle_response(
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
    let mut poller = Poller::<Value>::new(&config(), "t", &AwaitOptions::new(), start).unwrap();
    let PollAction::Send(_) = poller.poll_action(start) else {
        panic!()
    };
    // Asking again before feeding the response is a misuse, reported, not a panic.
    assert!(matches!(
        poller.poll_action(start),
        PollAction::Done(Err(Error::InvalidInput(_)))
    ));
    poller.handle_response(response(200, r#"{"status":"queued"}"#), start);
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
    let PollAction::Send(_) = poller.poll_action(start + ms(3000)) else {
        panic!()
    };
    poller.handle_response(response(200, r#"{"status":"success"}"#), start);
    let PollAction::Done(Ok(_)) = poller.poll_action(start) else {
        panic!()
    };
    assert!(matches!(
        poller.poll_action(start),
        PollAction::Done(Err(Error::InvalidInput(_)))
    ));
}

#[test]
fn cancellation_fed_as_an_error_ends_the_wait() {
    let start = Instant::now();
    let mut poller = Poller::<Value>::new(&config(), "t", &AwaitOptions::new(), start).unwrap();
    let PollAction::Send(_) = poller.poll_action(start) else {
        panic!()
    };
    poller.handle_transport_error(Error::Cancelled, start);
    assert!(matches!(
        poller.poll_action(start),
        PollAction::Done(Err(Error::Cancelled))
    ));
}

#[test]
fn empty_task_id_is_refused() {
    let err =
        Poller::<Value>::new(&config(), " ", &AwaitOptions::new(), Instant::now()).unwrap_err();
    crate::assert_invalid(err, "task_id", "task_id must not be empty");
}
