//! The HTTP seam: [`HttpTransport`] and its reqwest implementation, [`ReqwestTransport`].

use std::fmt;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use cloud_task_core::{
    Config, Error, HttpRequest, HttpResponse, Result, SendLimits, TransportErrorKind, http,
};

pub use cloud_task_core::{DEFAULT_CONNECT_TIMEOUT, DEFAULT_TIMEOUT};

/// The head of a response: its status, version and headers.
pub type ResponseHead = http::response::Parts;

/// A response's body read in pieces, in order: it ends with `None` once whole, or with an
/// error (after which it is not polled again). Dropping it stops reading.
pub type BodyStream = Pin<Box<dyn futures_core::Stream<Item = Result<Bytes>> + Send>>;

/// Sends one HTTP request and answers its response, whatever its status.
///
/// This is the only place where the client touches the network. The default is
/// [`ReqwestTransport`]; plug another stack (hyper, a proxy, a test double) with
/// [`ClientBuilder::transport`](crate::ClientBuilder::transport).
///
/// Contract:
/// - every response that arrives is answered as `Ok`, 4xx and 5xx included (the core reads
///   their bodies to build its errors), and 3xx too: redirects are the core's to follow
///   or refuse, so a transport must not follow them itself;
/// - a failure to obtain a response is answered as [`Error::transport`] with the
///   [`TransportErrorKind`] that fits (connect, timeout, broken connection, other);
/// - `limits` bound the exchange: answer within `limits.timeout`, and stop reading a body
///   past `limits.max_response_body`, answering [`SendLimits::body_too_large`]. Unless the
///   transport says it keeps to them itself ([`bounds_itself`](Self::bounds_itself)), the
///   client cuts every send off at `limits.timeout` (and refuses a body over the limit
///   handed to it anyway);
/// - the request is sent exactly as given: no header is added that the request does not
///   carry (presigned part uploads must not get an `Authorization` header), and a request
///   is never sent twice (a task creation must never run twice).
///
/// ```
/// use oomol_cloud_task::{Result, transport::{async_trait, HttpRequest, HttpResponse, HttpTransport, SendLimits}};
///
/// /// Answers 503 to everything (a test double).
/// struct Unavailable;
///
/// #[async_trait]
/// impl HttpTransport for Unavailable {
///     async fn send(&self, _request: HttpRequest, _limits: SendLimits) -> Result<HttpResponse> {
///         let mut response = HttpResponse::new(br#"{"message":"down"}"#.to_vec());
///         *response.status_mut() = oomol_cloud_task::http::StatusCode::SERVICE_UNAVAILABLE;
///         Ok(response)
///     }
/// }
///
/// let client = oomol_cloud_task::Client::builder().api_key("k").transport(Unavailable).build()?;
/// # Ok::<(), oomol_cloud_task::Error>(())
/// ```
#[async_trait]
pub trait HttpTransport: Send + Sync + 'static {
    /// Sends `request` and answers its response (any status), or a transport error,
    /// within `limits`.
    async fn send(&self, request: HttpRequest, limits: SendLimits) -> Result<HttpResponse>;

    /// True when [`send`](Self::send) itself always ends within `limits.timeout` (as
    /// [`ReqwestTransport`] does, with reqwest's own per-request timeout): the client then
    /// adds no timer of its own. False by default: the client cuts each send off at its
    /// deadline.
    fn bounds_itself(&self) -> bool {
        false
    }

    /// Sends `request` and answers the head of its response as soon as it is in, with its
    /// body to read in pieces, under the contract and `limits` of [`send`](Self::send)
    /// (`limits.timeout` runs to the end of the body; past `limits.max_response_body` the
    /// body ends with [`SendLimits::body_too_large`]).
    ///
    /// The client uses it for the chunks of a download, whose bytes go to their file as
    /// they arrive instead of being gathered first. By default it answers what
    /// [`send`](Self::send) does, its body as one piece: a transport that overrides only
    /// `send` downloads correctly, holding each chunk whole.
    async fn send_streaming(
        &self,
        request: HttpRequest,
        limits: SendLimits,
    ) -> Result<(ResponseHead, BodyStream)> {
        let (head, body) = self.send(request, limits).await?.into_parts();
        let piece = futures_util::stream::once(async move { Ok(Bytes::from(body)) });
        Ok((head, Box::pin(piece)))
    }
}

