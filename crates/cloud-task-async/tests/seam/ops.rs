//! Every operation sends exactly the core's request; errors map as the core says.

use std::future::Future;

use cloud_task_async::core::{
    CreateTask, GetDashboard, GetLatestTasks, GetTask, GetTaskLogs, GetTaskResult, HttpRequest,
    ListTasks, Operation, PageAction, Paginator, SetTasksPause, TransportErrorKind,
};
use cloud_task_async::{Client, CreateTaskRequest, Error, ListTasksQuery, TaskResult, TaskStatus};
use futures_util::TryStreamExt;

use crate::support::{FakeTimer, KEY, MockTransport, client, config, response, same_request};

/// Runs `call` on a client whose transport expects exactly `op`'s request once and answers
/// `status`/`body`.
async fn run_expecting<O, F, Fut, T>(op: O, status: u16, body: &'static str, call: F) -> T
where
    O: Operation,
    F: FnOnce(Client) -> Fut,
    Fut: Future<Output = T>,
{
    let expected = op.request(&config()).expect("the core builds the request");
    let mut mock = MockTransport::new();
    mock.expect_send()
        .times(1)
        .withf(move |request, _| same_request(request, &expected))
        .returning(move |_, _| Ok(response(status, body)));
    call(client(mock, &FakeTimer::new())).await
}

#[tokio::test]
async fn create_task_sends_the_core_request_and_parses_the_id() {
    let request = CreateTaskRequest::new("@oomol/echo", "1.0.0", "main").input("text", "hi");
    let created = run_expecting(
        CreateTask::new(request.clone()),
        200,
        r#"{"taskID":"t-1"}"#,
        |c| async move { c.create_task(request).await },
    )
    .await
    .unwrap();
    assert_eq!(created.task_id, "t-1");
}

#[tokio::test]
async fn list_tasks_sends_the_query() {
    let query = ListTasksQuery::new()
        .size(5)
        .status("running")
        .workload_id("w");
    let page = run_expecting(
        ListTasks::new(query.clone()),
        200,
        r#"{"tasks":[],"nextToken":"n2"}"#,
        |c| async move { c.list_tasks(query).await },
    )
    .await
    .unwrap();
    assert!(page.tasks.is_empty());
    assert_eq!(page.next_token.as_deref(), Some("n2"));
}

#[tokio::test]
async fn get_latest_tasks_sends_the_joined_ids() {
    let items = run_expecting(
        GetLatestTasks::new(vec!["a", " b "]),
        200,
        r#"[{"taskID":"t","workloadID":"a","status":"running","progress":10,"createdAt":1,"startTime":null,"endTime":null}]"#,
        |c| async move { c.get_latest_tasks(vec!["a", " b "]).await },
    )
    .await
    .unwrap();
    assert_eq!(items.len(), 1);
    assert_eq!(items[0].status, TaskStatus::Running);
}

const DETAIL: &str = r#"{"taskType":"user","taskID":"a/b","status":"success","progress":100,
    "workload":"serverless","workloadID":"w","schedulerPayload":{},"createdAt":1,
    "startTime":2,"endTime":3,"resultURL":null,"failedMessage":null}"#;

#[tokio::test]
async fn get_task_and_its_alias_send_the_encoded_id() {
    let detail = run_expecting(GetTask::new("a/b"), 200, DETAIL, |c| async move {
        c.get_task("a/b").await
    })
    .await
    .unwrap();
    assert_eq!(detail.task_id(), "a/b");
    let detail = run_expecting(GetTask::new("a/b"), 200, DETAIL, |c| async move {
        c.get_task_detail("a/b").await
    })
    .await
    .unwrap();
    assert_eq!(detail.task_id(), "a/b");
}

#[tokio::test]
async fn get_task_result_parses_each_state_and_typed_data() {
    let running = run_expecting(
        GetTaskResult::new("t"),
        200,
        r#"{"status":"running","progress":42.5}"#,
        |c| async move { c.get_task_result("t").await },
    )
    .await
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
        |c| async move { c.get_task_result("t").await?.data_as::<Vec<Item>>() },
    )
    .await
    .unwrap();
    match typed {
        TaskResult::Success(success) => assert_eq!(success.result_data, Some(vec![Item { n: 7 }])),
        other => panic!("expected success, got {other:?}"),
    }
}

