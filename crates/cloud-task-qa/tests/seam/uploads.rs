//! Uploads: the core's requests, parts without credentials, retries and waits as
//! `PartRetry` says, progress. Written once, compiled against each client (see `main.rs`);
//! each client keeps its own fake upload service (parallel parts, sources read only when
//! sent) and its cancellation from elsewhere.

use std::sync::atomic::AtomicU64;
use std::sync::atomic::Ordering::SeqCst;
use std::sync::{Arc, Mutex};

use super::sdk::core::{
    GetUploadUrl, HttpRequest, Operation, UploadErrorCode, UploadInit, part_retry_delay,
};
use super::sdk::{CancelToken, Error, UploadOptions};
use super::shim::{EXACT_SLEEPS, FakeTimer, MockTransport, client};
use crate::common::{config, response, same_request};

pub(super) const INIT_3_PARTS: &str = r#"{"data":{"upload_id":"up-1","part_size":4,"total_parts":3,
    "presigned_urls":{"1":"https://store.test/p/1?sig=a","2":"https://store.test/p/2?sig=b","3":"https://store.test/p/3?sig=c"}}}"#;
pub(super) const URL_ANSWER: &str = r#"{"data":{"url":"https://files.test/up-1.bin","expires_at":null,"file_name":"data.bin","file_size":12,"mime_type":"application/octet-stream"}}"#;

/// A mock of the three steps: init and final URL must equal the core's requests; parts are
/// recorded, and part 2 fails `part2_failures` times with a 500 first.
pub(super) fn upload_mock(
    part2_failures: u64,
    parts: Arc<Mutex<Vec<HttpRequest>>>,
) -> MockTransport {
    let init = UploadInit::for_file("data.bin", 12)
        .request(&config())
        .unwrap();
    let url = GetUploadUrl::new("up-1").request(&config()).unwrap();
    let mut mock = MockTransport::new();
    mock.expect_send()
        .times(1)
        .withf(move |r, _| same_request(r, &init))
        .returning(|_, _| Ok(response(200, INIT_3_PARTS)));
    let failures = Arc::new(AtomicU64::new(part2_failures));
    mock.expect_send()
        .withf(|r, _| r.method() == "PUT")
        .returning(move |r, _| {
            let status = if r.uri().path() == "/p/2" && failures.load(SeqCst) > 0 {
                failures.fetch_sub(1, SeqCst);
                500
            } else {
                200
            };
            parts.lock().unwrap().push(r);
            Ok(response(status, ""))
        });
    mock.expect_send()
        .withf(move |r, _| same_request(r, &url))
        .returning(|_, _| Ok(response(200, URL_ANSWER)));
    mock
}

pub(super) fn count_path(parts: &Mutex<Vec<HttpRequest>>, path: &str) -> usize {
    parts
        .lock()
        .unwrap()
        .iter()
        .filter(|r| r.uri().path() == path)
        .count()
}

seam_test! {
    fn upload_bytes_sends_the_core_requests_and_parts_without_credentials() {
        let parts = Arc::new(Mutex::new(Vec::new()));
        let timer = FakeTimer::new();
        let client = client(upload_mock(1, parts.clone()), &timer);
        let progress = Arc::new(Mutex::new(Vec::new()));
        let seen = progress.clone();
        let options = UploadOptions::new().on_progress(move |p| seen.lock().unwrap().push(p));
        let file = run!(client.upload_bytes(b"aaaabbbbcc12", "data.bin", options)).unwrap();
        assert_eq!(file.url, "https://files.test/up-1.bin");
        assert_eq!(*progress.lock().unwrap(), [33, 66, 99, 100]);
        // Part 2 failed once: a wait of part_retry_delay(1), then a second try. Where parts
        // are answered on threads of their own (the blocking client), one that lands during
        // the wait ends that sleep early (no time passes on the fake clock) and the wait
        // starts again: the sleeps may be more than one, each of the delay, and the time
        // waited is the delay once. Where they are not, the sleep is exactly one.
        let sleeps = timer.sleeps();
        assert!(!sleeps.is_empty(), "no wait before the second try");
        assert!(sleeps.iter().all(|d| *d == part_retry_delay(1)), "{sleeps:?}");
        assert_eq!(timer.elapsed(), part_retry_delay(1));
        if EXACT_SLEEPS {
            assert_eq!(sleeps, [part_retry_delay(1)]);
        }
        let parts = parts.lock().unwrap();
        assert_eq!(parts.len(), 4);
        for part in parts.iter() {
            assert_eq!(part.headers().len(), 1, "{:?}", part.headers());
            assert_eq!(part.headers()["content-type"], "application/octet-stream");
            let expected: &[u8] = match part.uri().path() {
                "/p/1" => b"aaaa",
                "/p/2" => b"bbbb",
                "/p/3" => b"cc12",
                other => panic!("unexpected part {other}"),
            };
            assert_eq!(part.body(), expected);
        }
    }
}

