//! Events: the whole story of a task that writes 10,000 log entries, followed through each
//! driver's `events`, against the emulator run as a separate process.
//!
//! Each driver runs in a child process (this binary again, with `--scenario`) that checks
//! it saw every entry once, in order, and reports its time and peak resident set size
//! (`VmHWM`); the parent reads the emulator's statistics: how many pages of logs and result
//! polls were asked. Target: log reads at most ceil(10000 / 100) pages plus one per result
//! poll of the schedule (a read of the current page after each poll).
//!
//! Run: `cargo bench -p cloud-task-qa --bench events`.

mod common;

use std::time::{Duration, Instant};

use cloud_task_async::{AwaitOptions, CreateTaskRequest, LogEvent, TaskEvent};
use cloud_task_qa::measure::{machine_summary, mib, peak_rss_kib, run_scenario, scenario_args};
use serde_json::json;

use common::{Target, start_emulator};

/// Entries the task writes: the start line, `LINES` lines, an output per input (2), the
/// block's end and the session's end.
const ENTRIES: u64 = 10_000;
const LINES: u64 = ENTRIES - 5;
/// How long the task runs (at the emulator's time scale 1).
const RUN_MS: u64 = 10_000;
/// The interval of the result polls.
const INTERVAL: Duration = Duration::from_millis(500);

/// Checks one run's events; answers the number of log events.
fn check(events: &[TaskEvent]) -> u64 {
    let mut next_line = 1;
    let mut logs = 0;
    for event in events {
        if let TaskEvent::Log { event: log, .. } = event {
            logs += 1;
            if let LogEvent::BlockLog { log, .. } = log
                && let Some(n) = log.strip_prefix("line ")
            {
                assert_eq!(n.parse::<u64>().ok(), Some(next_line), "out of order");
                next_line += 1;
            }
        }
    }
    assert_eq!(next_line, LINES + 1, "every line once");
    assert!(matches!(events.last(), Some(TaskEvent::Finished(_))));
    logs
}

fn scenario(args: &[String]) {
    let [way, task_id, rest @ ..] = args else {
        panic!("expected a way, a task ID and a target, got {args:?}");
    };
    let target = Target::from_args(rest);
    let options = || {
        AwaitOptions::new()
            .interval(INTERVAL)
            .max_interval(INTERVAL)
    };
    let started = Instant::now();
    // Only a count and the order are kept: the events are checked as they come.
    let mut seen = Vec::new();
    let mut logs = 0;
    let mut keep = |event: TaskEvent| {
        if matches!(event, TaskEvent::Log { .. }) {
            logs += 1;
        }
        match &event {
            TaskEvent::Log {
                event: LogEvent::BlockLog { log, .. },
                ..
            } if log.starts_with("line ") => seen.push(event),
            TaskEvent::Finished(_) => seen.push(event),
            _ => {}
        }
    };
    match way.as_str() {
        "async" => {
            use futures_util::StreamExt;
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .unwrap();
            let client = target.async_client();
            runtime.block_on(async {
                let mut events = client.events(task_id, options());
                while let Some(event) = events.next().await {
                    keep(event.expect("an event"));
                }
            });
        }
        "blocking" => {
            let client = target.blocking_client();
            for event in client.events(task_id, options()) {
                keep(event.expect("an event"));
            }
        }
        other => panic!("unknown way {other}"),
    }
    let secs = started.elapsed().as_secs_f64();
    check(&seen);
    println!(
        "{}",
        json!({ "secs": secs, "logs": logs, "peak_rss_kib": peak_rss_kib().unwrap_or(0) })
    );
}

fn main() {
    if let Some(args) = scenario_args() {
        scenario(&args);
        return;
    }
    println!("{}", machine_summary());
    println!(
        "events: a task writing {ENTRIES} log entries over {} s, followed from its creation with polls every {} ms; each driver in its own process against a fresh emulator",
        RUN_MS / 1000,
        INTERVAL.as_millis()
    );
    let pages = ENTRIES.div_ceil(cloud_task_async::core::LOG_PAGE_SIZE as u64);
    for way in ["async", "blocking"] {
        let emulator = start_emulator(&["--time-scale", "1"]);
        let target = Target::of(&emulator);
        let request = CreateTaskRequest::new("@oomol/echo", "1.0.0", "main")
            .input("logLines", LINES)
            .input("durationMs", RUN_MS);
        let task_id = target
            .blocking_client()
            .create_task(request)
            .expect("the task is created")
            .task_id;
        emulator.reset_stats().unwrap();
        let mut args = vec![way.to_owned(), task_id];
        args.extend(target.args());
        let figures = run_scenario(&args).expect("the scenario runs");
        let stats = emulator.stats().unwrap();
        let polls = stats["routes"]["task_result"].as_u64().unwrap_or(0);
        let reads = stats["routes"]["task_logs"].as_u64().unwrap_or(0);
        let logs = figures["logs"].as_u64().unwrap_or(0);
        let secs = figures["secs"].as_f64().unwrap_or(f64::NAN);
        let peak = mib(figures["peak_rss_kib"].as_u64().unwrap_or(0));
        let bound = pages + polls;
        let verdict = if reads <= bound { "ok" } else { "ABOVE TARGET" };
        println!(
            "  {way:<9} {logs} log events in {secs:.2} s; {polls} result polls, {reads} log reads (target <= {pages} pages + {polls} polls = {bound}: {verdict}); peak RSS {peak:.1} MiB"
        );
    }
}
