//! The batch machine: bounded creates, the account's limits, refusals, unknown outcomes,
//! the journal and its resume.

use std::time::{Duration, Instant};

use cloud_task_core::{
    Batch, BatchAction, BatchItem, BatchOptions, BatchOutcome, Config, CreateTaskRequest, Error,
    HttpResponse, JournalReplay, MAX_HOLD, Transmit, TransportErrorKind, input_identity,
};
use serde_json::{Map, Value, json};
const WALL: u64 = 1_700_000_000_000;

fn config() -> Config {
    Config::builder()
        .api_key("k")
        .base_url("https://api.test")
        .build()
        .unwrap()
}

fn inputs(n: usize) -> Vec<CreateTaskRequest> {
    (0..n)
        .map(|i| CreateTaskRequest::new("@oomol/echo", "1.0.0", "main").input("i", i))
        .collect()
}

fn response(status: u16, body: Value) -> HttpResponse {
    http::Response::builder()
        .status(status)
        .body(serde_json::to_vec(&body).unwrap())
        .unwrap()
}

/// What a test server did and the batch handed out.
#[derive(Default)]
struct Run {
    journal: String,
    items: Vec<BatchItem>,
    creates: Vec<usize>,
    max_creating: usize,
    max_active: usize,
    waited: Duration,
}

/// Drives `batch` to its end against `server`, which answers each request (or fails
/// it); time moves only by the batch's waits.
fn drive(
    batch: &mut Batch,
    start: Instant,
    mut server: impl FnMut(&Transmit, Option<usize>, Instant) -> Result<HttpResponse, Error>,
) -> Run {
    let mut run = Run::default();
    let mut now = start;
    for _ in 0..100_000 {
        match batch.poll_action(now) {
            BatchAction::Record(record) => run.journal.push_str(&record.to_line()),
            BatchAction::Sync | BatchAction::Created { .. } | BatchAction::Progress { .. } => {}
            BatchAction::Send { index, transmit } => {
                if transmit.name == "create_task" {
                    run.creates.push(index.unwrap());
                }
                let c = batch.counts();
                run.max_creating = run.max_creating.max(c.creating);
                run.max_active = run.max_active.max(c.creating + c.queued + c.running);
                match server(&transmit, index, now) {
                    Ok(r) => batch.handle_response(transmit.id, r, now),
                    Err(e) => batch.handle_transport_error(transmit.id, e, now),
                }
            }
            BatchAction::Item(item) => run.items.push(item),
            BatchAction::Wait(d) => {
                assert!(
                    d > Duration::ZERO || batch.counts().creating > 0,
                    "a busy loop"
                );
                now += d.max(Duration::from_millis(1));
                run.waited += d;
            }
            BatchAction::Finished => return run,
            other => panic!("unexpected {other:?}"),
        }
    }
    panic!("the batch did not end");
}

/// Answers creates with `t-{i}` and polls with success, everything else by `other`.
fn echo(
    transmit: &Transmit,
    index: Option<usize>,
    other: impl FnOnce(&Transmit) -> HttpResponse,
) -> Result<HttpResponse, Error> {
    Ok(match transmit.name {
        "create_task" => response(200, json!({"taskID": format!("t-{}", index.unwrap())})),
        "get_task_result" => response(
            200,
            json!({"status":"success","resultURL":null,"resultData":[{"i": index}]}),
        ),
        _ => other(transmit),
    })
}

fn dashboard(max_concurrency: u64, max_queue: u64, running: u64) -> HttpResponse {
    response(
        200,
        json!({"limits":{"maxConcurrency":max_concurrency,"maxQueueSize":max_queue},
               "count":{"queued":0,"scheduling":0,"scheduled":0,"running":running},
               "pause":{"type":"none"}}),
    )
}

fn sorted(mut v: Vec<usize>) -> Vec<usize> {
    v.sort_unstable();
    v
}

