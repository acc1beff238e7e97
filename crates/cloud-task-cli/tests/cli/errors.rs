//! Exit codes 2 and 3, messages with hints, and the key never shown.

use cloud_task_emulator::Route;

use crate::support::*;

#[test]
fn a_wrong_key_exits_3_with_a_clear_message_and_never_shows_the_key() {
    let server = Server::start();
    let wrong = "wrong-key-7d1e2f9a";
    let output = bare()
        .env("OOMOL_BASE_URL", server.emulator.base_url())
        .args(["dashboard", "--api-key", wrong])
        .output()
        .unwrap();
    assert_eq!(code(&output), 3);
    let err = stderr(&output);
    let mut lines = err.lines();
    let first = lines.next().unwrap();
    assert!(
        first.starts_with("error: ") && first.ends_with("(HTTP 401)"),
        "{err}"
    );
    assert_eq!(
        lines.next(),
        Some("hint: check the API key (--api-key or OOMOL_API_KEY)")
    );
    assert!(output.stdout.is_empty());
    assert!(!err.contains(wrong), "{err}");

    let output = bare()
        .env("OOMOL_BASE_URL", server.emulator.base_url())
        .env("OOMOL_API_KEY", wrong)
        .args([
            "run",
            "@oomol/echo",
            "1.0.0",
            "main",
            "--json",
            "--no-check",
        ])
        .output()
        .unwrap();
    assert_eq!(code(&output), 3);
    let doc = json(&output);
    assert_eq!(doc["error"]["kind"], "api");
    assert_eq!(doc["error"]["status"], 401);
    assert_eq!(doc["error"]["exitCode"], 3);
    let all = format!("{}{}", stdout(&output), stderr(&output));
    assert!(!all.contains(wrong), "{all}");
}

#[test]
fn a_missing_key_says_how_to_set_it() {
    let server = Server::start();
    let output = bare()
        .env("OOMOL_BASE_URL", server.emulator.base_url())
        .args(["list"])
        .output()
        .unwrap();
    assert_eq!(code(&output), 2);
    assert_eq!(
        stderr(&output),
        "error: no API key (none given, OOMOL_API_KEY is not set, and no stored profile at \
         /nonexistent/oomol-cloud-task/credentials.json)\nhint: run `cloud-task login`, pass \
         --api-key KEY or set OOMOL_API_KEY\n"
    );
    assert_eq!(server.emulator.stats().total(), 0);
}

#[test]
fn an_unreachable_server_exits_3() {
    // A port that was free a moment ago: nothing listens there.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let output = bare()
        .env("OOMOL_API_KEY", KEY)
        .args([
            "get",
            "t-1",
            "--json",
            "--base-url",
            &format!("http://127.0.0.1:{port}"),
        ])
        .output()
        .unwrap();
    assert_eq!(code(&output), 3);
    let doc = json(&output);
    assert_eq!(doc["error"]["kind"], "network");
    assert!(
        doc["error"]["message"]
            .as_str()
            .unwrap()
            .starts_with("could not connect"),
        "{doc}"
    );
    assert!(stderr(&output).contains("hint: check your network and the base URL"));
    assert_no_key(&output);
}

#[test]
fn an_unknown_task_exits_3() {
    let server = Server::start();
    let output = server.run(&["get", "no-such-task"]);
    assert_eq!(code(&output), 3);
    let err = stderr(&output);
    assert!(
        err.starts_with("error: ") && err.contains("(HTTP 404)"),
        "{err}"
    );
    assert!(err.contains("hint: check the ID"));
    assert_no_key(&output);
}

#[test]
fn bad_arguments_exit_2_before_anything_is_sent() {
    let server = Server::start();
    let cases: [&[&str]; 7] = [
        &["frobnicate"],
        &["run", "@oomol/echo", "1.0.0"],
        &["run", "@oomol/echo", "1.0.0", "main", "--interval", "10"],
        &["run", "@oomol/echo", "1.0.0", "main", "--timeout", "2x"],
        &["wait", "t-1", "--interval", "0s"],
        &["list", "--size", "many"],
        &["logs", "t-1", "--page", "-1"],
    ];
    for args in cases {
        let output = server.run(args);
        assert_eq!(code(&output), 2, "{args:?}");
        assert!(
            stderr(&output).starts_with("error: "),
            "{args:?}: {}",
            stderr(&output)
        );
        assert!(output.stdout.is_empty(), "{args:?}");
    }
    let output = server.run(&["wait", "t-1", "--interval", "10"]);
    assert!(stderr(&output).contains("`10` has no unit: write e.g. 500ms, 2s, 10m or 1h"));
    assert_eq!(server.emulator.stats().total(), 0);
}

