//! Bad input: every validation rule refuses before anything is sent. Each call of both
//! drivers goes to a live emulator, which must see no request at all, and the error names
//! the field and carries the official message.

use std::time::Duration;

use cloud_task_async::{
    AwaitOptions, CreateTaskRequest, Error, ListTasksQuery, Result, UploadOptions,
};
use cloud_task_emulator::Emulator;
use futures_util::StreamExt;

use crate::support::{async_client, blocking_client};

/// Asserts `outcome` is an invalid-input error about `field` whose message is `message`.
#[track_caller]
fn refused<T: std::fmt::Debug>(outcome: Result<T>, field: &str, message: &str) {
    match outcome {
        Err(Error::InvalidInput(e)) => {
            assert_eq!(e.field, field, "{e:?}");
            assert_eq!(e.message, message);
            assert_eq!(Error::InvalidInput(e).to_string(), message);
        }
        other => panic!("expected {field} to be refused with {message:?}, got {other:?}"),
    }
}

fn create(package: &str, version: &str, block: &str) -> CreateTaskRequest {
    CreateTaskRequest::new(package, version, block)
}

/// The create requests refused, with the field and message of each.
fn bad_creates() -> Vec<(CreateTaskRequest, &'static str, &'static str)> {
    vec![
        (
            create("", "1.0.0", "main"),
            "package_name",
            "package_name must not be empty",
        ),
        (
            create("  ", "1.0.0", "main"),
            "package_name",
            "package_name must not be empty",
        ),
        (
            create("@oomol/echo", "", "main"),
            "package_version",
            "package_version must not be empty",
        ),
        (
            create("@oomol/echo", "1.0.0", "\t"),
            "block_name",
            "block_name must not be empty",
        ),
    ]
}

const SIZE: &str = "size must be an integer between 1 and 100";
const TASK_ID: &str = "task_id must not be empty";
const NO_IDS: &str = "workload_ids cannot be empty";
const TOO_MANY_IDS: &str = "workload_ids cannot exceed 50 items";
const EMPTY_ID: &str = "workload_ids must not contain empty items";
const PAGE: &str = "page must be an integer of at least 1";

fn fifty_one() -> Vec<String> {
    (0..51).map(|i| format!("w-{i}")).collect()
}

fn quick() -> AwaitOptions {
    AwaitOptions::new()
        .interval(Duration::from_millis(5))
        .timeout(Duration::from_secs(5))
}

#[tokio::test]
async fn the_async_client_refuses_bad_input_before_sending() {
    let emulator = Emulator::builder().start().await.unwrap();
    let client = async_client(&emulator, &emulator.api_key());

    for (request, field, message) in bad_creates() {
        refused(client.create_task(request.clone()).await, field, message);
        refused(
            client.create_and_wait(request, quick()).await,
            field,
            message,
        );
    }
    for size in [0, 101, u32::MAX] {
        let query = ListTasksQuery::new().size(size);
        refused(client.list_tasks(query.clone()).await, "size", SIZE);
        let first = client.list_all(query).next().await.expect("one item");
        refused(first, "size", SIZE);
    }
    refused(
        client.get_latest_tasks(Vec::<String>::new()).await,
        "workload_ids",
        NO_IDS,
    );
    refused(client.get_latest_tasks(" ").await, "workload_ids", NO_IDS);
    refused(
        client.get_latest_tasks(fifty_one()).await,
        "workload_ids",
        TOO_MANY_IDS,
    );
    refused(
        client.get_latest_tasks(vec!["a", " "]).await,
        "workload_ids",
        EMPTY_ID,
    );
    for id in ["", " ", "\n"] {
        refused(client.get_task(id).await, "task_id", TASK_ID);
        refused(client.get_task_detail(id).await, "task_id", TASK_ID);
        refused(client.get_task_result(id).await, "task_id", TASK_ID);
        refused(client.get_task_logs(id, None).await, "task_id", TASK_ID);
        refused(client.await_result(id, quick()).await, "task_id", TASK_ID);
        let first = client.watch(id, quick()).next().await.expect("one item");
        refused(first, "task_id", TASK_ID);
    }
    refused(client.get_task_logs("t-1", Some(0)).await, "page", PAGE);
    let many = client.await_many(["", " "], quick()).await;
    assert_eq!(many.len(), 2);
    for outcome in many {
        refused(outcome, "task_id", TASK_ID);
    }

    // A directory is not a file to upload; a missing file fails to open. Neither sends.
    let dir = tempfile::tempdir().unwrap();
    let error = client
        .upload_file(dir.path(), UploadOptions::new())
        .await
        .unwrap_err();
    assert!(
        matches!(&error, Error::InvalidInput(e) if e.field == "path" && e.message.ends_with("is a directory")),
        "{error:?}"
    );
    let error = client
        .upload_file(dir.path().join("missing.pdf"), UploadOptions::new())
        .await
        .unwrap_err();
    assert!(matches!(error, Error::Io(_)), "{error:?}");

    assert_eq!(emulator.stats().total(), 0, "a refused call sent a request");
}

