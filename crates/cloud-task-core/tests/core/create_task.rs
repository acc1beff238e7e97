use cloud_task_core::{Config, CreateTask, CreateTaskRequest, Error, Operation, http::Method};
use serde_json::json;

use crate::{assert_authorised, assert_invalid, config, header, json_body, response};

fn op() -> CreateTask {
    CreateTask::new(
        CreateTaskRequest::new("@oomol/my-package", "1.0.0", "main").input("text", "hello"),
    )
}

#[test]
fn builds_the_exact_request() {
    let request = op().request(&config()).unwrap();
    assert_eq!(request.method(), Method::POST);
    assert_eq!(
        request.uri(),
        "https://cloud-task.oomol.com/v3/users/me/tasks"
    );
    assert_authorised(&request);
    assert_eq!(
        header(request.headers(), "content-type"),
        Some("application/json")
    );
    assert_eq!(
        json_body(&request),
        json!({"type": "serverless", "packageName": "@oomol/my-package",
               "packageVersion": "1.0.0", "blockName": "main",
               "inputValues": {"text": "hello"}})
    );
}

#[test]
fn omits_input_values_when_absent() {
    let request = CreateTask::new(CreateTaskRequest::new("p", "1", "b"))
        .request(&config())
        .unwrap();
    assert_eq!(
        std::str::from_utf8(request.body()).unwrap(),
        r#"{"type":"serverless","packageName":"p","packageVersion":"1","blockName":"b"}"#
    );
}

#[test]
fn normalises_legacy_fields_away() {
    let request: CreateTaskRequest = serde_json::from_value(json!({
        "type": "applet", "packageName": "p", "packageVersion": "1", "blockName": "b",
        "inputValues": {"n": 3}, "webhookUrl": "https://hook", "metadata": {"a": 1}
    }))
    .unwrap();
    let body = json_body(&CreateTask::new(request).request(&config()).unwrap());
    assert_eq!(
        body,
        json!({"type": "serverless", "packageName": "p", "packageVersion": "1",
               "blockName": "b", "inputValues": {"n": 3}})
    );
}

#[test]
fn inputs_from_a_serializable_struct() {
    #[derive(serde::Serialize)]
    struct Inputs {
        text: &'static str,
        count: u32,
    }
    let req = CreateTaskRequest::new("p", "1", "b")
        .inputs(&Inputs {
            text: "x",
            count: 2,
        })
        .unwrap();
    assert_eq!(
        serde_json::to_value(req.input_values).unwrap(),
        json!({"text": "x", "count": 2})
    );
    let err = CreateTaskRequest::new("p", "1", "b")
        .inputs(&vec![1, 2])
        .unwrap_err();
    assert_invalid(
        err,
        "input_values",
        "input_values must be a JSON object, not an array",
    );
}

#[test]
fn without_api_key_sends_no_authorization() {
    let request = op().request(&Config::default()).unwrap();
    assert!(request.headers().get("authorization").is_none());
}

#[test]
fn sdk_headers_win_over_default_headers() {
    let config = Config::builder()
        .api_key("real")
        .default_header("Authorization", "Bearer fake")
        .default_header("Content-Type", "text/plain")
        .default_header("Cookie", "oomol-token=abc")
        .build()
        .unwrap();
    let request = op().request(&config).unwrap();
    let h = request.headers();
    assert_eq!(h.get_all("authorization").iter().count(), 1);
    assert_eq!(header(h, "authorization"), Some("Bearer real"));
    assert_eq!(h.get_all("content-type").iter().count(), 1);
    assert_eq!(header(h, "content-type"), Some("application/json"));
    assert_eq!(header(h, "cookie"), Some("oomol-token=abc"));
}

#[test]
fn refuses_empty_fields_naming_them() {
    let cases = [
        (CreateTaskRequest::new("", "1", "b"), "package_name"),
        (CreateTaskRequest::new("p", "  ", "b"), "package_version"),
        (CreateTaskRequest::new("p", "1", "\t"), "block_name"),
    ];
    for (req, field) in cases {
        let err = CreateTask::new(req).request(&config()).unwrap_err();
        assert_invalid(err, field, &format!("{field} must not be empty"));
    }
}

#[test]
fn parses_the_task_id() {
    let out = op()
        .parse(response(200, r#"{"taskID":"t-1","extra":true}"#))
        .unwrap();
    assert_eq!(out.task_id, "t-1");
}

#[test]
fn api_error_carries_status_message_and_body() {
    let err = op()
        .parse(response(
            429,
            r#"{"message":"queue is full","code":"QUEUE_FULL"}"#,
        ))
        .unwrap_err();
    match err {
        Error::Api(api) => {
            assert_eq!(api.status, 429);
            assert_eq!(api.message, "queue is full");
            assert_eq!(api.code.as_deref(), Some("QUEUE_FULL"));
            assert_eq!(api.body.unwrap()["code"], "QUEUE_FULL");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn api_error_without_json_body_says_request_failed() {
    let err = op()
        .parse(response(502, "<html>bad gateway</html>"))
        .unwrap_err();
    match &err {
        Error::Api(api) => {
            assert_eq!(api.message, "Request failed: 502");
            assert!(api.body.is_none());
        }
        other => panic!("{other:?}"),
    }
    // The official error's text: no status appended (it is in `status()`).
    assert_eq!(err.to_string(), "Request failed: 502");
    assert_eq!(err.status(), Some(http::StatusCode::BAD_GATEWAY));
}

#[test]
fn decode_error_keeps_the_raw_body() {
    let err = op().parse(response(200, r#"{"taskId": 5"#)).unwrap_err();
    match err {
        Error::Decode(d) => {
            assert_eq!(d.body, br#"{"taskId": 5"#);
            assert_eq!(d.what, "create task");
            assert_eq!(d.body_text(), r#"{"taskId": 5"#);
        }
        other => panic!("{other:?}"),
    }
}
