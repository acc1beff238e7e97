//! The blocking client against the real local emulator (started on a background thread on
//! a free port of 127.0.0.1, with time scaled down so each test takes milliseconds).

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use cloud_task_blocking::core::{TaskErrorCode, UploadErrorCode};
use cloud_task_blocking::{
    AwaitOptions, CancelToken, Client, CreateTaskRequest, Error, ListTasksQuery, TaskDetail,
    TaskResult, TaskStatus, TransportErrorKind, UploadOptions, UreqTransport, WatchEvent,
};
use cloud_task_emulator::{BlockingEmulator, Emulator, EmulatorBuilder, Fault, FaultRule, Route};
use serde_json::{Value, json};

mod common;
use common::pseudo_random;

/// Simulated durations 100x faster: a default task runs for about 10 ms.
const FAST: f64 = 0.01;

fn start(builder: EmulatorBuilder) -> (BlockingEmulator, Client) {
    let emulator = builder.start_blocking().expect("the emulator starts");
    let client = client_with_key(&emulator, &emulator.api_key());
    (emulator, client)
}

fn client_with_key(emulator: &BlockingEmulator, key: &str) -> Client {
    Client::builder()
        .api_key(key)
        .base_url(emulator.base_url())
        .upload_base_url(emulator.upload_base_url())
        .timeout(Duration::from_secs(10))
        .build()
        .expect("a valid client")
}

/// Short polling intervals, and a timeout so that no test can hang.
fn quick() -> AwaitOptions {
    AwaitOptions::new()
        .interval(Duration::from_millis(5))
        .max_interval(Duration::from_millis(20))
        .timeout(Duration::from_secs(30))
}

fn echo(inputs: Value) -> CreateTaskRequest {
    let Value::Object(map) = inputs else {
        panic!("inputs must be an object")
    };
    CreateTaskRequest::new("@oomol/echo", "1.0.0", "main").input_values(map)
}

fn slow(duration_ms: u64) -> CreateTaskRequest {
    CreateTaskRequest::new("@oomol/slow", "1.0.0", "main").input("durationMs", duration_ms)
}

/// Downloads `url` with a plain ureq agent.
fn download(url: &str) -> Vec<u8> {
    let mut response = ureq::get(url).call().expect("the download answers");
    assert!(response.status().is_success());
    response
        .body_mut()
        .with_config()
        .limit(u64::MAX)
        .read_to_vec()
        .expect("the download's body")
}

#[test]
fn every_operation_against_the_emulator() {
    let (_emulator, client) = start(Emulator::builder().time_scale(FAST));

    let created = client
        .create_task(echo(json!({"n": 1, "logLines": 3})))
        .unwrap();
    let detail = client.get_task(&created.task_id).unwrap();
    assert_eq!(detail.task_id(), created.task_id);
    let workload_id = match &detail {
        TaskDetail::User(user) => user.workload_id.clone(),
        other => panic!("expected a user task, got {other:?}"),
    };
    let alias = client.get_task_detail(&created.task_id).unwrap();
    assert_eq!(alias.task_id(), created.task_id);

    let success = client.await_result(&created.task_id, quick()).unwrap();
    assert_eq!(success.result_data, Some(json!([{"n": 1, "logLines": 3}])));
    match client.get_task_result(&created.task_id).unwrap() {
        TaskResult::Success(s) => assert_eq!(s.result_data, success.result_data),
        other => panic!("expected success, got {other:?}"),
    }
    #[derive(serde::Deserialize, Debug, PartialEq)]
    struct N {
        n: u32,
    }
    match client
        .get_task_result_as::<Vec<N>>(&created.task_id)
        .unwrap()
    {
        TaskResult::Success(s) => assert_eq!(s.result_data, Some(vec![N { n: 1 }])),
        other => panic!("expected success, got {other:?}"),
    }
    let typed = client
        .await_result_as::<Vec<N>>(&created.task_id, quick())
        .unwrap();
    assert_eq!(typed.result_data, Some(vec![N { n: 1 }]));

    let page = client.list_tasks(ListTasksQuery::new().size(10)).unwrap();
    assert!(page.tasks.iter().any(|t| t.task_id == created.task_id));

    let latest = client.get_latest_tasks(vec![workload_id.as_str()]).unwrap();
    assert_eq!(latest.len(), 1);
    assert_eq!(latest[0].task_id, created.task_id);
    assert_eq!(latest[0].status, TaskStatus::Success);

    let dashboard = client.get_dashboard().unwrap();
    assert!(!dashboard.pause.paused);
    assert_eq!(dashboard.limits.max_concurrency, 10);

    let logs = client.get_task_logs(&created.task_id, Some(1)).unwrap();
    assert!(!logs.logs.is_empty(), "{logs:?}");
    client.get_task_logs(&created.task_id, None).unwrap();

    // 4xx bodies reach the core through ureq: the server's message, not ureq's error.
    let error = client.get_task("no-such-task").unwrap_err();
    assert!(
        matches!(&error, Error::Api(e) if e.status.as_u16() == 404 && e.body.is_some()),
        "{error:?}"
    );
}

