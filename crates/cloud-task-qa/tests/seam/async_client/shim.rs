//! The async client under the seam suite: its mocked transport, its fake timer, its fake
//! services, and how it is cancelled from elsewhere.

use cloud_task_async::SendLimits;
use std::future::pending;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use cloud_task_async::core::{HttpRequest, HttpResponse};
use cloud_task_async::{Client, HttpTransport, Result, Timer};

pub use crate::common::{FakeTimer, KEY, config, fleet_answer, response};

mockall::mock! {
    pub Transport {}
    #[async_trait]
    impl HttpTransport for Transport {
        async fn send(&self, request: HttpRequest, _limits: SendLimits) -> Result<HttpResponse>;
    }
}

/// A client on `transport` with a fake timer.
pub fn client(transport: impl HttpTransport, timer: &FakeTimer) -> Client {
    let config = config();
    Client::builder()
        .api_key(KEY)
        .base_url(config.base_url())
        .upload_base_url(config.upload_base_url())
        .transport(transport)
        .timer(timer.clone())
        .build()
        .expect("valid test client")
}

/// True when a sleep of the client is asked for once per wait: the engine waits for an answer and the sleep together: answers that are ready come before the sleep starts.
pub const EXACT_SLEEPS: bool = true;

#[async_trait]
impl Timer for FakeTimer {
    fn now(&self) -> Instant {
        FakeTimer::now(self)
    }

    async fn sleep(&self, duration: Duration) {
        self.started(duration);
        // Time passes only for a sleep that completes (a dropped one does not advance it).
        tokio::task::yield_now().await;
        if self.is_blocking() {
            pending::<()>().await;
        }
        self.completed(duration);
    }
}

/// A transport that never answers (a request stuck in flight).
pub struct Hang;

#[async_trait]
impl HttpTransport for Hang {
    async fn send(&self, _request: HttpRequest, _limits: SendLimits) -> Result<HttpResponse> {
        pending().await
    }
}

/// A fake server of many tasks, for `await_many`: a task answers `running` on its first
/// poll and succeeds on its second (with `{"id": <task id>}` as data), except tasks named
/// `fail-*` (failed), `now-*` (success at once) and `hang-*` (running forever). It records
/// how many polls were in flight at once.
#[derive(Default)]
pub struct Fleet {
    in_flight: std::sync::atomic::AtomicUsize,
    pub max_in_flight: std::sync::atomic::AtomicUsize,
    pub polls: std::sync::atomic::AtomicUsize,
    seen: Mutex<std::collections::HashMap<String, u32>>,
}

#[async_trait]
impl HttpTransport for Fleet {
    async fn send(&self, request: HttpRequest, _limits: SendLimits) -> Result<HttpResponse> {
        use std::sync::atomic::Ordering::SeqCst;
        let now = self.in_flight.fetch_add(1, SeqCst) + 1;
        self.max_in_flight.fetch_max(now, SeqCst);
        self.polls.fetch_add(1, SeqCst);
        for _ in 0..3 {
            tokio::task::yield_now().await;
        }
        self.in_flight.fetch_sub(1, SeqCst);
        let answer = fleet_answer(&self.seen, &request);
        Ok(answer)
    }
}

/// A client with default headers of its own, on `transport`.
pub fn client_with(
    builder: impl FnOnce(cloud_task_async::ClientBuilder) -> cloud_task_async::ClientBuilder,
    transport: impl HttpTransport,
) -> Client {
    builder(Client::builder())
        .transport(transport)
        .timer(FakeTimer::new())
        .build()
        .expect("valid test client")
}
