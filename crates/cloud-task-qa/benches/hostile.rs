//! Peak memory of each driver against a hostile server on loopback: an endless body (on
//! `get_dashboard`), and an upload server asking for one part as large as a 256 MiB file.
//! Each client runs in a child process (this binary again, with `--scenario`) that reports
//! its peak resident set size (`VmHWM`); the hostile server runs in this process.
//!
//! The bounds they must stay within are the documented limits: the largest response body
//! (32 MiB by default) and the bytes of parts an upload holds (64 MiB by default; the
//! 256 MiB part is refused before any part is read). With the upload buffer raised to
//! 256 MiB, the part is held, as the raised limit allows.
//!
//! Run: `cargo bench -p cloud-task-qa --bench hostile`.

use std::time::{Duration, Instant};

use cloud_task_core::UploadOptions;
use cloud_task_qa::hostile::{Hostile, Mode};
use cloud_task_qa::measure::{machine_summary, mib, peak_rss_kib, run_scenario, scenario_args};
use serde_json::json;

const MIB: u64 = 1024 * 1024;
const PART: u64 = 256 * MIB;

/// What a child reports: its peak RSS, how long the call took and how it ended.
fn report(started: Instant, outcome: Result<String, String>) {
    let line = json!({
        "peak_rss_kib": peak_rss_kib(),
        "seconds": started.elapsed().as_secs_f64(),
        "outcome": match outcome { Ok(ok) => ok, Err(error) => error },
    });
    println!("{line}");
}

fn blocking_client(url: &str, buffer: Option<u64>) -> cloud_task_blocking::Client {
    let mut builder = cloud_task_blocking::Client::builder()
        .api_key("hostile-bench-key")
        .base_url(url)
        .upload_base_url(url)
        .timeout(Duration::from_secs(60));
    if let Some(bytes) = buffer {
        builder = builder.max_upload_buffer(bytes);
    }
    builder.build().expect("a client")
}

fn async_client(url: &str, buffer: Option<u64>) -> cloud_task_async::Client {
    let mut builder = cloud_task_async::Client::builder()
        .api_key("hostile-bench-key")
        .base_url(url)
        .upload_base_url(url)
        .timeout(Duration::from_secs(60));
    if let Some(bytes) = buffer {
        builder = builder.max_upload_buffer(bytes);
    }
    builder.build().expect("a client")
}

/// One scenario in this (child) process: `<driver> <what> <url> [file] [buffer bytes]`.
fn scenario(args: &[String]) {
    let [driver, what, url, rest @ ..] = args else {
        panic!("bad scenario {args:?}");
    };
    let started = Instant::now();
    let buffer = rest.get(1).map(|b| b.parse().expect("a byte count"));
    let outcome = match (driver.as_str(), what.as_str()) {
        ("blocking", "endless") => blocking_client(url, None)
            .get_dashboard()
            .map(|_| "ok".to_owned())
            .map_err(|e| e.to_string()),
        ("async", "endless") => runtime()
            .block_on(async_client(url, None).get_dashboard())
            .map(|_| "ok".to_owned())
            .map_err(|e| e.to_string()),
        ("blocking", "one-part") => blocking_client(url, buffer)
            .upload_file(&rest[0], UploadOptions::new())
            .map(|f| f.url)
            .map_err(|e| e.to_string()),
        ("async", "one-part") => runtime()
            .block_on(async_client(url, buffer).upload_file(&rest[0], UploadOptions::new()))
            .map(|f| f.url)
            .map_err(|e| e.to_string()),
        other => panic!("unknown scenario {other:?}"),
    };
    report(started, outcome);
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a runtime")
}

fn run(args: &[&str]) -> serde_json::Value {
    let args: Vec<String> = args.iter().map(|a| (*a).to_owned()).collect();
    run_scenario(&args).expect("the scenario runs")
}

fn print(label: &str, figures: &serde_json::Value, sent_mib: u64) {
    let rss = figures["peak_rss_kib"].as_u64().map_or(f64::NAN, mib);
    let outcome: String = figures["outcome"]
        .as_str()
        .unwrap_or("")
        .chars()
        .take(90)
        .collect();
    println!(
        "  {label:<46} peak RSS {rss:>7.1} MiB  {:>5.2} s  server sent/received {sent_mib:>4} MiB  {outcome}",
        figures["seconds"].as_f64().unwrap_or(f64::NAN)
    );
}

fn main() {
    if let Some(args) = scenario_args() {
        scenario(&args);
        return;
    }
    println!("{}", machine_summary());
    println!(
        "peak RSS of each client process against a hostile server (default limits unless said)"
    );
    for driver in ["async", "blocking"] {
        let server = Hostile::start(Mode::EndlessBody).expect("the server starts");
        let figures = run(&[driver, "endless", &server.url()]);
        print(
            &format!("{driver}: endless body on get_dashboard"),
            &figures,
            server.bytes_sent() / MIB,
        );
    }
    let dir = tempfile::tempdir().expect("a temp dir");
    let path = dir.path().join("large.bin");
    // Sparse: the disk holds nothing, reads give zeros.
    std::fs::File::create(&path)
        .and_then(|f| f.set_len(PART))
        .expect("the file");
    let file = path.to_string_lossy().into_owned();
    for driver in ["async", "blocking"] {
        for buffer in [None, Some(PART)] {
            let server =
                Hostile::start(Mode::OnePartUpload { size: PART }).expect("the server starts");
            let url = server.url();
            let mut args = vec![driver, "one-part", &url, &file];
            let raised = PART.to_string();
            if buffer.is_some() {
                args.push(&raised);
            }
            let figures = run(&args);
            let received: u64 = server.seen().iter().map(|r| r.body_len).sum();
            let label = match buffer {
                None => format!("{driver}: one 256 MiB part"),
                Some(_) => format!("{driver}: one 256 MiB part, buffer raised to 256 MiB"),
            };
            print(&label, &figures, received / MIB);
        }
    }
}
