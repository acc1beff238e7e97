//! Per-call overhead of the SDK on loopback: N sequential `get_task_result` calls of a
//! finished task through the async client, the blocking client, a raw reqwest client and
//! two raw ureq agents (one with the SDK's timeouts, one default agent without any) sending
//! the identical request (same URL, same headers) and decoding the body as JSON, against
//! the emulator running as a separate process.
//!
//! The clients take turns in batches of 100 calls (so that the machine's slow drift hits
//! them alike), for several rounds of N calls each (the first is a warm-up); each figure
//! is the median over all batches. Target: each SDK client at least 0.95× its raw client.
//! Each round also measures the client's CPU time per call (user + system of this process,
//! whose only work is the client: the emulator runs in another process).
//!
//! Run: `cargo bench -p cloud-task-qa --bench per_call` (`QA_CALLS` sets N, default 2000).

mod common;

use std::time::{Duration, Instant};

use cloud_task_async::core::{GetTaskResult, Operation};
use cloud_task_async::{AwaitOptions, CreateTaskRequest, TaskResult};
use cloud_task_qa::measure::{cpu_time, machine_summary};
use serde_json::Value;

use common::{Target, median, rate, raw_reqwest, raw_ureq, start_emulator};

const ROUNDS: usize = 7;
/// The calls of one client before the next takes its turn.
const BATCH: usize = 100;

