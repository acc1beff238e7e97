//! The control endpoints under `/_emulator`: faults and statistics as JSON.

use cloud_task_emulator::Route;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::support::{Answer, Api, answer, fast};

impl Api {
    /// A control request: with the API key, and a JSON body when there is one.
    async fn control(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Answer {
        let mut request = self
            .http
            .request(method, self.url(path))
            .bearer_auth(&self.key);
        if let Some(body) = body {
            request = request
                .header("content-type", "application/json")
                .body(body.to_string());
        }
        answer(request.send().await.unwrap()).await
    }
}

#[tokio::test]
async fn control_requests_need_the_key_a_json_body_and_the_emulators_own_host() {
    let api = Api::start(fast()).await;
    let rule = json!({"route": "dashboard", "fault": "service_unavailable"}).to_string();
    // No key (what a web page sends): refused, nothing changes.
    let no_key = api
        .http
        .post(api.url("/_emulator/faults"))
        .header("content-type", "application/json")
        .body(rule.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(no_key.status(), StatusCode::UNAUTHORIZED);
    for path in ["/_emulator/stats", "/_emulator/info", "/_emulator/faults"] {
        let read = api.http.get(api.url(path)).send().await.unwrap();
        assert_eq!(read.status(), StatusCode::UNAUTHORIZED, "{path}");
    }
    // A cross-origin "simple" request: text/plain, even with the key.
    let simple = api
        .http
        .post(api.url("/_emulator/faults"))
        .bearer_auth(&api.key)
        .header("content-type", "text/plain")
        .body(rule.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(simple.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    // DNS rebinding: another host name pointed at the emulator's address.
    let port = api.emulator.addr().port();
    for host in [
        format!("evil.example:{port}"),
        "localhost:1".to_owned(),
        format!("127.0.0.1.nip.io:{port}"),
    ] {
        let rebound = api
            .http
            .get(api.url("/_emulator/info"))
            .bearer_auth(&api.key)
            .header("host", host.as_str())
            .send()
            .await
            .unwrap();
        assert_eq!(rebound.status(), StatusCode::MISDIRECTED_REQUEST, "{host}");
    }
    for host in [format!("localhost:{port}"), format!("127.0.0.1:{port}")] {
        let own = api
            .http
            .get(api.url("/_emulator/info"))
            .bearer_auth(&api.key)
            .header("host", host.as_str())
            .send()
            .await
            .unwrap();
        assert_eq!(own.status(), StatusCode::OK, "{host}");
    }
    // No refused request added a fault.
    assert_eq!(
        api.get("/v3/users/me/dashboard").await.status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn faults_are_added_listed_and_cleared_over_http() {
    let api = Api::start(fast()).await;
    let added = api
        .control(
            reqwest::Method::POST,
            "/_emulator/faults",
            Some(json!({"route": "dashboard", "fault": "too_many_requests", "retryAfterMs": 2500, "times": 2})),
        )
        .await;
    assert_eq!(added.status, StatusCode::CREATED, "{added:?}");
    assert_eq!(
        added.body,
        json!({"route": "dashboard", "fault": "too_many_requests", "retryAfterMs": 2500, "times": 2})
    );
    let first = api.get("/v3/users/me/dashboard").await;
    assert_eq!(first.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(first.headers["retry-after"], "3");
    let listed = api
        .control(reqwest::Method::GET, "/_emulator/faults", None)
        .await;
    assert_eq!(listed.body["faults"][0]["times"], 1);
    for (fault, extra) in [
        ("service_unavailable", json!({})),
        ("delay", json!({"delayMs": 1})),
        ("drop_connection", json!({})),
        ("malformed_body", json!({"probability": 0.5})),
    ] {
        let mut body = json!({"route": "upload_part", "fault": fault});
        body.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        let added = api
            .control(reqwest::Method::POST, "/_emulator/faults", Some(body))
            .await;
        assert_eq!(added.status, StatusCode::CREATED, "{fault}: {added:?}");
    }
    let listed = api
        .control(reqwest::Method::GET, "/_emulator/faults", None)
        .await;
    assert_eq!(listed.body["faults"].as_array().unwrap().len(), 5);
    let cleared = api
        .control(reqwest::Method::DELETE, "/_emulator/faults", None)
        .await;
    assert_eq!(cleared.status, StatusCode::NO_CONTENT);
    assert_eq!(
        api.get("/v3/users/me/dashboard").await.status,
        StatusCode::OK
    );
    let listed = api
        .control(reqwest::Method::GET, "/_emulator/faults", None)
        .await;
    assert_eq!(listed.body, json!({"faults": []}));
}

#[tokio::test]
async fn bad_fault_rules_are_400_naming_the_problem() {
    let api = Api::start(fast()).await;
    for (body, expected) in [
        (
            json!({"route": "nowhere", "fault": "delay"}),
            "unknown route",
        ),
        (
            json!({"route": "dashboard", "fault": "explode"}),
            "unknown fault",
        ),
        (json!({"route": "dashboard", "fault": "delay"}), "delayMs"),
        (
            json!({"route": "dashboard", "fault": "malformed_body", "probability": 2}),
            "probability",
        ),
        (
            json!({"route": "dashboard", "fault": "malformed_body", "oops": 1}),
            "oops",
        ),
        (json!({"fault": "malformed_body"}), "route"),
    ] {
        let answer = api
            .control(
                reqwest::Method::POST,
                "/_emulator/faults",
                Some(body.clone()),
            )
            .await;
        assert_eq!(answer.status, StatusCode::BAD_REQUEST, "{body}");
        assert!(answer.message().contains(expected), "{body}: {answer:?}");
    }
}

#[tokio::test]
async fn stats_are_read_and_reset_over_http() {
    let api = Api::start(fast().part_size(3)).await;
    api.get("/v3/users/me/dashboard").await;
    api.get("/v3/users/me/dashboard").await;
    let target = api.target(".txt", 3).await;
    api.http
        .put(&target.presigned_urls[&1])
        .header("content-type", "application/octet-stream")
        .header("x-trace", "abc")
        .header("authorization", "Bearer leaked-key")
        .header("x-api-key", "leaked-header")
        .body("abc")
        .send()
        .await
        .unwrap();
    let stats = api
        .control(reqwest::Method::GET, "/_emulator/stats", None)
        .await;
    assert_eq!(stats.status, StatusCode::OK);
    assert_eq!(stats.body["total"], 4);
    assert_eq!(stats.body["routes"]["dashboard"], 2);
    assert_eq!(stats.body["routes"]["upload_init"], 1);
    assert_eq!(stats.body["routes"]["upload_part"], 1);
    assert_eq!(stats.body["routes"]["create_task"], 0);
    assert_eq!(
        stats.body["routes"].as_object().unwrap().len(),
        Route::ALL.len()
    );
    let headers = &stats.body["partUploadHeaders"][0];
    assert_eq!(headers["content-type"], "application/octet-stream");
    assert_eq!(headers["x-trace"], "abc");
    // A credential that reached a part URL shows, its value never.
    assert_eq!(headers["authorization"], "[redacted]");
    assert_eq!(headers["x-api-key"], "[redacted]");
    assert!(!stats.body.to_string().contains("leaked"));
    let reset = api
        .control(reqwest::Method::DELETE, "/_emulator/stats", None)
        .await;
    assert_eq!(reset.status, StatusCode::NO_CONTENT);
    assert_eq!(api.emulator.stats().total(), 0);
    let stats = api
        .control(reqwest::Method::GET, "/_emulator/stats", None)
        .await;
    assert_eq!(stats.body["partUploadHeaders"], json!([]));
}

#[tokio::test]
async fn info_describes_the_emulator_and_unknown_paths_are_404_json() {
    let api = Api::start(fast().max_concurrency(3).max_queue_size(7).part_size(99)).await;
    let info = api
        .control(reqwest::Method::GET, "/_emulator/info", None)
        .await;
    assert_eq!(
        info.body,
        json!({
            "baseUrl": api.emulator.base_url(),
            "uploadBaseUrl": api.emulator.upload_base_url(),
            "timeScale": 0.01,
            "maxConcurrency": 3,
            "maxQueueSize": 7,
            "partSize": 99,
        })
    );
    let missing = api.get("/v3/users/me/nothing").await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    assert!(
        missing.message().contains("/v3/users/me/nothing"),
        "{missing:?}"
    );
}
