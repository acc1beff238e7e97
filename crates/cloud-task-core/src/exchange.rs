//! One request and its answer, bounded: what every machine of the core hands a driver to
//! send ([`Transmit`]), the bounds the transport must honour ([`SendLimits`]), the redirect
//! policy, and [`Call`], the machine of a single operation.
//!
//! # The bounds every request carries
//!
//! - **A deadline**: the instant by which the whole response (body included) must have
//!   arrived, the sooner of the per-request timeout ([`Config::timeout`]) and the deadline
//!   of the wait it belongs to. A machine asked for its next action after the deadline of a
//!   request in flight gives up on that request itself, so the bound holds even when a
//!   transport never answers.
//! - **A largest body** ([`Config::max_response_body`]): a transport stops reading past it;
//!   a machine refuses a larger body handed to it anyway.
//! - **Where it may go**: redirects are followed only within the origin (scheme, host and
//!   port) of the request, at most [`Config::max_redirects`] times, and only when repeating
//!   the request is what the redirect asks (`307`/`308` keep the method and body; `301`,
//!   `302` and `303` are followed for `GET` only). A redirect to another origin ends the
//!   call with [`Error::Redirect`] naming that origin: credentials, cookies and default
//!   headers never travel to another host. Presigned part uploads follow no redirect.

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};

use http::header::{CONTENT_LENGTH, CONTENT_TYPE, LOCATION};
use http::{HeaderMap, Method, StatusCode, Uri};

use crate::config::Config;
use crate::error::{Error, Limit, RedirectError, TransportErrorKind};
use crate::ops::Operation;
pub use crate::seam::{DeadlineElapsed, RequestId, SendLimits, Transmit};
use crate::seam::{HttpRequest, HttpResponse, UNNAMED};

/// What a machine keeps of a request to follow a redirect of it.
#[derive(Debug)]
struct Resend {
    method: Method,
    uri: Uri,
    headers: Headers,
    body: Vec<u8>,
}

/// The headers of a request to follow: the configuration's own (rebuilt when needed, not
/// copied for every request), or a copy of any others.
#[derive(Debug)]
enum Headers {
    /// The configuration's request headers, and this `Content-Type` when there was one.
    Config(Option<http::HeaderValue>),
    /// Other headers, as they were.
    Copy(HeaderMap),
}

impl Headers {
    fn of(config: &Config, headers: &HeaderMap) -> Headers {
        if config.are_request_headers(headers) {
            Headers::Config(headers.get(CONTENT_TYPE).cloned())
        } else {
            Headers::Copy(headers.clone())
        }
    }

    fn rebuild(&self, config: &Config) -> HeaderMap {
        match self {
            Headers::Config(content_type) => {
                let mut headers = config.headers();
                if let Some(value) = content_type {
                    headers.insert(CONTENT_TYPE, value.clone());
                }
                headers
            }
            Headers::Copy(headers) => headers.clone(),
        }
    }
}

/// The bookkeeping of one request in flight (and of the redirects it leads to).
#[derive(Debug)]
pub(crate) struct Flight {
    pub(crate) id: RequestId,
    pub(crate) name: &'static str,
    pub(crate) deadline: Instant,
    sent_at: Instant,
    resend: Option<Resend>,
    hops: u32,
}

/// What an answer to a flight amounts to.
pub(crate) enum Landing {
    /// The final response (any status).
    Response(HttpResponse),
    /// A redirect to follow: send this next (the flight now waits for it).
    Follow(Transmit),
    /// The call failed.
    Failed(Error),
}

impl Flight {
    /// Hands out `request` with a deadline of `now + config.timeout()` (or `cap`, when
    /// sooner). With `follow`, same-origin redirects of it are followed.
    #[inline]
    pub(crate) fn launch(
        config: &Config,
        name: &'static str,
        request: HttpRequest,
        now: Instant,
        cap: Option<Instant>,
        follow: bool,
    ) -> (Flight, Transmit) {
        Flight::launch_for(config, name, request, now, config.timeout(), cap, follow)
    }

