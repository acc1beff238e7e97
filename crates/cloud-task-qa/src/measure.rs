//! Measuring a client in a process of its own: its peak memory, and the re-execution of a
//! benchmark binary for one scenario.

use std::io;
use std::process::{Command, Stdio};

use serde_json::Value;

/// The command-line flag that makes a benchmark binary run one scenario in this process
/// and print its figures as one JSON line.
pub const SCENARIO_FLAG: &str = "--scenario";

/// The peak resident set size of this process since it started (`VmHWM` of
/// `/proc/self/status`), in KiB; `None` where there is no such file (not Linux).
pub fn peak_rss_kib() -> Option<u64> {
    status_field("VmHWM:")
}

/// The CPU time this process has used so far, user and system, summed over its living
/// threads (`/proc/self/task/*/schedstat`, nanoseconds); `None` off Linux. Threads that
/// ended are not counted: measure work whose threads live to the end of the measurement.
pub fn cpu_time() -> Option<std::time::Duration> {
    let mut total: u64 = 0;
    for entry in std::fs::read_dir("/proc/self/task").ok()? {
        let Ok(entry) = entry else { continue };
        let Ok(text) = std::fs::read_to_string(entry.path().join("schedstat")) else {
            continue;
        };
        total += text.split_whitespace().next()?.parse::<u64>().ok()?;
    }
    Some(std::time::Duration::from_nanos(total))
}

/// The current resident set size of this process (`VmRSS`), in KiB; `None` off Linux.
pub fn rss_kib() -> Option<u64> {
    status_field("VmRSS:")
}

/// The resident set size of process `pid` now, in KiB (`VmRSS`); `None` off Linux.
pub fn rss_kib_of(pid: u32) -> Option<u64> {
    status_field_of(&format!("/proc/{pid}/status"), "VmRSS:")
}

fn status_field(name: &str) -> Option<u64> {
    status_field_of("/proc/self/status", name)
}

fn status_field_of(path: &str, name: &str) -> Option<u64> {
    let status = std::fs::read_to_string(path).ok()?;
    status
        .lines()
        .find(|l| l.starts_with(name))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

/// The scenario this process was asked to run (the words after [`SCENARIO_FLAG`]), if any.
pub fn scenario_args() -> Option<Vec<String>> {
    let args: Vec<String> = std::env::args().collect();
    let at = args.iter().position(|a| a == SCENARIO_FLAG)?;
    Some(args[at + 1..].to_vec())
}

/// Runs this very executable again with [`SCENARIO_FLAG`] and `args`, and answers the JSON
/// object it printed on its last line of stdout (its stderr goes to ours).
pub fn run_scenario(args: &[String]) -> io::Result<Value> {
    let output = Command::new(std::env::current_exe()?)
        .arg(SCENARIO_FLAG)
        .args(args)
        .stdin(Stdio::null())
        .stderr(Stdio::inherit())
        .output()?;
    if !output.status.success() {
        return Err(io::Error::other(format!(
            "the scenario {args:?} failed: {}",
            output.status
        )));
    }
    let stdout = String::from_utf8_lossy(&output.stdout);
    let last = stdout.lines().last().unwrap_or_default();
    serde_json::from_str(last).map_err(|e| io::Error::other(format!("{e}: {last:?}")))
}

/// KiB as MiB, for printing.
pub fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

/// One line about this machine, printed at the top of every benchmark: CPUs, CPU model
/// (from `/proc/cpuinfo`), memory (from `/proc/meminfo`).
pub fn machine_summary() -> String {
    let cpus = std::thread::available_parallelism().map_or(0, usize::from);
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find(|l| l.starts_with("model name"))
        .and_then(|l| l.split_once(':'))
        .map_or("unknown CPU", |(_, m)| m.trim())
        .to_owned();
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    let memory_kib: u64 = meminfo
        .lines()
        .find(|l| l.starts_with("MemTotal:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    format!(
        "machine: {cpus} CPUs, {model}, {:.1} GiB memory",
        memory_kib as f64 / (1024.0 * 1024.0)
    )
}
