//! `run`, `create`, `wait`, `result`, `get`: outputs, JSON shapes, inputs, exit codes 1
//! and 4, waits that survive faults, progress off a terminal.

use cloud_task_emulator::{Fault, FaultRule, Route};
use serde_json::json;

use crate::support::*;

#[test]
fn run_prints_the_result_data_and_reports_on_stderr() {
    let server = Server::start();
    let output = server.run_task(&["@oomol/echo", "1.0.0", "main", "--input", "text=hello"]);
    assert_eq!(code(&output), 0, "{}", stderr(&output));
    let data: serde_json::Value = serde_json::from_str(&stdout(&output)).unwrap();
    assert_eq!(data, json!([{"text": "hello"}]));
    let err = stderr(&output);
    assert!(err.starts_with("created task "), "{err}");
    assert!(err.contains(" succeeded"), "{err}");
    assert_no_drawing(&err);
    assert_eq!(server.emulator.stats().count(Route::CreateTask), 1);
}

#[test]
fn run_json_is_the_task_id_and_the_result() {
    let server = Server::start();
    let output = server.run_task(&["@oomol/echo", "1.0.0", "main", "-i", "n=3", "--json"]);
    assert_eq!(code(&output), 0, "{}", stderr(&output));
    let doc = json(&output);
    let task_id = doc["taskID"].as_str().expect("taskID is a string");
    assert!(!task_id.is_empty());
    // The official `create_and_wait` shape: the result keeps its status, as `wait` prints it.
    assert_eq!(
        doc["result"],
        json!({"status": "success", "resultURL": null, "resultData": [{"n": 3}]})
    );
    assert_eq!(doc.as_object().unwrap().len(), 2, "{doc}");
}

#[test]
fn input_values_are_json_when_they_can_be() {
    let server = Server::start();
    let output = server.run_task(&[
        "@oomol/echo",
        "1.0.0",
        "main",
        "--json",
        "--input",
        "n=3",
        "--input",
        "x=-2.5",
        "--input",
        "flag=true",
        "--input",
        "none=null",
        "--input",
        r#"o={"a":1}"#,
        "--input",
        "l=[1,2]",
        "--input",
        "s=hello world",
        "--input",
        r#"q="3""#,
        "--input",
        "empty=",
        "--input",
        "url=https://example.com/a?b=c",
    ]);
    assert_eq!(code(&output), 0, "{}", stderr(&output));
    assert_eq!(
        json(&output)["result"]["resultData"][0],
        json!({
            "n": 3, "x": -2.5, "flag": true, "none": null, "o": {"a": 1}, "l": [1, 2],
            "s": "hello world", "q": "3", "empty": "", "url": "https://example.com/a?b=c"
        })
    );
}

