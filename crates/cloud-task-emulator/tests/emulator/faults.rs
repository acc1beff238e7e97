//! Fault injection and statistics, from the handle and from the builder.

use std::time::{Duration, Instant};

use cloud_task_emulator::{Fault, FaultRule, Route};
use reqwest::StatusCode;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::support::{Api, fast};

const TASKS: &str = "/v3/users/me/tasks";

#[tokio::test]
async fn service_unavailable_for_the_next_n_requests_then_normal() {
    let api = Api::start(fast()).await;
    let id = api.create("@oomol/echo", Value::Null).await;
    api.emulator
        .add_fault(FaultRule::new(Route::TaskResult, Fault::ServiceUnavailable).times(2));
    let path = format!("{TASKS}/{id}/result");
    for _ in 0..2 {
        let answer = api.get(&path).await;
        assert_eq!(answer.status, StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(answer.body, json!({"message": "server busy"}));
    }
    assert_eq!(api.get(&path).await.status, StatusCode::OK);
    // Other routes were never affected.
    assert_eq!(
        api.get(&format!("{TASKS}/{id}")).await.status,
        StatusCode::OK
    );
    assert_eq!(api.emulator.stats().count(Route::TaskResult), 3);
}

#[tokio::test]
async fn too_many_requests_carries_retry_after_in_whole_seconds() {
    let api = Api::start(fast().fault(FaultRule::new(
        Route::Dashboard,
        Fault::TooManyRequests {
            retry_after: Duration::from_millis(1500),
        },
    )))
    .await;
    let answer = api.get("/v3/users/me/dashboard").await;
    assert_eq!(answer.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(answer.headers["retry-after"], "2");
    assert!(!answer.message().is_empty());
    // Until cleared, every request is hit.
    assert_eq!(
        api.get("/v3/users/me/dashboard").await.status,
        StatusCode::TOO_MANY_REQUESTS
    );
    api.emulator.clear_faults();
    assert_eq!(
        api.get("/v3/users/me/dashboard").await.status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn delay_answers_normally_after_the_delay() {
    let api = Api::start(fast()).await;
    api.emulator.add_fault(
        FaultRule::new(Route::Dashboard, Fault::Delay(Duration::from_millis(150))).times(1),
    );
    let started = Instant::now();
    let answer = api.get("/v3/users/me/dashboard").await;
    assert!(started.elapsed() >= Duration::from_millis(150));
    assert_eq!(answer.status, StatusCode::OK);
    assert!(answer.body["limits"].is_object());
    // A delayed create does create the task.
    api.emulator.add_fault(
        FaultRule::new(Route::CreateTask, Fault::Delay(Duration::from_millis(10))).times(1),
    );
    let id = api.create("@oomol/echo", Value::Null).await;
    assert_eq!(api.wait(&id).await["status"], "success");
}

#[tokio::test]
async fn drop_connection_closes_the_socket_without_a_response() {
    let api = Api::start(fast()).await;
    api.emulator
        .add_fault(FaultRule::new(Route::Dashboard, Fault::DropConnection).times(2));
    // A raw connection sees the end of the stream and not a single byte.
    let mut stream = tokio::net::TcpStream::connect(api.emulator.addr())
        .await
        .unwrap();
    let request = format!(
        "GET /v3/users/me/dashboard HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {}\r\n\r\n",
        api.key
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut received = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut received))
        .await
        .expect("the server closes the connection");
    assert!(read.is_err() || received.is_empty(), "got {received:?}");
    // An HTTP client gets an error, not a response.
    let error = api
        .http
        .get(api.url("/v3/users/me/dashboard"))
        .bearer_auth(&api.key)
        .send()
        .await
        .unwrap_err();
    assert!(!error.is_status(), "{error:?}");
    // The rule is spent: the next request is answered.
    assert_eq!(
        api.get("/v3/users/me/dashboard").await.status,
        StatusCode::OK
    );
    assert_eq!(api.emulator.stats().count(Route::Dashboard), 3);
}

#[tokio::test]
async fn malformed_body_is_a_200_that_does_not_parse() {
    let api = Api::start(fast()).await;
    let id = api.create("@oomol/echo", Value::Null).await;
    api.emulator
        .add_fault(FaultRule::new(Route::TaskResult, Fault::MalformedBody).times(1));
    let response = api
        .http
        .get(api.url(&format!("{TASKS}/{id}/result")))
        .bearer_auth(&api.key)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["content-type"], "application/json");
    let text = response.text().await.unwrap();
    assert!(!text.is_empty());
    assert!(serde_json::from_str::<Value>(&text).is_err(), "{text}");
}

#[tokio::test]
async fn a_faulted_create_creates_nothing_but_is_counted() {
    let api = Api::start(fast()).await;
    api.emulator
        .add_fault(FaultRule::new(Route::CreateTask, Fault::ServiceUnavailable).times(1));
    let answer = api
        .post(
            TASKS,
            json!({"packageName": "@oomol/echo", "packageVersion": "1", "blockName": "main"}),
        )
        .await;
    assert_eq!(answer.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(api.get(TASKS).await.body["tasks"], json!([]));
    let stats = api.emulator.stats();
    assert_eq!(stats.count(Route::CreateTask), 1);
    assert_eq!(stats.count(Route::ListTasks), 1);
    assert_eq!(stats.total(), 2);
}

#[tokio::test]
async fn faults_come_before_auth_and_unauthorised_requests_are_counted() {
    let api = Api::start(fast()).await;
    let url = api.url("/v3/users/me/dashboard");
    assert_eq!(api.http.get(&url).send().await.unwrap().status(), 401);
    api.emulator
        .add_fault(FaultRule::new(Route::Dashboard, Fault::ServiceUnavailable).times(1));
    assert_eq!(api.http.get(&url).send().await.unwrap().status(), 503);
    assert_eq!(api.emulator.stats().count(Route::Dashboard), 2);
    api.emulator.reset_stats();
    assert_eq!(api.emulator.stats().total(), 0);
}

/// The statuses of 40 result polls under a 50% fault with `seed`.
async fn draws(seed: u64) -> Vec<u16> {
    let api = Api::start(
        fast()
            .seed(seed)
            .fault(FaultRule::new(Route::TaskResult, Fault::ServiceUnavailable).probability(0.5)),
    )
    .await;
    let mut statuses = Vec::new();
    for _ in 0..40 {
        statuses.push(api.get(&format!("{TASKS}/t/result")).await.status.as_u16());
    }
    statuses
}

#[tokio::test]
async fn probabilistic_faults_are_deterministic_with_a_seed() {
    let a = draws(42).await;
    assert_eq!(a, draws(42).await);
    assert_ne!(a, draws(43).await);
    let hits = a.iter().filter(|s| **s == 503).count();
    assert!((8..=32).contains(&hits), "{hits} of 40: {a:?}");
    assert!(a.iter().all(|s| *s == 503 || *s == 404), "{a:?}");
}

#[tokio::test]
async fn every_route_is_counted_separately() {
    let api = Api::start(fast().part_size(4)).await;
    let id = api.create("@oomol/echo", Value::Null).await;
    api.get(TASKS).await;
    api.get(&format!("{TASKS}/latest?workloadIDs=x")).await;
    api.get(&format!("{TASKS}/{id}")).await;
    api.get(&format!("{TASKS}/{id}/result")).await;
    api.get(&format!("{TASKS}/{id}/logs")).await;
    api.get("/v3/users/me/dashboard").await;
    api.post("/v3/user/pause", json!({})).await;
    api.post("/v3/user/resume", json!({})).await;
    let target = api.target(".txt", 4).await;
    let put = api
        .put_part(&target.presigned_urls[&1], vec![1, 2, 3, 4])
        .await;
    assert_eq!(put.status, 200);
    let file = api.final_url(&target.upload_id).await;
    api.download(file.body["data"]["url"].as_str().unwrap())
        .await;
    api.get("/-/oomol/package-info/%40oomol%2Fecho/1.0.0").await;
    api.post("/v1/auth/device_login/code", json!({"stat": "s"}))
        .await;
    api.get("/v1/auth/device_login/result?stat=s").await;
    api.get("/v1/users/profile").await;
    // Unknown paths and the control endpoints are not counted.
    api.get("/v3/nothing").await;
    api.get("/_emulator/stats").await;
    let stats = api.emulator.stats();
    for route in Route::ALL {
        assert_eq!(stats.count(route), 1, "{route}");
    }
    assert_eq!(stats.total(), Route::ALL.len() as u64);
}
