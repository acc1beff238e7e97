//! The HTTP seam: [`HttpTransport`] and its ureq implementation, [`UreqTransport`].

use std::fmt;
use std::io;
use std::sync::Arc;
use std::time::Duration;

use cloud_task_core::{Error, HttpRequest, HttpResponse, Result, TransportErrorKind, http};

/// The default per-request timeout of the ureq transport: 30 s.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
/// The default connect timeout of the ureq transport: 10 s.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Sends one HTTP request and answers its response, whatever its status.
///
/// This is the only place where the client touches the network. The default is
/// [`UreqTransport`]; plug another stack (a proxy, a test double) with
/// [`ClientBuilder::transport`](crate::ClientBuilder::transport). It is called from the
/// caller's thread, and from worker threads during `await_many` and uploads.
///
/// Contract:
/// - every response that arrives is answered as `Ok`, 4xx and 5xx included (the core reads
///   their bodies to build its errors);
/// - a failure to obtain a response is answered as [`Error::transport`] with the
///   [`TransportErrorKind`] that fits (connect, timeout, broken connection, other);
/// - the request is sent exactly as given: no header is added that the request does not
///   carry (presigned part uploads must not get an `Authorization` header), and a request
///   is never sent twice (a task creation must never run twice).
///
/// ```
/// use cloud_task_blocking::{HttpTransport, core::{HttpRequest, HttpResponse, Result}};
///
/// /// Answers 503 to everything (a test double).
/// struct Unavailable;
///
/// impl HttpTransport for Unavailable {
///     fn send(&self, _request: HttpRequest) -> Result<HttpResponse> {
///         let mut response = HttpResponse::new(br#"{"message":"down"}"#.to_vec());
///         *response.status_mut() = cloud_task_blocking::core::http::StatusCode::SERVICE_UNAVAILABLE;
///         Ok(response)
///     }
/// }
///
/// let client = cloud_task_blocking::Client::builder().api_key("k").transport(Unavailable).build()?;
/// let error = client.get_dashboard().unwrap_err();
/// assert_eq!(error.to_string(), "down (HTTP 503)");
/// # Ok::<(), cloud_task_blocking::Error>(())
/// ```
pub trait HttpTransport: Send + Sync + 'static {
    /// Sends `request` and answers its response (any status), or a transport error.
    fn send(&self, request: HttpRequest) -> Result<HttpResponse>;
}

impl<T: HttpTransport + ?Sized> HttpTransport for Arc<T> {
    fn send(&self, request: HttpRequest) -> Result<HttpResponse> {
        (**self).send(request)
    }
}

impl<T: HttpTransport + ?Sized> HttpTransport for Box<T> {
    fn send(&self, request: HttpRequest) -> Result<HttpResponse> {
        (**self).send(request)
    }
}

/// The default transport: a [`ureq::Agent`] (one connection pool, shared by clones).
///
/// Built by [`ClientBuilder`](crate::ClientBuilder) with its timeouts (the per-request one
/// covers the whole exchange, response body included), proxies taken from the environment
/// (`ALL_PROXY`, `HTTPS_PROXY`, `HTTP_PROXY`, `NO_PROXY`, as ureq reads them), and TLS
/// through rustls, or through the platform's library with the `native-tls` feature. Wrap
/// your own agent with `From` to tune it further: whatever its configuration, 4xx and 5xx
/// responses are always handed to the core (ureq's `http_status_as_error` is turned off
/// for every request).
///
/// ```
/// use cloud_task_blocking::{Client, UreqTransport};
/// let agent: ureq::Agent = ureq::Agent::config_builder().max_idle_connections(4).build().into();
/// let client = Client::builder().api_key("k").transport(UreqTransport::from(agent)).build()?;
/// # Ok::<(), cloud_task_blocking::Error>(())
/// ```
#[derive(Clone)]
pub struct UreqTransport {
    agent: ureq::Agent,
}

impl UreqTransport {
    /// A transport with the given per-request and connect timeouts (see the type's docs).
    pub fn with_timeouts(timeout: Duration, connect_timeout: Duration) -> Self {
        let config = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(timeout))
            .timeout_connect(Some(connect_timeout));
        // The feature is off by default: turning it on asks for the platform's TLS.
        #[cfg(feature = "native-tls")]
        let config = config.tls_config(
            ureq::tls::TlsConfig::builder()
                .provider(ureq::tls::TlsProvider::NativeTls)
                .build(),
        );
        let agent = config.build().new_agent();
        UreqTransport { agent }
    }

    /// The wrapped `ureq::Agent`.
    pub fn inner(&self) -> &ureq::Agent {
        &self.agent
    }
}

impl Default for UreqTransport {
    /// The default timeouts: 30 s per request, 10 s to connect.
    fn default() -> Self {
        UreqTransport::with_timeouts(DEFAULT_TIMEOUT, DEFAULT_CONNECT_TIMEOUT)
    }
}

