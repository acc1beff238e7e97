//! What the drivers put in their `tracing` spans, written once: OpenTelemetry's semantic
//! conventions for HTTP client spans, so that `tracing-opentelemetry` exports them as an
//! OpenTelemetry tool expects.
//!
//! The spans and their events have the target `oomol_cloud_task` whichever client sends
//! (filter them with `oomol_cloud_task=debug`, or `=info` for the operations only).
//! Each driver's engine opens one span per public operation (level INFO, named
//! `cloud_task.operation`, its OpenTelemetry name the operation's: `create_task`,
//! `await_result`, `run_many`, ...) and, inside it, one span per HTTP request (level DEBUG,
//! named `cloud_task.request`, its OpenTelemetry name the method, kind `client`). A wait's
//! polls, an upload's parts and a batch's creates are requests of their operation's span.
//!
//! | Field | Span | Value |
//! |---|---|---|
//! | `oomol.operation` | both | the operation (`get_task_result`, `upload_part`, ...) |
//! | `oomol.machine` | both | the machine: `call`, `wait`, `wait_many`, `pages`, `follow`, `download`, `upload`, `batch`, `login` |
//! | `oomol.task.id` | both | the task, when there is one |
//! | `oomol.attempt` | request | the number of this request of its operation in its machine, from 1 (a retry or a poll counts) |
//! | `http.request.method` | request | `GET`, `POST`, ... |
//! | `server.address`, `server.port` | request | the host and port |
//! | `url.full` | request | the URL ([`url_full`]): query values other than the API's own filters and page tokens (a presigned URL's signature, a sign-in's state) replaced by `REDACTED`; never userinfo |
//! | `http.response.status_code` | request | the answer's status |
//! | `error.type` | both | a request: the status of a 4xx or 5xx answer, or the transport failure ([`Error::error_type`](crate::Error::error_type)); an operation: the error it ended with |
//! | `otel.status_code` | both | `ERROR` when `error.type` is set |
//!
//! Numbers (`server.port`, `http.response.status_code`, `oomol.attempt`) are recorded as
//! `i64`, which OpenTelemetry exports as integers. The API key travels in a header, and
//! headers are never recorded.

use std::fmt::Write as _;

use http::Uri;

/// The query parameters of the API whose values `url.full` shows (a page's size, a
/// filter, a page token, a workload): none of them is a credential. Every other value is
/// `REDACTED`: a presigned URL's signature, a sign-in's `stat` (whoever holds it can
/// collect the key it confirms).
pub const SHOWN_QUERY_PARAMETERS: &[&str] = &[
    "size",
    "nextToken",
    "status",
    "taskType",
    "workload",
    "workloadID",
    "workloadIDs",
    "packageID",
    "page",
];

/// The URL of a request as the `url.full` field shows it: scheme, host, port, path and
/// query, never userinfo. A query value is shown only when the host is one of the
/// configuration's (`configured_origin`) and its parameter is one of
/// [`SHOWN_QUERY_PARAMETERS`]; every other value (and a bare word) is `REDACTED`.
///
/// ```
/// use cloud_task_core::trace::url_full;
/// let uri = "https://bucket.example/f?X-Amz-Signature=abc&size=1".parse().unwrap();
/// assert_eq!(url_full(&uri, false), "https://bucket.example/f?X-Amz-Signature=REDACTED&size=REDACTED");
/// let uri = "https://cloud-task.oomol.com/v3/users/me/tasks?size=10&signature=abc".parse().unwrap();
/// assert_eq!(url_full(&uri, true), "https://cloud-task.oomol.com/v3/users/me/tasks?size=10&signature=REDACTED");
/// ```
pub fn url_full(uri: &Uri, configured_origin: bool) -> String {
    let query = uri.query().unwrap_or_default();
    let mut out = String::with_capacity(uri.path().len() + query.len() + 48);
    if let Some(scheme) = uri.scheme_str() {
        out.push_str(scheme);
        out.push_str("://");
    }
    if let Some(host) = uri.host() {
        out.push_str(host);
    }
    if let Some(port) = uri.port_u16() {
        let _ = write!(out, ":{port}");
    }
    out.push_str(uri.path());
    if uri.query().is_some() {
        out.push('?');
        for (i, pair) in query.split('&').enumerate() {
            if i > 0 {
                out.push('&');
            }
            match pair.split_once('=') {
                Some((name, _)) if configured_origin && SHOWN_QUERY_PARAMETERS.contains(&name) => {
                    out.push_str(pair);
                }
                Some((name, _)) => {
                    out.push_str(name);
                    out.push_str("=REDACTED");
                }
                // A bare word may be a token itself.
                None => out.push_str("REDACTED"),
            }
        }
    }
    out
}

