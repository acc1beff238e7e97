//! Uploads: a path that is not a regular file is refused before it is opened (a named pipe
//! would block for ever); a server asking for one part the size of a large file is refused
//! before any part is read; cancelling ends an upload at once. Each written once, run
//! against both clients.

use std::time::Duration;

use cloud_task_core::{CancelToken, Error, Limit, UploadOptions};
use cloud_task_emulator::{Emulator, Fault, FaultRule, Route};
use cloud_task_qa::hostile::{Hostile, Mode};

use crate::driver::Driver;
use crate::{conformance, within};

conformance!(
    a_named_pipe_or_a_directory_is_refused_before_it_is_opened,
    one_part_the_size_of_a_large_file_is_refused_before_any_part,
    cancelling_an_upload_returns_at_once,
);

fn a_named_pipe_or_a_directory_is_refused_before_it_is_opened<D: Driver>() {
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
    let client: D = crate::client(&server.url(), |c| c);
    if made.is_ok_and(|s| s.success()) {
        within(Duration::from_secs(5), || {
            check(
                client.upload_file(&fifo, UploadOptions::new()).unwrap_err(),
                "not a regular file",
            );
        });
    } else {
        eprintln!("note: mkfifo is not available here; only the directory case runs");
    }
    check(
        client
            .upload_file(dir.path(), UploadOptions::new())
            .unwrap_err(),
        "is a directory",
    );
    assert_eq!(server.requests(), 0);
}

fn one_part_the_size_of_a_large_file_is_refused_before_any_part<D: Driver>() {
    let size: u64 = 256 << 20;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("large.bin");
    // Sparse: no disk is used, and nothing is read before the refusal.
    std::fs::File::create(&path).unwrap().set_len(size).unwrap();
    let server = Hostile::start(Mode::OnePartUpload { size }).unwrap();
    let client: D = crate::client(&server.url(), |c| c);
    match client.upload_file(&path, UploadOptions::new()).unwrap_err() {
        Error::Limit(l) => {
            assert_eq!(
                (l.limit, l.max, l.operation),
                (Limit::UploadBuffer, 64 << 20, "upload_init")
            );
        }
        other => panic!("{other:?}"),
    }
    let seen = server.seen();
    assert!(seen.iter().all(|r| r.target.ends_with("/init")), "{seen:?}");
    // A small file under the same huge part size holds only its own bytes: served.
    let small = client
        .upload_bytes(vec![0u8; 1 << 20], "small.bin", UploadOptions::new())
        .unwrap();
    assert_eq!(small.url, "http://files.test/big.bin");
}

fn cancelling_an_upload_returns_at_once<D: Driver + Sync>() {
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
    let client = D::of(&emulator);
    let token = CancelToken::new();
    let options = UploadOptions::new()
        .concurrency(2)
        .cancel_token(token.clone());
    let outcome = std::thread::scope(|scope| {
        let upload = scope.spawn(|| client.upload_bytes(data.clone(), "x.bin", options));
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
}
