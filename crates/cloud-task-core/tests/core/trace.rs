//! What the drivers put in their spans: the URL shown, the port, and the error type.

use cloud_task_core::http::{StatusCode, Uri};
use cloud_task_core::trace::{server_port, url_full};
use cloud_task_core::{Error, HttpResponse, TransportErrorKind};

fn uri(text: &str) -> Uri {
    text.parse().unwrap()
}

#[test]
fn the_url_shows_no_userinfo_and_redacts_every_value_but_the_apis_own_filters() {
    let shown = url_full(
        &uri(
            "https://user:pass@cloud-task.oomol.com:8443/v3/users/me/tasks?size=5&nextToken=t1&stat=secret-state&token",
        ),
        true,
    );
    assert_eq!(
        shown,
        "https://cloud-task.oomol.com:8443/v3/users/me/tasks?size=5&nextToken=t1&stat=REDACTED&REDACTED"
    );
    assert!(!shown.contains("pass") && !shown.contains("secret-state"));
}

#[test]
fn another_hosts_query_is_redacted_whole() {
    let shown = url_full(
        &uri("http://127.0.0.1:9000/bucket/part?X-Amz-Signature=sig&size=3"),
        false,
    );
    assert_eq!(
        shown,
        "http://127.0.0.1:9000/bucket/part?X-Amz-Signature=REDACTED&size=REDACTED"
    );
    assert_eq!(
        url_full(&uri("https://a.example/x"), false),
        "https://a.example/x"
    );
}

#[test]
fn the_port_is_the_urls_or_its_schemes_default() {
    assert_eq!(server_port(&uri("https://a.example/")), Some(443));
    assert_eq!(server_port(&uri("http://a.example/")), Some(80));
    assert_eq!(server_port(&uri("http://a.example:8080/")), Some(8080));
    assert_eq!(server_port(&uri("/relative")), None);
}

#[test]
fn error_types_name_the_kind_never_the_message() {
    let api = Error::Api(Box::new(cloud_task_core::api_error({
        let mut response = HttpResponse::new(br#"{"message":"key sk-123 is wrong"}"#.to_vec());
        *response.status_mut() = StatusCode::UNAUTHORIZED;
        response
    })));
    assert_eq!(api.error_type(), "401");
    assert_eq!(
        Error::transport(TransportErrorKind::Timeout, "slow").error_type(),
        "transport_timeout"
    );
    assert_eq!(
        Error::transport(TransportErrorKind::Other, "x").error_type(),
        "transport"
    );
    assert_eq!(Error::cancelled_task("t").error_type(), "cancelled");
}
