//! The engine against a scripted machine (the core's `machine::testing::Scripted`): what
//! every machine relies on, tested once for this driver. Sleeps go to a fake timer; only
//! the deadline of a request that never answers is waited for (100 ms), as the engine
//! waits for it in real time.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Condvar, Mutex};
use std::thread::ThreadId;
use std::time::{Duration, Instant};

use cloud_task_core::machine::testing::{
    FakeClock, Fed, Scene, Scripted, WorkLog, engine_config, three_requests,
};
use cloud_task_core::{CancelToken, Config, Error, HttpRequest, HttpResponse, Result, SendLimits};

use super::{Engine, Local, Next};
use crate::{Client, HttpTransport, Timer};

const HOUR: Duration = Duration::from_secs(3600);
/// The most any test waits for something that should come at once.
const PATIENCE: Duration = Duration::from_secs(10);

/// Answers by path: `/ok` at once (200), `/never` not before the gate opens (or
/// [`PATIENCE`] passed), `/gated` once the gate opens (202). Counts what it was asked to
/// send, and the threads it sent on.
#[derive(Default)]
struct Paths {
    sent: AtomicUsize,
    bounds_itself: AtomicBool,
    open: Mutex<bool>,
    gate: Condvar,
    threads: Mutex<Vec<ThreadId>>,
}

impl Paths {
    fn open_gate(&self) {
        *self.open.lock().unwrap() = true;
        self.gate.notify_all();
    }

    fn wait_gate(&self) -> bool {
        let open = self.open.lock().unwrap();
        let (open, _) = self
            .gate
            .wait_timeout_while(open, PATIENCE, |open| !*open)
            .unwrap();
        *open
    }
}

impl HttpTransport for Arc<Paths> {
    fn send(&self, request: HttpRequest, _limits: SendLimits) -> Result<HttpResponse> {
        self.sent.fetch_add(1, Ordering::SeqCst);
        self.threads
            .lock()
            .unwrap()
            .push(std::thread::current().id());
        match request.uri().path() {
            "/never" => {
                self.wait_gate();
                Err(Error::misuse("test", "answered after its deadline"))
            }
            "/gated" => {
                self.wait_gate();
                Ok(cloud_task_core::http::Response::builder()
                    .status(202)
                    .body(Vec::new())
                    .unwrap())
            }
            _ => Ok(HttpResponse::new(Vec::new())),
        }
    }

    fn bounds_itself(&self) -> bool {
        self.bounds_itself.load(Ordering::SeqCst)
    }
}

/// Records every sleep; a sleep of an hour or more lasts until its token fires (for waits
/// to cancel), any other ends at once and moves the clock on.
#[derive(Clone)]
struct FakeTimer(FakeClock);

impl FakeTimer {
    fn new() -> Self {
        FakeTimer(FakeClock::starting_at(Instant::now()))
    }

    fn sleeps(&self) -> Vec<Duration> {
        self.0.sleeps()
    }
}

impl Timer for FakeTimer {
    fn now(&self) -> Instant {
        self.0.now()
    }

    fn sleep(&self, duration: Duration, cancel: Option<&CancelToken>) -> Result<()> {
        self.0.asked(duration);
        if duration >= HOUR {
            let (woken, wake) = mpsc::channel();
            let _guard = cancel.map(|token| {
                token.on_cancel(move || {
                    let _ = woken.send(());
                })
            });
            return match wake.recv_timeout(PATIENCE) {
                Ok(()) => Err(Error::cancelled()),
                Err(_) => panic!("a sleep of an hour was never woken"),
            };
        }
        self.0.advance(duration);
        Ok(())
    }
}

/// A client of the engine's test configuration on `transport` and `timer`.
fn client(transport: &Arc<Paths>, timer: &FakeTimer) -> Client {
    let config = engine_config(Duration::from_millis(100));
    let builder = Client::builder().config(config);
    builder
        .transport(Arc::clone(transport))
        .timer(timer.clone())
        .build()
        .unwrap()
}

fn config() -> Config {
    config_for(Duration::from_millis(100))
}

/// A configuration whose requests have `timeout` to answer.
fn config_for(timeout: Duration) -> Config {
    engine_config(timeout).build().unwrap()
}

fn fed(log: &Arc<Mutex<Vec<Fed>>>) -> Vec<Fed> {
    log.lock().unwrap().clone()
}

/// Local work that records what it did, answering the work's own number.
#[derive(Default)]
struct Recorder(WorkLog);

