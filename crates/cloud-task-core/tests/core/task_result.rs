use cloud_task_core::{Error, GetTaskResult, Operation, TaskResult, TaskStatus, TaskSuccess};
use serde_json::json;

use crate::{assert_authorised, config, response};

fn parse(body: &str) -> TaskResult {
    GetTaskResult::new("t").parse(response(200, body)).unwrap()
}

#[test]
fn request_path() {
    let request = GetTaskResult::new("a b").request(&config()).unwrap();
    assert_eq!(request.uri().path(), "/v3/users/me/tasks/a%20b/result");
    assert_authorised(&request);
}

#[test]
fn every_in_progress_status() {
    for status in ["queued", "scheduling", "scheduled", "running"] {
        let result = parse(&format!(r#"{{"status":"{status}","progress":42.5}}"#));
        assert_eq!(
            result,
            TaskResult::InProgress {
                status: TaskStatus::from(status),
                progress: 42.5
            }
        );
        assert!(!result.is_terminal());
    }
}

#[test]
fn unknown_status_is_in_progress() {
    let result = parse(r#"{"status":"warming-up"}"#);
    assert_eq!(
        result,
        TaskResult::InProgress {
            status: TaskStatus::Unknown("warming-up".into()),
            progress: 0.0
        }
    );
}

#[test]
fn success_with_a_list_an_object_or_nothing() {
    let list = parse(r#"{"status":"success","resultURL":"https://r","resultData":[{"a":1}]}"#);
    assert_eq!(
        list,
        TaskResult::Success(TaskSuccess::new(
            Some("https://r".into()),
            Some(json!([{"a": 1}]))
        ))
    );
    let object = parse(r#"{"status":"success","resultURL":null,"resultData":{"a":1}}"#);
    assert!(matches!(object, TaskResult::Success(s) if s.result_data == Some(json!({"a": 1}))));
    let none = parse(r#"{"status":"success","resultURL":null}"#);
    assert_eq!(none, TaskResult::Success(TaskSuccess::new(None, None)));
    assert!(none.is_terminal());
}

#[test]
fn failed_with_and_without_error() {
    assert_eq!(
        parse(r#"{"status":"failed","error":"boom"}"#),
        TaskResult::Failed {
            error: Some("boom".into())
        }
    );
    assert_eq!(
        parse(r#"{"status":"failed","error":null}"#),
        TaskResult::Failed { error: None }
    );
}

#[test]
fn typed_result_data() {
    #[derive(serde::Deserialize, Debug, PartialEq)]
    struct Out {
        text: String,
    }
    let op = GetTaskResult::new_as::<Vec<Out>>("t");
    let result = op
        .parse(response(
            200,
            r#"{"status":"success","resultURL":null,"resultData":[{"text":"hi","more":1}]}"#,
        ))
        .unwrap();
    match result {
        TaskResult::Success(s) => {
            assert_eq!(s.result_data.unwrap(), vec![Out { text: "hi".into() }])
        }
        other => panic!("{other:?}"),
    }
    // A typed caller still sees in-progress results without any data.
    let running = op
        .parse(response(200, r#"{"status":"running","progress":1}"#))
        .unwrap();
    assert_eq!(running.status(), TaskStatus::Running);
}

#[test]
fn data_of_the_wrong_shape_is_a_decode_error_with_the_body() {
    let body = r#"{"status":"success","resultURL":null,"resultData":{"text":5}}"#;
    let err = GetTaskResult::new_as::<Vec<String>>("t")
        .parse(response(200, body))
        .unwrap_err();
    match err {
        Error::Decode(d) => {
            assert_eq!(d.what, "task result data");
            assert_eq!(d.body_text(), body);
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn serialises_back_to_the_wire_shape() {
    let cases = [
        (
            TaskResult::InProgress {
                status: TaskStatus::Running,
                progress: 10.0,
            },
            json!({"status": "running", "progress": 10.0}),
        ),
        (
            TaskResult::Success(TaskSuccess::new(None, Some(json!([{"x": 1}])))),
            json!({"status": "success", "resultURL": null, "resultData": [{"x": 1}]}),
        ),
        (
            TaskResult::Failed {
                error: Some("e".into()),
            },
            json!({"status": "failed", "error": "e"}),
        ),
    ];
    for (result, wire) in cases {
        assert_eq!(serde_json::to_value(&result).unwrap(), wire);
        let back: TaskResult = serde_json::from_value(wire).unwrap();
        assert_eq!(back, result);
    }
}
