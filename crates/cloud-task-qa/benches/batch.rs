//! Batches: `run_many` over 10,000 inputs with each driver, journal on, against the
//! emulator run as a separate process with a fast time scale.
//!
//! For each driver, a child process (this binary again, with `--scenario`) runs 10,000
//! inputs of a block that runs for about two seconds, with a journal (synced as the batch
//! says), and reports its wall time and its peak resident set size (`VmHWM`). The account
//! allows `MAX_CONCURRENCY` running and as many queued, so the emulator's own time for the
//! whole batch is at least `inputs / MAX_CONCURRENCY` runs of two seconds: the figure the
//! wall time is set against. The emulator's statistics give the creates sent (the target:
//! exactly one per input). Target: peak RSS of the client at most 64 MiB.
//!
//! Run: `cargo bench -p cloud-task-qa --bench batch` (`QA_TASKS` sets the count).

mod common;

use std::time::{Duration, Instant};

use cloud_task_async::{
    AwaitOptions, BackoffStrategy, BatchEvent, BatchOptions, CreateTaskRequest,
};
use cloud_task_qa::measure::{machine_summary, mib, peak_rss_kib, run_scenario, scenario_args};
use futures_util::StreamExt;
use serde_json::json;

use common::{Target, start_emulator};

/// The emulator's time scale: a task of `durationMs` 200,000 runs for 2 s.
const TIME_SCALE: f64 = 0.01;
const DURATION_MS: u64 = 200_000;
const MAX_CONCURRENCY: usize = 1000;
/// The target of the peak RSS of the client process.
const TARGET_MIB: f64 = 64.0;

fn inputs() -> usize {
    std::env::var("QA_TASKS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_000)
}

fn requests(n: usize) -> impl Iterator<Item = CreateTaskRequest> {
    (0..n).map(|i| {
        CreateTaskRequest::new("@oomol/slow", "1.0.0", "main")
            .input("durationMs", DURATION_MS)
            .input("i", i)
    })
}

fn options(journal: &str) -> BatchOptions {
    BatchOptions::new()
        .creates_in_flight(16)
        .journal(journal)
        .await_options(
            AwaitOptions::new()
                .interval(Duration::from_millis(250))
                .strategy(BackoffStrategy::Fixed)
                .max_in_flight(16),
        )
}

/// The child: runs the batch with `driver`, prints its figures.
fn scenario(args: &[String]) {
    let [driver, n, journal, rest @ ..] = args else {
        panic!("expected a driver, a count, a journal and a target, got {args:?}");
    };
    let target = Target::from_args(rest);
    let n: usize = n.parse().unwrap();
    let started = Instant::now();
    let mut done = 0;
    let mut other = 0;
    let mut count = |event: BatchEvent| {
        if let BatchEvent::Finished(item) = event {
            if item.is_success() {
                done += 1;
            } else {
                other += 1;
            }
        }
    };
    match driver.as_str() {
        "async" => {
            let client = target.async_client();
            tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .unwrap()
                .block_on(async {
                    let mut stream = client.run_many(requests(n), options(journal));
                    while let Some(event) = stream.next().await {
                        count(event.expect("the batch runs"));
                    }
                });
        }
        "blocking" => {
            let client = target.blocking_client();
            for event in client.run_many(requests(n), options(journal)) {
                count(event.expect("the batch runs"));
            }
        }
        other => panic!("unknown driver {other}"),
    }
    println!(
        "{}",
        json!({
            "secs": started.elapsed().as_secs_f64(),
            "done": done,
            "other": other,
            "peak_rss_kib": peak_rss_kib().unwrap_or(0),
        })
    );
}

fn main() {
    if let Some(args) = scenario_args() {
        scenario(&args);
        return;
    }
    println!("{}", machine_summary());
    let n = inputs();
    let emulator = start_emulator(&[
        "--time-scale",
        &TIME_SCALE.to_string(),
        "--max-concurrency",
        &MAX_CONCURRENCY.to_string(),
        "--max-queue-size",
        &MAX_CONCURRENCY.to_string(),
    ]);
    let target = Target::of(&emulator);
    let run_secs = DURATION_MS as f64 * TIME_SCALE / 1000.0;
    let floor = n.div_ceil(MAX_CONCURRENCY) as f64 * run_secs;
    println!(
        "run_many: {n} inputs of ~{run_secs:.1} s each, account limits {MAX_CONCURRENCY} running + {MAX_CONCURRENCY} queued (the emulator needs >= {floor:.0} s), 16 creates and 16 polls in flight, fixed 250 ms interval, journal synced; client in its own process"
    );
    for driver in ["async", "blocking"] {
        let dir = tempfile::tempdir().unwrap();
        let journal = dir.path().join("batch.journal");
        emulator.reset_stats().unwrap();
        let mut args = vec![
            driver.to_owned(),
            n.to_string(),
            journal.display().to_string(),
        ];
        args.extend(target.args());
        let figures = run_scenario(&args).expect("the scenario runs");
        let stats = emulator.stats().unwrap();
        let secs = figures["secs"].as_f64().unwrap_or(0.0);
        let peak = figures["peak_rss_kib"].as_u64().unwrap_or(0);
        let creates = stats["routes"]["create_task"].as_u64().unwrap_or(0);
        let journal_bytes = std::fs::metadata(&journal).map_or(0, |m| m.len());
        let verdict = if mib(peak) <= TARGET_MIB {
            "ok"
        } else {
            "ABOVE TARGET"
        };
        println!(
            "  {driver:<8} {} done, {} other in {secs:.1} s ({:.2}x the emulator's {floor:.0} s); {creates} creates for {n} inputs; journal {:.1} MiB; peak RSS {:.1} MiB (target <= {TARGET_MIB} MiB: {verdict})",
            figures["done"],
            figures["other"],
            secs / floor,
            journal_bytes as f64 / (1 << 20) as f64,
            mib(peak),
        );
    }
}
