//! Malformed and truncated server bodies: every operation of both drivers, served a 2xx
//! answer whose body is cut short at many points or is not the expected JSON at all, ends
//! with a decode error that keeps the raw body byte for byte (inside an upload error for
//! the upload steps), and never panics.
//!
//! The valid bodies are the emulator's own answers; a small loopback server then serves
//! them whole (a sanity check: the call succeeds) and cut.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use cloud_task_async::core::upload::{InitUploadResponse, UploadUrlResponse};
use cloud_task_async::core::{
    Config, CreateTask, GetDashboard, GetLatestTasks, GetTask, GetTaskLogs, GetTaskResult,
    HttpRequest, ListTasks, Operation, SetTasksPause, UploadErrorCode, UploadTarget, UploadedFile,
};
use cloud_task_async::{AwaitOptions, Error, ListTasksQuery, Result, UploadOptions};
use cloud_task_emulator::Emulator;
use cloud_task_qa::loopback::{self, Received, Reply, Server};
use oomol_cloud_task::emulator::{ManualClock, VirtualTimer};
use serde_json::{Value, json};

use crate::support::{REQUEST_TIMEOUT, echo};

/// The operations whose answers are broken, one per parser of the drivers' calls.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Create,
    List,
    Latest,
    Get,
    Result,
    Logs,
    Dashboard,
    Pause,
    UploadInit,
    UploadUrl,
}

impl Op {
    const ALL: [Op; 10] = [
        Op::Create,
        Op::List,
        Op::Latest,
        Op::Get,
        Op::Result,
        Op::Logs,
        Op::Dashboard,
        Op::Pause,
        Op::UploadInit,
        Op::UploadUrl,
    ];

    /// Whether `request` is this operation's (the others get a valid default answer).
    fn matches(self, request: &Received) -> bool {
        let path = request.target.split('?').next().unwrap_or_default();
        match self {
            Op::Create => request.method == "POST" && path == "/v3/users/me/tasks",
            Op::List => request.method == "GET" && path == "/v3/users/me/tasks",
            Op::Latest => path == "/v3/users/me/tasks/latest",
            Op::Get => path == "/v3/users/me/tasks/t-1",
            Op::Result => path.ends_with("/result"),
            Op::Logs => path.ends_with("/logs"),
            Op::Dashboard => path.ends_with("/dashboard"),
            Op::Pause => path.starts_with("/v3/user/"),
            Op::UploadInit => path.ends_with("/init"),
            Op::UploadUrl => path.ends_with("/url"),
        }
    }
}

/// Sends a core request to `addr` as is and answers the body (to read the emulator's own
/// answers).
fn fetch(addr: std::net::SocketAddr, request: HttpRequest) -> Vec<u8> {
    let mut head = String::new();
    for (name, value) in request.headers() {
        head.push_str(&format!("{name}: {}\r\n", value.to_str().unwrap()));
    }
    let target = request.uri().path_and_query().unwrap().as_str().to_owned();
    let (status, body) = loopback::request(
        addr,
        request.method().as_str(),
        &target,
        &head,
        request.body(),
    )
    .unwrap();
    assert!((200..300).contains(&status), "{target}: {status}");
    body
}

