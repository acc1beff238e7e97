//! Prints figures for the scaling claims of both clients, on an in-memory transport (no
//! network, so the figures are each driver's own cost):
//!
//! - `await_many` of 10,000 tasks (3 polls each, 16 in flight): time and peak memory;
//! - a 64 MiB upload from a reader in 5 MiB parts, 4 in flight: time and peak memory, to
//!   compare with part size × concurrency.
//!
//! Run: `cargo bench -p cloud-task-qa --bench scale`.

use std::collections::HashMap;
use std::pin::Pin;
use std::sync::Mutex;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use cloud_task_core::{
    AwaitOptions, BackoffStrategy, HttpRequest, HttpResponse, Result, SendLimits, UploadOptions,
};

const MIB: u64 = 1024 * 1024;
const TASKS: usize = 10_000;
const UPLOAD: u64 = 64 * MIB;

/// Answers result polls (`running` twice, then `success`) and the three upload steps,
/// the same for both clients. Each client's transport holds a part a moment (as a network
/// would), its own way.
#[derive(Default)]
struct InMemory {
    polls: Mutex<HashMap<String, u32>>,
}

fn ok(body: String) -> HttpResponse {
    HttpResponse::new(body.into_bytes())
}

impl InMemory {
    /// The answer to `request`, and whether it is a part.
    fn answer(&self, request: &HttpRequest) -> (HttpResponse, bool) {
        let path = request.uri().path();
        if let Some(id) = path
            .strip_prefix("/v3/users/me/tasks/")
            .and_then(|p| p.strip_suffix("/result"))
        {
            let mut polls = self.polls.lock().unwrap();
            let n = polls.entry(id.to_owned()).or_default();
            *n += 1;
            let body = if *n < 3 {
                r#"{"status":"running","progress":50}"#.to_owned()
            } else {
                format!(r#"{{"status":"success","resultURL":null,"resultData":[{{"id":"{id}"}}]}}"#)
            };
            return (ok(body), false);
        }
        if path.ends_with("/init") {
            let body: serde_json::Value = serde_json::from_slice(request.body()).unwrap();
            let size = body["size"].as_u64().unwrap();
            let part = 5 * MIB;
            let parts = size.div_ceil(part);
            let urls: Vec<String> = (1..=parts)
                .map(|n| format!(r#""{n}":"https://store.test/part/{n}""#))
                .collect();
            let body = format!(
                r#"{{"data":{{"upload_id":"u","part_size":{part},"total_parts":{parts},"presigned_urls":{{{}}}}}}}"#,
                urls.join(",")
            );
            return (ok(body), false);
        }
        if path.ends_with("/url") {
            return (
                ok(r#"{"data":{"url":"https://files.test/u"}}"#.to_owned()),
                false,
            );
        }
        (ok(String::new()), true)
    }
}

#[async_trait::async_trait]
impl cloud_task_async::HttpTransport for InMemory {
    async fn send(&self, request: HttpRequest, _limits: SendLimits) -> Result<HttpResponse> {
        tokio::task::yield_now().await;
        let (answer, part) = self.answer(&request);
        if part {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        Ok(answer)
    }
}

impl cloud_task_blocking::HttpTransport for InMemory {
    fn send(&self, request: HttpRequest, _limits: SendLimits) -> Result<HttpResponse> {
        let (answer, part) = self.answer(&request);
        if part {
            std::thread::sleep(Duration::from_millis(5));
        }
        Ok(answer)
    }
}

/// Produces `left` bytes without holding them, read once, in order.
struct Generated {
    left: u64,
}

impl std::io::Read for Generated {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = (buf.len() as u64).min(self.left) as usize;
        buf[..n].fill(0xA5);
        self.left -= n as u64;
        Ok(n)
    }
}

impl tokio::io::AsyncRead for Generated {
    fn poll_read(
        mut self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let n = (buf.remaining() as u64).min(self.left) as usize;
        buf.put_slice(&vec![0xA5; n]);
        self.left -= n as u64;
        Poll::Ready(Ok(()))
    }
}

/// Resets the peak resident set size (Linux), so the next reading is this phase's peak.
fn reset_peak() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

/// The resident set size and its peak since the last reset, in KiB (Linux; 0 elsewhere).
fn memory_kib() -> (u64, u64) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

/// Runs `phase` between two memory readings and prints its figures with `report`.
fn measure<T>(phase: impl FnOnce() -> T, report: impl FnOnce(Duration, u64)) -> T {
    reset_peak();
    let (before, _) = memory_kib();
    let started = Instant::now();
    let out = phase();
    let elapsed = started.elapsed();
    let (_, peak) = memory_kib();
    report(elapsed, peak.saturating_sub(before));
    out
}

fn await_many_options() -> AwaitOptions {
    AwaitOptions::new()
        .interval(Duration::from_millis(1))
        .strategy(BackoffStrategy::Fixed)
}

fn ids() -> Vec<String> {
    (0..TASKS).map(|i| format!("task-{i:05}")).collect()
}

fn report_await_many(driver: &str) -> impl FnOnce(Duration, u64) + '_ {
    move |elapsed, grown| {
        println!(
            "{driver:8} await_many: {TASKS} tasks, {} polls in {elapsed:.2?} ({:.0} polls/s), peak RSS +{grown} KiB ({:.0} bytes/task)",
            TASKS * 3,
            (TASKS * 3) as f64 / elapsed.as_secs_f64(),
            grown as f64 * 1024.0 / TASKS as f64,
        )
    }
}

fn report_upload(driver: &str) -> impl FnOnce(Duration, u64) + '_ {
    move |elapsed, grown| {
        println!(
            "{driver:8} upload: {} MiB in 5 MiB parts, 4 in flight, in {elapsed:.2?} ({:.0} MiB/s), peak RSS +{grown} KiB (part size x concurrency = {} KiB)",
            UPLOAD / MIB,
            (UPLOAD / MIB) as f64 / elapsed.as_secs_f64(),
            5 * 1024 * 4,
        )
    }
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let client = cloud_task_async::Client::builder()
        .api_key("bench-key")
        .transport(InMemory::default())
        .build()
        .unwrap();
    let results = measure(
        || runtime.block_on(client.await_many(ids(), await_many_options())),
        report_await_many("async"),
    );
    assert!(results.iter().all(|r| r.is_ok()));
    drop(results);
    let source = Generated { left: UPLOAD };
    let upload = client.upload_reader(source, UPLOAD, "big.bin", UploadOptions::new());
    measure(|| runtime.block_on(upload).unwrap(), report_upload("async"));

    let client = cloud_task_blocking::Client::builder()
        .api_key("bench-key")
        .transport(InMemory::default())
        .build()
        .unwrap();
    let results = measure(
        || client.await_many(ids(), await_many_options()),
        report_await_many("blocking"),
    );
    assert!(results.iter().all(|r| r.is_ok()));
    drop(results);
    let source = Generated { left: UPLOAD };
    measure(
        || {
            client
                .upload_reader(source, UPLOAD, "big.bin", UploadOptions::new())
                .unwrap()
        },
        report_upload("blocking"),
    );
}
