//! Listing (order, size, filters, nextToken under concurrent creation) and latest.

use std::collections::HashSet;
use std::sync::Arc;

use cloud_task_emulator::workload_id;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::support::{Api, fast};

const TASKS: &str = "/v3/users/me/tasks";

fn ids(page: &Value) -> Vec<String> {
    page["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["taskID"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn newest_first_with_a_default_size_of_20_and_next_tokens() {
    let api = Api::start(fast().max_concurrency(0)).await;
    let mut created = Vec::new();
    for _ in 0..45 {
        created.push(api.create("@oomol/echo", Value::Null).await);
    }
    created.reverse();
    let first = api.get(TASKS).await.body;
    assert_eq!(ids(&first), created[..20]);
    let token = first["nextToken"].as_str().unwrap();
    let second = api.get(&format!("{TASKS}?nextToken={token}")).await.body;
    assert_eq!(ids(&second), created[20..40]);
    let token = second["nextToken"].as_str().unwrap();
    let third = api
        .get(&format!("{TASKS}?nextToken={token}&size=20"))
        .await
        .body;
    assert_eq!(ids(&third), created[40..]);
    assert_eq!(third["nextToken"], Value::Null);
    // An exact fit has no next page.
    let all = api.get(&format!("{TASKS}?size=45")).await.body;
    assert_eq!(ids(&all), created);
    assert_eq!(all["nextToken"], Value::Null);
    // The page parses as the core's type.
    let page: cloud_task_core::TaskPage = serde_json::from_value(first).unwrap();
    assert_eq!(page.tasks.len(), 20);
}

#[tokio::test]
async fn bad_size_and_token_are_400() {
    let api = Api::start(fast()).await;
    for size in ["0", "101", "abc", "-1", "2.5"] {
        let answer = api.get(&format!("{TASKS}?size={size}")).await;
        assert_eq!(answer.status, StatusCode::BAD_REQUEST, "size={size}");
        assert_eq!(
            answer.message(),
            "size must be an integer between 1 and 100"
        );
    }
    for size in ["1", "100"] {
        assert_eq!(
            api.get(&format!("{TASKS}?size={size}")).await.status,
            StatusCode::OK
        );
    }
    let answer = api.get(&format!("{TASKS}?nextToken=garbage")).await;
    assert_eq!(answer.status, StatusCode::BAD_REQUEST);
    assert!(answer.message().contains("nextToken"), "{answer:?}");
    let answer = api.get(&format!("{TASKS}?status=done")).await;
    assert_eq!(answer.status, StatusCode::BAD_REQUEST);
    assert!(answer.message().contains("status"), "{answer:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pages_never_repeat_or_skip_while_tasks_are_being_created() {
    let api = Arc::new(Api::start(fast().max_concurrency(0)).await);
    for _ in 0..60 {
        api.create("@oomol/echo", Value::Null).await;
    }
    let creator = {
        let api = api.clone();
        tokio::spawn(async move {
            for _ in 0..60 {
                api.create("@oomol/echo", Value::Null).await;
                tokio::task::yield_now().await;
            }
        })
    };
    let mut paged = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let path = match &token {
            Some(t) => format!("{TASKS}?size=7&nextToken={t}"),
            None => format!("{TASKS}?size=7"),
        };
        let page = api.get(&path).await.body;
        paged.extend(ids(&page));
        tokio::task::yield_now().await;
        match page["nextToken"].as_str() {
            Some(t) => token = Some(t.to_owned()),
            None => break,
        }
    }
    creator.await.unwrap();
    let unique: HashSet<&String> = paged.iter().collect();
    assert_eq!(unique.len(), paged.len(), "a task was listed twice");
    // Exactly the tasks that existed when the first page was read, newest first.
    let everything = ids(&api.get(&format!("{TASKS}?size=100")).await.body);
    let rest = ids(&api
        .get(&format!("{TASKS}?size=100&nextToken={}", {
            let page = api.get(&format!("{TASKS}?size=100")).await.body;
            page["nextToken"].as_str().unwrap().to_owned()
        }))
        .await
        .body);
    let all: Vec<String> = everything.into_iter().chain(rest).collect();
    assert_eq!(all.len(), 120);
    let start = all.iter().position(|id| *id == paged[0]).unwrap();
    assert_eq!(all[start..], paged[..]);
}

#[tokio::test]
async fn filters_by_status_workload_package_and_type() {
    let api = Api::start(fast()).await;
    let ok1 = api.create("@oomol/echo", Value::Null).await;
    let failed = api.create("@oomol/fail", Value::Null).await;
    let ok2 = api.create("@oomol/echo", Value::Null).await;
    for id in [&ok1, &failed, &ok2] {
        api.wait(id).await;
    }
    let get = |query: String| {
        let api = &api;
        async move {
            let answer = api.get(&format!("{TASKS}?{query}")).await;
            assert_eq!(answer.status, StatusCode::OK, "{query}: {answer:?}");
            ids(&answer.body)
        }
    };
    assert_eq!(
        get("status=success".into()).await,
        [ok2.clone(), ok1.clone()]
    );
    assert_eq!(
        get("status=failed".into()).await,
        std::slice::from_ref(&failed)
    );
    assert!(get("status=running".into()).await.is_empty());
    let echo = workload_id("@oomol/echo", "1.0.0", "main");
    assert_eq!(
        get(format!("workloadID={echo}")).await,
        [ok2.clone(), ok1.clone()]
    );
    assert_eq!(
        get("packageID=%40oomol%2Ffail".into()).await,
        std::slice::from_ref(&failed)
    );
    assert_eq!(
        get("taskType=user&workload=serverless".into()).await.len(),
        3
    );
    assert!(get("taskType=shared".into()).await.is_empty());
    assert!(get("workload=applet".into()).await.is_empty());
    // Empty parameters are ignored, as clients never send them.
    assert_eq!(get("status=&workloadID=".into()).await.len(), 3);
    let item = &api.get(&format!("{TASKS}?status=failed")).await.body["tasks"][0];
    // Every key of a listed task, as the official SDKs read them.
    let keys = "taskID taskType ownerID subscriptionID packageID status progress workload \
                workloadID resultURL failedMessage createdAt updatedAt startTime endTime \
                schedulerPayload";
    for key in keys.split_whitespace() {
        assert!(item.get(key).is_some(), "{key} missing from {item}");
    }
    assert_eq!(
        item["failedMessage"],
        cloud_task_emulator::DEFAULT_FAIL_MESSAGE
    );
}

#[tokio::test]
async fn latest_gives_the_newest_task_per_workload() {
    let api = Api::start(fast()).await;
    let _old = api.create("@oomol/echo", Value::Null).await;
    let slow = api
        .create("@oomol/slow", json!({"durationMs": 10_000_000}))
        .await;
    let new = api.create("@oomol/echo", Value::Null).await;
    api.wait(&new).await;
    let echo = workload_id("@oomol/echo", "1.0.0", "main");
    let slow_workload = workload_id("@oomol/slow", "1.0.0", "main");
    let answer = api
        .get(&format!(
            "{TASKS}/latest?workloadIDs={slow_workload},%20{echo},unknown"
        ))
        .await;
    assert_eq!(answer.status, StatusCode::OK, "{answer:?}");
    let items = answer.body.as_array().unwrap();
    assert_eq!(items.len(), 2);
    assert_eq!(items[0]["taskID"], slow);
    assert_eq!(items[0]["workloadID"], slow_workload);
    assert_eq!(items[0]["endTime"], Value::Null);
    assert_eq!(items[1]["taskID"], new);
    assert_eq!(items[1]["status"], "success");
    assert!(items[1]["createdAt"].is_i64() && items[1]["endTime"].is_i64());
    let parsed: Vec<cloud_task_core::LatestTaskItem> =
        serde_json::from_value(answer.body.clone()).unwrap();
    assert_eq!(parsed[1].task_id, new);
}

#[tokio::test]
async fn latest_refuses_missing_empty_and_too_many_ids() {
    let api = Api::start(fast()).await;
    let fifty: Vec<String> = (0..50).map(|i| format!("w{i}")).collect();
    let ok = api
        .get(&format!("{TASKS}/latest?workloadIDs={}", fifty.join(",")))
        .await;
    assert_eq!(ok.status, StatusCode::OK);
    assert_eq!(ok.body, json!([]));
    let fifty_one = format!("{},w50", fifty.join(","));
    for (query, expected) in [
        (String::new(), "workloadIDs is required"),
        ("?workloadIDs=".to_owned(), "workloadIDs is required"),
        (
            "?workloadIDs=a,,b".to_owned(),
            "must not contain empty items",
        ),
        (format!("?workloadIDs={fifty_one}"), "cannot exceed 50"),
    ] {
        let answer = api.get(&format!("{TASKS}/latest{query}")).await;
        assert_eq!(answer.status, StatusCode::BAD_REQUEST, "{query}");
        assert!(answer.message().contains(expected), "{query}: {answer:?}");
    }
}

#[tokio::test]
async fn workload_ids_are_stable_across_emulators_and_differ_by_block() {
    let one = Api::start(fast()).await;
    let two = Api::start(fast()).await;
    let a = one.create("@oomol/echo", Value::Null).await;
    let b = two.create("@oomol/echo", Value::Null).await;
    let wa = &one.get(&format!("{TASKS}/{a}")).await.body["workloadID"];
    let wb = &two.get(&format!("{TASKS}/{b}")).await.body["workloadID"];
    assert_eq!(wa, wb);
    assert_ne!(
        workload_id("@oomol/echo", "1.0.0", "main"),
        workload_id("@oomol/echo", "1.0.0", "other")
    );
}
