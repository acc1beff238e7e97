//! tower: a transport from any `tower::Service`, and the reqwest transport as one, so that
//! tower and tower-http layers (concurrency and rate limits, timeouts, tracing) stack under
//! the client.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};

use async_trait::async_trait;
use cloud_task_core::{
    BoxError, DEFAULT_MAX_RESPONSE_BODY, DEFAULT_TIMEOUT, Error, HttpRequest, HttpResponse, Result,
    SendLimits, TransportErrorKind,
};
use tower_service::Service;

use crate::transport::{HttpTransport, ReqwestTransport};

/// A transport from any [`Service`] of `http::Request<Vec<u8>>` answering
/// `http::Response<Vec<u8>>`: layers of tower and tower-http (a concurrency limit, a rate
/// limit, a timeout, tracing) stack under the client. A clone of the service sends each
/// request (so a layer's shared state, such as a concurrency limit's semaphore, holds for
/// all of them), after `poll_ready`.
///
/// The client still bounds every send by its deadline, and a body larger than the limit is
/// refused ([`Error::Limit`]). A service error is a transport error of kind `Other`.
///
/// ```
/// use oomol_cloud_task::Client;
/// use oomol_cloud_task::transport::{ReqwestTransport, TowerTransport};
///
/// // At most 4 requests in flight, whatever the client does (a wait of thousands of tasks).
/// let config = oomol_cloud_task::Config::builder().api_key("...").build()?;
/// let service = tower::ServiceBuilder::new()
///     .concurrency_limit(4)
///     .service(ReqwestTransport::new(&config)?);
/// let client = Client::builder()
///     .config(config.to_builder())
///     .transport(TowerTransport::new(service))
///     .build()?;
/// # drop(client);
/// # Ok::<(), oomol_cloud_task::Error>(())
/// ```
pub struct TowerTransport<S> {
    service: Mutex<S>,
}

impl<S> TowerTransport<S> {
    /// A transport sending through clones of `service`.
    pub fn new(service: S) -> Self {
        TowerTransport {
            service: Mutex::new(service),
        }
    }
}

impl<S> std::fmt::Debug for TowerTransport<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TowerTransport")
    }
}

fn service_error(error: impl Into<BoxError>) -> Error {
    let error: BoxError = error.into();
    // A service that answers the SDK's own error (the reqwest transport) keeps it.
    match error.downcast::<Error>() {
        Ok(error) => *error,
        Err(other) => Error::transport(TransportErrorKind::Other, other),
    }
}

#[async_trait]
impl<S> HttpTransport for TowerTransport<S>
where
    S: Service<HttpRequest, Response = HttpResponse> + Clone + Send + 'static,
    S::Error: Into<BoxError>,
    S::Future: Send,
{
    async fn send(&self, request: HttpRequest, limits: SendLimits) -> Result<HttpResponse> {
        let mut service = self
            .service
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        futures_util::future::poll_fn(|cx| service.poll_ready(cx))
            .await
            .map_err(service_error)?;
        let response = service.call(request).await.map_err(service_error)?;
        if response.body().len() as u64 > limits.max_response_body {
            return Err(limits.body_too_large());
        }
        Ok(response)
    }
}

/// The reqwest transport as a tower [`Service`], to put layers around it
/// ([`TowerTransport`]). Each request is sent with the default limits
/// ([`DEFAULT_TIMEOUT`], [`DEFAULT_MAX_RESPONSE_BODY`]); the client applies its own on top.
impl Service<HttpRequest> for ReqwestTransport {
    type Response = HttpResponse;
    type Error = Error;
    type Future = Pin<Box<dyn Future<Output = Result<HttpResponse>> + Send>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: HttpRequest) -> Self::Future {
        let transport = Arc::new(self.clone());
        Box::pin(async move {
            transport
                .send(
                    request,
                    SendLimits::new(DEFAULT_TIMEOUT, DEFAULT_MAX_RESPONSE_BODY),
                )
                .await
        })
    }
}