seam_test! {
    fn a_part_failing_every_try_exhausts_its_retries_and_stops_the_upload() {
        let parts = Arc::new(Mutex::new(Vec::new()));
        let timer = FakeTimer::new();
        let client = client(upload_mock(u64::MAX, parts.clone()), &timer);
        let error = run!(client.upload_bytes(
            b"aaaabbbbcc12",
            "data.bin",
            UploadOptions::new().retries(3).concurrency(1),
        ))
        .unwrap_err();
        match &error {
            Error::Upload(u) => {
                assert_eq!(u.code, UploadErrorCode::RetryExhausted);
                assert!(
                    u.message.starts_with("Failed after 3 attempts: "),
                    "{}",
                    u.message
                );
            }
            other => panic!("expected an upload error, got {other:?}"),
        }
        assert_eq!(timer.sleeps(), [part_retry_delay(1), part_retry_delay(2)]);
        assert_eq!(count_path(&parts, "/p/2"), 3);
        // One part at a time: part 3 never started after part 2 gave up (nor the final URL,
        // which the mock would have answered).
        assert_eq!(count_path(&parts, "/p/3"), 0);
    }
}

seam_test! {
    fn a_missing_presigned_url_fails_before_any_part() {
        let mut mock = MockTransport::new();
        mock.expect_send()
            .times(1)
            .withf(|r, _| r.uri().path().ends_with("/init"))
            .returning(|_, _| {
                Ok(response(
                    200,
                    r#"{"data":{"upload_id":"u","part_size":4,"total_parts":2,"presigned_urls":{"1":"https://s.test/1"}}}"#,
                ))
            });
        let client = client(mock, &FakeTimer::new());
        let error = run!(client.upload_bytes(b"12345678", "a.txt", UploadOptions::new())).unwrap_err();
        assert!(
            matches!(&error, Error::Upload(u) if u.code == UploadErrorCode::MissingPresignedUrl),
            "{error:?}"
        );
    }
}

seam_test! {
    fn an_empty_file_sends_no_part() {
        let mut mock = MockTransport::new();
        let init = UploadInit::for_file("empty.txt", 0)
            .request(&config())
            .unwrap();
        mock.expect_send()
            .times(1)
            .withf(move |r, _| same_request(r, &init))
            .returning(|_, _| {
                Ok(response(
                    200,
                    r#"{"data":{"upload_id":"u","part_size":4,"total_parts":0,"presigned_urls":{}}}"#,
                ))
            });
        mock.expect_send()
            .times(1)
            .withf(|r, _| r.uri().path().ends_with("/u/url"))
            .returning(|_, _| Ok(response(200, r#"{"data":{"url":"https://files.test/u"}}"#)));
        let progress = Arc::new(Mutex::new(Vec::new()));
        let seen = progress.clone();
        let client = client(mock, &FakeTimer::new());
        let file = run!(client.upload_bytes(
            b"",
            "empty.txt",
            UploadOptions::new().on_progress(move |p| seen.lock().unwrap().push(p)),
        ))
        .unwrap();
        assert_eq!(file.url, "https://files.test/u");
        assert_eq!(*progress.lock().unwrap(), [100]);
    }
}

seam_test! {
    fn a_cancelled_token_sends_nothing() {
        let mut mock = MockTransport::new();
        mock.expect_send().never();
        let token = CancelToken::new();
        token.cancel();
        let client = client(mock, &FakeTimer::new());
        let error =
            run!(client.upload_bytes(b"abc", "a.txt", UploadOptions::new().cancel_token(token)))
                .unwrap_err();
        assert!(matches!(error, Error::Cancelled(_)));
    }
}