#[test]
fn create_and_wait_echo_fail_quota_and_timeout() {
    let (_emulator, client) = start(Emulator::builder().time_scale(FAST));

    let inputs = json!({"text": "hello", "nested": {"list": [1, 2, 3]}});
    let outcome = client
        .create_and_wait(echo(inputs.clone()), quick())
        .unwrap();
    assert!(!outcome.task_id.is_empty());
    assert_eq!(outcome.result.result_data, Some(json!([inputs])));

    #[derive(serde::Deserialize, Debug)]
    struct Echoed {
        text: String,
    }
    let typed = client
        .create_and_wait_as::<Vec<Echoed>>(echo(json!({"text": "typed"})), quick())
        .unwrap();
    assert_eq!(typed.result.result_data.unwrap()[0].text, "typed");

    let failed = client
        .create_and_wait(
            CreateTaskRequest::new("@oomol/fail", "1.0.0", "main").input("message", "bad input"),
            quick(),
        )
        .unwrap_err();
    match &failed {
        Error::TaskFailed(f) => {
            assert_eq!(f.message, "Task failed: bad input");
            assert_eq!(f.code, None);
        }
        other => panic!("expected a task failure, got {other:?}"),
    }

    let quota = client
        .create_and_wait(
            CreateTaskRequest::new("@oomol/quota", "1.0.0", "main"),
            quick(),
        )
        .unwrap_err();
    match &quota {
        Error::TaskFailed(f) => {
            assert_eq!(f.code, Some(TaskErrorCode::InsufficientQuota));
            assert_eq!(f.status_code.map(|s| s.as_u16()), Some(402));
        }
        other => panic!("expected a task failure, got {other:?}"),
    }
    assert!(quota.is_insufficient_quota());

    let timeout = client
        .create_and_wait(slow(1_000_000), quick().timeout(Duration::from_secs(1)))
        .unwrap_err();
    match &timeout {
        Error::Timeout(t) => assert_eq!(t.message, "Task polling timeout after 1 minutes"),
        other => panic!("expected a timeout, got {other:?}"),
    }
}

#[test]
fn progress_callbacks_are_called_while_the_task_runs() {
    let (_emulator, client) = start(Emulator::builder().time_scale(FAST));
    let seen = Arc::new(Mutex::new(Vec::new()));
    let record = seen.clone();
    let options = quick()
        .interval(Duration::from_millis(2))
        .max_interval(Duration::from_millis(2))
        .on_progress(move |p, s| record.lock().unwrap().push((p, s.clone())));
    client.create_and_wait(slow(10_000), options).unwrap();
    let seen = seen.lock().unwrap();
    assert!(seen.len() >= 3, "{seen:?}");
    assert!(
        seen.iter()
            .all(|(p, s)| (0.0..=100.0).contains(p) && s.is_in_progress())
    );
    assert!(
        seen.iter().any(|(_, s)| *s == TaskStatus::Running),
        "{seen:?}"
    );
}

