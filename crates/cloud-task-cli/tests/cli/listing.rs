//! `list`, `latest`, `logs`.

use cloud_task_emulator::{Route, workload_id};
use serde_json::json;

use crate::support::*;

/// Runs `n` echo tasks and one failing task to their ends; answers their IDs, newest first.
fn some_tasks(server: &Server, n: usize) -> Vec<String> {
    let mut ids = Vec::new();
    for i in 0..n {
        let output = server.run_task(&[
            "@oomol/echo",
            "1.0.0",
            "main",
            "--json",
            "-i",
            &format!("i={i}"),
        ]);
        ids.push(json(&output)["taskID"].as_str().unwrap().to_owned());
    }
    let output = server.run_task(&["@oomol/fail", "1.0.0", "main", "--json"]);
    ids.push(
        json(&output)["error"]["taskID"]
            .as_str()
            .unwrap()
            .to_owned(),
    );
    ids.reverse();
    ids
}

#[test]
fn list_prints_a_table_and_says_how_to_get_more() {
    let server = Server::start();
    let ids = some_tasks(&server, 2);
    let output = server.run(&["list"]);
    assert_eq!(code(&output), 0);
    let text = stdout(&output);
    let lines: Vec<&str> = text.lines().collect();
    assert!(
        lines[0].starts_with("TASK ID") && lines[0].contains("STATUS"),
        "{text}"
    );
    assert_eq!(lines.len(), 4, "{text}");
    for (line, id) in lines[1..].iter().zip(&ids) {
        assert!(line.starts_with(id.as_str()), "{line}");
    }
    assert!(
        lines[1].contains("failed") && lines[1].contains("@oomol/fail main"),
        "{text}"
    );
    assert!(
        lines[2].contains("success") && lines[2].contains("100%"),
        "{text}"
    );

    let output = server.run(&["list", "--size", "2"]);
    assert_eq!(stdout(&output).lines().count(), 3);
    assert!(
        stderr(&output).contains("more tasks: add --next-token "),
        "{}",
        stderr(&output)
    );
}

#[test]
fn list_json_is_a_page_and_the_token_gets_the_next() {
    let server = Server::start();
    let ids = some_tasks(&server, 2);
    let page = json(&server.run(&["list", "--size", "2", "--json"]));
    let listed: Vec<&str> = page["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["taskID"].as_str().unwrap())
        .collect();
    assert_eq!(listed, [ids[0].as_str(), ids[1].as_str()]);
    assert_eq!(page["tasks"][0]["status"], "failed");
    assert!(page["tasks"][0]["workloadID"].is_string());
    let token = page["nextToken"].as_str().expect("a next token");
    let next = json(&server.run(&["list", "--size", "2", "--json", "--next-token", token]));
    assert_eq!(next["tasks"][0]["taskID"], ids[2].as_str());
    assert_eq!(next["nextToken"], serde_json::Value::Null);
}

#[test]
fn list_all_streams_every_page() {
    let server = Server::start();
    let ids = some_tasks(&server, 4);
    server.emulator.reset_stats();
    let output = server.run(&["list", "--all", "--size", "2"]);
    assert_eq!(code(&output), 0);
    let text = stdout(&output);
    assert_eq!(text.matches("TASK ID").count(), 1, "one header: {text}");
    let rows: Vec<&str> = text
        .lines()
        .skip(1)
        .map(|l| l.split_whitespace().next().unwrap())
        .collect();
    assert_eq!(rows, ids.iter().map(String::as_str).collect::<Vec<_>>());
    assert_eq!(
        server.emulator.stats().count(Route::ListTasks),
        3,
        "5 tasks in pages of 2"
    );

    let doc = json(&server.run(&["list", "--all", "--size", "2", "--json"]));
    assert_eq!(doc["tasks"].as_array().unwrap().len(), 5);
    assert_eq!(doc["nextToken"], serde_json::Value::Null);
}

#[test]
fn list_filters() {
    let server = Server::start();
    let ids = some_tasks(&server, 2);
    let failed = json(&server.run(&["list", "--status", "failed", "--json"]));
    assert_eq!(failed["tasks"].as_array().unwrap().len(), 1);
    assert_eq!(failed["tasks"][0]["taskID"], ids[0].as_str());
    let echo = json(&server.run(&["list", "--package-id", "@oomol/echo", "--all", "--json"]));
    assert_eq!(echo["tasks"].as_array().unwrap().len(), 2);
    let wid = workload_id("@oomol/fail", "1.0.0", "main");
    let by_workload = json(&server.run(&["list", "--workload-id", &wid, "--json"]));
    assert_eq!(by_workload["tasks"][0]["taskID"], ids[0].as_str());
    let empty = server.run(&["list", "--status", "queued"]);
    assert_eq!(code(&empty), 0);
    assert!(empty.stdout.is_empty());
    assert!(stderr(&empty).contains("no tasks"));
}

#[test]
fn a_bad_page_size_is_refused_before_sending() {
    let server = Server::start();
    for size in ["0", "101"] {
        let output = server.run(&["list", "--size", size]);
        assert_eq!(code(&output), 2);
        assert_eq!(
            stderr(&output).trim_end(),
            "error: size must be an integer between 1 and 100"
        );
    }
    assert_eq!(server.emulator.stats().count(Route::ListTasks), 0);
}

#[test]
fn latest_shows_the_newest_task_per_workload() {
    let server = Server::start();
    let ids = some_tasks(&server, 2);
    let echo = workload_id("@oomol/echo", "1.0.0", "main");
    let fail = workload_id("@oomol/fail", "1.0.0", "main");
    let doc = json(&server.run(&["latest", &echo, &fail, "--json"]));
    let items = doc.as_array().expect("an array");
    assert_eq!(items.len(), 2);
    assert_eq!(items[0]["taskID"], ids[1].as_str());
    assert_eq!(items[0]["workloadID"], echo.as_str());
    assert_eq!(items[1]["taskID"], ids[0].as_str());
    assert_eq!(items[1]["status"], "failed");

    let text = stdout(&server.run(&["latest", &echo]));
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines[0].starts_with("TASK ID") && lines[0].contains("WORKLOAD ID"));
    assert!(
        lines[1].starts_with(&format!("{}  {echo}  success", ids[1])),
        "{text}"
    );

    let output = server.run(&["latest"]);
    assert_eq!(code(&output), 2, "a workload ID is required");
}