impl Local<u32, u32> for Recorder {
    fn run(&mut self, work: u32) -> u32 {
        self.0.record(work)
    }
}

fn run_all<L: Local<u32, u32>>(mut engine: Engine<Scripted, L>) -> (Vec<u32>, &'static str) {
    let mut events = Vec::new();
    loop {
        match engine.next() {
            Next::Event(event) => events.push(event),
            Next::Done(output) => return (events, output),
        }
    }
}

#[test]
fn it_sleeps_as_asked_and_hands_out_events_in_order() {
    let (transport, timer) = (Arc::new(Paths::default()), FakeTimer::new());
    let script = [
        Scene::Sleep(Duration::from_secs(5)),
        Scene::Emit(7),
        Scene::Sleep(Duration::from_secs(2)),
        Scene::Emit(8),
        Scene::Done("over"),
    ];
    let machine = Scripted::new(&config(), script);
    let engine = Engine::with_local(&client(&transport, &timer), machine, Recorder::default());
    assert_eq!(run_all(engine), (vec![7, 8], "over"));
    assert_eq!(
        timer.sleeps(),
        [Duration::from_secs(5), Duration::from_secs(2)]
    );
    assert_eq!(transport.sent.load(Ordering::SeqCst), 0);
}

#[test]
fn every_request_handed_out_is_sent_and_each_answer_fed_back() {
    let (transport, timer) = (Arc::new(Paths::default()), FakeTimer::new());
    let machine = Scripted::new(&config(), three_requests());
    let log = machine.fed();
    let engine = Engine::with_local(&client(&transport, &timer), machine, Recorder::default());
    assert_eq!(run_all(engine).1, "end");
    let mut answers = fed(&log);
    answers.sort_by_key(|f| format!("{f:?}"));
    assert_eq!(
        answers,
        [
            Fed::Answer("/a", 200),
            Fed::Answer("/b", 200),
            Fed::Answer("/c", 200)
        ]
    );
    // Waiting for an answer is not a sleep on the clock.
    assert!(timer.sleeps().is_empty(), "{:?}", timer.sleeps());
}

#[test]
fn a_lone_request_goes_on_the_callers_thread_only_when_nothing_can_interrupt_it() {
    let (transport, timer) = (Arc::new(Paths::default()), FakeTimer::new());
    let here = std::thread::current().id();
    let script = || [Scene::Send("/ok"), Scene::AwaitAnswer(HOUR)];

    // A transport that bounds itself, no token: on this thread.
    transport.bounds_itself.store(true, Ordering::SeqCst);
    let engine = Engine::with_local(
        &client(&transport, &timer),
        Scripted::new(&config(), script()),
        Recorder::default(),
    );
    assert_eq!(run_all(engine).1, "end");
    // With a token (its wait must be interruptible): on a sender thread.
    let machine = Scripted::new(&config(), script()).cancel_token(CancelToken::new());
    assert_eq!(
        run_all(Engine::with_local(
            &client(&transport, &timer),
            machine,
            Recorder::default()
        ))
        .1,
        "end"
    );
    // A transport that does not bound itself (the engine cuts it at its deadline): too.
    transport.bounds_itself.store(false, Ordering::SeqCst);
    let machine = Scripted::new(&config(), script());
    assert_eq!(
        run_all(Engine::with_local(
            &client(&transport, &timer),
            machine,
            Recorder::default()
        ))
        .1,
        "end"
    );

    let threads = transport.threads.lock().unwrap().clone();
    assert_eq!(threads.len(), 3);
    assert_eq!(threads[0], here);
    assert_ne!(threads[1], here);
    assert_ne!(threads[2], here);
}

#[test]
fn the_deadline_cuts_a_send_that_never_answers() {
    let (transport, timer) = (Arc::new(Paths::default()), FakeTimer::new());
    for script in [
        // Alone, then among others.
        vec![Scene::Send("/never"), Scene::AwaitAnswer(HOUR)],
        vec![
            Scene::Send("/never"),
            Scene::Send("/ok"),
            Scene::AwaitAnswer(HOUR),
            Scene::AwaitAnswer(HOUR),
        ],
    ] {
        let machine = Scripted::new(&config(), script);
        let log = machine.fed();
        let started = Instant::now();
        let engine = Engine::with_local(&client(&transport, &timer), machine, Recorder::default());
        assert_eq!(run_all(engine).1, "end");
        assert!(
            started.elapsed() < PATIENCE,
            "cut at its deadline, not answered"
        );
        let failed: Vec<_> = fed(&log)
            .into_iter()
            .filter(|f| matches!(f, Fed::Failed("/never", e) if e.contains("timed out")))
            .collect();
        assert_eq!(failed.len(), 1, "{:?}", fed(&log));
    }
    transport.open_gate();
}

