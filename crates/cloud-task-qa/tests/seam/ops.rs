//! Every operation sends exactly the core's request; errors map as the core says. Written
//! once, compiled against each client (see `main.rs`).

use super::sdk::core::{
    CreateTask, GetDashboard, GetLatestTasks, GetTask, GetTaskLogs, GetTaskResult, HttpRequest,
    ListTasks, Operation, PageAction, Paginator, SetTasksPause, TransportErrorKind,
};
use super::sdk::{
    AwaitOptions, Client, CreateTaskRequest, Error, ListTasksQuery, TaskResult, TaskStatus,
};
use super::shim::{FakeTimer, MockTransport, client, client_with};
use crate::common::{KEY, config, response, same_request};

/// A client whose transport expects exactly `op`'s request once and answers
/// `status`/`body`.
fn expecting<O: Operation>(op: O, status: u16, body: &'static str) -> Client {
    let expected = op.request(&config()).expect("the core builds the request");
    let mut mock = MockTransport::new();
    mock.expect_send()
        .times(1)
        .withf(move |request, _| same_request(request, &expected))
        .returning(move |_, _| Ok(response(status, body)));
    client(mock, &FakeTimer::new())
}

seam_test! {
    fn create_task_sends_the_core_request_and_parses_the_id() {
        let request = CreateTaskRequest::new("@oomol/echo", "1.0.0", "main").input("text", "hi");
        let c = expecting(CreateTask::new(request.clone()), 200, r#"{"taskID":"t-1"}"#);
        let created = run!(c.create_task(request)).unwrap();
        assert_eq!(created.task_id, "t-1");
    }
}

seam_test! {
    fn list_tasks_sends_the_query() {
        let query = ListTasksQuery::new()
            .size(5)
            .status("running")
            .workload_id("w");
        let c = expecting(ListTasks::new(query.clone()), 200, r#"{"tasks":[],"nextToken":"n2"}"#);
        let page = run!(c.list_tasks(query)).unwrap();
        assert!(page.tasks.is_empty());
        assert_eq!(page.next_token.as_deref(), Some("n2"));
    }
}

seam_test! {
    fn get_latest_tasks_sends_the_joined_ids() {
        let c = expecting(
            GetLatestTasks::new(vec!["a", " b "]),
            200,
            r#"[{"taskID":"t","workloadID":"a","status":"running","progress":10,"createdAt":1,"startTime":null,"endTime":null}]"#,
        );
        let items = run!(c.get_latest_tasks(vec!["a", " b "])).unwrap();
        assert_eq!(items.len(), 1);
        assert_eq!(items[0].status, TaskStatus::Running);
        let c = expecting(GetLatestTasks::new("a,b"), 200, "[]");
        let items = run!(c.get_latest_tasks("a,b")).unwrap();
        assert!(items.is_empty());
    }
}

const DETAIL: &str = r#"{"taskType":"user","taskID":"a/b","status":"success","progress":100,
    "workload":"serverless","workloadID":"w","schedulerPayload":{},"createdAt":1,
    "startTime":2,"endTime":3,"resultURL":null,"failedMessage":null}"#;

seam_test! {
    fn get_task_and_its_alias_send_the_encoded_id() {
        let c = expecting(GetTask::new("a/b"), 200, DETAIL);
        let detail = run!(c.get_task("a/b")).unwrap();
        assert_eq!(detail.task_id(), "a/b");
        let c = expecting(GetTask::new("a/b"), 200, DETAIL);
        let detail = run!(c.get_task_detail("a/b")).unwrap();
        assert_eq!(detail.task_id(), "a/b");
    }
}

seam_test! {
    fn get_task_result_parses_each_state_and_typed_data() {
        let c = expecting(GetTaskResult::new("t"), 200, r#"{"status":"running","progress":42.5}"#);
        let running = run!(c.get_task_result("t")).unwrap();
        assert!(matches!(running, TaskResult::InProgress { progress, .. } if progress == 42.5));

        #[derive(serde::Deserialize, Debug, PartialEq)]
        struct Item {
            n: u32,
        }
        let c = expecting(
            GetTaskResult::new_as::<Vec<Item>>("t"),
            200,
            r#"{"status":"success","resultURL":null,"resultData":[{"n":7}]}"#,
        );
        let typed = run!(c.get_task_result("t"))
            .and_then(|result| result.data_as::<Vec<Item>>())
            .unwrap();
        match typed {
            TaskResult::Success(success) => {
                assert_eq!(success.result_data, Some(vec![Item { n: 7 }]))
            }
            other => panic!("expected success, got {other:?}"),
        }
    }
}

seam_test! {
    fn dashboard_pause_resume_and_logs_send_the_core_requests() {
        let c = expecting(
            GetDashboard,
            200,
            r#"{"limits":{"maxConcurrency":3,"maxQueueSize":9},"count":{"queued":1,"scheduling":0,"scheduled":0,"running":2},"pause":{"paused":false,"type":null,"canResume":false}}"#,
        );
        let dashboard = run!(c.get_dashboard()).unwrap();
        assert_eq!(dashboard.limits.max_concurrency, 3);
        assert_eq!(dashboard.count.running, 2);

        let c = expecting(SetTasksPause::pause(), 200, r#"{"pauseType":"user"}"#);
        assert!(run!(c.pause_user_queue()).unwrap().pause_type.is_some());
        let c = expecting(SetTasksPause::new(true), 200, r#"{"pauseType":"user"}"#);
        assert!(run!(c.set_tasks_pause(true)).unwrap().pause_type.is_some());
        let c = expecting(SetTasksPause::resume(), 200, r#"{"pauseType":null}"#);
        assert_eq!(run!(c.resume_user_queue()).unwrap().pause_type, None);

        let c = expecting(
            GetTaskLogs::new("t").page(2),
            200,
            r#"{"logs":[{"level":"info","message":"hi"}]}"#,
        );
        let logs = run!(c.get_task_logs("t", Some(2))).unwrap();
        assert_eq!(logs.logs[0].get_str("message"), Some("hi"));
        let c = expecting(GetTaskLogs::new("t"), 200, r#"{"logs":[]}"#);
        assert!(run!(c.get_task_logs("t", None)).unwrap().logs.is_empty());
    }
}

seam_test! {
    fn execute_runs_any_core_operation() {
        let op = ListTasks::new(ListTasksQuery::new().size(1));
        let c = expecting(op.clone(), 200, r#"{"tasks":[],"nextToken":null}"#);
        let page = run!(c.execute(&op)).unwrap();
        assert_eq!(page.next_token, None);
    }
}

seam_test! {
    fn bad_input_is_refused_before_anything_is_sent() {
        let mut mock = MockTransport::new();
        mock.expect_send().never();
        let client = client(mock, &FakeTimer::new());

        let error = run!(client.list_tasks(ListTasksQuery::new().size(0))).unwrap_err();
        assert!(
            matches!(&error, Error::InvalidInput(e) if e.field == "size"),
            "{error:?}"
        );
        assert_eq!(error.to_string(), "size must be an integer between 1 and 100");

        let error = run!(client.get_task(" ")).unwrap_err();
        assert!(
            matches!(&error, Error::InvalidInput(e) if e.field == "task_id"),
            "{error:?}"
        );
        let error = run!(client.await_result("", AwaitOptions::new())).unwrap_err();
        assert!(matches!(&error, Error::InvalidInput(e) if e.field == "task_id"));

        let error = run!(client.get_latest_tasks(Vec::<String>::new())).unwrap_err();
        assert!(matches!(&error, Error::InvalidInput(e) if e.field == "workload_ids"));

        let error =
            run!(client.create_task(CreateTaskRequest::new("", "1.0.0", "main"))).unwrap_err();
        assert!(matches!(&error, Error::InvalidInput(e) if e.field == "package_name"));
        let error = run!(client.create_and_wait(
            CreateTaskRequest::new("@oomol/echo", "", "main"),
            AwaitOptions::new(),
        ))
        .unwrap_err();
        assert!(matches!(&error, Error::InvalidInput(e) if e.field == "package_version"));

        let error = run!(client.get_task_logs("t", Some(0))).unwrap_err();
        assert!(matches!(&error, Error::InvalidInput(e) if e.field == "page"));
    }
}

seam_test! {
    fn errors_map_as_the_core_says() {
        let c = expecting(GetDashboard, 500, r#"{"message":"database down"}"#);
        match &run!(c.get_dashboard()).unwrap_err() {
            Error::Api(e) => {
                assert_eq!(e.status.as_u16(), 500);
                assert_eq!(e.message, "database down");
                assert_eq!(e.body.as_ref().unwrap()["message"], "database down");
            }
            other => panic!("expected an API error, got {other:?}"),
        }

        let c = expecting(GetDashboard, 200, "{not json");
        match &run!(c.get_dashboard()).unwrap_err() {
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
        let c = client(mock, &FakeTimer::new());
        let error = run!(c.get_dashboard()).unwrap_err();
        assert!(matches!(&error, Error::Transport(t) if t.kind == TransportErrorKind::Connect));
    }
}

seam_test! {
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
            let outcome = run!(client.create_and_wait(
                CreateTaskRequest::new("@oomol/echo", "1", "main"),
                AwaitOptions::new(),
            ));
            assert!(
                matches!(&outcome, Err(Error::Api(_) | Error::Transport(_))),
                "{outcome:?}"
            );
            assert!(timer.sleeps().is_empty(), "no wait, no second try");
        }
    }
}

fn list_item(id: &str) -> String {
    format!(
        r#"{{"taskID":"{id}","taskType":"user","ownerID":"o","subscriptionID":null,"packageID":null,
        "status":"success","progress":100,"workload":"serverless","workloadID":"w","resultURL":null,
        "failedMessage":null,"createdAt":1,"updatedAt":2,"startTime":null,"endTime":null,"schedulerPayload":{{}}}}"#
    )
}

seam_test! {
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
        let first = next!(tasks).unwrap().unwrap();
        assert_eq!(tasks.pages(), 1);
        let mut ids = vec![first.task_id];
        while let Some(task) = next!(tasks) {
            ids.push(task.unwrap().task_id);
        }
        assert_eq!(ids, ["a", "b", "c", "d"]);
        assert_eq!(tasks.pages(), 4);
        assert!(next!(tasks).is_none());
    }
}

seam_test! {
    fn list_all_yields_an_error_once_then_ends() {
        let mut mock = MockTransport::new();
        mock.expect_send()
            .times(1)
            .returning(|_, _| Ok(response(500, r#"{"message":"boom"}"#)));
        let items = all!(client(mock, &FakeTimer::new()).list_all(ListTasksQuery::new()));
        assert_eq!(items.len(), 1);
        assert!(matches!(&items[0], Err(Error::Api(e)) if e.message == "boom"));

        let mut mock = MockTransport::new();
        mock.expect_send().never();
        let items =
            all!(client(mock, &FakeTimer::new()).list_all(ListTasksQuery::new().size(101)));
        assert_eq!(items.len(), 1);
        assert!(matches!(&items[0], Err(Error::InvalidInput(_))));
    }
}

seam_test! {
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
}

seam_test! {
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
        let client = client_with(
            |b| b.default_header("Cookie", "oomol-token=abc").user_agent("my-agent/1"),
            mock,
        );
        run!(client.resume_user_queue()).unwrap();
    }
}
