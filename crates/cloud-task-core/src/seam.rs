//! The seam between the core and any HTTP stack: the request and response types every
//! operation builds and parses, and what a machine hands a driver to send ([`Transmit`]),
//! with the bounds the transport must honour ([`SendLimits`]).

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use crate::error::{Error, Limit, TransportErrorKind};

/// The request type every operation builds.
pub type HttpRequest = http::Request<Vec<u8>>;
/// The response type every operation parses.
pub type HttpResponse = http::Response<Vec<u8>>;

/// Identifies one request handed out by a machine; its answer is fed back with it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RequestId(u64);

impl RequestId {
    pub(crate) fn next() -> Self {
        static NEXT: AtomicU64 = AtomicU64::new(1);
        RequestId(NEXT.fetch_add(1, Ordering::Relaxed))
    }
}

impl fmt::Display for RequestId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "#{}", self.0)
    }
}

/// What a transport must honour while sending one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct SendLimits {
    /// How long the transport may take, from now to the end of the response body.
    pub timeout: Duration,
    /// The largest response body to read: stop reading past it and answer
    /// [`SendLimits::body_too_large`].
    pub max_response_body: u64,
}

impl SendLimits {
    /// Limits with this timeout and largest body.
    pub fn new(timeout: Duration, max_response_body: u64) -> Self {
        SendLimits {
            timeout,
            max_response_body,
        }
    }

    /// The error a transport answers when a response body is larger than
    /// `max_response_body` (announced by `Content-Length` or found while reading).
    pub fn body_too_large(&self) -> Error {
        Error::limit(UNNAMED, Limit::ResponseBody, self.max_response_body)
    }

    /// The error a driver feeds back when it cut a request off at its deadline, having
    /// waited `timeout` for its answer.
    pub fn elapsed(&self) -> Error {
        Error::transport(
            TransportErrorKind::Timeout,
            DeadlineElapsed {
                after: self.timeout,
            },
        )
    }

    /// True when a response announcing `content_length` bytes must be refused unread.
    pub fn refuses_length(&self, content_length: Option<u64>) -> bool {
        content_length.is_some_and(|len| len > self.max_response_body)
    }
}

/// The operation name a transport's limit error carries until a machine names it.
pub(crate) const UNNAMED: &str = "response";

/// A request to send, with its bounds: the one thing every machine of the core asks a
/// driver to do. Send `request`, and feed the answer (or the transport's error) back to
/// the machine with `id`. The answer must arrive by `deadline`; a driver stops waiting
/// then (and may ask the machine for its next action, which gives up on the request).
#[derive(Debug)]
#[non_exhaustive]
pub struct Transmit {
    /// Feed the answer back with this.
    pub id: RequestId,
    /// The operation it belongs to, for logs and tracing (e.g. `get_task_result`).
    pub name: &'static str,
    /// The request.
    pub request: HttpRequest,
    /// When the whole answer must have arrived.
    pub deadline: Instant,
    /// The largest response body to read.
    pub max_response_body: u64,
    /// The task it is about, when it is about one (for logs and tracing).
    pub task_id: Option<Arc<str>>,
    /// How many requests of this operation its machine has handed out, this one included
    /// (set by [`Driving`](crate::machine::Driving); 1 until then): 2 for a wait's second
    /// poll or a retry.
    pub attempt: u32,
    /// The kind of machine that handed it out ([`Machine::kind`](crate::machine::Machine::kind),
    /// set by [`Driving`](crate::machine::Driving); `call` until then).
    pub machine: &'static str,
    /// True when its machine can take the answer's body in pieces as it arrives
    /// ([`Machine::handle_head`](crate::machine::Machine::handle_head)): a download's
    /// chunks, written to disk as they come. A driver may then send it so that the head
    /// comes first; one that does not answers it whole, as any other.
    pub streams_body: bool,
}

impl Transmit {
    /// The same transmit, about task `task_id` (for logs and tracing).
    pub fn for_task(mut self, task_id: Option<Arc<str>>) -> Transmit {
        self.task_id = task_id;
        self
    }

    /// What a driver needs to send it at `now`: the ID to feed its answer back with, the
    /// request, and the limits to give the transport.
    pub fn split(self, now: Instant) -> (RequestId, HttpRequest, SendLimits) {
        let limits = self.limits(now);
        (self.id, self.request, limits)
    }

    /// The limits to give the transport when sending at `now`.
    #[inline]
    pub fn limits(&self, now: Instant) -> SendLimits {
        SendLimits::new(
            self.deadline.saturating_duration_since(now),
            self.max_response_body,
        )
    }
}

/// The error of a request whose answer did not arrive by its deadline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeadlineElapsed {
    /// How long the request was given.
    pub after: Duration,
}

impl fmt::Display for DeadlineElapsed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "no complete response within {} ms",
            self.after.as_millis()
        )
    }
}

impl std::error::Error for DeadlineElapsed {}
