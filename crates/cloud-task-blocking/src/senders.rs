//! The client's sender threads: where a request goes when the caller must be able to stop
//! waiting for it (at its deadline, or when a cancel token fires), and where the requests
//! of `await_many` and uploads run side by side.
//!
//! A blocking call cannot be interrupted; a thread waiting on a channel can. So a request
//! that may have to be abandoned runs on one of these threads, and its caller waits on a
//! channel, for at most the request's deadline. A request still queued when its deadline
//! has passed, or whose caller has gone, is never sent (a creation given up must not reach
//! the server later). At most [`MAX_SENDERS`] threads run at once; idle ones end after
//! [`IDLE`], and all idle ones end with the client.

use std::collections::VecDeque;
use std::panic::{self, AssertUnwindSafe};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError, Weak};
use std::time::{Duration, Instant};

use cloud_task_core::{Error, HttpRequest, HttpResponse, Result, SendLimits, TransportErrorKind};

use crate::transport::HttpTransport;

/// The most sender threads of one client.
pub(crate) const MAX_SENDERS: usize = 64;
/// How long an idle sender thread waits for work before it ends.
pub(crate) const IDLE: Duration = Duration::from_secs(10);

/// One request for a sender thread.
pub(crate) struct Job {
    pub(crate) transport: Arc<dyn HttpTransport>,
    pub(crate) request: HttpRequest,
    pub(crate) limits: SendLimits,
    /// When the caller stops waiting (real time): a job still queued then is dropped.
    pub(crate) deadline: Instant,
    /// The caller's liveness: gone, the job is dropped unsent.
    pub(crate) caller: Weak<()>,
    pub(crate) span: tracing::Span,
    /// Where the answer goes.
    pub(crate) reply: Box<dyn FnOnce(Result<HttpResponse>) + Send>,
}

#[derive(Default)]
struct State {
    queue: VecDeque<Job>,
    live: usize,
    idle: usize,
    closed: bool,
}

#[derive(Default)]
struct Shared {
    state: Mutex<State>,
    work: Condvar,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The sender threads of one client (shared by its clones).
#[derive(Default)]
pub(crate) struct Senders {
    shared: Arc<Shared>,
}

impl Senders {
    /// Queues `job`, starting a thread for it when more jobs wait than threads are idle
    /// (an idle thread already woken for an earlier job counts as idle until it wakes) and
    /// fewer than [`MAX_SENDERS`] run.
    pub(crate) fn submit(&self, job: Job) {
        let mut state = self.shared.lock();
        state.queue.push_back(job);
        if state.queue.len() > state.idle && state.live < MAX_SENDERS {
            let shared = Arc::clone(&self.shared);
            let started = std::thread::Builder::new()
                .name("cloud-task-sender".to_owned())
                .spawn(move || run(&shared));
            if started.is_ok() {
                state.live += 1;
            }
        }
        drop(state);
        self.shared.work.notify_one();
    }
}

impl Drop for Senders {
    fn drop(&mut self) {
        self.shared.lock().closed = true;
        self.shared.work.notify_all();
    }
}

/// A sender thread: runs jobs until it is idle for [`IDLE`] or the client is gone.
fn run(shared: &Shared) {
    loop {
        let mut state = shared.lock();
        let job = loop {
            if let Some(job) = state.queue.pop_front() {
                break job;
            }
            if state.closed {
                state.live -= 1;
                return;
            }
            state.idle += 1;
            let (next, wait) = shared
                .work
                .wait_timeout(state, IDLE)
                .unwrap_or_else(PoisonError::into_inner);
            state = next;
            state.idle -= 1;
            if wait.timed_out() && state.queue.is_empty() {
                state.live -= 1;
                return;
            }
        };
        drop(state);
        execute(job);
    }
}

/// Sends one job (unless its caller is gone or its deadline has passed) and hands the
/// answer over. The transport is dropped before the answer goes, so that the caller's
/// client holds the last reference to it once it has its answer.
fn execute(job: Job) {
    let Job {
        transport,
        request,
        limits,
        deadline,
        caller,
        span,
        reply,
    } = job;
    if caller.upgrade().is_none() {
        return;
    }
    let now = Instant::now();
    if now >= deadline {
        drop(transport);
        reply(Err(limits.elapsed()));
        return;
    }
    let limits = SendLimits::new(deadline - now, limits.max_response_body);
    let outcome = {
        let _entered = span.enter();
        let sent = panic::catch_unwind(AssertUnwindSafe(|| transport.send(request, limits)));
        drop(transport);
        sent.unwrap_or_else(|_| {
            Err(Error::transport(
                TransportErrorKind::Other,
                "the HTTP transport panicked",
            ))
        })
    };
    reply(outcome);
}
