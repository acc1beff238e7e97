//! Prints figures for the bounds on local state (issue "what the SDK keeps on this machine"):
//!
//! - the emulator's resident memory across 3,000 upload inits of the largest size (10,000
//!   parts each), read from `/proc/PID/status` of the emulator process: it must level off
//!   at the cap on live uploads, not grow with every init;
//! - the time the batch journal's exclusive lock adds: opening a journal with the lock
//!   against the same open without it, set against a 10,000-input batch's wall time.
//!
//! Run: `cargo bench -p cloud-task-qa --bench local`.

use std::fs::{File, OpenOptions};
use std::time::{Duration, Instant};

use cloud_task_qa::measure::{machine_summary, mib, rss_kib_of};

mod common;

/// Inits in all, and where the emulator's memory is read.
const INITS: usize = 3_000;
const CHECKPOINTS: [usize; 6] = [0, 250, 500, 1_000, 2_000, 3_000];
/// The emulator's default part size, and its most parts per upload.
const PART_SIZE: u64 = 5 * 1024 * 1024;
const MAX_PARTS: u64 = 10_000;
/// The emulator's peak RSS allowed after the inits.
const TARGET_MIB: f64 = 64.0;
/// Journal opens timed per way.
const OPENS: u32 = 10_000;
/// The wall time of a 10,000-input batch (BENCHMARKS.md, benchmark 9).
const BATCH_WALL: Duration = Duration::from_millis(20_500);

fn main() {
    if std::env::args().any(|a| a == "--list") {
        println!("local: bench");
        return;
    }
    println!("{}", machine_summary());
    emulator_inits();
    journal_lock();
}

fn emulator_inits() {
    let emulator = common::start_emulator(&[]);
    let agent = common::raw_ureq();
    let url = format!("{}/init", emulator.upload_base_url());
    let auth = format!("Bearer {}", emulator.api_key());
    let body = format!(
        r#"{{"file_extension":".bin","size":{}}}"#,
        PART_SIZE * MAX_PARTS
    );
    println!(
        "emulator RSS across {INITS} upload inits of {} GiB ({MAX_PARTS} parts each), never completed:",
        (PART_SIZE * MAX_PARTS) >> 30
    );
    let started = Instant::now();
    let mut peak: f64 = 0.0;
    for n in 0..=INITS {
        if CHECKPOINTS.contains(&n) {
            let rss = mib(rss_kib_of(emulator.pid()).unwrap_or(0));
            peak = peak.max(rss);
            println!("  after {n:>5} inits: {rss:6.1} MiB");
        }
        if n == INITS {
            break;
        }
        let response = agent
            .post(&url)
            .header("Authorization", &auth)
            .header("Content-Type", "application/json")
            .send(body.as_bytes())
            .expect("the init is answered");
        assert_eq!(response.status(), 200, "init {n} refused");
        // Read the answer (about 1 MiB of part URLs) to the end, as a client would.
        let _ = response.into_body().read_to_vec();
    }
    let verdict = if peak <= TARGET_MIB {
        "ok"
    } else {
        "ABOVE TARGET"
    };
    println!(
        "  {INITS} inits in {:.1} s; peak of the readings {peak:.1} MiB (target <= {TARGET_MIB} MiB: {verdict})",
        started.elapsed().as_secs_f64()
    );
}

fn journal_lock() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let path = dir.path().join("batch.journal");
    let open = || {
        OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .expect("the journal opens")
    };
    let time = |locked: bool| {
        let started = Instant::now();
        for _ in 0..OPENS {
            let file: File = open();
            if locked {
                file.try_lock().expect("the lock is free");
            }
            drop(file);
        }
        started.elapsed() / OPENS
    };
    // Alternate, and keep the best of three rounds each.
    let mut plain = Duration::MAX;
    let mut locked = Duration::MAX;
    for _ in 0..3 {
        plain = plain.min(time(false));
        locked = locked.min(time(true));
    }
    let added = locked.saturating_sub(plain);
    println!(
        "journal lock: open {:.1} µs, open + exclusive lock {:.1} µs: {:.1} µs added once per batch, {:.1e} of a 10,000-input batch's {:.1} s (within noise)",
        plain.as_secs_f64() * 1e6,
        locked.as_secs_f64() * 1e6,
        added.as_secs_f64() * 1e6,
        added.as_secs_f64() / BATCH_WALL.as_secs_f64(),
        BATCH_WALL.as_secs_f64()
    );
}
