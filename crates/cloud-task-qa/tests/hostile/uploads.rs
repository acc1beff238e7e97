//! Uploads: a path that is not a regular file is refused before it is opened (a named pipe
//! would block for ever); a server asking for one part the size of a large file is refused
//! before any part is read; cancelling ends an upload at once in both drivers.

use std::time::Duration;

use cloud_task_core::{CancelToken, Error, Limit, UploadOptions};
use cloud_task_emulator::{Emulator, Fault, FaultRule, Route};
use cloud_task_qa::hostile::{Hostile, Mode};

use crate::{async_client, blocking_client, runtime, within};

#[test]
fn a_named_pipe_or_a_directory_is_refused_before_it_is_opened() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("pipe");
    let made = std::process::Command::new("mkfifo").arg(&fifo).status();
    let server = Hostile::start(Mode::Status(500)).unwrap();
    let check = |error: Error, what: &str| match error {
        Error::InvalidInput(e) => {
            assert_eq!(e.field, "path");
            assert!(e.message.contains(what), "{}", e.message);
        }
        other => panic!("{other:?}"),
    };
    let blocking = blocking_client(&server.url(), |b| b);
    let client = async_client(&server.url(), |b| b);
    if made.is_ok_and(|s| s.success()) {
        within(Duration::from_secs(5), || {
            check(
                blocking
                    .upload_file(&fifo, UploadOptions::new())
                    .unwrap_err(),
                "not a regular file",
            );
            check(
                runtime()
                    .block_on(client.upload_file(&fifo, UploadOptions::new()))
                    .unwrap_err(),
                "not a regular file",
            );
        });
    } else {
        eprintln!("note: mkfifo is not available here; only the directory case runs");
    }
    check(
        blocking
            .upload_file(dir.path(), UploadOptions::new())
            .unwrap_err(),
        "is a directory",
    );
    check(
        runtime()
            .block_on(client.upload_file(dir.path(), UploadOptions::new()))
            .unwrap_err(),
        "is a directory",
    );
    assert_eq!(server.requests(), 0);
}

#[test]
fn one_part_the_size_of_a_large_file_is_refused_before_any_part() {
    let size: u64 = 256 << 20;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("large.bin");
    // Sparse: no disk is used, and nothing is read before the refusal.
    std::fs::File::create(&path).unwrap().set_len(size).unwrap();
    let server = Hostile::start(Mode::OnePartUpload { size }).unwrap();
    let check = |error: Error| match error {
        Error::Limit(l) => {
            assert_eq!(
                (l.limit, l.max, l.operation),
                (Limit::UploadBuffer, 64 << 20, "upload_init")
            );
        }
        other => panic!("{other:?}"),
    };
    let blocking = blocking_client(&server.url(), |b| b);
    check(
        blocking
            .upload_file(&path, UploadOptions::new())
            .unwrap_err(),
    );
    let client = async_client(&server.url(), |b| b);
    check(
        runtime()
            .block_on(client.upload_file(&path, UploadOptions::new()))
            .unwrap_err(),
    );
    let seen = server.seen();
    assert!(seen.iter().all(|r| r.target.ends_with("/init")), "{seen:?}");
    // A small file under the same huge part size holds only its own bytes: served.
    let small = blocking
        .upload_bytes(vec![0u8; 1 << 20], "small.bin", UploadOptions::new())
        .unwrap();
    assert_eq!(small.url, "http://files.test/big.bin");
}

#[test]
fn cancelling_an_upload_returns_at_once_in_both_drivers() {
    let emulator = Emulator::builder()
        .time_scale(0.01)
        .part_size(1024)
        .fault(FaultRule::new(
            Route::UploadPart,
            Fault::Delay(Duration::from_secs(30)),
        ))
        .start_blocking()
        .unwrap();
    let data = vec![7u8; 8 * 1024];
    let parts_in_flight = |expected: u64| {
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while emulator.stats().count(Route::UploadPart) < expected {
            assert!(
                std::time::Instant::now() < deadline,
                "the parts never went out"
            );
            std::thread::sleep(Duration::from_millis(5));
        }
    };
    let blocking = cloud_task_blocking::Client::builder()
        .api_key(emulator.api_key())
        .base_url(emulator.base_url())
        .upload_base_url(emulator.upload_base_url())
        .build()
        .unwrap();
    let token = CancelToken::new();
    let options = UploadOptions::new()
        .concurrency(2)
        .cancel_token(token.clone());
    let outcome = std::thread::scope(|scope| {
        let upload = scope.spawn(|| blocking.upload_bytes(data.clone(), "x.bin", options));
        parts_in_flight(2);
        within(Duration::from_secs(2), || {
            token.cancel();
            upload.join().unwrap()
        })
    });
    assert!(matches!(outcome, Err(Error::Cancelled(_))), "{outcome:?}");
    assert_eq!(
        emulator.stats().count(Route::UploadPart),
        2,
        "no new part after the cancel"
    );

    let client = cloud_task_async::Client::builder()
        .api_key(emulator.api_key())
        .base_url(emulator.base_url())
        .upload_base_url(emulator.upload_base_url())
        .build()
        .unwrap();
    let token = CancelToken::new();
    let options = UploadOptions::new()
        .concurrency(2)
        .cancel_token(token.clone());
    let rt = runtime();
    let upload = rt.spawn(async move { client.upload_bytes(data, "x.bin", options).await });
    parts_in_flight(4);
    let outcome = within(Duration::from_secs(2), || {
        token.cancel();
        rt.block_on(upload).unwrap()
    });
    assert!(matches!(outcome, Err(Error::Cancelled(_))), "{outcome:?}");
    assert_eq!(emulator.stats().count(Route::UploadPart), 4);
}
