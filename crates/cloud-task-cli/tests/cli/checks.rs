//! `info`, and the checks of `run` and `create`: a bad input is a usage error naming it,
//! and nothing is created; `--dry-run` prints the body and sends nothing.

use cloud_task_emulator::Route;
use serde_json::json;

use crate::support::{KEY, Server, assert_no_key, bare, code, json, stderr, stdout};

#[test]
fn info_lists_blocks_and_inputs() {
    let server = Server::start();
    let output = server.run(&["info", "@oomol/echo", "1.0.0"]);
    assert_eq!(code(&output), 0, "{}", stderr(&output));
    let text = stdout(&output);
    assert!(text.starts_with("@oomol/echo@1.0.0"), "{text}");
    let line = |handle: &str| {
        text.lines()
            .find(|l| l.trim_start().starts_with(&format!("{handle} ")))
            .unwrap_or_else(|| panic!("no line for {handle}: {text}"))
            .to_owned()
    };
    assert!(line("text").contains("string") && line("text").contains("required"));
    assert!(line("count").contains("integer") && line("count").contains("default 1"));
    assert!(
        line("mode").contains(r#"one of "fast", "thorough""#),
        "{}",
        line("mode")
    );
    assert!(line("options").contains("object | null") && line("options").contains("optional"));
    // Columns line up: each input's last column starts where the others' do.
    let column = |handle: &str, text: &str| line(handle).find(text).unwrap();
    assert_eq!(column("text", "Any text"), column("count", "A count"));
    assert_eq!(column("count", "A count"), column("mode", "one of"));

    let doc = json(&server.run(&["info", "@oomol/file", "latest", "main", "--json"]));
    assert_eq!(doc["packageVersion"], "1.0.0");
    assert_eq!(doc["blocks"][0]["blockName"], "main");
    assert_eq!(doc["blocks"][0]["inputHandleDefs"][1]["handle"], "bytes");

    let missing = server.run(&["info", "@oomol/echo", "1.0.0", "nope"]);
    assert_eq!(code(&missing), 2);
    assert!(
        stderr(&missing).contains("its blocks: main"),
        "{}",
        stderr(&missing)
    );
    let unknown = server.run(&["info", "@acme/none", "1.0.0"]);
    assert_eq!(code(&unknown), 3);
    assert!(stderr(&unknown).contains("check the package name and version"));
    assert_no_key(&output);
}

#[test]
fn a_bad_input_is_a_usage_error_naming_it_and_creates_nothing() {
    let server = Server::start();
    // (Words without spaces: the command line as a user types it.)
    let line = "run @oomol/echo 1.0.0 main -i txt=1 -i count=-1";
    let output = server.run(&line.split(' ').collect::<Vec<_>>());
    assert_eq!(code(&output), 2, "{}", stderr(&output));
    let err = stderr(&output);
    for expected in [
        r#"input "txt": block main has no such input"#,
        r#"input "text": required, of type string"#,
        r#"input "count": -1 is less than the minimum of 0"#,
        "cloud-task info @oomol/echo 1.0.0 main",
    ] {
        assert!(err.contains(expected), "{expected}: {err}");
    }
    let output = server.run(&[
        "create",
        "@oomol/echo",
        "1.0.0",
        "main",
        "--json",
        "-i",
        "text=a",
        "-i",
        r#"options={"depth":1,"tags":[1]}"#,
    ]);
    assert_eq!(code(&output), 2);
    let doc = json(&output);
    assert_eq!(doc["error"]["kind"], "invalid_inputs");
    assert_eq!(
        doc["error"]["problems"],
        json!([{"handle": "options", "pointer": "/tags/0", "kind": "invalid",
                "message": "1 is not of type \"string\""}])
    );
    assert_eq!(server.emulator.stats().count(Route::CreateTask), 0);

    // Checked and good: created. Unchecked: created whatever the inputs.
    let output = server.run(&[
        "run",
        "@oomol/echo",
        "1.0.0",
        "main",
        "-i",
        "text=hi",
        "--interval",
        "10ms",
    ]);
    assert_eq!(code(&output), 0, "{}", stderr(&output));
    let output = server.run(&[
        "create",
        "@oomol/echo",
        "1.0.0",
        "main",
        "--no-check",
        "-i",
        "txt=1",
    ]);
    assert_eq!(code(&output), 0, "{}", stderr(&output));
    assert_eq!(server.emulator.stats().count(Route::CreateTask), 2);

    // A package the registry does not know: say so, and how to go on.
    let output = server.run(&["run", "@acme/nothing", "1.0.0", "main"]);
    assert_eq!(code(&output), 3);
    assert!(
        stderr(&output).contains("--no-check"),
        "{}",
        stderr(&output)
    );
    assert_eq!(server.emulator.stats().count(Route::CreateTask), 2);
}

#[test]
fn dry_run_prints_the_body_and_sends_nothing() {
    let server = Server::start();
    let output = server.run(&[
        "run",
        "@oomol/echo",
        "1.0.0",
        "main",
        "-i",
        "text=hi",
        "-i",
        "count=3",
        "--dry-run",
    ]);
    assert_eq!(code(&output), 0, "{}", stderr(&output));
    let body: serde_json::Value = serde_json::from_str(&stdout(&output)).unwrap();
    assert_eq!(
        body,
        json!({"type": "serverless", "packageName": "@oomol/echo", "packageVersion": "1.0.0",
               "blockName": "main", "inputValues": {"text": "hi", "count": 3}})
    );
    assert!(
        stderr(&output).contains("dry run: POST"),
        "{}",
        stderr(&output)
    );
    assert_no_key(&output);
    let bad = server.run(&["create", "@oomol/echo", "1.0.0", "main", "--dry-run"]);
    assert_eq!(code(&bad), 2);
    let unchecked = server.run(&[
        "create",
        "@oomol/echo",
        "1.0.0",
        "main",
        "--dry-run",
        "--no-check",
        "--json",
    ]);
    assert_eq!(code(&unchecked), 0);
    assert_eq!(json(&unchecked)["blockName"], "main");
    assert_eq!(server.emulator.stats().count(Route::CreateTask), 0);
}

#[test]
fn a_custom_base_url_alone_checks_inputs_against_its_own_registry() {
    let server = Server::start();
    // Only the task API's URL: the registry and uploads follow it, to the same origin.
    let output = bare()
        .env("OOMOL_API_KEY", KEY)
        .args([
            "create",
            "@oomol/echo",
            "1.0.0",
            "main",
            "--input",
            "text=hi",
            "--base-url",
            &server.emulator.base_url(),
        ])
        .output()
        .unwrap();
    assert_eq!(code(&output), 0, "{}", stderr(&output));
    assert_eq!(server.emulator.stats().count(Route::PackageInfo), 1);
    assert_eq!(server.emulator.stats().count(Route::CreateTask), 1);
    assert_no_key(&output);
}

#[test]
fn an_unreachable_registry_is_named_with_the_flags_that_avoid_it() {
    let server = Server::start();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let registry = format!("http://127.0.0.1:{port}");
    let output = server.run(&[
        "create",
        "@oomol/echo",
        "1.0.0",
        "main",
        "--input",
        "text=hi",
        "--registry-url",
        &registry,
        "--json",
    ]);
    assert_eq!(code(&output), 3, "{}", stderr(&output));
    let doc = json(&output);
    assert_eq!(doc["error"]["kind"], "network");
    let message = doc["error"]["message"].as_str().unwrap();
    assert!(
        message.contains(&format!("host 127.0.0.1:{port}")),
        "{message}"
    );
    let hint = doc["error"]["hint"].as_str().unwrap();
    assert!(hint.contains(&registry), "{hint}");
    assert!(
        hint.contains("--registry-url") && hint.contains("--no-check"),
        "{hint}"
    );
    assert_eq!(server.emulator.stats().count(Route::CreateTask), 0);
    assert_no_key(&output);
}

#[test]
fn latest_is_resolved_checked_and_said_as_the_mcp_server_does() {
    let server = Server::start();
    let output = server.run(&[
        "run",
        "@oomol/echo",
        "latest",
        "main",
        "--input",
        "text=hi",
        "--interval",
        "10ms",
    ]);
    assert_eq!(code(&output), 0, "{}", stderr(&output));
    assert!(
        stderr(&output).contains("@oomol/echo@latest is 1.0.0: that version is checked and run"),
        "{}",
        stderr(&output)
    );
    let tasks = json(&server.run(&["list", "--all", "--json"]));
    assert_eq!(
        tasks["tasks"][0]["schedulerPayload"]["packageVersion"], "1.0.0",
        "{tasks}"
    );
    // A misspelt input of `latest` is refused with the version it was checked against.
    let refused = server.run(&[
        "create",
        "@oomol/echo",
        "latest",
        "main",
        "--input",
        "txt=hi",
    ]);
    assert_eq!(code(&refused), 2);
    assert!(
        stderr(&refused).contains("@oomol/echo@1.0.0"),
        "{}",
        stderr(&refused)
    );
    assert_eq!(server.emulator.stats().count(Route::CreateTask), 1);
}

#[test]
fn codegen_writes_the_committed_source_of_a_package() {
    let server = Server::start();
    let golden = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../cloud-task-codegen/tests/golden/echo.rs"
    ))
    .unwrap();
    // On stdout; `latest` resolved to the exact version the file records.
    let output = server.run(&["codegen", "@oomol/echo", "latest"]);
    assert_eq!(code(&output), 0, "{}", stderr(&output));
    assert_eq!(stdout(&output), golden);
    // Into a file, replaced whole.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("echo.rs");
    std::fs::write(&path, "old").unwrap();
    let output = server.run(&[
        "codegen",
        "@oomol/echo",
        "1.0.0",
        "-o",
        path.to_str().unwrap(),
    ]);
    assert_eq!(code(&output), 0, "{}", stderr(&output));
    assert_eq!(std::fs::read_to_string(&path).unwrap(), golden);
    assert!(stderr(&output).contains("wrote"), "{}", stderr(&output));
    assert_eq!(
        std::fs::read_dir(dir.path()).unwrap().count(),
        1,
        "a temporary file was left"
    );
    // A directory is not replaced.
    let output = server.run(&[
        "codegen",
        "@oomol/echo",
        "1.0.0",
        "-o",
        dir.path().to_str().unwrap(),
    ]);
    assert_ne!(code(&output), 0);
    assert!(
        stderr(&output).contains("not a regular file"),
        "{}",
        stderr(&output)
    );
    // A package the registry does not know.
    let output = server.run(&["codegen", "@oomol/nope", "1.0.0"]);
    assert_eq!(code(&output), 3, "{}", stderr(&output));
    assert!(
        stderr(&output).contains("check the package name"),
        "{}",
        stderr(&output)
    );
}