#[tokio::test]
async fn dashboard_pause_resume_and_logs_send_the_core_requests() {
    let dashboard = run_expecting(
        GetDashboard,
        200,
        r#"{"limits":{"maxConcurrency":3,"maxQueueSize":9},"count":{"queued":1,"scheduling":0,"scheduled":0,"running":2},"pause":{"paused":false,"type":null,"canResume":false}}"#,
        |c| async move { c.get_dashboard().await },
    )
    .await
    .unwrap();
    assert_eq!(dashboard.limits.max_concurrency, 3);
    assert_eq!(dashboard.count.running, 2);

    let paused = run_expecting(
        SetTasksPause::pause(),
        200,
        r#"{"pauseType":"user"}"#,
        |c| async move { c.pause_user_queue().await },
    )
    .await
    .unwrap();
    assert!(paused.pause_type.is_some());
    let paused = run_expecting(
        SetTasksPause::new(true),
        200,
        r#"{"pauseType":"user"}"#,
        |c| async move { c.set_tasks_pause(true).await },
    )
    .await
    .unwrap();
    assert!(paused.pause_type.is_some());
    let resumed = run_expecting(
        SetTasksPause::resume(),
        200,
        r#"{"pauseType":null}"#,
        |c| async move { c.resume_user_queue().await },
    )
    .await
    .unwrap();
    assert_eq!(resumed.pause_type, None);

    let logs = run_expecting(
        GetTaskLogs::new("t").page(2),
        200,
        r#"{"logs":[{"level":"info","message":"hi"}]}"#,
        |c| async move { c.get_task_logs("t", Some(2)).await },
    )
    .await
    .unwrap();
    assert_eq!(logs.logs[0].get_str("message"), Some("hi"));
}

#[tokio::test]
async fn execute_runs_any_core_operation() {
    let page = run_expecting(
        ListTasks::new(ListTasksQuery::new().size(1)),
        200,
        r#"{"tasks":[],"nextToken":null}"#,
        |c| async move {
            c.execute(&ListTasks::new(ListTasksQuery::new().size(1)))
                .await
        },
    )
    .await
    .unwrap();
    assert_eq!(page.next_token, None);
}

#[tokio::test]
async fn bad_input_is_refused_before_anything_is_sent() {
    let mut mock = MockTransport::new();
    mock.expect_send().never();
    let client = client(mock, &FakeTimer::new());

    let error = client
        .list_tasks(ListTasksQuery::new().size(0))
        .await
        .unwrap_err();
    assert!(
        matches!(&error, Error::InvalidInput(e) if e.field == "size"),
        "{error:?}"
    );
    assert_eq!(
        error.to_string(),
        "size must be an integer between 1 and 100"
    );

    let error = client.get_task(" ").await.unwrap_err();
    assert!(
        matches!(&error, Error::InvalidInput(e) if e.field == "task_id"),
        "{error:?}"
    );

    let error = client
        .get_latest_tasks(Vec::<String>::new())
        .await
        .unwrap_err();
    assert!(matches!(&error, Error::InvalidInput(e) if e.field == "workload_ids"));

    let error = client
        .create_task(CreateTaskRequest::new("", "1.0.0", "main"))
        .await
        .unwrap_err();
    assert!(matches!(&error, Error::InvalidInput(e) if e.field == "package_name"));

    let error = client.get_task_logs("t", Some(0)).await.unwrap_err();
    assert!(matches!(&error, Error::InvalidInput(e) if e.field == "page"));
}

