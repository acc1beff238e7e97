//! Upload: a 1 GiB file through each driver's `upload_file`, and through a raw PUT loop of
//! the same parts (a raw reqwest loop for the async driver, a raw ureq loop on threads for
//! the blocking one), against the emulator run as a separate process (5 MiB parts, 4 in
//! flight).
//!
//! Each upload runs in a child process (this binary again, with `--scenario`) that reports
//! its time and its peak resident set size (`VmHWM`). Targets: each driver at least 0.8×
//! the throughput of its raw loop; client peak RSS at most part size × concurrency + 32 MiB.
//!
//! Run: `cargo bench -p cloud-task-qa --bench upload` (`QA_UPLOAD_MIB` sets the size).

mod common;

use std::fs::File;
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use cloud_task_async::UploadOptions;
use cloud_task_async::core::{
    GetUploadUrl, HttpRequest, HttpResponse, Operation, UploadInit, UploadPart, UploadPlan,
};
use cloud_task_qa::measure::{machine_summary, mib, peak_rss_kib, run_scenario, scenario_args};
use futures_util::StreamExt;
use futures_util::stream::FuturesUnordered;
use serde_json::json;

use common::{Target, best_of_rounds, raw_reqwest, raw_ureq, report_throughput, start_emulator};

const MIB: u64 = 1024 * 1024;
/// The emulator's part size and the uploads' concurrency (the SDK's default).
const PART_SIZE: u64 = 5 * MIB;
const CONCURRENCY: usize = 4;
/// Rounds; the order of the uploads alternates between rounds.
const ROUNDS: usize = 3;

fn size_mib() -> u64 {
    std::env::var("QA_UPLOAD_MIB")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1024)
}

/// Writes `size` bytes of a pseudo-random pattern to a new file.
fn make_file(dir: &Path, size: u64) -> PathBuf {
    let path = dir.join("upload-bench.bin");
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    let block: Vec<u8> = (0..MIB)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect();
    let mut file = std::io::BufWriter::new(File::create(&path).unwrap());
    let mut left = size;
    while left > 0 {
        let n = left.min(MIB);
        file.write_all(&block[..n as usize]).unwrap();
        left -= n;
    }
    file.flush().unwrap();
    path
}

/// Reads one part from the file.
fn read_part(path: &Path, part: &UploadPart) -> Vec<u8> {
    let mut file = File::open(path).unwrap();
    file.seek(SeekFrom::Start(part.offset)).unwrap();
    let mut buffer = vec![0; part.len as usize];
    file.read_exact(&mut buffer).unwrap();
    buffer
}

fn size_of(path: &Path) -> u64 {
    std::fs::metadata(path).unwrap().len()
}

/// The raw reqwest loop: init and final URL as the core builds them, the parts as plain
/// `PUT`s, 4 at a time, each part read when it is sent.
async fn raw_reqwest_upload(target: &Target, path: &Path) {
    let client = raw_reqwest();
    let config = target.config();
    let send = |request: HttpRequest| {
        let client = client.clone();
        async move {
            let request = reqwest::Request::try_from(request).unwrap();
            let response = client.execute(request).await.unwrap();
            let status = response.status();
            let body = response.bytes().await.unwrap().to_vec();
            let mut answer = HttpResponse::new(body);
            *answer.status_mut() = status;
            answer
        }
    };
    let size = size_of(path);
    let init = UploadInit::for_file("upload-bench.bin", size);
    let target_parts = init
        .parse(send(init.request(&config).unwrap()).await)
        .unwrap();
    let plan = UploadPlan::new(&target_parts, size).unwrap();
    let mut parts = plan.parts().iter();
    let mut in_flight = FuturesUnordered::new();
    loop {
        while in_flight.len() < CONCURRENCY
            && let Some(part) = parts.next()
        {
            let client = client.clone();
            let path = path.to_owned();
            let part = part.clone();
            in_flight.push(async move {
                let url = part.url.clone();
                let body = tokio::task::spawn_blocking(move || read_part(&path, &part))
                    .await
                    .unwrap();
                let response = client
                    .put(url)
                    .header("content-type", "application/octet-stream")
                    .body(body)
                    .send()
                    .await
                    .unwrap();
                assert!(response.status().is_success());
            });
        }
        if in_flight.next().await.is_none() {
            break;
        }
    }
    let url = GetUploadUrl::new(plan.upload_id());
    url.parse(send(url.request(&config).unwrap()).await)
        .unwrap();
}

