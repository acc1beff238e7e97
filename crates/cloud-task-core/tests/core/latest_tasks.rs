use cloud_task_core::{GetLatestTasks, Operation, TaskStatus, WorkloadIds};

use crate::{assert_authorised, assert_invalid, config, response};

fn query_of(ids: impl Into<WorkloadIds>) -> String {
    let request = GetLatestTasks::new(ids).request(&config()).unwrap();
    assert_eq!(request.uri().path(), "/v3/users/me/tasks/latest");
    assert_authorised(&request);
    request.uri().query().unwrap().to_owned()
}

#[test]
fn list_is_trimmed_and_comma_joined() {
    assert_eq!(query_of(vec![" a ", "b"]), "workloadIDs=a%2Cb");
    assert_eq!(query_of(["x"]), "workloadIDs=x");
}

#[test]
fn single_string_is_trimmed_and_may_hold_commas() {
    assert_eq!(query_of("  a,b  "), "workloadIDs=a%2Cb");
}

#[test]
fn list_limits() {
    let field = "workload_ids";
    let err = GetLatestTasks::new(Vec::<String>::new())
        .request(&config())
        .unwrap_err();
    assert_invalid(err, field, "workload_ids cannot be empty");

    let fifty: Vec<String> = (0..50).map(|i| format!("w{i}")).collect();
    GetLatestTasks::new(fifty.clone())
        .request(&config())
        .unwrap();
    let mut fifty_one = fifty;
    fifty_one.push("w50".into());
    let err = GetLatestTasks::new(fifty_one)
        .request(&config())
        .unwrap_err();
    assert_invalid(err, field, "workload_ids cannot exceed 50 items");

    let err = GetLatestTasks::new(vec!["a", "  "])
        .request(&config())
        .unwrap_err();
    assert_invalid(err, field, "workload_ids must not contain empty items");
}

#[test]
fn empty_single_string_is_refused() {
    for s in ["", "   "] {
        let err = GetLatestTasks::new(s).request(&config()).unwrap_err();
        assert_invalid(err, "workload_ids", "workload_ids cannot be empty");
    }
}

#[test]
fn parses_the_list() {
    let body = r#"[{"taskID":"t","workloadID":"w","status":"success","progress":100,
        "createdAt":5,"startTime":6,"endTime":7}]"#;
    let items = GetLatestTasks::new("w").parse(response(200, body)).unwrap();
    assert_eq!(items.len(), 1);
    assert_eq!(items[0].status, TaskStatus::Success);
    assert_eq!(items[0].end_time, Some(7));
}

#[test]
fn a_joined_string_is_held_to_the_same_rules_as_a_list() {
    let field = "workload_ids";
    let fifty = vec!["w"; 50].join(",");
    assert_eq!(query_of(fifty.as_str()).matches("%2C").count(), 49);
    // 51 IDs in one string were sent and refused by the server (400): refused here.
    let fifty_one = vec!["w"; 51].join(",");
    let err = GetLatestTasks::new(fifty_one)
        .request(&config())
        .unwrap_err();
    assert_invalid(err, field, "workload_ids cannot exceed 50 items");
    let err = GetLatestTasks::new("a,,b").request(&config()).unwrap_err();
    assert_invalid(err, field, "workload_ids must not contain empty items");
    assert_eq!(query_of(" a , b "), "workloadIDs=a%2Cb");
}