#[test]
fn values_outside_their_documented_range_are_usage_errors_naming_the_problem() {
    let server = Server::start();
    for (args, says) in [
        // Was an API error (exit 3) from the server.
        (
            &["list", "--status", "done"][..],
            "invalid value 'done' for '--status <STATUS>'",
        ),
        (
            &["list", "--task-type", "team"][..],
            "invalid value 'team' for '--task-type <TYPE>'",
        ),
        // Was "unexpected argument '-5'".
        (
            &["run", "@oomol/echo", "1.0.0", "main", "--timeout", "-5s"][..],
            "`-5s` is negative: a duration must be greater than zero",
        ),
        // Was silently sent as the string "1e400".
        (
            &["run", "@oomol/echo", "1.0.0", "main", "--input", "f=1e400"][..],
            "1e400 is out of the range of a JSON number (a 64-bit float)",
        ),
    ] {
        let output = server.run(args);
        assert_eq!(code(&output), 2, "{args:?}: {}", stderr(&output));
        assert!(
            stderr(&output).contains(says),
            "{args:?}: {}",
            stderr(&output)
        );
    }
    assert!(stderr(&server.run(&["list", "--status", "x"])).contains("queued, scheduling"));
    assert_eq!(server.emulator.stats().total(), 0);
}

#[test]
fn usage_lines_do_not_show_a_key_from_the_environment_as_a_given_flag() {
    let output = bare()
        .env("OOMOL_API_KEY", KEY)
        .args(["latest"])
        .output()
        .unwrap();
    assert_eq!(code(&output), 2);
    let err = stderr(&output);
    assert!(
        err.contains("Usage: cloud-task latest <WORKLOAD_ID>..."),
        "{err}"
    );
    assert!(!err.contains("--api-key <KEY>"), "{err}");
    // --help names both base URL variables.
    let help = stdout(&bare().arg("--help").output().unwrap());
    assert!(
        help.contains("OOMOL_BASE_URL") && help.contains("CLOUD_TASK_BASE_URL"),
        "{help}"
    );
}

#[test]
fn help_and_errors_never_show_the_key() {
    for args in [&["--help"][..], &["run", "--help"], &["list", "-h"]] {
        let output = bare()
            .env("OOMOL_API_KEY", KEY)
            .args(args)
            .output()
            .unwrap();
        assert_eq!(code(&output), 0);
        assert!(
            stdout(&output).contains("[env: OOMOL_API_KEY]"),
            "{}",
            stdout(&output)
        );
        assert_no_key(&output);
    }
    let server = Server::start();
    for args in [
        &["get", "missing", "--json"][..],
        &[
            "run",
            "@oomol/fail",
            "1.0.0",
            "main",
            "-i",
            &format!("message=bad {KEY}"),
            "--interval",
            "10ms",
        ],
        &["logs", "missing"],
    ] {
        let output = server.run(args);
        assert_ne!(code(&output), 0);
        assert!(
            !stderr(&output).contains(KEY),
            "{args:?}: {}",
            stderr(&output)
        );
        assert!(
            !stdout(&output).contains(KEY),
            "{args:?}: {}",
            stdout(&output)
        );
    }
    assert_eq!(server.emulator.stats().count(Route::CreateTask), 1);
}

#[test]
fn version_and_help_exit_0() {
    let output = bare().arg("--version").output().unwrap();
    assert_eq!(code(&output), 0);
    assert!(stdout(&output).starts_with("cloud-task "));
    let help = stdout(&bare().arg("--help").output().unwrap());
    for command in [
        "run",
        "create",
        "wait",
        "result",
        "get",
        "list",
        "latest",
        "logs",
        "dashboard",
        "pause",
        "resume",
        "upload",
        "emulator",
        "completions",
    ] {
        assert!(
            help.contains(&format!("\n  {command} ")),
            "{command}: {help}"
        );
    }
    assert!(help.contains("Exit codes: 0 success, 1 the task failed, 2 usage error"));
}

#[test]
fn the_key_can_come_from_a_file_or_stdin_and_is_never_shown() {
    let server = Server::start();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("key");
    std::fs::write(&file, format!("{KEY}\n")).unwrap();
    let base = server.emulator.base_url();
    let output = bare()
        .env("OOMOL_BASE_URL", &base)
        .args(["dashboard", "--json", "--api-key-file"])
        .arg(&file)
        .output()
        .unwrap();
    assert_eq!(code(&output), 0, "{}", stderr(&output));
    assert!(json(&output)["limits"].is_object());
    // From stdin, winning over a wrong key in the environment.
    let output = bare()
        .env("OOMOL_BASE_URL", &base)
        .env("OOMOL_API_KEY", "wrong-key-0000000")
        .args(["dashboard", "--json", "--api-key-file", "-"])
        .write_stdin(format!("{KEY}\n"))
        .output()
        .unwrap();
    assert_eq!(code(&output), 0, "{}", stderr(&output));
    // An empty or missing file is a usage error naming it.
    std::fs::write(&file, "\n").unwrap();
    for path in [file.clone(), dir.path().join("missing")] {
        let output = bare()
            .env("OOMOL_BASE_URL", &base)
            .args(["dashboard", "--api-key-file"])
            .arg(&path)
            .output()
            .unwrap();
        assert_eq!(code(&output), 2);
        assert!(
            stderr(&output).contains(&path.display().to_string()),
            "{}",
            stderr(&output)
        );
    }
    let help = stdout(&bare().args(["--help"]).output().unwrap());
    assert!(help.contains("process list"), "{help}");
}