fn calls() -> usize {
    std::env::var("QA_CALLS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2000)
}

/// The four clients, each timing `n` sequential calls.
struct Clients {
    runtime: tokio::runtime::Runtime,
    sdk_async: cloud_task_async::Client,
    sdk_intercepted: cloud_task_async::Client,
    sdk_blocking: cloud_task_blocking::Client,
    reqwest: reqwest::Client,
    ureq: ureq::Agent,
    ureq_default: ureq::Agent,
    task_id: String,
    url: String,
    headers: Vec<(String, String)>,
}

impl Clients {
    fn sdk_async(&self, n: usize) -> Duration {
        self.runtime.block_on(async {
            let started = Instant::now();
            for _ in 0..n {
                let result = self.sdk_async.get_task_result(&self.task_id).await;
                assert!(matches!(result, Ok(TaskResult::Success(_))));
            }
            started.elapsed()
        })
    }

    fn sdk_intercepted(&self, n: usize) -> Duration {
        self.runtime.block_on(async {
            let started = Instant::now();
            for _ in 0..n {
                let result = self.sdk_intercepted.get_task_result(&self.task_id).await;
                assert!(matches!(result, Ok(TaskResult::Success(_))));
            }
            started.elapsed()
        })
    }

    fn sdk_blocking(&self, n: usize) -> Duration {
        let started = Instant::now();
        for _ in 0..n {
            let result = self.sdk_blocking.get_task_result(&self.task_id);
            assert!(matches!(result, Ok(TaskResult::Success(_))));
        }
        started.elapsed()
    }

    fn raw_reqwest(&self, n: usize) -> Duration {
        self.runtime.block_on(async {
            let started = Instant::now();
            for _ in 0..n {
                let mut request = self.reqwest.get(&self.url);
                for (name, value) in &self.headers {
                    request = request.header(name, value);
                }
                let response = request.send().await.expect("a response");
                assert!(response.status().is_success());
                let body = response.bytes().await.expect("a body");
                let value: Value = serde_json::from_slice(&body).expect("JSON");
                assert_eq!(value["status"], "success");
            }
            started.elapsed()
        })
    }

    fn raw_ureq(&self, n: usize) -> Duration {
        Self::ureq_calls(&self.ureq, self, n)
    }

    fn raw_ureq_default(&self, n: usize) -> Duration {
        Self::ureq_calls(&self.ureq_default, self, n)
    }

    fn ureq_calls(agent: &ureq::Agent, clients: &Clients, n: usize) -> Duration {
        let started = Instant::now();
        for _ in 0..n {
            let mut request = agent.get(&clients.url);
            for (name, value) in &clients.headers {
                request = request.header(name, value);
            }
            let mut response = request.call().expect("a response");
            assert!(response.status().is_success());
            let body = response.body_mut().read_to_vec().expect("a body");
            let value: Value = serde_json::from_slice(&body).expect("JSON");
            assert_eq!(value["status"], "success");
        }
        started.elapsed()
    }
}

fn main() {
    println!("{}", machine_summary());
    let n = calls();
    let emulator = start_emulator(&["--time-scale", "0.001"]);
    let target = Target::of(&emulator);
    let sdk_blocking = target.blocking_client();
    let created = sdk_blocking
        .create_and_wait(
            CreateTaskRequest::new("@oomol/echo", "1.0.0", "main").input("text", "hello"),
            AwaitOptions::new().interval(Duration::from_millis(10)),
        )
        .expect("a finished task");
    // The exact request the SDK sends, for the raw clients to send too.
    let request = GetTaskResult::new(&created.task_id)
        .request(&target.config())
        .expect("a request");
    let headers = request
        .headers()
        .iter()
        .map(|(k, v)| (k.as_str().to_owned(), v.to_str().unwrap().to_owned()))
        .collect();
    let clients = Clients {
        runtime: tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap(),
        sdk_async: target.async_client(),
        sdk_intercepted: target.async_client_intercepted(),
        sdk_blocking,
        reqwest: raw_reqwest(),
        ureq: raw_ureq(),
        // A default agent: no timeouts at all (so no resolver thread per call either).
        ureq_default: ureq::Agent::config_builder()
            .http_status_as_error(false)
            .build()
            .new_agent(),
        task_id: created.task_id,
        url: request.uri().to_string(),
        headers,
    };

    type Run = fn(&Clients, usize) -> Duration;
    let runs: [(&str, Run); 6] = [
        ("async SDK (reqwest)", Clients::sdk_async),
        ("raw reqwest", Clients::raw_reqwest),
        ("blocking SDK (ureq)", Clients::sdk_blocking),
        ("raw ureq, SDK timeouts", Clients::raw_ureq),
        ("raw ureq, default agent", Clients::raw_ureq_default),
        ("async SDK + Metrics", Clients::sdk_intercepted),
    ];
    let mut rates: Vec<Vec<f64>> = vec![Vec::new(); runs.len()];
    let mut cpus: Vec<Vec<f64>> = vec![Vec::new(); runs.len()];
    let batch = BATCH.min(n).max(1);
    for round in 0..ROUNDS {
        for _ in 0..n.div_ceil(batch) {
            for (i, (_, run)) in runs.iter().enumerate() {
                let cpu_before = cpu_time();
                let elapsed = run(&clients, batch);
                let cpu = cpu_time()
                    .zip(cpu_before)
                    .map(|(after, before)| after - before);
                if round > 0 {
                    rates[i].push(rate(batch, elapsed));
                    if let Some(cpu) = cpu {
                        cpus[i].push(cpu.as_secs_f64() * 1e6 / batch as f64);
                    }
                }
            }
        }
    }
    let medians: Vec<f64> = rates.into_iter().map(median).collect();
    let cpu_medians: Vec<Option<f64>> = cpus
        .into_iter()
        .map(|c| (!c.is_empty()).then(|| median(c)))
        .collect();
    println!(
        "per-call overhead: {n} sequential get_task_result calls per round in batches of {batch}, median of the batches of {} rounds",
        ROUNDS - 1
    );
    for (((name, _), calls_per_s), cpu) in runs.iter().zip(&medians).zip(&cpu_medians) {
        let cpu = cpu.map_or_else(|| "n/a".to_owned(), |c| format!("{c:.1} µs"));
        println!(
            "  {name:<22} {calls_per_s:>9.0} calls/s  ({:>6.1} µs/call)  client CPU {cpu}/call",
            1e6 / calls_per_s
        );
    }
    let verdict = |ratio: f64| if ratio >= 0.95 { "ok" } else { "BELOW TARGET" };
    let async_ratio = medians[0] / medians[1];
    // Against the faster of the two raw agents: a raw agent with timeouts pays for a
    // resolver thread per call, which the SDK's transport does not.
    let blocking_ratio = medians[2] / medians[3].max(medians[4]);
    println!(
        "  ratio async SDK / raw reqwest: {async_ratio:.3} (target >= 0.95: {})",
        verdict(async_ratio)
    );
    println!(
        "  ratio blocking SDK / faster raw ureq: {blocking_ratio:.3} (target >= 0.95: {})",
        verdict(blocking_ratio)
    );
    let hook = |i: usize| cpu_medians[i];
    println!(
        "  one interceptor (Metrics): {:.3}x the calls/s of the async SDK without; client CPU {}",
        medians[5] / medians[0],
        match (hook(5), hook(0)) {
            (Some(with), Some(without)) => format!("{:+.1} µs/call", with - without),
            _ => "n/a".to_owned(),
        }
    );
}
