//! Download: a 1 GiB result file (`@oomol/file` with `bytes`) through each driver's
//! `download` to a file, and through a raw GET of the same URL streamed to a file (a raw
//! reqwest loop over the body's chunks for the async driver, a raw ureq `io::copy` for the
//! blocking one), against the emulator run as a separate process.
//!
//! Each download runs in a child process (this binary again, with `--scenario`) that
//! reports its time and its peak resident set size (`VmHWM`), and checks the file's size.
//! The emulator makes the file's bytes as it sends them (a repeating pattern copied into
//! each piece), so serving costs it about a memcpy and the figures are the clients'.
//! Targets: the async driver at least 0.95× the throughput of raw reqwest (issue "at the
//! physical limit"), the blocking one 0.8× raw ureq; client peak RSS at
//! most 32 MiB.
//!
//! Run: `cargo bench -p cloud-task-qa --bench download` (`QA_DOWNLOAD_MIB` sets the size,
//! `QA_CHUNK_MIB` the SDK's chunk size, `QA_WAYS=async,raw-reqwest` the ways).

mod common;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

use cloud_task_async::{AwaitOptions, CreateTaskRequest, DownloadOptions};
use cloud_task_qa::measure::{machine_summary, peak_rss_kib, run_scenario, scenario_args};
use serde_json::json;

use common::{Target, best_of_rounds, raw_reqwest, raw_ureq, report_throughput, start_emulator};

const MIB: u64 = 1024 * 1024;
/// Rounds; the order of the downloads alternates between rounds.
const ROUNDS: usize = 3;
/// The client's peak RSS target.
const RSS_TARGET_MIB: f64 = 32.0;

fn size_mib() -> u64 {
    std::env::var("QA_DOWNLOAD_MIB")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1024)
}

/// The raw reqwest loop: one GET, each chunk of the body written to the file as it comes.
async fn raw_reqwest_download(url: &str, path: &Path) -> u64 {
    let client = raw_reqwest();
    let mut response = client.get(url).send().await.unwrap();
    assert!(response.status().is_success());
    let mut file = std::io::BufWriter::with_capacity(1 << 20, std::fs::File::create(path).unwrap());
    let mut written = 0;
    while let Some(chunk) = response.chunk().await.unwrap() {
        file.write_all(&chunk).unwrap();
        written += chunk.len() as u64;
    }
    file.flush().unwrap();
    written
}

/// The raw ureq loop: one GET, its body read into a buffer of 256 KiB and written to the
/// file (`io::copy`'s 8 KiB buffer would make a weaker baseline).
fn raw_ureq_download(url: &str, path: &Path) -> u64 {
    use std::io::Read;
    let mut response = raw_ureq().get(url).call().unwrap();
    assert!(response.status().is_success());
    let mut reader = response.body_mut().with_config().limit(u64::MAX).reader();
    let mut file = std::fs::File::create(path).unwrap();
    let mut buffer = vec![0; 256 * 1024];
    let mut written = 0;
    loop {
        let n = reader.read(&mut buffer).unwrap();
        if n == 0 {
            return written;
        }
        file.write_all(&buffer[..n]).unwrap();
        written += n as u64;
    }
}

/// The SDK's options: its defaults, or chunks of `QA_CHUNK_MIB` MiB.
fn options() -> DownloadOptions {
    match std::env::var("QA_CHUNK_MIB")
        .ok()
        .and_then(|v| v.parse::<u64>().ok())
    {
        Some(mib) => DownloadOptions::new().chunk_size(mib << 20),
        None => DownloadOptions::new(),
    }
}

/// The child: one download of `url` to `path` by `way`, then its figures as one JSON line.
fn scenario(args: &[String]) {
    let [way, url, path, rest @ ..] = args else {
        panic!("expected a way, a URL, a path and a target, got {args:?}");
    };
    let target = Target::from_args(rest);
    let path = PathBuf::from(path);
    let runtime = || {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap()
    };
    let started = Instant::now();
    let size = match way.as_str() {
        "async" => {
            let client = target.async_client();
            let downloaded = runtime()
                .block_on(client.download(url, &path, options()))
                .expect("the download");
            downloaded.size
        }
        "blocking" => {
            let client = target.blocking_client();
            client
                .download(url, &path, options())
                .expect("the download")
                .size
        }
        "raw-reqwest" => runtime().block_on(raw_reqwest_download(url, &path)),
        "raw-ureq" => raw_ureq_download(url, &path),
        other => panic!("unknown way {other}"),
    };
    let secs = started.elapsed().as_secs_f64();
    assert_eq!(std::fs::metadata(&path).unwrap().len(), size);
    std::fs::remove_file(&path).unwrap();
    println!(
        "{}",
        json!({ "secs": secs, "size": size, "peak_rss_kib": peak_rss_kib().unwrap_or(0) })
    );
}

fn main() {
    if let Some(args) = scenario_args() {
        scenario(&args);
        return;
    }
    println!("{}", machine_summary());
    let size = size_mib() * MIB;
    let emulator = start_emulator(&["--time-scale", "0.01"]);
    let target = Target::of(&emulator);
    let client = target.blocking_client();
    let request = CreateTaskRequest::new("@oomol/file", "1.0.0", "main").input("bytes", size);
    let outcome = client
        .create_and_wait(
            request,
            AwaitOptions::new().interval(std::time::Duration::from_millis(20)),
        )
        .expect("the file task succeeds");
    let url = outcome.result.result_url.expect("a result URL");
    let dir = tempfile::tempdir().unwrap();
    println!(
        "download: a {} MiB result file (generated by the emulator as it is sent), to a file; each download in its own process; best of {ROUNDS} rounds in alternating order; the SDK in chunks of {} MiB",
        size / MIB,
        cloud_task_async::core::DEFAULT_CHUNK_SIZE / MIB
    );
    // `QA_WAYS=async,raw-reqwest` measures only those.
    let all = ["raw-reqwest", "async", "raw-ureq", "blocking"];
    let chosen = std::env::var("QA_WAYS").unwrap_or_default();
    let ways: Vec<&str> = all
        .into_iter()
        .filter(|w| chosen.is_empty() || chosen.split(',').any(|c| c == *w))
        .collect();
    let best = best_of_rounds(&ways, ROUNDS, size / MIB, |way| {
        let path = dir.path().join(format!("{way}.bin"));
        let mut args = vec![way.to_owned(), url.clone(), path.display().to_string()];
        args.extend(target.args());
        let figures = run_scenario(&args).expect("the scenario runs");
        assert_eq!(figures["size"].as_u64(), Some(size));
        figures
    });
    report_throughput(&ways, &best, size / MIB, RSS_TARGET_MIB, (0.95, 0.8));
}
