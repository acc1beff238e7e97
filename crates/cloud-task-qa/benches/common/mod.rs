//! What the benchmark binaries share: the emulator process and the clients pointed at it.

#![allow(dead_code)]

use std::time::Duration;

use cloud_task_qa::emulator::{EmulatorProcess, emulator_binary};

/// The per-request timeout of every client here, SDK or raw.
pub const TIMEOUT: Duration = Duration::from_secs(60);

/// Where a scenario's clients go: passed to a child process as three arguments.
#[derive(Debug, Clone)]
pub struct Target {
    pub base_url: String,
    pub upload_base_url: String,
    pub api_key: String,
}

impl Target {
    pub fn of(emulator: &EmulatorProcess) -> Target {
        Target {
            base_url: emulator.base_url().to_owned(),
            upload_base_url: emulator.upload_base_url().to_owned(),
            api_key: emulator.api_key().to_owned(),
        }
    }

    /// The three arguments.
    pub fn args(&self) -> Vec<String> {
        vec![
            self.base_url.clone(),
            self.upload_base_url.clone(),
            self.api_key.clone(),
        ]
    }

    /// Reads the three arguments back.
    pub fn from_args(args: &[String]) -> Target {
        match args {
            [base_url, upload_base_url, api_key, ..] => Target {
                base_url: base_url.clone(),
                upload_base_url: upload_base_url.clone(),
                api_key: api_key.clone(),
            },
            _ => panic!("expected base URL, upload base URL and API key, got {args:?}"),
        }
    }

    pub fn async_client(&self) -> cloud_task_async::Client {
        cloud_task_async::Client::builder()
            .api_key(self.api_key.as_str())
            .base_url(self.base_url.as_str())
            .upload_base_url(self.upload_base_url.as_str())
            .timeout(TIMEOUT)
            .build()
            .expect("a valid client")
    }

    /// The async client with one interceptor (the shipped `Metrics`): what a hook costs.
    pub fn async_client_intercepted(&self) -> cloud_task_async::Client {
        cloud_task_async::Client::builder()
            .api_key(self.api_key.as_str())
            .base_url(self.base_url.as_str())
            .upload_base_url(self.upload_base_url.as_str())
            .timeout(TIMEOUT)
            .interceptor(cloud_task_async::core::Metrics::new())
            .build()
            .expect("a valid client")
    }

    pub fn blocking_client(&self) -> cloud_task_blocking::Client {
        cloud_task_blocking::Client::builder()
            .api_key(self.api_key.as_str())
            .base_url(self.base_url.as_str())
            .upload_base_url(self.upload_base_url.as_str())
            .timeout(TIMEOUT)
            .build()
            .expect("a valid client")
    }

    /// The core configuration the SDK clients use, for raw clients to send the very same
    /// requests.
    pub fn config(&self) -> cloud_task_async::Config {
        cloud_task_async::Config::builder()
            .api_key(self.api_key.as_str())
            .base_url(self.base_url.as_str())
            .upload_base_url(self.upload_base_url.as_str())
            .build()
            .expect("a valid configuration")
    }
}

/// A plain reqwest client configured as the SDK's own (timeouts, no retries).
pub fn raw_reqwest() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(TIMEOUT)
        .connect_timeout(Duration::from_secs(10))
        .retry(reqwest::retry::never())
        .build()
        .expect("a reqwest client")
}

/// A plain ureq agent configured as the SDK's own (timeouts, 4xx/5xx as responses).
pub fn raw_ureq() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(TIMEOUT))
        .timeout_connect(Some(Duration::from_secs(10)))
        .build()
        .new_agent()
}

/// Starts the emulator binary (building it first when needed) with these flags.
pub fn start_emulator(flags: &[&str]) -> EmulatorProcess {
    let binary = emulator_binary().expect("the emulator binary builds");
    let emulator = EmulatorProcess::start(&binary, flags).expect("the emulator starts");
    if std::env::var_os("QA_VERBOSE").is_some() {
        eprintln!(
            "emulator: {} (pid {}, flags {flags:?})",
            emulator.base_url(),
            emulator.pid()
        );
    }
    emulator
}

/// Calls per second.
pub fn rate(calls: usize, elapsed: Duration) -> f64 {
    calls as f64 / elapsed.as_secs_f64()
}

/// The median of some figures.
pub fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    let n = values.len();
    if n == 0 {
        0.0
    } else if n % 2 == 1 {
        values[n / 2]
    } else {
        (values[n / 2 - 1] + values[n / 2]) / 2.0
    }
}

/// Runs each way `rounds` times, in alternating order (reversed every other round), each
/// run answering the figures its scenario printed; answers per way the best throughput
/// over the rounds (MiB/s, for `size_mib`) and the highest peak RSS (MiB), printing each
/// run on stderr.
pub fn best_of_rounds(
    ways: &[&'static str],
    rounds: usize,
    size_mib: u64,
    mut run: impl FnMut(&str) -> serde_json::Value,
) -> std::collections::HashMap<&'static str, (f64, f64)> {
    let mut best = std::collections::HashMap::new();
    for round in 0..rounds {
        let mut order = ways.to_vec();
        if round % 2 == 1 {
            order.reverse();
        }
        for way in order {
            let figures = run(way);
            let secs = figures["secs"].as_f64().unwrap_or(f64::NAN);
            let peak = cloud_task_qa::measure::mib(figures["peak_rss_kib"].as_u64().unwrap_or(0));
            let mib_s = size_mib as f64 / secs;
            eprintln!(
                "  round {round}: {way:<12} {secs:>6.2} s {mib_s:>7.1} MiB/s, peak RSS {peak:.1} MiB"
            );
            let entry = best.entry(way).or_insert((0.0_f64, 0.0_f64));
            entry.0 = entry.0.max(mib_s);
            entry.1 = entry.1.max(peak);
        }
    }
    best
}

/// Prints each way's best throughput and peak RSS against `rss_target` (MiB), then the
/// ratio of each SDK driver to its raw loop against its target, `targets` = (async,
/// blocking) (ways not measured are left out).
pub fn report_throughput(
    ways: &[&'static str],
    best: &std::collections::HashMap<&'static str, (f64, f64)>,
    size_mib: u64,
    rss_target: f64,
    targets: (f64, f64),
) {
    for way in ways {
        let (mib_s, peak) = best[way];
        let verdict = if peak <= rss_target {
            "ok"
        } else {
            "ABOVE TARGET"
        };
        println!(
            "  {way:<12} {mib_s:>7.1} MiB/s ({:>5.2} s)  peak RSS {peak:>6.1} MiB (target <= {rss_target} MiB: {verdict})",
            size_mib as f64 / mib_s
        );
    }
    for (sdk, raw, target) in [
        ("async", "raw-reqwest", targets.0),
        ("blocking", "raw-ureq", targets.1),
    ] {
        let (Some(sdk_best), Some(raw_best)) = (best.get(sdk), best.get(raw)) else {
            continue;
        };
        let ratio = sdk_best.0 / raw_best.0;
        let verdict = if ratio >= target {
            "ok"
        } else {
            "BELOW TARGET"
        };
        println!("  ratio {sdk} / {raw}: {ratio:.2} (target >= {target}: {verdict})");
    }
}
