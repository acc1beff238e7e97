use std::collections::BTreeMap;
use std::time::Duration;

use cloud_task_core::{
    Error, GetUploadUrl, Operation, RetryDecision, TransportErrorKind, UploadErrorCode, UploadInit,
    UploadPlan, UploadProgress, UploadTarget, file_extension, http::Method,
};
use serde_json::json;

use crate::{KEY, assert_authorised, config, header, json_body, response};

fn target(size_parts: (u64, u32)) -> UploadTarget {
    let (part_size, total) = size_parts;
    let urls = (1..=total)
        .map(|k| (k, format!("https://s3.example/part/{k}?sig=abc")))
        .collect();
    UploadTarget::new("up-1", part_size, total, urls)
}

fn upload_code(err: &Error) -> UploadErrorCode {
    match err {
        Error::Upload(u) => u.code,
        other => panic!("expected an upload error, got {other:?}"),
    }
}

#[test]
fn extension_rule() {
    for (name, ext) in [
        ("a.pdf", ".pdf"),
        ("dir.v2/file", "."),
        ("C:\\docs\\x.DOCX", ".DOCX"),
        ("trailing.", "."),
        ("", "."),
        (".env", "."),
        ("x.tar.gz", ".gz"),
    ] {
        assert_eq!(file_extension(name), ext, "{name}");
    }
    assert_eq!(UploadInit::with_extension("png", 1).file_extension, ".png");
    assert_eq!(UploadInit::with_extension(".png", 1).file_extension, ".png");
    assert_eq!(UploadInit::with_extension("", 1).file_extension, ".");
}

#[test]
fn init_request() {
    let request = UploadInit::for_file("/tmp/report.pdf", 12345)
        .request(&config())
        .unwrap();
    assert_eq!(request.method(), Method::POST);
    assert_eq!(
        request.uri(),
        "https://llm.oomol.com/api/tasks/files/remote-cache/init"
    );
    assert_authorised(&request);
    assert_eq!(
        header(request.headers(), "content-type"),
        Some("application/json")
    );
    assert_eq!(
        json_body(&request),
        json!({"file_extension": ".pdf", "size": 12345})
    );
}

#[test]
fn init_response_with_string_numeric_or_list_keys() {
    let op = UploadInit::for_file("a.bin", 10);
    for urls in [
        json!({"1": "https://h/1", "2": "https://h/2"}),
        json!({" 2 ": "https://h/2", "1": "https://h/1"}),
        json!(["https://h/1", "https://h/2"]),
    ] {
        let body = json!({"data": {"upload_id": "u", "part_size": 5, "total_parts": 2,
            "presigned_urls": urls}});
        let t = op.parse(response(200, &body.to_string())).unwrap();
        assert_eq!(t.presigned_urls[&1], "https://h/1");
        assert_eq!(t.presigned_urls[&2], "https://h/2");
    }
}