/// [`HttpTransport`] for a pointer to one: every method forwarded, so that a wrapped
/// transport keeps its own (a method left out would fall back to its default: a stack that
/// streams would gather, one that bounds itself would get a second timer).
macro_rules! forward_transport {
    ($($pointer:ident),+) => {$(
        #[async_trait]
        impl<T: HttpTransport + ?Sized> HttpTransport for $pointer<T> {
            async fn send(&self, request: HttpRequest, limits: SendLimits) -> Result<HttpResponse> {
                (**self).send(request, limits).await
            }

            fn bounds_itself(&self) -> bool {
                (**self).bounds_itself()
            }

            async fn send_streaming(
                &self,
                request: HttpRequest,
                limits: SendLimits,
            ) -> Result<(ResponseHead, BodyStream)> {
                (**self).send_streaming(request, limits).await
            }
        }
    )+};
}

forward_transport!(Arc, Box);

/// The default transport: a [`reqwest::Client`] (one connection pool, shared by clones).
///
/// Built by [`ClientBuilder`](crate::ClientBuilder) from the configuration's connect
/// timeout, following no redirect (the core decides: same-origin ones are followed, others
/// refused), never retrying by itself, with proxies taken from the environment
/// (`HTTP_PROXY`, `HTTPS_PROXY`, `NO_PROXY`, ...) as reqwest does. Every request gets the
/// time its [`SendLimits`] allow as reqwest's own timeout, and its body is read chunk by
/// chunk, stopping past the largest body allowed (a `Content-Length` over it is refused
/// unread).
///
/// To tune reqwest further, start from [`from_builder`](Self::from_builder), which keeps
/// redirects off. A `reqwest::Client` wrapped with `From` is used as it is: build it with
/// `redirect(reqwest::redirect::Policy::none())`, or reqwest follows redirects itself and
/// may forward default headers (other than `Authorization` and `Cookie`) to another host.
///
/// ```
/// use oomol_cloud_task::{Client, transport::ReqwestTransport};
/// let http = ReqwestTransport::from_builder(reqwest::Client::builder().pool_max_idle_per_host(4))?;
/// let client = Client::builder().api_key("k").transport(http).build()?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct ReqwestTransport {
    client: reqwest::Client,
}

impl ReqwestTransport {
    /// The transport [`ClientBuilder`](crate::ClientBuilder) builds for `config` (its
    /// connect timeout; per-request timeouts come with each send).
    pub fn new(config: &Config) -> Result<Self> {
        Self::from_builder(reqwest::Client::builder().connect_timeout(config.connect_timeout()))
    }

    /// A transport with this connect timeout and, as a ceiling above each send's own
    /// limit, this per-request timeout.
    pub fn with_timeouts(timeout: Duration, connect_timeout: Duration) -> Result<Self> {
        Self::from_builder(
            reqwest::Client::builder()
                .timeout(timeout)
                .connect_timeout(connect_timeout),
        )
    }

    /// A transport from your own reqwest builder, with what the SDK needs set on top: no
    /// redirects followed by reqwest, no retries by reqwest.
    pub fn from_builder(builder: reqwest::ClientBuilder) -> Result<Self> {
        let client = builder
            .redirect(reqwest::redirect::Policy::none())
            .retry(reqwest::retry::never())
            .build()
            .map_err(|e| Error::transport(TransportErrorKind::Other, e))?;
        Ok(ReqwestTransport { client })
    }

    /// The wrapped `reqwest::Client`.
    pub fn inner(&self) -> &reqwest::Client {
        &self.client
    }
}

impl Default for ReqwestTransport {
    /// The default transport: 10 s to connect, 30 s per request at most, no redirects.
    ///
    /// # Panics
    ///
    /// When the TLS backend cannot be initialised, as `reqwest::Client::new` does; use
    /// [`ReqwestTransport::new`] to get that as an error instead.
    fn default() -> Self {
        Self::with_timeouts(DEFAULT_TIMEOUT, DEFAULT_CONNECT_TIMEOUT)
            .expect("the TLS backend of reqwest could not be initialised")
    }
}

impl From<reqwest::Client> for ReqwestTransport {
    fn from(client: reqwest::Client) -> Self {
        ReqwestTransport { client }
    }
}

impl fmt::Debug for ReqwestTransport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ReqwestTransport")
    }
}