#[test]
fn inputs_come_from_json_a_file_or_stdin_and_input_wins() {
    let server = Server::start();
    let data = |output: &std::process::Output| {
        assert_eq!(code(output), 0, "{}", stderr(output));
        json(output)["result"]["resultData"][0].clone()
    };
    let inline = server.run_task(&[
        "@oomol/echo",
        "1.0.0",
        "main",
        "--json",
        "--inputs",
        r#"{"a": 1, "b": 2}"#,
        "--input",
        "b=20",
    ]);
    assert_eq!(data(&inline), json!({"a": 1, "b": 20}));

    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("inputs.json");
    std::fs::write(&file, r#"{"from": "file", "nested": {"k": [true]}}"#).unwrap();
    let at_file = format!("@{}", file.display());
    let from_file = server.run_task(&[
        "@oomol/echo",
        "1.0.0",
        "main",
        "--json",
        "--inputs",
        &at_file,
    ]);
    assert_eq!(
        data(&from_file),
        json!({"from": "file", "nested": {"k": [true]}})
    );

    let from_stdin = server
        .cmd()
        .args([
            "run",
            "@oomol/echo",
            "1.0.0",
            "main",
            "--json",
            "--inputs",
            "@-",
            "--no-check",
        ])
        .args(["--interval", "10ms"])
        .write_stdin(r#"{"from": "stdin"}"#)
        .output()
        .unwrap();
    assert_eq!(data(&from_stdin), json!({"from": "stdin"}));
}

#[test]
fn bad_inputs_are_usage_errors_and_nothing_is_created() {
    let server = Server::start();
    // A file one byte over the bound of an inputs file.
    let dir = tempfile::tempdir().unwrap();
    let big = dir.path().join("big.json");
    std::fs::File::create(&big)
        .unwrap()
        .set_len(cloud_task_local::MAX_INPUTS_FILE + 1)
        .unwrap();
    let at_big = format!("@{}", big.display());
    let too_big = format!(
        "{} is larger than {} bytes",
        big.display(),
        cloud_task_local::MAX_INPUTS_FILE
    );
    let cases: [(&[&str], &str); 6] = [
        (&["--inputs", "{oops"], "error: --inputs: not valid JSON"),
        (
            &["--inputs", "@/dev/zero"],
            "error: --inputs @/dev/zero: cannot read /dev/zero: /dev/zero is a device, not a regular file: an inputs file must be one",
        ),
        (&["--inputs", &at_big], &too_big),
        (
            &["--inputs", "[1]"],
            "error: --inputs: expected a JSON object of inputs, got an array",
        ),
        (
            &["--inputs", "@/nonexistent/inputs.json"],
            "error: --inputs @/nonexistent/inputs.json: cannot read",
        ),
        (&["--input", "novalue"], "`novalue` is not KEY=VALUE"),
    ];
    for (args, expected) in cases {
        let mut all = vec!["run", "@oomol/echo", "1.0.0", "main"];
        all.extend_from_slice(args);
        let output = server.run(&all);
        assert_eq!(code(&output), 2, "{args:?}: {}", stderr(&output));
        assert!(
            stderr(&output).contains(expected),
            "{args:?}: {}",
            stderr(&output)
        );
        assert!(output.stdout.is_empty(), "{args:?}");
    }
    let output = server.run(&["create", "p", "1", "b", "--inputs", "nope", "--json"]);
    assert_eq!(code(&output), 2);
    let doc = json(&output);
    assert_eq!(doc["error"]["kind"], "usage");
    assert_eq!(doc["error"]["exitCode"], 2);
    assert!(
        doc["error"]["message"]
            .as_str()
            .unwrap()
            .starts_with("--inputs: not valid JSON")
    );
    assert_eq!(server.emulator.stats().count(Route::CreateTask), 0);
}

#[test]
fn a_failed_task_exits_1_naming_the_failure() {
    let server = Server::start();
    let output = server.run_task(&["@oomol/fail", "1.0.0", "main", "--input", "message=boom"]);
    assert_eq!(code(&output), 1);
    let err = stderr(&output);
    let last = err.lines().last().unwrap();
    assert!(last.starts_with("error: Task failed: boom (task "), "{err}");
    assert!(output.stdout.is_empty());

    let output = server.run_task(&["@oomol/quota", "1.0.0", "main", "--json"]);
    assert_eq!(code(&output), 1);
    let doc = json(&output);
    assert_eq!(doc["error"]["kind"], "task_failed");
    assert_eq!(doc["error"]["code"], "INSUFFICIENT_QUOTA");
    assert_eq!(
        doc["error"]["message"]
            .as_str()
            .unwrap()
            .split(" (task")
            .next(),
        Some("Task failed: Insufficient quota")
    );
    assert!(doc["error"]["taskID"].is_string());
    assert!(stderr(&output).contains("hint: the account has no quota or credit left"));
}

#[test]
fn a_timeout_exits_4_with_the_command_that_resumes() {
    let server = Server::start();
    let output = server.run(&[
        "run",
        "@oomol/slow",
        "1.0.0",
        "main",
        "--input",
        "durationMs=600000",
        "--interval",
        "20ms",
        "--timeout",
        "300ms",
        "--json",
    ]);
    assert_eq!(code(&output), 4, "{}", stderr(&output));
    let doc = json(&output);
    let task_id = doc["error"]["taskID"].as_str().unwrap();
    assert_eq!(doc["error"]["kind"], "timeout");
    // In the CLI's own words: how long it waited and that the task goes on.
    assert_eq!(
        doc["error"]["message"],
        format!(
            "stopped waiting after 300ms: task {task_id} has not finished and keeps running on the server"
        )
    );
    // Without the timeout that ended this wait: the same bound would end the next as soon.
    let resume = format!(
        "cloud-task --base-url {} --json wait {task_id} --interval 20ms",
        server.emulator.base_url()
    );
    assert_eq!(doc["error"]["resume"], resume.as_str());
    assert!(stderr(&output).contains(&format!("hint: resume waiting with: {resume}")));
    // The task was left alone: it is still running.
    let detail = json(&server.run(&["get", task_id, "--json"]));
    assert_eq!(detail["status"], "running");
}

#[test]
fn create_and_no_wait_print_the_id_and_wait_finishes_it() {
    let server = Server::start();
    let output = server.run(&[
        "run",
        "@oomol/echo",
        "1.0.0",
        "main",
        "--no-wait",
        "--no-check",
        "-i",
        "k=1",
    ]);
    assert_eq!(code(&output), 0);
    let task_id = stdout(&output).trim().to_owned();
    assert!(!task_id.is_empty() && !task_id.contains(char::is_whitespace));

    let output = server.run(&[
        "create",
        "@oomol/echo",
        "1.0.0",
        "main",
        "--json",
        "--no-check",
        "-i",
        "k=2",
    ]);
    let created = json(&output);
    assert_eq!(created.as_object().unwrap().len(), 1);
    let second = created["taskID"].as_str().unwrap();

    let output = server.run(&["wait", &task_id, "--interval", "10ms"]);
    assert_eq!(code(&output), 0, "{}", stderr(&output));
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&stdout(&output)).unwrap(),
        json!([{"k": 1}])
    );

    let output = server.run(&["wait", second, "--interval", "10ms", "--json"]);
    assert_eq!(
        json(&output),
        json!({"status": "success", "resultURL": null, "resultData": [{"k": 2}]})
    );
    assert_eq!(server.emulator.stats().count(Route::CreateTask), 2);
}

