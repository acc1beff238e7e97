//! Every operation sends exactly the core's request; errors map as the core says.

use cloud_task_blocking::core::{
    CreateTask, GetDashboard, GetLatestTasks, GetTask, GetTaskLogs, GetTaskResult, HttpRequest,
    ListTasks, Operation, PageAction, Paginator, SetTasksPause, TransportErrorKind,
};
use cloud_task_blocking::{
    AwaitOptions, Client, CreateTaskRequest, Error, ListTasksQuery, TaskResult, TaskStatus,
};

use crate::support::{FakeTimer, KEY, MockTransport, client, config, response, same_request};

/// Runs `call` on a client whose transport expects exactly `op`'s request once and answers
/// `status`/`body`.
fn run_expecting<O: Operation, T>(
    op: O,
    status: u16,
    body: &'static str,
    call: impl FnOnce(&Client) -> T,
) -> T {
    let expected = op.request(&config()).expect("the core builds the request");
    let mut mock = MockTransport::new();
    mock.expect_send()
        .times(1)
        .withf(move |request, _| same_request(request, &expected))
        .returning(move |_, _| Ok(response(status, body)));
    call(&client(mock, &FakeTimer::new()))
}

#[test]
fn create_task_sends_the_core_request_and_parses_the_id() {
    let request = CreateTaskRequest::new("@oomol/echo", "1.0.0", "main").input("text", "hi");
    let created = run_expecting(
        CreateTask::new(request.clone()),
        200,
        r#"{"taskID":"t-1"}"#,
        |c| c.create_task(request),
    )
    .unwrap();
    assert_eq!(created.task_id, "t-1");
}

#[test]
fn list_tasks_sends_the_query() {
    let query = ListTasksQuery::new()
        .size(5)
        .status("running")
        .workload_id("w");
    let page = run_expecting(
        ListTasks::new(query.clone()),
        200,
        r#"{"tasks":[],"nextToken":"n2"}"#,
        |c| c.list_tasks(query),
    )
    .unwrap();
    assert!(page.tasks.is_empty());
    assert_eq!(page.next_token.as_deref(), Some("n2"));
}

#[test]
fn get_latest_tasks_sends_the_joined_ids() {
    let items = run_expecting(
        GetLatestTasks::new(vec!["a", " b "]),
        200,
        r#"[{"taskID":"t","workloadID":"a","status":"running","progress":10,"createdAt":1,"startTime":null,"endTime":null}]"#,
        |c| c.get_latest_tasks(vec!["a", " b "]),
    )
    .unwrap();
    assert_eq!(items.len(), 1);
    assert_eq!(items[0].status, TaskStatus::Running);
    let items = run_expecting(GetLatestTasks::new("a,b"), 200, "[]", |c| {
        c.get_latest_tasks("a,b")
    })
    .unwrap();
    assert!(items.is_empty());
}

const DETAIL: &str = r#"{"taskType":"user","taskID":"a/b","status":"success","progress":100,
    "workload":"serverless","workloadID":"w","schedulerPayload":{},"createdAt":1,
    "startTime":2,"endTime":3,"resultURL":null,"failedMessage":null}"#;

#[test]
fn get_task_and_its_alias_send_the_encoded_id() {
    let detail = run_expecting(GetTask::new("a/b"), 200, DETAIL, |c| c.get_task("a/b")).unwrap();
    assert_eq!(detail.task_id(), "a/b");
    let detail = run_expecting(GetTask::new("a/b"), 200, DETAIL, |c| {
        c.get_task_detail("a/b")
    })
    .unwrap();
    assert_eq!(detail.task_id(), "a/b");
}

#[test]
fn get_task_result_parses_each_state_and_typed_data() {
    let running = run_expecting(
        GetTaskResult::new("t"),
        200,
        r#"{"status":"running","progress":42.5}"#,
        |c| c.get_task_result("t"),
    )
    .unwrap();
    assert!(matches!(running, TaskResult::InProgress { progress, .. } if progress == 42.5));

    #[derive(serde::Deserialize, Debug, PartialEq)]
    struct Item {
        n: u32,
    }
    let typed = run_expecting(
        GetTaskResult::new_as::<Vec<Item>>("t"),
        200,
        r#"{"status":"success","resultURL":null,"resultData":[{"n":7}]}"#,
        |c| c.get_task_result("t")?.data_as::<Vec<Item>>(),
    )
    .unwrap();
    match typed {
        TaskResult::Success(success) => assert_eq!(success.result_data, Some(vec![Item { n: 7 }])),
        other => panic!("expected success, got {other:?}"),
    }
}

