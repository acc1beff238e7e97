//! The engine against a scripted machine (the core's `machine::testing::Scripted`): what
//! every machine relies on, tested once for this driver. Time is tokio's paused clock or a
//! fake timer: nothing sleeps for real.

use std::future::pending;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use cloud_task_core::machine::testing::{
    FakeClock, Fed, Scene, Scripted, WorkLog, engine_config, three_requests,
};
use cloud_task_core::{CancelToken, Config, HttpRequest, HttpResponse, Result, SendLimits};
use tokio::sync::Notify;

use super::{Engine, Local, Next};
use crate::{Client, HttpTransport, Timer};

const HOUR: Duration = Duration::from_secs(3600);

/// Answers by path: `/ok` at once (200), `/never` never, `/gated` once the gate opens
/// (202). Counts what it was asked to send.
#[derive(Default)]
struct Paths {
    sent: AtomicUsize,
    gate: Notify,
}

#[async_trait]
impl HttpTransport for Arc<Paths> {
    async fn send(&self, request: HttpRequest, _limits: SendLimits) -> Result<HttpResponse> {
        self.sent.fetch_add(1, Ordering::SeqCst);
        match request.uri().path() {
            "/never" => pending().await,
            "/gated" => {
                self.gate.notified().await;
                Ok(cloud_task_core::http::Response::builder()
                    .status(202)
                    .body(Vec::new())
                    .unwrap())
            }
            _ => Ok(HttpResponse::new(Vec::new())),
        }
    }
}

/// Records every sleep; a sleep of an hour or more never ends (for waits to cancel), any
/// other ends at once and moves the clock on.
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

#[async_trait]
impl Timer for FakeTimer {
    fn now(&self) -> Instant {
        self.0.now()
    }

    async fn sleep(&self, duration: Duration) {
        self.0.asked(duration);
        if duration >= HOUR {
            pending::<()>().await;
        }
        self.0.advance(duration);
    }
}

/// Local work that records what it did, answering the work's own number.
#[derive(Default)]
struct Recorder(WorkLog);