impl From<ureq::Agent> for UreqTransport {
    fn from(agent: ureq::Agent) -> Self {
        UreqTransport { agent }
    }
}

impl fmt::Debug for UreqTransport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("UreqTransport")
    }
}

impl UreqTransport {
    /// Runs `request` on the agent, with ureq's status errors turned off for it when the
    /// agent has them on (a user's agent).
    fn run<S: ureq::AsSendBody>(
        &self,
        request: http::Request<S>,
    ) -> Result<http::Response<ureq::Body>, ureq::Error> {
        if self.agent.config().http_status_as_error() {
            let request = self
                .agent
                .configure_request(request)
                .http_status_as_error(false)
                .build();
            self.agent.run(request)
        } else {
            self.agent.run(request)
        }
    }
}

impl HttpTransport for UreqTransport {
    fn send(&self, request: HttpRequest) -> Result<HttpResponse> {
        let (parts, body) = request.into_parts();
        let bodiless = body.is_empty()
            && matches!(
                parts.method,
                http::Method::GET | http::Method::HEAD | http::Method::DELETE
            );
        // A GET goes without a body (and so without `Content-Length: 0`).
        let response = if bodiless {
            self.run(http::Request::from_parts(parts, ()))
        } else {
            self.run(http::Request::from_parts(parts, body))
        }
        .map_err(map_ureq_error)?;
        let (parts, mut body) = response.into_parts();
        let bytes = body
            .with_config()
            .limit(u64::MAX)
            .read_to_vec()
            .map_err(map_ureq_error)?;
        Ok(http::Response::from_parts(parts, bytes))
    }
}

/// Maps a ureq error to the core's transport error kinds, never quoting a URL (presigned
/// URLs carry signatures in their query).
pub(crate) fn map_ureq_error(error: ureq::Error) -> Error {
    use ureq::Error as U;
    let kind = match &error {
        U::Timeout(_) => TransportErrorKind::Timeout,
        U::HostNotFound | U::ConnectionFailed | U::Tls(_) => TransportErrorKind::Connect,
        U::Io(io) => io_kind(io),
        U::Protocol(_) | U::BodyExceedsLimit(_) => TransportErrorKind::Io,
        _ => TransportErrorKind::Other,
    };
    match error {
        U::BadUri(_) => Error::transport(kind, "the request URL has no scheme or host"),
        other => Error::transport(kind, other),
    }
}

/// The transport kind of an I/O error (ureq reports refused connections and socket
/// timeouts this way too).
fn io_kind(error: &io::Error) -> TransportErrorKind {
    if let Some(ureq::Error::Timeout(_)) = error
        .get_ref()
        .and_then(|e| e.downcast_ref::<ureq::Error>())
    {
        return TransportErrorKind::Timeout;
    }
    match error.kind() {
        io::ErrorKind::ConnectionRefused
        | io::ErrorKind::AddrNotAvailable
        | io::ErrorKind::HostUnreachable
        | io::ErrorKind::NetworkUnreachable => TransportErrorKind::Connect,
        io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock => TransportErrorKind::Timeout,
        _ => TransportErrorKind::Io,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kind(error: Error) -> TransportErrorKind {
        match error {
            Error::Transport(t) => t.kind,
            other => panic!("expected a transport error, got {other:?}"),
        }
    }

    #[test]
    fn ureq_errors_map_to_the_core_kinds() {
        let io = |k| ureq::Error::Io(io::Error::new(k, "x"));
        assert_eq!(
            kind(map_ureq_error(io(io::ErrorKind::ConnectionRefused))),
            TransportErrorKind::Connect
        );
        assert_eq!(
            kind(map_ureq_error(io(io::ErrorKind::TimedOut))),
            TransportErrorKind::Timeout
        );
        assert_eq!(
            kind(map_ureq_error(io(io::ErrorKind::ConnectionReset))),
            TransportErrorKind::Io
        );
        assert_eq!(
            kind(map_ureq_error(ureq::Error::HostNotFound)),
            TransportErrorKind::Connect
        );
        assert_eq!(
            kind(map_ureq_error(ureq::Error::Timeout(ureq::Timeout::Global))),
            TransportErrorKind::Timeout
        );
        assert_eq!(
            kind(map_ureq_error(ureq::Error::TooManyRedirects)),
            TransportErrorKind::Other
        );
    }

    #[test]
    fn a_bad_uri_is_never_quoted() {
        let error = map_ureq_error(ureq::Error::BadUri(
            "/part?X-Signature=secret-signature".to_owned(),
        ));
        assert!(!error.reason().contains("secret-signature"), "{error:?}");
        assert!(!format!("{error:?}").contains("secret-signature"));
        assert_eq!(kind(error), TransportErrorKind::Other);
    }
}
