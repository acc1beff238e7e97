//! The HTTP seam: [`HttpTransport`] and its ureq implementation, [`UreqTransport`].

use std::fmt;
use std::io;
use std::sync::Arc;
use std::time::Duration;

use cloud_task_core::{
    Config, Error, HttpRequest, HttpResponse, Result, SendLimits, TransportErrorKind, http,
};

pub use cloud_task_core::{DEFAULT_CONNECT_TIMEOUT, DEFAULT_TIMEOUT};

/// The head of a response: its status, version and headers.
pub type ResponseHead = http::response::Parts;

/// A response's body, read in pieces ([`HttpTransport::send_streaming`]).
pub trait BodyRead: Send {
    /// Reads the next piece of the body into `buf`: how many bytes (0 once the body is
    /// whole), or the transport's failure ([`SendLimits::body_too_large`] past the
    /// limit). Not called again after 0 or a failure.
    fn read(&mut self, buf: &mut [u8]) -> Result<usize>;
}

/// A response's body to read in pieces, as a transport hands it out.
pub type BodyReader = Box<dyn BodyRead>;

/// A body already read whole, handed on in pieces.
struct Whole {
    bytes: Vec<u8>,
    at: usize,
}

impl BodyRead for Whole {
    fn read(&mut self, buf: &mut [u8]) -> Result<usize> {
        let rest = self.bytes.get(self.at..).unwrap_or_default();
        let n = rest.len().min(buf.len());
        buf[..n].copy_from_slice(&rest[..n]);
        self.at += n;
        Ok(n)
    }
}

/// Sends one HTTP request and answers its response, whatever its status.
///
/// This is the only place where the client touches the network. The default is
/// [`UreqTransport`]; plug another stack (a proxy, a test double) with
/// [`ClientBuilder::transport`](crate::ClientBuilder::transport). It is called from the
/// caller's thread, and from the client's sender threads (waits that can be cancelled,
/// `await_many`, uploads, and every send of a transport that does not bound itself).
///
/// Contract:
/// - every response that arrives is answered as `Ok`, 4xx and 5xx included (the core reads
///   their bodies to build its errors), and 3xx too: redirects are the core's to follow
///   or refuse, so a transport must not follow them itself;
/// - a failure to obtain a response is answered as [`Error::transport`] with the
///   [`TransportErrorKind`] that fits (connect, timeout, broken connection, other);
/// - `limits` bound the exchange: answer within `limits.timeout`, and stop reading a body
///   past `limits.max_response_body`, answering [`SendLimits::body_too_large`];
/// - the request is sent exactly as given: no header is added that the request does not
///   carry (presigned part uploads must not get an `Authorization` header), and a request
///   is never sent twice (a task creation must never run twice).
///
/// A blocking call cannot be interrupted from outside, so the client trusts only a
/// transport that says it keeps to `limits` ([`bounds_itself`](Self::bounds_itself)) to
/// run on the caller's thread. Any other runs on the client's sender threads, and the
/// caller stops waiting for it at the deadline (a transport that hangs for ever then holds
/// one sender thread, at most 64 of them in all).
///
/// ```
/// use oomol_cloud_task::{Result, blocking::transport::{HttpRequest, HttpResponse, HttpTransport, SendLimits}};
///
/// /// Answers 503 to everything (a test double).
/// struct Unavailable;
///
/// impl HttpTransport for Unavailable {
///     fn send(&self, _request: HttpRequest, _limits: SendLimits) -> Result<HttpResponse> {
///         let mut response = HttpResponse::new(br#"{"message":"down"}"#.to_vec());
///         *response.status_mut() = oomol_cloud_task::http::StatusCode::SERVICE_UNAVAILABLE;
///         Ok(response)
///     }
///
///     // It answers at once: it may run on the caller's thread.
///     fn bounds_itself(&self) -> bool {
///         true
///     }
/// }
///
/// let client = oomol_cloud_task::blocking::Client::builder().api_key("k").transport(Unavailable).build()?;
/// let error = client.get_dashboard().unwrap_err();
/// assert_eq!(error.to_string(), "down");
/// assert_eq!(error.status().map(|s| s.as_u16()), Some(503));
/// # Ok::<(), oomol_cloud_task::Error>(())
/// ```
pub trait HttpTransport: Send + Sync + 'static {
    /// Sends `request` and answers its response (any status), or a transport error,
    /// within `limits`.
    fn send(&self, request: HttpRequest, limits: SendLimits) -> Result<HttpResponse>;

    /// True when [`send`](Self::send) itself always returns within `limits.timeout` (as
    /// [`UreqTransport`] does): the client then calls it on the caller's thread. False by
    /// default: each send runs on one of the client's sender threads, and the caller stops
    /// waiting at the deadline.
    fn bounds_itself(&self) -> bool {
        false
    }

    /// Sends `request` and answers the head of its response as soon as it is in, with its
    /// body to read in pieces, under the contract and `limits` of [`send`](Self::send)
    /// (`limits.timeout` runs to the end of the body).
    ///
    /// The client uses it, on the caller's thread, for the chunks of a download, whose
    /// bytes go to their file as they arrive instead of being gathered first. By default
    /// it answers what [`send`](Self::send) does, its body handed on in pieces: a
    /// transport that overrides only `send` downloads correctly, holding each chunk whole.
    fn send_streaming(
        &self,
        request: HttpRequest,
        limits: SendLimits,
    ) -> Result<(ResponseHead, BodyReader)> {
        let (head, bytes) = self.send(request, limits)?.into_parts();
        Ok((head, Box::new(Whole { bytes, at: 0 })))
    }
}