#[test]
fn the_blocking_client_refuses_bad_input_before_sending() {
    let emulator = Emulator::builder().start_blocking().unwrap();
    let client = blocking_client(&emulator, &emulator.api_key());

    for (request, field, message) in bad_creates() {
        refused(client.create_task(request.clone()), field, message);
        refused(client.create_and_wait(request, quick()), field, message);
    }
    for size in [0, 101, u32::MAX] {
        let query = ListTasksQuery::new().size(size);
        refused(client.list_tasks(query.clone()), "size", SIZE);
        let first = client.list_all(query).next().expect("one item");
        refused(first, "size", SIZE);
    }
    refused(
        client.get_latest_tasks(Vec::<String>::new()),
        "workload_ids",
        NO_IDS,
    );
    refused(client.get_latest_tasks(" "), "workload_ids", NO_IDS);
    refused(
        client.get_latest_tasks(fifty_one()),
        "workload_ids",
        TOO_MANY_IDS,
    );
    refused(
        client.get_latest_tasks(vec!["a", " "]),
        "workload_ids",
        EMPTY_ID,
    );
    for id in ["", " ", "\n"] {
        refused(client.get_task(id), "task_id", TASK_ID);
        refused(client.get_task_detail(id), "task_id", TASK_ID);
        refused(client.get_task_result(id), "task_id", TASK_ID);
        refused(client.get_task_logs(id, None), "task_id", TASK_ID);
        refused(client.await_result(id, quick()), "task_id", TASK_ID);
        let first = client.watch(id, quick()).next().expect("one item");
        refused(first, "task_id", TASK_ID);
    }
    refused(client.get_task_logs("t-1", Some(0)), "page", PAGE);
    let many = client.await_many(["", " "], quick());
    assert_eq!(many.len(), 2);
    for outcome in many {
        refused(outcome, "task_id", TASK_ID);
    }

    let dir = tempfile::tempdir().unwrap();
    let error = client
        .upload_file(dir.path(), UploadOptions::new())
        .unwrap_err();
    assert!(
        matches!(&error, Error::InvalidInput(e) if e.field == "path" && e.message.ends_with("is a directory")),
        "{error:?}"
    );
    let error = client
        .upload_file(dir.path().join("missing.pdf"), UploadOptions::new())
        .unwrap_err();
    assert!(matches!(error, Error::Io(_)), "{error:?}");

    assert_eq!(emulator.stats().total(), 0, "a refused call sent a request");
}

/// The builders of both clients name the field they refuse; no client, so nothing sent.
#[test]
fn both_builders_refuse_bad_configuration_naming_the_field() {
    type Case = (
        &'static str,
        fn(cloud_task_async::ClientBuilder) -> cloud_task_async::ClientBuilder,
        fn(cloud_task_blocking::ClientBuilder) -> cloud_task_blocking::ClientBuilder,
    );
    let cases: Vec<Case> = vec![
        ("api_key", |b| b.api_key(""), |b| b.api_key("")),
        ("api_key", |b| b.api_key("a\nb"), |b| b.api_key("a\nb")),
        (
            "base_url",
            |b| b.base_url("ftp://x"),
            |b| b.base_url("ftp://x"),
        ),
        (
            "base_url",
            |b| b.base_url("not a url"),
            |b| b.base_url("not a url"),
        ),
        (
            "base_url",
            |b| b.base_url("http://h?q=1"),
            |b| b.base_url("http://h?q=1"),
        ),
        (
            "upload_base_url",
            |b| b.upload_base_url("//no-scheme"),
            |b| b.upload_base_url("//no-scheme"),
        ),
        (
            "default_headers",
            |b| b.default_header("bad name", "v"),
            |b| b.default_header("bad name", "v"),
        ),
        (
            "default_headers",
            |b| b.default_header("X-Ok", "line\nbreak"),
            |b| b.default_header("X-Ok", "line\nbreak"),
        ),
        (
            "user_agent",
            |b| b.user_agent("a\u{7f}"),
            |b| b.user_agent("a\u{7f}"),
        ),
        (
            "timeout",
            |b| b.timeout(Duration::ZERO),
            |b| b.timeout(Duration::ZERO),
        ),
        (
            "connect_timeout",
            |b| b.connect_timeout(Duration::ZERO),
            |b| b.connect_timeout(Duration::ZERO),
        ),
    ];
    for (field, on_async, on_blocking) in cases {
        for error in [
            on_async(cloud_task_async::Client::builder().api_key("k"))
                .build()
                .map(|_| ())
                .unwrap_err(),
            on_blocking(cloud_task_blocking::Client::builder().api_key("k"))
                .build()
                .map(|_| ())
                .unwrap_err(),
        ] {
            match &error {
                Error::InvalidInput(e) => {
                    assert_eq!(e.field, field, "{e:?}");
                    // "default_headers" is named as "default header".
                    let named = field.trim_end_matches('s').replace('_', " ");
                    assert!(
                        e.message.contains(field) || e.message.contains(&named),
                        "the message names the field: {e}"
                    );
                }
                other => panic!("{field}: expected invalid input, got {other:?}"),
            }
        }
    }
}
