//! Interceptors: hooks on every request any machine sends, and on its answer.
//!
//! An [`Interceptor`] is given to the configuration
//! ([`ConfigBuilder::interceptor`](crate::ConfigBuilder::interceptor)). Both clients' engines
//! run every request of every machine (a call, a wait's polls, an upload's parts, a
//! download's chunks, a batch's creates, a live view's reads, a sign-in) through the core's
//! [`Driving`](crate::machine::Driving), which calls the hooks: nothing is written twice, and
//! an embedder driving machines through `Driving` gets them too.
//!
//! - [`before_send`](Interceptor::before_send) sees the request and may add or change its
//!   headers. It cannot touch the URL. Its header changes are kept only for a request to
//!   one of the configured origins (the task API, uploads, the registry, the account API);
//!   for any other host (a presigned storage URL, a result file elsewhere) they are dropped,
//!   so that nothing an interceptor adds ever travels to another origin.
//! - [`after_answer`](Interceptor::after_answer) sees the response, or the transport's
//!   failure.
//!
//! Two are shipped: [`HeaderInterceptor`] (headers from a closure, e.g. a trace header per
//! request) and [`Metrics`] (requests, repeats, failures and bytes per operation).

use std::collections::BTreeMap;
use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};

use http::{HeaderMap, HeaderName, HeaderValue, Method, Uri};

use crate::error::Error;
use crate::seam::{HttpResponse, RequestId};

/// What a hook knows of the request it is called for.
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub struct RequestContext<'a> {
    /// The request's ID (the same in both hooks of one request).
    pub id: RequestId,
    /// The operation, e.g. `create_task`, `get_task_result`, `upload_part`, `download`.
    pub operation: &'static str,
    /// How many requests of this operation the machine has sent, this one included: 1 for
    /// the first, 2 for a wait's second poll or a retry, ...
    pub attempt: u32,
    /// The machine that sent it: `call`, `wait`, `wait_many`, `pages`, `follow`,
    /// `download`, `upload`, `batch`, `login`.
    pub machine: &'static str,
    /// The task it is about, when there is one.
    pub task_id: Option<&'a str>,
    /// Its method.
    pub method: &'a Method,
    /// Its URL (a presigned URL's signature included: do not log it whole).
    pub uri: &'a Uri,
    /// False for a host that is none of the configured ones: header changes are dropped.
    pub configured_origin: bool,
}

/// Hooks on every request a client sends and on its answer. Both have empty defaults;
/// implement the ones you need. Hooks run on the engine's task or thread: keep them short.
pub trait Interceptor: Send + Sync {
    /// Before the request is sent: may add or change its `headers` (kept for a configured
    /// origin only, see the [module](crate::intercept)).
    fn before_send(&self, context: &RequestContext<'_>, headers: &mut HeaderMap) {
        let _ = (context, headers);
    }

    /// Once its answer (any status) or the transport's failure is known. `request_bytes`
    /// is the size of the request's body.
    fn after_answer(
        &self,
        context: &RequestContext<'_>,
        request_bytes: u64,
        outcome: Result<&HttpResponse, &Error>,
    ) {
        let _ = (context, request_bytes, outcome);
    }
}

/// The interceptors of a configuration, in the order they were added.
#[derive(Clone, Default)]
pub struct Interceptors(pub(crate) Arc<[Arc<dyn Interceptor>]>);

impl Interceptors {
    /// True when there are none.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// How many there are.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub(crate) fn with(&self, interceptor: Arc<dyn Interceptor>) -> Interceptors {
        let mut all: Vec<_> = self.0.iter().cloned().collect();
        all.push(interceptor);
        Interceptors(all.into())
    }

    /// The interceptors, in order.
    pub fn iter(&self) -> impl Iterator<Item = &Arc<dyn Interceptor>> {
        self.0.iter()
    }
}

impl fmt::Debug for Interceptors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "[{} interceptor(s)]", self.0.len())
    }
}

