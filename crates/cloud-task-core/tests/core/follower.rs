//! The follower: a task's result and its logs as one stream of events, driven with a fake
//! clock and a scripted server whose logs grow as the task runs.

use std::time::{Duration, Instant};

use cloud_task_core::{
    AwaitOptions, BackoffStrategy, CancelToken, Config, DRAIN_INTERVAL, Error, FollowAction,
    Follower, HttpResponse, LOG_PAGE_SIZE, Limit, LogEvent, MAX_DRAIN_ROUNDS, TaskEvent,
    TaskStatus,
};
use serde_json::{Value, json};

use crate::{config, response};

/// A scripted task: it runs until `ends_at`, writing a log line every `every`, then (after
/// `lag` more) its end entries; `fail` makes it fail.
#[derive(Clone)]
struct Task {
    ends_at: Duration,
    every: Duration,
    lag: Duration,
    session_end: bool,
    fail: bool,
}

impl Task {
    fn lines_at(&self, t: Duration) -> usize {
        let until = t.min(self.ends_at);
        (until.as_millis() / self.every.as_millis()) as usize
    }

    /// The log entries written by `t`.
    fn logs_at(&self, t: Duration) -> Vec<Value> {
        let mut logs: Vec<Value> = (0..self.lines_at(t))
            .map(|i| json!({"type": "BlockLog", "stacks": "[]", "log": format!("line {i}"), "stdio": "stdout"}))
            .collect();
        if t >= self.ends_at + self.lag {
            logs.push(json!({"type": "BlockOutput", "stacks": "[]", "handle": "out", "output": "{\"n\":1}"}));
            logs.push(
                json!({"type": "BlockFinished", "stacks": "[]", "result": "{\"out\":{\"n\":1}}"}),
            );
            if self.session_end {
                logs.push(json!({"type": "SessionFinished", "stacks": "[]"}));
            }
        }
        logs
    }

    fn result_at(&self, t: Duration) -> Value {
        if t < self.ends_at {
            json!({"status": "running", "progress": (t.as_millis() * 100 / self.ends_at.as_millis()) as f64})
        } else if self.fail {
            json!({"status": "failed", "error": "boom"})
        } else {
            json!({"status": "success", "resultURL": null, "resultData": [{"n": 1}]})
        }
    }
}

/// What a run saw.
#[derive(Debug)]
struct Run {
    events: Vec<TaskEvent>,
    outcome: Result<(), Error>,
    /// The pages read, in order.
    pages: Vec<u32>,
    polls: usize,
    elapsed: Duration,
    /// The most events that waited to be handed out at once.
    max_pending: usize,
}

fn follow(task: &Task, options: AwaitOptions, config: &Config) -> Run {
    follow_with(task, options, config, |_, _, answer| answer)
}

/// Runs a follower against `task`; `tamper(path, t, answer)` may change an answer.
fn follow_with(
    task: &Task,
    options: AwaitOptions,
    config: &Config,
    tamper: impl Fn(&str, Duration, Option<HttpResponse>) -> Option<HttpResponse>,
) -> Run {
    let start = Instant::now();
    let mut now = start;
    let mut follower = Follower::new(config, "t-1", &options, now).unwrap();
    let mut run = Run {
        events: Vec::new(),
        outcome: Ok(()),
        pages: Vec::new(),
        polls: 0,
        elapsed: Duration::ZERO,
        max_pending: 0,
    };
    let mut pending_since_send = 0;
    for _ in 0..100_000 {
        match follower.poll_action(now) {
            FollowAction::Send(t) => {
                run.max_pending = run.max_pending.max(pending_since_send);
                pending_since_send = 0;
                let path = t.request.uri().path().to_owned();
                let at = now - start;
                let answer = if path.ends_with("/result") {
                    run.polls += 1;
                    Some(response(200, &task.result_at(at).to_string()))
                } else {
                    let query = t.request.uri().query().unwrap_or_default().to_owned();
                    let page: usize = query.trim_start_matches("page=").parse().unwrap();
                    run.pages.push(page as u32);
                    let logs = task.logs_at(at);
                    let slice: Vec<Value> = logs
                        .into_iter()
                        .skip((page - 1) * LOG_PAGE_SIZE)
                        .take(LOG_PAGE_SIZE)
                        .collect();
                    Some(response(200, &json!({ "logs": slice }).to_string()))
                };
                match tamper(&path, at, answer) {
                    Some(r) => follower.handle_response(t.id, r, now),
                    None => follower.handle_transport_error(
                        t.id,
                        Error::transport(
                            cloud_task_core::TransportErrorKind::Io,
                            std::io::Error::other("reset"),
                        ),
                        now,
                    ),
                }
            }
            FollowAction::Event(event) => {
                pending_since_send += 1;
                run.events.push(event);
            }
            FollowAction::Wait(d) => now += d,
            FollowAction::Done(outcome) => {
                run.outcome = outcome;
                run.elapsed = now - start;
                return run;
            }
        }
    }
    panic!("the follower never ended");
}

