//! Every operation, waits of every kind, listing and the queue, in virtual time.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use cloud_task_core::{
    AwaitOptions, BackoffStrategy, CreateTaskRequest, Error, ListTasksQuery, TaskDetail,
    TaskErrorCode, TaskResult, TaskStatus, WatchEvent,
};
use cloud_task_emulator::Route;
use serde_json::json;

use crate::driver::Driver;
use crate::{conformance, echo, slow, virtual_emulator};

conformance!(
    every_operation_against_the_emulator,
    create_and_wait_echo_fail_quota_and_timeout,
    progress_callbacks_are_called_while_the_task_runs,
    pause_then_resume,
    list_all_walks_more_than_three_pages_with_a_filter,
    await_many_of_a_hundred_tasks,
    watch_ends_on_success_without_repeats,
    a_wrong_key_fails_fast_while_polling,
    a_client_shows_its_urls_but_never_its_key,
);

fn a_client_shows_its_urls_but_never_its_key<D: Driver>() {
    let (emulator, _clock) = virtual_emulator(|b| b);
    let shown = D::of(&emulator).debug();
    assert!(shown.contains(emulator.base_url().as_str()), "{shown}");
    assert!(!shown.contains(emulator.api_key().as_str()), "{shown}");
}

fn every_operation_against_the_emulator<D: Driver>() {
    let (emulator, _clock) = virtual_emulator(|b| b);
    let client = D::of(&emulator);

    let created = client.create_task(echo(json!({"n": 1}))).unwrap();
    let detail = client.get_task(&created.task_id).unwrap();
    assert_eq!(detail.task_id(), created.task_id);
    let workload_id = match &detail {
        TaskDetail::User(user) => user.workload_id.clone(),
        other => panic!("expected a user task, got {other:?}"),
    };
    let alias = client.get_task_detail(&created.task_id).unwrap();
    assert_eq!(alias.task_id(), created.task_id);

    let success = client
        .await_result(&created.task_id, AwaitOptions::new())
        .unwrap();
    assert_eq!(success.result_data, Some(json!([{"n": 1}])));
    match client.get_task_result(&created.task_id).unwrap() {
        TaskResult::Success(s) => assert_eq!(s.result_data, Some(json!([{"n": 1}]))),
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

    let page = client.list_tasks(ListTasksQuery::new().size(10)).unwrap();
    assert!(page.tasks.iter().any(|t| t.task_id == created.task_id));

    let latest = client.get_latest_tasks(vec![workload_id]).unwrap();
    assert_eq!(latest.len(), 1);
    assert_eq!(latest[0].task_id, created.task_id);
    assert_eq!(latest[0].status, TaskStatus::Success);

    let dashboard = client.get_dashboard().unwrap();
    assert!(!dashboard.pause.paused);
    assert_eq!(dashboard.limits.max_concurrency, 10);

    client.get_task_logs(&created.task_id, Some(1)).unwrap();
    client.get_task_logs(&created.task_id, None).unwrap();

    let error = client.get_task("no-such-task").unwrap_err();
    assert!(
        matches!(&error, Error::Api(e) if e.status.as_u16() == 404),
        "{error:?}"
    );
}

fn create_and_wait_echo_fail_quota_and_timeout<D: Driver>() {
    let (emulator, clock) = virtual_emulator(|b| b);
    let client = D::of(&emulator);

    let inputs = json!({"text": "hello", "nested": {"list": [1, 2, 3]}});
    let outcome = client
        .create_and_wait(echo(inputs.clone()), AwaitOptions::new())
        .unwrap();
    assert!(!outcome.task_id.is_empty());
    assert_eq!(outcome.result.result_data, Some(json!([inputs])));

    #[derive(serde::Deserialize, Debug)]
    struct Echoed {
        text: String,
    }
    let typed = client
        .create_and_wait_as::<Vec<Echoed>>(echo(json!({"text": "typed"})), AwaitOptions::new())
        .unwrap();
    assert_eq!(typed.result.result_data.unwrap()[0].text, "typed");

    let failed = client
        .create_and_wait(
            CreateTaskRequest::new("@oomol/fail", "1.0.0", "main").input("message", "bad input"),
            AwaitOptions::new(),
        )
        .unwrap_err();
    match &failed {
        Error::TaskFailed(f) => {
            assert_eq!(f.message, "Task failed: bad input");
            assert_eq!(f.code, None);
            assert_eq!(f.detail, Some(json!("bad input")));
        }
        other => panic!("expected a task failure, got {other:?}"),
    }

    let quota = client
        .create_and_wait(
            CreateTaskRequest::new("@oomol/quota", "1.0.0", "main"),
            AwaitOptions::new(),
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

    // A wait of 1 s for a block of 1,000 s ends at its deadline, on the emulator's clock.
    let before = clock.elapsed();
    let timeout = client
        .create_and_wait(
            slow(1_000_000),
            AwaitOptions::new().timeout(Duration::from_secs(1)),
        )
        .unwrap_err();
    match &timeout {
        Error::Timeout(t) => {
            assert_eq!(t.message, "Task polling timeout after 1 minutes");
            assert_eq!(t.timeout, Duration::from_secs(1));
        }
        other => panic!("expected a timeout, got {other:?}"),
    }
    assert!(clock.elapsed() - before <= Duration::from_secs(1));
}

fn progress_callbacks_are_called_while_the_task_runs<D: Driver>() {
    let (emulator, _clock) = virtual_emulator(|b| b);
    let client = D::of(&emulator);
    let seen = Arc::new(Mutex::new(Vec::new()));
    let record = seen.clone();
    let options = AwaitOptions::new()
        .interval(Duration::from_millis(500))
        .strategy(BackoffStrategy::Fixed)
        .on_progress(move |p, s| record.lock().unwrap().push((p, s.clone())));
    client.create_and_wait(slow(10_000), options).unwrap();
    let seen = seen.lock().unwrap();
    // 10.2 s seen every 0.5 s: about twenty reports, all in progress, rising while running.
    assert!(seen.len() >= 19, "{seen:?}");
    assert!(
        seen.iter()
            .all(|(p, s)| (0.0..=100.0).contains(p) && s.is_in_progress())
    );
    let running: Vec<f64> = seen
        .iter()
        .filter(|(_, s)| *s == TaskStatus::Running)
        .map(|(p, _)| *p)
        .collect();
    assert!(running.len() >= 18, "{seen:?}");
    assert!(running.windows(2).all(|w| w[0] < w[1]), "{running:?}");
}

fn pause_then_resume<D: Driver>() {
    let (emulator, _clock) = virtual_emulator(|b| b);
    let client = D::of(&emulator);
    let paused = client.pause_user_queue().unwrap();
    assert!(paused.pause_type.is_some());
    assert!(client.get_dashboard().unwrap().pause.paused);

    let created = client.create_task(echo(json!({}))).unwrap();
    // Paused: the task waits well beyond its run time.
    let error = client
        .await_result(
            &created.task_id,
            AwaitOptions::new().timeout(Duration::from_secs(20)),
        )
        .unwrap_err();
    assert!(matches!(error, Error::Timeout(_)), "{error:?}");
    let detail = client.get_task(&created.task_id).unwrap();
    assert_eq!(*detail.status(), TaskStatus::Queued);

    let resumed = client.resume_user_queue().unwrap();
    assert_eq!(resumed.pause_type, None);
    assert!(!client.get_dashboard().unwrap().pause.paused);
    client.set_tasks_pause(true).unwrap();
    client.set_tasks_pause(false).unwrap();
    client
        .await_result(&created.task_id, AwaitOptions::new())
        .unwrap();
}

fn list_all_walks_more_than_three_pages_with_a_filter<D: Driver>() {
    let (emulator, _clock) = virtual_emulator(|b| b);
    let client = D::of(&emulator);
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
    let tasks: Vec<_> = client
        .list_all(
            ListTasksQuery::new()
                .size(3)
                .workload_id(workload_id.clone()),
        )
        .into_iter()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(tasks.len(), 11);
    assert!(tasks.iter().all(|t| t.workload_id == workload_id));
    let mut listed_ids: Vec<_> = tasks.into_iter().map(|t| t.task_id).collect();
    listed_ids.sort();
    ids.sort();
    assert_eq!(listed_ids, ids);
    assert_eq!(emulator.stats().count(Route::ListTasks), 4);
}

fn await_many_of_a_hundred_tasks<D: Driver>() {
    let (emulator, _clock) = virtual_emulator(|b| b.max_concurrency(100));
    let client = D::of(&emulator);
    let ids: Vec<String> = (0..100)
        .map(|i| client.create_task(echo(json!({"i": i}))).unwrap().task_id)
        .collect();
    let results = client.await_many(ids, AwaitOptions::new());
    assert_eq!(results.len(), 100);
    for (i, result) in results.into_iter().enumerate() {
        assert_eq!(result.unwrap().result_data, Some(json!([{"i": i}])));
    }
}

fn watch_ends_on_success_without_repeats<D: Driver>() {
    let (emulator, _clock) = virtual_emulator(|b| b);
    let client = D::of(&emulator);
    let created = client.create_task(slow(5_000)).unwrap();
    let options = AwaitOptions::new()
        .interval(Duration::from_millis(200))
        .strategy(BackoffStrategy::Fixed);
    let events: Vec<_> = client
        .watch(&created.task_id, options)
        .into_iter()
        .collect::<Result<_, _>>()
        .unwrap();
    assert!(events.len() >= 20, "{events:?}");
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

fn a_wrong_key_fails_fast_while_polling<D: Driver>() {
    let (emulator, _clock) = virtual_emulator(|b| b);
    let client = D::of(&emulator);
    let created = client.create_task(echo(json!({}))).unwrap();
    emulator.reset_stats();
    let intruder = D::of_with(&emulator, |config| config.api_key("wrong-key"));
    let error = intruder
        .await_result(&created.task_id, AwaitOptions::new())
        .unwrap_err();
    assert!(
        matches!(&error, Error::Api(e) if e.status.as_u16() == 401),
        "{error:?}"
    );
    assert_eq!(emulator.stats().count(Route::TaskResult), 1);
}