/// Maps a reqwest error to the core's transport error kinds.
pub(crate) fn map_reqwest_error(error: reqwest::Error) -> Error {
    let kind = if error.is_timeout() {
        TransportErrorKind::Timeout
    } else if error.is_connect() {
        TransportErrorKind::Connect
    } else if error.is_request() || error.is_body() || error.is_decode() {
        TransportErrorKind::Io
    } else {
        TransportErrorKind::Other
    };
    // reqwest's Display shows the URL; presigned URLs carry signatures in their query:
    // only the authority is kept.
    let host = error.url().and_then(authority);
    let error = Error::transport(kind, error.without_url());
    match host {
        Some(host) => error.with_host(host),
        None => error,
    }
}

/// `host[:port]` of a URL.
fn authority(url: &reqwest::Url) -> Option<String> {
    let host = url.host_str()?;
    Some(match url.port() {
        Some(port) => format!("{host}:{port}"),
        None => host.to_owned(),
    })
}

/// A response body read up to a limit: one chunk kept as is, more gathered.
enum Body {
    Empty,
    One(Bytes),
    Many(Vec<u8>),
}

impl Body {
    /// Adds `chunk`; `expected` is the announced length (already checked against the
    /// limit), so that a body in many chunks is gathered in one buffer of its size.
    fn push(&mut self, chunk: Bytes, expected: Option<u64>) {
        *self = match std::mem::replace(self, Body::Empty) {
            Body::Empty => Body::One(chunk),
            Body::One(first) => {
                let so_far = first.len() + chunk.len();
                let announced = expected.and_then(|n| usize::try_from(n).ok());
                let capacity = announced.filter(|n| *n >= so_far).unwrap_or(so_far * 2);
                let mut all = Vec::with_capacity(capacity);
                all.extend_from_slice(&first);
                all.extend_from_slice(&chunk);
                Body::Many(all)
            }
            Body::Many(mut all) => {
                all.extend_from_slice(&chunk);
                Body::Many(all)
            }
        }
    }

    fn into_vec(self) -> Vec<u8> {
        match self {
            Body::Empty => Vec::new(),
            // Zero-copy when the body arrived in one uniquely owned buffer.
            Body::One(bytes) => Vec::from(bytes),
            Body::Many(all) => all,
        }
    }
}

impl ReqwestTransport {
    /// Sends `request` within `limits` and answers the response, its body not read yet (a
    /// `Content-Length` over the limit is refused unread).
    async fn execute(&self, request: HttpRequest, limits: SendLimits) -> Result<reqwest::Response> {
        let mut request = to_reqwest(request)?;
        *request.timeout_mut() = Some(limits.timeout);
        let response = self
            .client
            .execute(request)
            .await
            .map_err(map_reqwest_error)?;
        if limits.refuses_length(response.content_length()) {
            return Err(limits.body_too_large());
        }
        Ok(response)
    }
}

/// `request` as reqwest's. Its URL is written once, into a buffer of its size, and parsed:
/// reqwest's own `TryFrom` formats the `Uri` into a growing `String` first (measured: about
/// 1.5 k instructions of a call's 92 k). A URI without a scheme or a host goes through
/// reqwest's `TryFrom`, for its error.
fn to_reqwest(request: HttpRequest) -> Result<reqwest::Request> {
    let (parts, body) = request.into_parts();
    let uri = &parts.uri;
    let url = match (uri.scheme_str(), uri.authority()) {
        (Some(scheme), Some(authority)) => {
            let path = uri.path_and_query().map_or("/", |pq| pq.as_str());
            let mut text =
                String::with_capacity(scheme.len() + 3 + authority.as_str().len() + path.len());
            text.push_str(scheme);
            text.push_str("://");
            text.push_str(authority.as_str());
            text.push_str(path);
            reqwest::Url::parse(&text).ok()
        }
        _ => None,
    };
    let Some(url) = url else {
        let request = http::Request::from_parts(parts, body);
        return reqwest::Request::try_from(request).map_err(map_reqwest_error);
    };
    let mut out = reqwest::Request::new(parts.method, url);
    // Moved into a map with room for the headers reqwest adds (its default `Accept`): the
    // map as it comes has none, and reqwest's insertion would move every header to a
    // larger buffer (measured: about 600 instructions of a call). A map too large to be
    // given that room (`HeaderMap` has a largest size) is moved as it is.
    let headers = out.headers_mut();
    if headers.try_reserve(parts.headers.len() + 2).is_ok() {
        headers.extend(parts.headers);
    } else {
        *headers = parts.headers;
    }
    *out.version_mut() = parts.version;
    *out.body_mut() = Some(body.into());
    Ok(out)
}