fn logs(events: &[TaskEvent]) -> Vec<String> {
    events
        .iter()
        .filter_map(|e| match e {
            TaskEvent::Log {
                event: LogEvent::BlockLog { log, .. },
                ..
            } => Some(log.clone()),
            TaskEvent::Log { event: other, .. } => Some(other.type_name().to_owned()),
            _ => None,
        })
        .collect()
}

fn fixed(ms: u64) -> AwaitOptions {
    AwaitOptions::new()
        .interval(Duration::from_millis(ms))
        .strategy(BackoffStrategy::Fixed)
}

#[test]
fn every_entry_once_in_order_across_pages_then_the_result() {
    // 250 lines over 25 s (one every 100 ms), polled every second: pages fill and advance.
    let task = Task {
        ends_at: Duration::from_secs(25),
        every: Duration::from_millis(100),
        lag: Duration::ZERO,
        session_end: true,
        fail: false,
    };
    let run = follow(&task, fixed(1000), &config());
    run.outcome.unwrap();
    let mut expected: Vec<String> = (0..250).map(|i| format!("line {i}")).collect();
    expected.extend(["BlockOutput", "BlockFinished", "SessionFinished"].map(String::from));
    assert_eq!(logs(&run.events), expected);
    // Progress changes were merged in, and the result ends the stream.
    assert!(run.events.iter().any(|e| matches!(
        e,
        TaskEvent::Progress {
            status: TaskStatus::Running,
            ..
        }
    )));
    match run.events.last() {
        Some(TaskEvent::Finished(success)) => {
            assert_eq!(success.result_data, Some(json!([{"n": 1}])))
        }
        other => panic!("{other:?}"),
    }
    // Pages are read in order, never going back; the third page is reached.
    assert!(
        run.pages.windows(2).all(|w| w[0] <= w[1]),
        "{:?}",
        run.pages
    );
    assert_eq!(run.pages.last(), Some(&3));
    // At most one page of events waited at once.
    assert!(run.max_pending <= LOG_PAGE_SIZE, "{}", run.max_pending);
    // Typed: the output's stringified value is JSON again.
    assert!(run.events.iter().any(|e| matches!(
        e,
        TaskEvent::Log { event: LogEvent::BlockOutput { output, .. }, .. } if output["n"] == 1
    )));
}

#[test]
fn logs_that_lag_behind_the_end_are_drained_until_the_session_ends() {
    let task = Task {
        ends_at: Duration::from_secs(2),
        every: Duration::from_millis(500),
        lag: Duration::from_millis(500),
        session_end: true,
        fail: false,
    };
    let run = follow(&task, fixed(500), &config());
    run.outcome.unwrap();
    let seen = logs(&run.events);
    assert_eq!(seen.last().map(String::as_str), Some("SessionFinished"));
    assert!(matches!(run.events.last(), Some(TaskEvent::Finished(_))));
    // Reads 300 ms apart after the end: at 2.0 and 2.3 s nothing yet, at 2.6 s the end
    // entries, the session's end among them: no more reads.
    assert_eq!(run.elapsed, Duration::from_millis(2_600));
}