#[test]
fn pause_then_resume() {
    let (_emulator, client) = start(Emulator::builder().time_scale(FAST));
    let paused = client.pause_user_queue().unwrap();
    assert!(paused.pause_type.is_some());
    assert!(client.get_dashboard().unwrap().pause.paused);

    let created = client.create_task(echo(json!({}))).unwrap();
    // Paused: the task waits well beyond its run time.
    let error = client
        .await_result(
            &created.task_id,
            quick().timeout(Duration::from_millis(200)),
        )
        .unwrap_err();
    assert!(matches!(error, Error::Timeout(_)), "{error:?}");
    let detail = client.get_task(&created.task_id).unwrap();
    assert_eq!(*detail.status(), TaskStatus::Queued);

    let resumed = client.resume_user_queue().unwrap();
    assert_eq!(resumed.pause_type, None);
    assert!(!client.get_dashboard().unwrap().pause.paused);
    client.set_tasks_pause(true).unwrap();
    assert!(client.get_dashboard().unwrap().pause.paused);
    client.set_tasks_pause(false).unwrap();
    client.await_result(&created.task_id, quick()).unwrap();
}

#[test]
fn list_all_walks_more_than_three_pages_with_a_filter() {
    let (emulator, client) = start(Emulator::builder().time_scale(FAST));
    let listed = CreateTaskRequest::new("@oomol/listed", "1.0.0", "main");
    let mut ids = Vec::new();
    for i in 0..11 {
        ids.push(
            client
                .create_task(listed.clone().input("i", i))
                .unwrap()
                .task_id,
        );
        // Other tasks that the filter must leave out.
        client.create_task(echo(json!({"other": i}))).unwrap();
    }
    let workload_id = match client.get_task(&ids[0]).unwrap() {
        TaskDetail::User(user) => user.workload_id,
        other => panic!("expected a user task, got {other:?}"),
    };
    emulator.reset_stats();
    let mut pages = client.list_all(
        ListTasksQuery::new()
            .size(3)
            .workload_id(workload_id.clone()),
    );
    let tasks = pages.by_ref().collect::<Result<Vec<_>, _>>().unwrap();
    assert_eq!(pages.pages(), 4);
    assert_eq!(tasks.len(), 11);
    assert!(tasks.iter().all(|t| t.workload_id == workload_id));
    let mut listed_ids: Vec<_> = tasks.into_iter().map(|t| t.task_id).collect();
    listed_ids.sort();
    ids.sort();
    assert_eq!(listed_ids, ids);
    assert_eq!(emulator.stats().count(Route::ListTasks), 4);
}

#[test]
fn await_many_of_a_hundred_tasks() {
    let (emulator, client) = start(Emulator::builder().time_scale(FAST).max_concurrency(100));
    let mut ids = Vec::new();
    for i in 0..100 {
        ids.push(client.create_task(echo(json!({"i": i}))).unwrap().task_id);
    }
    let results = client.await_many(ids.iter().map(String::as_str), quick());
    assert_eq!(results.len(), 100);
    for (i, result) in results.into_iter().enumerate() {
        assert_eq!(result.unwrap().result_data, Some(json!([{"i": i}])));
    }
    assert!(emulator.stats().count(Route::TaskResult) >= 100);
}

#[test]
fn watch_ends_on_success() {
    let (_emulator, client) = start(Emulator::builder().time_scale(FAST));
    let created = client.create_task(slow(5_000)).unwrap();
    let options = quick()
        .interval(Duration::from_millis(2))
        .max_interval(Duration::from_millis(2));
    let events = client
        .watch(&created.task_id, options)
        .collect::<Result<Vec<_>, _>>()
        .unwrap();
    assert!(events.len() >= 2, "{events:?}");
    let (last, changes) = events.split_last().unwrap();
    assert!(matches!(last, WatchEvent::Finished(s) if s.result_data.is_some()));
    for pair in changes.windows(2) {
        assert_ne!(pair[0], pair[1], "a repeated event");
    }
    assert!(
        changes
            .iter()
            .all(|e| matches!(e, WatchEvent::Progress { .. }))
    );
}

