//! End-to-end tests of the facade: both clients, through the facade's paths, against the
//! emulator; and the core at the root.

use std::time::Duration;

use oomol_cloud_task::emulator::{Emulator, Route};
use oomol_cloud_task::models::TaskStatus;
use oomol_cloud_task::{
    AwaitOptions, BackoffStrategy, CreateTaskRequest, Error, ListTasksQuery, UploadOptions,
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

/// A test of the user's own code against the emulator is three lines, and its waits are
/// scaled to the emulator's time scale (3 s × 0.01 = 30 ms), not the official 3 s.
#[tokio::test]
async fn an_emulator_hands_out_clients_whose_waits_follow_its_time_scale() {
    use oomol_cloud_task::emulator::EmulatorClients;
    let emulator = Emulator::builder().time_scale(0.01).start().await.unwrap();
    let client = emulator.client().unwrap();
    let defaults = client.config().await_defaults();
    assert_eq!(defaults.get_interval(), Duration::from_millis(30));
    assert_eq!(defaults.get_max_interval(), Duration::from_millis(30));
    let outcome = client
        .create_and_wait(
            CreateTaskRequest::new("@oomol/echo", "1.0.0", "main").input("n", 1),
            AwaitOptions::new(),
        )
        .await
        .unwrap();
    assert_eq!(outcome.result.result_data.unwrap()[0]["n"], 1);

    let blocking = emulator.blocking_client().unwrap();
    assert_eq!(blocking.config().base_url(), emulator.base_url());
    assert_eq!(
        blocking.config().await_defaults().get_interval(),
        Duration::from_millis(30)
    );
    // A wait's own setting still wins over the emulator's.
    let options = AwaitOptions::new().interval(Duration::from_millis(5));
    assert_eq!(
        options
            .or(blocking.config().await_defaults())
            .get_interval(),
        Duration::from_millis(5)
    );
}

#[tokio::test]
async fn await_many_names_the_task_that_moved_and_decodes_typed_results() {
    use oomol_cloud_task::emulator::EmulatorClients;
    use std::collections::BTreeSet;
    use std::sync::{Arc, Mutex};

    #[derive(Debug, serde::Deserialize)]
    struct Echo {
        n: u32,
    }

    let emulator = Emulator::builder().time_scale(0.01).start().await.unwrap();
    let client = emulator.client().unwrap();
    let mut ids = Vec::new();
    for n in 0..5 {
        // Each runs 20 s × 0.01 = 200 ms: every task is in progress at its first poll.
        let request = CreateTaskRequest::new("@oomol/echo", "1.0.0", "main")
            .input("n", n)
            .input("durationMs", 20_000);
        ids.push(client.create_task(request).await.unwrap().task_id);
    }
    let moved: Arc<Mutex<BTreeSet<String>>> = Arc::default();
    let sink = moved.clone();
    let options = AwaitOptions::new()
        .max_in_flight(2)
        .on_task_progress(move |id, _, _| {
            sink.lock().unwrap().insert(id.to_owned());
        });
    let results = client.await_many(&ids, options).await;
    for (n, result) in results.into_iter().enumerate() {
        let data = result
            .unwrap()
            .data_as::<Vec<Echo>>()
            .unwrap()
            .result_data
            .unwrap();
        assert_eq!(data[0].n as usize, n);
    }
    // Each task's progress was reported under its own ID.
    let moved = moved.lock().unwrap().clone();
    assert_eq!(moved, ids.iter().cloned().collect::<BTreeSet<_>>());

    // A watch decodes its final result too.
    use futures_util::StreamExt;
    let mut events = client.watch(&ids[3], AwaitOptions::new());
    let mut last = None;
    while let Some(event) = events.next().await {
        last = Some(event.unwrap());
    }
    match last {
        Some(oomol_cloud_task::WatchEvent::Finished(success)) => {
            let typed = success.data_as::<Vec<Echo>>().unwrap();
            assert_eq!(typed.result_data.unwrap()[0].n, 3)
        }
        other => panic!("{other:?}"),
    }
}

#[cfg(unix)] // the OS's wording of "not found"
#[test]
fn local_failures_say_why_and_bad_upload_options_are_refused_first() {
    use oomol_cloud_task::emulator::EmulatorClients;
    let emulator = Emulator::builder().start_blocking().unwrap();
    let client = emulator.blocking_client().unwrap();
    let error = client
        .upload_file("/nonexistent/x.pdf", UploadOptions::new())
        .unwrap_err();
    assert_eq!(
        error.to_string(),
        "reading /nonexistent/x.pdf failed: No such file or directory (os error 2)"
    );
    // `retries` counts tries: 0 is refused before the path is even looked at.
    let error = client
        .upload_file("/nonexistent/x.pdf", UploadOptions::new().retries(0))
        .unwrap_err();
    assert!(
        matches!(&error, Error::InvalidInput(e) if e.field == "retries"),
        "{error:?}"
    );
    assert_eq!(emulator.stats().total(), 0);
}

/// In virtual time, a client's sleeps move the emulator's clock: a ten-minute block waited
/// for with the official 3 s polls ends in milliseconds, after exactly the polls of the
/// real schedule.
#[tokio::test]
async fn a_client_of_a_manual_clock_emulator_runs_in_virtual_time() {
    use oomol_cloud_task::emulator::{EmulatorClients, ManualClock};
    let clock = ManualClock::new();
    let emulator = Emulator::builder()
        .manual_clock(clock.clone())
        .start()
        .await
        .unwrap();
    let client = emulator.client().unwrap();
    let request = CreateTaskRequest::new("@oomol/slow", "1.0.0", "main")
        .input("durationMs", 600_000)
        .input("tag", "virtual");
    let outcome = client
        .create_and_wait(request, AwaitOptions::new())
        .await
        .unwrap();
    assert_eq!(outcome.result.result_data.unwrap()[0]["tag"], "virtual");
    // 200 ms of scheduling, then 600 s of running, seen by polls 3 s apart.
    let elapsed = clock.elapsed();
    assert!(
        elapsed >= Duration::from_millis(600_200) && elapsed < Duration::from_secs(604),
        "{elapsed:?}"
    );
    let polls = emulator.stats().count(Route::TaskResult);
    assert_eq!(polls as u128, elapsed.as_millis() / 3_000 + 1, "{polls}");
    // A wait that times out does so in virtual time too.
    let slow =
        CreateTaskRequest::new("@oomol/slow", "1.0.0", "main").input("durationMs", 3_600_000);
    let error = client
        .create_and_wait(slow, AwaitOptions::new().timeout(Duration::from_secs(60)))
        .await
        .unwrap_err();
    assert!(matches!(error, Error::Timeout(_)), "{error:?}");
}

/// A transport of the user's own that implements only `send` (whole answers): the
/// client's streamed downloads fall back to it, and a chunk cut midway is tried again.
mod whole_answers_only {
    use oomol_cloud_task::emulator::{Emulator, Fault, FaultRule, Route, generated_byte};
    use oomol_cloud_task::{CreateTaskRequest, DownloadOptions, Result};

    const SIZE: u64 = 3 * 1024 * 1024 + 5;

    fn file_task() -> CreateTaskRequest {
        CreateTaskRequest::new("@oomol/file", "1.0.0", "main").input("bytes", SIZE)
    }

    fn options() -> DownloadOptions {
        DownloadOptions::new().chunk_size(1 << 20)
    }

    fn expected() -> Vec<u8> {
        (0..SIZE).map(generated_byte).collect()
    }

    /// The second chunk's first answer breaks after 1000 bytes.
    fn cut_once() -> FaultRule {
        FaultRule::new(Route::Download, Fault::CutBody { after: 1000 })
            .skip(1)
            .times(1)
    }

    struct Whole(oomol_cloud_task::transport::ReqwestTransport);

    #[oomol_cloud_task::transport::async_trait]
    impl oomol_cloud_task::transport::HttpTransport for Whole {
        async fn send(
            &self,
            request: oomol_cloud_task::transport::HttpRequest,
            limits: oomol_cloud_task::transport::SendLimits,
        ) -> Result<oomol_cloud_task::transport::HttpResponse> {
            oomol_cloud_task::transport::HttpTransport::send(&self.0, request, limits).await
        }
    }

    #[tokio::test]
    async fn async_client() {
        use oomol_cloud_task::emulator::EmulatorClients;
        let emulator = Emulator::builder().time_scale(0.01).start().await.unwrap();
        let config = emulator.client_config().build().unwrap();
        let transport = oomol_cloud_task::transport::ReqwestTransport::new(&config).unwrap();
        let client = oomol_cloud_task::Client::builder()
            .config(emulator.client_config())
            .transport(Whole(transport))
            .build()
            .unwrap();
        let outcome = client
            .create_and_wait(file_task(), emulator.await_options())
            .await
            .unwrap();
        let url = outcome.result.result_url.unwrap();
        emulator.add_fault(cut_once());
        let mut bytes = Vec::new();
        let downloaded = client
            .download_to_writer(&url, &mut bytes, options())
            .await
            .unwrap();
        assert_eq!(downloaded.size, SIZE);
        assert!(bytes == expected(), "the bytes differ");
        // Four chunks, and the one cut (tried whole again: nothing of it was kept).
        assert_eq!(emulator.stats().count(Route::Download), 5);
    }

    struct WholeBlocking(oomol_cloud_task::blocking::transport::UreqTransport);

    impl oomol_cloud_task::blocking::transport::HttpTransport for WholeBlocking {
        fn send(
            &self,
            request: oomol_cloud_task::blocking::transport::HttpRequest,
            limits: oomol_cloud_task::blocking::transport::SendLimits,
        ) -> Result<oomol_cloud_task::blocking::transport::HttpResponse> {
            self.0.send(request, limits)
        }

        fn bounds_itself(&self) -> bool {
            true
        }
    }

    #[test]
    fn blocking_client() {
        use oomol_cloud_task::blocking::transport::UreqTransport;
        use oomol_cloud_task::emulator::EmulatorClients;
        let emulator = Emulator::builder()
            .time_scale(0.01)
            .start_blocking()
            .unwrap();
        let config = emulator.client_config().build().unwrap();
        let client = oomol_cloud_task::blocking::Client::builder()
            .config(emulator.client_config())
            .transport(WholeBlocking(UreqTransport::new(&config)))
            .build()
            .unwrap();
        let outcome = client
            .create_and_wait(file_task(), emulator.await_options())
            .unwrap();
        let url = outcome.result.result_url.unwrap();
        emulator.add_fault(cut_once());
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.bin");
        let downloaded = client.download(&url, &path, options()).unwrap();
        assert_eq!(downloaded.size, SIZE);
        assert!(
            std::fs::read(&path).unwrap() == expected(),
            "the bytes differ"
        );
        assert_eq!(emulator.stats().count(Route::Download), 5);
    }
}
