//! The `cloud-task-emulator` binary: its four lines, serving, and a clean stop.

use std::io::{BufRead, BufReader, Read};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::DEADLINE;

fn spawn(args: &[&str]) -> Child {
    Command::new(env!("CARGO_BIN_EXE_cloud-task-emulator"))
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the binary starts")
}

/// Reads the first four lines of stdout as `KEY=value` pairs.
fn four_lines(child: &mut Child) -> Vec<(String, String)> {
    let stdout = child.stdout.take().unwrap();
    let mut lines = BufReader::new(stdout).lines();
    (0..4)
        .map(|_| {
            let line = lines.next().expect("a line").expect("utf-8");
            let (key, value) = line.split_once('=').expect("KEY=value");
            (key.to_owned(), value.to_owned())
        })
        .collect()
}

/// Stops the child with SIGINT (as Ctrl-C does) and waits, bounded.
#[cfg(unix)]
fn interrupt(child: &mut Child) -> std::process::ExitStatus {
    let status = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let deadline = Instant::now() + DEADLINE;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        assert!(Instant::now() < deadline, "the emulator ignored Ctrl-C");
        std::thread::sleep(Duration::from_millis(5));
    }
}

#[cfg(unix)]
#[test]
fn prints_four_lines_serves_and_stops_on_ctrl_c() {
    let mut child = spawn(&[
        "--addr",
        "127.0.0.1:0",
        "--api-key",
        "first-key",
        "--api-key",
        "second-key",
        "--time-scale",
        "0.01",
        "--max-concurrency",
        "3",
        "--max-queue-size",
        "9",
        "--part-size",
        "1024",
    ]);
    let lines = four_lines(&mut child);
    let keys: Vec<&str> = lines.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(
        keys,
        [
            "CLOUD_TASK_BASE_URL",
            "CLOUD_TASK_UPLOAD_BASE_URL",
            "CLOUD_TASK_REGISTRY_URL",
            "OOMOL_API_KEY"
        ]
    );
    let base = &lines[0].1;
    assert_eq!(&lines[2].1, base, "the emulator is its own registry");
    assert!(base.starts_with("http://127.0.0.1:"), "{base}");
    assert_eq!(
        lines[1].1,
        format!("{base}{}", cloud_task_emulator::UPLOAD_PATH)
    );
    assert_eq!(lines[3].1, "first-key");
    let http = reqwest::blocking::Client::new();
    let dashboard: serde_json::Value = http
        .get(format!("{base}/v3/users/me/dashboard"))
        .bearer_auth("second-key")
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(
        dashboard["limits"],
        serde_json::json!({"maxConcurrency": 3, "maxQueueSize": 9})
    );
    let info: serde_json::Value = http
        .get(format!("{base}/_emulator/info"))
        .bearer_auth("first-key")
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(info["timeScale"], 0.01);
    assert_eq!(info["partSize"], 1024);
    let status = interrupt(&mut child);
    assert!(status.success(), "{status:?}");
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    assert!(!stderr.contains("first-key"), "{stderr}");
}

#[cfg(unix)]
#[test]
fn generates_and_prints_a_key_when_none_is_given() {
    let mut child = spawn(&["--addr", "127.0.0.1:0"]);
    let lines = four_lines(&mut child);
    let key = &lines[3].1;
    assert!(key.len() >= 32, "{key}");
    let status = reqwest::blocking::Client::new()
        .get(format!("{}/v3/users/me/dashboard", lines[0].1))
        .bearer_auth(key)
        .send()
        .unwrap()
        .status();
    assert_eq!(status, 200);
    assert!(interrupt(&mut child).success());
}

#[test]
fn bad_flags_fail_with_a_message() {
    for args in [
        &["--addr", "127.0.0.1:0", "--time-scale", "0"][..],
        &["--addr", "not-an-address"][..],
    ] {
        let output = Command::new(env!("CARGO_BIN_EXE_cloud-task-emulator"))
            .args(args)
            .output()
            .unwrap();
        assert!(!output.status.success(), "{args:?}");
        assert!(output.stdout.is_empty(), "{args:?}");
        assert!(!output.stderr.is_empty(), "{args:?}");
    }
}

/// `eval "$(cloud-task-emulator --detach ...)"` returns once the emulator listens: the
/// command ends, its output is `export` lines (the four variables and the PID), and the
/// emulator serves until it is sent SIGTERM.
#[cfg(unix)]
#[test]
fn detach_returns_once_listening_and_the_emulator_serves_until_killed() {
    let started = Instant::now();
    let output = Command::new(env!("CARGO_BIN_EXE_cloud-task-emulator"))
        .args([
            "--detach",
            "--addr",
            "127.0.0.1:0",
            "--api-key",
            "detached-key",
        ])
        .output()
        .expect("the binary runs");
    assert!(output.status.success(), "{output:?}");
    assert!(started.elapsed() < DEADLINE);
    let stdout = String::from_utf8(output.stdout).unwrap();
    let vars: Vec<(&str, &str)> = stdout
        .lines()
        .map(|line| {
            line.strip_prefix("export ")
                .and_then(|rest| rest.split_once('='))
                .unwrap_or_else(|| panic!("not an export line: {line:?}"))
        })
        .collect();
    let names: Vec<&str> = vars.iter().map(|(name, _)| *name).collect();
    assert_eq!(
        names,
        [
            "CLOUD_TASK_BASE_URL",
            "CLOUD_TASK_UPLOAD_BASE_URL",
            "CLOUD_TASK_REGISTRY_URL",
            "OOMOL_API_KEY",
            "CLOUD_TASK_EMULATOR_PID"
        ]
    );
    assert_eq!(vars[3].1, "detached-key");
    let pid = vars[4].1;
    let status = reqwest::blocking::Client::new()
        .get(format!("{}/v3/users/me/dashboard", vars[0].1))
        .bearer_auth("detached-key")
        .send()
        .unwrap()
        .status();
    assert_eq!(status, 200);
    let killed = Command::new("kill").args(["-TERM", pid]).status().unwrap();
    assert!(killed.success());
    // It stops: its port stops answering.
    let addr = vars[0].1.trim_start_matches("http://").to_owned();
    let deadline = Instant::now() + DEADLINE;
    while std::net::TcpStream::connect(&addr).is_ok() {
        assert!(
            Instant::now() < deadline,
            "the detached emulator ignored SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn detach_reports_a_failure_to_start_and_leaves_nothing_behind() {
    let output = Command::new(env!("CARGO_BIN_EXE_cloud-task-emulator"))
        .args(["--detach", "--addr", "127.0.0.1:0", "--part-size", "0"])
        .output()
        .unwrap();
    assert!(!output.status.success());
    assert!(output.stdout.is_empty());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("part_size must be at least 1 byte"),
        "{stderr}"
    );
}
