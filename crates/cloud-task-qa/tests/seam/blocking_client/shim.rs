//! The blocking client under the seam suite: its mocked transport, its fake timer, and how
//! a call is made.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use cloud_task_blocking::core::{CancelToken, HttpRequest, HttpResponse};
use cloud_task_blocking::{Client, Error, HttpTransport, Result, SendLimits, Timer};

use crate::common::{KEY, config};

mockall::mock! {
    pub Transport {}
    impl HttpTransport for Transport {
        fn send(&self, request: HttpRequest, _limits: SendLimits) -> Result<HttpResponse>;
    }
}

/// True when a sleep of the client is asked for once per wait: parts are answered on sender threads: one that lands during a sleep ends it early, and the sleep starts again.
pub const EXACT_SLEEPS: bool = false;

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

impl Timer for FakeTimer {
    fn now(&self) -> Instant {
        self.start + self.state.lock().unwrap().0
    }

    fn sleep(&self, duration: Duration, cancel: Option<&CancelToken>) -> Result<()> {
        if cancel.is_some_and(CancelToken::is_cancelled) {
            return Err(Error::cancelled());
        }
        let mut state = self.state.lock().unwrap();
        state.1.push(duration);
        state.0 += duration;
        Ok(())
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

/// A client with settings of its own, on `transport`.
pub fn client_with(
    builder: impl FnOnce(cloud_task_blocking::ClientBuilder) -> cloud_task_blocking::ClientBuilder,
    transport: impl HttpTransport,
) -> Client {
    builder(Client::builder())
        .transport(transport)
        .timer(FakeTimer::new())
        .build()
        .expect("valid test client")
}
