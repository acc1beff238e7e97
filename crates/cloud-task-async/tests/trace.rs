//! Tracing output: each operation is a span, each request a span inside it with
//! OpenTelemetry's HTTP client fields, its attempt and its task; never the key.
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
async fn each_operation_and_request_is_traced_with_its_fields_but_never_the_key() {
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
    for expected in [
        "cloud_task.operation{otel.name=\"get_task\" oomol.operation=\"get_task\" oomol.machine=\"call\" oomol.task.id=\"t-9\"}",
        "cloud_task.request{otel.name=\"GET\" otel.kind=\"client\"",
        "http.request.method=\"GET\"",
        "url.full=\"https://cloud-task.oomol.com/v3/users/me/tasks/t-9\"",
        "oomol.operation=\"get_task\"",
        "oomol.attempt=1",
        "oomol.task.id=\"t-9\"",
        "http.response.status_code=200",
    ] {
        assert!(text.contains(expected), "no {expected} in {text}");
    }
    assert!(!text.contains(KEY), "{text}");
    assert!(!text.contains("COOKIE-SECRET"), "{text}");
}