/// The head of `response`, taken out of it (its headers are moved, not copied).
fn take_head(response: &mut reqwest::Response) -> ResponseHead {
    let (mut head, ()) = http::Response::new(()).into_parts();
    head.status = response.status();
    head.version = response.version();
    head.headers = std::mem::take(response.headers_mut());
    head
}

#[async_trait]
impl HttpTransport for ReqwestTransport {
    async fn send(&self, request: HttpRequest, limits: SendLimits) -> Result<HttpResponse> {
        let mut response = self.execute(request, limits).await?;
        let status = response.status();
        let version = response.version();
        let headers = std::mem::take(response.headers_mut());
        let expected = response.content_length();
        let mut body = Body::Empty;
        let mut read: u64 = 0;
        while let Some(chunk) = response.chunk().await.map_err(map_reqwest_error)? {
            read = read.saturating_add(chunk.len() as u64);
            if read > limits.max_response_body {
                return Err(limits.body_too_large());
            }
            body.push(chunk, expected);
        }
        let mut out = http::Response::new(body.into_vec());
        *out.status_mut() = status;
        *out.version_mut() = version;
        *out.headers_mut() = headers;
        Ok(out)
    }

    /// reqwest's own timeout, set on every request from its limits, covers the whole
    /// exchange, body included.
    fn bounds_itself(&self) -> bool {
        true
    }

    /// The body's pieces are reqwest's own buffers, handed on as they are read.
    async fn send_streaming(
        &self,
        request: HttpRequest,
        limits: SendLimits,
    ) -> Result<(ResponseHead, BodyStream)> {
        let mut response = self.execute(request, limits).await?;
        let head = take_head(&mut response);
        let body = futures_util::stream::unfold(Some((response, 0u64)), move |state| async move {
            let (mut response, read) = state?;
            match response.chunk().await {
                Ok(None) => None,
                Ok(Some(chunk)) => {
                    let read = read.saturating_add(chunk.len() as u64);
                    if read > limits.max_response_body {
                        return Some((Err(limits.body_too_large()), None));
                    }
                    Some((Ok(chunk), Some((response, read))))
                }
                Err(error) => Some((Err(map_reqwest_error(error)), None)),
            }
        });
        Ok((head, Box::pin(body)))
    }
}

#[cfg(test)]
mod tests {
    use http::header::{HeaderName, HeaderValue};

    use super::*;

    fn request(headers: http::HeaderMap) -> HttpRequest {
        let mut request = http::Request::new(Vec::new());
        *request.uri_mut() = "http://127.0.0.1:1/v3/x?y=1".parse().unwrap();
        *request.headers_mut() = headers;
        request
    }

    #[test]
    fn every_header_goes_to_reqwest_in_order_repeated_ones_included() {
        let mut headers = http::HeaderMap::new();
        headers.insert("authorization", HeaderValue::from_static("Bearer k"));
        headers.append("x-team", HeaderValue::from_static("a"));
        headers.append("x-team", HeaderValue::from_static("b"));
        headers.insert("user-agent", HeaderValue::from_static("sdk"));
        let out = to_reqwest(request(headers.clone())).unwrap();
        assert_eq!(out.url().as_str(), "http://127.0.0.1:1/v3/x?y=1");
        let sent: Vec<_> = out.headers().iter().collect();
        let given: Vec<_> = headers.iter().collect();
        assert_eq!(sent, given);
    }

    #[test]
    fn a_request_of_more_headers_than_a_map_can_grow_to_is_moved_as_it_is() {
        // A map holds at most 24,576 entries, and `HeaderMap::reserve` (and `extend`)
        // panic when asked for more: such a map is moved, not copied.
        let mut headers = http::HeaderMap::new();
        for i in 0..24_575 {
            let name = HeaderName::from_bytes(format!("x-h{i}").as_bytes()).unwrap();
            headers.insert(name, HeaderValue::from_static("v"));
        }
        let out = to_reqwest(request(headers)).unwrap();
        assert_eq!(out.headers().len(), 24_575);
        assert_eq!(out.headers()["x-h24574"], "v");
    }
}
