//! The async client against the real local emulator (started in-process on a free port of
//! 127.0.0.1, with time scaled down so each test takes milliseconds).

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use cloud_task_async::core::TaskErrorCode;
use cloud_task_async::{
    AwaitOptions, CancelToken, Client, CreateTaskRequest, Error, ListTasksQuery, TaskDetail,
    TaskResult, TaskStatus, UploadOptions, WatchEvent,
};
use cloud_task_emulator::{Emulator, EmulatorBuilder, EmulatorHandle, Fault, FaultRule, Route};
use futures_util::TryStreamExt;
use rand::RngCore;
use serde_json::{Value, json};

/// Simulated durations 100x faster: a default task runs for about 10 ms.
const FAST: f64 = 0.01;

async fn start(builder: EmulatorBuilder) -> (EmulatorHandle, Client) {
    let emulator = builder.start().await.expect("the emulator starts");
    let client = client_with_key(&emulator, &emulator.api_key());
    (emulator, client)
}

fn client_with_key(emulator: &EmulatorHandle, key: &str) -> Client {
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_operation_against_the_emulator() {
    let (_emulator, client) = start(Emulator::builder().time_scale(FAST)).await;

    let created = client.create_task(echo(json!({"n": 1}))).await.unwrap();
    let detail = client.get_task(&created.task_id).await.unwrap();
    assert_eq!(detail.task_id(), created.task_id);
    let workload_id = match &detail {
        TaskDetail::User(user) => user.workload_id.clone(),
        other => panic!("expected a user task, got {other:?}"),
    };
    let alias = client.get_task_detail(&created.task_id).await.unwrap();
    assert_eq!(alias.task_id(), created.task_id);

    let success = client
        .await_result(&created.task_id, quick())
        .await
        .unwrap();
    assert_eq!(success.result_data, Some(json!([{"n": 1}])));
    match client.get_task_result(&created.task_id).await.unwrap() {
        TaskResult::Success(s) => assert_eq!(s.result_data, Some(json!([{"n": 1}]))),
        other => panic!("expected success, got {other:?}"),
    }
    #[derive(serde::Deserialize, Debug, PartialEq)]
    struct N {
        n: u32,
    }
    match client
        .get_task_result_as::<Vec<N>>(&created.task_id)
        .await
        .unwrap()
    {
        TaskResult::Success(s) => assert_eq!(s.result_data, Some(vec![N { n: 1 }])),
        other => panic!("expected success, got {other:?}"),
    }

    let page = client
        .list_tasks(ListTasksQuery::new().size(10))
        .await
        .unwrap();
    assert!(page.tasks.iter().any(|t| t.task_id == created.task_id));

    let latest = client
        .get_latest_tasks(vec![workload_id.as_str()])
        .await
        .unwrap();
    assert_eq!(latest.len(), 1);
    assert_eq!(latest[0].task_id, created.task_id);
    assert_eq!(latest[0].status, TaskStatus::Success);

    let dashboard = client.get_dashboard().await.unwrap();
    assert!(!dashboard.pause.paused);
    assert_eq!(dashboard.limits.max_concurrency, 10);

    client
        .get_task_logs(&created.task_id, Some(1))
        .await
        .unwrap();
    client.get_task_logs(&created.task_id, None).await.unwrap();

    let error = client.get_task("no-such-task").await.unwrap_err();
    assert!(
        matches!(&error, Error::Api(e) if e.status.as_u16() == 404),
        "{error:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_and_wait_echo_fail_quota_and_timeout() {
    let (_emulator, client) = start(Emulator::builder().time_scale(FAST)).await;

    let inputs = json!({"text": "hello", "nested": {"list": [1, 2, 3]}});
    let outcome = client
        .create_and_wait(echo(inputs.clone()), quick())
        .await
        .unwrap();
    assert!(!outcome.task_id.is_empty());
    assert_eq!(outcome.result.result_data, Some(json!([inputs])));

    #[derive(serde::Deserialize, Debug)]
    struct Echoed {
        text: String,
    }
    let typed = client
        .create_and_wait_as::<Vec<Echoed>>(echo(json!({"text": "typed"})), quick())
        .await
        .unwrap();
    assert_eq!(typed.result.result_data.unwrap()[0].text, "typed");

    let failed = client
        .create_and_wait(
            CreateTaskRequest::new("@oomol/fail", "1.0.0", "main").input("message", "bad input"),
            quick(),
        )
        .await
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
        .await
        .unwrap_err();
    match &quota {
        Error::TaskFailed(f) => {
            assert_eq!(f.code, Some(TaskErrorCode::InsufficientQuota));
            assert_eq!(f.status_code.map(|s| s.as_u16()), Some(402));
        }
        other => panic!("expected a task failure, got {other:?}"),
    }
    assert!(quota.is_insufficient_quota());

    let slow =
        CreateTaskRequest::new("@oomol/slow", "1.0.0", "main").input("durationMs", 1_000_000);
    let timeout = client
        .create_and_wait(slow, quick().timeout(Duration::from_secs(1)))
        .await
        .unwrap_err();
    match &timeout {
        Error::Timeout(t) => assert_eq!(t.message, "Task polling timeout after 1 minutes"),
        other => panic!("expected a timeout, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn progress_callbacks_are_called_while_the_task_runs() {
    let (_emulator, client) = start(Emulator::builder().time_scale(FAST)).await;
    let seen = Arc::new(Mutex::new(Vec::new()));
    let record = seen.clone();
    let options = quick()
        .interval(Duration::from_millis(2))
        .max_interval(Duration::from_millis(2))
        .on_progress(move |p, s| record.lock().unwrap().push((p, s.clone())));
    let request =
        CreateTaskRequest::new("@oomol/slow", "1.0.0", "main").input("durationMs", 10_000);
    client.create_and_wait(request, options).await.unwrap();
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pause_then_resume() {
    let (_emulator, client) = start(Emulator::builder().time_scale(FAST)).await;
    let paused = client.pause_user_queue().await.unwrap();
    assert!(paused.pause_type.is_some());
    assert!(client.get_dashboard().await.unwrap().pause.paused);

    let created = client.create_task(echo(json!({}))).await.unwrap();
    // Paused: the task waits well beyond its run time.
    let error = client
        .await_result(
            &created.task_id,
            quick().timeout(Duration::from_millis(200)),
        )
        .await
        .unwrap_err();
    assert!(matches!(error, Error::Timeout(_)), "{error:?}");
    let detail = client.get_task(&created.task_id).await.unwrap();
    assert_eq!(*detail.status(), TaskStatus::Queued);

    let resumed = client.resume_user_queue().await.unwrap();
    assert_eq!(resumed.pause_type, None);
    assert!(!client.get_dashboard().await.unwrap().pause.paused);
    client.set_tasks_pause(true).await.unwrap();
    client.set_tasks_pause(false).await.unwrap();
    client
        .await_result(&created.task_id, quick())
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn list_all_walks_more_than_three_pages_with_a_filter() {
    let (emulator, client) = start(Emulator::builder().time_scale(FAST)).await;
    let listed = CreateTaskRequest::new("@oomol/listed", "1.0.0", "main");
    let mut ids = Vec::new();
    for i in 0..11 {
        ids.push(
            client
                .create_task(listed.clone().input("i", i))
                .await
                .unwrap()
                .task_id,
        );
        // Other tasks that the filter must leave out.
        client.create_task(echo(json!({"other": i}))).await.unwrap();
    }
    let workload_id = match client.get_task(&ids[0]).await.unwrap() {
        TaskDetail::User(user) => user.workload_id,
        other => panic!("expected a user task, got {other:?}"),
    };
    emulator.reset_stats();
    let tasks: Vec<_> = client
        .list_all(
            ListTasksQuery::new()
                .size(3)
                .workload_id(workload_id.clone()),
        )
        .try_collect()
        .await
        .unwrap();
    assert_eq!(tasks.len(), 11);
    assert!(tasks.iter().all(|t| t.workload_id == workload_id));
    let mut listed_ids: Vec<_> = tasks.into_iter().map(|t| t.task_id).collect();
    listed_ids.sort();
    ids.sort();
    assert_eq!(listed_ids, ids);
    assert_eq!(emulator.stats().count(Route::ListTasks), 4);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn await_many_of_a_hundred_tasks() {
    let (_emulator, client) =
        start(Emulator::builder().time_scale(FAST).max_concurrency(100)).await;
    let mut ids = Vec::new();
    for i in 0..100 {
        ids.push(
            client
                .create_task(echo(json!({"i": i})))
                .await
                .unwrap()
                .task_id,
        );
    }
    let results = client
        .await_many(ids.iter().map(String::as_str), quick())
        .await;
    assert_eq!(results.len(), 100);
    for (i, result) in results.into_iter().enumerate() {
        assert_eq!(result.unwrap().result_data, Some(json!([{"i": i}])));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watch_ends_on_success() {
    let (_emulator, client) = start(Emulator::builder().time_scale(FAST)).await;
    let created = client
        .create_task(
            CreateTaskRequest::new("@oomol/slow", "1.0.0", "main").input("durationMs", 5_000),
        )
        .await
        .unwrap();
    let options = quick()
        .interval(Duration::from_millis(2))
        .max_interval(Duration::from_millis(2));
    let events: Vec<_> = client
        .watch(&created.task_id, options)
        .try_collect()
        .await
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_multi_part_upload_round_trips_without_credentials_on_parts() {
    let emulator = Emulator::builder()
        .part_size(64 * 1024)
        .start()
        .await
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
    let mut data = vec![0u8; 300 * 1024 + 123];
    rand::rng().fill_bytes(&mut data);
    let progress = Arc::new(Mutex::new(Vec::new()));
    let record = progress.clone();
    let options = UploadOptions::new()
        .concurrency(3)
        .on_progress(move |p| record.lock().unwrap().push(p));
    let file = client
        .upload_bytes(data.clone(), "random.bin", options)
        .await
        .unwrap();

    let downloaded = reqwest::get(&file.url).await.unwrap();
    assert!(downloaded.status().is_success());
    assert_eq!(downloaded.bytes().await.unwrap().as_ref(), data.as_slice());

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
    assert!(progress.windows(2).all(|w| w[0] <= w[1]));
    assert_eq!(progress.last(), Some(&100));

    // From a file too, with a part failing once on the way (retried as the core says).
    emulator.add_fault(FaultRule::new(Route::UploadPart, Fault::ServiceUnavailable).times(1));
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("data.bin");
    std::fs::write(&path, &data[..100_000]).unwrap();
    let file = client
        .upload_file(&path, UploadOptions::new())
        .await
        .unwrap();
    let downloaded = reqwest::get(&file.url)
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    assert_eq!(downloaded.as_ref(), &data[..100_000]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn polling_survives_503_bursts_dropped_connections_and_bad_bodies() {
    let (emulator, client) = start(Emulator::builder().time_scale(FAST)).await;
    emulator.add_fault(FaultRule::new(Route::TaskResult, Fault::ServiceUnavailable).times(3));
    emulator.add_fault(FaultRule::new(Route::TaskResult, Fault::DropConnection).times(2));
    emulator.add_fault(FaultRule::new(Route::TaskResult, Fault::MalformedBody).times(1));
    let outcome = client
        .create_and_wait(echo(json!({"survived": true})), quick())
        .await
        .unwrap();
    assert_eq!(
        outcome.result.result_data,
        Some(json!([{"survived": true}]))
    );
    assert!(emulator.stats().count(Route::TaskResult) >= 7);
    assert_eq!(emulator.stats().count(Route::CreateTask), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retry_after_of_a_429_is_honoured() {
    let (emulator, client) = start(Emulator::builder().time_scale(FAST)).await;
    let created = client.create_task(echo(json!({}))).await.unwrap();
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
    client
        .await_result(&created.task_id, quick())
        .await
        .unwrap();
    // The poll interval is 5 ms; only the Retry-After explains a wait of a second.
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(emulator.stats().count(Route::TaskResult), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_create_is_not_retried() {
    let (emulator, client) = start(Emulator::builder().time_scale(FAST)).await;
    for fault in [Fault::ServiceUnavailable, Fault::DropConnection] {
        emulator.reset_stats();
        emulator.add_fault(FaultRule::new(Route::CreateTask, fault).times(1));
        let error = client
            .create_and_wait(echo(json!({})), quick())
            .await
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
            .await
            .unwrap()
            .tasks
            .is_empty()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancellation_ends_a_long_wait_promptly() {
    let (_emulator, client) = start(Emulator::builder().time_scale(FAST)).await;
    let created = client
        .create_task(
            CreateTaskRequest::new("@oomol/slow", "1.0.0", "main").input("durationMs", 10_000_000),
        )
        .await
        .unwrap();
    let token = CancelToken::new();
    let options = AwaitOptions::new()
        .interval(Duration::from_secs(60))
        .cancel_token(token.clone());
    let canceller = token.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(50)).await;
        canceller.cancel();
    });
    let started = Instant::now();
    let error = client
        .await_result(&created.task_id, options)
        .await
        .unwrap_err();
    assert!(matches!(error, Error::Cancelled(_)), "{error:?}");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_key_fails_fast_while_polling() {
    let (emulator, client) = start(Emulator::builder().time_scale(FAST)).await;
    let created = client.create_task(echo(json!({}))).await.unwrap();
    emulator.reset_stats();
    let intruder = client_with_key(&emulator, "wrong-key");
    let error = intruder
        .await_result(&created.task_id, AwaitOptions::new())
        .await
        .unwrap_err();
    assert!(
        matches!(&error, Error::Api(e) if e.status.as_u16() == 401),
        "{error:?}"
    );
    assert_eq!(emulator.stats().count(Route::TaskResult), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reqwest_failures_map_to_the_core_transport_kinds() {
    use cloud_task_async::core::TransportErrorKind;
    let (emulator, _) = start(Emulator::builder().time_scale(FAST)).await;
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
    let error = client.get_dashboard().await.unwrap_err();
    assert_eq!(kind(error), TransportErrorKind::Timeout);
    assert!(started.elapsed() < Duration::from_secs(4));

    emulator.add_fault(FaultRule::new(Route::Dashboard, Fault::DropConnection).times(1));
    let error = client.get_dashboard().await.unwrap_err();
    assert_eq!(kind(error), TransportErrorKind::Io);
    client.get_dashboard().await.unwrap();

    // A port nobody listens on.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let closed = listener.local_addr().unwrap();
    drop(listener);
    let nowhere = Client::builder()
        .api_key("k")
        .base_url(format!("http://{closed}"))
        .build()
        .unwrap();
    let error = nowhere.get_dashboard().await.unwrap_err();
    assert_eq!(kind(error), TransportErrorKind::Connect);
}