/// The raw ureq loop: init and final URL as the core builds them, the parts as plain
/// `PUT`s on 4 threads, each part read when it is sent.
fn raw_ureq_upload(target: &Target, path: &Path) {
    let agent = raw_ureq();
    let config = target.config();
    let send = |request: HttpRequest| {
        let (parts, body) = request.into_parts();
        let request = http_request(parts, body);
        let mut response = agent.run(request).unwrap();
        let status = response.status();
        let body = response.body_mut().read_to_vec().unwrap();
        let mut answer = HttpResponse::new(body);
        *answer.status_mut() = status;
        answer
    };
    let size = size_of(path);
    let init = UploadInit::for_file("upload-bench.bin", size);
    let target_parts = init.parse(send(init.request(&config).unwrap())).unwrap();
    let plan = UploadPlan::new(&target_parts, size).unwrap();
    let next = AtomicUsize::new(0);
    std::thread::scope(|scope| {
        for _ in 0..CONCURRENCY {
            scope.spawn(|| {
                while let Some(part) = plan.parts().get(next.fetch_add(1, Ordering::SeqCst)) {
                    let body = read_part(path, part);
                    let response = agent
                        .put(&part.url)
                        .header("content-type", "application/octet-stream")
                        .send(&body[..])
                        .unwrap();
                    assert!(response.status().is_success());
                }
            });
        }
    });
    let url = GetUploadUrl::new(plan.upload_id());
    url.parse(send(url.request(&config).unwrap())).unwrap();
}

fn http_request(
    parts: cloud_task_async::core::http::request::Parts,
    body: Vec<u8>,
) -> cloud_task_async::core::http::Request<Vec<u8>> {
    cloud_task_async::core::http::Request::from_parts(parts, body)
}

/// The child: one upload of `path` by `way`, then its figures as one JSON line.
fn scenario(args: &[String]) {
    let [way, path, rest @ ..] = args else {
        panic!("expected a way, a file and a target, got {args:?}");
    };
    let target = Target::from_args(rest);
    let path = PathBuf::from(path);
    let options = || UploadOptions::new().concurrency(CONCURRENCY);
    let runtime = || {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap()
    };
    let started = Instant::now();
    match way.as_str() {
        "async" => {
            let client = target.async_client();
            runtime()
                .block_on(client.upload_file(&path, options()))
                .expect("the upload");
        }
        "blocking" => {
            target
                .blocking_client()
                .upload_file(&path, options())
                .expect("the upload");
        }
        "raw-reqwest" => runtime().block_on(raw_reqwest_upload(&target, &path)),
        "raw-ureq" => raw_ureq_upload(&target, &path),
        other => panic!("unknown way {other}"),
    }
    let secs = started.elapsed().as_secs_f64();
    println!(
        "{}",
        json!({ "secs": secs, "peak_rss_kib": peak_rss_kib().unwrap_or(0) })
    );
}

fn main() {
    if let Some(args) = scenario_args() {
        scenario(&args);
        return;
    }
    println!("{}", machine_summary());
    let size = size_mib() * MIB;
    let dir = tempfile::tempdir().unwrap();
    let path = make_file(dir.path(), size);
    let rss_target = mib(PART_SIZE / 1024 * CONCURRENCY as u64) + 32.0;
    println!(
        "upload: {} MiB file, {} MiB parts, {CONCURRENCY} in flight; each upload in its own process, against a fresh emulator; best of {ROUNDS} rounds in alternating order",
        size / MIB,
        PART_SIZE / MIB
    );
    let ways = ["raw-reqwest", "async", "raw-ureq", "blocking"];
    let best = best_of_rounds(&ways, ROUNDS, size / MIB, |way| {
        // A fresh emulator per upload, so that each starts alike: it removes the file it
        // stored (unwritten pages and all) when it stops.
        let emulator = start_emulator(&["--part-size", &PART_SIZE.to_string()]);
        let target = Target::of(&emulator);
        let mut args = vec![way.to_owned(), path.display().to_string()];
        args.extend(target.args());
        run_scenario(&args).expect("the scenario runs")
    });
    report_throughput(&ways, &best, size / MIB, rss_target, (0.8, 0.8));
}