    /// [`launch`](Self::launch) with its own timeout instead of the configuration's.
    #[inline]
    pub(crate) fn launch_for(
        config: &Config,
        name: &'static str,
        request: HttpRequest,
        now: Instant,
        timeout: Duration,
        cap: Option<Instant>,
        follow: bool,
    ) -> (Flight, Transmit) {
        let mut deadline = now.checked_add(timeout).unwrap_or_else(|| far_future(now));
        if let Some(cap) = cap {
            deadline = deadline.min(cap);
        }
        let resend = (follow && config.max_redirects() > 0).then(|| Resend {
            method: request.method().clone(),
            uri: request.uri().clone(),
            headers: Headers::of(config, request.headers()),
            body: request.body().clone(),
        });
        let id = RequestId::next();
        let flight = Flight {
            id,
            name,
            deadline,
            sent_at: now,
            resend,
            hops: 0,
        };
        let transmit = Transmit {
            id,
            name,
            request,
            deadline,
            max_response_body: config.max_response_body(),
            task_id: None,
            attempt: 1,
            machine: "call",
            streams_body: false,
        };
        (flight, transmit)
    }

    /// True once its deadline has passed at `now`.
    pub(crate) fn is_overdue(&self, now: Instant) -> bool {
        now >= self.deadline
    }

    /// The error of a flight given up at its deadline.
    pub(crate) fn elapsed(&self) -> Error {
        Error::transport(
            TransportErrorKind::Timeout,
            DeadlineElapsed {
                after: self.deadline.saturating_duration_since(self.sent_at),
            },
        )
    }

    /// Names a transport's error after this flight's operation.
    pub(crate) fn name_error(&self, error: Error) -> Error {
        match error {
            Error::Limit(mut limit) if limit.operation == UNNAMED => {
                limit.operation = self.name;
                Error::Limit(limit)
            }
            other => other,
        }
    }

    /// Reads an answer: refuses a body over the limit, follows a same-origin redirect when
    /// allowed, refuses one to another origin.
    pub(crate) fn land(&mut self, config: &Config, response: HttpResponse) -> Landing {
        if response.body().len() as u64 > config.max_response_body() {
            return Landing::Failed(Error::limit(
                self.name,
                Limit::ResponseBody,
                config.max_response_body(),
            ));
        }
        let status = response.status();
        if !matches!(status.as_u16(), 301 | 302 | 303 | 307 | 308) {
            return Landing::Response(response);
        }
        let Some(resend) = &self.resend else {
            return Landing::Response(response);
        };
        // Only what repeating the request means is followed: 307/308 keep the method and
        // body; 301/302/303 become a GET, which is only the same call for a GET.
        let keeps_method = matches!(status.as_u16(), 307 | 308);
        if !keeps_method && resend.method != Method::GET && resend.method != Method::HEAD {
            return Landing::Response(response);
        }
        let target = response
            .headers()
            .get(LOCATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|location| resolve(&resend.uri, location));
        let Some(target) = target else {
            return Landing::Failed(self.refused(status, None));
        };
        if !same_origin(&resend.uri, &target) {
            return Landing::Failed(self.refused(status, Some(origin(&target))));
        }
        if self.hops >= config.max_redirects() {
            return Landing::Failed(Error::limit(
                self.name,
                Limit::Redirects,
                u64::from(config.max_redirects()),
            ));
        }
        self.hops += 1;
        let mut request = http::Request::new(resend.body.clone());
        *request.method_mut() = resend.method.clone();
        *request.uri_mut() = target.clone();
        *request.headers_mut() = resend.headers.rebuild(config);
        if !keeps_method {
            *request.method_mut() = Method::GET;
            request.body_mut().clear();
            request.headers_mut().remove(CONTENT_TYPE);
            request.headers_mut().remove(CONTENT_LENGTH);
        }
        let id = RequestId::next();
        self.id = id;
        if let Some(resend) = &mut self.resend {
            resend.uri = target;
        }
        Landing::Follow(Transmit {
            id,
            name: self.name,
            request,
            deadline: self.deadline,
            max_response_body: config.max_response_body(),
            task_id: None,
            attempt: 1,
            machine: "call",
            streams_body: false,
        })
    }

