//! Result polls per second on loopback with several concurrent clients.
//!
//! ```text
//! cargo bench -p cloud-task-emulator --bench polls
//! cargo bench -p cloud-task-emulator --bench polls -- --clients 16 --seconds 10
//! ```
//!
//! Starts an emulator, creates tasks (half finished, half still running), then has each
//! client poll `GET /v3/users/me/tasks/{id}/result` in a loop over its own keep-alive
//! connection for a fixed time. Prints the rate and the latency percentiles. The clients
//! and the server share the machine (and one runtime), so the figure is a lower bound of
//! the server alone.

use std::sync::Arc;
use std::time::{Duration, Instant};

use cloud_task_emulator::{Emulator, Route};
use serde_json::json;

struct Options {
    clients: usize,
    seconds: f64,
    tasks: usize,
    threads: usize,
}

fn options() -> Options {
    let mut options = Options {
        clients: 8,
        seconds: 5.0,
        tasks: 100,
        threads: 2,
    };
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut i = 0;
    while i < args.len() {
        let value = args.get(i + 1).and_then(|v| v.parse::<f64>().ok());
        match (args[i].as_str(), value) {
            ("--clients", Some(v)) if v >= 1.0 => options.clients = v as usize,
            ("--seconds", Some(v)) if v > 0.0 => options.seconds = v,
            ("--tasks", Some(v)) if v >= 2.0 => options.tasks = v as usize,
            ("--threads", Some(v)) if v >= 1.0 => options.threads = v as usize,
            _ => {
                // `cargo bench` adds `--bench`; ignore what is not ours.
                i += 1;
                continue;
            }
        }
        i += 2;
    }
    options
}

fn main() {
    let options = options();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(options.threads)
        .enable_all()
        .build()
        .expect("a runtime");
    runtime.block_on(run(options));
}

async fn run(options: Options) {
    let emulator = Emulator::builder()
        .time_scale(0.001)
        .max_concurrency(options.tasks as u64)
        .start()
        .await
        .expect("the emulator starts");
    let base = emulator.base_url();
    let key = emulator.api_key();
    let setup = reqwest::Client::new();
    let mut urls = Vec::new();
    for i in 0..options.tasks {
        // Even tasks finish at once; odd ones run for 7 simulated days (10 real minutes).
        let (package, duration) = if i % 2 == 0 {
            ("@oomol/echo", 0)
        } else {
            ("@oomol/slow", 604_800_000u64)
        };
        let body = json!({"packageName": package, "packageVersion": "1.0.0",
            "blockName": "main", "inputValues": {"durationMs": duration, "i": i}});
        let created: serde_json::Value = setup
            .post(format!("{base}/v3/users/me/tasks"))
            .bearer_auth(&key)
            .json(&body)
            .send()
            .await
            .expect("create")
            .json()
            .await
            .expect("a taskID");
        let id = created["taskID"].as_str().expect("a taskID").to_owned();
        urls.push(format!("{base}/v3/users/me/tasks/{id}/result"));
    }
    let urls = Arc::new(urls);
    let run_for = Duration::from_secs_f64(options.seconds);
    // Warm up the connections and the allocator.
    poll_all(&urls, &key, options.clients, Duration::from_millis(300)).await;
    emulator.reset_stats();

    let started = Instant::now();
    let results = poll_all(&urls, &key, options.clients, run_for).await;
    let elapsed = started.elapsed().as_secs_f64();

    let mut latencies: Vec<Duration> = results.iter().flat_map(|r| r.0.iter().copied()).collect();
    let errors: usize = results.iter().map(|r| r.1).sum();
    latencies.sort();
    let polls = latencies.len();
    let pct = |p: f64| {
        latencies
            .get(((polls as f64 * p) as usize).min(polls.saturating_sub(1)))
            .copied()
            .unwrap_or_default()
    };
    println!("cloud-task-emulator result polls on loopback");
    println!(
        "  clients: {}, runtime threads: {}, tasks: {}, duration: {elapsed:.2} s",
        options.clients, options.threads, options.tasks
    );
    println!("  polls: {polls} ok, {errors} errors");
    println!("  rate: {:.0} polls/s", polls as f64 / elapsed);
    println!(
        "  latency: p50 {:?}, p90 {:?}, p99 {:?}, max {:?}",
        pct(0.50),
        pct(0.90),
        pct(0.99),
        pct(1.0)
    );
    println!(
        "  server counted: {} result requests",
        emulator.stats().count(Route::TaskResult)
    );
    emulator.shutdown().await;
}

/// Runs `clients` polling loops for `run_for`; answers each one's latencies and errors.
async fn poll_all(
    urls: &Arc<Vec<String>>,
    key: &str,
    clients: usize,
    run_for: Duration,
) -> Vec<(Vec<Duration>, usize)> {
    let deadline = Instant::now() + run_for;
    let handles: Vec<_> = (0..clients)
        .map(|c| {
            let urls = urls.clone();
            let key = key.to_owned();
            tokio::spawn(async move {
                let http = reqwest::Client::builder()
                    .pool_max_idle_per_host(1)
                    .build()
                    .expect("a client");
                let mut latencies = Vec::with_capacity(100_000);
                let mut errors = 0;
                let mut i = c;
                while Instant::now() < deadline {
                    let url = &urls[i % urls.len()];
                    i += clients;
                    let sent = Instant::now();
                    match http.get(url).bearer_auth(&key).send().await {
                        Ok(response) if response.status().is_success() => {
                            match response.bytes().await {
                                Ok(_) => latencies.push(sent.elapsed()),
                                Err(_) => errors += 1,
                            }
                        }
                        _ => errors += 1,
                    }
                }
                (latencies, errors)
            })
        })
        .collect();
    let mut results = Vec::new();
    for handle in handles {
        results.push(handle.await.expect("a client loop"));
    }
    results
}
