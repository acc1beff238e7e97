use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

use cloud_task_core::{
    AwaitOptions, BackoffStrategy, CancelToken, Error, HttpResponse, PollSetAction, PollerSet,
    RequestId, TaskStatus,
};

use crate::{config, response};

fn running() -> HttpResponse {
    response(200, r#"{"status":"running","progress":10}"#)
}

fn success(n: usize) -> HttpResponse {
    response(
        200,
        &format!(r#"{{"status":"success","resultURL":null,"resultData":[{{"n":{n}}}]}}"#),
    )
}

fn options() -> AwaitOptions {
    AwaitOptions::new()
        .interval(Duration::from_millis(100))
        .strategy(BackoffStrategy::Fixed)
}

/// Drives a set with a fake clock. Each poll of task `i` is answered at once (all polls in
/// flight are answered together when the set has nothing else to do) by the next scripted
/// reply for `i`, or a success when the script is empty.
struct Run {
    outcomes: Vec<Result<cloud_task_core::TaskSuccess, Error>>,
    max_seen_in_flight: usize,
    waits: Vec<u128>,
    progress: Vec<(usize, TaskStatus)>,
    sent: usize,
}

fn run(ids: Vec<String>, max: usize, mut scripts: HashMap<usize, VecDeque<HttpResponse>>) -> Run {
    let start = Instant::now();
    let mut now = start;
    let mut set = PollerSet::new(&config(), ids, &options().max_in_flight(max), now);
    let mut in_flight: Vec<(usize, RequestId)> = Vec::new();
    let mut run = Run {
        outcomes: Vec::new(),
        max_seen_in_flight: 0,
        waits: Vec::new(),
        progress: Vec::new(),
        sent: 0,
    };
    for _ in 0..1_000_000 {
        match set.poll_action(now) {
            PollSetAction::Send { index, transmit } => {
                assert!(transmit.request.uri().path().ends_with("/result"));
                in_flight.push((index, transmit.id));
                run.sent += 1;
                run.max_seen_in_flight = run.max_seen_in_flight.max(in_flight.len());
                assert_eq!(set.in_flight(), in_flight.len());
            }
            PollSetAction::Progress { index, status, .. } => run.progress.push((index, status)),
            PollSetAction::Wait(d) => {
                if in_flight.is_empty() {
                    run.waits.push(d.as_millis());
                    now += d;
                } else {
                    answer_all(&mut set, &mut in_flight, &mut scripts, now);
                }
            }
            PollSetAction::AwaitResponse(_) => {
                assert!(!in_flight.is_empty(), "awaiting with nothing in flight");
                answer_all(&mut set, &mut in_flight, &mut scripts, now);
            }
            PollSetAction::Finished => {
                assert!(in_flight.is_empty());
                run.outcomes = set.into_outcomes();
                return run;
            }
        }
    }
    panic!("the set never finished");
}

fn answer_all(
    set: &mut PollerSet,
    in_flight: &mut Vec<(usize, RequestId)>,
    scripts: &mut HashMap<usize, VecDeque<HttpResponse>>,
    now: Instant,
) {
    for (index, id) in in_flight.drain(..) {
        let reply = scripts
            .get_mut(&index)
            .and_then(VecDeque::pop_front)
            .unwrap_or_else(|| success(index));
        set.handle_response(id, reply, now);
    }
}

fn ids(n: usize) -> Vec<String> {
    (0..n).map(|i| format!("task-{i}")).collect()
}

#[test]
fn outcomes_in_input_order_within_the_in_flight_limit() {
    let mut scripts = HashMap::new();
    scripts.insert(1, VecDeque::from([running(), running()]));
    scripts.insert(
        3,
        VecDeque::from([response(200, r#"{"status":"failed","error":"boom"}"#)]),
    );
    let run = run(ids(5), 2, scripts);
    assert_eq!(run.max_seen_in_flight, 2);
    assert_eq!(run.outcomes.len(), 5);
    for (i, outcome) in run.outcomes.iter().enumerate() {
        match (i, outcome) {
            (3, Err(Error::TaskFailed(e))) => assert_eq!(e.message, "Task failed: boom"),
            (_, Ok(s)) => assert_eq!(s.result_data.as_ref().unwrap()[0]["n"], i),
            (i, other) => panic!("task {i}: {other:?}"),
        }
    }
    // Task 1 reported progress twice and was polled three times.
    assert_eq!(
        run.progress,
        [(1, TaskStatus::Running), (1, TaskStatus::Running)]
    );
    assert_eq!(run.sent, 7);
    assert_eq!(run.waits, [100, 100]);
}

#[test]
fn a_bad_task_id_fails_alone() {
    let run = run(
        vec!["a".into(), "  ".into(), "b".into()],
        16,
        HashMap::new(),
    );
    assert!(run.outcomes[0].is_ok());
    assert!(matches!(&run.outcomes[1], Err(Error::InvalidInput(e)) if e.field == "task_id"));
    assert!(run.outcomes[2].is_ok());
    assert_eq!(run.sent, 2);
}

#[test]
fn ten_thousand_tasks_never_exceed_the_limit() {
    let run = run(ids(10_000), 16, HashMap::new());
    assert_eq!(run.max_seen_in_flight, 16);
    assert_eq!(run.sent, 10_000);
    assert!(run.outcomes.iter().all(Result::is_ok));
}

#[test]
fn an_empty_set_is_finished_at_once() {
    let mut set = PollerSet::new(&config(), Vec::<String>::new(), &options(), Instant::now());
    assert!(set.is_empty());
    assert!(matches!(
        set.poll_action(Instant::now()),
        PollSetAction::Finished
    ));
    assert!(set.into_outcomes().is_empty());
}

/// The transmit of a `Send`, or a panic naming what came instead.
fn sent(action: PollSetAction, expected: usize) -> RequestId {
    match action {
        PollSetAction::Send { index, transmit } if index == expected => transmit.id,
        other => panic!("expected a poll of task {expected}, got {other:?}"),
    }
}

#[test]
fn waits_for_the_earliest_due_task() {
    let start = Instant::now();
    let mut set = PollerSet::new(&config(), ids(2), &options().max_in_flight(4), start);
    let first = sent(set.poll_action(start), 0);
    let second = sent(set.poll_action(start), 1);
    // Both in flight: only answers (or the polls' deadline, the request timeout) can
    // move things on.
    let PollSetAction::AwaitResponse(d) = set.poll_action(start) else {
        panic!()
    };
    assert_eq!(d, Duration::from_secs(30));
    set.handle_response(first, running(), start);
    assert!(matches!(
        set.poll_action(start),
        PollSetAction::Progress { index: 0, .. }
    ));
    // Task 0 waits 100 ms; task 1 is still in flight.
    let PollSetAction::Wait(d) = set.poll_action(start) else {
        panic!()
    };
    assert_eq!(d, Duration::from_millis(100));
    // Task 1 answers 30 ms later: now task 0 is due in 70 ms, task 1 in 100 ms.
    let later = start + Duration::from_millis(30);
    set.handle_response(second, running(), later);
    assert!(matches!(
        set.poll_action(later),
        PollSetAction::Progress { index: 1, .. }
    ));
    let PollSetAction::Wait(d) = set.poll_action(later) else {
        panic!()
    };
    assert_eq!(d, Duration::from_millis(70));
    let due = start + Duration::from_millis(100);
    sent(set.poll_action(due), 0);
    assert_eq!(set.unfinished(), 2);
}

#[test]
fn a_poll_never_answered_is_given_up_and_its_slot_freed() {
    let start = Instant::now();
    let mut set = PollerSet::new(&config(), ids(2), &options().max_in_flight(1), start);
    let hung = sent(set.poll_action(start), 0);
    // The only slot is taken until the poll's deadline.
    let PollSetAction::AwaitResponse(d) = set.poll_action(start) else {
        panic!()
    };
    assert_eq!(d, Duration::from_secs(30));
    let deadline = start + d;
    // At the deadline the set gives the poll up itself: task 1 gets the slot.
    let next = sent(set.poll_action(deadline), 1);
    assert_eq!(set.in_flight(), 1);
    // The hung poll's late answer is ignored, and takes no slot.
    set.handle_response(hung, success(0), deadline);
    assert_eq!(set.in_flight(), 1);
    set.handle_response(next, success(1), deadline);
    // Task 0 is polled again after its backoff, and succeeds.
    let mut now = deadline;
    loop {
        match set.poll_action(now) {
            PollSetAction::Send { transmit, index } => {
                assert_eq!(index, 0);
                set.handle_response(transmit.id, success(0), now);
            }
            PollSetAction::Wait(d) | PollSetAction::AwaitResponse(d) => now += d,
            PollSetAction::Progress { .. } => {}
            PollSetAction::Finished => break,
        }
    }
    let outcomes = set.into_outcomes();
    assert!(outcomes.iter().all(Result::is_ok), "{outcomes:?}");
}

#[test]
fn cancel_keeps_results_already_obtained() {
    let start = Instant::now();
    let token = CancelToken::new();
    let options = options().cancel_token(token);
    let mut set = PollerSet::new(&config(), ids(3), &options.max_in_flight(1), start);
    let first = sent(set.poll_action(start), 0);
    set.handle_response(first, success(0), start);
    let second = sent(set.poll_action(start), 1);
    set.cancel();
    assert!(matches!(set.poll_action(start), PollSetAction::Finished));
    // A late answer to the cancelled poll is ignored.
    set.handle_response(second, success(1), start);
    let outcomes = set.into_outcomes();
    assert!(outcomes[0].is_ok());
    for (i, outcome) in outcomes.iter().enumerate().skip(1) {
        match outcome {
            Err(error @ Error::Cancelled(_)) => {
                assert_eq!(error.task_id(), Some(format!("task-{i}").as_str()));
            }
            other => panic!("{other:?}"),
        }
    }
}

#[test]
fn each_task_has_its_own_deadline() {
    let start = Instant::now();
    let options = options().timeout(Duration::from_millis(250));
    let mut set = PollerSet::new(&config(), ids(1), &options.max_in_flight(4), start);
    let mut now = start;
    let mut polls = 0;
    loop {
        match set.poll_action(now) {
            PollSetAction::Send { transmit, .. } => {
                polls += 1;
                assert!(transmit.deadline <= start + Duration::from_millis(250));
                set.handle_response(transmit.id, running(), now);
            }
            PollSetAction::Progress { .. } => {}
            PollSetAction::Wait(d) => now += d,
            PollSetAction::AwaitResponse(_) => panic!("nothing is in flight"),
            PollSetAction::Finished => break,
        }
    }
    // At 0, 100 and 200 ms, then the last one a tenth of the timeout before the deadline.
    assert_eq!(polls, 4);
    assert_eq!(now - start, Duration::from_millis(225));
    let outcomes = set.into_outcomes();
    assert!(matches!(&outcomes[0], Err(Error::Timeout(_))));
}

#[test]
fn progress_names_its_task_and_results_decode_as_the_callers_type() {
    use std::sync::{Arc, Mutex};
    let seen: Arc<Mutex<Vec<String>>> = Arc::default();
    let sink = seen.clone();
    let options = options().on_task_progress(move |id, _, _| sink.lock().unwrap().push(id.into()));
    let start = Instant::now();
    let mut now = start;
    let mut set =
        PollerSet::new_as::<Vec<u32>>(&config(), ["a", "b"], &options.max_in_flight(2), now);
    let mut answered: HashMap<String, usize> = HashMap::new();
    for _ in 0..1000 {
        match set.poll_action(now) {
            PollSetAction::Send { index, transmit } => {
                let id = set.task_id(index).unwrap().to_owned();
                let n = answered.entry(id.clone()).or_default();
                *n += 1;
                let body = if *n == 1 {
                    r#"{"status":"running","progress":5}"#.to_owned()
                } else {
                    format!(r#"{{"status":"success","resultData":[{}]}}"#, id.len())
                };
                set.handle_response(transmit.id, response(200, &body), now);
            }
            PollSetAction::Progress {
                index,
                progress,
                status,
            } => {
                let task_id = set.task_id(index).unwrap().to_owned();
                set.options().report_progress(&task_id, progress, &status);
            }
            PollSetAction::Wait(d) | PollSetAction::AwaitResponse(d) => now += d,
            PollSetAction::Finished => break,
        }
    }
    let mut names = seen.lock().unwrap().clone();
    names.sort();
    assert_eq!(names, ["a", "b"]);
    let outcomes = set.into_outcomes();
    assert_eq!(outcomes[0].as_ref().unwrap().result_data, Some(vec![1]));
    assert_eq!(outcomes[1].as_ref().unwrap().result_data, Some(vec![1]));
}
