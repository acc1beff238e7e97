use cloud_task_core::{GetTaskLogs, Operation};
use serde_json::json;

use crate::{assert_authorised, assert_invalid, config, response};

#[test]
fn page_is_sent_only_when_set() {
    let first = GetTaskLogs::new("t/1").request(&config()).unwrap();
    assert_eq!(first.uri().path(), "/v3/users/me/tasks/t%2F1/logs");
    assert_eq!(first.uri().query(), None);
    assert_authorised(&first);
    let third = GetTaskLogs::new("t").page(3).request(&config()).unwrap();
    assert_eq!(third.uri().query(), Some("page=3"));
}

#[test]
fn page_zero_and_empty_id_are_refused() {
    let err = GetTaskLogs::new("t")
        .page(0)
        .request(&config())
        .unwrap_err();
    assert_invalid(err, "page", "page must be an integer of at least 1");
    let err = GetTaskLogs::new("").request(&config()).unwrap_err();
    assert_invalid(err, "task_id", "task_id must not be empty");
}

#[test]
fn parses_entries_and_stringified_json() {
    let body = r#"{"logs":[{"level":"info","message":"started","outputs":"{\"a\":[1,2]}"},
        {"level":"error","stacks":"not json {"}]}"#;
    let logs = GetTaskLogs::new("t").parse(response(200, body)).unwrap();
    assert_eq!(logs.logs.len(), 2);
    assert_eq!(logs.logs[0].get_str("message"), Some("started"));
    assert_eq!(logs.logs[0].parsed("outputs"), Some(json!({"a": [1, 2]})));
    assert_eq!(logs.logs[1].parsed("stacks"), Some(json!("not json {")));
    assert_eq!(logs.logs[1].parsed("missing"), None);
}