#[test]
fn without_a_session_end_the_drain_stops_after_empty_reads() {
    let task = Task {
        ends_at: Duration::from_secs(1),
        every: Duration::from_millis(250),
        lag: Duration::ZERO,
        session_end: false,
        fail: false,
    };
    let run = follow(&task, fixed(250), &config());
    run.outcome.unwrap();
    assert_eq!(
        logs(&run.events).last().map(String::as_str),
        Some("BlockFinished")
    );
    // The end entries, then three empty reads 300 ms apart.
    assert!(
        run.elapsed >= Duration::from_millis(1_900),
        "{:?}",
        run.elapsed
    );
    assert!(matches!(run.events.last(), Some(TaskEvent::Finished(_))));
}

#[test]
fn a_server_that_keeps_adding_entries_after_the_end_is_read_a_bounded_time() {
    // The result says success at once, but the logs grow by one line every 300 ms for an
    // hour and never end the session: each read brings something new.
    let task = Task {
        ends_at: Duration::from_secs(3600),
        every: Duration::from_millis(300),
        lag: Duration::ZERO,
        session_end: false,
        fail: false,
    };
    let success = json!({"status": "success", "resultURL": null, "resultData": [1]});
    let run = follow_with(&task, fixed(250), &config(), |path, _, answer| {
        if path.ends_with("/result") {
            Some(response(200, &success.to_string()))
        } else {
            answer
        }
    });
    run.outcome.unwrap();
    assert!(matches!(run.events.last(), Some(TaskEvent::Finished(_))));
    // One read right after the end, then a round every 300 ms: about 30 s, not the hour
    // the server would keep it going.
    assert_eq!(DRAIN_INTERVAL * MAX_DRAIN_ROUNDS, Duration::from_secs(30));
    assert!(run.elapsed <= Duration::from_secs(31), "{:?}", run.elapsed);
    assert!(run.pages.len() <= 102, "{}", run.pages.len());
    assert!(
        logs(&run.events).len() >= 90,
        "the lines read meanwhile are handed out"
    );
}

#[test]
fn a_failed_task_ends_with_its_error_after_its_logs() {
    let task = Task {
        ends_at: Duration::from_millis(600),
        every: Duration::from_millis(200),
        lag: Duration::ZERO,
        session_end: true,
        fail: true,
    };
    let run = follow(&task, fixed(200), &config());
    match &run.outcome {
        Err(Error::TaskFailed(f)) => assert_eq!(f.message, "Task failed: boom"),
        other => panic!("{other:?}"),
    }
    assert_eq!(
        logs(&run.events).last().map(String::as_str),
        Some("SessionFinished")
    );
    assert!(
        !run.events
            .iter()
            .any(|e| matches!(e, TaskEvent::Finished(_)))
    );
}

#[test]
fn failed_reads_of_logs_are_read_again_and_never_duplicate_an_entry() {
    let task = Task {
        ends_at: Duration::from_secs(3),
        every: Duration::from_millis(100),
        lag: Duration::ZERO,
        session_end: true,
        fail: false,
    };
    // Every other read of logs fails (a reset, or a broken body).
    let count = std::cell::Cell::new(0);
    let run = follow_with(&task, fixed(500), &config(), |path, _, answer| {
        if path.ends_with("/logs") {
            count.set(count.get() + 1);
            match count.get() % 3 {
                0 => return None,
                1 => return Some(response(200, "{\"logs\": [")),
                _ => {}
            }
        }
        answer
    });
    run.outcome.unwrap();
    let mut expected: Vec<String> = (0..30).map(|i| format!("line {i}")).collect();
    expected.extend(["BlockOutput", "BlockFinished", "SessionFinished"].map(String::from));
    assert_eq!(logs(&run.events), expected);
}

#[test]
fn endless_full_pages_end_at_the_page_limit() {
    let task = Task {
        ends_at: Duration::from_secs(3600),
        every: Duration::from_millis(100),
        lag: Duration::ZERO,
        session_end: true,
        fail: false,
    };
    // A hostile server: every page is full, whatever its number.
    let run = follow_with(
        &task,
        fixed(1000),
        &Config::builder().max_pages(5).build().unwrap(),
        |path, _, answer| {
            if path.ends_with("/logs") {
                let full: Vec<Value> = (0..LOG_PAGE_SIZE)
                    .map(|i| json!({"type": "BlockLog", "stacks": "[]", "log": format!("x{i}")}))
                    .collect();
                return Some(response(200, &json!({ "logs": full }).to_string()));
            }
            answer
        },
    );
    match &run.outcome {
        Err(Error::Limit(l)) => assert_eq!(l.limit, Limit::Pages),
        other => panic!("{other:?}"),
    }
    assert_eq!(run.pages, [1, 2, 3, 4, 5]);
    assert_eq!(logs(&run.events).len(), 5 * LOG_PAGE_SIZE);
}

