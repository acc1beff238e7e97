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

/// The CPU time, user and system, of this process's children that have ended and been
/// waited for, and of theirs in turn (`cutime` + `cstime` of `/proc/self/stat`); `None` off
/// Linux. The difference around a `cargo build` is the CPU time of the whole build, every
/// `rustc` included: a measure that the machine's other load moves less than wall time.
pub fn children_cpu_time() -> Option<std::time::Duration> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    let ticks = children_ticks(&stat)?;
    Some(std::time::Duration::from_secs_f64(
        ticks as f64 / clock_ticks_per_second() as f64,
    ))
}

/// `cutime` + `cstime` (fields 16 and 17) of a `/proc/<pid>/stat` line, in clock ticks.
/// The command name (field 2) is in parentheses and may hold spaces and parentheses: the
/// fields are counted from after its last `)`.
pub fn children_ticks(stat: &str) -> Option<u64> {
    let (_, rest) = stat.rsplit_once(')')?;
    let mut fields = rest.split_whitespace().skip(16 - 3);
    let user: u64 = fields.next()?.parse().ok()?;
    let system: u64 = fields.next()?.parse().ok()?;
    user.checked_add(system)
}

/// Clock ticks per second (`getconf CLK_TCK`; 100, Linux's `USER_HZ`, when that fails).
fn clock_ticks_per_second() -> u64 {
    Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|out| String::from_utf8(out.stdout).ok())
        .and_then(|text| text.trim().parse().ok())
        .filter(|&ticks| ticks > 0)
        .unwrap_or(100)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn children_ticks_are_counted_after_the_command_name() {
        // A command name with spaces and parentheses; fields 3 to 15, then 16 and 17.
        let stat = "4242 (a (b) c) S 1 2 3 4 5 6 7 8 9 10 11 12 30 12 20 0 1 0 99";
        assert_eq!(children_ticks(stat), Some(42));
        assert_eq!(children_ticks("4242 (cut"), None);
        assert_eq!(children_ticks("4242 (x) S 1 2"), None);
        assert_eq!(
            children_ticks("4242 (x) S 1 2 3 4 5 6 7 8 9 10 11 12 x 1"),
            None
        );
        // Numbers whose sum does not fit: no figure, not a panic.
        let huge = format!("4242 (x) S 1 2 3 4 5 6 7 8 9 10 11 12 {0} {0}", u64::MAX);
        assert_eq!(children_ticks(&huge), None);
    }

    #[test]
    #[cfg(target_os = "linux")]
    fn a_child_s_cpu_time_is_counted_once_it_is_waited_for() {
        let before = children_cpu_time().expect("Linux has /proc/self/stat");
        // Busy for a bounded count of steps (tenths of a second of CPU), then it ends.
        let status = Command::new("sh")
            .args(["-c", "i=0; while [ $i -lt 300000 ]; do i=$((i+1)); done"])
            .status()
            .expect("sh runs");
        assert!(status.success());
        let after = children_cpu_time().unwrap();
        assert!(after > before, "{before:?} then {after:?}");
    }
}