#[tokio::test]
async fn errors_map_as_the_core_says() {
    let api = run_expecting(
        GetDashboard,
        500,
        r#"{"message":"database down"}"#,
        |c| async move { c.get_dashboard().await },
    )
    .await
    .unwrap_err();
    match &api {
        Error::Api(e) => {
            assert_eq!(e.status.as_u16(), 500);
            assert_eq!(e.message, "database down");
        }
        other => panic!("expected an API error, got {other:?}"),
    }

    let decode = run_expecting(GetDashboard, 200, "{not json", |c| async move {
        c.get_dashboard().await
    })
    .await
    .unwrap_err();
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
    let error = client(mock, &FakeTimer::new())
        .get_dashboard()
        .await
        .unwrap_err();
    assert!(matches!(&error, Error::Transport(t) if t.kind == TransportErrorKind::Connect));
}

#[tokio::test]
async fn a_failed_create_is_not_retried() {
    for failure in [
        Err(Error::transport(
            TransportErrorKind::Io,
            std::io::Error::new(std::io::ErrorKind::ConnectionReset, "reset"),
        )),
        Ok(response(503, r#"{"message":"busy"}"#)),
    ] {
        let mut mock = MockTransport::new();
        let mut failure = Some(failure);
        mock.expect_send()
            .times(1)
            .returning(move |_, _| failure.take().expect("sent once"));
        let timer = FakeTimer::new();
        let client = client(mock, &timer);
        let outcome = client
            .create_and_wait(
                CreateTaskRequest::new("@oomol/echo", "1", "main"),
                Default::default(),
            )
            .await;
        assert!(outcome.is_err());
        assert!(timer.sleeps().is_empty(), "no wait, no second try");
    }
}

#[tokio::test]
async fn list_all_walks_every_page_with_the_paginator_requests() {
    let query = ListTasksQuery::new().size(2).status("success");
    let item = |id: &str| {
        format!(
            r#"{{"taskID":"{id}","taskType":"user","ownerID":"o","subscriptionID":null,"packageID":null,
            "status":"success","progress":100,"workload":"serverless","workloadID":"w","resultURL":null,
            "failedMessage":null,"createdAt":1,"updatedAt":2,"startTime":null,"endTime":null,"schedulerPayload":{{}}}}"#
        )
    };
    let pages = [
        (format!(
            r#"{{"tasks":[{},{}],"nextToken":"p2"}}"#,
            item("a"),
            item("b")
        )),
        (format!(r#"{{"tasks":[{}],"nextToken":"p3"}}"#, item("c"))),
        (format!(r#"{{"tasks":[{}],"nextToken":null}}"#, item("d"))),
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
    assert_eq!(expected.len(), 3);

    let mut mock = MockTransport::new();
    let mut sequence = mockall::Sequence::new();
    for (request, page) in expected.into_iter().zip(pages) {
        mock.expect_send()
            .times(1)
            .in_sequence(&mut sequence)
            .withf(move |r, _| same_request(r, &request))
            .returning(move |_, _| Ok(response(200, &page)));
    }
    let tasks: Vec<_> = client(mock, &FakeTimer::new())
        .list_all(query)
        .try_collect()
        .await
        .unwrap();
    let ids: Vec<_> = tasks.iter().map(|t| t.task_id.as_str()).collect();
    assert_eq!(ids, ["a", "b", "c", "d"]);
}

#[tokio::test]
async fn list_all_yields_an_error_once_then_ends() {
    let mut mock = MockTransport::new();
    mock.expect_send()
        .times(1)
        .returning(|_, _| Ok(response(500, r#"{"message":"boom"}"#)));
    let items: Vec<_> = futures_util::StreamExt::collect::<Vec<_>>(
        client(mock, &FakeTimer::new()).list_all(ListTasksQuery::new()),
    )
    .await;
    assert_eq!(items.len(), 1);
    assert!(matches!(&items[0], Err(Error::Api(e)) if e.message == "boom"));

    let mut mock = MockTransport::new();
    mock.expect_send().never();
    let items: Vec<_> = futures_util::StreamExt::collect::<Vec<_>>(
        client(mock, &FakeTimer::new()).list_all(ListTasksQuery::new().size(101)),
    )
    .await;
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

#[tokio::test]
async fn default_headers_and_cookie_auth_reach_api_requests() {
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
    client.resume_user_queue().await.unwrap();
}
