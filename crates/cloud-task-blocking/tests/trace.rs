//! The `tracing` output of the client: one span per operation, one per request inside it
//! with OpenTelemetry's HTTP client fields; never the API key, never a presigned URL's
//! signature.
//!
//! Alone in its test binary, so that it can install a global subscriber (spans of the
//! upload and `await_many` worker threads included).

use cloud_task_blocking::SendLimits;
use std::sync::{Arc, Mutex};

use cloud_task_blocking::core::http::StatusCode;
use cloud_task_blocking::core::{HttpRequest, HttpResponse};
use cloud_task_blocking::{AwaitOptions, Client, HttpTransport, Result, UploadOptions};

const KEY: &str = "sk-trace-secret";

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

/// Answers a task detail, a success result, and the three upload steps (one part).
struct Server;

impl HttpTransport for Server {
    fn send(&self, request: HttpRequest, _limits: SendLimits) -> Result<HttpResponse> {
        let path = request.uri().path();
        let body = if path.ends_with("/result") {
            r#"{"status":"success","resultURL":null,"resultData":[]}"#
        } else if path.ends_with("/init") {
            r#"{"data":{"upload_id":"u","part_size":8,"total_parts":1,
                "presigned_urls":{"1":"https://store.test/part/1?X-Signature=part-signature"}}}"#
        } else if path.ends_with("/url") {
            r#"{"data":{"url":"https://files.test/u"}}"#
        } else if path.starts_with("/part/") {
            ""
        } else {
            r#"{"taskType":"user","taskID":"t-9","status":"running","progress":1,
            "workload":"serverless","workloadID":"w","schedulerPayload":{},"createdAt":1,
            "startTime":null,"endTime":null,"resultURL":null,"failedMessage":null}"#
        };
        let mut response = HttpResponse::new(body.as_bytes().to_vec());
        *response.status_mut() = StatusCode::OK;
        Ok(response)
    }
}

#[test]
fn requests_are_traced_with_their_fields_but_never_the_key_or_a_signature() {
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::DEBUG)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    tracing::subscriber::set_global_default(subscriber).unwrap();

    let client = Client::builder()
        .api_key(KEY)
        .transport(Server)
        .build()
        .unwrap();
    client.get_task("t-9").unwrap();
    let results = client.await_many(["t-1", "t-2"], AwaitOptions::new());
    assert!(results.iter().all(|r| r.is_ok()));
    client
        .upload_bytes(b"12345678", "a.bin", UploadOptions::new())
        .unwrap();

    let text = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    // One span per operation, one per request inside it, with OpenTelemetry's fields.
    for expected in [
        "cloud_task.operation{otel.name=\"get_task\"",
        "cloud_task.request{otel.name=\"GET\"",
        "otel.kind=\"client\"",
        "http.request.method=\"GET\"",
        "server.address=\"cloud-task.oomol.com\"",
        "server.port=443",
        "url.full=\"https://cloud-task.oomol.com/v3/users/me/tasks/t-9\"",
        "oomol.operation=\"get_task\"",
        "oomol.attempt=1",
        "oomol.task.id=\"t-9\"",
        "http.response.status_code=200",
        // The polls of await_many, sent from its worker threads, inside its span.
        "cloud_task.operation{otel.name=\"await_many\" oomol.operation=\"await_many\" oomol.machine=\"wait_many\"}",
        "oomol.task.id=\"t-2\"",
        // The part upload, sent from an upload thread, its query's values redacted.
        "cloud_task.operation{otel.name=\"upload\"",
        "oomol.operation=\"upload_part\"",
        "url.full=\"https://store.test/part/1?X-Signature=REDACTED\"",
    ] {
        assert!(text.contains(expected), "no {expected} in {text}");
    }
    assert!(!text.contains("part-signature"), "{text}");
    assert!(!text.contains(KEY), "{text}");
}
