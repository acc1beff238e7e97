//! Tracing output: each request is traced with its operation, method, path, task and status,
//! and never with the key.
//!
//! In a test binary of its own: `tracing` caches whether a call site is enabled process-wide,
//! so a test that installs a thread-local subscriber while other tests run on other threads
//! can see nothing at all.

use cloud_task_async::SendLimits;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use cloud_task_async::core::{HttpRequest, HttpResponse};
use cloud_task_async::{Client, HttpTransport, Result};

const KEY: &str = "sk-trace-SECRET-42";

/// Answers every request with one task detail.
struct Canned;

#[async_trait]
impl HttpTransport for Canned {
    async fn send(&self, request: HttpRequest, _limits: SendLimits) -> Result<HttpResponse> {
        assert_eq!(request.uri().path(), "/v3/users/me/tasks/t-9");
        Ok(HttpResponse::new(
            br#"{"taskType":"user","taskID":"t-9","status":"running","progress":1,
            "workload":"serverless","workloadID":"w","schedulerPayload":{},"createdAt":1,
            "startTime":null,"endTime":null,"resultURL":null,"failedMessage":null}"#
                .to_vec(),
        ))
    }
}

/// Collects what a `tracing` fmt subscriber writes.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test(flavor = "current_thread")]
async fn each_request_is_traced_with_operation_method_path_status_and_task_but_never_the_key() {
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::DEBUG)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let client = Client::builder()
        .api_key(KEY)
        .default_header("Cookie", "oomol-token=COOKIE-SECRET")
        .transport(Canned)
        .build()
        .unwrap();
    client.get_task("t-9").await.unwrap();

    let text = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    assert!(text.contains("op=\"get_task\""), "{text}");
    assert!(text.contains("method=GET"), "{text}");
    assert!(text.contains("path=\"/v3/users/me/tasks/t-9\""), "{text}");
    assert!(text.contains("task_id=\"t-9\""), "{text}");
    assert!(text.contains("status=200"), "{text}");
    assert!(!text.contains(KEY), "{text}");
    assert!(!text.contains("COOKIE-SECRET"), "{text}");
}
