//! Uploads: parts round-trip without credentials, from bytes, a file and a reader; a part
//! failing once is retried, one failing every time exhausts its tries.

use std::sync::{Arc, Mutex};

use cloud_task_core::{Error, UploadErrorCode, UploadOptions};
use cloud_task_emulator::{Fault, FaultRule, Route};

use crate::driver::Driver;
use crate::{conformance, download, pseudo_random, virtual_emulator};

conformance!(
    a_multi_part_upload_round_trips_without_credentials_on_parts,
    a_file_and_a_reader_upload_too_and_a_part_failing_once_is_retried,
    a_failing_part_exhausts_its_retries,
);

fn a_multi_part_upload_round_trips_without_credentials_on_parts<D: Driver>() {
    let (emulator, _clock) = virtual_emulator(|b| b.part_size(64 * 1024));
    // Default headers (here a cookie) go to the API, never to presigned part URLs.
    let client = D::of_with(&emulator, |config| {
        config
            .default_header("Cookie", "oomol-token=secret-cookie")
            .default_header("X-Team", "research")
    });
    let data = pseudo_random(300 * 1024 + 123);
    let progress = Arc::new(Mutex::new(Vec::new()));
    let record = progress.clone();
    let options = UploadOptions::new()
        .concurrency(3)
        .on_progress(move |p| record.lock().unwrap().push(p));
    let file = client
        .upload_bytes(data.clone(), "random.bin", options)
        .unwrap();
    assert_eq!(download(&file.url), data);

    let stats = emulator.stats();
    assert_eq!(stats.count(Route::UploadInit), 1);
    assert_eq!(stats.count(Route::UploadPart), 5);
    assert_eq!(stats.count(Route::UploadUrl), 1);
    assert_eq!(stats.part_upload_headers().len(), 5);
    for headers in stats.part_upload_headers() {
        assert!(!headers.contains_key("authorization"), "{headers:?}");
        assert!(!headers.contains_key("cookie"), "{headers:?}");
        assert!(!headers.contains_key("x-team"), "{headers:?}");
        assert_eq!(headers["content-type"], "application/octet-stream");
    }
    let progress = progress.lock().unwrap().clone();
    assert_eq!(progress.len(), 6, "{progress:?}");
    assert!(progress.windows(2).all(|w| w[0] <= w[1]));
    assert_eq!(progress.last(), Some(&100));
}

fn a_file_and_a_reader_upload_too_and_a_part_failing_once_is_retried<D: Driver>() {
    let (emulator, clock) = virtual_emulator(|b| b.part_size(64 * 1024));
    let client = D::of(&emulator);
    let data = pseudo_random(200 * 1024);
    // From a file, with a part failing once on the way (retried after 1 s, as the core says).
    emulator.add_fault(FaultRule::new(Route::UploadPart, Fault::ServiceUnavailable).times(1));
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("data.bin");
    std::fs::write(&path, &data).unwrap();
    let file = client.upload_file(&path, UploadOptions::new()).unwrap();
    assert_eq!(download(&file.url), data);
    assert_eq!(emulator.stats().count(Route::UploadPart), 5);
    assert!(clock.elapsed() >= std::time::Duration::from_secs(1));

    // From a reader, read once: exactly `len` bytes.
    let file = client
        .upload_reader(
            data.clone(),
            150_000,
            "head.bin",
            UploadOptions::new().concurrency(2),
        )
        .unwrap();
    assert_eq!(download(&file.url), &data[..150_000]);
    let short = client
        .upload_reader(vec![1; 1_000], 2_000, "short.bin", UploadOptions::new())
        .unwrap_err();
    assert!(matches!(&short, Error::Io(_)), "{short:?}");
}

fn a_failing_part_exhausts_its_retries<D: Driver>() {
    let (emulator, _clock) = virtual_emulator(|b| b.part_size(1024));
    let client = D::of(&emulator);
    emulator.add_fault(FaultRule::new(Route::UploadPart, Fault::ServiceUnavailable));
    let error = client
        .upload_bytes(vec![1u8; 1024], "x.bin", UploadOptions::new().retries(2))
        .unwrap_err();
    match &error {
        Error::Upload(u) => {
            assert_eq!(u.code, UploadErrorCode::RetryExhausted);
            // The official RETRY_EXHAUSTED: its text, no status; the last try keeps it.
            assert_eq!(
                u.message,
                "Failed after 2 attempts: Upload failed with status 503"
            );
            assert_eq!(u.status, None);
            assert_eq!(u.part, Some(1));
            let last = u.source.as_deref().unwrap();
            assert_eq!(last.status().map(|s| s.as_u16()), Some(503));
        }
        other => panic!("expected an upload error, got {other:?}"),
    }
    assert_eq!(emulator.stats().count(Route::UploadPart), 2);
}
