//! `logs --follow`, `run` and `wait` with `--logs`, and `download`.

use serde_json::Value;

use crate::support::{Server, assert_no_key, code, json, stderr, stdout};

#[test]
fn logs_follow_prints_every_entry_once_until_the_task_ends() {
    let server = Server::start();
    let task_id = server.create(&[
        "@oomol/echo",
        "1.0.0",
        "main",
        "-i",
        "logLines=150",
        "-i",
        "durationMs=2000",
    ]);
    let output = server.run(&["logs", &task_id, "--follow", "--interval", "20ms"]);
    assert_eq!(code(&output), 0, "{}", stderr(&output));
    let text = stdout(&output);
    // Each line as a page of `logs` shows it: the entry's time (UTC), then the event.
    let lines: Vec<&str> = text
        .lines()
        .map(|line| {
            let (time, event) = line.split_once(' ').expect("a time, then the event");
            assert!(time.ends_with('Z') && time.contains('T'), "{line}");
            event
        })
        .collect();
    assert!(
        lines[0].starts_with("[main] Running block main of @oomol/echo"),
        "{text}"
    );
    let page = stdout(&server.run(&["logs", &task_id]));
    let first_page: Vec<&str> = page.lines().collect();
    let followed: Vec<&str> = text.lines().collect();
    assert_eq!(
        followed[..first_page.len()],
        first_page[..],
        "the same lines"
    );
    let numbered: Vec<&str> = lines
        .iter()
        .copied()
        .filter(|l| l.contains("] line "))
        .collect();
    let expected: Vec<String> = (1..=150).map(|n| format!("[main] line {n}")).collect();
    assert_eq!(numbered, expected);
    assert_eq!(lines.last(), Some(&"[main] session finished"));
    assert!(stderr(&output).contains("succeeded"));
    assert_no_key(&output);
}

#[test]
fn logs_follow_json_is_one_typed_object_per_line() {
    let server = Server::start();
    let task_id = server.create(&[
        "@oomol/echo",
        "1.0.0",
        "main",
        "-i",
        "logLines=3",
        "-i",
        "x={\"a\":[1]}",
    ]);
    let output = server.run(&["logs", &task_id, "--follow", "--json", "--interval", "10ms"]);
    assert_eq!(code(&output), 0, "{}", stderr(&output));
    let events: Vec<Value> = stdout(&output)
        .lines()
        .map(|l| serde_json::from_str(l).expect("one JSON object per line"))
        .collect();
    assert!(events.iter().all(|e| e["type"].is_string()), "{events:?}");
    // Every log event has its entry's time, in milliseconds.
    assert!(
        events
            .iter()
            .filter(|e| e["type"] == "BlockLog")
            .all(|e| e["time"].as_i64().is_some_and(|ms| ms > 1_600_000_000_000)),
        "{events:?}"
    );
    let types: Vec<&str> = events.iter().map(|e| e["type"].as_str().unwrap()).collect();
    assert_eq!(types.last(), Some(&"Finished"));
    assert_eq!(types.iter().filter(|t| **t == "BlockLog").count(), 4);
    // Values parsed back: the output of `x` is an object, not a string.
    let x = events
        .iter()
        .find(|e| e["type"] == "BlockOutput" && e["handle"] == "x")
        .expect("the output of x");
    assert_eq!(x["output"], serde_json::json!({"a": [1]}));
    assert_eq!(events.last().unwrap()["resultData"][0]["logLines"], 3);
}

#[test]
fn logs_follow_of_a_failed_task_exits_1_after_its_logs() {
    let server = Server::start();
    let task_id = server.create(&["@oomol/fail", "1.0.0", "main", "-i", "message=broken"]);
    let output = server.run(&["logs", &task_id, "-f", "--interval", "10ms"]);
    assert_eq!(code(&output), 1, "{}", stderr(&output));
    let text = stdout(&output);
    assert!(text.contains("[main!] Error: broken"), "{text}");
    assert!(
        text.lines()
            .last()
            .unwrap()
            .contains("session failed: broken"),
        "{text}"
    );
    assert!(stderr(&output).contains("broken"));

    let output = server.run(&["logs", &task_id, "-f", "--json", "--interval", "10ms"]);
    assert_eq!(code(&output), 1);
    let last: Value = serde_json::from_str(stdout(&output).lines().last().unwrap()).unwrap();
    assert_eq!(last["type"], "Error");
    assert_eq!(last["error"]["kind"], "task_failed");
    assert_eq!(last["error"]["taskID"], task_id.as_str());
}

#[test]
fn run_and_wait_with_logs_print_lines_on_stderr_and_the_result_on_stdout() {
    let server = Server::start();
    let output = server.run_task(&[
        "@oomol/echo",
        "1.0.0",
        "main",
        "-i",
        "logLines=2",
        "--logs",
        "--json",
    ]);
    assert_eq!(code(&output), 0, "{}", stderr(&output));
    let doc = json(&output);
    assert_eq!(doc["result"]["resultData"][0]["logLines"], 2);
    let err = stderr(&output);
    assert!(
        err.contains("[main] line 1") && err.contains("[main] line 2"),
        "{err}"
    );
    assert!(err.contains("[main] session finished"), "{err}");

    let task_id = doc["taskID"].as_str().unwrap();
    let output = server.run(&["wait", task_id, "--logs", "--interval", "10ms"]);
    assert_eq!(code(&output), 0);
    assert!(stderr(&output).contains("[main] line 2"));
    assert!(stdout(&output).contains("\"logLines\": 2"));
    // Without --logs, no log line.
    let output = server.run(&["wait", task_id, "--interval", "10ms"]);
    assert!(!stderr(&output).contains("line 2"));
}

