use std::time::Duration;

use cloud_task_core::{
    Error, GetDashboard, Operation, TaskErrorCode, TaskFailedError, TimeoutError,
    TransportErrorKind, UploadErrorCode, http::StatusCode,
};

use crate::response;

#[test]
fn timeout_message_rounds_minutes_with_a_floor_of_one() {
    let cases = [
        (Duration::from_millis(60), 1),
        (Duration::from_secs(60), 1),
        (Duration::from_secs(89), 1),
        (Duration::from_secs(90), 2),
        (Duration::from_secs(150), 3),
        (Duration::from_secs(600), 10),
    ];
    for (timeout, minutes) in cases {
        let e = TimeoutError::new("t", timeout, None);
        assert_eq!(
            e.message,
            format!("Task polling timeout after {minutes} minutes")
        );
    }
}

#[test]
fn timeout_quotes_the_last_error_reason() {
    let api = GetDashboard
        .parse(response(503, r#"{"message":"server busy"}"#))
        .unwrap_err();
    let e = TimeoutError::new("t", Duration::from_secs(1), Some(api));
    assert_eq!(
        e.message,
        "Task polling timeout after 1 minutes. Last polling request error: server busy"
    );
    // A body with `error` instead of `message`.
    let api = GetDashboard
        .parse(response(500, r#"{"error":"db down"}"#))
        .unwrap_err();
    assert_eq!(api.reason(), "db down");
    // Without a JSON body: the error's own text.
    let api = GetDashboard.parse(response(502, "nope")).unwrap_err();
    assert_eq!(api.reason(), "Request failed: 502");
    // A transport error: its text and its cause.
    let io = std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "connection refused");
    let transport = Error::transport(TransportErrorKind::Connect, io);
    assert_eq!(transport.reason(), "could not connect: connection refused");
}

#[test]
fn task_failure_classification() {
    let plain = TaskFailedError::new("t", Some("division by zero"), None);
    assert_eq!(plain.message, "Task failed: division by zero");
    assert_eq!(plain.code, None);
    assert_eq!(plain.status_code, None);

    for msg in [
        "Insufficient quota",
        "QUOTA exceeded",
        "low Balance",
        "no credit left",
        "账户余额不足",
        "点数不足",
        "费用不足",
        "INSUFFICIENT funds",
    ] {
        let e = TaskFailedError::new("t", Some(msg), None);
        assert_eq!(e.code, Some(TaskErrorCode::InsufficientQuota), "{msg}");
        assert_eq!(e.status_code, Some(StatusCode::PAYMENT_REQUIRED), "{msg}");
        assert_eq!(e.code.unwrap().as_str(), "INSUFFICIENT_QUOTA");
    }

    for missing in [None, Some(""), Some("  ")] {
        let e = TaskFailedError::new("t", missing, None);
        assert_eq!(e.message, "Task failed: Unknown error");
    }
}

#[test]
fn quota_api_errors() {
    let e402 = GetDashboard
        .parse(response(402, r#"{"message":"pay"}"#))
        .unwrap_err();
    assert!(e402.is_insufficient_quota());
    let credit = GetDashboard
        .parse(response(
            400,
            r#"{"message":"x","code":"OOMOL_INSUFFICIENT_CREDIT"}"#,
        ))
        .unwrap_err();
    assert!(credit.is_insufficient_quota());
    let other = GetDashboard
        .parse(response(400, r#"{"message":"x"}"#))
        .unwrap_err();
    assert!(!other.is_insufficient_quota());
}

#[test]
fn displays_are_one_line() {
    let api = GetDashboard
        .parse(response(500, r#"{"message":"line one\nline two\r\n"}"#))
        .unwrap_err();
    assert_eq!(api.to_string(), "line one line two");
    let failed = Error::TaskFailed(Box::new(TaskFailedError::new("t", Some("a\nb"), None)));
    assert_eq!(failed.to_string(), "Task failed: a b");
    assert_eq!(
        Error::cancelled().to_string(),
        "the operation was cancelled"
    );
    let io = Error::io(
        "reading /tmp/x",
        std::io::Error::from(std::io::ErrorKind::NotFound),
    );
    // What was being done, and why it failed.
    assert_eq!(io.to_string(), "reading /tmp/x failed: entity not found");
    assert_eq!(io.reason(), "reading /tmp/x failed: entity not found");
    assert_eq!(
        UploadErrorCode::RetryExhausted.to_string(),
        "RETRY_EXHAUSTED"
    );
    let huge = "x".repeat(5000);
    let api = GetDashboard
        .parse(response(500, &format!(r#"{{"message":"{huge}"}}"#)))
        .unwrap_err();
    assert!(api.to_string().len() < 600);
}

#[test]
fn sources_chain() {
    let io = std::io::Error::other("reset");
    let e = Error::transport(TransportErrorKind::Io, io);
    let source = std::error::Error::source(&e).unwrap();
    assert_eq!(source.to_string(), "reset");
    assert!(e.is_retryable());
    let decode = GetDashboard.parse(response(200, "{")).unwrap_err();
    assert!(std::error::Error::source(&decode).is_some());
    assert!(!decode.is_retryable());
}

#[test]
fn status_and_retryability() {
    let e = GetDashboard.parse(response(503, "")).unwrap_err();
    assert_eq!(e.status().map(|s| s.as_u16()), Some(503));
    assert!(e.is_retryable());
    let e = GetDashboard.parse(response(400, "")).unwrap_err();
    assert!(!e.is_retryable());
    let failed = Error::TaskFailed(Box::new(TaskFailedError::new("t", Some("quota"), None)));
    assert_eq!(failed.status().map(|s| s.as_u16()), Some(402));
}

#[test]
fn retry_after_in_api_errors() {
    let e = GetDashboard
        .parse(crate::response_with(429, "{}", ("retry-after", "7")))
        .unwrap_err();
    match e {
        Error::Api(api) => assert_eq!(api.retry_after, Some(Duration::from_secs(7))),
        other => panic!("{other:?}"),
    }
    let e = GetDashboard
        .parse(crate::response_with(
            429,
            "{}",
            ("retry-after", "Wed, 21 Oct 2015 07:28:00 GMT"),
        ))
        .unwrap_err();
    assert!(matches!(e, Error::Api(api) if api.retry_after.is_none()));
}

#[test]
fn error_is_send_sync_and_small() {
    fn assert_send_sync<T: Send + Sync + 'static>() {}
    assert_send_sync::<Error>();
    assert!(
        std::mem::size_of::<Error>() <= 48,
        "{}",
        std::mem::size_of::<Error>()
    );
}

#[test]
fn errors_keep_a_bounded_prefix_of_huge_bodies() {
    use cloud_task_core::{GetDashboard, MAX_ERROR_BODY, Operation};
    // A 2xx body that does not decode: the error keeps its first 64 KiB and its length.
    let huge = format!("{{\"limits\": \"{}", "x".repeat(1 << 20));
    match GetDashboard.parse(crate::response(200, &huge)) {
        Err(Error::Decode(d)) => {
            assert_eq!(d.body.len(), MAX_ERROR_BODY);
            assert_eq!(d.body_len, huge.len());
            assert!(d.is_body_cut());
            assert!(d.to_string().contains(&format!("{} bytes", huge.len())));
        }
        other => panic!("{other:?}"),
    }
    // A non-2xx JSON body: its message is kept (cut to 8 KiB), the parsed body only when small.
    let body = serde_json::json!({"message": "m".repeat(100_000), "code": "C"}).to_string();
    match GetDashboard.parse(crate::response(500, &body)) {
        Err(Error::Api(api)) => {
            assert_eq!(api.message.len(), 8 * 1024);
            assert_eq!(api.code.as_deref(), Some("C"));
            assert!(api.body.is_none());
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn new_variants_say_what_happened_in_one_line() {
    use cloud_task_core::Limit;
    let limit = Error::limit("list_tasks", Limit::Pages, 10);
    assert_eq!(
        limit.to_string(),
        "list_tasks: more than 10 pages (limit max_pages; raise it on the client's builder)"
    );
    assert!(!limit.is_retryable());
    let protocol = Error::protocol("list_tasks", "a token\nseen twice");
    assert_eq!(protocol.to_string(), "list_tasks: a token seen twice");
    assert_eq!(Error::cancelled_task("t-1").task_id(), Some("t-1"));
    assert!(Error::cancelled().is_cancelled());
}