#[test]
fn a_cancel_ends_a_sleep_at_once_and_is_fed_once() {
    let (transport, timer) = (Arc::new(Paths::default()), FakeTimer::new());
    let token = CancelToken::new();
    // The machine would sleep an hour, then again: the token ends the first sleep.
    let machine = Scripted::new(&config(), [Scene::Sleep(HOUR), Scene::Sleep(HOUR)])
        .cancel_token(token.clone());
    let log = machine.fed();
    let engine = Engine::with_local(&client(&transport, &timer), machine, Recorder::default());
    let run = std::thread::spawn(move || run_all(engine));
    while timer.sleeps().is_empty() {
        std::thread::yield_now();
    }
    token.cancel();
    assert_eq!(run.join().unwrap().1, "cancelled");
    assert_eq!(fed(&log), [Fed::Cancel]);
}

#[test]
fn an_answer_after_a_cancel_is_dropped() {
    let timer = FakeTimer::new();
    for script in [
        // A lone request, then one among others.
        vec![Scene::Send("/gated"), Scene::AwaitAnswer(HOUR)],
        vec![
            Scene::Send("/gated"),
            Scene::Send("/ok"),
            Scene::AwaitAnswer(HOUR),
            Scene::AwaitAnswer(HOUR),
        ],
    ] {
        let transport = Arc::new(Paths::default());
        let token = CancelToken::new();
        // Time enough for the cancel to come first, however busy the machine.
        let machine = Scripted::new(&config_for(PATIENCE), script).cancel_token(token.clone());
        let log = machine.fed();
        let engine = Engine::with_local(&client(&transport, &timer), machine, Recorder::default());
        let run = std::thread::spawn(move || run_all(engine));
        while !transport.threads.lock().unwrap().iter().any(|_| true) {
            std::thread::yield_now();
        }
        token.cancel();
        assert_eq!(run.join().unwrap().1, "cancelled");
        transport.open_gate();
        let gated: Vec<_> = fed(&log)
            .into_iter()
            .filter(|f| matches!(f, Fed::Answer("/gated", _)))
            .collect();
        assert!(
            gated.is_empty(),
            "the answer came after the cancel: {:?}",
            fed(&log)
        );
        assert!(fed(&log).contains(&Fed::Cancel));
    }
}

#[test]
fn a_token_fired_before_the_start_sends_nothing() {
    let (transport, timer) = (Arc::new(Paths::default()), FakeTimer::new());
    let token = CancelToken::new();
    token.cancel();
    let machine = Scripted::new(&config(), [Scene::Send("/ok"), Scene::AwaitAnswer(HOUR)])
        .cancel_token(token);
    let log = machine.fed();
    let engine = Engine::with_local(&client(&transport, &timer), machine, Recorder::default());
    assert_eq!(run_all(engine).1, "cancelled");
    assert_eq!(fed(&log), [Fed::Cancel]);
    assert_eq!(transport.sent.load(Ordering::SeqCst), 0);
}

#[test]
fn local_work_is_done_in_order_before_the_next_step() {
    let (transport, timer) = (Arc::new(Paths::default()), FakeTimer::new());
    let machine = Scripted::new(&config(), [Scene::Work(1), Scene::Work(2), Scene::Emit(3)]);
    let log = machine.fed();
    let mut engine = Engine::with_local(&client(&transport, &timer), machine, Recorder::default());
    assert!(matches!(engine.next(), Next::Event(3)));
    // Both works were done and fed back before the event was handed out.
    assert_eq!(fed(&log), [Fed::Work(1), Fed::Work(2)]);
    assert_eq!(engine.local.0.0, [1, 2]);
}

#[test]
fn requests_handed_out_before_the_end_are_never_sent() {
    let (transport, timer) = (Arc::new(Paths::default()), FakeTimer::new());
    let machine = Scripted::new(&config(), [Scene::Send("/ok"), Scene::Done("early")]);
    let engine = Engine::with_local(&client(&transport, &timer), machine, Recorder::default());
    assert_eq!(run_all(engine).1, "early");
    assert_eq!(transport.sent.load(Ordering::SeqCst), 0);
}
