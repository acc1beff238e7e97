use cloud_task_core::{Error, GetTask, Operation, TaskDetail, TaskStatus, TaskType, Workload};

use crate::{assert_authorised, assert_invalid, config, response};

#[test]
fn task_id_is_one_encoded_segment() {
    let request = GetTask::new("a/b c?d#e").request(&config()).unwrap();
    assert_eq!(
        request.uri(),
        "https://cloud-task.oomol.com/v3/users/me/tasks/a%2Fb%20c%3Fd%23e"
    );
    assert_authorised(&request);
    let dots = GetTask::new("..").request(&config()).unwrap();
    assert_eq!(dots.uri().path(), "/v3/users/me/tasks/%2E%2E");
}

#[test]
fn empty_task_id_is_refused() {
    for id in ["", " "] {
        let err = GetTask::new(id).request(&config()).unwrap_err();
        assert_invalid(err, "task_id", "task_id must not be empty");
    }
}

#[test]
fn parses_a_user_task() {
    let body = r#"{"taskType":"user","taskID":"t","status":"running","progress":40,
        "workload":"serverless","workloadID":"w","schedulerPayload":{},"createdAt":1,
        "startTime":2,"endTime":null,"resultURL":null,"failedMessage":null}"#;
    match GetTask::new("t").parse(response(200, body)).unwrap() {
        TaskDetail::User(d) => {
            assert_eq!(d.task_id, "t");
            assert_eq!(d.workload, Workload::Serverless);
            assert_eq!(d.start_time, Some(2));
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn parses_a_shared_task() {
    let body = r#"{"taskType":"shared","taskID":"t","packageID":"p","subscriptionID":"s",
        "status":"failed","progress":100,"schedulerPayload":{},"createdAt":1,"startTime":2,
        "endTime":3,"resultURL":null,"failedMessage":"boom"}"#;
    let detail = GetTask::new("t").parse(response(200, body)).unwrap();
    assert_eq!(detail.task_type(), TaskType::Shared);
    assert_eq!(detail.status(), &TaskStatus::Failed);
    match detail {
        TaskDetail::Shared(d) => {
            assert_eq!(d.failed_message.as_deref(), Some("boom"));
            assert_eq!(d.subscription_id.as_deref(), Some("s"));
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn keeps_an_unknown_task_type() {
    let body = r#"{"taskType":"team","taskID":"t","status":"queued","progress":0,"x":1}"#;
    let detail = GetTask::new("t").parse(response(200, body)).unwrap();
    assert_eq!(detail.task_id(), "t");
    assert_eq!(detail.task_type(), TaskType::Unknown("team".into()));
    match detail {
        TaskDetail::Unknown { raw, .. } => assert_eq!(raw["x"], 1),
        other => panic!("{other:?}"),
    }
}

#[test]
fn not_found_is_an_api_error() {
    let err = GetTask::new("t")
        .parse(response(404, r#"{"message":"task not found"}"#))
        .unwrap_err();
    assert!(matches!(&err, Error::Api(a) if a.status == 404 && a.message == "task not found"));
}