#[test]
fn a_multi_part_upload_round_trips_without_credentials_on_parts() {
    let emulator = Emulator::builder()
        .part_size(64 * 1024)
        .start_blocking()
        .unwrap();
    // Default headers (here a cookie) go to the API, never to presigned part URLs.
    let client = Client::builder()
        .api_key(emulator.api_key())
        .base_url(emulator.base_url())
        .upload_base_url(emulator.upload_base_url())
        .default_header("Cookie", "oomol-token=secret-cookie")
        .default_header("X-Team", "research")
        .build()
        .unwrap();
    let data = pseudo_random(300 * 1024 + 123);
    let progress = Arc::new(Mutex::new(Vec::new()));
    let record = progress.clone();
    let options = UploadOptions::new()
        .concurrency(3)
        .on_progress(move |p| record.lock().unwrap().push(p));
    let file = client.upload_bytes(&data, "random.bin", options).unwrap();
    assert_eq!(download(&file.url), data);

    let stats = emulator.stats();
    assert_eq!(stats.count(Route::UploadInit), 1);
    assert_eq!(stats.count(Route::UploadPart), 5);
    assert_eq!(stats.count(Route::UploadUrl), 1);
    assert_eq!(stats.part_upload_headers().len(), 5);
    for headers in stats.part_upload_headers() {
        assert!(!headers.contains_key("authorization"), "{headers:?}");
        assert!(!headers.contains_key("cookie"), "{headers:?}");
        assert!(!headers.contains_key("x-team"), "{headers:?}");
        assert_eq!(headers["content-type"], "application/octet-stream");
    }
    let progress = progress.lock().unwrap().clone();
    assert_eq!(progress.len(), 6, "{progress:?}");
    assert!(progress.windows(2).all(|w| w[0] <= w[1]), "{progress:?}");
    assert_eq!(progress.last(), Some(&100));

    // From a file too, with a part failing once on the way (retried as the core says).
    emulator.add_fault(FaultRule::new(Route::UploadPart, Fault::ServiceUnavailable).times(1));
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("data.bin");
    std::fs::write(&path, &data[..200_000]).unwrap();
    let file = client.upload_file(&path, UploadOptions::new()).unwrap();
    assert_eq!(download(&file.url), &data[..200_000]);

    // And from any reader, read once from where it is.
    let mut reader = std::io::Cursor::new(&data);
    std::io::Seek::seek(&mut reader, std::io::SeekFrom::Start(1_000)).unwrap();
    let len = (data.len() - 1_000) as u64;
    let file = client
        .upload_reader(reader, len, "tail.bin", UploadOptions::new().concurrency(2))
        .unwrap();
    assert_eq!(download(&file.url), &data[1_000..]);
}

#[test]
fn polling_survives_503_bursts_dropped_connections_and_bad_bodies() {
    let (emulator, client) = start(Emulator::builder().time_scale(FAST));
    emulator.add_fault(FaultRule::new(Route::TaskResult, Fault::ServiceUnavailable).times(3));
    emulator.add_fault(FaultRule::new(Route::TaskResult, Fault::DropConnection).times(2));
    emulator.add_fault(FaultRule::new(Route::TaskResult, Fault::MalformedBody).times(1));
    let outcome = client
        .create_and_wait(echo(json!({"survived": true})), quick())
        .unwrap();
    assert_eq!(
        outcome.result.result_data,
        Some(json!([{"survived": true}]))
    );
    assert!(emulator.stats().count(Route::TaskResult) >= 7);
    assert_eq!(emulator.stats().count(Route::CreateTask), 1);
}

#[test]
fn retry_after_of_a_429_is_honoured() {
    let (emulator, client) = start(Emulator::builder().time_scale(FAST));
    let created = client.create_task(echo(json!({}))).unwrap();
    emulator.add_fault(
        FaultRule::new(
            Route::TaskResult,
            Fault::TooManyRequests {
                retry_after: Duration::from_secs(1),
            },
        )
        .times(1),
    );
    let started = Instant::now();
    client.await_result(&created.task_id, quick()).unwrap();
    // The poll interval is 5 ms; only the Retry-After explains a wait of a second.
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(emulator.stats().count(Route::TaskResult), 2);
}