#[test]
fn result_looks_once_and_exits_1_for_a_failed_task() {
    let server = Server::start();
    let slow = server.create(&["@oomol/slow", "1.0.0", "main", "-i", "durationMs=600000"]);
    let output = server.run(&["result", &slow]);
    assert_eq!(code(&output), 0);
    let line = stdout(&output);
    assert!(
        ["queued", "scheduling", "scheduled", "running"]
            .iter()
            .any(|s| line.starts_with(s)),
        "{line}"
    );
    assert!(line.trim_end().ends_with('%'), "{line}");
    let doc = json(&server.run(&["result", &slow, "--json"]));
    assert!(
        doc["status"].is_string() && doc["progress"].is_number(),
        "{doc}"
    );

    let done = server.run_task(&["@oomol/echo", "1.0.0", "main", "-i", "a=1", "--json"]);
    let done_id = json(&done)["taskID"].as_str().unwrap().to_owned();
    let doc = json(&server.run(&["result", &done_id, "--json"]));
    assert_eq!(
        doc,
        json!({"status": "success", "resultURL": null, "resultData": [{"a": 1}]})
    );
    let output = server.run(&["result", &done_id]);
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&stdout(&output)).unwrap(),
        json!([{"a": 1}])
    );

    let failed = server.run_task(&[
        "@oomol/fail",
        "1.0.0",
        "main",
        "-i",
        "message=bad",
        "--json",
    ]);
    let failed_id = json(&failed)["error"]["taskID"]
        .as_str()
        .unwrap()
        .to_owned();
    let output = server.run(&["result", &failed_id, "--json"]);
    assert_eq!(code(&output), 1);
    assert_eq!(json(&output), json!({"status": "failed", "error": "bad"}));
    assert!(stderr(&output).contains("error: Task failed: bad"));
}

#[test]
fn get_shows_the_details() {
    let server = Server::start();
    let output = server.run_task(&["@oomol/echo", "1.0.0", "main", "--json"]);
    let task_id = json(&output)["taskID"].as_str().unwrap().to_owned();
    let doc = json(&server.run(&["get", &task_id, "--json"]));
    assert_eq!(doc["taskID"], task_id.as_str());
    assert_eq!(doc["taskType"], "user");
    assert_eq!(doc["status"], "success");
    assert_eq!(doc["progress"], 100.0);
    assert!(
        doc["createdAt"].is_i64() && doc["workloadID"].is_string(),
        "{doc}"
    );

    let text = stdout(&server.run(&["get", &task_id]));
    assert!(
        text.starts_with(&format!("task ID     {task_id}\n")),
        "{text}"
    );
    assert!(text.contains("\nstatus      success\n"), "{text}");
    assert!(text.contains("\ncreated     20"), "{text}");
}

