//! The clients' spans as OpenTelemetry sees them: through `tracing-opentelemetry` into the
//! OpenTelemetry SDK's in-memory exporter, both drivers against the emulator.
//!
//! Checked: the tree (an operation's requests are its children; `create_and_wait` holds
//! its create and its wait; a batch's creates and polls are its own), the HTTP client
//! fields of OpenTelemetry's semantic conventions, the attempt numbers of a retried poll,
//! the error status of a failed request and of the operation it failed, and that no
//! attribute or event holds the key or a presigned URL's signature.
//!
//! Its own test binary: the subscriber is global to the process (the async runtime's
//! workers and the blocking client's sender threads record into it).

use std::collections::HashMap;
use std::time::Duration;

use cloud_task_async::{AwaitOptions, BatchEvent, BatchOptions, CreateTaskRequest, UploadOptions};
use cloud_task_emulator::{Emulator, Fault, FaultRule, Route};
use futures_util::StreamExt;
use opentelemetry::Value;
use opentelemetry::trace::{SpanId, SpanKind, Status, TracerProvider as _};
use opentelemetry_sdk::trace::{InMemorySpanExporter, SdkTracerProvider, SpanData};
use tracing::level_filters::LevelFilter;
use tracing_subscriber::filter::Targets;
use tracing_subscriber::prelude::*;

const KEY: &str = "qa-otel-key-4b8e2d6f1a";

fn quick() -> AwaitOptions {
    AwaitOptions::new()
        .interval(Duration::from_millis(5))
        .timeout(Duration::from_secs(20))
}

fn echo(text: &str) -> CreateTaskRequest {
    CreateTaskRequest::new("@oomol/echo", "1.0.0", "main").input("text", text)
}

/// The finished spans of one scenario.
struct Spans(Vec<SpanData>);