#[test]
fn a_failed_create_is_not_retried() {
    let (emulator, client) = start(Emulator::builder().time_scale(FAST));
    for fault in [
        Fault::ServiceUnavailable,
        Fault::DropConnection,
        Fault::TooManyRequests {
            retry_after: Duration::from_secs(1),
        },
    ] {
        emulator.reset_stats();
        emulator.add_fault(FaultRule::new(Route::CreateTask, fault).times(1));
        let error = client
            .create_and_wait(echo(json!({})), quick())
            .unwrap_err();
        assert!(
            matches!(&error, Error::Api(_) | Error::Transport(_)),
            "{error:?}"
        );
        assert_eq!(emulator.stats().count(Route::CreateTask), 1);
        assert_eq!(emulator.stats().count(Route::TaskResult), 0);
    }
    assert!(
        client
            .list_tasks(ListTasksQuery::new())
            .unwrap()
            .tasks
            .is_empty()
    );
}

/// Runs `f` with a token that another thread cancels after `after`; answers what `f`
/// returned and how long it took.
fn cancelled_after<T>(after: Duration, f: impl FnOnce(CancelToken) -> T) -> (T, Duration) {
    let token = CancelToken::new();
    let canceller = token.clone();
    let cancelling = std::thread::spawn(move || {
        std::thread::sleep(after);
        canceller.cancel();
    });
    let started = Instant::now();
    let output = f(token);
    let elapsed = started.elapsed();
    cancelling.join().expect("the cancelling thread ends");
    (output, elapsed)
}

/// Polls every 60 s, until `token` fires.
fn patient(token: CancelToken) -> AwaitOptions {
    AwaitOptions::new()
        .interval(Duration::from_secs(60))
        .cancel_token(token)
}

#[test]
fn cancellation_from_another_thread_ends_a_long_wait_promptly() {
    let (_emulator, client) = start(Emulator::builder().time_scale(FAST));
    let created = client.create_task(slow(10_000_000)).unwrap();
    let (outcome, elapsed) = cancelled_after(Duration::from_millis(50), |token| {
        client.await_result(&created.task_id, patient(token))
    });
    assert!(matches!(outcome, Err(Error::Cancelled(_))), "{outcome:?}");
    assert!(elapsed < Duration::from_secs(5), "{elapsed:?}");

    // The same for many tasks at once.
    let ids: Vec<String> = (0..5)
        .map(|_| client.create_task(slow(10_000_000)).unwrap().task_id)
        .collect();
    let (results, elapsed) = cancelled_after(Duration::from_millis(50), |token| {
        client.await_many(ids, patient(token))
    });
    assert!(
        results
            .iter()
            .all(|r| matches!(r, Err(Error::Cancelled(_))))
    );
    assert!(elapsed < Duration::from_secs(5), "{elapsed:?}");
}

#[test]
fn cancellation_from_another_thread_ends_an_upload_promptly() {
    let (emulator, client) = start(Emulator::builder().part_size(1024));
    // Every part fails: without the cancel, the retries would wait 1 s then 2 s.
    emulator.add_fault(FaultRule::new(Route::UploadPart, Fault::ServiceUnavailable));
    let (outcome, elapsed) = cancelled_after(Duration::from_millis(100), |token| {
        client.upload_bytes(
            vec![1u8; 10 * 1024],
            "x.bin",
            UploadOptions::new().cancel_token(token),
        )
    });
    assert!(matches!(outcome, Err(Error::Cancelled(_))), "{outcome:?}");
    assert!(elapsed < Duration::from_millis(2_500), "{elapsed:?}");
    // Four parts at a time, each tried at most once before the cancel (their retry waits
    // were cut short): no new part started.
    let parts = emulator.stats().count(Route::UploadPart);
    assert!((1..=4).contains(&parts), "{parts} part requests");
    assert_eq!(emulator.stats().count(Route::UploadUrl), 0);
}

