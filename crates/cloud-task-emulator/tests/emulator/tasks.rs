//! Creating tasks and reading them back: the catalogue, results, details, logs, auth and
//! error answers.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::support::{Api, fast};

const TASKS: &str = "/v3/users/me/tasks";

#[tokio::test]
async fn echo_runs_to_success_with_its_inputs() {
    let api = Api::start(fast()).await;
    let id = api
        .create("@oomol/echo", json!({"text": "hello", "n": [1, 2]}))
        .await;
    let result = api.wait(&id).await;
    assert_eq!(
        result,
        json!({"status": "success", "resultURL": null, "resultData": [{"text": "hello", "n": [1, 2]}]})
    );
}

#[tokio::test]
async fn echo_without_inputs_and_unknown_packages_return_an_empty_object() {
    let api = Api::start(fast()).await;
    let echo = api.create("@oomol/echo", Value::Null).await;
    let other = api.create("@acme/anything", json!({"k": true})).await;
    assert_eq!(api.wait(&echo).await["resultData"], json!([{}]));
    assert_eq!(api.wait(&other).await["resultData"], json!([{"k": true}]));
}

#[tokio::test]
async fn fail_and_quota_fail_with_their_messages() {
    let api = Api::start(fast()).await;
    let custom = api
        .create("@oomol/fail", json!({"message": "disk on fire"}))
        .await;
    let default = api.create("@oomol/fail", Value::Null).await;
    let quota = api.create("@oomol/quota", Value::Null).await;
    assert_eq!(
        api.wait(&custom).await,
        json!({"status": "failed", "error": "disk on fire"})
    );
    assert_eq!(
        api.wait(&default).await,
        json!({"status": "failed", "error": cloud_task_emulator::DEFAULT_FAIL_MESSAGE})
    );
    assert_eq!(
        api.wait(&quota).await,
        json!({"status": "failed", "error": "Insufficient quota"})
    );
    let detail = api.get(&format!("{TASKS}/{quota}")).await.body;
    assert_eq!(detail["status"], "failed");
    assert_eq!(detail["failedMessage"], "Insufficient quota");
}

#[tokio::test]
async fn slow_runs_for_its_duration_with_rising_progress() {
    let api = Api::start(fast()).await;
    // 30 s before scaling: 300 ms here.
    let id = api
        .create("@oomol/slow", json!({"durationMs": 30_000}))
        .await;
    let path = format!("{TASKS}/{id}/result");
    let first = api
        .wait_for(&path, |b| {
            b["status"] == "running" && b["progress"].as_f64() > Some(0.0)
        })
        .await;
    let first_progress = first["progress"].as_f64().unwrap();
    let later = api
        .wait_for(&path, |b| {
            b["status"] != "running" || b["progress"].as_f64() > Some(first_progress)
        })
        .await;
    if later["status"] == "running" {
        assert!(later["progress"].as_f64().unwrap() < 100.0);
    }
    assert_eq!(first.as_object().unwrap().len(), 2, "{first}");
    assert_eq!(api.wait(&id).await["status"], "success");
}

#[tokio::test]
async fn the_detail_has_every_field_and_consistent_timestamps() {
    let api = Api::start(fast()).await;
    let before = now_ms();
    let id = api.create("@oomol/echo", json!({"durationMs": 500})).await;
    api.wait(&id).await;
    let after = now_ms();
    let detail = api.get(&format!("{TASKS}/{id}")).await;
    assert_eq!(detail.status, StatusCode::OK);
    let d = &detail.body;
    assert_eq!(d["taskType"], "user");
    assert_eq!(d["taskID"], id);
    assert_eq!(d["status"], "success");
    assert_eq!(d["progress"], 100.0);
    assert_eq!(d["workload"], "serverless");
    assert_eq!(
        d["workloadID"],
        cloud_task_emulator::workload_id("@oomol/echo", "1.0.0", "main")
    );
    assert_eq!(d["schedulerPayload"]["packageName"], "@oomol/echo");
    assert_eq!(d["resultURL"], Value::Null);
    assert_eq!(d["failedMessage"], Value::Null);
    let created = d["createdAt"].as_i64().expect("createdAt is an integer");
    let start = d["startTime"].as_i64().expect("startTime is an integer");
    let end = d["endTime"].as_i64().expect("endTime is an integer");
    assert!(before - 1 <= created && created <= start && start <= end && end <= after + 1);
    // The detail parses as the core's type.
    let parsed: cloud_task_core::TaskDetail = serde_json::from_value(d.clone()).unwrap();
    assert_eq!(parsed.task_id(), id);
}

