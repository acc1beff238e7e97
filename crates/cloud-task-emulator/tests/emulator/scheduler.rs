//! The scheduler over HTTP: concurrency and queue limits, pause and resume, the live
//! dashboard.

use cloud_task_emulator::Emulator;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::support::{Api, fast};

const TASKS: &str = "/v3/users/me/tasks";
const DASHBOARD: &str = "/v3/users/me/dashboard";

fn in_flight(dashboard: &Value) -> u64 {
    let count = &dashboard["count"];
    ["scheduling", "scheduled", "running"]
        .iter()
        .map(|k| count[*k].as_u64().unwrap())
        .sum()
}

#[tokio::test]
async fn at_most_max_concurrency_tasks_run_and_all_finish() {
    let api = Api::start(fast().max_concurrency(2)).await;
    // Paused while creating, so that all six wait and start together on resume.
    api.post("/v3/user/pause", json!({})).await;
    let mut ids = Vec::new();
    for _ in 0..6 {
        ids.push(api.create("@oomol/echo", json!({"durationMs": 5000})).await);
    }
    let dashboard = api.get(DASHBOARD).await.body;
    assert_eq!(
        dashboard["limits"],
        json!({"maxConcurrency": 2, "maxQueueSize": 1000})
    );
    assert_eq!(dashboard["count"]["queued"], 6, "{dashboard}");
    api.post("/v3/user/resume", json!({})).await;
    let dashboard = api.get(DASHBOARD).await.body;
    assert_eq!(in_flight(&dashboard), 2, "{dashboard}");
    let mut saw_running = 0;
    let done = api
        .wait_for(DASHBOARD, |d| {
            assert!(in_flight(d) <= 2, "{d}");
            saw_running = saw_running.max(d["count"]["running"].as_u64().unwrap());
            in_flight(d) == 0 && d["count"]["queued"] == 0
        })
        .await;
    assert_eq!(
        done["count"],
        json!({"queued": 0, "scheduling": 0, "scheduled": 0, "running": 0})
    );
    assert!(saw_running >= 1);
    for id in &ids {
        assert_eq!(api.wait(id).await["status"], "success");
    }
    // No two intervals [startTime, endTime] of more than 2 tasks overlap at once.
    let page = api.get(TASKS).await.body;
    let spans: Vec<(i64, i64)> = page["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            (
                t["startTime"].as_i64().unwrap(),
                t["endTime"].as_i64().unwrap(),
            )
        })
        .collect();
    for (start, _) in &spans {
        let overlapping = spans
            .iter()
            .filter(|(s, e)| s <= start && start < e)
            .count();
        assert!(overlapping <= 2, "{spans:?}");
    }
}

#[tokio::test]
async fn creating_beyond_the_queue_size_is_429_and_creates_nothing() {
    let api = Api::start(fast().max_concurrency(1).max_queue_size(2)).await;
    // Long tasks (about 100 s scaled): the test never waits for them.
    for _ in 0..3 {
        api.create("@oomol/slow", json!({"durationMs": 10_000_000}))
            .await;
    }
    let refused = api
        .post(
            TASKS,
            json!({"packageName": "@oomol/echo", "packageVersion": "1", "blockName": "main"}),
        )
        .await;
    assert_eq!(refused.status, StatusCode::TOO_MANY_REQUESTS);
    assert!(refused.message().contains("queue"), "{refused:?}");
    let dashboard = api.get(DASHBOARD).await.body;
    assert_eq!(dashboard["count"]["queued"], 2);
    assert_eq!(in_flight(&dashboard), 1);
    assert_eq!(
        api.get(TASKS).await.body["tasks"].as_array().unwrap().len(),
        3
    );
}

#[tokio::test]
async fn pause_keeps_queued_tasks_queued_until_resume() {
    let api = Api::start(fast().max_concurrency(1)).await;
    // 300 ms here: far longer than it takes to create the next task and pause.
    let running = api
        .create("@oomol/echo", json!({"durationMs": 30_000}))
        .await;
    let waiting = api.create("@oomol/echo", Value::Null).await;
    let paused = api.post("/v3/user/pause", json!({})).await;
    assert_eq!(paused.status, StatusCode::OK);
    assert_eq!(paused.body, json!({"pauseType": "user"}));
    let dashboard = api.get(DASHBOARD).await.body;
    assert_eq!(
        dashboard["pause"],
        json!({"paused": true, "type": "user", "canResume": true})
    );
    // The task in flight finishes; the queued one does not move, though its slot is free.
    assert_eq!(api.wait(&running).await["status"], "success");
    let created_later = api.create("@oomol/echo", Value::Null).await;
    for id in [&waiting, &created_later] {
        let result = api.get(&format!("{TASKS}/{id}/result")).await.body;
        assert_eq!(result, json!({"status": "queued", "progress": 0.0}));
    }
    assert_eq!(api.get(DASHBOARD).await.body["count"]["queued"], 2);
    let resumed = api.post("/v3/user/resume", json!({})).await;
    assert_eq!(resumed.body, json!({"pauseType": null}));
    assert_eq!(
        api.get(DASHBOARD).await.body["pause"],
        json!({"paused": false, "type": null, "canResume": false})
    );
    assert_eq!(api.wait(&waiting).await["status"], "success");
    assert_eq!(api.wait(&created_later).await["status"], "success");
}

#[tokio::test]
async fn pause_and_resume_accept_an_empty_body_and_refuse_bad_json() {
    let api = Api::start(fast()).await;
    let empty = api
        .http
        .post(api.url("/v3/user/pause"))
        .bearer_auth(&api.key)
        .send()
        .await
        .unwrap();
    assert_eq!(empty.status(), StatusCode::OK);
    let bad = api
        .http
        .post(api.url("/v3/user/resume"))
        .bearer_auth(&api.key)
        .body("{oops")
        .send()
        .await
        .unwrap();
    let bad = crate::support::answer(bad).await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    assert!(bad.message().contains("resume"), "{bad:?}");
}

#[tokio::test]
async fn a_task_passes_through_each_state_in_order() {
    // Real time: 100 ms scheduling, 100 ms scheduled, 300 ms running.
    let api = Api::start(Emulator::builder()).await;
    let id = api.create("@oomol/echo", json!({"durationMs": 300})).await;
    let path = format!("{TASKS}/{id}/result");
    let mut seen: Vec<String> = Vec::new();
    let mut progress = Vec::new();
    api.wait_for(&path, |b| {
        let status = b["status"].as_str().unwrap().to_owned();
        if status == "running" {
            progress.push(b["progress"].as_f64().unwrap());
        }
        if seen.last() != Some(&status) {
            seen.push(status);
        }
        b["status"] == "success"
    })
    .await;
    let order = ["queued", "scheduling", "scheduled", "running", "success"];
    let positions: Vec<usize> = seen
        .iter()
        .map(|s| order.iter().position(|o| o == s).expect("a known status"))
        .collect();
    assert!(positions.windows(2).all(|w| w[0] < w[1]), "{seen:?}");
    assert!(seen.contains(&"running".to_owned()), "{seen:?}");
    assert!(progress.windows(2).all(|w| w[0] <= w[1]), "{progress:?}");
    assert!(
        progress.iter().all(|p| (0.0..100.0).contains(p)),
        "{progress:?}"
    );
}