/// [`HttpTransport`] for a pointer to one: every method forwarded, so that a wrapped
/// transport keeps its own (a method left out would fall back to its default: a stack that
/// streams would gather, one that bounds itself would be sent on a sender thread).
macro_rules! forward_transport {
    ($($pointer:ident),+) => {$(
        impl<T: HttpTransport + ?Sized> HttpTransport for $pointer<T> {
            fn send(&self, request: HttpRequest, limits: SendLimits) -> Result<HttpResponse> {
                (**self).send(request, limits)
            }

            fn bounds_itself(&self) -> bool {
                (**self).bounds_itself()
            }

            fn send_streaming(
                &self,
                request: HttpRequest,
                limits: SendLimits,
            ) -> Result<(ResponseHead, BodyReader)> {
                (**self).send_streaming(request, limits)
            }
        }
    )+};
}

forward_transport!(Arc, Box);

/// The default transport: a [`ureq::Agent`] (one connection pool, shared by clones).
///
/// Built by [`ClientBuilder`](crate::ClientBuilder) with the configuration's connect
/// timeout, proxies taken from the environment (`ALL_PROXY`, `HTTPS_PROXY`, `HTTP_PROXY`,
/// `NO_PROXY`, as ureq reads them), TLS through rustls (or the platform's library with the
/// `native-tls` feature), and a resolver that answers IP addresses at once and keeps host
/// names for 30 s (ureq's own resolver starts a thread per request when a timeout is set,
/// which costs half again the CPU of a call). Each request gets the time its
/// [`SendLimits`] allow as ureq's timeout for the whole exchange, follows no redirect (the
/// core decides), and its body is read up to the largest allowed.
///
/// Wrap your own agent with `From` to tune it further: whatever its configuration, each
/// request still gets its timeout, no redirects, and 4xx/5xx/3xx handed to the core (set
/// on every request); it keeps its own resolver.
///
/// ```
/// use oomol_cloud_task::{blocking::Client, blocking::transport::UreqTransport};
/// let agent: ureq::Agent = ureq::Agent::config_builder().max_idle_connections(4).build().into();
/// let client = Client::builder().api_key("k").transport(UreqTransport::from(agent)).build()?;
/// # Ok::<(), oomol_cloud_task::Error>(())
/// ```
#[derive(Clone)]
pub struct UreqTransport {
    agent: ureq::Agent,
    /// True when the agent's own configuration already hands 4xx/5xx over as responses
    /// and follows no redirect (as the one [`new`](Self::new) builds): each request then
    /// sets only its timeout.
    core_ready: bool,
}

impl UreqTransport {
    /// The transport [`ClientBuilder`](crate::ClientBuilder) builds for `config` (its
    /// connect timeout; per-request timeouts come with each send).
    pub fn new(config: &Config) -> Self {
        Self::with_timeouts(config.timeout(), config.connect_timeout())
    }

    /// A transport with this connect timeout and, as a ceiling above each send's own
    /// limit, this per-request timeout.
    pub fn with_timeouts(timeout: Duration, connect_timeout: Duration) -> Self {
        let config = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .max_redirects(0)
            .timeout_global(Some(timeout))
            .timeout_connect(Some(connect_timeout));
        // The feature is off by default: turning it on asks for the platform's TLS.
        #[cfg(feature = "native-tls")]
        let config = config.tls_config(
            ureq::tls::TlsConfig::builder()
                .provider(ureq::tls::TlsProvider::NativeTls)
                .build(),
        );
        let agent = ureq::Agent::with_parts(
            config.build(),
            ureq::unversioned::transport::DefaultConnector::new(),
            crate::resolve::CachingResolver::default(),
        );
        UreqTransport::from(agent)
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
        let config = agent.config();
        let core_ready = !config.http_status_as_error() && config.max_redirects() == 0;
        UreqTransport { agent, core_ready }
    }
}