#[tokio::test]
async fn a_queued_task_has_no_start_or_end_yet() {
    let api = Api::start(fast().max_concurrency(0)).await;
    let id = api.create("@oomol/echo", Value::Null).await;
    let d = api.get(&format!("{TASKS}/{id}")).await.body;
    assert_eq!(d["status"], "queued");
    assert_eq!(d["progress"], 0.0);
    assert_eq!(d["startTime"], Value::Null);
    assert_eq!(d["endTime"], Value::Null);
    let result = api.get(&format!("{TASKS}/{id}/result")).await.body;
    assert_eq!(result, json!({"status": "queued", "progress": 0.0}));
}

#[tokio::test]
async fn unknown_tasks_are_404_with_a_message_and_ids_are_one_segment() {
    let api = Api::start(fast()).await;
    for suffix in ["", "/result", "/logs"] {
        let answer = api.get(&format!("{TASKS}/no-such-task{suffix}")).await;
        assert_eq!(answer.status, StatusCode::NOT_FOUND, "{suffix}");
        assert!(answer.message().contains("no-such-task"), "{answer:?}");
    }
    // An ID with a slash arrives percent-encoded as one segment and is decoded.
    let answer = api.get(&format!("{TASKS}/a%2Fb%20c/result")).await;
    assert_eq!(answer.status, StatusCode::NOT_FOUND);
    assert!(answer.message().contains("a/b c"), "{answer:?}");
    // A real ID, percent-encoded (a no-op for UUIDs but for the dashes), is found.
    let id = api.create("@oomol/echo", Value::Null).await;
    let encoded = cloud_task_core::encode_path_segment(&id);
    assert_eq!(
        api.get(&format!("{TASKS}/{encoded}")).await.status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn auth_by_bearer_or_cookie_and_401_otherwise() {
    let api = Api::start(fast().api_key("key-one").api_key("key-two")).await;
    assert_eq!(api.emulator.api_key(), "key-one");
    let url = api.url("/v3/users/me/dashboard");
    let http = &api.http;
    let status = |r: reqwest::Response| r.status();
    assert_eq!(
        status(http.get(&url).bearer_auth("key-two").send().await.unwrap()),
        200
    );
    let cookie = http
        .get(&url)
        .header("cookie", "theme=dark; oomol-token=key-one")
        .send()
        .await
        .unwrap();
    assert_eq!(cookie.status(), 200);
    for request in [
        http.get(&url),
        http.get(&url).bearer_auth("wrong"),
        http.get(&url).header("cookie", "oomol-token=wrong"),
        http.get(&url).basic_auth("key-one", None::<&str>),
    ] {
        let answer = crate::support::answer(request.send().await.unwrap()).await;
        assert_eq!(answer.status, StatusCode::UNAUTHORIZED);
        assert!(answer.message().contains("API key"), "{answer:?}");
        assert!(!answer.message().contains("key-one"));
    }
    // Every task route wants the key.
    for (method, path) in [
        (Method::POST, TASKS.to_owned()),
        (Method::GET, TASKS.to_owned()),
        (Method::GET, format!("{TASKS}/latest?workloadIDs=a")),
        (Method::GET, format!("{TASKS}/x")),
        (Method::GET, format!("{TASKS}/x/result")),
        (Method::GET, format!("{TASKS}/x/logs")),
        (Method::POST, "/v3/user/pause".to_owned()),
        (Method::POST, "/v3/user/resume".to_owned()),
    ] {
        let response = http.request(method, api.url(&path)).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{path}");
    }
}

#[tokio::test]
async fn a_key_is_generated_when_none_is_configured() {
    let api = Api::start(fast()).await;
    assert!(api.key.len() >= 32, "{}", api.key);
    assert_eq!(
        api.get("/v3/users/me/dashboard").await.status,
        StatusCode::OK
    );
    let other = fast().start().await.unwrap();
    assert_ne!(other.api_key(), api.key);
}

#[tokio::test]
async fn bad_create_bodies_are_400_naming_the_problem() {
    let api = Api::start(fast()).await;
    let send_raw = |body: &'static str| {
        api.http
            .post(api.url(TASKS))
            .bearer_auth(&api.key)
            .header("content-type", "application/json")
            .body(body)
            .send()
    };
    let cases: [(&str, &str); 7] = [
        ("{not json", "invalid create task body"),
        (
            r#"{"packageVersion":"1","blockName":"main"}"#,
            "packageName",
        ),
        (
            r#"{"packageName":"@oomol/echo","blockName":"main"}"#,
            "packageVersion",
        ),
        (
            r#"{"packageName":"@oomol/echo","packageVersion":"1"}"#,
            "blockName",
        ),
        (
            r#"{"packageName":" ","packageVersion":"1","blockName":"main"}"#,
            "packageName must not be empty",
        ),
        (
            r#"{"packageName":"@oomol/echo","packageVersion":"1","blockName":"main","inputValues":[1]}"#,
            "inputValues",
        ),
        (
            r#"{"packageName":"@oomol/echo","packageVersion":"1","blockName":"main","inputValues":{"durationMs":-5}}"#,
            "durationMs",
        ),
    ];
    for (body, expected) in cases {
        let answer = crate::support::answer(send_raw(body).await.unwrap()).await;
        assert_eq!(answer.status, StatusCode::BAD_REQUEST, "{body}");
        assert!(answer.message().contains(expected), "{body}: {answer:?}");
    }
    // Nothing was created.
    let page = api.get(TASKS).await.body;
    assert_eq!(page["tasks"], json!([]));
}

#[tokio::test]
async fn legacy_fields_are_accepted_and_ignored() {
    let api = Api::start(fast()).await;
    let answer = api
        .post(
            TASKS,
            json!({"type": "serverless", "packageName": "@oomol/echo", "packageVersion": "1",
                   "blockName": "main", "webhookUrl": "http://x", "metadata": {"a": 1}}),
        )
        .await;
    assert_eq!(answer.status, StatusCode::OK, "{answer:?}");
}

#[tokio::test]
async fn logs_page_with_string_values_and_stringified_json() {
    let api = Api::start(fast()).await;
    let id = api
        .create("@oomol/echo", json!({"logLines": 120, "x": {"deep": [1]}}))
        .await;
    api.wait(&id).await;
    let page1 = api.get(&format!("{TASKS}/{id}/logs")).await.body;
    let explicit1 = api.get(&format!("{TASKS}/{id}/logs?page=1")).await.body;
    assert_eq!(page1, explicit1);
    let page2 = api.get(&format!("{TASKS}/{id}/logs?page=2")).await.body;
    let page3 = api.get(&format!("{TASKS}/{id}/logs?page=3")).await.body;
    let first = page1["logs"].as_array().unwrap();
    let second = page2["logs"].as_array().unwrap();
    assert_eq!(first.len(), cloud_task_emulator::LOG_PAGE_SIZE);
    // The start line, 120 lines, an output per input handle, the block's end and the
    // session's end.
    assert_eq!(first.len() + second.len(), 1 + 120 + 2 + 2);
    assert_eq!(page3, json!({"logs": []}));
    for entry in first.iter().chain(second) {
        assert!(
            entry.as_object().unwrap().values().all(Value::is_string),
            "{entry}"
        );
    }
    assert_eq!(second.last().unwrap()["type"], "SessionFinished");
    let finished = &second[second.len() - 2];
    assert_eq!(finished["type"], "BlockFinished");
    let result: Value = serde_json::from_str(finished["result"].as_str().unwrap()).unwrap();
    assert_eq!(result, json!({"logLines": 120, "x": {"deep": [1]}}));
    let logs: cloud_task_core::TaskLogs = serde_json::from_value(page2).unwrap();
    let entry = &logs.logs[logs.logs.len() - 2];
    assert_eq!(entry.parsed("result"), Some(result));
    for bad in ["0", "-1", "x"] {
        let answer = api.get(&format!("{TASKS}/{id}/logs?page={bad}")).await;
        assert_eq!(answer.status, StatusCode::BAD_REQUEST);
        assert!(answer.message().contains("page"));
    }
}

#[tokio::test]
async fn failed_tasks_log_their_error_and_end_the_session_with_it() {
    let api = Api::start(fast()).await;
    let id = api
        .create("@oomol/fail", json!({"message": "bad input"}))
        .await;
    api.wait(&id).await;
    let logs = api.get(&format!("{TASKS}/{id}/logs")).await.body;
    let logs = logs["logs"].as_array().unwrap();
    let [.., line, block, session] = &logs[..] else {
        panic!("{logs:?}")
    };
    assert_eq!(line["stdio"], "stderr");
    assert_eq!(line["log"], "Error: bad input");
    assert_eq!(block["type"], "BlockFinished");
    assert_eq!(block["error"], "bad input");
    assert_eq!(session["type"], "SessionFinished");
    assert_eq!(session["error"], "bad input");
    assert_eq!(session["stacks"], "[]");
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}