    fn refused(&self, status: StatusCode, target_origin: Option<String>) -> Error {
        Error::Redirect(Box::new(RedirectError {
            operation: self.name,
            status,
            target_origin,
        }))
    }
}

/// An instant far enough ahead to never come (when `now + timeout` overflows).
pub(crate) fn far_future(now: Instant) -> Instant {
    [86_400 * 365 * 30, 86_400 * 365, 86_400, 3600]
        .into_iter()
        .find_map(|secs| now.checked_add(Duration::from_secs(secs)))
        .unwrap_or(now)
}

use crate::config::port_of as port;
pub use crate::config::same_origin;

/// `scheme://host:port` of `uri`.
fn origin(uri: &Uri) -> String {
    format!(
        "{}://{}:{}",
        uri.scheme_str().unwrap_or("?"),
        uri.host().unwrap_or("?"),
        port(uri).map_or_else(|| "?".to_owned(), |p| p.to_string())
    )
}

/// Resolves a `Location` against the URI it answered: absolute, scheme-relative
/// (`//host/path`), absolute-path (`/path`) or relative (`path`).
fn resolve(base: &Uri, location: &str) -> Option<Uri> {
    let location = location.trim();
    if location.is_empty() {
        return None;
    }
    let absolute = if location.starts_with("//") {
        format!("{}:{location}", base.scheme_str()?)
    } else if location.contains("://") {
        location.to_owned()
    } else {
        let authority = base.authority()?;
        let path = if location.starts_with('/') {
            location.to_owned()
        } else {
            let dir = base.path().rsplit_once('/').map_or("", |(dir, _)| dir);
            format!("{dir}/{location}")
        };
        format!("{}://{authority}{path}", base.scheme_str()?)
    };
    let uri: Uri = absolute.parse().ok()?;
    (uri.scheme().is_some() && uri.authority().is_some()).then_some(uri)
}

/// What the driver must do next for a [`Call`]; the answer of [`Call::poll_action`].
#[must_use]
#[derive(Debug)]
// The transmit is handed straight to the transport: boxing it would only add an allocation.
#[allow(clippy::large_enum_variant)]
pub enum CallAction {
    /// Send this, then feed the answer to [`Call::handle_response`] or
    /// [`Call::handle_transport_error`] with its `id`, and ask again.
    Send(Transmit),
    /// A request is in flight: wait for its answer, at most this long (its deadline),
    /// then ask again.
    Wait(Duration),
    /// The call is over: the final response (any status, for the operation to parse), or
    /// the error that ended it (timeout, refused redirect, body too large, cancellation).
    Done(Result<HttpResponse, Error>),
}

enum CallState {
    Ready(Transmit),
    InFlight,
    Done(Result<HttpResponse, Error>),
    Spent,
}

