//! Batches against the emulator, through both drivers: a batch killed with SIGKILL halfway
//! and resumed from its journal creates every input exactly once; a batch under a 429
//! storm and dropped answers creates no input twice and reports the unknown outcomes.
//!
//! The child process of the crash test is this test binary itself, running its ignored
//! `child` test with [`CHILD_ENV`] set: it runs one batch and prints its counts.

use std::collections::HashMap;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use cloud_task_emulator::{Emulator, Fault, FaultRule, Route};
use futures_util::StreamExt;
use oomol_cloud_task::{
    AwaitOptions, BatchCounts, BatchEvent, BatchItem, BatchOptions, BatchOutcome, Config,
    CreateTaskRequest, ListTasksQuery,
};
use serde_json::{Value, json};

/// Set in the child: `DRIVER BASE_URL API_KEY JOURNAL INPUTS [recreate]`.
const CHILD_ENV: &str = "CLOUD_TASK_BATCH_CHILD";
/// The arguments that run this binary as the child.
const CHILD_ARGS: [&str; 5] = [
    "--ignored",
    "--exact",
    "child",
    "--nocapture",
    "--test-threads=1",
];
/// The inputs of the crash test.
const INPUTS: usize = 200;

fn requests(n: usize) -> Vec<CreateTaskRequest> {
    (0..n)
        .map(|i| {
            CreateTaskRequest::new("@oomol/echo", "1.0.0", "main")
                .input("i", i)
                .input("durationMs", 2000)
        })
        .collect()
}

fn options() -> BatchOptions {
    BatchOptions::new()
        .max_active(8)
        .await_options(AwaitOptions::new().interval(Duration::from_millis(20)))
}

/// Runs a batch with `driver` to its end; answers its counts and items.
fn run(
    driver: &str,
    config: Config,
    n: usize,
    options: BatchOptions,
) -> (BatchCounts, Vec<BatchItem>) {
    let mut items = Vec::new();
    if driver == "async" {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async {
            let client = oomol_cloud_task::Client::builder()
                .config(config.to_builder())
                .build()
                .unwrap();
            let mut stream = client.run_many(requests(n), options);
            while let Some(event) = stream.next().await {
                if let BatchEvent::Finished(item) = event.unwrap() {
                    items.push(item);
                }
            }
            (stream.counts(), items)
        })
    } else {
        let client = oomol_cloud_task::blocking::Client::builder()
            .config(config.to_builder())
            .build()
            .unwrap();
        let mut batch = client.run_many(requests(n), options);
        for event in &mut batch {
            if let BatchEvent::Finished(item) = event.unwrap() {
                items.push(item);
            }
        }
        (batch.counts(), items)
    }
}

/// The child's role, run only by the crash tests (`--ignored --exact child`).
#[test]
#[ignore = "the child process of the crash tests, which run it"]
fn child() {
    let spec = std::env::var(CHILD_ENV).expect("the crash tests set the child's spec");
    let args: Vec<&str> = spec.split(' ').collect();
    let config = Config::builder()
        .base_url(args[1])
        .api_key(args[2])
        .build()
        .unwrap();
    let mut options = options().journal(args[3]);
    if args.get(5) == Some(&"recreate") {
        options = options.recreate_unknown(true);
    }
    let (counts, _) = run(args[0], config, args[4].parse().unwrap(), options);
    println!(
        "COUNTS {}",
        json!({"total": counts.total, "done": counts.done, "failed": counts.failed,
               "unknown": counts.unknown, "cancelled": counts.cancelled})
    );
}

/// Runs the child to its end; answers its counts.
fn child_to_end(spec: &str) -> Value {
    let output = Command::new(std::env::current_exe().unwrap())
        .args(CHILD_ARGS)
        .env(CHILD_ENV, spec)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let line = stdout
        .lines()
        .find_map(|l| l.split_once("COUNTS ").map(|(_, counts)| counts))
        .unwrap_or_else(|| panic!("no counts in {stdout}"));
    serde_json::from_str(line).unwrap()
}