impl Local<u32, u32> for Recorder {
    async fn run(&mut self, work: u32) -> u32 {
        self.0.record(work)
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
    engine_config(Duration::from_millis(100)).build().unwrap()
}

fn fed(log: &Arc<Mutex<Vec<Fed>>>) -> Vec<Fed> {
    log.lock().unwrap().clone()
}

/// Runs `engine` to its end: its events, then its output.
/// (Bounded: an engine that never ends fails the test instead of hanging it.)
async fn run_all<L: Local<u32, u32>>(mut engine: Engine<Scripted, L>) -> (Vec<u32>, &'static str) {
    let run = async move {
        let mut events = Vec::new();
        loop {
            match engine.next().await {
                Next::Event(event) => events.push(event),
                Next::Done(output) => return (events, output),
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(10), run)
        .await
        .expect("the engine ends")
}

#[tokio::test]
async fn it_sleeps_as_asked_and_hands_out_events_in_order() {
    let (transport, timer) = (Arc::new(Paths::default()), FakeTimer::new());
    let script = [
        Scene::Sleep(Duration::from_secs(5)),
        Scene::Emit(7),
        Scene::Sleep(Duration::from_secs(2)),
        Scene::Emit(8),
        Scene::Done("over"),
    ];
    let engine = Engine::with_local(
        &client(&transport, &timer),
        Scripted::new(&config(), script),
        Recorder::default(),
    );
    let (events, output) = run_all(engine).await;
    assert_eq!((events, output), (vec![7, 8], "over"));
    assert_eq!(
        timer.sleeps(),
        [Duration::from_secs(5), Duration::from_secs(2)]
    );
    assert_eq!(transport.sent.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn every_request_handed_out_is_sent_and_each_answer_fed_back() {
    let (transport, timer) = (Arc::new(Paths::default()), FakeTimer::new());
    let machine = Scripted::new(&config(), three_requests());
    let log = machine.fed();
    let engine = Engine::with_local(&client(&transport, &timer), machine, Recorder::default());
    assert_eq!(run_all(engine).await.1, "end");
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

#[tokio::test(start_paused = true)]
async fn the_deadline_cuts_a_send_that_never_answers() {
    let transport = Arc::new(Paths::default());
    // Tokio's paused clock: the 100 ms deadline passes without waiting for it.
    let client = Client::builder()
        .base_url("http://engine.test")
        .timeout(Duration::from_millis(100))
        .transport(Arc::clone(&transport))
        .build()
        .unwrap();
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
        assert_eq!(
            run_all(Engine::with_local(&client, machine, Recorder::default()))
                .await
                .1,
            "end"
        );
        let failed: Vec<_> = fed(&log)
            .into_iter()
            .filter(|f| matches!(f, Fed::Failed("/never", e) if e.contains("timed out")))
            .collect();
        assert_eq!(failed.len(), 1, "{:?}", fed(&log));
    }
}

#[tokio::test]
async fn a_cancel_ends_a_sleep_at_once_and_is_fed_once() {
    let (transport, timer) = (Arc::new(Paths::default()), FakeTimer::new());
    let token = CancelToken::new();
    // The machine would sleep an hour, then again: the token ends the first sleep.
    let machine = Scripted::new(&config(), [Scene::Sleep(HOUR), Scene::Sleep(HOUR)])
        .cancel_token(token.clone());
    let log = machine.fed();
    let engine = Engine::with_local(&client(&transport, &timer), machine, Recorder::default());
    let run = tokio::spawn(run_all(engine));
    tokio::task::yield_now().await;
    token.cancel();
    let (_, output) = run.await.unwrap();
    assert_eq!(output, "cancelled");
    assert_eq!(fed(&log), [Fed::Cancel]);
}

#[tokio::test]
async fn an_answer_after_a_cancel_is_dropped() {
    let (transport, timer) = (Arc::new(Paths::default()), FakeTimer::new());
    for script in [
        // A lone request, then one among others.
        vec![Scene::Send("/gated"), Scene::AwaitAnswer(HOUR)],
        vec![
            Scene::Send("/gated"),
            Scene::Send("/never"),
            Scene::AwaitAnswer(HOUR),
        ],
    ] {
        let token = CancelToken::new();
        let machine = Scripted::new(&config(), script).cancel_token(token.clone());
        let log = machine.fed();
        let engine = Engine::with_local(&client(&transport, &timer), machine, Recorder::default());
        let run = tokio::spawn(run_all(engine));
        while transport.sent.load(Ordering::SeqCst) == 0 {
            tokio::task::yield_now().await;
        }
        token.cancel();
        assert_eq!(run.await.unwrap().1, "cancelled");
        transport.gate.notify_waiters();
        tokio::task::yield_now().await;
        assert_eq!(fed(&log), [Fed::Cancel], "the answer came after the cancel");
        transport.sent.store(0, Ordering::SeqCst);
    }
}

#[tokio::test]
async fn a_token_fired_before_the_start_sends_nothing() {
    let (transport, timer) = (Arc::new(Paths::default()), FakeTimer::new());
    let token = CancelToken::new();
    token.cancel();
    let machine = Scripted::new(&config(), [Scene::Send("/ok"), Scene::AwaitAnswer(HOUR)])
        .cancel_token(token);
    let log = machine.fed();
    let engine = Engine::with_local(&client(&transport, &timer), machine, Recorder::default());
    assert_eq!(run_all(engine).await.1, "cancelled");
    assert_eq!(fed(&log), [Fed::Cancel]);
    assert_eq!(transport.sent.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn local_work_is_done_in_order_before_the_next_step() {
    let (transport, timer) = (Arc::new(Paths::default()), FakeTimer::new());
    let machine = Scripted::new(&config(), [Scene::Work(1), Scene::Work(2), Scene::Emit(3)]);
    let log = machine.fed();
    let mut engine = Engine::with_local(&client(&transport, &timer), machine, Recorder::default());
    assert!(matches!(engine.next().await, Next::Event(3)));
    // Both works were done and fed back before the event was handed out.
    assert_eq!(fed(&log), [Fed::Work(1), Fed::Work(2)]);
    assert_eq!(engine.local.0.0, [1, 2]);
}

#[tokio::test]
async fn requests_handed_out_before_the_end_are_never_sent() {
    let (transport, timer) = (Arc::new(Paths::default()), FakeTimer::new());
    let machine = Scripted::new(&config(), [Scene::Send("/ok"), Scene::Done("early")]);
    let engine = Engine::with_local(&client(&transport, &timer), machine, Recorder::default());
    assert_eq!(run_all(engine).await.1, "early");
    tokio::task::yield_now().await;
    assert_eq!(transport.sent.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn answers_that_come_during_local_work_are_fed() {
    let (transport, timer) = (Arc::new(Paths::default()), FakeTimer::new());
    struct Slow(Arc<Notify>);
    impl Local<u32, u32> for Slow {
        async fn run(&mut self, work: u32) -> u32 {
            self.0.notified().await;
            work
        }
    }
    let release = Arc::new(Notify::new());
    let machine = Scripted::new(
        &config(),
        [Scene::Send("/ok"), Scene::Work(9), Scene::Emit(1)],
    );
    let log = machine.fed();
    let mut engine = Engine::with_local(
        &client(&transport, &timer),
        machine,
        Slow(Arc::clone(&release)),
    );
    let waker = tokio::spawn(async move {
        // Let the answer land while the work waits, then end the work.
        for _ in 0..50 {
            tokio::task::yield_now().await;
        }
        release.notify_one();
    });
    assert!(matches!(engine.next().await, Next::Event(1)));
    waker.await.unwrap();
    assert_eq!(fed(&log), [Fed::Answer("/ok", 200), Fed::Work(9)]);
}

/// Every future and stream of the client can go to another thread (`tokio::spawn`): each
/// is `Send`, whatever machine its engine drives and however its engine is held. Checked
/// when this compiles; the futures are made and dropped, never polled.
#[test]
fn every_future_and_stream_of_the_client_is_send() {
    use crate::{
        AwaitOptions, BatchOptions, CreateTaskRequest, DownloadOptions, ListTasksQuery,
        LoginOptions, UploadOptions,
    };
    use cloud_task_core::GetTaskResult;

    fn send<T: Send>(_: T) {}
    let client = Client::builder().api_key("k").build().unwrap();
    let request = || CreateTaskRequest::new("@oomol/echo", "1.0.0", "main");
    let op = GetTaskResult::new("t");
    send(client.execute(&op));
    send(client.get_task_result("t"));
    send(client.create_task(request()));
    send(client.await_result("t", AwaitOptions::new()));
    send(client.create_and_wait(request(), AwaitOptions::new()));
    send(client.await_many(["t"], AwaitOptions::new()));
    send(client.download("https://h.test/f", "f", DownloadOptions::new()));
    send(client.upload_bytes(b"x", "x.txt", UploadOptions::new()));
    send(client.login(LoginOptions::default(), |_| {}));
    send(client.submit(request()));
    send(client.list_all(ListTasksQuery::default()));
    send(client.events("t", AwaitOptions::new()));
    send(client.watch("t", AwaitOptions::new()));
    send(client.run_many([request()], BatchOptions::new()));
}
