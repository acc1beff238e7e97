//! `dashboard`, `pause`, `resume`.

use serde_json::json;

use crate::support::*;

#[test]
fn dashboard_shows_limits_counts_and_the_pause_state() {
    let server = Server::with(|b| b.max_concurrency(3).max_queue_size(9));
    let doc = json(&server.run(&["dashboard", "--json"]));
    assert_eq!(
        doc["limits"],
        json!({"maxConcurrency": 3, "maxQueueSize": 9})
    );
    assert_eq!(
        doc["count"],
        json!({"queued": 0, "scheduling": 0, "scheduled": 0, "running": 0})
    );
    assert_eq!(doc["pause"]["paused"], false);

    let text = stdout(&server.run(&["dashboard"]));
    assert_eq!(
        text,
        "queue   running\n\
         limits  3 tasks at once, 9 waiting at most\n\
         tasks   0 queued, 0 scheduling, 0 scheduled, 0 running\n"
    );
}

#[test]
fn pause_and_resume_the_queue() {
    let server = Server::start();
    let output = server.run(&["pause", "--json"]);
    assert_eq!(code(&output), 0);
    assert_eq!(json(&output), json!({"pauseType": "user"}));

    // A task created while paused stays queued.
    let task_id = server.create(&["@oomol/echo", "1.0.0", "main"]);
    let dashboard = json(&server.run(&["dashboard", "--json"]));
    assert_eq!(
        dashboard["pause"],
        json!({"paused": true, "type": "user", "canResume": true})
    );
    assert_eq!(dashboard["count"]["queued"], 1);
    assert!(
        stdout(&server.run(&["dashboard"]))
            .starts_with("queue   paused (user), you can resume it\n")
    );
    assert_eq!(stdout(&server.run(&["pause"])), "queue paused (user)\n");

    let output = server.run(&["resume"]);
    assert_eq!(code(&output), 0);
    assert_eq!(stdout(&output), "queue running\n");
    assert_eq!(
        json(&server.run(&["resume", "--json"])),
        json!({"pauseType": null})
    );
    let output = server.run(&["wait", &task_id, "--interval", "10ms", "--json"]);
    assert_eq!(json(&output)["status"], "success");
}