#[test]
fn a_wait_survives_server_errors_and_dropped_connections() {
    let server = Server::start();
    server
        .emulator
        .add_fault(FaultRule::new(Route::TaskResult, Fault::ServiceUnavailable).times(3));
    server
        .emulator
        .add_fault(FaultRule::new(Route::TaskResult, Fault::DropConnection).times(2));
    let output = server.run_task(&["@oomol/echo", "1.0.0", "main", "-i", "x=1", "--json"]);
    assert_eq!(code(&output), 0, "{}", stderr(&output));
    assert_eq!(json(&output)["result"]["resultData"], json!([{"x": 1}]));
    let stats = server.emulator.stats();
    assert_eq!(stats.count(Route::CreateTask), 1, "never created twice");
    assert!(
        stats.count(Route::TaskResult) >= 6,
        "the faulted polls were retried"
    );
}

#[test]
fn quiet_prints_only_the_result() {
    let server = Server::start();
    let output = server.run_task(&["@oomol/echo", "1.0.0", "main", "--quiet"]);
    assert_eq!(code(&output), 0);
    assert!(output.stderr.is_empty(), "{}", stderr(&output));
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&stdout(&output)).unwrap(),
        json!([{}])
    );
}

#[test]
fn off_a_terminal_progress_is_plain_lines() {
    let server = Server::start();
    let output = server.run(&[
        "run",
        "@oomol/echo",
        "1.0.0",
        "main",
        "-i",
        "durationMs=20000",
        "--interval",
        "20ms",
        "--no-check",
    ]);
    assert_eq!(code(&output), 0);
    let err = stderr(&output);
    assert_no_drawing(&err);
    assert_no_drawing(&stdout(&output));
    assert!(
        err.lines()
            .any(|l| l.starts_with("task ") && l.contains(": running ")),
        "{err}"
    );
}

/// On a terminal (a pseudo-terminal made by util-linux `script`), the bar is drawn.
#[test]
fn on_a_terminal_a_bar_is_drawn() {
    if !terminals_available() {
        return;
    }
    let server = Server::start();
    let args = "run @oomol/echo 1.0.0 main -i durationMs=30000 --interval 20ms --no-check";
    let text = in_terminal(&server, args, &[]);
    assert!(
        text.contains('\r') && text.contains("\x1b["),
        "no drawing: {text:?}"
    );
    assert!(text.contains("running") && text.contains('%'), "{text:?}");
}

#[test]
fn colours_on_a_terminal_unless_no_color() {
    if !terminals_available() {
        return;
    }
    let server = Server::start();
    server.run_task(&["@oomol/echo", "1.0.0", "main"]);
    let no_color = [("NO_COLOR", "1")];

    let coloured = in_terminal(&server, "list", &[]);
    assert!(coloured.contains("\x1b[32msuccess"), "{coloured:?}");
    let plain = in_terminal(&server, "list", &no_color);
    assert!(
        plain.contains("success") && !plain.contains('\x1b'),
        "{plain:?}"
    );

    let error = in_terminal(&server, "get missing", &[]);
    assert!(error.contains("\x1b[1;31merror:\x1b[0m"), "{error:?}");
    let error = in_terminal(&server, "get missing", &no_color);
    assert!(
        error.starts_with("error: ") && !error.contains('\x1b'),
        "{error:?}"
    );
}

#[test]
fn a_wait_held_back_by_a_rate_limit_says_so() {
    let server = Server::start();
    server.emulator.add_fault(
        FaultRule::new(
            Route::TaskResult,
            Fault::TooManyRequests {
                retry_after: std::time::Duration::from_secs(1),
            },
        )
        .times(1),
    );
    let output = server.run_task(&["@oomol/echo", "1.0.0", "main", "--input", "text=hi"]);
    assert_eq!(code(&output), 0, "{}", stderr(&output));
    let err = stderr(&output);
    assert!(
        err.contains("rate limited (HTTP 429); polling again in 1s"),
        "{err}"
    );
    assert_no_key(&output);
}