type HeaderFn =
    dyn Fn(&RequestContext<'_>) -> Vec<(HeaderName, HeaderValue)> + Send + Sync + 'static;

/// Adds the headers a closure answers to every request (to a configured origin), e.g. a
/// trace header per request. A header it names replaces the request's own.
///
/// ```
/// use cloud_task_core::http::{HeaderName, HeaderValue};
/// use cloud_task_core::{Config, HeaderInterceptor};
///
/// let config = Config::builder()
///     .interceptor(HeaderInterceptor::new(|context| {
///         let trace = format!("{}-{}", context.operation, context.attempt);
///         vec![(HeaderName::from_static("x-trace"), HeaderValue::from_str(&trace).unwrap())]
///     }))
///     .build()?;
/// assert_eq!(config.interceptors().len(), 1);
/// # Ok::<(), cloud_task_core::Error>(())
/// ```
pub struct HeaderInterceptor {
    headers: Box<HeaderFn>,
}

impl HeaderInterceptor {
    /// Adds what `headers` answers for each request.
    pub fn new(
        headers: impl Fn(&RequestContext<'_>) -> Vec<(HeaderName, HeaderValue)> + Send + Sync + 'static,
    ) -> Self {
        HeaderInterceptor {
            headers: Box::new(headers),
        }
    }
}

impl fmt::Debug for HeaderInterceptor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("HeaderInterceptor")
    }
}

impl Interceptor for HeaderInterceptor {
    fn before_send(&self, context: &RequestContext<'_>, headers: &mut HeaderMap) {
        for (name, value) in (self.headers)(context) {
            headers.insert(name, value);
        }
    }
}

/// The figures [`Metrics`] keeps for one operation.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct OperationMetrics {
    /// Requests sent.
    pub requests: u64,
    /// Requests after the first of their operation in the same machine (a wait's later
    /// polls, a retried part or chunk).
    pub repeats: u64,
    /// Answers with a non-2xx status.
    pub error_statuses: u64,
    /// Transport failures (no answer: network, timeout, a body too large).
    pub failures: u64,
    /// Bytes of request bodies sent.
    pub bytes_sent: u64,
    /// Bytes of response bodies received.
    pub bytes_received: u64,
}

/// Counts requests, repeats, failures and bytes per operation, into a value you can read at
/// any time ([`snapshot`](Self::snapshot)). Clones share the counts: keep one, give
/// another to the configuration.
///
/// ```
/// use cloud_task_core::{Config, Metrics};
/// let metrics = Metrics::new();
/// let config = Config::builder().interceptor(metrics.clone()).build()?;
/// // ... run calls with a client of `config` ...
/// assert!(metrics.snapshot().is_empty());
/// # Ok::<(), cloud_task_core::Error>(())
/// ```
#[derive(Debug, Clone, Default)]
pub struct Metrics {
    counts: Arc<Mutex<BTreeMap<&'static str, OperationMetrics>>>,
}

impl Metrics {
    /// Empty counts.
    pub fn new() -> Self {
        Self::default()
    }

    /// The counts so far, by operation name.
    pub fn snapshot(&self) -> BTreeMap<&'static str, OperationMetrics> {
        self.counts
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    fn update(&self, operation: &'static str, change: impl FnOnce(&mut OperationMetrics)) {
        let mut counts = self.counts.lock().unwrap_or_else(PoisonError::into_inner);
        change(counts.entry(operation).or_default());
    }
}

impl Interceptor for Metrics {
    fn before_send(&self, context: &RequestContext<'_>, _headers: &mut HeaderMap) {
        self.update(context.operation, |m| {
            m.requests += 1;
            if context.attempt > 1 {
                m.repeats += 1;
            }
        });
    }

    fn after_answer(
        &self,
        context: &RequestContext<'_>,
        request_bytes: u64,
        outcome: Result<&HttpResponse, &Error>,
    ) {
        self.update(context.operation, |m| {
            m.bytes_sent += request_bytes;
            match outcome {
                Ok(response) => {
                    m.bytes_received += response.body().len() as u64;
                    if !response.status().is_success() {
                        m.error_statuses += 1;
                    }
                }
                Err(_) => m.failures += 1,
            }
        });
    }
}

impl<I: Interceptor + ?Sized> Interceptor for Arc<I> {
    fn before_send(&self, context: &RequestContext<'_>, headers: &mut HeaderMap) {
        (**self).before_send(context, headers);
    }

    fn after_answer(
        &self,
        context: &RequestContext<'_>,
        request_bytes: u64,
        outcome: Result<&HttpResponse, &Error>,
    ) {
        (**self).after_answer(context, request_bytes, outcome);
    }
}