#[test]
fn logs_show_a_page_of_entries() {
    let server = Server::start();
    let output = server.run_task(&["@oomol/echo", "1.0.0", "main", "-i", "logLines=3", "--json"]);
    let task_id = json(&output)["taskID"].as_str().unwrap().to_owned();

    let doc = json(&server.run(&["logs", &task_id, "--json"]));
    let logs = doc["logs"].as_array().expect("a list of entries");
    assert!(logs.len() >= 5, "{doc}");
    assert!(
        logs.iter()
            .all(|e| e.as_object().unwrap().values().all(|v| v.is_string()))
    );
    assert!(
        logs.iter()
            .any(|e| e["log"] == "line 2" && e["type"] == "BlockLog")
    );

    let text = stdout(&server.run(&["logs", &task_id]));
    let line = text
        .lines()
        .find(|l| l.contains("line 2"))
        .expect("the log line");
    assert!(
        line.starts_with("20") && line.ends_with("Z [main] line 2"),
        "{line}"
    );
    assert!(text.contains("[main] logLines = 3"), "{text}");
    assert!(
        text.lines()
            .last()
            .unwrap()
            .ends_with("[main] session finished"),
        "{text}"
    );

    let empty = server.run(&["logs", &task_id, "--page", "9"]);
    assert_eq!(code(&empty), 0);
    assert!(empty.stdout.is_empty());
    assert_eq!(
        json(&server.run(&["logs", &task_id, "--page", "9", "--json"])),
        json!({"logs": []})
    );
}

#[test]
fn a_closed_stdout_ends_the_listing_quietly() {
    let server = Server::start();
    some_tasks(&server, 1);
    let mut command = std::process::Command::new(BIN);
    let mut child = command
        .envs(server.env())
        .env_remove("NO_COLOR")
        .args(["list", "--all", "--size", "1"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Close the reading end before the first row is written (it needs a request first).
    drop(child.stdout.take());
    let output = child.wait_with_output().unwrap();
    assert_eq!(code(&output), 0, "{}", stderr(&output));
    assert!(output.stderr.is_empty(), "{}", stderr(&output));
}