/// The machine of one operation: its request, the redirects it is allowed to follow, its
/// deadline and its largest body.
///
/// Inputs are `handle_*` and [`cancel`](Self::cancel); the output is
/// [`poll_action`](Self::poll_action). Calling order:
///
/// ```text
/// let mut call = Call::for_operation(&op, &config, now())?;
/// let response = loop {
///     match call.poll_action(now()) {
///         CallAction::Send(t) => match send(t.request, t.limits(now())) {   // by t.deadline
///             Ok(response) => call.handle_response(t.id, response, now()),
///             Err(error) => call.handle_transport_error(t.id, error, now()),
///         },
///         CallAction::Wait(d) => sleep(d),  // only when sending does not block
///         CallAction::Done(outcome) => break outcome?,
///     }
/// };
/// let output = op.parse(response)?;
/// ```
///
/// ```
/// use std::time::Instant;
/// use cloud_task_core::{Call, CallAction, Config, GetDashboard, Operation, http};
///
/// let config = Config::builder().api_key("k").base_url("https://api.test").build()?;
/// let start = Instant::now();
/// let mut call = Call::for_operation(&GetDashboard, &config, start)?;
/// let CallAction::Send(first) = call.poll_action(start) else { unreachable!() };
/// // A redirect within the origin is followed, with the same headers...
/// let redirect = http::Response::builder().status(307).header("location", "/v3/elsewhere").body(vec![])?;
/// call.handle_response(first.id, redirect, start);
/// let CallAction::Send(second) = call.poll_action(start) else { unreachable!() };
/// assert_eq!(second.request.uri(), "https://api.test/v3/elsewhere");
/// assert!(second.request.headers().contains_key("authorization"));
/// // ...one to another origin ends the call, naming the origin.
/// let evil = http::Response::builder().status(302).header("location", "https://evil.test/x").body(vec![])?;
/// call.handle_response(second.id, evil, start);
/// let CallAction::Done(Err(error)) = call.poll_action(start) else { unreachable!() };
/// assert!(error.to_string().contains("https://evil.test:443"));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct Call {
    config: Config,
    flight: Option<Flight>,
    state: CallState,
    task: Option<Arc<str>>,
    name: &'static str,
}

impl fmt::Debug for Call {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Call")
            .field("flight", &self.flight.as_ref().map(|f| (f.name, f.id)))
            .finish_non_exhaustive()
    }
}

impl Call {
    /// A call sending `request` (an operation named `name`) at `now`: its deadline is
    /// `now + config.timeout()`, and same-origin redirects of it are followed.
    #[inline]
    pub fn new(config: &Config, name: &'static str, request: HttpRequest, now: Instant) -> Call {
        Call::launched(config, name, request, now, None)
    }

    /// A call sending `request`, about task `task`: built where it is returned, not moved
    /// there (a call is some 700 bytes).
    #[inline]
    fn launched(
        config: &Config,
        name: &'static str,
        request: HttpRequest,
        now: Instant,
        task: Option<Arc<str>>,
    ) -> Call {
        let (flight, transmit) = Flight::launch(config, name, request, now, None, true);
        Call {
            config: config.clone(),
            flight: Some(flight),
            state: CallState::Ready(transmit),
            task,
            name,
        }
    }

    /// A call of `op`: its request is built (and validated, refusing bad input before
    /// anything is sent) here. It is about `op`'s task ([`Operation::task_id`]), if any.
    pub fn for_operation<O: Operation>(
        op: &O,
        config: &Config,
        now: Instant,
    ) -> Result<Call, Error> {
        let request = op.request(config)?;
        let task = op.task_id().map(Arc::from);
        Ok(Call::launched(config, O::NAME, request, now, task))
    }

    /// The same call, about task `task_id` (its transmits carry it, for logs and tracing).
    pub fn for_task(mut self, task_id: Option<&str>) -> Call {
        self.task = task_id.map(Arc::from);
        self
    }