fn created_records(journal: &Path) -> usize {
    std::fs::read_to_string(journal)
        .map(|text| text.matches(r#""t":"created""#).count())
        .unwrap_or(0)
}

/// How many tasks of the account were created for each input `i`.
fn tasks_per_input(config: &Config) -> HashMap<u64, usize> {
    let client = oomol_cloud_task::blocking::Client::builder()
        .config(config.to_builder())
        .build()
        .unwrap();
    let mut per_input = HashMap::new();
    for task in client.list_all(ListTasksQuery::new().size(100)) {
        let task = task.unwrap();
        let i = task.scheduler_payload["inputValues"]["i"].as_u64().unwrap();
        *per_input.entry(i).or_insert(0) += 1;
    }
    per_input
}

fn assert_each_input_once(per_input: &HashMap<u64, usize>, n: usize) {
    let duplicates: Vec<_> = per_input.iter().filter(|(_, c)| **c > 1).collect();
    assert!(
        duplicates.is_empty(),
        "inputs created twice: {duplicates:?}"
    );
    let lost: Vec<_> = (0..n as u64)
        .filter(|i| !per_input.contains_key(i))
        .collect();
    assert!(lost.is_empty(), "inputs never created: {lost:?}");
    assert_eq!(per_input.len(), n);
}

fn kill_halfway_and_resume(driver: &str) {
    let emulator = Emulator::builder()
        .time_scale(0.01)
        .start_blocking()
        .unwrap();
    let config = emulator.config().build().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let journal = dir.path().join("batch.journal");
    let spec = format!(
        "{driver} {} {} {} {INPUTS}",
        emulator.base_url(),
        emulator.api_key(),
        journal.display()
    );
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args(CHILD_ARGS)
        .env(CHILD_ENV, &spec)
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let started = Instant::now();
    while created_records(&journal) < INPUTS / 2 {
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "the child stalled"
        );
        assert!(
            child.try_wait().unwrap().is_none(),
            "the child ended before half"
        );
        std::thread::sleep(Duration::from_millis(2));
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    let at_kill = tasks_per_input(&config);
    assert!(
        at_kill.len() < INPUTS,
        "killed after the end: {}",
        at_kill.len()
    );

    let counts = child_to_end(&spec);
    assert_eq!(counts["total"], INPUTS);
    let per_input = tasks_per_input(&config);
    assert!(
        per_input.values().all(|c| *c == 1),
        "a duplicate: {per_input:?}"
    );
    let unknown = counts["unknown"].as_u64().unwrap() as usize;
    // An input whose create was in the journal as sent, but never reached the server
    // (killed between the sync and the send), is reported unknown, not re-created...
    assert_eq!(per_input.len() + unknown, INPUTS, "{counts}");
    assert_eq!(counts["done"].as_u64().unwrap() as usize, INPUTS - unknown);
    // ...until asked: the lookup does not find it, so it is created once more.
    if unknown > 0 {
        let counts = child_to_end(&format!("{spec} recreate"));
        assert_eq!(counts["done"], INPUTS, "{counts}");
    }
    let per_input = tasks_per_input(&config);
    assert_each_input_once(&per_input, INPUTS);
    // The emulator counts a create when its headers arrive: a create whose body the kill
    // cut is counted and created nothing. So the creates sent are the inputs, plus at most
    // the ones in flight at the kill (the tasks above say none was created twice).
    let sent = emulator.stats().count(Route::CreateTask);
    let in_flight = oomol_cloud_task::sans_io::DEFAULT_CREATES_IN_FLIGHT as u64;
    assert!(
        (INPUTS as u64..=INPUTS as u64 + in_flight).contains(&sent),
        "{sent} creates sent for {INPUTS} inputs"
    );
    println!(
        "{driver}: killed at {} tasks created, resumed to {INPUTS}: 0 duplicates, 0 lost ({unknown} unknown at the resume)",
        at_kill.len()
    );
}

#[test]
fn async_batch_killed_halfway_resumes_with_each_input_created_once() {
    kill_halfway_and_resume("async");
}

#[test]
fn blocking_batch_killed_halfway_resumes_with_each_input_created_once() {
    kill_halfway_and_resume("blocking");
}

fn storm(driver: &str) {
    let emulator = Emulator::builder()
        .time_scale(0.01)
        .seed(7)
        .start_blocking()
        .unwrap();
    // A third of the creates are refused with 429; one in ten is handled and its answer
    // dropped (the task exists; the client cannot know); one in twenty is dropped unread.
    emulator.add_fault(
        FaultRule::new(
            Route::CreateTask,
            Fault::TooManyRequests {
                retry_after: Duration::from_millis(100),
            },
        )
        .probability(1.0 / 3.0),
    );
    emulator.add_fault(FaultRule::new(Route::CreateTask, Fault::DropAnswer).probability(0.1));
    emulator.add_fault(FaultRule::new(Route::CreateTask, Fault::DropConnection).probability(0.05));
    let config = emulator.config().build().unwrap();
    let n = 60;
    let options = options().max_refusals(1000);
    let (counts, items) = run(driver, config.clone(), n, options);
    assert_eq!(items.len(), n);
    let per_input = tasks_per_input(&config);
    assert!(
        per_input.values().all(|c| *c == 1),
        "a duplicate: {per_input:?}"
    );
    let unknown: Vec<usize> = items
        .iter()
        .filter(|i| matches!(i.outcome, BatchOutcome::Unknown(_)))
        .map(|i| i.index)
        .collect();
    // Every dropped answer was found by the lookup; what is left unknown is what was
    // dropped unread (never created), each reported with its index.
    for index in &unknown {
        assert!(
            !per_input.contains_key(&(*index as u64)),
            "{index} exists but was reported unknown"
        );
    }
    assert_eq!(counts.unknown, unknown.len());
    assert_eq!(counts.done + unknown.len(), n, "{counts:?}");
    assert!(
        emulator.stats().count(Route::CreateTask) > n as u64,
        "the storm hit"
    );
    println!(
        "{driver}: {n} inputs under a 429 storm and dropped answers: {} creates sent, 0 duplicates, {} unknown reported",
        emulator.stats().count(Route::CreateTask),
        unknown.len()
    );
}

#[test]
fn async_batch_under_a_429_storm_and_dropped_answers_creates_no_input_twice() {
    storm("async");
}

#[test]
fn blocking_batch_under_a_429_storm_and_dropped_answers_creates_no_input_twice() {
    storm("blocking");
}

/// Cancels a batch while its first creates are held by the server: their answers are
/// still read and their tasks handed out (with their IDs), never given up as unknown.
fn cancel_with_creates_in_flight(driver: &str) {
    let emulator = Emulator::builder()
        .time_scale(0.01)
        .fault(FaultRule::new(Route::CreateTask, Fault::Delay(Duration::from_millis(500))).times(4))
        .start_blocking()
        .unwrap();
    let config = emulator.config().build().unwrap();
    let token = oomol_cloud_task::CancelToken::new();
    let options = BatchOptions::new().account_limits(false).await_options(
        AwaitOptions::new()
            .interval(Duration::from_millis(20))
            .cancel_token(token.clone()),
    );
    let canceller = std::thread::spawn({
        move || {
            let started = Instant::now();
            while emulator.stats().count(Route::CreateTask) < 4 {
                assert!(
                    started.elapsed() < Duration::from_secs(20),
                    "no create sent"
                );
                std::thread::sleep(Duration::from_millis(5));
            }
            token.cancel();
            emulator
        }
    });
    let (counts, items) = run(driver, config, 20, options);
    let emulator = canceller.join().unwrap();
    assert_eq!(items.len(), 20);
    assert_eq!(counts.cancelled, 20, "{counts:?}");
    let with_tasks = items.iter().filter(|i| i.task_id.is_some()).count();
    assert_eq!(with_tasks as u64, emulator.stats().count(Route::CreateTask));
    assert_eq!(
        with_tasks, 4,
        "the four creates in flight were answered and kept"
    );
}

#[test]
fn async_cancel_keeps_the_tasks_of_the_creates_in_flight() {
    cancel_with_creates_in_flight("async");
}

#[test]
fn blocking_cancel_keeps_the_tasks_of_the_creates_in_flight() {
    cancel_with_creates_in_flight("blocking");
}
