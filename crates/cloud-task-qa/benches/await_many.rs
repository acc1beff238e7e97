//! Concurrency: `await_many` over 10,000 tasks, with each driver, against the emulator run
//! as a separate process with a fast time scale.
//!
//! For each driver, this process creates 10,000 fresh tasks that each run for about two
//! seconds, then starts a child process (this binary again, with `--scenario`) that waits
//! for all of them with `await_many` (16 polls in flight, a 250 ms fixed interval) and
//! reports its wall time and its peak resident set size (`VmHWM`). The emulator's
//! statistics give the requests it took, and its resident set size after each driver is
//! printed. Target: peak RSS of the client at most 64 MiB (256 MiB beyond 10,000 tasks).
//!
//! Run: `cargo bench -p cloud-task-qa --bench await_many` (`QA_TASKS` sets the count).

mod common;

use std::io::Write;
use std::time::{Duration, Instant};

use cloud_task_async::{AwaitOptions, BackoffStrategy, CreateTaskRequest};
use cloud_task_qa::measure::{
    machine_summary, mib, peak_rss_kib, rss_kib, rss_kib_of, run_scenario, scenario_args,
};
use futures_util::StreamExt;
use serde_json::json;

use common::{Target, start_emulator};

/// The emulator's time scale: a task of `durationMs` 200,000 runs for 2 s.
const TIME_SCALE: &str = "0.01";
/// How long each task runs, in emulator milliseconds: 2 s (at the time scale) per 10,000
/// tasks, so that the tasks are still running while the client waits for them (creating
/// 100,000 takes longer than 2 s).
fn duration_ms(tasks: usize) -> u64 {
    200_000 * (tasks as u64).div_ceil(10_000).max(1)
}
/// The target of the peak RSS of the client process: 64 MiB for up to 10,000 tasks,
/// 256 MiB beyond (100,000: issue "at the physical limit").
fn target_mib(tasks: usize) -> f64 {
    if tasks <= 10_000 { 64.0 } else { 256.0 }
}

fn tasks() -> usize {
    std::env::var("QA_TASKS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_000)
}

fn options() -> AwaitOptions {
    AwaitOptions::new()
        .interval(Duration::from_millis(250))
        .strategy(BackoffStrategy::Fixed)
        .timeout(Duration::from_secs(600))
}

/// Creates `n` tasks, 32 at a time, and answers their IDs.
fn create_tasks(target: &Target, n: usize) -> Vec<String> {
    let client = target.async_client();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        futures_util::stream::iter(0..n)
            .map(|i| {
                let client = client.clone();
                async move {
                    let request = CreateTaskRequest::new("@oomol/slow", "1.0.0", "main")
                        .input("durationMs", duration_ms(n))
                        .input("i", i);
                    client.create_task(request).await.expect("a task").task_id
                }
            })
            .buffered(32)
            .collect()
            .await
    })
}

/// The child: waits for the tasks listed in `ids_file` with `driver`, prints its figures.
fn scenario(args: &[String]) {
    let [driver, ids_file, rest @ ..] = args else {
        panic!("expected a driver, a file of IDs and a target, got {args:?}");
    };
    let target = Target::from_args(rest);
    let ids: Vec<String> = std::fs::read_to_string(ids_file)
        .expect("the IDs")
        .lines()
        .map(str::to_owned)
        .collect();
    let rss_before = rss_kib().unwrap_or(0);
    let started = Instant::now();
    let results = match driver.as_str() {
        "async" => {
            let client = target.async_client();
            tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .unwrap()
                .block_on(client.await_many(ids, options()))
        }
        "blocking" => target.blocking_client().await_many(ids, options()),
        other => panic!("unknown driver {other}"),
    };
    let elapsed = started.elapsed();
    let ok = results.iter().filter(|r| r.is_ok()).count();
    println!(
        "{}",
        json!({
            "secs": elapsed.as_secs_f64(),
            "ok": ok,
            "failed": results.len() - ok,
            "rss_before_kib": rss_before,
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
    let n = tasks();
    let emulator = start_emulator(&[
        "--time-scale",
        TIME_SCALE,
        "--max-concurrency",
        &n.to_string(),
        "--max-queue-size",
        &(2 * n).to_string(),
    ]);
    let target = Target::of(&emulator);
    println!(
        "await_many: {n} tasks of ~{:.1} s each, 16 polls in flight, fixed 250 ms interval; client in its own process",
        duration_ms(n) as f64 * TIME_SCALE.parse::<f64>().unwrap() / 1000.0
    );
    for driver in ["async", "blocking"] {
        let ids = create_tasks(&target, n);
        let mut file = tempfile::NamedTempFile::new().unwrap();
        file.write_all(ids.join("\n").as_bytes()).unwrap();
        emulator.reset_stats().unwrap();
        let mut args = vec![driver.to_owned(), file.path().display().to_string()];
        args.extend(target.args());
        let figures = run_scenario(&args).expect("the scenario runs");
        let stats = emulator.stats().unwrap();
        let secs = figures["secs"].as_f64().unwrap_or(0.0);
        let peak = figures["peak_rss_kib"].as_u64().unwrap_or(0);
        let polls = stats["routes"]["task_result"].as_u64().unwrap_or(0);
        let target_mib = target_mib(n);
        let verdict = if mib(peak) <= target_mib {
            "ok"
        } else {
            "ABOVE TARGET"
        };
        println!(
            "  {driver:<8} {} ok, {} failed in {secs:.2} s; {} requests ({polls} result polls, {:.2} per task, {:.0} polls/s); peak RSS {:.1} MiB (at start {:.1} MiB; target <= {target_mib} MiB: {verdict}); emulator RSS {:.1} MiB",
            figures["ok"],
            figures["failed"],
            stats["total"],
            polls as f64 / n as f64,
            polls as f64 / secs,
            mib(peak),
            mib(figures["rss_before_kib"].as_u64().unwrap_or(0)),
            mib(rss_kib_of(emulator.pid()).unwrap_or(0)),
        );
    }
}
