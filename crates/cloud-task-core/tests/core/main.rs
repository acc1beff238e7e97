//! Tests of the sans-IO core: no network, no real sleeping.
#![allow(clippy::disallowed_methods)] // tests take one base Instant; nothing sleeps

mod batch;
mod call;
mod cancel;
mod config;
mod create_task;
mod dashboard;
mod download;
mod errors;
mod follower;
mod get_task;
mod latest_tasks;
mod layers;
mod list_tasks;
mod login;
mod models;
mod package_info;
mod paginate;
mod pause;
mod poll_set;
mod poller;
mod properties;
mod task_logs;
mod task_result;
mod trace;
mod upload;
mod upload_machine;

use cloud_task_core::http::{self, HeaderMap};
use cloud_task_core::{Config, HttpRequest, HttpResponse};

pub const KEY: &str = "sk-test-SECRET-0123456789";

/// A config with an API key and a default header.
pub fn config() -> Config {
    Config::builder()
        .api_key(KEY)
        .default_header("x-client", "tests")
        .build()
        .unwrap()
}

/// A canned response.
pub fn response(status: u16, body: &str) -> HttpResponse {
    http::Response::builder()
        .status(status)
        .body(body.as_bytes().to_vec())
        .unwrap()
}

/// A canned response with one extra header.
pub fn response_with(status: u16, body: &str, header: (&str, &str)) -> HttpResponse {
    http::Response::builder()
        .status(status)
        .header(header.0, header.1)
        .body(body.as_bytes().to_vec())
        .unwrap()
}

/// The request's body as JSON.
pub fn json_body(request: &HttpRequest) -> serde_json::Value {
    serde_json::from_slice(request.body()).unwrap()
}

/// A header's value as text.
pub fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).map(|v| v.to_str().unwrap())
}

/// Asserts the standard headers of an authorised request.
pub fn assert_authorised(request: &HttpRequest) {
    let h = request.headers();
    assert_eq!(header(h, "authorization"), Some(&*format!("Bearer {KEY}")));
    assert_eq!(header(h, "x-client"), Some("tests"));
    assert_eq!(
        header(h, "user-agent"),
        Some(&*format!(
            "oomol-cloud-task-rust/{}",
            env!("CARGO_PKG_VERSION")
        ))
    );
}

/// Asserts that `error` is an invalid-input error with exactly `message`.
pub fn assert_invalid(error: cloud_task_core::Error, field: &str, message: &str) {
    match error {
        cloud_task_core::Error::InvalidInput(e) => {
            assert_eq!(e.field, field);
            assert_eq!(e.message, message);
        }
        other => panic!("expected an invalid-input error, got {other:?}"),
    }
}
