//! The blocking client under the seam suite: its mocked transport, its fake timer, its fake
//! services, and how it is cancelled from elsewhere.

use cloud_task_blocking::SendLimits;
use std::collections::HashMap;
use std::sync::atomic::AtomicUsize;
use std::sync::atomic::Ordering::SeqCst;
use std::sync::{Condvar, Mutex};
use std::time::{Duration, Instant};

use cloud_task_blocking::core::{HttpRequest, HttpResponse};
use cloud_task_blocking::{CancelToken, Client, Error, HttpTransport, Result, Timer};

pub use crate::common::{DEADLOCK, FakeTimer, KEY, config, fleet_answer, response};

mockall::mock! {
    pub Transport {}
    impl HttpTransport for Transport {
        fn send(&self, request: HttpRequest, limits: SendLimits) -> Result<HttpResponse>;
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

/// True when a sleep of the client is asked for once per wait: parts are answered on sender threads: one that lands during a sleep ends it early, and the sleep starts again.
pub const EXACT_SLEEPS: bool = false;

impl Timer for FakeTimer {
    fn now(&self) -> Instant {
        FakeTimer::now(self)
    }

    fn sleep(&self, duration: Duration, cancel: Option<&CancelToken>) -> Result<()> {
        self.started(duration);
        if self.is_blocking() {
            let token = cancel.expect("a blocking sleep needs a token to end it");
            let (fired, wait) = std::sync::mpsc::channel();
            let _guard = token.on_cancel(move || {
                let _ = fired.send(());
            });
            wait.recv_timeout(DEADLOCK).expect("the token fires");
            return Err(Error::cancelled());
        }
        if cancel.is_some_and(CancelToken::is_cancelled) {
            return Err(Error::cancelled());
        }
        // Time passes only for a sleep that completes.
        self.completed(duration);
        Ok(())
    }
}

/// Runs `f` on another thread, cancels `token` (from this thread) once `timer` has started
/// a sleep, and answers what `f` returned.
pub fn cancel_during_first_sleep<T: Send>(
    timer: &FakeTimer,
    token: &CancelToken,
    f: impl FnOnce() -> T + Send,
) -> T {
    std::thread::scope(|scope| {
        let running = scope.spawn(f);
        timer.wait_for_sleeps(1);
        token.cancel();
        running.join().expect("the cancelled call returns")
    })
}

/// Counts requests in flight; with a gate, holds each request until `gate` of them are in
/// flight at once (proving that many run in parallel), then lets everything through.
#[derive(Default)]
pub struct InFlight {
    state: Mutex<(usize, bool)>,
    condvar: Condvar,
    gate: usize,
    pub max: AtomicUsize,
}

impl InFlight {
    pub fn gated(gate: usize) -> Self {
        InFlight {
            gate,
            ..InFlight::default()
        }
    }

    /// Call at the start of a request.
    pub fn enter(&self) {
        let mut state = self.state.lock().unwrap();
        state.0 += 1;
        self.max.fetch_max(state.0, SeqCst);
        if state.0 >= self.gate {
            state.1 = true;
            self.condvar.notify_all();
        }
        let (state, timeout) = self
            .condvar
            .wait_timeout_while(state, DEADLOCK, |s| !s.1)
            .unwrap();
        assert!(!timeout.timed_out(), "only {} in flight", state.0);
    }

    /// Call at the end of a request.
    pub fn leave(&self) {
        self.state.lock().unwrap().0 -= 1;
    }
}

/// A fake server of many tasks, for `await_many`: a task answers `running` on its first
/// poll and succeeds on its second (with `{"id": <task id>}` as data), except tasks named
/// `fail-*` (failed), `now-*` (success at once) and `hang-*` (running forever). It records
/// how many polls were in flight at once.
pub struct Fleet {
    pub in_flight: InFlight,
    pub polls: AtomicUsize,
    seen: Mutex<HashMap<String, u32>>,
}

impl Fleet {
    /// A fleet that holds the first polls until `gate` are in flight at once.
    pub fn gated(gate: usize) -> Self {
        Fleet {
            in_flight: InFlight::gated(gate),
            polls: AtomicUsize::new(0),
            seen: Mutex::default(),
        }
    }
}

impl HttpTransport for Fleet {
    fn send(&self, request: HttpRequest, _limits: SendLimits) -> Result<HttpResponse> {
        self.in_flight.enter();
        self.polls.fetch_add(1, SeqCst);
        let answer = fleet_answer(&self.seen, &request);
        self.in_flight.leave();
        Ok(answer)
    }
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
