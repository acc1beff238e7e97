//! The async client under the seam suite: its mocked transport, its fake timer, and how a
//! call is awaited.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use cloud_task_async::core::{HttpRequest, HttpResponse};
use cloud_task_async::{Client, HttpTransport, Result, SendLimits, Timer};

use crate::common::{KEY, config};

mockall::mock! {
    pub Transport {}
    #[async_trait]
    impl HttpTransport for Transport {
        async fn send(&self, request: HttpRequest, _limits: SendLimits) -> Result<HttpResponse>;
    }
}

/// True when a sleep of the client is asked for once per wait: the engine waits for an answer and the sleep together: answers that are ready come before the sleep starts.
pub const EXACT_SLEEPS: bool = true;

/// A clock that only moves when a sleep of the client completes, recording every sleep.
#[derive(Clone)]
pub struct FakeTimer {
    start: Instant,
    state: Arc<Mutex<(Duration, Vec<Duration>)>>,
}

impl FakeTimer {
    pub fn new() -> Self {
        FakeTimer {
            start: Instant::now(),
            state: Arc::default(),
        }
    }

    pub fn sleeps(&self) -> Vec<Duration> {
        self.state.lock().unwrap().1.clone()
    }

    pub fn elapsed(&self) -> Duration {
        self.state.lock().unwrap().0
    }
}

#[async_trait]
impl Timer for FakeTimer {
    fn now(&self) -> Instant {
        self.start + self.state.lock().unwrap().0
    }

    async fn sleep(&self, duration: Duration) {
        self.state.lock().unwrap().1.push(duration);
        tokio::task::yield_now().await;
        self.state.lock().unwrap().0 += duration;
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