#[test]
fn server_text_cannot_drive_the_terminal_and_short_keys_do_not_mangle_text() {
    let server = Server::start();
    // The failure message comes from the server, with terminal escapes in it.
    let hostile = "boom\u{1b}]0;pwned\u{7}\u{1b}[2J\rERASED\u{9b}31m";
    let output = server.run_task(&[
        "@oomol/fail",
        "1.0.0",
        "main",
        "-i",
        &format!("message={hostile}"),
    ]);
    assert_eq!(code(&output), 1, "{}", stderr(&output));
    let err = stderr(&output);
    assert!(!err.chars().any(|c| c.is_control() && c != '\n'), "{err:?}");
    assert!(
        err.contains("boom\\u{1b}]0;pwned\\u{7}\\u{1b}[2J\\u{d}ERASED\\u{9b}31m"),
        "{err}"
    );
    // JSON stays JSON: the same text, escaped by JSON itself.
    let output = server.run_task(&[
        "@oomol/fail",
        "1.0.0",
        "main",
        "--json",
        "-i",
        &format!("message={hostile}"),
    ]);
    assert_eq!(code(&output), 1);
    let doc = json(&output);
    assert!(doc["error"]["message"].as_str().unwrap().contains("boom"));
    // A one-letter key is never looked for in messages.
    let output = bare()
        .env("OOMOL_BASE_URL", server.emulator.base_url())
        .args(["dashboard", "--api-key", "k"])
        .output()
        .unwrap();
    assert_eq!(code(&output), 3);
    assert!(
        stderr(&output).contains("invalid API key"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn a_hostile_server_cannot_make_the_cli_buffer_or_loop() {
    use cloud_task_qa::hostile::{Hostile, Mode};
    use std::time::{Duration, Instant};

    // An endless body: the call ends at the body limit, quickly.
    let server = Hostile::start(Mode::EndlessBody).unwrap();
    let started = Instant::now();
    let output = bare()
        .env("OOMOL_BASE_URL", server.url())
        .args(["dashboard", "--api-key", KEY])
        .output()
        .unwrap();
    assert_eq!(code(&output), 3, "{}", stderr(&output));
    assert!(stderr(&output).contains("exceeds"), "{}", stderr(&output));
    assert!(
        started.elapsed() < Duration::from_secs(15),
        "{:?}",
        started.elapsed()
    );
    // A page-token cycle: `list --all` ends, naming the token; the JSON document closes.
    let server = Hostile::start(Mode::TokenCycle {
        tokens: vec!["tok-a".into(), "tok-b".into()],
        empty: false,
    })
    .unwrap();
    let output = bare()
        .env("OOMOL_BASE_URL", server.url())
        .args(["list", "--all", "--json", "--api-key", KEY])
        .output()
        .unwrap();
    assert_eq!(code(&output), 3, "{}", stderr(&output));
    let doc = json(&output);
    assert_eq!(doc["tasks"].as_array().unwrap().len(), 3);
    assert_eq!(doc["error"]["kind"], "protocol");
    assert!(doc["error"]["message"].as_str().unwrap().contains("tok-a"));
    assert_eq!(server.requests(), 3);
}

#[test]
fn wait_options_the_sdk_refuses_create_no_task() {
    let server = Server::start();
    // Not zero (the argument parser refuses that), but under the SDK's 1 ms floor.
    let output = server.run(&[
        "run",
        "@oomol/echo",
        "1.0.0",
        "main",
        "--interval",
        "0.0001s",
    ]);
    assert_eq!(code(&output), 2, "{}", stderr(&output));
    assert!(
        stderr(&output).contains("interval must be at least 1 ms"),
        "{}",
        stderr(&output)
    );
    assert_eq!(server.emulator.stats().count(Route::CreateTask), 0);
}

#[test]
fn a_key_file_that_is_a_device_or_a_directory_is_refused_before_it_is_read() {
    let dir = tempfile::tempdir().unwrap();
    for (path, kind) in [
        (std::path::PathBuf::from("/dev/zero"), "a device"),
        (dir.path().to_path_buf(), "a directory"),
    ] {
        let output = bare()
            .env("OOMOL_BASE_URL", "http://127.0.0.1:9")
            .args(["dashboard", "--api-key-file"])
            .arg(&path)
            .output()
            .unwrap();
        assert_eq!(code(&output), 2, "{}", stderr(&output));
        let err = stderr(&output);
        assert!(
            err.contains(&format!("{} is {kind}, not a regular file", path.display())),
            "{err}"
        );
    }
}
