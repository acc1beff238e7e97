//! The API key and a cookie token appear nowhere in the tracing output of either driver,
//! their HTTP stacks included: a process-wide subscriber records everything at TRACE level
//! (spans with their fields, and the `log` records of reqwest, hyper and ureq through
//! `tracing-log`) while both clients work, succeed and fail; then the output is searched.
//!
//! Its own test binary: the subscriber is global to the process.

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use cloud_task_async::{
    AwaitOptions, CreateTaskRequest, ListTasksQuery, LoginOptions, UploadOptions,
};
use cloud_task_emulator::{Emulator, Fault, FaultRule, Route};
use futures_util::StreamExt;
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::fmt::format::FmtSpan;

const KEY: &str = "qa-trace-key-5e1b7d3f9a";
const WRONG_KEY: &str = "qa-trace-wrong-key-8c2a4e6d0b";
const TOKEN: &str = "qa-trace-cookie-token-3f7b1d9e";

/// Everything the subscriber writes, kept in memory.
#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<u8>>>);

impl Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for Capture {
    type Writer = Capture;

    fn make_writer(&'a self) -> Capture {
        self.clone()
    }
}

fn quick() -> AwaitOptions {
    AwaitOptions::new()
        .interval(Duration::from_millis(5))
        .timeout(Duration::from_secs(20))
}

fn signing_in() -> LoginOptions {
    LoginOptions::new().interval(Duration::from_millis(100))
}

fn echo() -> CreateTaskRequest {
    CreateTaskRequest::new("@oomol/echo", "1.0.0", "main").input("text", "traced")
}

async fn exercise_async(emulator: &cloud_task_emulator::EmulatorHandle) {
    let builder = || {
        cloud_task_async::Client::builder()
            .api_key(KEY)
            .default_header("Cookie", format!("oomol-token={TOKEN}"))
            .base_url(emulator.base_url())
            .upload_base_url(emulator.upload_base_url())
    };
    let client = builder().build().unwrap();
    let outcome = client.create_and_wait(echo(), quick()).await.unwrap();
    let ids = vec![outcome.task_id.clone(), outcome.task_id];
    assert!(
        client
            .await_many(ids, quick())
            .await
            .iter()
            .all(Result::is_ok)
    );
    let listed: Vec<_> = client.list_all(ListTasksQuery::new()).collect().await;
    assert!(!listed.is_empty());
    client
        .upload_bytes(vec![3u8; 3000], "a.bin", UploadOptions::new())
        .await
        .unwrap();
    emulator.add_fault(FaultRule::new(Route::TaskResult, Fault::ServiceUnavailable).times(2));
    emulator.add_fault(FaultRule::new(Route::UploadPart, Fault::DropConnection).times(1));
    let outcome = client.create_and_wait(echo(), quick()).await.unwrap();
    client
        .upload_bytes(vec![3u8; 3000], "a.bin", UploadOptions::new())
        .await
        .unwrap();
    // The account API: the key bare in a header, and a sign-in whose answer holds it.
    client.whoami().await.unwrap();
    let account = client.login(signing_in(), |_| {}).await.unwrap();
    assert_eq!(account.api_key.expose_secret(), KEY);
    let wrong = builder().api_key(WRONG_KEY).build().unwrap();
    wrong.whoami().await.unwrap_err();
    wrong.get_dashboard().await.unwrap_err();
    wrong
        .await_result(&outcome.task_id, quick())
        .await
        .unwrap_err();
}

fn exercise_blocking(emulator: &cloud_task_emulator::BlockingEmulator) {
    let builder = || {
        cloud_task_blocking::Client::builder()
            .api_key(KEY)
            .default_header("Cookie", format!("oomol-token={TOKEN}"))
            .base_url(emulator.base_url())
            .upload_base_url(emulator.upload_base_url())
    };
    let client = builder().build().unwrap();
    let outcome = client.create_and_wait(echo(), quick()).unwrap();
    let ids = vec![outcome.task_id.clone(), outcome.task_id];
    assert!(client.await_many(ids, quick()).iter().all(Result::is_ok));
    assert!(client.list_all(ListTasksQuery::new()).count() > 0);
    client
        .upload_bytes(vec![3u8; 3000], "a.bin", UploadOptions::new())
        .unwrap();
    emulator.add_fault(FaultRule::new(Route::TaskResult, Fault::ServiceUnavailable).times(2));
    emulator.add_fault(FaultRule::new(Route::UploadPart, Fault::DropConnection).times(1));
    let outcome = client.create_and_wait(echo(), quick()).unwrap();
    client
        .upload_bytes(vec![3u8; 3000], "a.bin", UploadOptions::new())
        .unwrap();
    client.whoami().unwrap();
    let account = client.login(signing_in(), |_| {}).unwrap();
    assert_eq!(account.api_key.expose_secret(), KEY);
    let wrong = builder().api_key(WRONG_KEY).build().unwrap();
    wrong.whoami().unwrap_err();
    wrong.get_dashboard().unwrap_err();
    wrong.await_result(&outcome.task_id, quick()).unwrap_err();
}

#[test]
fn no_secret_reaches_the_tracing_output_of_either_driver() {
    let capture = Capture::default();
    tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_span_events(FmtSpan::FULL)
        .with_ansi(false)
        .with_writer(capture.clone())
        .try_init()
        .expect("the only subscriber of this process");

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let emulator = Emulator::builder()
            .api_key(KEY)
            .time_scale(0.01)
            .part_size(1024)
            .login_delay(Some(Duration::from_millis(50)))
            .start()
            .await
            .unwrap();
        exercise_async(&emulator).await;
    });
    let emulator = Emulator::builder()
        .api_key(KEY)
        .time_scale(0.01)
        .part_size(1024)
        .login_delay(Some(Duration::from_millis(50)))
        .start_blocking()
        .unwrap();
    exercise_blocking(&emulator);
    drop(emulator);
    drop(runtime);

    let output = String::from_utf8_lossy(&capture.0.lock().unwrap()).into_owned();
    // The capture works, and holds the drivers' spans and their HTTP stacks' records.
    for expected in [
        "cloud_task.request",
        "cloud_task.operation{otel.name=\"upload\"",
        "oomol.operation=\"create_task\"",
        "oomol.operation=\"get_profile\"",
        "oomol.operation=\"poll_device_login\"",
        "http.response.status_code=401",
        "hyper",
        "ureq",
    ] {
        assert!(
            output.contains(expected),
            "nothing about {expected:?} was captured ({} bytes)",
            output.len()
        );
    }
    for secret in [KEY, WRONG_KEY, TOKEN] {
        if let Some(at) = output.find(secret) {
            let line_start = output[..at].rfind('\n').map_or(0, |i| i + 1);
            let line_end = output[at..].find('\n').map_or(output.len(), |i| at + i);
            panic!("a secret was traced: {}", &output[line_start..line_end]);
        }
    }
}