    /// The name of its operation (e.g. `get_task_result`).
    pub fn name(&self) -> &'static str {
        self.name
    }

    /// The task it is about, if any.
    pub fn task_id(&self) -> Option<&str> {
        self.task.as_deref()
    }

    /// The task it is about, if any.
    #[inline]
    pub(crate) fn task_arc(&self) -> Option<Arc<str>> {
        self.task.clone()
    }

    /// Ends the call no later than `deadline` (the sooner of it and its own).
    pub fn with_deadline(mut self, deadline: Instant) -> Call {
        if let Some(flight) = &mut self.flight {
            flight.deadline = flight.deadline.min(deadline);
        }
        if let CallState::Ready(transmit) = &mut self.state {
            transmit.deadline = transmit.deadline.min(deadline);
        }
        self
    }

    /// The deadline of the request in flight (or about to be sent).
    pub fn deadline(&self) -> Option<Instant> {
        self.flight.as_ref().map(|f| f.deadline)
    }

    /// What to do next, at `now`.
    #[inline]
    pub fn poll_action(&mut self, now: Instant) -> CallAction {
        match std::mem::replace(&mut self.state, CallState::Spent) {
            CallState::Ready(transmit) => {
                self.state = CallState::InFlight;
                CallAction::Send(transmit)
            }
            CallState::InFlight => match &self.flight {
                Some(flight) if flight.is_overdue(now) => {
                    let error = flight.elapsed();
                    self.flight = None;
                    CallAction::Done(Err(error))
                }
                Some(flight) => {
                    self.state = CallState::InFlight;
                    CallAction::Wait(flight.deadline - now)
                }
                None => CallAction::Done(Err(spent())),
            },
            CallState::Done(outcome) => CallAction::Done(outcome),
            CallState::Spent => CallAction::Done(Err(spent())),
        }
    }

    /// Feeds the answer to request `id` (any other `id` is ignored).
    #[inline]
    pub fn handle_response(&mut self, id: RequestId, response: HttpResponse, _now: Instant) {
        if !self.awaits(id) {
            return;
        }
        let Some(flight) = self.flight.as_mut() else {
            return;
        };
        self.state = match flight.land(&self.config, response) {
            Landing::Response(response) => CallState::Done(Ok(response)),
            Landing::Follow(transmit) => CallState::Ready(transmit),
            Landing::Failed(error) => CallState::Done(Err(error)),
        };
        if matches!(self.state, CallState::Done(_)) {
            self.flight = None;
        }
    }

    /// Feeds the transport's failure of request `id` (any other `id` is ignored).
    pub fn handle_transport_error(&mut self, id: RequestId, error: Error, _now: Instant) {
        if self.awaits(id)
            && let Some(flight) = self.flight.take()
        {
            self.state = CallState::Done(Err(flight.name_error(error)));
        }
    }

    /// Ends the call with [`Error::Cancelled`] (an answer that arrives later is ignored).
    pub fn cancel(&mut self) {
        if !matches!(self.state, CallState::Done(_) | CallState::Spent) {
            self.flight = None;
            self.state = CallState::Done(Err(Error::cancelled()));
        }
    }

    /// True when request `id` is the one in flight.
    fn awaits(&self, id: RequestId) -> bool {
        matches!(self.state, CallState::InFlight)
            && self.flight.as_ref().is_some_and(|f| f.id == id)
    }
}

fn spent() -> Error {
    Error::misuse(
        "call",
        "poll_action was called again after the call was done",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn uri(s: &str) -> Uri {
        s.parse().unwrap()
    }

    #[test]
    fn locations_resolve_against_the_request() {
        let base = uri("https://api.test/v3/users/me/tasks?x=1");
        let r = |l| resolve(&base, l).map(|u| u.to_string());
        assert_eq!(r("/a/b").as_deref(), Some("https://api.test/a/b"));
        assert_eq!(r("c").as_deref(), Some("https://api.test/v3/users/me/c"));
        assert_eq!(r("//other.test/p").as_deref(), Some("https://other.test/p"));
        assert_eq!(
            r("http://x.test:81/q?s=1").as_deref(),
            Some("http://x.test:81/q?s=1")
        );
        assert_eq!(r(""), None);
        assert_eq!(r("http://"), None);
    }

    #[test]
    fn origins_compare_scheme_host_and_port() {
        assert!(same_origin(
            &uri("https://A.test/x"),
            &uri("https://a.test:443/y")
        ));
        assert!(same_origin(
            &uri("http://a.test/x"),
            &uri("http://a.test:80/")
        ));
        assert!(!same_origin(
            &uri("http://a.test/x"),
            &uri("https://a.test/x")
        ));
        assert!(!same_origin(
            &uri("http://a.test/x"),
            &uri("http://a.test:8080/x")
        ));
        assert!(!same_origin(
            &uri("http://a.test/x"),
            &uri("http://b.test/x")
        ));
        assert!(!same_origin(
            &uri("http://127.0.0.1:1/x"),
            &uri("http://localhost:1/x")
        ));
    }
}