/// The port of a request for `server.port`: the URL's, else its scheme's default.
pub fn server_port(uri: &Uri) -> Option<u16> {
    uri.port_u16().or(match uri.scheme_str() {
        Some("https") => Some(443),
        Some("http") => Some(80),
        _ => None,
    })
}

/// The span of one public operation of a driver, for `$machine` (a [`Machine`]), or for
/// a named operation made of several (`__operation_span!(name = "create_and_wait")`).
///
/// [`Machine`]: crate::machine::Machine
#[doc(hidden)]
#[macro_export]
macro_rules! __operation_span {
    (name = $name:expr) => {
        ::tracing::info_span!(
            target: "oomol_cloud_task",
            "cloud_task.operation",
            otel.name = $name,
            oomol.operation = $name,
            oomol.machine = ::tracing::field::Empty,
            oomol.task.id = ::tracing::field::Empty,
            error.type = ::tracing::field::Empty,
            otel.status_code = ::tracing::field::Empty,
        )
    };
    ($machine:expr) => {{
        let machine = $machine;
        let operation = $crate::machine::Machine::operation(machine);
        ::tracing::info_span!(
            target: "oomol_cloud_task",
            "cloud_task.operation",
            otel.name = operation,
            oomol.operation = operation,
            oomol.machine = $crate::machine::Machine::kind(machine),
            oomol.task.id = $crate::machine::Machine::task_id(machine),
            error.type = ::tracing::field::Empty,
            otel.status_code = ::tracing::field::Empty,
        )
    }};
}

/// Records on an operation's span the error it ended with, if any (`$error`:
/// `Option<&Error>`).
#[doc(hidden)]
#[macro_export]
macro_rules! __record_failure {
    ($span:expr, $error:expr) => {{
        let span: &::tracing::Span = $span;
        if let Some(error) = $error {
            span.record("error.type", $crate::Error::error_type(error));
            span.record("otel.status_code", "ERROR");
        }
    }};
}

/// The span of one request (`$transmit`, a `&Transmit`) of a client with configuration
/// `$config`. Its `url.full` is made only when the span is enabled.
#[doc(hidden)]
#[macro_export]
macro_rules! __request_span {
    ($transmit:expr, $config:expr) => {{
        let transmit: &$crate::Transmit = $transmit;
        let uri = transmit.request.uri();
        let method = transmit.request.method().as_str();
        let span = ::tracing::debug_span!(
            target: "oomol_cloud_task",
            "cloud_task.request",
            otel.name = method,
            otel.kind = "client",
            otel.status_code = ::tracing::field::Empty,
            http.request.method = method,
            server.address = uri.host(),
            server.port = $crate::trace::server_port(uri).map(i64::from),
            url.full = ::tracing::field::Empty,
            http.response.status_code = ::tracing::field::Empty,
            error.type = ::tracing::field::Empty,
            oomol.operation = transmit.name,
            oomol.machine = transmit.machine,
            oomol.attempt = i64::from(transmit.attempt),
            oomol.task.id = transmit.task_id.as_deref(),
        );
        if !span.is_disabled() {
            let configured = $config.is_configured_origin(uri);
            span.record(
                "url.full",
                $crate::trace::url_full(uri, configured).as_str(),
            );
        }
        span
    }};
}

/// Records a request's answer (`$outcome`: `&Result<HttpResponse>`) on its span, with a
/// DEBUG event.
#[doc(hidden)]
#[macro_export]
macro_rules! __record_answer {
    ($span:expr, status $outcome:expr) => {{
        let span: &::tracing::Span = $span;
        let outcome: ::core::result::Result<$crate::http::StatusCode, &$crate::Error> = $outcome;
        if !span.is_disabled() {
            match outcome {
                Ok(status) => {
                    span.record("http.response.status_code", i64::from(status.as_u16()));
                    if status.is_client_error() || status.is_server_error() {
                        span.record("error.type", status.as_str());
                        span.record("otel.status_code", "ERROR");
                    }
                    ::tracing::debug!(target: "oomol_cloud_task", parent: span, status = i64::from(status.as_u16()), "response");
                }
                Err(error) => {
                    span.record("error.type", $crate::Error::error_type(error));
                    span.record("otel.status_code", "ERROR");
                    ::tracing::debug!(target: "oomol_cloud_task", parent: span, %error, "transport error");
                }
            }
        }
    }};
    ($span:expr, $outcome:expr) => {{
        let outcome: &$crate::Result<$crate::HttpResponse> = $outcome;
        $crate::__record_answer!($span, status outcome.as_ref().map(|response| response.status()));
    }};
}
