//! Prints figures for the scaling claims of the blocking client, on an in-memory transport
//! (no network, so the figures are the driver's own cost):
//!
//! - `await_many` of 10,000 tasks (3 polls each, 16 in flight) on one scheduler thread:
//!   time and peak memory;
//! - a 64 MiB upload from a `Read + Seek` source in 5 MiB parts, 4 in flight: time and
//!   peak memory, to compare with part size × concurrency.
//!
//! Run: `cargo bench -p cloud-task-blocking --bench scale`.

use cloud_task_blocking::SendLimits;
use std::collections::HashMap;
use std::io::{Read, Seek, SeekFrom};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use cloud_task_blocking::core::{HttpRequest, HttpResponse};
use cloud_task_blocking::{
    AwaitOptions, BackoffStrategy, Client, HttpTransport, Result, UploadOptions,
};

const MIB: u64 = 1024 * 1024;

/// Answers result polls (`running` twice, then `success`) and the three upload steps.
#[derive(Default)]
struct InMemory {
    polls: Mutex<HashMap<String, u32>>,
}

fn ok(body: String) -> HttpResponse {
    HttpResponse::new(body.into_bytes())
}

impl HttpTransport for InMemory {
    fn send(&self, request: HttpRequest, _limits: SendLimits) -> Result<HttpResponse> {
        let path = request.uri().path();
        if let Some(id) = path
            .strip_prefix("/v3/users/me/tasks/")
            .and_then(|p| p.strip_suffix("/result"))
        {
            let mut polls = self.polls.lock().unwrap();
            let n = polls.entry(id.to_owned()).or_default();
            *n += 1;
            return Ok(ok(if *n < 3 {
                r#"{"status":"running","progress":50}"#.to_owned()
            } else {
                format!(r#"{{"status":"success","resultURL":null,"resultData":[{{"id":"{id}"}}]}}"#)
            }));
        }
        if path.ends_with("/init") {
            let body: serde_json::Value = serde_json::from_slice(request.body()).unwrap();
            let size = body["size"].as_u64().unwrap();
            let part = 5 * MIB;
            let parts = size.div_ceil(part);
            let urls: Vec<String> = (1..=parts)
                .map(|n| format!(r#""{n}":"https://store.test/part/{n}""#))
                .collect();
            return Ok(ok(format!(
                r#"{{"data":{{"upload_id":"u","part_size":{part},"total_parts":{parts},"presigned_urls":{{{}}}}}}}"#,
                urls.join(",")
            )));
        }
        if path.ends_with("/url") {
            return Ok(ok(r#"{"data":{"url":"https://files.test/u"}}"#.to_owned()));
        }
        // A part: hold it for a moment, as a network would.
        std::thread::sleep(Duration::from_millis(5));
        Ok(ok(String::new()))
    }
}

/// Produces `len` bytes at any position without holding them.
struct Generated {
    len: u64,
    position: u64,
}

impl Read for Generated {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = (buf.len() as u64).min(self.len.saturating_sub(self.position)) as usize;
        buf[..n].fill(0xA5);
        self.position += n as u64;
        Ok(n)
    }
}

impl Seek for Generated {
    fn seek(&mut self, pos: SeekFrom) -> std::io::Result<u64> {
        self.position = match pos {
            SeekFrom::Start(p) => p,
            SeekFrom::End(d) => self.len.saturating_add_signed(d),
            SeekFrom::Current(d) => self.position.saturating_add_signed(d),
        };
        Ok(self.position)
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

fn main() {
    let client = Client::builder()
        .api_key("bench-key")
        .transport(InMemory::default())
        .build()
        .unwrap();

    let tasks = 10_000;
    let ids: Vec<String> = (0..tasks).map(|i| format!("task-{i:05}")).collect();
    let options = AwaitOptions::new()
        .interval(Duration::from_millis(1))
        .strategy(BackoffStrategy::Fixed);
    reset_peak();
    let (before, _) = memory_kib();
    let started = Instant::now();
    let results = client.await_many(ids, options);
    let elapsed = started.elapsed();
    let (_, peak) = memory_kib();
    assert!(results.iter().all(|r| r.is_ok()));
    println!(
        "await_many: {tasks} tasks, {} polls in {:.2?} ({:.0} polls/s), peak RSS +{} KiB ({:.0} bytes/task)",
        tasks * 3,
        elapsed,
        (tasks * 3) as f64 / elapsed.as_secs_f64(),
        peak.saturating_sub(before),
        peak.saturating_sub(before) as f64 * 1024.0 / tasks as f64,
    );
    drop(results);

    let size = 64 * MIB;
    reset_peak();
    let (before, _) = memory_kib();
    let started = Instant::now();
    client
        .upload_reader(
            Generated {
                len: size,
                position: 0,
            },
            size,
            "big.bin",
            UploadOptions::new(),
        )
        .unwrap();
    let elapsed = started.elapsed();
    let (_, peak) = memory_kib();
    println!(
        "upload: {} MiB in 5 MiB parts, 4 in flight, in {:.2?} ({:.0} MiB/s), peak RSS +{} KiB (part size x concurrency = {} KiB)",
        size / MIB,
        elapsed,
        (size / MIB) as f64 / elapsed.as_secs_f64(),
        peak.saturating_sub(before),
        5 * 1024 * 4,
    );
}