#[test]
fn every_input_is_created_once_and_handed_out_with_its_index() {
    let start = Instant::now();
    let options = BatchOptions::new()
        .account_limits(false)
        .creates_in_flight(3);
    let mut batch = Batch::new(&config(), inputs(20), options, start, WALL).unwrap();
    let run = drive(&mut batch, start, |t, i, _| echo(t, i, |_| unreachable!()));
    assert_eq!(sorted(run.creates.clone()), (0..20).collect::<Vec<_>>());
    assert!(run.max_creating <= 3, "{}", run.max_creating);
    assert_eq!(run.items.len(), 20);
    for item in &run.items {
        let BatchOutcome::Succeeded(success) = &item.outcome else {
            panic!("{item:?}")
        };
        assert_eq!(success.result_data.as_ref().unwrap()[0]["i"], item.index);
        assert_eq!(item.task_id.as_deref(), Some(&*format!("t-{}", item.index)));
    }
    let counts = batch.counts();
    assert_eq!((counts.done, counts.total, counts.pending), (20, 20, 0));
    // A header, then sending, created and done for each input.
    assert_eq!(run.journal.lines().count(), 1 + 3 * 20);
}

#[test]
fn the_accounts_limits_bound_the_tasks_queued_or_running() {
    let start = Instant::now();
    let mut batch = Batch::new(&config(), inputs(12), BatchOptions::new(), start, WALL).unwrap();
    let mut reads = 0;
    let run = drive(&mut batch, start, |t, i, _| {
        echo(t, i, |t| {
            assert_eq!(t.name, "get_dashboard");
            reads += 1;
            // Room for 2 + 2, one of which another client uses.
            dashboard(2, 2, 1)
        })
    });
    assert!(reads >= 1);
    assert_eq!(run.items.len(), 12);
    assert!(run.max_active <= 3, "{}", run.max_active);
    assert_eq!(run.creates.len(), 12);
}

