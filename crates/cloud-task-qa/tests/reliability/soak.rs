//! Fault soak: 300 `create_and_wait` runs per driver, all at once, against an emulator that
//! answers result polls with 30% 503s, 10% 429s with `Retry-After`, 5% dropped connections
//! and 10% latency spikes, and refuses or drops 5% of the creations.
//!
//! Every run must end (bounded by a deadline) with the right result: its own echoed inputs
//! when its creation went through, else the creation's own error (a create is never
//! retried). The emulator's statistics must show exactly one create request per run, and
//! the emulator must hold exactly one task per successful run.

use std::collections::HashSet;
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use cloud_task_async::{AwaitOptions, BackoffStrategy, Error, ListTasksQuery, TaskOutcome};
use cloud_task_emulator::{Emulator, EmulatorBuilder, Fault, FaultRule, Route};
use futures_util::StreamExt;
use serde_json::json;

use crate::support::{FAST, async_client, blocking_client, echo};

/// Runs per driver.
const RUNS: usize = 300;
/// The blocking driver's runs go on this many threads at once.
const BLOCKING_THREADS: usize = 100;
/// No run may take longer: far above the expected few seconds, far below a hang.
const DEADLINE: Duration = Duration::from_secs(90);
/// The advertised `Retry-After` of the 429s (sent as 1 s: whole seconds).
const RETRY_AFTER: Duration = Duration::from_millis(500);
/// A latency spike on a poll.
const SPIKE: Duration = Duration::from_millis(300);

/// The emulator's rules are tried in order, each with its own draw; these conditional
/// probabilities give the overall shares: 30% 503, 10% 429, 5% dropped, 10% delayed.
fn faulty(builder: EmulatorBuilder, seed: u64) -> EmulatorBuilder {
    let poll = |fault, p| FaultRule::new(Route::TaskResult, fault).probability(p);
    let create = |fault, p| FaultRule::new(Route::CreateTask, fault).probability(p);
    builder
        .time_scale(FAST)
        .max_concurrency(RUNS as u64)
        .seed(seed)
        .fault(poll(Fault::ServiceUnavailable, 0.30))
        .fault(poll(
            Fault::TooManyRequests {
                retry_after: RETRY_AFTER,
            },
            0.10 / 0.70,
        ))
        .fault(poll(Fault::DropConnection, 0.05 / 0.60))
        .fault(poll(Fault::Delay(SPIKE), 0.10 / 0.55))
        .fault(create(Fault::ServiceUnavailable, 0.03))
        .fault(create(Fault::DropConnection, 0.02 / 0.97))
}

/// Fast polls; the timeout bounds a run that would never end.
fn options() -> AwaitOptions {
    AwaitOptions::new()
        .interval(Duration::from_millis(20))
        .strategy(BackoffStrategy::Fixed)
        .timeout(Duration::from_secs(60))
}

/// What the runs ended with.
#[derive(Debug, Default)]
struct Tally {
    /// The task IDs of the runs that succeeded with their own inputs.
    succeeded: Vec<String>,
    /// Runs whose creation was refused (503) or dropped: reported, not retried.
    refused: usize,
    /// Anything else: a wrong result.
    wrong: Vec<String>,
}

impl Tally {
    fn record(&mut self, run: usize, outcome: Result<TaskOutcome, Error>) {
        match outcome {
            Ok(outcome) => {
                let expected = json!([{ "run": run }]);
                if outcome.result.result_data.as_ref() == Some(&expected) {
                    self.succeeded.push(outcome.task_id);
                } else {
                    self.wrong
                        .push(format!("run {run}: {:?}", outcome.result.result_data));
                }
            }
            // Polls are retried until the timeout: a 503 or a transport error can only
            // come from the creation itself.
            Err(Error::Api(api)) if api.status.as_u16() == 503 => self.refused += 1,
            Err(Error::Transport(_)) => self.refused += 1,
            Err(other) => self.wrong.push(format!("run {run}: {other}")),
        }
    }

    /// Checks the tally against the emulator's statistics and its tasks.
    fn check(&self, creates: u64, polls: u64, listed: HashSet<String>) {
        assert!(self.wrong.is_empty(), "wrong results: {:#?}", self.wrong);
        assert_eq!(self.succeeded.len() + self.refused, RUNS);
        assert_eq!(creates, RUNS as u64, "exactly one create request per run");
        let succeeded: HashSet<String> = self.succeeded.iter().cloned().collect();
        assert_eq!(
            succeeded.len(),
            self.succeeded.len(),
            "two runs got one task"
        );
        assert_eq!(listed, succeeded, "the emulator holds one task per success");
        // The faults did happen: some creations were refused, many polls were retried.
        assert!(self.refused > 0, "no creation was refused");
        assert!(self.succeeded.len() > RUNS * 3 / 4, "{self:?}");
        assert!(polls > self.succeeded.len() as u64 * 3 / 2, "{polls} polls");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn async_runs_all_end_right_under_faults() {
    let emulator = faulty(Emulator::builder(), 8).start().await.unwrap();
    let client = async_client(&emulator, &emulator.api_key());
    let runs = (0..RUNS).map(|run| {
        let client = client.clone();
        async move {
            let outcome = client
                .create_and_wait(echo(json!({ "run": run })), options())
                .await;
            (run, outcome)
        }
    });
    let outcomes = tokio::time::timeout(DEADLINE, futures_util::future::join_all(runs))
        .await
        .expect("every run ends before the deadline");
    let mut tally = Tally::default();
    for (run, outcome) in outcomes {
        tally.record(run, outcome);
    }
    let stats = emulator.stats();
    let listed: HashSet<String> = client
        .list_all(ListTasksQuery::new().size(100))
        .map(|item| item.expect("listing works").task_id)
        .collect()
        .await;
    tally.check(
        stats.count(Route::CreateTask),
        stats.count(Route::TaskResult),
        listed,
    );
}

#[test]
fn blocking_runs_all_end_right_under_faults() {
    let emulator = faulty(Emulator::builder(), 9).start_blocking().unwrap();
    let client = blocking_client(&emulator, &emulator.api_key());
    let next = Arc::new(Mutex::new(0..RUNS));
    let (sender, outcomes) = mpsc::channel();
    for _ in 0..BLOCKING_THREADS {
        let client = client.clone();
        let next = next.clone();
        let sender = sender.clone();
        std::thread::spawn(move || {
            loop {
                let Some(run) = next.lock().unwrap().next() else {
                    return;
                };
                let outcome = client.create_and_wait(echo(json!({ "run": run })), options());
                if sender.send((run, outcome)).is_err() {
                    return;
                }
            }
        });
    }
    drop(sender);
    let started = Instant::now();
    let mut tally = Tally::default();
    for _ in 0..RUNS {
        let left = DEADLINE.saturating_sub(started.elapsed());
        let (run, outcome) = outcomes
            .recv_timeout(left)
            .expect("every run ends before the deadline");
        tally.record(run, outcome);
    }
    let stats = emulator.stats();
    let listed: HashSet<String> = client
        .list_all(ListTasksQuery::new().size(100))
        .map(|item| item.expect("listing works").task_id)
        .collect();
    tally.check(
        stats.count(Route::CreateTask),
        stats.count(Route::TaskResult),
        listed,
    );
}