#[test]
fn dashboard_pause_resume_and_logs_send_the_core_requests() {
    let dashboard = run_expecting(
        GetDashboard,
        200,
        r#"{"limits":{"maxConcurrency":3,"maxQueueSize":9},"count":{"queued":1,"scheduling":0,"scheduled":0,"running":2},"pause":{"paused":false,"type":null,"canResume":false}}"#,
        Client::get_dashboard,
    )
    .unwrap();
    assert_eq!(dashboard.limits.max_concurrency, 3);
    assert_eq!(dashboard.count.running, 2);

    let paused = run_expecting(
        SetTasksPause::pause(),
        200,
        r#"{"pauseType":"user"}"#,
        Client::pause_user_queue,
    )
    .unwrap();
    assert!(paused.pause_type.is_some());
    let paused = run_expecting(
        SetTasksPause::new(true),
        200,
        r#"{"pauseType":"user"}"#,
        |c| c.set_tasks_pause(true),
    )
    .unwrap();
    assert!(paused.pause_type.is_some());
    let resumed = run_expecting(
        SetTasksPause::resume(),
        200,
        r#"{"pauseType":null}"#,
        Client::resume_user_queue,
    )
    .unwrap();
    assert_eq!(resumed.pause_type, None);

    let logs = run_expecting(
        GetTaskLogs::new("t").page(2),
        200,
        r#"{"logs":[{"level":"info","message":"hi"}]}"#,
        |c| c.get_task_logs("t", Some(2)),
    )
    .unwrap();
    assert_eq!(logs.logs[0].get_str("message"), Some("hi"));
    let logs = run_expecting(GetTaskLogs::new("t"), 200, r#"{"logs":[]}"#, |c| {
        c.get_task_logs("t", None)
    })
    .unwrap();
    assert!(logs.logs.is_empty());
}

#[test]
fn execute_runs_any_core_operation() {
    let op = ListTasks::new(ListTasksQuery::new().size(1));
    let page = run_expecting(op.clone(), 200, r#"{"tasks":[],"nextToken":null}"#, |c| {
        c.execute(&op)
    })
    .unwrap();
    assert_eq!(page.next_token, None);
}

#[test]
fn bad_input_is_refused_before_anything_is_sent() {
    let mut mock = MockTransport::new();
    mock.expect_send().never();
    let client = client(mock, &FakeTimer::new());

    let error = client
        .list_tasks(ListTasksQuery::new().size(0))
        .unwrap_err();
    assert!(
        matches!(&error, Error::InvalidInput(e) if e.field == "size"),
        "{error:?}"
    );
    assert_eq!(
        error.to_string(),
        "size must be an integer between 1 and 100"
    );

    let error = client.get_task(" ").unwrap_err();
    assert!(
        matches!(&error, Error::InvalidInput(e) if e.field == "task_id"),
        "{error:?}"
    );
    let error = client.await_result("", AwaitOptions::new()).unwrap_err();
    assert!(matches!(&error, Error::InvalidInput(e) if e.field == "task_id"));

    let error = client.get_latest_tasks(Vec::<String>::new()).unwrap_err();
    assert!(matches!(&error, Error::InvalidInput(e) if e.field == "workload_ids"));

    let error = client
        .create_task(CreateTaskRequest::new("", "1.0.0", "main"))
        .unwrap_err();
    assert!(matches!(&error, Error::InvalidInput(e) if e.field == "package_name"));
    let error = client
        .create_and_wait(
            CreateTaskRequest::new("@oomol/echo", "", "main"),
            AwaitOptions::new(),
        )
        .unwrap_err();
    assert!(matches!(&error, Error::InvalidInput(e) if e.field == "package_version"));

    let error = client.get_task_logs("t", Some(0)).unwrap_err();
    assert!(matches!(&error, Error::InvalidInput(e) if e.field == "page"));
}

