//! `cloud-task batch`: a batch killed with SIGKILL halfway and run again with its journal
//! creates every input exactly once; results, summary and exit codes; Ctrl-C; bad input.

use std::collections::HashMap;
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use cloud_task_emulator::Route;
use serde_json::Value;

use crate::support::*;

fn write_inputs(dir: &Path, n: usize, extra: &str) -> String {
    let path = dir.join("inputs.jsonl");
    let text: String = (0..n).map(|i| format!("{{\"i\":{i}{extra}}}\n")).collect();
    std::fs::write(&path, text).unwrap();
    path.display().to_string()
}

fn results(path: &Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// How many of the emulator's tasks were created for each input `i`.
fn tasks_per_input(server: &Server) -> HashMap<u64, usize> {
    let out = server.run(&["list", "--all", "--json"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let mut per_input = HashMap::new();
    for task in json(&out)["tasks"].as_array().unwrap() {
        let i = task["schedulerPayload"]["inputValues"]["i"]
            .as_u64()
            .unwrap();
        *per_input.entry(i).or_insert(0) += 1;
    }
    per_input
}

#[test]
fn a_batch_killed_halfway_and_run_again_creates_every_input_once() {
    const N: usize = 200;
    let server = Server::start();
    let dir = tempfile::tempdir().unwrap();
    let inputs = write_inputs(dir.path(), N, ",\"durationMs\":2000");
    let journal = dir.path().join("batch.journal");
    let output = dir.path().join("results.jsonl");
    let args = [
        "batch",
        "--no-check",
        &inputs,
        "--block",
        "@oomol/echo",
        "1.0.0",
        "main",
        "--journal",
        journal.to_str().unwrap(),
        "--concurrency",
        "8",
        "--interval",
        "20ms",
        "-o",
        output.to_str().unwrap(),
    ];
    let mut child = std::process::Command::new(BIN)
        .envs(server.env())
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let started = Instant::now();
    let created = || {
        std::fs::read_to_string(&journal)
            .map(|t| t.matches(r#""t":"created""#).count())
            .unwrap_or(0)
    };
    while created() < N / 2 {
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "the batch stalled"
        );
        assert!(child.try_wait().unwrap().is_none(), "ended before half");
        std::thread::sleep(Duration::from_millis(2));
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    let at_kill = server.emulator.stats().count(Route::CreateTask);
    assert!(at_kill < N as u64, "{at_kill}");

    let out = server.run(&args);
    let mut unknown = 0;
    if code(&out) != 0 {
        // A create synced as sent but killed before it left is reported unknown (exit 1)...
        assert_eq!(code(&out), 1, "{}", stderr(&out));
        unknown = results(&output)
            .iter()
            .filter(|r| r["status"] == "unknown")
            .count();
        assert!(unknown > 0, "{}", stderr(&out));
        // ...and created once more only when asked.
        let mut again = args.to_vec();
        again.push("--recreate-unknown");
        let out = server.run(&again);
        assert_eq!(code(&out), 0, "{}", stderr(&out));
    }
    let lines = results(&output);
    assert_eq!(lines.len(), N);
    assert!(lines.iter().all(|r| r["status"] == "success"));
    let mut indexes: Vec<u64> = lines.iter().map(|r| r["index"].as_u64().unwrap()).collect();
    indexes.sort_unstable();
    assert_eq!(indexes, (0..N as u64).collect::<Vec<_>>());
    for line in &lines {
        assert_eq!(line["result"]["resultData"][0]["i"], line["index"]);
    }
    let per_input = tasks_per_input(&server);
    assert_eq!(per_input.len(), N, "lost inputs");
    assert!(
        per_input.values().all(|c| *c == 1),
        "duplicates: {per_input:?}"
    );
    assert_eq!(server.emulator.stats().count(Route::CreateTask), N as u64);
    println!(
        "cli: killed at {at_kill} creates; resumed to {N}: 0 duplicates, 0 lost ({unknown} unknown at the resume)"
    );
}

#[test]
fn whole_task_lines_failures_and_the_summary() {
    let server = Server::start();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tasks.jsonl");
    std::fs::write(
        &path,
        concat!(
            r#"{"packageName":"@oomol/echo","packageVersion":"1.0.0","blockName":"main","inputValues":{"text":"one"}}"#,
            "\n\n",
            r#"{"packageName":"@oomol/fail","packageVersion":"1.0.0","blockName":"main","inputValues":{"message":"nope"}}"#,
            "\n"
        ),
    )
    .unwrap();
    let out = server.run(&["batch", path.to_str().unwrap(), "--interval", "20ms"]);
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    let mut lines: Vec<Value> = stdout(&out)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    lines.sort_by_key(|l| l["index"].as_u64());
    assert_eq!(lines[0]["status"], "success");
    assert_eq!(lines[0]["result"]["resultData"][0]["text"], "one");
    assert_eq!(lines[1]["status"], "failed");
    assert!(lines[1]["error"].as_str().unwrap().contains("nope"));
    assert!(lines[1]["taskID"].is_string());
    let err = stderr(&out);
    assert!(err.contains("2 inputs: 1 succeeded, 1 failed"), "{err}");
    assert!(err.contains("1 of 2 inputs did not succeed"), "{err}");
    assert_no_key(&out);
}

#[test]
fn bad_lines_and_a_changed_input_file_are_refused_before_anything_is_sent() {
    let server = Server::start();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("in.jsonl");
    std::fs::write(&path, "{\"i\":1}\n[1,2]\n").unwrap();
    let p = path.to_str().unwrap();
    let out = server.run(&["batch", p, "--block", "@oomol/echo", "1.0.0", "main"]);
    assert_eq!(code(&out), 2);
    assert!(stderr(&out).contains("line 2 of"), "{}", stderr(&out));
    let out = server.run(&["batch", p]);
    assert_eq!(code(&out), 2);
    assert!(stderr(&out).contains("line 1 of"), "{}", stderr(&out));
    assert!(stderr(&out).contains("--block"), "{}", stderr(&out));
    // A device (or a FIFO) is refused before it is opened: /dev/zero would be read forever.
    let out = server.run(&[
        "batch",
        "/dev/zero",
        "--block",
        "@oomol/echo",
        "1.0.0",
        "main",
    ]);
    assert_eq!(code(&out), 2);
    assert!(
        stderr(&out).contains("/dev/zero is a device, not a regular file"),
        "{}",
        stderr(&out)
    );
    assert_eq!(server.emulator.stats().count(Route::CreateTask), 0);

    let journal = dir.path().join("j");
    let j = journal.to_str().unwrap();
    std::fs::write(&path, "{\"i\":1}\n").unwrap();
    let block = [
        "--no-check",
        "--block",
        "@oomol/echo",
        "1.0.0",
        "main",
        "--interval",
        "20ms",
    ];
    let out = server.run(&[&["batch", p, "--journal", j][..], &block[..]].concat());
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    std::fs::write(&path, "{\"i\":2}\n").unwrap();
    let out = server.run(&[&["batch", p, "--journal", j][..], &block[..]].concat());
    assert_eq!(code(&out), 2);
    assert!(stderr(&out).contains("input 0 is not the one the journal recorded"));
    assert_eq!(server.emulator.stats().count(Route::CreateTask), 1);
}

#[cfg(unix)]
#[test]
fn ctrl_c_stops_creating_and_leaves_created_tasks_running() {
    let server = Server::with(|b| b.max_concurrency(2).max_queue_size(2));
    let dir = tempfile::tempdir().unwrap();
    let inputs = write_inputs(dir.path(), 20, ",\"durationMs\":100000");
    let journal = dir.path().join("j");
    let running = Running::spawn(
        &server.env(),
        &[
            "batch",
            "--no-check",
            &inputs,
            "--block",
            "@oomol/echo",
            "1.0.0",
            "main",
            "--journal",
            journal.to_str().unwrap(),
            "--interval",
            "20ms",
        ],
    );
    let started = Instant::now();
    while server.emulator.stats().count(Route::CreateTask) < 4 {
        assert!(started.elapsed() < DEADLINE);
        std::thread::sleep(Duration::from_millis(5));
    }
    // Creates still in flight now are answered and kept after the interrupt.
    running.interrupt();
    let (code, out, err) = running.finish();
    assert_eq!(code, 130, "{err}");
    // The account's limits (2 running + 2 queued) were kept: nothing was refused.
    assert_eq!(server.emulator.stats().count(Route::CreateTask), 4);
    assert!(err.contains("run the same command again"), "{err}");
    let cancelled: Vec<Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(cancelled.len(), 20);
    assert_eq!(
        cancelled.iter().filter(|l| l["taskID"].is_string()).count(),
        4,
        "the created tasks are named"
    );
    // Nothing was cancelled on the server: the created tasks are unfinished (they keep
    // running), the others not created.
    for line in &cancelled {
        let expected = if line["taskID"].is_string() {
            "unfinished"
        } else {
            "not_created"
        };
        assert_eq!(line["status"], expected, "{line}");
        assert!(line["error"].is_string(), "{line}");
    }
    assert!(!err.contains("cancelled"), "{err}");
    let text = std::fs::read_to_string(&journal).unwrap();
    assert_eq!(text.matches(r#""t":"created""#).count(), 4);
}

#[test]
fn a_second_batch_on_a_journal_in_use_is_refused_and_nothing_is_created_twice() {
    const N: usize = 20;
    let server = Server::start();
    let dir = tempfile::tempdir().unwrap();
    let inputs = write_inputs(dir.path(), N, ",\"durationMs\":30000");
    let journal = dir.path().join("batch.journal");
    let args = [
        "batch",
        "--no-check",
        &inputs,
        "--block",
        "@oomol/echo",
        "1.0.0",
        "main",
        "--journal",
        journal.to_str().unwrap(),
        "--interval",
        "20ms",
    ];
    let mut first = std::process::Command::new(BIN)
        .envs(server.env())
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // The first batch holds the journal once its header is written.
    let started = Instant::now();
    while std::fs::metadata(&journal).map_or(0, |m| m.len()) == 0 {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "the first batch never started"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    let second = server.run(&args);
    assert_ne!(
        code(&second),
        0,
        "the second batch ran: {}",
        stderr(&second)
    );
    assert!(
        stderr(&second).contains("in use by another batch"),
        "{}",
        stderr(&second)
    );
    // The first goes on alone: every input created once.
    while server.emulator.stats().count(Route::CreateTask) < N as u64 {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "the first batch stalled"
        );
        assert!(
            first.try_wait().unwrap().is_none(),
            "the first batch ended early"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    first.kill().unwrap();
    first.wait().unwrap();
    assert_eq!(server.emulator.stats().count(Route::CreateTask), N as u64);
    assert!(tasks_per_input(&server).values().all(|c| *c == 1));
}

#[test]
fn a_wait_that_times_out_says_how_long_it_waited() {
    let server = Server::start();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tasks.jsonl");
    std::fs::write(
        &path,
        concat!(
            r#"{"packageName":"@oomol/slow","packageVersion":"1.0.0","blockName":"main","inputValues":{"durationMs":3600000}}"#,
            "\n"
        ),
    )
    .unwrap();
    let out = server.run(&[
        "batch",
        path.to_str().unwrap(),
        "--interval",
        "20ms",
        "--timeout",
        "300ms",
    ]);
    let line: Value = serde_json::from_str(stdout(&out).trim()).unwrap();
    let error = line["error"].as_str().unwrap();
    // The official text would say "after 1 minutes".
    assert_eq!(error, "Task polling timeout after 300 ms", "{line}");
    assert_ne!(code(&out), 0);
}

#[test]
fn every_input_is_checked_before_anything_is_created_and_latest_is_pinned() {
    let server = Server::start();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("in.jsonl");
    // Line 2 misspells `text`; line 4 gives a number for it.
    std::fs::write(
        &path,
        "{\"text\":\"a\"}\n{\"txt\":\"b\"}\n\n{\"text\":\"c\"}\n{\"text\":4}\n",
    )
    .unwrap();
    let p = path.to_str().unwrap();
    let block = [
        "--block",
        "@oomol/echo",
        "latest",
        "main",
        "--interval",
        "20ms",
    ];
    let out = server.run(&[&["batch", p][..], &block[..]].concat());
    assert_eq!(code(&out), 2, "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains("2 of 4 inputs do not fit their block"),
        "{err}"
    );
    assert!(
        err.contains("input 1: ") && err.contains("\"txt\""),
        "{err}"
    );
    assert!(err.contains("input 3: "), "{err}");
    assert!(err.contains("--no-check"), "{err}");
    assert_eq!(server.emulator.stats().count(Route::CreateTask), 0);
    // Fixed: every input runs, on the version `latest` is (said once).
    std::fs::write(&path, "{\"text\":\"a\"}\n{\"text\":\"b\"}\n").unwrap();
    let out = server.run(&[&["batch", p][..], &block[..]].concat());
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let err = stderr(&out);
    assert_eq!(
        err.matches("@oomol/echo@latest is 1.0.0").count(),
        1,
        "{err}"
    );
    let tasks = json(&server.run(&["list", "--all", "--json"]));
    for task in tasks["tasks"].as_array().unwrap() {
        assert_eq!(
            task["schedulerPayload"]["packageVersion"], "1.0.0",
            "{task}"
        );
    }
    assert_eq!(server.emulator.stats().count(Route::CreateTask), 2);
}