impl Spans {
    /// The spans of the scenario just run, once its tree is whole: a span ends when the
    /// last request inside it does, and a blocking client's sender thread may still be
    /// finishing one when the call has returned (at most its request's timeout; here the
    /// emulator's answer, a few milliseconds). Bounded at 10 s.
    fn take(provider: &SdkTracerProvider, exporter: &InMemorySpanExporter) -> Spans {
        let started = std::time::Instant::now();
        loop {
            provider.force_flush().unwrap();
            let spans = exporter.get_finished_spans().unwrap();
            let ids: std::collections::HashSet<SpanId> =
                spans.iter().map(|s| s.span_context.span_id()).collect();
            let whole = spans
                .iter()
                .all(|s| s.parent_span_id == SpanId::INVALID || ids.contains(&s.parent_span_id));
            if whole || started.elapsed() > Duration::from_secs(10) {
                exporter.reset();
                return Spans(spans);
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    /// The one span named `name`.
    fn one(&self, name: &str) -> &SpanData {
        let found: Vec<_> = self.0.iter().filter(|s| s.name == name).collect();
        assert_eq!(found.len(), 1, "spans named {name}: {:#?}", self.names());
        found[0]
    }

    fn names(&self) -> Vec<String> {
        self.0
            .iter()
            .map(|s| format!("{} <- {}", s.name, s.parent_span_id))
            .collect()
    }

    /// The spans whose parent is `parent`, in the order they started.
    fn children(&self, parent: &SpanData) -> Vec<&SpanData> {
        let mut children: Vec<_> = self
            .0
            .iter()
            .filter(|s| s.parent_span_id == parent.span_context.span_id())
            .collect();
        children.sort_by_key(|s| s.start_time);
        children
    }

    /// Every attribute and event field of every span holds neither the key nor a
    /// signature's value.
    fn assert_no_secret(&self) {
        for span in &self.0 {
            let values = span
                .attributes
                .iter()
                .chain(span.events.iter().flat_map(|e| e.attributes.iter()))
                .map(|kv| (kv.key.as_str().to_owned(), kv.value.as_str().into_owned()));
            for (key, value) in values {
                assert!(!value.contains(KEY), "{key} of {} holds the key", span.name);
                if let Some(at) = value.find("signature=") {
                    assert!(
                        value[at..].starts_with("signature=REDACTED"),
                        "{key} of {} holds a signature: {value}",
                        span.name
                    );
                }
            }
        }
    }
}

/// A span's attributes by name, as text.
fn attrs(span: &SpanData) -> HashMap<String, String> {
    span.attributes
        .iter()
        .map(|kv| (kv.key.as_str().to_owned(), kv.value.as_str().into_owned()))
        .collect()
}

fn attr(span: &SpanData, name: &str) -> String {
    attrs(span)
        .remove(name)
        .unwrap_or_else(|| panic!("no {name} on {}: {:?}", span.name, attrs(span)))
}

/// A request span: kind client, the HTTP fields, and its operation.
fn assert_request(span: &SpanData, method: &str, operation: &str, port: u16) {
    assert_eq!(span.name, method);
    assert_eq!(span.span_kind, SpanKind::Client, "{}", span.name);
    assert_eq!(attr(span, "http.request.method"), method);
    assert_eq!(attr(span, "server.address"), "127.0.0.1");
    assert_eq!(attr(span, "server.port"), port.to_string());
    assert!(attr(span, "url.full").starts_with(&format!("http://127.0.0.1:{port}/")));
    assert_eq!(attr(span, "oomol.operation"), operation);
    // Numbers are exported as integers, as the conventions type them.
    for number in ["server.port", "http.response.status_code", "oomol.attempt"] {
        let value = span.attributes.iter().find(|kv| kv.key.as_str() == number);
        assert!(
            matches!(value.map(|kv| &kv.value), Some(Value::I64(_))),
            "{number} of {} is {value:?}",
            span.name
        );
    }
}

/// What both drivers did: `create_and_wait` with one failed poll, a `get_task` of no
/// task, a batch of two, and an upload of three parts. Each scenario's spans, in order.
fn check(scenarios: [Spans; 4], port: u16) {
    let [created, missing, batch, upload] = scenarios;

    // create_and_wait: its create and its wait are its children, each with its requests.
    let root = created.one("create_and_wait");
    assert_eq!(root.parent_span_id, SpanId::INVALID);
    let task_id = attr(root, "oomol.task.id");
    let steps = created.children(root);
    let names: Vec<_> = steps.iter().map(|s| s.name.as_ref()).collect();
    assert_eq!(names, ["create_task", "await_result"]);
    let create = created.children(steps[0]);
    assert_eq!(create.len(), 1);
    assert_request(create[0], "POST", "create_task", port);
    assert_eq!(attr(create[0], "http.response.status_code"), "200");
    assert_eq!(attr(create[0], "oomol.attempt"), "1");
    assert_eq!(attr(steps[1], "oomol.task.id"), task_id);
    assert_eq!(attr(steps[1], "oomol.machine"), "wait");
    let polls = created.children(steps[1]);
    assert!(polls.len() >= 2, "{:#?}", created.names());
    for (n, poll) in polls.iter().enumerate() {
        assert_request(poll, "GET", "get_task_result", port);
        assert_eq!(attr(poll, "oomol.attempt"), (n + 1).to_string());
        assert_eq!(attr(poll, "oomol.task.id"), task_id);
    }
    // The first poll met a 503 (retried): an error, the wait none.
    assert_eq!(attr(polls[0], "http.response.status_code"), "503");
    assert_eq!(attr(polls[0], "error.type"), "503");
    assert!(matches!(polls[0].status, Status::Error { .. }));
    assert_eq!(
        attr(polls.last().unwrap(), "http.response.status_code"),
        "200"
    );
    assert_eq!(steps[1].status, Status::Unset);
    assert_eq!(root.status, Status::Unset);

    // A failed call: the request and the operation carry the error.
    let get = missing.one("get_task");
    let request = missing.children(get);
    assert_eq!(request.len(), 1);
    assert_request(request[0], "GET", "get_task", port);
    assert_eq!(attr(request[0], "oomol.task.id"), "no-such-task");
    let status = attr(request[0], "http.response.status_code");
    assert!(status.starts_with('4'), "{status}");
    assert_eq!(attr(request[0], "error.type"), status);
    assert_eq!(attr(get, "error.type"), status);
    assert!(matches!(get.status, Status::Error { .. }));

    // A batch: its creates and polls are its own requests.
    let run = batch.one("run_many");
    assert_eq!(attr(run, "oomol.machine"), "batch");
    let requests = batch.children(run);
    let creates: Vec<_> = requests
        .iter()
        .filter(|s| attr(s, "oomol.operation") == "create_task")
        .collect();
    assert_eq!(creates.len(), 2, "{:#?}", batch.names());
    for (n, create) in creates.iter().enumerate() {
        assert_request(create, "POST", "create_task", port);
        assert_eq!(attr(create, "oomol.attempt"), (n + 1).to_string());
    }
    assert!(
        requests
            .iter()
            .any(|s| attr(s, "oomol.operation") == "get_task_result")
    );
    assert_eq!(batch.0.len(), 1 + requests.len(), "{:#?}", batch.names());

    // An upload: its parts go to presigned URLs whose signature is not shown.
    let up = upload.one("upload");
    let requests = upload.children(up);
    let parts: Vec<_> = requests
        .iter()
        .filter(|s| attr(s, "oomol.operation") == "upload_part")
        .collect();
    assert_eq!(parts.len(), 3, "{:#?}", upload.names());
    for part in parts {
        assert_request(part, "PUT", "upload_part", port);
        assert!(
            attr(part, "url.full").contains("signature=REDACTED"),
            "{}",
            attr(part, "url.full")
        );
    }

    for spans in [&created, &missing, &batch, &upload] {
        spans.assert_no_secret();
    }
}

#[test]
fn both_clients_spans_form_the_operation_tree_with_http_fields_and_no_secret() {
    let exporter = InMemorySpanExporter::default();
    let provider = SdkTracerProvider::builder()
        .with_simple_exporter(exporter.clone())
        .build();
    let layer = tracing_opentelemetry::layer().with_tracer(provider.tracer("qa"));
    let only_the_clients = Targets::new().with_target("oomol_cloud_task", LevelFilter::DEBUG);
    tracing::subscriber::set_global_default(
        tracing_subscriber::registry().with(layer.with_filter(only_the_clients)),
    )
    .unwrap();

    let emulator = Emulator::builder()
        .api_key(KEY)
        .time_scale(0.01)
        .part_size(1024)
        .start_blocking()
        .unwrap();
    let port: u16 = emulator
        .base_url()
        .rsplit(':')
        .next()
        .unwrap()
        .trim_end_matches('/')
        .parse()
        .unwrap();
    let fail_one_poll = || {
        emulator.add_fault(FaultRule::new(Route::TaskResult, Fault::ServiceUnavailable).times(1));
    };

    // The async client.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let client = cloud_task_async::Client::builder()
        .api_key(KEY)
        .base_url(emulator.base_url())
        .upload_base_url(emulator.upload_base_url())
        .build()
        .unwrap();
    let scenarios = runtime.block_on(async {
        fail_one_poll();
        client.create_and_wait(echo("a"), quick()).await.unwrap();
        let created = Spans::take(&provider, &exporter);
        client.get_task("no-such-task").await.unwrap_err();
        let missing = Spans::take(&provider, &exporter);
        let mut run = client.run_many(
            [echo("b"), echo("c")],
            BatchOptions::new().await_options(quick()),
        );
        while let Some(event) = run.next().await {
            if let BatchEvent::Finished(item) = event.unwrap() {
                assert!(item.is_success(), "{item:?}");
            }
        }
        drop(run);
        let batch = Spans::take(&provider, &exporter);
        client
            .upload_bytes(vec![5u8; 3000], "a.bin", UploadOptions::new())
            .await
            .unwrap();
        let upload = Spans::take(&provider, &exporter);
        [created, missing, batch, upload]
    });
    check(scenarios, port);
    drop(runtime);

    // The blocking client.
    let client = cloud_task_blocking::Client::builder()
        .api_key(KEY)
        .base_url(emulator.base_url())
        .upload_base_url(emulator.upload_base_url())
        .build()
        .unwrap();
    fail_one_poll();
    client.create_and_wait(echo("a"), quick()).unwrap();
    let created = Spans::take(&provider, &exporter);
    client.get_task("no-such-task").unwrap_err();
    let missing = Spans::take(&provider, &exporter);
    let run = client.run_many(
        [echo("b"), echo("c")],
        BatchOptions::new().await_options(quick()),
    );
    for event in run {
        if let BatchEvent::Finished(item) = event.unwrap() {
            assert!(item.is_success(), "{item:?}");
        }
    }
    let batch = Spans::take(&provider, &exporter);
    client
        .upload_bytes(vec![5u8; 3000], "a.bin", UploadOptions::new())
        .unwrap();
    let upload = Spans::take(&provider, &exporter);
    check([created, missing, batch, upload], port);
}
