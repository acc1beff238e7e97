//! A plain HTTP client of the emulator for the tests.
#![allow(dead_code)] // each test module uses part of it

use std::time::{Duration, Instant};

use cloud_task_core::UploadTarget;
use cloud_task_core::upload::InitUploadResponse;
use cloud_task_emulator::{Emulator, EmulatorBuilder, EmulatorHandle};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

/// How long a test waits for simulated work before failing.
pub const DEADLINE: Duration = Duration::from_secs(10);

/// A builder with a tiny time scale: a default task takes about 10 ms.
pub fn fast() -> EmulatorBuilder {
    Emulator::builder().time_scale(0.01)
}

/// An emulator and a client authorised against it.
pub struct Api {
    pub emulator: EmulatorHandle,
    pub http: reqwest::Client,
    pub key: String,
}

/// A response: its status, headers and body parsed as JSON (`Null` when not JSON).
#[derive(Debug)]
pub struct Answer {
    pub status: StatusCode,
    pub headers: reqwest::header::HeaderMap,
    pub body: Value,
}

impl Answer {
    /// The JSON `message` of an error body.
    pub fn message(&self) -> &str {
        self.body["message"].as_str().unwrap_or_default()
    }
}

impl Api {
    pub async fn start(builder: EmulatorBuilder) -> Api {
        let emulator = builder.start().await.expect("the emulator starts");
        let key = emulator.api_key();
        Api {
            emulator,
            http: reqwest::Client::new(),
            key,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.emulator.base_url())
    }

    /// Sends an authorised request to `path` (under the task API's base URL, or absolute).
    pub async fn send(&self, method: Method, path: &str, body: Option<Value>) -> Answer {
        let url = if path.starts_with("http") {
            path.to_owned()
        } else {
            self.url(path)
        };
        let mut request = self.http.request(method, url).bearer_auth(&self.key);
        if let Some(body) = body {
            request = request
                .header("content-type", "application/json")
                .body(body.to_string());
        }
        answer(request.send().await.expect("the request is answered")).await
    }

    pub async fn get(&self, path: &str) -> Answer {
        self.send(Method::GET, path, None).await
    }

    pub async fn post(&self, path: &str, body: Value) -> Answer {
        self.send(Method::POST, path, Some(body)).await
    }

    /// Creates a task of `package` with `inputs`; answers its ID.
    pub async fn create(&self, package: &str, inputs: Value) -> String {
        let mut body = json!({
            "type": "serverless",
            "packageName": package,
            "packageVersion": "1.0.0",
            "blockName": "main",
        });
        if !inputs.is_null() {
            body["inputValues"] = inputs;
        }
        let answer = self.post("/v3/users/me/tasks", body).await;
        assert_eq!(answer.status, StatusCode::OK, "{answer:?}");
        answer.body["taskID"].as_str().expect("a taskID").to_owned()
    }

    /// Polls the result of `id` until it is terminal (bounded by [`DEADLINE`]).
    pub async fn wait(&self, id: &str) -> Value {
        self.wait_for(&format!("/v3/users/me/tasks/{id}/result"), |body| {
            matches!(body["status"].as_str(), Some("success" | "failed"))
        })
        .await
    }

    /// Polls `path` until `done` holds for its JSON body (bounded by [`DEADLINE`]).
    pub async fn wait_for(&self, path: &str, mut done: impl FnMut(&Value) -> bool) -> Value {
        let deadline = Instant::now() + DEADLINE;
        loop {
            let answer = self.get(path).await;
            assert!(answer.status.is_success(), "{path}: {answer:?}");
            if done(&answer.body) {
                return answer.body;
            }
            assert!(
                Instant::now() < deadline,
                "{path} never got there: {answer:?}"
            );
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    }
}

impl Api {
    /// Starts an upload of `size` bytes.
    pub async fn init(&self, extension: &str, size: u64) -> Answer {
        let url = format!("{}/init", self.emulator.upload_base_url());
        self.send(
            reqwest::Method::POST,
            &url,
            Some(json!({"file_extension": extension, "size": size})),
        )
        .await
    }

    /// Starts an upload; answers its target.
    pub async fn target(&self, extension: &str, size: u64) -> UploadTarget {
        let answer = self.init(extension, size).await;
        assert_eq!(answer.status, StatusCode::OK, "{answer:?}");
        serde_json::from_value::<InitUploadResponse>(answer.body)
            .unwrap()
            .data
    }

    /// PUTs a part the way a client must: no Authorization, octet-stream.
    pub async fn put_part(&self, url: &str, body: Vec<u8>) -> Answer {
        let response = self
            .http
            .put(url)
            .header("content-type", "application/octet-stream")
            .body(body)
            .send()
            .await
            .unwrap();
        answer(response).await
    }

    /// The final step of an upload.
    pub async fn final_url(&self, upload_id: &str) -> Answer {
        let url = format!("{}/{upload_id}/url", self.emulator.upload_base_url());
        self.get(&url).await
    }

    /// Downloads a file's URL: status, headers and bytes.
    pub async fn download(&self, url: &str) -> (StatusCode, reqwest::header::HeaderMap, Vec<u8>) {
        let response = self.http.get(url).send().await.unwrap();
        let status = response.status();
        let headers = response.headers().clone();
        (status, headers, response.bytes().await.unwrap().to_vec())
    }
}

pub async fn answer(response: reqwest::Response) -> Answer {
    let status = response.status();
    let headers = response.headers().clone();
    let bytes = response.bytes().await.expect("a body");
    Answer {
        status,
        headers,
        body: serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    }
}
