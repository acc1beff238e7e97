//! Instructions per call, counted by valgrind's callgrind: a measure that does not move
//! with the machine's load, where the timing ratios of `per_call` move by ±5% from run to
//! run.
//!
//! The same `get_task_result` call of a finished task as `per_call` (the same URL and
//! headers, the body decoded as JSON) through five clients: the async SDK client, raw
//! reqwest, the blocking SDK client, a default ureq agent (the baseline of the ratio) and
//! one with the SDK's timeouts (for reference: ureq resolves on a new thread then). Each
//! client runs in a process of its own under `valgrind --tool=callgrind`, twice: with
//! `LOW` and with `HIGH` calls after a warm-up, against the emulator running as another
//! process. Instructions per call = (total(HIGH) − total(LOW)) / (HIGH − LOW): the start,
//! the warm-up and the exit cancel out.
//!
//! It prints, last, the two lines the targets are read from:
//! `ratio async/raw-reqwest instructions: R` and `ratio blocking/raw-ureq instructions: R`
//! (target ≤ 1.03 each).
//!
//! Run: `cargo bench -p cloud-task-qa --bench instructions` (needs `valgrind` on the PATH;
//! without it, it says so and exits 0).

mod common;

use std::process::{Command, Stdio};
use std::time::Duration;

use cloud_task_async::core::{GetTaskResult, Operation};
use cloud_task_async::{AwaitOptions, CreateTaskRequest, TaskResult};
use cloud_task_qa::measure::machine_summary;
use serde_json::Value;

use common::{Target, raw_reqwest, raw_ureq, start_emulator};

/// Calls before the counted ones (connections open, caches warm).
const WARM_UP: usize = 20;
const LOW: usize = 50;
const HIGH: usize = 250;
/// The target of both ratios.
const TARGET: f64 = 1.03;

/// The clients; `ureq` is a default agent (no timeouts: no resolver thread per call), the
/// strictest baseline, as `per_call` compares.
const CLIENTS: [&str; 5] = ["async", "reqwest", "blocking", "ureq", "ureq-timeouts"];

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let Some(at) = args.iter().position(|a| a == "--count") {
        return count(&args[at + 1..]);
    }
    if args.iter().any(|a| a == "--list") {
        println!("instructions: bench");
        return;
    }
    println!("{}", machine_summary());
    if Command::new("valgrind")
        .arg("--version")
        .stdout(Stdio::null())
        .status()
        .is_err()
    {
        println!("valgrind is not on the PATH: no instruction counts (install valgrind)");
        return;
    }
    let emulator = start_emulator(&["--time-scale", "0.001"]);
    let target = Target::of(&emulator);
    let created = target
        .blocking_client()
        .create_and_wait(
            CreateTaskRequest::new("@oomol/echo", "1.0.0", "main").input("text", "hello"),
            AwaitOptions::new().interval(Duration::from_millis(10)),
        )
        .expect("a finished task");
    let mut per_call = Vec::new();
    println!(
        "instructions per get_task_result call (callgrind; ({HIGH} calls − {LOW} calls) / {}, after {WARM_UP} warm-up calls):",
        HIGH - LOW
    );
    for client in CLIENTS {
        let low = instructions(client, LOW, &target, &created.task_id);
        let high = instructions(client, HIGH, &target, &created.task_id);
        let each = high.saturating_sub(low) as f64 / (HIGH - LOW) as f64;
        println!("  {client:<14} {each:>10.0}");
        per_call.push(each);
    }
    let verdict = |ratio: f64| {
        if ratio <= TARGET {
            "ok"
        } else {
            "ABOVE TARGET"
        }
    };
    let async_ratio = per_call[0] / per_call[1];
    let blocking_ratio = per_call[2] / per_call[3];
    println!(
        "  (target <= {TARGET} each: async {}, blocking {})",
        verdict(async_ratio),
        verdict(blocking_ratio)
    );
    println!("ratio async/raw-reqwest instructions: {async_ratio:.3}");
    println!("ratio blocking/raw-ureq instructions: {blocking_ratio:.3}");
}

/// Runs `client` for `calls` counted calls under callgrind; answers the process's total
/// instructions.
fn instructions(client: &str, calls: usize, target: &Target, task_id: &str) -> u64 {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let out = dir.path().join("callgrind.out");
    let exe = std::env::current_exe().expect("this executable");
    let status = Command::new("valgrind")
        .args(["--tool=callgrind", "--quiet"])
        .arg(format!("--callgrind-out-file={}", out.display()))
        .arg(exe)
        .arg("--count")
        .args([client, &calls.to_string(), task_id])
        .args(target.args())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .status()
        .expect("valgrind runs");
    assert!(status.success(), "{client} under callgrind: {status}");
    let text = std::fs::read_to_string(&out).expect("callgrind's output");
    text.lines()
        .find_map(|l| {
            l.strip_prefix("summary:")
                .or_else(|| l.strip_prefix("totals:"))
        })
        .and_then(|n| n.split_whitespace().next()?.parse().ok())
        .expect("a total in callgrind's output")
}

/// The child: `CLIENT CALLS TASK_ID BASE_URL UPLOAD_BASE_URL KEY`.
fn count(args: &[String]) {
    let [client, calls, task_id, rest @ ..] = args else {
        panic!("expected CLIENT CALLS TASK_ID and the target, got {args:?}");
    };
    let calls: usize = calls.parse().expect("a number of calls");
    let target = Target::from_args(rest);
    let request = GetTaskResult::new(task_id)
        .request(&target.config())
        .expect("a request");
    let url = request.uri().to_string();
    let headers: Vec<(String, String)> = request
        .headers()
        .iter()
        .map(|(k, v)| (k.as_str().to_owned(), v.to_str().unwrap().to_owned()))
        .collect();
    let check = |value: &Value| assert_eq!(value["status"], "success");
    match client.as_str() {
        "async" | "reqwest" => {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("a runtime");
            let sdk = target.async_client();
            let raw = raw_reqwest();
            runtime.block_on(async {
                for _ in 0..WARM_UP + calls {
                    if client == "async" {
                        let result = sdk.get_task_result(task_id).await;
                        assert!(matches!(result, Ok(TaskResult::Success(_))));
                    } else {
                        let mut request = raw.get(&url);
                        for (name, value) in &headers {
                            request = request.header(name, value);
                        }
                        let response = request.send().await.expect("a response");
                        let body = response.bytes().await.expect("a body");
                        check(&serde_json::from_slice(&body).expect("JSON"));
                    }
                }
            });
        }
        "blocking" => {
            let sdk = target.blocking_client();
            for _ in 0..WARM_UP + calls {
                let result = sdk.get_task_result(task_id);
                assert!(matches!(result, Ok(TaskResult::Success(_))));
            }
        }
        "ureq" | "ureq-timeouts" => {
            let agent = if client == "ureq" {
                ureq::Agent::config_builder()
                    .http_status_as_error(false)
                    .build()
                    .new_agent()
            } else {
                raw_ureq()
            };
            for _ in 0..WARM_UP + calls {
                let mut request = agent.get(&url);
                for (name, value) in &headers {
                    request = request.header(name, value);
                }
                let mut response = request.call().expect("a response");
                let body = response.body_mut().read_to_vec().expect("a body");
                check(&serde_json::from_slice(&body).expect("JSON"));
            }
        }
        other => panic!("no client {other:?}"),
    }
}