impl fmt::Debug for UreqTransport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("UreqTransport")
    }
}

impl UreqTransport {
    /// Runs `request` on the agent with what the core needs set on the request itself:
    /// its timeout, no redirects, and 4xx/5xx as responses.
    fn run<S: ureq::AsSendBody>(
        &self,
        request: http::Request<S>,
        limits: SendLimits,
    ) -> Result<http::Response<ureq::Body>, ureq::Error> {
        let mut request = self.agent.configure_request(request);
        if !self.core_ready {
            request = request.http_status_as_error(false).max_redirects(0);
        }
        let request = request
            .timeout_global(Some(limits.timeout.max(Duration::from_millis(1))))
            .build();
        self.agent.run(request)
    }
}

/// What [`UreqTransport`] answers before reading a body: the head, the body, and how to
/// name a failure of it.
struct Started {
    head: ResponseHead,
    body: ureq::Body,
    authority: Option<http::uri::Authority>,
}

impl Started {
    /// `error`, naming the request's host.
    fn failed(authority: Option<&http::uri::Authority>, error: ureq::Error) -> Error {
        match authority {
            Some(authority) => map_ureq_error(error).with_host(authority.as_str()),
            None => map_ureq_error(error),
        }
    }
}

/// The body of a ureq response, read in pieces up to its limit.
struct UreqBody {
    reader: ureq::BodyReader<'static>,
    authority: Option<http::uri::Authority>,
    limits: SendLimits,
}

impl BodyRead for UreqBody {
    fn read(&mut self, buf: &mut [u8]) -> Result<usize> {
        io::Read::read(&mut self.reader, buf).map_err(|error| {
            match error
                .get_ref()
                .and_then(|e| e.downcast_ref::<ureq::Error>())
            {
                Some(ureq::Error::BodyExceedsLimit(_)) => self.limits.body_too_large(),
                _ => {
                    let error = Error::transport(io_kind(&error), error);
                    match &self.authority {
                        Some(authority) => error.with_host(authority.as_str()),
                        None => error,
                    }
                }
            }
        })
    }
}

impl UreqTransport {
    /// Sends `request` within `limits` and answers its head, its body not read yet (a
    /// `Content-Length` over the limit is refused unread).
    fn start(&self, request: HttpRequest, limits: SendLimits) -> Result<Started> {
        if limits.timeout.is_zero() {
            return Err(limits.elapsed());
        }
        let (parts, body) = request.into_parts();
        // Kept to name the host of a failure (a reference count, no copy).
        let authority = parts.uri.authority().cloned();
        let failed = |error: ureq::Error| Started::failed(authority.as_ref(), error);
        let bodiless = body.is_empty()
            && matches!(
                parts.method,
                http::Method::GET | http::Method::HEAD | http::Method::DELETE
            );
        // A GET goes without a body (and so without `Content-Length: 0`).
        let response = if bodiless {
            self.run(http::Request::from_parts(parts, ()), limits)
        } else {
            self.run(http::Request::from_parts(parts, body), limits)
        }
        .map_err(failed)?;
        let (head, body) = response.into_parts();
        let announced = head
            .headers
            .get(http::header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok());
        if limits.refuses_length(announced) {
            return Err(limits.body_too_large());
        }
        Ok(Started {
            head,
            body,
            authority,
        })
    }
}

impl HttpTransport for UreqTransport {
    fn send(&self, request: HttpRequest, limits: SendLimits) -> Result<HttpResponse> {
        let Started {
            head,
            mut body,
            authority,
        } = self.start(request, limits)?;
        let bytes = body
            .with_config()
            .limit(limits.max_response_body)
            .read_to_vec()
            .map_err(|e| match e {
                ureq::Error::BodyExceedsLimit(_) => limits.body_too_large(),
                other => Started::failed(authority.as_ref(), other),
            })?;
        Ok(http::Response::from_parts(head, bytes))
    }

    fn bounds_itself(&self) -> bool {
        true
    }

    /// The body is read from the connection as the client asks for its pieces.
    fn send_streaming(
        &self,
        request: HttpRequest,
        limits: SendLimits,
    ) -> Result<(ResponseHead, BodyReader)> {
        let Started {
            head,
            body,
            authority,
        } = self.start(request, limits)?;
        let reader = body
            .into_with_config()
            .limit(limits.max_response_body)
            .reader();
        let body = UreqBody {
            reader,
            authority,
            limits,
        };
        Ok((head, Box::new(body)))
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
