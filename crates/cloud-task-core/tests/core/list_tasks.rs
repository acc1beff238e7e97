use cloud_task_core::{
    ListTasks, ListTasksQuery, Operation, TaskStatus, TaskType, Workload, http::Method,
};

use crate::{assert_authorised, assert_invalid, config, response};

#[test]
fn no_query_when_nothing_is_set() {
    let request = ListTasks::default().request(&config()).unwrap();
    assert_eq!(request.method(), Method::GET);
    assert_eq!(
        request.uri(),
        "https://cloud-task.oomol.com/v3/users/me/tasks"
    );
    assert!(request.body().is_empty());
    assert!(request.headers().get("content-type").is_none());
    assert_authorised(&request);
}

#[test]
fn every_filter_in_order() {
    let query = ListTasksQuery::new()
        .size(20)
        .next_token("tok")
        .status(TaskStatus::Running)
        .task_type(TaskType::User)
        .workload(Workload::Serverless)
        .workload_id("w-1")
        .package_id("pkg-1");
    let request = ListTasks::new(query).request(&config()).unwrap();
    assert_eq!(
        request.uri().query(),
        Some(
            "size=20&nextToken=tok&status=running&taskType=user&workload=serverless&workloadID=w-1&packageID=pkg-1"
        )
    );
}

#[test]
fn empty_strings_are_not_sent() {
    let query = ListTasksQuery::new()
        .next_token("")
        .workload_id("")
        .package_id("p");
    let request = ListTasks::new(query).request(&config()).unwrap();
    assert_eq!(request.uri().query(), Some("packageID=p"));
}

#[test]
fn query_values_are_encoded() {
    let query = ListTasksQuery::new().next_token("a+b/c=d e&f");
    let request = ListTasks::new(query).request(&config()).unwrap();
    assert_eq!(request.uri().query(), Some("nextToken=a%2Bb%2Fc%3Dd+e%26f"));
}

#[test]
fn size_must_be_1_to_100() {
    for bad in [0, 101, u32::MAX] {
        let err = ListTasks::new(ListTasksQuery::new().size(bad))
            .request(&config())
            .unwrap_err();
        assert_invalid(err, "size", "size must be an integer between 1 and 100");
    }
    for good in [1, 100] {
        ListTasks::new(ListTasksQuery::new().size(good))
            .request(&config())
            .unwrap();
    }
}

#[test]
fn parses_a_page_tolerating_unknown_fields_and_values() {
    let body = r#"{"tasks":[{"taskID":"t1","taskType":"user","ownerID":"o","subscriptionID":null,
        "packageID":"p","status":"paused-by-admin","progress":12.5,"workload":"quantum",
        "workloadID":"w","resultURL":null,"failedMessage":null,"createdAt":1,"updatedAt":2,
        "startTime":null,"endTime":null,"schedulerPayload":{"k":1},"blockName":"main","brandNew":1}],
        "nextToken":"n2","alsoNew":[]}"#;
    let page = ListTasks::default().parse(response(200, body)).unwrap();
    assert_eq!(page.next_token.as_deref(), Some("n2"));
    let task = &page.tasks[0];
    assert_eq!(task.task_id, "t1");
    assert_eq!(task.status, TaskStatus::Unknown("paused-by-admin".into()));
    assert!(task.status.is_in_progress());
    assert_eq!(task.workload, Workload::Unknown("quantum".into()));
    assert_eq!(task.block_name.as_deref(), Some("main"));
    assert_eq!(task.progress, 12.5);
    assert_eq!(task.scheduler_payload["k"], 1);
}

#[test]
fn null_next_token_is_the_last_page() {
    let page = ListTasks::default()
        .parse(response(200, r#"{"tasks":[],"nextToken":null}"#))
        .unwrap();
    assert!(page.tasks.is_empty());
    assert!(page.next_token.is_none());
}

#[test]
fn error_response_is_an_api_error() {
    let err = ListTasks::default()
        .parse(response(400, r#"{"message":"bad size"}"#))
        .unwrap_err();
    assert_eq!(err.to_string(), "bad size");
    assert_eq!(err.status(), Some(http::StatusCode::BAD_REQUEST));
}