#[test]
fn init_failure_is_init_upload_failed_with_status() {
    let op = UploadInit::for_file("a.bin", 10);
    let err = op
        .parse(response(413, r#"{"message":"file too large"}"#))
        .unwrap_err();
    assert_eq!(upload_code(&err), UploadErrorCode::InitUploadFailed);
    assert_eq!(err.status().map(|s| s.as_u16()), Some(413));
    // The message alone: the code is a field, not part of the text.
    assert_eq!(err.to_string(), "Upload init failed: file too large");
    let err = op
        .parse(response(200, r#"{"data":{"upload_id":1}}"#))
        .unwrap_err();
    assert_eq!(upload_code(&err), UploadErrorCode::InitUploadFailed);
    let err = op
        .parse(response(
            200,
            r#"{"data":{"upload_id":"u","part_size":5,"total_parts":1,"presigned_urls":{"one":"x"}}}"#,
        ))
        .unwrap_err();
    assert_eq!(upload_code(&err), UploadErrorCode::InitUploadFailed);
}

#[test]
fn plans_for_every_size_shape() {
    // (size, part_size, total parts) -> expected ranges
    type Case = (u64, u64, u32, Vec<(u64, u64)>);
    let cases: [Case; 6] = [
        (0, 5, 0, vec![]),
        (0, 5, 1, vec![(0, 0)]),
        (1, 5, 1, vec![(0, 1)]),
        (10, 5, 2, vec![(0, 5), (5, 10)]),
        (11, 5, 3, vec![(0, 5), (5, 10), (10, 11)]),
        (5, 5, 1, vec![(0, 5)]),
    ];
    for (size, part_size, total, ranges) in cases {
        let plan = UploadPlan::new(&target((part_size, total)), size).unwrap();
        let got: Vec<(u64, u64)> = plan
            .parts()
            .iter()
            .map(|p| (p.range().start, p.range().end))
            .collect();
        assert_eq!(got, ranges, "size {size}");
        for (i, part) in plan.parts().iter().enumerate() {
            assert_eq!(part.number as usize, i + 1);
            assert_eq!(
                part.url,
                format!("https://s3.example/part/{}?sig=abc", i + 1)
            );
        }
        assert_eq!(plan.upload_id(), "up-1");
        assert_eq!(plan.size(), size);
    }
}

#[test]
fn inconsistent_plans_are_errors_not_panics() {
    for (size, part_size, total) in [
        (10, 5, 3),
        (10, 5, 1),
        (10, 0, 2),
        (0, 5, 2),
        (u64::MAX, 1, 3),
    ] {
        let err = UploadPlan::new(&target((part_size, total)), size).unwrap_err();
        assert_eq!(
            upload_code(&err),
            UploadErrorCode::InitUploadFailed,
            "{size}/{part_size}/{total}"
        );
        assert!(err.to_string().contains("inconsistent plan"));
    }
    let mut t = target((5, 1));
    t.upload_id = " ".into();
    assert!(UploadPlan::new(&t, 5).is_err());
    let mut t = target((5, 1));
    t.presigned_urls.insert(1, "not a url".into());
    assert_eq!(
        upload_code(&UploadPlan::new(&t, 5).unwrap_err()),
        UploadErrorCode::InitUploadFailed
    );
}

#[test]
fn a_missing_url_is_missing_presigned_url() {
    let mut urls = BTreeMap::new();
    urls.insert(1, "https://h/1".to_owned());
    urls.insert(3, "https://h/3".to_owned());
    let err = UploadPlan::new(&UploadTarget::new("u", 4, 3, urls), 10).unwrap_err();
    assert_eq!(upload_code(&err), UploadErrorCode::MissingPresignedUrl);
    assert_eq!(err.to_string(), "Missing presigned URL for part 2");
}

#[test]
fn part_request_has_no_auth_and_no_default_headers() {
    let config = cloud_task_core::Config::builder()
        .api_key(KEY)
        .default_header("Cookie", "oomol-token=t")
        .default_header("x-client", "tests")
        .build()
        .unwrap();
    let _ = config; // parts never see the config at all
    let plan = UploadPlan::new(&target((5, 2)), 7).unwrap();
    let part = &plan.parts()[1];
    let request = part.request(vec![1, 2]).unwrap();
    assert_eq!(request.method(), Method::PUT);
    assert_eq!(request.uri(), "https://s3.example/part/2?sig=abc");
    assert_eq!(
        request
            .headers()
            .keys()
            .map(|k| k.as_str())
            .collect::<Vec<_>>(),
        ["content-type"]
    );
    assert_eq!(
        header(request.headers(), "content-type"),
        Some("application/octet-stream")
    );
    assert_eq!(request.body(), &[1, 2]);
    // A body of the wrong length is the driver's bug, not the caller's input.
    let err = part.request(vec![1, 2, 3]).unwrap_err();
    assert_eq!(
        err.to_string(),
        "upload was driven against its calling order: part 2 must be 2 bytes, got 3 (a bug in the code driving it)"
    );
    assert!(matches!(err, Error::Misuse(_)));
}

#[test]
fn part_responses() {
    let plan = UploadPlan::new(&target((5, 1)), 5).unwrap();
    let part = &plan.parts()[0];
    part.parse(response(200, "")).unwrap();
    part.parse(response(204, "")).unwrap();
    let err = part
        .parse(response(403, "<Error>expired</Error>"))
        .unwrap_err();
    assert_eq!(upload_code(&err), UploadErrorCode::UploadFailed);
    assert_eq!(err.status().map(|s| s.as_u16()), Some(403));
    // The official text; the part and the answer are kept beside it.
    assert_eq!(err.to_string(), "Upload failed with status 403");
    let Error::Upload(upload) = &err else {
        unreachable!()
    };
    assert_eq!(upload.part, Some(1));
    let answer = std::error::Error::source(&err).unwrap();
    assert_eq!(answer.to_string(), "Request failed: 403");
}

#[test]
fn part_retries_wait_then_give_up_with_retry_exhausted() {
    let plan = UploadPlan::new(&target((5, 1)), 5).unwrap();
    let part = &plan.parts()[0];
    let mut retry = part.retry(3);
    let fail = || part.parse(response(503, "")).unwrap_err();
    let RetryDecision::RetryAfter(d1) = retry.on_failure(fail()) else {
        panic!()
    };
    let RetryDecision::RetryAfter(d2) = retry.on_failure(fail()) else {
        panic!()
    };
    assert_eq!((d1, d2), (Duration::from_secs(1), Duration::from_secs(2)));
    let RetryDecision::GiveUp(err) = retry.on_failure(fail()) else {
        panic!()
    };
    assert_eq!(upload_code(&err), UploadErrorCode::RetryExhausted);
    // The official text and no status code; the part and the last try are kept.
    assert_eq!(
        err.to_string(),
        "Failed after 3 attempts: Upload failed with status 503"
    );
    assert_eq!(err.status(), None);
    let Error::Upload(upload) = &err else {
        unreachable!()
    };
    assert_eq!(upload.part, Some(1));
    let last = upload.source.as_deref().unwrap();
    assert_eq!(last.status().map(|s| s.as_u16()), Some(503));
    assert_eq!(upload_code(last), UploadErrorCode::UploadFailed);
    assert_eq!(retry.failures(), 3);
}

#[test]
fn network_errors_are_wrapped_and_final_errors_are_not_retried() {
    let plan = UploadPlan::new(&target((5, 1)), 5).unwrap();
    let part = &plan.parts()[0];
    let mut retry = part.retry(1);
    let transport = Error::transport(TransportErrorKind::Io, std::io::Error::other("reset"));
    let RetryDecision::GiveUp(err) = retry.on_failure(transport) else {
        panic!()
    };
    assert_eq!(upload_code(&err), UploadErrorCode::RetryExhausted);
    assert_eq!(
        err.to_string(),
        "Failed after 1 attempts: Network error during upload"
    );
    assert_eq!(err.status(), None);
    // The cause stays in the chain: NETWORK_ERROR, then the transport's error.
    let Error::Upload(upload) = &err else {
        unreachable!()
    };
    let network = upload.source.as_deref().unwrap();
    assert_eq!(upload_code(network), UploadErrorCode::NetworkError);
    assert!(err.reason().contains("reset"), "{}", err.reason());

    let mut retry = part.retry(5);
    assert!(matches!(
        retry.on_failure(Error::cancelled()),
        RetryDecision::GiveUp(Error::Cancelled(_))
    ));
    let io = Error::io("reading f", std::io::Error::other("gone"));
    assert!(matches!(
        retry.on_failure(io),
        RetryDecision::GiveUp(Error::Io(_))
    ));
    assert_eq!(retry.failures(), 0);
}

#[test]
fn progress_sequence() {
    let mut p = UploadProgress::new(10);
    assert_eq!(p.on_part_done(3), 30);
    assert_eq!(p.on_part_done(3), 60);
    assert_eq!(p.on_part_done(3), 90);
    assert_eq!(p.on_part_done(1), 99);
    assert_eq!(p.on_complete(), 100);

    let mut p = UploadProgress::new(3);
    assert_eq!(p.on_part_done(1), 33);
    assert_eq!(p.on_part_done(1), 66);
    // An empty file: 0, then 100, as the official client reports it.
    let mut empty = UploadProgress::new(0);
    assert_eq!(empty.on_part_done(0), 0);
    assert_eq!(empty.on_complete(), 100);
}

#[test]
fn final_url_request_and_response() {
    let plan = UploadPlan::new(&target((5, 1)), 5).unwrap();
    let op = plan.final_url();
    let request = op.request(&config()).unwrap();
    assert_eq!(request.method(), Method::GET);
    assert_eq!(
        request.uri(),
        "https://llm.oomol.com/api/tasks/files/remote-cache/up-1/url"
    );
    assert_authorised(&request);
    let body = r#"{"data":{"url":"https://cdn/f.pdf","expires_at":"2026-12-01T00:00:00Z",
        "file_name":"f.pdf","file_size":5,"mime_type":"application/pdf"}}"#;
    let file = op.parse(response(200, body)).unwrap();
    assert_eq!(file.url, "https://cdn/f.pdf");
    assert_eq!(file.file_size, Some(5));
    let err = op.parse(response(500, r#"{"message":"x"}"#)).unwrap_err();
    assert_eq!(upload_code(&err), UploadErrorCode::GetUploadUrlFailed);
    let err = GetUploadUrl::new("").request(&config()).unwrap_err();
    crate::assert_invalid(err, "upload_id", "upload_id must not be empty");
    let encoded = GetUploadUrl::new("a/b").request(&config()).unwrap();
    assert!(encoded.uri().path().ends_with("/a%2Fb/url"));
}