#[test]
fn a_failing_part_exhausts_its_retries() {
    let (emulator, client) = start(Emulator::builder().part_size(1024));
    emulator.add_fault(FaultRule::new(Route::UploadPart, Fault::ServiceUnavailable));
    let error = client
        .upload_bytes(vec![1u8; 1024], "x.bin", UploadOptions::new().retries(2))
        .unwrap_err();
    match &error {
        Error::Upload(u) => {
            assert_eq!(u.code, UploadErrorCode::RetryExhausted);
            // The official RETRY_EXHAUSTED: its text, no status; the last try keeps it.
            assert_eq!(
                u.message,
                "Failed after 2 attempts: Upload failed with status 503"
            );
            assert_eq!(u.status, None);
            assert_eq!(u.part, Some(1));
            let last = u.source.as_deref().unwrap();
            assert_eq!(last.status().map(|s| s.as_u16()), Some(503));
        }
        other => panic!("expected an upload error, got {other:?}"),
    }
    assert_eq!(emulator.stats().count(Route::UploadPart), 2);
}

#[test]
fn a_wrong_key_fails_fast_while_polling() {
    let (emulator, client) = start(Emulator::builder().time_scale(FAST));
    let created = client.create_task(echo(json!({}))).unwrap();
    emulator.reset_stats();
    let intruder = client_with_key(&emulator, "wrong-key");
    let error = intruder
        .await_result(&created.task_id, AwaitOptions::new())
        .unwrap_err();
    assert!(
        matches!(&error, Error::Api(e) if e.status.as_u16() == 401),
        "{error:?}"
    );
    assert_eq!(emulator.stats().count(Route::TaskResult), 1);
    let error = intruder.create_task(echo(json!({}))).unwrap_err();
    assert!(matches!(&error, Error::Api(e) if e.status.as_u16() == 401));
}

#[test]
fn ureq_failures_map_to_the_core_transport_kinds() {
    let (emulator, _) = start(Emulator::builder().time_scale(FAST));
    let client = Client::builder()
        .api_key(emulator.api_key())
        .base_url(emulator.base_url())
        .timeout(Duration::from_millis(200))
        .build()
        .unwrap();
    let kind = |error: Error| match error {
        Error::Transport(t) => t.kind,
        other => panic!("expected a transport error, got {other:?}"),
    };

    emulator
        .add_fault(FaultRule::new(Route::Dashboard, Fault::Delay(Duration::from_secs(5))).times(1));
    let started = Instant::now();
    let error = client.get_dashboard().unwrap_err();
    assert_eq!(kind(error), TransportErrorKind::Timeout);
    assert!(started.elapsed() < Duration::from_secs(4));

    emulator.add_fault(FaultRule::new(Route::Dashboard, Fault::DropConnection).times(1));
    let error = client.get_dashboard().unwrap_err();
    assert_eq!(kind(error), TransportErrorKind::Io);
    client.get_dashboard().unwrap();

    // A 5xx answer is the server's, with its body (ureq's status errors are off).
    emulator.add_fault(FaultRule::new(Route::Dashboard, Fault::ServiceUnavailable).times(1));
    let error = client.get_dashboard().unwrap_err();
    assert!(
        matches!(&error, Error::Api(e) if e.status.as_u16() == 503 && e.message == "server busy"),
        "{error:?}"
    );

    // A user's own agent keeps ureq's default of turning 4xx/5xx into its errors: the
    // transport turns that off per request, so the core still reads the server's body.
    let agent = ureq::Agent::new_with_defaults();
    assert!(agent.config().http_status_as_error());
    let custom = Client::builder()
        .api_key(emulator.api_key())
        .base_url(emulator.base_url())
        .transport(UreqTransport::from(agent))
        .build()
        .unwrap();
    let error = custom.get_task("no-such-task").unwrap_err();
    assert!(
        matches!(&error, Error::Api(e) if e.status.as_u16() == 404 && e.body.is_some()),
        "{error:?}"
    );
    custom.get_dashboard().unwrap();

    // A port nobody listens on.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let closed = listener.local_addr().unwrap();
    drop(listener);
    let nowhere = Client::builder()
        .api_key("k")
        .base_url(format!("http://{closed}"))
        .build()
        .unwrap();
    let error = nowhere.get_dashboard().unwrap_err();
    assert_eq!(kind(error), TransportErrorKind::Connect);
}