/// The valid body of each operation: the emulator's answers for the task API, the core's
/// own types for the two upload steps (whose part URLs point at `parts`).
fn valid_bodies(parts: &str) -> Vec<(Op, Vec<u8>)> {
    let emulator = Emulator::builder()
        .time_scale(0.001)
        .start_blocking()
        .unwrap();
    let config = Config::builder()
        .api_key(emulator.api_key())
        .base_url(emulator.base_url())
        .upload_base_url(emulator.upload_base_url())
        .build()
        .unwrap();
    let addr = emulator.addr();
    let get = |op: &dyn Fn(&Config) -> HttpRequest| fetch(addr, op(&config));
    let created = get(&|c| {
        CreateTask::new(echo(json!({ "text": "hi", "n": [1, 2] })))
            .request(c)
            .unwrap()
    });
    let task_id = serde_json::from_slice::<Value>(&created).unwrap()["taskID"]
        .as_str()
        .unwrap()
        .to_owned();
    let result = loop {
        let body = get(&|c| GetTaskResult::new(&task_id).request(c).unwrap());
        if serde_json::from_slice::<Value>(&body).unwrap()["status"] == "success" {
            break body;
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    let detail = get(&|c| GetTask::new(&task_id).request(c).unwrap());
    let workload = serde_json::from_slice::<Value>(&detail).unwrap()["workloadID"]
        .as_str()
        .unwrap()
        .to_owned();
    let target = UploadTarget::new(
        "u-1",
        1024,
        1,
        [(1, format!("{parts}/p/1?sig=s"))].into_iter().collect(),
    );
    let mut file = UploadedFile::new("https://files.test/u-1.bin");
    file.file_size = Some(3);
    vec![
        (Op::Create, created),
        (Op::List, get(&|c| ListTasks::default().request(c).unwrap())),
        (
            Op::Latest,
            get(&|c| GetLatestTasks::new(workload.as_str()).request(c).unwrap()),
        ),
        (Op::Get, detail),
        (Op::Result, result),
        (
            Op::Logs,
            get(&|c| GetTaskLogs::new(&task_id).request(c).unwrap()),
        ),
        (Op::Dashboard, get(&|c| GetDashboard.request(c).unwrap())),
        (
            Op::Pause,
            get(&|c| SetTasksPause::resume().request(c).unwrap()),
        ),
        (
            Op::UploadInit,
            serde_json::to_vec(&InitUploadResponse::new(target)).unwrap(),
        ),
        (
            Op::UploadUrl,
            serde_json::to_vec(&UploadUrlResponse::new(file)).unwrap(),
        ),
    ]
}

/// A loopback server answering the operation under test with the body under test, and
/// every other request (the other upload steps) with a valid answer.
struct Canned {
    server: Server,
    under_test: Arc<Mutex<(Op, Vec<u8>)>>,
    bodies: Vec<(Op, Vec<u8>)>,
}

impl Canned {
    fn start() -> Canned {
        let under_test = Arc::new(Mutex::new((Op::Create, Vec::new())));
        let defaults = Arc::new(Mutex::new(Vec::<(Op, Vec<u8>)>::new()));
        let server = {
            let under_test = under_test.clone();
            let defaults = defaults.clone();
            Server::start(move |request| {
                let (op, body) = under_test.lock().unwrap().clone();
                if op.matches(request) {
                    return Reply::json(200, body);
                }
                if request.method == "PUT" {
                    return Reply::json(200, "");
                }
                let defaults = defaults.lock().unwrap();
                match defaults.iter().find(|(op, _)| op.matches(request)) {
                    Some((_, body)) => Reply::json(200, body.clone()),
                    None => Reply::json(404, r#"{"message":"not served"}"#),
                }
            })
            .unwrap()
        };
        let bodies = valid_bodies(&server.url("127.0.0.1"));
        let ops: Vec<Op> = bodies.iter().map(|(op, _)| *op).collect();
        assert_eq!(ops, Op::ALL, "every operation is broken in turn");
        *defaults.lock().unwrap() = bodies.clone();
        Canned {
            server,
            under_test,
            bodies,
        }
    }

    fn serve(&self, op: Op, body: &[u8]) {
        *self.under_test.lock().unwrap() = (op, body.to_vec());
    }

    /// Each valid body, and a dozen or so cuts of it (every cut for short bodies).
    fn cases(&self) -> Vec<(Op, Vec<u8>, Vec<Vec<u8>>)> {
        self.bodies
            .iter()
            .map(|(op, body)| {
                let step = (body.len() / 40).max(1);
                let mut cuts: Vec<Vec<u8>> = (0..body.len())
                    .step_by(step)
                    .map(|n| body[..n].to_vec())
                    .collect();
                cuts.push(body[..body.len() - 1].to_vec());
                (*op, body.clone(), cuts)
            })
            .collect()
    }
}

/// Bodies that are not the expected JSON for any operation (the last one has a field of
/// the wrong type for each).
fn garbage() -> Vec<Vec<u8>> {
    vec![
        Vec::new(),
        b"null".to_vec(),
        b"<html><body>502 Bad Gateway</body></html>".to_vec(),
        vec![0xff, 0xfe, 0x00, b'{'],
        b"[1, 2".to_vec(),
        br#"{"taskID":5,"status":7,"tasks":1,"data":"x","limits":[],"logs":1,"pauseType":5}"#
            .to_vec(),
    ]
}

/// Asserts `outcome` is the decode error of `op` holding exactly `body`.
#[track_caller]
fn decode_error_keeps<T: std::fmt::Debug>(op: Op, body: &[u8], outcome: Result<T>) {
    let error = match outcome {
        Ok(value) => panic!(
            "{op:?}: {:?} was accepted as {value:?}",
            String::from_utf8_lossy(body)
        ),
        Err(error) => error,
    };
    assert!(!error.to_string().contains('\n'));
    let decode = match (&error, op) {
        (Error::Decode(decode), _) if !matches!(op, Op::UploadInit | Op::UploadUrl) => decode,
        (Error::Upload(upload), Op::UploadInit | Op::UploadUrl) => {
            let code = if op == Op::UploadInit {
                UploadErrorCode::InitUploadFailed
            } else {
                UploadErrorCode::GetUploadUrlFailed
            };
            assert_eq!(upload.code, code, "{error:?}");
            match upload.source.as_deref() {
                Some(Error::Decode(decode)) => decode,
                other => panic!("{op:?}: the cause is {other:?}"),
            }
        }
        _ => panic!("{op:?}: expected a decode error, got {error:?}"),
    };
    assert_eq!(decode.body, body, "{op:?}: the raw body was not kept");
    assert_eq!(decode.status.as_u16(), 200);
}

fn options() -> AwaitOptions {
    AwaitOptions::new()
        .interval(Duration::from_millis(1))
        .timeout(Duration::from_secs(5))
}

async fn call_async(client: &cloud_task_async::Client, op: Op) -> Result<()> {
    match op {
        Op::Create => client.create_task(echo(json!({}))).await.map(drop),
        Op::List => client.list_tasks(ListTasksQuery::new()).await.map(drop),
        Op::Latest => client.get_latest_tasks("w-1").await.map(drop),
        Op::Get => client.get_task("t-1").await.map(drop),
        Op::Result => client.get_task_result("t-1").await.map(drop),
        Op::Logs => client.get_task_logs("t-1", None).await.map(drop),
        Op::Dashboard => client.get_dashboard().await.map(drop),
        Op::Pause => client.resume_user_queue().await.map(drop),
        Op::UploadInit | Op::UploadUrl => client
            .upload_bytes(&b"abc"[..], "a.bin", UploadOptions::new())
            .await
            .map(drop),
    }
}

fn call_blocking(client: &cloud_task_blocking::Client, op: Op) -> Result<()> {
    match op {
        Op::Create => client.create_task(echo(json!({}))).map(drop),
        Op::List => client.list_tasks(ListTasksQuery::new()).map(drop),
        Op::Latest => client.get_latest_tasks("w-1").map(drop),
        Op::Get => client.get_task("t-1").map(drop),
        Op::Result => client.get_task_result("t-1").map(drop),
        Op::Logs => client.get_task_logs("t-1", None).map(drop),
        Op::Dashboard => client.get_dashboard().map(drop),
        Op::Pause => client.resume_user_queue().map(drop),
        Op::UploadInit | Op::UploadUrl => client
            .upload_bytes(b"abc", "a.bin", UploadOptions::new())
            .map(drop),
    }
}

#[tokio::test]
async fn the_async_client_keeps_every_broken_body() {
    let canned = tokio::task::spawn_blocking(Canned::start).await.unwrap();
    // In virtual time: the waits below (retries, the timeout) take no real time.
    let client = cloud_task_async::Client::builder()
        .api_key("qa-key")
        .base_url(canned.server.url("127.0.0.1"))
        .upload_base_url(canned.server.url("127.0.0.1"))
        .timeout(REQUEST_TIMEOUT)
        .timer(VirtualTimer::new(ManualClock::new()))
        .build()
        .unwrap();
    for (op, valid, cuts) in canned.cases() {
        canned.serve(op, &valid);
        call_async(&client, op)
            .await
            .unwrap_or_else(|e| panic!("{op:?}: the valid body was refused: {e:?}"));
        for body in cuts.iter().chain(&garbage()) {
            canned.serve(op, body);
            decode_error_keeps(op, body, call_async(&client, op).await);
        }
    }
    // Waiting: a broken result is retried like any failed poll, then reported with the
    // timeout.
    canned.serve(Op::Result, b"{\"status\":");
    let error = client
        .await_result(
            "t-1",
            options()
                .interval(Duration::from_millis(100))
                // Every poll must answer by the deadline; the last one gets a tenth of it.
                .timeout(Duration::from_secs(3)),
        )
        .await
        .unwrap_err();
    match &error {
        Error::Timeout(t) => assert!(matches!(t.last_error, Some(Error::Decode(_))), "{t:?}"),
        other => panic!("expected a timeout, got {other:?}"),
    }
}

#[test]
fn the_blocking_client_keeps_every_broken_body() {
    let canned = Canned::start();
    // In virtual time: the waits below (retries, the timeout) take no real time.
    let client = cloud_task_blocking::Client::builder()
        .api_key("qa-key")
        .base_url(canned.server.url("127.0.0.1"))
        .upload_base_url(canned.server.url("127.0.0.1"))
        .timeout(REQUEST_TIMEOUT)
        .timer(VirtualTimer::new(ManualClock::new()))
        .build()
        .unwrap();
    for (op, valid, cuts) in canned.cases() {
        canned.serve(op, &valid);
        call_blocking(&client, op)
            .unwrap_or_else(|e| panic!("{op:?}: the valid body was refused: {e:?}"));
        for body in cuts.iter().chain(&garbage()) {
            canned.serve(op, body);
            decode_error_keeps(op, body, call_blocking(&client, op));
        }
    }
    canned.serve(Op::Result, b"{\"status\":");
    let error = client
        .await_result(
            "t-1",
            options()
                .interval(Duration::from_millis(100))
                // Every poll must answer by the deadline; the last one gets a tenth of it.
                .timeout(Duration::from_secs(3)),
        )
        .unwrap_err();
    match &error {
        Error::Timeout(t) => assert!(matches!(t.last_error, Some(Error::Decode(_))), "{t:?}"),
        other => panic!("expected a timeout, got {other:?}"),
    }
}
