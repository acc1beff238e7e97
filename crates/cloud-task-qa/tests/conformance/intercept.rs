//! Interceptors see every request of every machine, on both clients, and what they add
//! never travels to another origin.

use std::sync::{Arc, Mutex};

use cloud_task_core::http::{HeaderMap, HeaderValue};
use cloud_task_core::{
    AwaitOptions, CallOptions, CreateTaskRequest, DownloadOptions, Error, HttpResponse,
    Interceptor, Metrics, RequestContext, UploadOptions,
};
use cloud_task_emulator::{Fault, FaultRule, Route};
use serde_json::json;

use crate::driver::Driver;
use crate::{conformance, echo, virtual_emulator};

conformance!(
    every_machine_s_requests_pass_through_the_interceptors,
    an_interceptor_s_header_never_reaches_another_origin,
    a_client_with_other_settings_shares_the_transport_and_keeps_the_rest,
);

/// One request as an interceptor saw it.
#[derive(Debug, Clone, PartialEq)]
struct Seen {
    machine: &'static str,
    operation: &'static str,
    attempt: u32,
    configured: bool,
    answered: bool,
}

/// Records every request and marks it with `x-intercepted`.
#[derive(Clone, Default)]
struct Recorder(Arc<Mutex<Vec<Seen>>>);

impl Recorder {
    fn seen(&self) -> Vec<Seen> {
        self.0.lock().unwrap().clone()
    }

    fn of(&self, machine: &str, operation: &str) -> Vec<Seen> {
        self.seen()
            .into_iter()
            .filter(|s| s.machine == machine && s.operation == operation)
            .collect()
    }
}

impl Interceptor for Recorder {
    fn before_send(&self, context: &RequestContext<'_>, headers: &mut HeaderMap) {
        headers.insert("x-intercepted", HeaderValue::from_static("yes"));
        self.0.lock().unwrap().push(Seen {
            machine: context.machine,
            operation: context.operation,
            attempt: context.attempt,
            configured: context.configured_origin,
            answered: false,
        });
    }

    fn after_answer(
        &self,
        context: &RequestContext<'_>,
        _bytes: u64,
        _outcome: Result<&HttpResponse, &Error>,
    ) {
        let mut seen = self.0.lock().unwrap();
        if let Some(entry) = seen.iter_mut().rev().find(|s| {
            s.operation == context.operation && s.attempt == context.attempt && !s.answered
        }) {
            entry.answered = true;
        }
    }
}

fn file_task(bytes: u64) -> CreateTaskRequest {
    CreateTaskRequest::new("@oomol/file", "1.0.0", "main").input("bytes", bytes)
}

fn every_machine_s_requests_pass_through_the_interceptors<D: Driver>() {
    let (emulator, _clock) = virtual_emulator(|b| b.part_size(1024));
    let recorder = Recorder::default();
    let metrics = Metrics::new();
    let client = D::of_with(&emulator, |c| {
        c.interceptor(recorder.clone()).interceptor(metrics.clone())
    });
    // A create, then a wait through two 503s: its polls are attempts 1, 2, 3, ...
    emulator.add_fault(FaultRule::new(Route::TaskResult, Fault::ServiceUnavailable).times(2));
    client
        .create_and_wait(echo(json!({"text": "hi"})), AwaitOptions::new())
        .unwrap();
    assert_eq!(recorder.of("call", "create_task").len(), 1);
    let polls = recorder.of("wait", "get_task_result");
    assert!(polls.len() >= 3, "{polls:?}");
    let attempts: Vec<u32> = polls.iter().map(|s| s.attempt).collect();
    assert_eq!(attempts, (1..=polls.len() as u32).collect::<Vec<_>>());
    let counted = metrics.snapshot()["get_task_result"];
    assert_eq!(counted.requests, polls.len() as u64);
    assert_eq!(counted.repeats, polls.len() as u64 - 1);
    assert_eq!(counted.error_statuses, 2);
    // An upload: its init, its three parts (counted in bytes), its URL.
    client
        .upload_bytes(vec![7u8; 3000], "a.bin", UploadOptions::new())
        .unwrap();
    assert_eq!(recorder.of("upload", "upload_init").len(), 1);
    assert_eq!(recorder.of("upload", "upload_part").len(), 3);
    assert_eq!(metrics.snapshot()["upload_part"].bytes_sent, 3000);
    // The parts went to the emulator, a configured origin: the header reached it.
    let parts = emulator.stats().part_upload_headers().to_vec();
    assert_eq!(parts.len(), 3);
    assert!(parts.iter().all(|h| h.get("x-intercepted").is_some()));
    // A download in chunks.
    let outcome = client
        .create_and_wait(file_task(5000), AwaitOptions::new())
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    client
        .download_result(
            &outcome.task_id,
            &dir.path().join("out.txt"),
            DownloadOptions::new().chunk_size(1024),
        )
        .unwrap();
    assert!(recorder.of("download", "download").len() >= 5);
    // A live view.
    let id = client.submit(echo(json!({"text": "x"}))).unwrap();
    client.handle_events(&id, AwaitOptions::new());
    assert!(!recorder.of("follow", "get_task_result").is_empty());
    assert!(!recorder.of("follow", "get_task_logs").is_empty());
    // Every request was answered to its interceptors too.
    assert!(
        recorder.seen().iter().all(|s| s.answered),
        "{:?}",
        recorder.seen()
    );
}

