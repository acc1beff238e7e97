use cloud_task_core::{
    CreateTaskRequest, Dashboard, DashboardCount, DashboardLimits, PauseState, PauseType,
    TaskDetail, TaskListItem, TaskOutcome, TaskPage, TaskStatus, TaskSuccess, TaskType,
    UserTaskDetail, Workload,
};
use serde_json::json;

#[test]
fn status_terminality() {
    for s in ["queued", "scheduling", "scheduled", "running", "mystery"] {
        let status = TaskStatus::from(s);
        assert!(!status.is_terminal(), "{s}");
        assert!(status.is_in_progress());
        assert_eq!(status.as_str(), s);
    }
    assert!(TaskStatus::Success.is_terminal());
    assert!(TaskStatus::Failed.is_terminal());
    assert_eq!(
        "success".parse::<TaskStatus>().unwrap(),
        TaskStatus::Success
    );
}

#[test]
fn enums_round_trip_unknown_values() {
    for (json, value) in [
        (json!("api_applet"), Workload::ApiApplet),
        (json!("web_task"), Workload::WebTask),
        (json!("holo"), Workload::Unknown("holo".into())),
    ] {
        let parsed: Workload = serde_json::from_value(json.clone()).unwrap();
        assert_eq!(parsed, value);
        assert_eq!(serde_json::to_value(&parsed).unwrap(), json);
    }
    let t: TaskType = serde_json::from_value(json!("shared")).unwrap();
    assert_eq!(t, TaskType::Shared);
    assert!(serde_json::from_value::<TaskStatus>(json!(5)).is_err());
}

#[test]
fn list_item_serialises_the_wire_names() {
    let item: TaskListItem = serde_json::from_value(json!({
        "taskID": "t", "taskType": "user", "ownerID": "o", "subscriptionID": null,
        "packageID": null, "status": "queued", "progress": 0, "workload": "serverless",
        "workloadID": "w", "resultURL": null, "failedMessage": null, "createdAt": 1,
        "updatedAt": 1, "startTime": null, "endTime": null, "schedulerPayload": {}
    }))
    .unwrap();
    let wire = serde_json::to_value(&item).unwrap();
    for key in [
        "taskID",
        "taskType",
        "ownerID",
        "subscriptionID",
        "packageID",
        "status",
        "progress",
        "workload",
        "workloadID",
        "resultURL",
        "failedMessage",
        "createdAt",
        "updatedAt",
        "startTime",
        "endTime",
        "schedulerPayload",
    ] {
        assert!(wire.get(key).is_some(), "missing {key}");
    }
    assert!(wire.get("blockName").is_none());
    let page = TaskPage::new(vec![item], None);
    assert_eq!(
        serde_json::to_value(&page).unwrap()["nextToken"],
        json!(null)
    );
}

#[test]
fn detail_serialises_with_its_tag() {
    let detail: TaskDetail = serde_json::from_value(json!({
        "taskType": "user", "taskID": "t", "status": "running", "progress": 1,
        "workload": "serverless", "workloadID": "w", "schedulerPayload": {}, "createdAt": 1,
        "startTime": null, "endTime": null, "resultURL": null, "failedMessage": null
    }))
    .unwrap();
    assert!(matches!(&detail, TaskDetail::User(UserTaskDetail { .. })));
    let wire = serde_json::to_value(&detail).unwrap();
    assert_eq!(wire["taskType"], "user");
    assert_eq!(wire["workloadID"], "w");
    let back: TaskDetail = serde_json::from_value(wire).unwrap();
    assert_eq!(back, detail);
}

#[test]
fn dashboard_wire_shape() {
    let d = Dashboard::new(
        DashboardLimits::new(3, 10),
        DashboardCount::new(1, 0, 0, 2),
        PauseState::new(true, Some(PauseType::User), true),
    );
    assert_eq!(
        serde_json::to_value(&d).unwrap(),
        json!({"limits": {"maxConcurrency": 3, "maxQueueSize": 10},
               "count": {"queued": 1, "scheduling": 0, "scheduled": 0, "running": 2},
               "pause": {"paused": true, "type": "user", "canResume": true}})
    );
}

#[test]
fn outcome_destructures_and_serialises() {
    let outcome = TaskOutcome::new("t", TaskSuccess::new(Some("u".into()), Some(json!([1]))));
    assert_eq!(
        serde_json::to_value(&outcome).unwrap(),
        // The official `create_and_wait` answer: the result object keeps its status.
        json!({"taskID": "t", "result": {"status": "success", "resultURL": "u", "resultData": [1]}})
    );
    let TaskOutcome { task_id, result } = outcome;
    assert_eq!(task_id, "t");
    assert_eq!(result.result_data, Some(json!([1])));
}

#[test]
fn create_request_builder() {
    let req = CreateTaskRequest::new("p", "1", "b")
        .input("a", 1)
        .input("b", "x");
    let values = req.input_values.unwrap();
    assert_eq!(values["a"], 1);
    assert_eq!(values["b"], "x");
}

#[test]
fn enum_display_honours_width() {
    assert_eq!(format!("[{:<8}]", TaskStatus::Running), "[running ]");
    assert_eq!(format!("[{:>6}]", TaskType::User), "[  user]");
}
