//! End-to-end tests of the facade: both clients, through the facade's paths, against the
//! emulator; and the core at the root.

use std::time::Duration;

use oomol_cloud_task::emulator::{Emulator, Route};
use oomol_cloud_task::{
    AwaitOptions, BackoffStrategy, CreateTaskRequest, Error, ListTasksQuery, TaskStatus,
    UploadOptions,
};

fn fast() -> AwaitOptions {
    AwaitOptions::new()
        .interval(Duration::from_millis(10))
        .strategy(BackoffStrategy::Fixed)
        .timeout(Duration::from_secs(30))
}

#[tokio::test]
async fn async_client_from_the_root() {
    let emulator = Emulator::builder().time_scale(0.01).start().await.unwrap();
    let client = oomol_cloud_task::Client::builder()
        .api_key(emulator.api_key())
        .base_url(format!("{}/v3/", emulator.base_url()))
        .upload_base_url(emulator.upload_base_url())
        .build()
        .unwrap();

    let outcome = client
        .create_and_wait(
            CreateTaskRequest::new("@oomol/echo", "1.0.0", "main").input("word", "async"),
            fast(),
        )
        .await
        .unwrap();
    assert_eq!(outcome.result.result_data.unwrap()[0]["word"], "async");

    let err = client
        .create_and_wait(
            CreateTaskRequest::new("@oomol/quota", "1.0.0", "main"),
            fast(),
        )
        .await
        .unwrap_err();
    assert!(err.is_insufficient_quota(), "{err}");

    let file = client
        .upload_bytes(vec![7u8; 1000], "seven.bin", UploadOptions::new())
        .await
        .unwrap();
    assert!(file.url.starts_with(&emulator.base_url()));
    assert_eq!(emulator.stats().count(Route::CreateTask), 2);
}

#[test]
fn blocking_client_from_its_module() {
    let emulator = Emulator::builder()
        .time_scale(0.01)
        .start_blocking()
        .unwrap();
    let client = oomol_cloud_task::blocking::Client::builder()
        .api_key(emulator.api_key())
        .base_url(emulator.base_url())
        .build()
        .unwrap();
    let outcome = client
        .create_and_wait(
            CreateTaskRequest::new("@oomol/echo", "1.0.0", "main").input("word", "blocking"),
            fast(),
        )
        .unwrap();
    assert_eq!(outcome.result.result_data.unwrap()[0]["word"], "blocking");
    let page = client.list_tasks(ListTasksQuery::new().size(5)).unwrap();
    assert_eq!(page.tasks.len(), 1);
    assert_eq!(page.tasks[0].status, TaskStatus::Success);

    let failed = client
        .create_and_wait(
            CreateTaskRequest::new("@oomol/fail", "1.0.0", "main").input("message", "no luck"),
            fast(),
        )
        .unwrap_err();
    match failed {
        Error::TaskFailed(e) => assert_eq!(e.message, "Task failed: no luck"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn wrong_key_is_an_api_error_without_the_key() {
    let emulator = Emulator::builder().start_blocking().unwrap();
    let client = oomol_cloud_task::blocking::Client::builder()
        .api_key("wrong-SECRET-key")
        .base_url(emulator.base_url())
        .build()
        .unwrap();
    let err = client.get_dashboard().unwrap_err();
    assert_eq!(err.status().map(|s| s.as_u16()), Some(401));
    let text = format!("{err} {err:?} {}", err.reason());
    assert!(!text.contains("wrong-SECRET-key"), "{text}");
}
