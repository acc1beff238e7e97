//! The HTTP seam: [`HttpTransport`] and its reqwest implementation, [`ReqwestTransport`].

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use cloud_task_core::{Error, HttpRequest, HttpResponse, Result, TransportErrorKind, http};

/// The default per-request timeout of the reqwest transport: 30 s.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
/// The default connect timeout of the reqwest transport: 10 s.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Sends one HTTP request and answers its response, whatever its status.
///
/// This is the only place where the client touches the network. The default is
/// [`ReqwestTransport`]; plug another stack (hyper, a proxy, a test double) with
/// [`ClientBuilder::transport`](crate::ClientBuilder::transport).
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
/// use async_trait::async_trait;
/// use cloud_task_async::{HttpTransport, core::{HttpRequest, HttpResponse, Result}};
///
/// /// Answers 503 to everything (a test double).
/// struct Unavailable;
///
/// #[async_trait]
/// impl HttpTransport for Unavailable {
///     async fn send(&self, _request: HttpRequest) -> Result<HttpResponse> {
///         let mut response = HttpResponse::new(br#"{"message":"down"}"#.to_vec());
///         *response.status_mut() = cloud_task_async::core::http::StatusCode::SERVICE_UNAVAILABLE;
///         Ok(response)
///     }
/// }
///
/// let client = cloud_task_async::Client::builder().api_key("k").transport(Unavailable).build()?;
/// # Ok::<(), cloud_task_async::Error>(())
/// ```
#[async_trait]
pub trait HttpTransport: Send + Sync + 'static {
    /// Sends `request` and answers its response (any status), or a transport error.
    async fn send(&self, request: HttpRequest) -> Result<HttpResponse>;
}

#[async_trait]
impl<T: HttpTransport + ?Sized> HttpTransport for Arc<T> {
    async fn send(&self, request: HttpRequest) -> Result<HttpResponse> {
        (**self).send(request).await
    }
}

#[async_trait]
impl<T: HttpTransport + ?Sized> HttpTransport for Box<T> {
    async fn send(&self, request: HttpRequest) -> Result<HttpResponse> {
        (**self).send(request).await
    }
}

/// The default transport: a [`reqwest::Client`] (one connection pool, shared by clones).
///
/// Built by [`ClientBuilder`](crate::ClientBuilder) with its timeouts, no default headers,
/// no automatic retries, and proxies taken from the environment (`HTTP_PROXY`,
/// `HTTPS_PROXY`, `NO_PROXY`, ...) as reqwest does. Wrap your own `reqwest::Client` with
/// `From` to tune it further.
///
/// ```
/// use cloud_task_async::{Client, ReqwestTransport};
/// let http = reqwest::Client::builder().pool_max_idle_per_host(4).build()?;
/// let client = Client::builder().api_key("k").transport(ReqwestTransport::from(http)).build()?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Default)]
pub struct ReqwestTransport {
    client: reqwest::Client,
}

impl ReqwestTransport {
    /// A transport with the given per-request and connect timeouts (see the type's docs).
    pub fn with_timeouts(timeout: Duration, connect_timeout: Duration) -> Result<Self> {
        let client = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(connect_timeout)
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
    // reqwest's Display shows the URL; presigned URLs carry signatures in their query.
    Error::transport(kind, error.without_url())
}

#[async_trait]
impl HttpTransport for ReqwestTransport {
    async fn send(&self, request: HttpRequest) -> Result<HttpResponse> {
        let request = reqwest::Request::try_from(request).map_err(map_reqwest_error)?;
        let mut response = self
            .client
            .execute(request)
            .await
            .map_err(map_reqwest_error)?;
        let status = response.status();
        let version = response.version();
        let headers = std::mem::take(response.headers_mut());
        let body = response.bytes().await.map_err(map_reqwest_error)?;
        // Zero-copy when the body arrived in one uniquely owned buffer.
        let mut out = http::Response::new(Vec::from(body));
        *out.status_mut() = status;
        *out.version_mut() = version;
        *out.headers_mut() = headers;
        Ok(out)
    }
}