#[test]
fn errors_map_as_the_core_says() {
    let api = run_expecting(
        GetDashboard,
        500,
        r#"{"message":"database down"}"#,
        Client::get_dashboard,
    )
    .unwrap_err();
    match &api {
        Error::Api(e) => {
            assert_eq!(e.status.as_u16(), 500);
            assert_eq!(e.message, "database down");
            assert_eq!(e.body.as_ref().unwrap()["message"], "database down");
        }
        other => panic!("expected an API error, got {other:?}"),
    }

    let decode = run_expecting(GetDashboard, 200, "{not json", Client::get_dashboard).unwrap_err();
    match &decode {
        Error::Decode(e) => assert_eq!(e.body, b"{not json"),
        other => panic!("expected a decode error, got {other:?}"),
    }

    let mut mock = MockTransport::new();
    mock.expect_send().times(1).returning(|_, _| {
        Err(Error::transport(
            TransportErrorKind::Connect,
            std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "refused"),
        ))
    });
    let error = client(mock, &FakeTimer::new()).get_dashboard().unwrap_err();
    assert!(matches!(&error, Error::Transport(t) if t.kind == TransportErrorKind::Connect));
}

#[test]
fn a_failed_create_is_not_retried() {
    for failure in [
        Err(Error::transport(
            TransportErrorKind::Io,
            std::io::Error::new(std::io::ErrorKind::ConnectionReset, "reset"),
        )),
        Ok(response(503, r#"{"message":"busy"}"#)),
        Ok(response(429, r#"{"message":"slow down"}"#)),
    ] {
        let mut mock = MockTransport::new();
        let mut failure = Some(failure);
        mock.expect_send()
            .times(1)
            .returning(move |_, _| failure.take().expect("sent once"));
        let timer = FakeTimer::new();
        let client = client(mock, &timer);
        let outcome = client.create_and_wait(
            CreateTaskRequest::new("@oomol/echo", "1", "main"),
            AwaitOptions::new(),
        );
        assert!(
            matches!(&outcome, Err(Error::Api(_) | Error::Transport(_))),
            "{outcome:?}"
        );
        assert!(timer.sleeps().is_empty(), "no wait, no second try");
    }
}

fn list_item(id: &str) -> String {
    format!(
        r#"{{"taskID":"{id}","taskType":"user","ownerID":"o","subscriptionID":null,"packageID":null,
        "status":"success","progress":100,"workload":"serverless","workloadID":"w","resultURL":null,
        "failedMessage":null,"createdAt":1,"updatedAt":2,"startTime":null,"endTime":null,"schedulerPayload":{{}}}}"#
    )
}

#[test]
fn list_all_walks_every_page_with_the_paginator_requests() {
    let query = ListTasksQuery::new().size(2).status("success");
    let pages = [
        format!(
            r#"{{"tasks":[{},{}],"nextToken":"p2"}}"#,
            list_item("a"),
            list_item("b")
        ),
        format!(r#"{{"tasks":[{}],"nextToken":"p3"}}"#, list_item("c")),
        r#"{"tasks":[],"nextToken":"p4"}"#.to_owned(),
        format!(r#"{{"tasks":[{}],"nextToken":null}}"#, list_item("d")),
    ];
    // The requests a paginator makes for these pages.
    let now = std::time::Instant::now();
    let mut paginator = Paginator::new(&config(), query.clone()).unwrap();
    let mut expected: Vec<HttpRequest> = Vec::new();
    let mut pages_left = pages.iter();
    loop {
        match paginator.poll_action(now) {
            PageAction::Send(t) => {
                let page = pages_left.next().expect("a scripted page");
                paginator.handle_response(t.id, response(200, page), now);
                expected.push(t.request);
            }
            PageAction::Page(_) => {}
            PageAction::Done(end) => break end.unwrap(),
            PageAction::Wait(_) => unreachable!("nothing is left in flight"),
        }
    }
    assert_eq!(expected.len(), 4);

    let mut mock = MockTransport::new();
    let mut sequence = mockall::Sequence::new();
    for (request, page) in expected.into_iter().zip(pages) {
        mock.expect_send()
            .times(1)
            .in_sequence(&mut sequence)
            .withf(move |r, _| same_request(r, &request))
            .returning(move |_, _| Ok(response(200, &page)));
    }
    let mut tasks = client(mock, &FakeTimer::new()).list_all(query);
    // Lazy: the first page only when the first item is asked for.
    assert_eq!(tasks.pages(), 0);
    let first = tasks.next().unwrap().unwrap();
    assert_eq!(tasks.pages(), 1);
    let mut ids = vec![first.task_id];
    ids.extend(tasks.by_ref().map(|t| t.unwrap().task_id));
    assert_eq!(ids, ["a", "b", "c", "d"]);
    assert_eq!(tasks.pages(), 4);
    assert!(tasks.next().is_none());
}

#[test]
fn list_all_yields_an_error_once_then_ends() {
    let mut mock = MockTransport::new();
    mock.expect_send()
        .times(1)
        .returning(|_, _| Ok(response(500, r#"{"message":"boom"}"#)));
    let items: Vec<_> = client(mock, &FakeTimer::new())
        .list_all(ListTasksQuery::new())
        .collect();
    assert_eq!(items.len(), 1);
    assert!(matches!(&items[0], Err(Error::Api(e)) if e.message == "boom"));

    let mut mock = MockTransport::new();
    mock.expect_send().never();
    let items: Vec<_> = client(mock, &FakeTimer::new())
        .list_all(ListTasksQuery::new().size(101))
        .collect();
    assert_eq!(items.len(), 1);
    assert!(matches!(&items[0], Err(Error::InvalidInput(_))));
}

#[test]
fn the_builder_names_the_bad_field_and_debug_hides_the_key() {
    let error = Client::builder()
        .api_key(KEY)
        .timeout(std::time::Duration::ZERO)
        .build()
        .unwrap_err();
    assert!(matches!(&error, Error::InvalidInput(e) if e.field == "timeout"));
    let error = Client::builder()
        .api_key(KEY)
        .connect_timeout(std::time::Duration::ZERO)
        .build()
        .unwrap_err();
    assert!(matches!(&error, Error::InvalidInput(e) if e.field == "connect_timeout"));
    let error = Client::builder().base_url("ftp://x").build().unwrap_err();
    assert!(matches!(&error, Error::InvalidInput(e) if e.field == "base_url"));
    let error = Client::builder().api_key("").build().unwrap_err();
    assert!(matches!(&error, Error::InvalidInput(e) if e.field == "api_key"));
    let error = Client::builder()
        .default_header("bad header", "v")
        .build()
        .unwrap_err();
    assert!(matches!(&error, Error::InvalidInput(e) if e.field == "default_headers"));

    let client = Client::builder()
        .api_key(KEY)
        .default_header("Cookie", "oomol-token=cookie-secret")
        .build()
        .unwrap();
    let builder = Client::builder().api_key(KEY);
    for shown in [format!("{client:?}"), format!("{builder:?}")] {
        assert!(!shown.contains(KEY), "{shown}");
        assert!(!shown.contains("cookie-secret"), "{shown}");
    }
    assert_eq!(client.config().api_key().unwrap().expose_secret(), KEY);
}

#[test]
fn default_headers_and_cookie_auth_reach_api_requests() {
    let mut mock = MockTransport::new();
    mock.expect_send()
        .times(1)
        .withf(|r, _| {
            r.headers().get("cookie").unwrap() == "oomol-token=abc"
                && r.headers().get("authorization").is_none()
                && r.headers().get("user-agent").unwrap() == "my-agent/1"
        })
        .returning(|_, _| Ok(response(200, r#"{"pauseType":null}"#)));
    let client = Client::builder()
        .default_header("Cookie", "oomol-token=abc")
        .user_agent("my-agent/1")
        .transport(mock)
        .timer(FakeTimer::new())
        .build()
        .unwrap();
    client.resume_user_queue().unwrap();
}

#[test]
fn the_client_is_cheap_to_clone_and_shareable_across_threads() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Client>();
    let mut mock = MockTransport::new();
    mock.expect_send()
        .times(4)
        .returning(|_, _| Ok(response(200, r#"{"pauseType":null}"#)));
    let client = client(mock, &FakeTimer::new());
    std::thread::scope(|scope| {
        for _ in 0..4 {
            let client = client.clone();
            scope.spawn(move || client.resume_user_queue().unwrap());
        }
    });
}
