//! Ctrl-C during a wait: the task is neither cancelled nor created again; the ID and the
//! command that resumes waiting are printed; exit 130.
#![cfg(unix)]

use cloud_task_emulator::Route;

use crate::support::*;

/// Starts `run` on a task of about one second (at the tests' time scale) and interrupts
/// it once the task is created.
fn interrupted_run(server: &Server, extra: &[&str]) -> (String, i32, String, String) {
    let mut args = vec![
        "run",
        "@oomol/echo",
        "1.0.0",
        "main",
        "-i",
        "durationMs=100000",
        "--interval",
        "20ms",
        "--no-check",
    ];
    args.extend_from_slice(extra);
    let mut running = Running::spawn(&server.env(), &args);
    let line = running.wait_for_line("created task ");
    let task_id = line.trim_start_matches("created task ").trim().to_owned();
    running.interrupt();
    let (code, out, err) = running.finish();
    (task_id, code, out, err)
}

#[test]
fn ctrl_c_leaves_the_task_running_and_says_how_to_resume() {
    let server = Server::start();
    let (task_id, code, out, err) = interrupted_run(&server, &[]);
    assert_eq!(code, 130, "{err}");
    assert!(out.is_empty(), "{out}");
    assert!(
        err.contains(&format!(
            "error: interrupted; task {task_id} keeps running on the server"
        )),
        "{err}"
    );
    let resume = format!(
        "cloud-task --base-url {} wait {task_id} --interval 20ms",
        server.emulator.base_url()
    );
    assert!(
        err.contains(&format!("hint: resume waiting with: {resume}")),
        "{err}"
    );
    assert_eq!(server.emulator.stats().count(Route::CreateTask), 1);

    // The printed command, run as printed (without the program name), finishes the wait.
    let words: Vec<&str> = resume.split(' ').skip(1).collect();
    let output = server.run(&words);
    assert_eq!(code_of(&output), 0, "{}", stderr(&output));
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&stdout(&output)).unwrap(),
        serde_json::json!([{"durationMs": 100000}])
    );
    assert_eq!(
        server.emulator.stats().count(Route::CreateTask),
        1,
        "never created again"
    );
}

fn code_of(output: &std::process::Output) -> i32 {
    code(output)
}

#[test]
fn ctrl_c_with_json_prints_one_document() {
    let server = Server::start();
    let (task_id, code, out, _) = interrupted_run(&server, &["--json", "--timeout", "1h"]);
    assert_eq!(code, 130);
    let doc: serde_json::Value = serde_json::from_str(&out).expect("one JSON document");
    assert_eq!(doc["error"]["kind"], "interrupted");
    assert_eq!(doc["error"]["exitCode"], 130);
    assert_eq!(doc["error"]["taskID"], task_id.as_str());
    assert_eq!(
        doc["error"]["resume"],
        format!(
            "cloud-task --base-url {} --json wait {task_id} --interval 20ms",
            server.emulator.base_url()
        )
    );
}

#[test]
fn ctrl_c_during_wait_exits_130_too() {
    let server = Server::start();
    let task_id = server.create(&["@oomol/echo", "1.0.0", "main", "-i", "durationMs=100000"]);
    let mut running = Running::spawn(&server.env(), &["wait", &task_id, "--interval", "20ms"]);
    running.wait_for_line(": running ");
    running.interrupt();
    let (code, _, err) = running.finish();
    assert_eq!(code, 130, "{err}");
    assert!(
        err.contains(&format!("wait {task_id} --interval 20ms")),
        "{err}"
    );
}

#[test]
fn ctrl_c_during_the_creation_waits_for_the_id_and_reports_it() {
    use cloud_task_emulator::{Fault, FaultRule};
    use std::time::{Duration, Instant};

    let server = Server::start();
    // The creation is answered after a second (real time, not scaled).
    server.emulator.add_fault(FaultRule::new(
        Route::CreateTask,
        Fault::Delay(Duration::from_secs(1)),
    ));
    let running = Running::spawn(
        &server.env(),
        &[
            "run",
            "@oomol/echo",
            "1.0.0",
            "main",
            "--interval",
            "20ms",
            "--json",
            "--no-check",
        ],
    );
    let deadline = Instant::now() + DEADLINE;
    while server.emulator.stats().count(Route::CreateTask) == 0 {
        assert!(Instant::now() < deadline, "the creation never arrived");
        std::thread::sleep(Duration::from_millis(5));
    }
    running.interrupt();
    let (code, out, err) = running.finish();
    assert_eq!(code, 130, "{err}");
    let doc: serde_json::Value = serde_json::from_str(&out).expect("one JSON document");
    let task_id = doc["error"]["taskID"]
        .as_str()
        .expect("the created task's ID");
    assert!(
        doc["error"]["resume"]
            .as_str()
            .unwrap()
            .contains(&format!("wait {task_id}"))
    );
    assert_eq!(server.emulator.stats().count(Route::CreateTask), 1);
    let detail = json(&server.run(&["get", task_id, "--json"]));
    assert_eq!(detail["taskID"], task_id);
}

#[test]
fn a_second_ctrl_c_during_a_hung_creation_exits_130_at_once() {
    use cloud_task_emulator::{Fault, FaultRule};
    use std::time::{Duration, Instant};

    let server = Server::start();
    // The creation hangs far longer than the test may wait.
    server.emulator.add_fault(FaultRule::new(
        Route::CreateTask,
        Fault::Delay(Duration::from_secs(600)),
    ));
    let mut running = Running::spawn(
        &server.env(),
        &["run", "@oomol/echo", "1.0.0", "main", "--no-check"],
    );
    let deadline = Instant::now() + DEADLINE;
    while server.emulator.stats().count(Route::CreateTask) == 0 {
        assert!(Instant::now() < deadline, "the creation never arrived");
        std::thread::sleep(Duration::from_millis(5));
    }
    running.interrupt();
    running.wait_for_line("press Ctrl-C again to exit now");
    let started = Instant::now();
    running.interrupt();
    let (code, _, err) = running.finish();
    assert_eq!(code, 130, "{err}");
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "it waited for the creation"
    );
    let all = err;
    assert!(
        all.contains("interrupted while the task was being created: it may have been created"),
        "{all}"
    );
    assert!(all.contains("cloud-task list --size 5"), "{all}");
}