#[test]
fn download_saves_a_result_file_by_task_id_or_url() {
    let server = Server::start();
    let task_id = server.create(&[
        "@oomol/file",
        "1.0.0",
        "main",
        "-i",
        "text=hello from the cloud",
    ]);
    let dir = tempfile::tempdir().unwrap();
    let output = server
        .cmd()
        .current_dir(dir.path())
        .args(["download", &task_id, "--interval", "10ms"])
        .output()
        .unwrap();
    assert_eq!(code(&output), 0, "{}", stderr(&output));
    assert_eq!(stdout(&output).trim(), "result.txt");
    assert_eq!(
        std::fs::read_to_string(dir.path().join("result.txt")).unwrap(),
        "hello from the cloud"
    );
    assert!(stderr(&output).contains("downloaded 20 bytes"));
    // Again: the file is there, and is never replaced without -o.
    let again = server
        .cmd()
        .current_dir(dir.path())
        .args(["download", &task_id])
        .output()
        .unwrap();
    assert_eq!(code(&again), 2, "{}", stderr(&again));
    assert!(stderr(&again).contains("already exists"));

    // By URL, to a path, as JSON.
    let result = json(&server.run(&["result", &task_id, "--json"]));
    let url = result["resultURL"].as_str().unwrap();
    let path = dir.path().join("copy.txt");
    let output = server.run(&["download", url, "-o", path.to_str().unwrap(), "--json"]);
    assert_eq!(code(&output), 0, "{}", stderr(&output));
    let doc = json(&output);
    assert_eq!(doc["size"], 20);
    assert_eq!(doc["contentType"], "text/plain; charset=utf-8");
    assert_eq!(
        std::fs::read_to_string(&path).unwrap(),
        "hello from the cloud"
    );
    // To stdout.
    let output = server.run(&["download", url, "-o", "-"]);
    assert_eq!(stdout(&output), "hello from the cloud");
    assert_no_key(&output);
    // A file over --max-size is refused before it is written; a size must have a known unit.
    let small = dir.path().join("small.txt");
    let output = server.run(&[
        "download",
        url,
        "-o",
        small.to_str().unwrap(),
        "--max-size",
        "19",
    ]);
    assert_eq!(code(&output), 3, "{}", stderr(&output));
    assert!(
        stderr(&output).contains("larger than 19 bytes") && stderr(&output).contains("--max-size"),
        "{}",
        stderr(&output)
    );
    assert!(!small.exists());
    let output = server.run(&["download", url, "-o", "-", "--max-size", "1KiB"]);
    assert_eq!(stdout(&output), "hello from the cloud");
    let output = server.run(&["download", url, "-o", "-", "--max-size", "10GB"]);
    assert_eq!(code(&output), 2, "{}", stderr(&output));
    assert!(stderr(&output).contains("unknown unit `GB`"));
}

#[test]
fn download_resumes_after_a_cut_and_explains_a_missing_file() {
    let server = Server::start();
    let size: u64 = 20 * 1024 * 1024; // three chunks of 8 MiB
    let task_id = server.create(&[
        "@oomol/file",
        "1.0.0",
        "main",
        "-i",
        &format!("bytes={size}"),
    ]);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("big.bin");
    let path_arg = path.to_str().unwrap();
    // The second chunk is cut after 1000 bytes on each of its tries: the download stops,
    // keeping the first chunk and the bytes that came of the second.
    let cut = cloud_task_emulator::FaultRule::new(
        cloud_task_emulator::Route::Download,
        cloud_task_emulator::Fault::CutBody { after: 1000 },
    );
    server.emulator.add_fault(cut.skip(1));
    let output = server.run(&[
        "download",
        &task_id,
        "-o",
        path_arg,
        "--retries",
        "1",
        "--interval",
        "10ms",
    ]);
    assert_eq!(code(&output), 3, "{}", stderr(&output));
    assert!(
        stderr(&output).contains("run the same command again to resume"),
        "{}",
        stderr(&output)
    );
    let part = dir.path().join("big.bin.part");
    assert_eq!(
        std::fs::metadata(&part).unwrap().len(),
        8 * 1024 * 1024 + 1000
    );
    server.emulator.clear_faults();
    let before = server
        .emulator
        .stats()
        .count(cloud_task_emulator::Route::Download);
    let output = server.run(&["download", &task_id, "-o", path_arg, "--interval", "10ms"]);
    assert_eq!(code(&output), 0, "{}", stderr(&output));
    let after = server
        .emulator
        .stats()
        .count(cloud_task_emulator::Route::Download);
    assert_eq!(after - before, 2, "only the two chunks left");
    let bytes = std::fs::read(&path).unwrap();
    assert_eq!(bytes.len() as u64, size);
    assert!(
        bytes
            .iter()
            .enumerate()
            .all(|(i, b)| *b == cloud_task_emulator::generated_byte(i as u64)),
        "the bytes differ"
    );
    assert!(!part.exists());

    let echo = server.create(&["@oomol/echo", "1.0.0", "main"]);
    let output = server.run(&["download", &echo, "--interval", "10ms", "--json"]);
    assert_eq!(code(&output), 3);
    let doc = json(&output);
    assert_eq!(doc["error"]["kind"], "no_result_file");
    assert!(
        doc["error"]["hint"]
            .as_str()
            .unwrap()
            .contains("cloud-task result")
    );
}
