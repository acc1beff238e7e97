//! What both clients' seam tests share: the configuration and the request and response
//! helpers (driver-independent: the core's types).

use std::collections::HashMap;
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use cloud_task_core::http::{self, StatusCode};
use cloud_task_core::{Config, Error, HttpRequest, HttpResponse, TaskSuccess};

pub const KEY: &str = "sk-seam-secret";

/// The configuration every test client uses.
pub fn config() -> Config {
    Config::builder()
        .api_key(KEY)
        .base_url("https://api.test")
        .upload_base_url("https://upload.test/files")
        .build()
        .expect("valid test configuration")
}

/// True when two requests are the same on the wire: method, URI, headers and body.
pub fn same_request(a: &HttpRequest, b: &HttpRequest) -> bool {
    a.method() == b.method()
        && a.uri() == b.uri()
        && a.headers() == b.headers()
        && a.body() == b.body()
}

/// A response with `status` and a JSON (or any) body.
pub fn response(status: u16, body: &str) -> HttpResponse {
    let mut response = http::Response::new(body.as_bytes().to_vec());
    *response.status_mut() = StatusCode::from_u16(status).expect("valid status");
    response
}

/// A response carrying a `Retry-After` header.
pub fn response_retry_after(status: u16, body: &str, seconds: u64) -> HttpResponse {
    let mut response = response(status, body);
    response
        .headers_mut()
        .insert(http::header::RETRY_AFTER, http::HeaderValue::from(seconds));
    response
}

/// `len` bytes of a fixed pseudo-random sequence (xorshift): incompressible, reproducible.
pub fn pseudo_random(len: usize) -> Vec<u8> {
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

/// How long a test waits for another thread before failing (never reached when the code
/// under test works; only a deadlock would hit it).
pub const DEADLOCK: Duration = Duration::from_secs(20);

/// A clock that only moves when a sleep of the client completes, recording every sleep.
/// With `blocking`, sleeps last until they are cancelled (to test cancellation during a
/// wait). Each client's shim implements its `Timer` on it.
#[derive(Clone)]
pub struct FakeTimer {
    start: Instant,
    state: Arc<(Mutex<TimerState>, Condvar)>,
    blocking: bool,
}

#[derive(Default)]
struct TimerState {
    elapsed: Duration,
    sleeps: Vec<Duration>,
}

impl FakeTimer {
    pub fn new() -> Self {
        FakeTimer {
            start: Instant::now(),
            state: Arc::default(),
            blocking: false,
        }
    }

    pub fn blocking() -> Self {
        FakeTimer {
            blocking: true,
            ..FakeTimer::new()
        }
    }

    pub fn sleeps(&self) -> Vec<Duration> {
        self.state.0.lock().unwrap().sleeps.clone()
    }

    pub fn elapsed(&self) -> Duration {
        self.state.0.lock().unwrap().elapsed
    }

    /// The clock's instant.
    pub fn now(&self) -> Instant {
        self.start + self.elapsed()
    }

    /// True when its sleeps last until cancelled.
    pub fn is_blocking(&self) -> bool {
        self.blocking
    }

    /// A sleep of `duration` starts.
    pub fn started(&self, duration: Duration) {
        self.state.0.lock().unwrap().sleeps.push(duration);
        self.state.1.notify_all();
    }

    /// A sleep of `duration` completed: time passes (only then).
    pub fn completed(&self, duration: Duration) {
        self.state.0.lock().unwrap().elapsed += duration;
    }

    /// Blocks until at least `n` sleeps have started.
    pub fn wait_for_sleeps(&self, n: usize) {
        let (state, condvar) = &*self.state;
        let (state, timeout) = condvar
            .wait_timeout_while(state.lock().unwrap(), DEADLOCK, |s| s.sleeps.len() < n)
            .unwrap();
        assert!(!timeout.timed_out(), "only {} sleeps", state.sleeps.len());
    }
}

/// The answer of a fake server of many tasks to a result poll, for `await_many`: a task
/// answers `running` on its first poll and succeeds on its second (with `{"id": <task
/// id>}` as data), except tasks named `fail-*` (failed), `now-*` (success at once) and
/// `hang-*` (running forever). `seen` counts each task's polls.
pub fn fleet_answer(seen: &Mutex<HashMap<String, u32>>, request: &HttpRequest) -> HttpResponse {
    let id = request
        .uri()
        .path()
        .strip_prefix("/v3/users/me/tasks/")
        .and_then(|p| p.strip_suffix("/result"))
        .expect("a result poll")
        .to_owned();
    let count = {
        let mut seen = seen.lock().unwrap();
        let count = seen.entry(id.clone()).or_default();
        *count += 1;
        *count
    };
    let body = if id.starts_with("fail-") {
        r#"{"status":"failed","error":"boom"}"#.to_owned()
    } else if id.starts_with("hang-") || (count < 2 && !id.starts_with("now-")) {
        r#"{"status":"running","progress":50}"#.to_owned()
    } else {
        format!(r#"{{"status":"success","resultURL":null,"resultData":{{"id":"{id}"}}}}"#)
    };
    response(200, &body)
}

/// Checks the results of `await_many` over a fleet's `ids`: in input order, `fail-3`
/// failed, the empty ID refused, every other with its own ID as data.
pub fn check_fleet_results(ids: &[String], results: &[Result<TaskSuccess, Error>]) {
    assert_eq!(results.len(), ids.len());
    for (id, result) in ids.iter().zip(results) {
        match id.as_str() {
            "fail-3" => {
                assert!(matches!(result, Err(Error::TaskFailed(f)) if f.task_id == "fail-3"))
            }
            "" => assert!(matches!(result, Err(Error::InvalidInput(_)))),
            id => assert_eq!(
                result.as_ref().unwrap().result_data.as_ref().unwrap()["id"],
                id
            ),
        }
    }
}

/// The `init` answer of a fake upload service: `parts` parts of `part_size` bytes, each
/// with its presigned URL.
pub fn store_init(part_size: u64, parts: u32) -> HttpResponse {
    let urls: Vec<String> = (1..=parts)
        .map(|n| format!(r#""{n}":"https://store.test/part/{n}""#))
        .collect();
    response(
        200,
        &format!(
            r#"{{"data":{{"upload_id":"u","part_size":{part_size},"total_parts":{parts},"presigned_urls":{{{}}}}}}}"#,
            urls.join(",")
        ),
    )
}