#[test]
fn the_wait_timeout_and_a_cancel_end_the_view_with_the_task_id() {
    let task = Task {
        ends_at: Duration::from_secs(600),
        every: Duration::from_secs(1),
        lag: Duration::ZERO,
        session_end: true,
        fail: false,
    };
    let run = follow(
        &task,
        fixed(1000).timeout(Duration::from_secs(10)),
        &config(),
    );
    match &run.outcome {
        Err(Error::Timeout(t)) => assert_eq!(t.task_id, "t-1"),
        other => panic!("{other:?}"),
    }
    assert!(run.elapsed <= Duration::from_secs(10));
    // The lines written before the deadline were all handed out.
    assert!(logs(&run.events).len() >= 9);

    let token = CancelToken::new();
    token.cancel();
    let run = follow(&task, fixed(1000).cancel_token(token), &config());
    match &run.outcome {
        Err(Error::Cancelled(c)) => assert_eq!(c.task_id.as_deref(), Some("t-1")),
        other => panic!("{other:?}"),
    }
    assert_eq!(run.polls, 0);
}

#[test]
fn a_cancel_after_the_success_keeps_the_result() {
    let start = Instant::now();
    let mut follower = Follower::new(&config(), "t-1", &fixed(100), start).unwrap();
    let FollowAction::Send(poll) = follower.poll_action(start) else {
        panic!()
    };
    follower.handle_response(
        poll.id,
        response(200, r#"{"status":"success","resultData":[1]}"#),
        start,
    );
    // Draining: a read of logs goes out; the caller cancels meanwhile.
    let FollowAction::Send(_read) = follower.poll_action(start) else {
        panic!()
    };
    follower.cancel();
    match follower.poll_action(start) {
        FollowAction::Event(TaskEvent::Finished(s)) => assert_eq!(s.result_data, Some(json!([1]))),
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        follower.poll_action(start),
        FollowAction::Done(Ok(()))
    ));
    assert!(matches!(
        follower.poll_action(start),
        FollowAction::Done(Err(Error::Misuse(_)))
    ));
}

/// `Follower::report`, which both clients call on each event they hand out: the progress
/// callbacks see each `Progress` event, once, with the task's ID, and no other event.
#[test]
fn report_calls_the_progress_callbacks_for_progress_events_only() {
    use std::sync::{Arc, Mutex};
    let task = Task {
        ends_at: Duration::from_secs(5),
        every: Duration::from_millis(500),
        lag: Duration::ZERO,
        session_end: true,
        fail: false,
    };
    let run = follow(&task, fixed(1000), &config());
    run.outcome.unwrap();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let (plain, by_task) = (seen.clone(), seen.clone());
    let options = fixed(1000)
        .on_progress(move |p, s| plain.lock().unwrap().push((None, p, s.clone())))
        .on_task_progress(move |id, p, s| {
            by_task
                .lock()
                .unwrap()
                .push((Some(id.to_owned()), p, s.clone()))
        });
    let follower = Follower::new(&config(), "t-1", &options, Instant::now()).unwrap();
    for event in &run.events {
        follower.report(event);
    }
    let expected: Vec<_> = run
        .events
        .iter()
        .filter_map(|e| match e {
            TaskEvent::Progress { status, progress } => Some((*progress, status.clone())),
            _ => None,
        })
        .flat_map(|(p, s)| [(None, p, s.clone()), (Some("t-1".to_owned()), p, s)])
        .collect();
    assert!(!expected.is_empty(), "the run had progress events");
    assert!(run.events.len() * 2 > expected.len(), "and other events");
    assert_eq!(*seen.lock().unwrap(), expected);
}