#[test]
fn a_429_is_sent_again_after_its_retry_after_and_counts_no_task_twice() {
    let start = Instant::now();
    let options = BatchOptions::new()
        .account_limits(false)
        .creates_in_flight(1);
    let mut batch = Batch::new(&config(), inputs(3), options, start, WALL).unwrap();
    let mut refused_at = None;
    let run = drive(&mut batch, start, |t, i, now| {
        if t.name == "create_task" && i == Some(1) && refused_at.is_none() {
            refused_at = Some(now);
            let mut r = response(429, json!({"message":"slow down"}));
            r.headers_mut().insert("retry-after", "7".parse().unwrap());
            return Ok(r);
        }
        if t.name == "create_task" && i == Some(1) {
            assert!(now - refused_at.unwrap() >= Duration::from_secs(7));
        }
        echo(t, i, |_| unreachable!())
    });
    assert_eq!(run.creates, vec![0, 1, 1, 2]);
    assert!(run.items.iter().all(BatchItem::is_success));
    assert!(run.journal.contains(r#""t":"not_created","i":1"#));
}

#[test]
fn refusals_are_bounded_and_a_bad_key_stops_every_create() {
    let start = Instant::now();
    let options = BatchOptions::new()
        .account_limits(false)
        .creates_in_flight(1)
        .max_refusals(3);
    let mut batch = Batch::new(&config(), inputs(2), options, start, WALL).unwrap();
    let run = drive(&mut batch, start, |_, _, _| {
        Ok(response(429, json!({"message":"busy"})))
    });
    // Input 0 is tried 4 times, then given up; then input 1 likewise.
    assert_eq!(run.creates, vec![0, 0, 0, 0, 1, 1, 1, 1]);
    assert!(run.waited <= MAX_HOLD * 8);
    assert!(
        run.items
            .iter()
            .all(|i| matches!(i.outcome, BatchOutcome::NotCreated(_)))
    );

    let mut batch = Batch::new(
        &config(),
        inputs(5),
        BatchOptions::new()
            .account_limits(false)
            .creates_in_flight(1),
        start,
        WALL,
    )
    .unwrap();
    let run = drive(&mut batch, start, |_, _, _| {
        Ok(response(401, json!({"message":"invalid API key"})))
    });
    assert_eq!(run.creates, vec![0]);
    assert_eq!(run.items.len(), 5);
    assert_eq!(batch.counts().failed, 5);
}

fn listed(task: &str, i: usize, created_at: i64) -> Value {
    json!({"taskID": task, "taskType":"user", "ownerID":"o", "status":"running", "progress":0,
           "workload":"serverless", "workloadID":"w", "createdAt": created_at, "updatedAt": created_at,
           "schedulerPayload": {"packageName":"@oomol/echo","packageVersion":"1.0.0","blockName":"main","inputValues":{"i": i}}})
}

#[test]
fn an_unknown_create_is_never_sent_again_and_is_found_by_the_lookup() {
    let start = Instant::now();
    let options = BatchOptions::new().account_limits(false);
    let mut batch = Batch::new(&config(), inputs(3), options, start, WALL).unwrap();
    let mut lists = 0;
    let run = drive(&mut batch, start, |t, i, _| {
        match (t.name, i) {
            // Input 1's connection drops after sending: the server did create it.
            ("create_task", Some(1)) => Err(Error::transport(TransportErrorKind::Io, "reset")),
            // Input 2's create times out: the server never saw it.
            ("create_task", Some(2)) => Err(Error::transport(TransportErrorKind::Timeout, "slow")),
            ("list_tasks", _) => {
                lists += 1;
                Ok(response(
                    200,
                    json!({"tasks": [
                    listed("t-1", 1, WALL as i64 + 10),
                    listed("t-0", 0, WALL as i64 + 5),
                    listed("old", 2, WALL as i64 - 3_600_000),
                ], "nextToken": "more"}),
                ))
            }
            _ => echo(t, i, |t| panic!("{}", t.name)),
        }
    });
    assert_eq!(lists, 1, "the walk stops at tasks older than the batch");
    assert_eq!(run.creates, vec![0, 1, 2]);
    let by_index = |i: usize| run.items.iter().find(|item| item.index == i).unwrap();
    assert!(by_index(1).is_success());
    assert_eq!(by_index(1).task_id.as_deref(), Some("t-1"));
    assert!(matches!(by_index(2).outcome, BatchOutcome::Unknown(_)));
    assert_eq!(batch.counts().unknown, 1);
    assert!(run.journal.contains(r#""t":"created","i":1"#));
}

#[test]
fn recreate_unknown_creates_again_only_what_the_lookup_did_not_find() {
    let start = Instant::now();
    let options = BatchOptions::new()
        .account_limits(false)
        .recreate_unknown(true);
    let mut batch = Batch::new(&config(), inputs(2), options, start, WALL).unwrap();
    let mut failed_once = false;
    let run = drive(&mut batch, start, |t, i, _| match (t.name, i) {
        ("create_task", Some(1)) if !failed_once => {
            failed_once = true;
            Err(Error::transport(TransportErrorKind::Timeout, "slow"))
        }
        ("list_tasks", _) => Ok(response(200, json!({"tasks": [], "nextToken": null}))),
        _ => echo(t, i, |t| panic!("{}", t.name)),
    });
    assert_eq!(run.creates, vec![0, 1, 1]);
    assert!(run.items.iter().all(BatchItem::is_success));
}

#[test]
fn an_overdue_create_is_given_up_as_unknown_by_the_batch_itself() {
    let start = Instant::now();
    let options = BatchOptions::new()
        .account_limits(false)
        .lookup_unknown(false);
    let mut batch = Batch::new(&config(), inputs(1), options, start, WALL).unwrap();
    let mut now = start;
    let mut journal = String::new();
    loop {
        match batch.poll_action(now) {
            BatchAction::Record(r) => journal.push_str(&r.to_line()),
            BatchAction::Send { .. } => {} // never answered
            BatchAction::Wait(d) => now += d,
            BatchAction::Item(item) => {
                assert!(matches!(item.outcome, BatchOutcome::Unknown(_)), "{item:?}");
                break;
            }
            BatchAction::Finished => panic!("no item"),
            _ => {}
        }
    }
    assert_eq!(now - start, config().timeout());
    assert!(matches!(batch.poll_action(now), BatchAction::Sync));
    assert!(matches!(batch.poll_action(now), BatchAction::Finished));
    assert!(journal.contains(r#""t":"unknown""#));
}

fn replay(journal: &str) -> JournalReplay {
    let mut replay = JournalReplay::new();
    for line in journal.split_inclusive('\n') {
        replay.read_line(line.as_bytes()).unwrap();
    }
    replay
}

#[test]
fn a_resume_re_attaches_creates_the_rest_and_looks_up_what_was_in_flight() {
    let start = Instant::now();
    let options = BatchOptions::new()
        .account_limits(false)
        .creates_in_flight(1);
    let mut batch = Batch::new(&config(), inputs(6), options.clone(), start, WALL).unwrap();
    // Run until input 2 is created and input 3's create is in flight: then "crash".
    let mut journal = String::new();
    let mut now = start;
    loop {
        match batch.poll_action(now) {
            BatchAction::Record(r) => journal.push_str(&r.to_line()),
            BatchAction::Send { index, transmit } if transmit.name == "create_task" => {
                if index == Some(3) {
                    break;
                }
                let r = echo(&transmit, index, |_| unreachable!()).unwrap();
                batch.handle_response(transmit.id, r, now);
            }
            BatchAction::Send { .. } => {} // polls stay unanswered
            BatchAction::Wait(d) => now += d,
            _ => {}
        }
    }
    journal.push_str(r#"{"t":"done","i":0,"inp"#); // torn by the crash
    let replay = replay(&journal);
    assert_eq!(replay.task_id(2), Some("t-2"));
    let mut resumed =
        Batch::resume(&config(), inputs(6), options, &replay, now, WALL + 1000).unwrap();
    let run = drive(&mut resumed, now, |t, i, _| match t.name {
        "list_tasks" => Ok(response(
            200,
            json!({"tasks": [listed("t-3", 3, WALL as i64 + 1)], "nextToken": null}),
        )),
        _ => echo(t, i, |t| panic!("{}", t.name)),
    });
    assert_eq!(run.creates, vec![4, 5], "0..=2 re-attached, 3 found");
    assert_eq!(run.items.len(), 6);
    assert!(run.items.iter().all(BatchItem::is_success));
    assert!(!run.journal.contains(r#""t":"batch""#), "no second header");
}

#[test]
fn a_journal_of_other_inputs_is_refused_naming_the_input() {
    let start = Instant::now();
    let mut batch = Batch::new(
        &config(),
        inputs(3),
        BatchOptions::new().account_limits(false),
        start,
        WALL,
    )
    .unwrap();
    let run = drive(&mut batch, start, |t, i, _| echo(t, i, |_| unreachable!()));
    let replay = replay(&run.journal);
    let mut changed = inputs(3);
    changed[1] = changed[1].clone().input("i", 99);
    let error = Batch::resume(
        &config(),
        changed,
        BatchOptions::new(),
        &replay,
        start,
        WALL,
    )
    .unwrap_err();
    assert!(error.to_string().contains("input 1 "), "{error}");
    let error = Batch::resume(
        &config(),
        inputs(2),
        BatchOptions::new(),
        &replay,
        start,
        WALL,
    )
    .unwrap_err();
    assert!(error.to_string().contains("input 2"), "{error}");
    // More inputs than before is fine: the new ones are created.
    Batch::resume(
        &config(),
        inputs(4),
        BatchOptions::new(),
        &replay,
        start,
        WALL,
    )
    .unwrap();

    let mut bad = JournalReplay::new();
    let error = bad.read_line(b"{\"t\":\"created\",\"i\":0,\"input\":\"x\",\"task\":\"t\"}\n");
    assert!(error.unwrap_err().to_string().contains("header"));
    let mut bad = JournalReplay::new();
    assert!(bad.read_line(b"not json\n").is_err());
}

#[test]
fn invalid_inputs_are_refused_before_anything_is_sent() {
    let mut requests = inputs(3);
    requests[2] = CreateTaskRequest::new("", "1.0.0", "main");
    let error = Batch::new(
        &config(),
        requests,
        BatchOptions::new(),
        Instant::now(),
        WALL,
    )
    .unwrap_err();
    assert!(error.to_string().contains("input 2"), "{error}");
}

#[test]
fn cancel_stops_creating_and_still_records_the_creates_in_flight() {
    let start = Instant::now();
    let options = BatchOptions::new()
        .account_limits(false)
        .creates_in_flight(2);
    let mut batch = Batch::new(&config(), inputs(5), options, start, WALL).unwrap();
    let mut in_flight = Vec::new();
    let mut journal = String::new();
    while in_flight.len() < 2 {
        match batch.poll_action(start) {
            BatchAction::Record(r) => journal.push_str(&r.to_line()),
            BatchAction::Send { index, transmit } => in_flight.push((index, transmit)),
            _ => {}
        }
    }
    batch.cancel();
    for (index, transmit) in in_flight {
        let r = echo(&transmit, index, |_| unreachable!()).unwrap();
        batch.handle_response(transmit.id, r, start);
    }
    let run = drive(&mut batch, start, |_, _, _| panic!("nothing more is sent"));
    journal.push_str(&run.journal);
    assert_eq!(run.items.len(), 5);
    assert!(
        run.items
            .iter()
            .all(|i| matches!(i.outcome, BatchOutcome::Cancelled))
    );
    let with_tasks: Vec<_> = run.items.iter().filter(|i| i.task_id.is_some()).collect();
    assert_eq!(with_tasks.len(), 2);
    assert_eq!(journal.matches(r#""t":"created""#).count(), 2);
    assert_eq!(batch.counts().cancelled, 5);
}

#[test]
fn identities_ignore_key_order_and_missing_inputs() {
    let a = CreateTaskRequest::new("p", "1", "b");
    let b = CreateTaskRequest::new("p", "1", "b").input_values(Map::new());
    assert_eq!(input_identity(&a), input_identity(&b));
    assert_eq!(input_identity(&a).len(), 32);
    let nested = |x: Value| CreateTaskRequest::new("p", "1", "b").input("o", x);
    assert_eq!(
        input_identity(&nested(json!({"a":1,"b":[{"c":1,"d":2}]}))),
        input_identity(&nested(json!({"b":[{"d":2,"c":1}],"a":1})))
    );
}

#[test]
fn identities_are_the_first_half_of_sha256_of_canonical_json() {
    // Journals written by earlier versions must still match: the values below come from
    // Python's hashlib over `json.dumps(o, separators=(",", ":"), sort_keys=True)`, not from
    // this crate, so a change of hash implementation that altered a digest would fail here.
    assert_eq!(
        input_identity(&CreateTaskRequest::new("p", "1", "b")),
        "01fe533cb7fc2575920ea34b1868e4c0"
    );
    assert_eq!(
        input_identity(
            &CreateTaskRequest::new("p", "1", "b").input("o", json!({"b":[{"d":2,"c":1}],"a":1}))
        ),
        "a9f3230172cf690087c0b72ebe5f29a4"
    );
}

#[test]
fn a_dashboard_that_never_has_room_cannot_hold_the_batch_for_ever() {
    // Every read says the account's one slot is taken by another client. The batch still
    // creates one task at a time (the server's own answer, a 429 or a task, decides), so
    // the wait is bounded by the refusals, not by what the dashboard says.
    let start = Instant::now();
    let mut batch = Batch::new(&config(), inputs(3), BatchOptions::new(), start, WALL).unwrap();
    let run = drive(&mut batch, start, |t, i, _| {
        echo(t, i, |t| {
            assert_eq!(t.name, "get_dashboard");
            dashboard(1, 0, 5)
        })
    });
    assert_eq!(run.items.len(), 3);
    assert!(run.items.iter().all(BatchItem::is_success));
    assert_eq!(
        run.max_active, 1,
        "one at a time while the account says it is full"
    );
}

#[test]
fn a_lookup_that_finds_nothing_ends_at_its_answer_not_at_a_timeout() {
    // Nothing else is left to wait for: the only thing that moves the batch on is the
    // lookup's own answer, then its end.
    let start = Instant::now();
    let options = BatchOptions::new().account_limits(false);
    let mut batch = Batch::new(&config(), inputs(1), options, start, WALL).unwrap();
    let run = drive(&mut batch, start, |t, i, _| match t.name {
        "create_task" => Err(Error::transport(TransportErrorKind::Timeout, "slow")),
        "list_tasks" => Ok(response(
            200,
            json!({"tasks": [listed("other", 7, WALL as i64)], "nextToken": "more"}),
        )),
        _ => echo(t, i, |t| panic!("{}", t.name)),
    });
    assert!(matches!(run.items[0].outcome, BatchOutcome::Unknown(_)));
    // The lookup waits 2 s for a create the server may still be making, then no more.
    assert!(run.waited < Duration::from_secs(3), "{:?}", run.waited);
}

#[test]
fn a_journal_line_is_read_up_to_its_bound_whatever_the_file_holds() {
    use std::io::{BufReader, Read};
    // A header, then a line that never ends (as `/dev/zero` or a runaway writer would).
    let header = "{\"t\":\"batch\",\"v\":1,\"inputs\":1,\"at\":0}\n";
    let endless = std::io::repeat(b'x').take(cloud_task_core::MAX_JOURNAL_LINE as u64 * 4);
    let reader = BufReader::new(header.as_bytes().chain(endless));
    let error = cloud_task_core::JournalReplay::read_from(reader).unwrap_err();
    let text = error.to_string();
    assert!(text.contains("line 2") && text.contains("64 MiB"), "{text}");
}

#[test]
fn a_file_without_a_newline_is_a_torn_header_only_when_it_starts_like_one() {
    use cloud_task_core::JournalReplay;
    let mut torn = JournalReplay::new();
    torn.read_line(b"{\"t\":\"bat").unwrap();
    assert!(torn.is_empty());
    for foreign in [&b"sk-live-secret"[..], b"{\"other\":1}", b"#!/bin/sh"] {
        let error = JournalReplay::new()
            .read_line(foreign)
            .unwrap_err()
            .to_string();
        assert!(error.contains("not a batch journal"), "{error}");
    }
}

/// Found by the `batch_journal` fuzz target: a lookup falling due while a refused create
/// was held made every wait zero until the hold ended (a busy loop of the driver).
#[test]
fn a_lookup_due_while_a_create_is_held_is_no_reason_to_spin() {
    let start = Instant::now();
    let options = BatchOptions::new()
        .account_limits(false)
        .creates_in_flight(1);
    let mut batch = Batch::new(&config(), inputs(2), options, start, WALL).unwrap();
    let mut refused = 0;
    // `drive` fails on a wait of zero while no create is in flight.
    let run = drive(&mut batch, start, |t, i, _| match (t.name, i) {
        ("create_task", Some(0)) => Err(Error::transport(TransportErrorKind::Io, "reset")),
        ("create_task", Some(1)) if refused < 6 => {
            refused += 1;
            Err(Error::transport(TransportErrorKind::Connect, "refused"))
        }
        ("list_tasks", _) => Ok(response(200, json!({"tasks": [], "nextToken": null}))),
        _ => echo(t, i, |t| panic!("{}", t.name)),
    });
    assert_eq!(run.creates, vec![0, 1, 1, 1, 1, 1, 1, 1]);
    assert_eq!(run.items.len(), 2);
    assert!(run.items.iter().any(BatchItem::is_success));
}

#[test]
fn a_resume_reads_done_inputs_again_but_records_them_done_once() {
    let start = Instant::now();
    let options = BatchOptions::new().account_limits(false);
    let mut batch = Batch::new(&config(), inputs(3), options.clone(), start, WALL).unwrap();
    let first = drive(&mut batch, start, |t, i, _| {
        echo(t, i, |t| panic!("{}", t.name))
    });
    assert_eq!(first.journal.matches(r#""t":"done""#).count(), 3);
    let replay = replay(&first.journal);
    let mut resumed = Batch::resume(&config(), inputs(3), options, &replay, start, WALL).unwrap();
    let again = drive(&mut resumed, start, |t, i, _| {
        echo(t, i, |t| panic!("{}", t.name))
    });
    assert!(again.creates.is_empty());
    assert_eq!(again.items.len(), 3);
    assert!(again.items.iter().all(BatchItem::is_success));
    assert!(
        !again.journal.contains(r#""t":"done""#),
        "a second done record: {}",
        again.journal
    );
}