fn an_interceptor_s_header_never_reaches_another_origin<D: Driver>() {
    let (emulator, _clock) = virtual_emulator(|b| b.part_size(1024));
    // The client knows the emulator as `localhost`; its presigned part URLs name it
    // `127.0.0.1`: another origin, as a storage host is.
    let local = emulator.base_url().replace("127.0.0.1", "localhost");
    let recorder = Recorder::default();
    let client = D::of_with(&emulator, |c| {
        c.base_url(&local)
            .upload_base_url(format!("{local}/api/tasks/files/remote-cache"))
            .registry_url(&local)
            .interceptor(recorder.clone())
    });
    client
        .upload_bytes(vec![1u8; 2000], "b.bin", UploadOptions::new())
        .unwrap();
    let parts = recorder.of("upload", "upload_part");
    assert_eq!(parts.len(), 2);
    assert!(parts.iter().all(|s| !s.configured), "{parts:?}");
    assert!(recorder.of("upload", "upload_init")[0].configured);
    for headers in emulator.stats().part_upload_headers() {
        assert!(headers.get("x-intercepted").is_none(), "{headers:?}");
    }
}

/// Records the `x-team` header of each request.
#[derive(Clone, Default)]
struct Teams(Arc<Mutex<Vec<String>>>);

impl Interceptor for Teams {
    fn before_send(&self, _context: &RequestContext<'_>, headers: &mut HeaderMap) {
        let team = headers
            .get("x-team")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("-")
            .to_owned();
        self.0.lock().unwrap().push(team);
    }
}

fn a_client_with_other_settings_shares_the_transport_and_keeps_the_rest<D: Driver>() {
    let (emulator, _clock) = virtual_emulator(|b| b);
    let teams = Teams::default();
    let client = D::of_with(&emulator, |c| {
        c.default_header("x-team", "a").interceptor(teams.clone())
    });
    let quick = client
        .with(
            CallOptions::new()
                .timeout(std::time::Duration::from_millis(1500))
                .header("x-team", "b"),
        )
        .unwrap();
    quick.get_dashboard().unwrap();
    client.get_dashboard().unwrap();
    quick.get_dashboard().unwrap();
    // Its header replaced the default one, for its calls only; its interceptor and key
    // are the client's.
    assert_eq!(*teams.0.lock().unwrap(), ["b", "a", "b"]);
    assert_eq!(
        quick.client_config().timeout(),
        std::time::Duration::from_millis(1500)
    );
    assert_ne!(
        client.client_config().timeout(),
        quick.client_config().timeout()
    );
    assert_eq!(
        quick
            .client_config()
            .api_key()
            .map(|k| k.expose_secret().to_owned()),
        client
            .client_config()
            .api_key()
            .map(|k| k.expose_secret().to_owned())
    );
    // A bad header is refused before anything is sent.
    assert!(matches!(
        client.with(CallOptions::new().header("bad header", "x")),
        Err(Error::InvalidInput(_))
    ));
    assert_eq!(emulator.stats().count(Route::Dashboard), 3);
}
