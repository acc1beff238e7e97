//! Signing in as OOMOL's own CLI does (device login), and the signed-in user's profile.
//!
//! The account API (`https://api.{domain}`, [`Config::api_url`]) serves both:
//!
//! - `POST /v1/auth/device_login/code` with `{"stat": STATE}` answers a code and the page
//!   where the user confirms it (`{code, expires_in, status: "waiting", verify_code_url}`);
//! - `GET /v1/auth/device_login/result?stat=STATE` answers `{"status": "waiting"}` until the
//!   user confirms, then `{"status": "verified", api_key, endpoint, id, name}`;
//! - `GET /v1/users/profile` answers 200 for a valid key.
//!
//! The key goes bare in `Authorization` there, as OOMOL's CLI sends it; the device-login
//! calls carry no key at all. [`DeviceLogin`] is the machine of a sign-in: it asks for the
//! code, hands it out ([`LoginAction::Code`]), then asks for the result every
//! [`DEFAULT_LOGIN_INTERVAL`] until the user confirms, the code expires (at most
//! [`MAX_LOGIN_WAIT`] whatever the server says), its deadline passes or it is cancelled.

use std::collections::hash_map::RandomState;
use std::fmt;
use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use http::Method;
use http::header::AUTHORIZATION;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::cancel::CancelToken;
use crate::config::{ApiKey, Config};
use crate::error::{Error, Result, TimeoutError};
use crate::exchange::{Call, CallAction, RequestId, Transmit};
use crate::ops::Operation;
use crate::seam::{HttpRequest, HttpResponse};
use crate::wire;

/// How often a sign-in asks whether the user has confirmed: every 2 s, as OOMOL's CLI.
pub const DEFAULT_LOGIN_INTERVAL: Duration = Duration::from_secs(2);
/// The longest a sign-in waits, whatever expiry the server states: 30 minutes.
pub const MAX_LOGIN_WAIT: Duration = Duration::from_secs(30 * 60);
/// How many failed result requests in a row (a transport failure, a 429 or a 5xx) a
/// sign-in outlasts; the next one ends it.
pub const MAX_LOGIN_POLL_FAILURES: u32 = 5;

/// `GET {api_url}/v1/users/profile`: the signed-in user; a 200 means the key is valid.
///
/// ```
/// use cloud_task_core::{Config, GetProfile, Operation};
/// let config = Config::builder().api_key("k").build()?;
/// let request = GetProfile.request(&config)?;
/// assert_eq!(request.uri(), "https://api.oomol.com/v1/users/profile");
/// assert_eq!(request.headers()["authorization"], "k");
/// # Ok::<(), cloud_task_core::Error>(())
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct GetProfile;

/// The signed-in user, as the profile endpoint answers. Only a JSON object is required:
/// `id` and `name` are read when present (as strings or numbers), every field is kept.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct UserProfile {
    /// Every field the endpoint answered.
    pub fields: Map<String, Value>,
}

impl UserProfile {
    fn text(&self, key: &str) -> Option<String> {
        match self.fields.get(key)? {
            Value::String(s) if !s.trim().is_empty() => Some(s.clone()),
            Value::Number(n) => Some(n.to_string()),
            _ => None,
        }
    }

    /// The user's ID, when the profile names it (`id`).
    pub fn id(&self) -> Option<String> {
        self.text("id")
    }

    /// The user's name, when the profile names it (`name`, else `username`, else
    /// `email`).
    pub fn name(&self) -> Option<String> {
        self.text("name")
            .or_else(|| self.text("username"))
            .or_else(|| self.text("email"))
    }
}

impl Operation for GetProfile {
    type Output = UserProfile;
    const NAME: &'static str = "get_profile";

    fn request(&self, config: &Config) -> Result<HttpRequest> {
        if config.api_key().is_none() {
            return Err(Error::invalid_input(
                "api_key",
                "no API key to check: sign in, or set OOMOL_API_KEY",
            ));
        }
        config
            .account_request(Method::GET, "/v1/users/profile")
            .build()
    }

    fn parse(&self, response: HttpResponse) -> Result<UserProfile> {
        wire::parse_json("profile", response)
    }
}

/// The code a sign-in hands out: show `verify_code_url` (and `code`) to the user, who
/// confirms it there.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct DeviceCode {
    /// The code the page shows, for the user to compare.
    pub code: String,
    /// The page where the user confirms the code: an `http` or `https` URL (checked).
    pub verify_code_url: String,
    /// How long the code is valid, in seconds, as the server said.
    pub expires_in: u64,
}

/// What a confirmed sign-in answers: the account's key and where it is valid.
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct LoginAccount {
    /// The API key (never shown by `Debug`).
    pub api_key: ApiKey,
    /// The domain the key is valid for, e.g. `oomol.com` (see
    /// [`ConfigBuilder::endpoint`](crate::ConfigBuilder::endpoint)).
    pub endpoint: String,
    /// The user's ID.
    pub id: String,
    /// The user's name.
    pub name: String,
}

impl LoginAccount {
    /// An account (e.g. read back from where it was stored).
    pub fn new(
        api_key: impl Into<ApiKey>,
        endpoint: impl Into<String>,
        id: impl Into<String>,
        name: impl Into<String>,
    ) -> Self {
        LoginAccount {
            api_key: api_key.into(),
            endpoint: endpoint.into(),
            id: id.into(),
            name: name.into(),
        }
    }
}

impl fmt::Debug for LoginAccount {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LoginAccount")
            .field("api_key", &self.api_key)
            .field("endpoint", &self.endpoint)
            .field("id", &self.id)
            .field("name", &self.name)
            .finish()
    }
}

/// The options of a sign-in.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct LoginOptions {
    /// How often to ask for the result (default [`DEFAULT_LOGIN_INTERVAL`]).
    pub interval: Option<Duration>,
    /// Give up after this long, even when the code is still valid (default: the code's
    /// expiry, at most [`MAX_LOGIN_WAIT`]).
    pub timeout: Option<Duration>,
    /// Stops the sign-in when fired (nothing is left behind: the code expires).
    pub cancel_token: Option<CancelToken>,
}

impl LoginOptions {
    /// The defaults.
    pub fn new() -> Self {
        Self::default()
    }

    /// How often to ask for the result (at least 100 ms).
    pub fn interval(mut self, interval: Duration) -> Self {
        self.interval = Some(interval);
        self
    }

    /// Give up after this long.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// Stops the sign-in when `token` fires.
    pub fn cancel_token(mut self, token: CancelToken) -> Self {
        self.cancel_token = Some(token);
        self
    }
}

/// A random state for one sign-in (128 bits, hex): it ties the result request to the code
/// request. Drawn from the standard library's per-process random hash keys, so the core
/// reads no device itself.
pub fn login_state() -> String {
    static DRAWN: AtomicU64 = AtomicU64::new(0);
    let draw = DRAWN.fetch_add(1, Ordering::Relaxed);
    let mut out = String::with_capacity(32);
    for salt in [0x5eed_u64, 0xc0de] {
        let mut hasher = RandomState::new().build_hasher();
        hasher.write_u64(salt);
        hasher.write_u64(draw);
        out.push_str(&format!("{:016x}", hasher.finish()));
    }
    out
}

/// What the driver must do next for a [`DeviceLogin`]; the answer of
/// [`DeviceLogin::poll_action`].
#[must_use]
#[derive(Debug)]
#[allow(clippy::large_enum_variant)]
pub enum LoginAction {
    /// Send this, feed its answer back, and ask again.
    Send(Transmit),
    /// Show this code to the user, then ask again (handed out once).
    Code(DeviceCode),
    /// A request is in flight: wait for its answer, at most this long.
    Wait(Duration),
    /// Sleep this long (or until cancelled), then ask again.
    Sleep(Duration),
    /// The sign-in is over: the account, or why not (expired, refused, cancelled).
    Done(Result<LoginAccount>),
}

enum Phase {
    /// Asking for the code.
    Code,
    /// Asking for the result from `next` on, until `until`.
    Polling { next: Instant, until: Instant },
    /// Over.
    Done(Option<Result<LoginAccount>>),
}

/// The machine of one device sign-in, as OOMOL's own CLI signs in, on the account API
/// ([`Config::api_url`]):
///
/// - `POST /v1/auth/device_login/code` with `{"stat": STATE}` answers a code and the page
///   where the user confirms it: handed out once as [`LoginAction::Code`];
/// - `GET /v1/auth/device_login/result?stat=STATE` answers `{"status": "waiting"}` until the
///   user confirms, then `{"status": "verified", api_key, endpoint, id, name}`: asked every
///   [`DEFAULT_LOGIN_INTERVAL`] until then, the code's expiry (at most [`MAX_LOGIN_WAIT`]
///   whatever the server says), the options' timeout, or a cancellation. Up to
///   [`MAX_LOGIN_POLL_FAILURES`] failed requests in a row (network, 429, 5xx) are outlasted.
///
/// No key travels with a sign-in.
///
/// ```
/// use std::time::{Duration, Instant};
/// use cloud_task_core::{Config, DeviceLogin, LoginAction, LoginOptions, http};
///
/// let config = Config::builder().endpoint("oomol.dev").build()?;
/// let start = Instant::now();
/// let mut login = DeviceLogin::with_state(&config, "s1", LoginOptions::new(), start);
/// let LoginAction::Send(code) = login.poll_action(start) else { unreachable!() };
/// assert_eq!(code.request.uri(), "https://api.oomol.dev/v1/auth/device_login/code");
/// let answer = r#"{"code":"ABCD","expires_in":300,"status":"waiting","verify_code_url":"https://oomol.dev/device?code=ABCD"}"#;
/// login.handle_response(code.id, http::Response::new(answer.into()), start);
/// let LoginAction::Code(shown) = login.poll_action(start) else { unreachable!() };
/// assert_eq!(shown.code, "ABCD");
/// let LoginAction::Send(poll) = login.poll_action(start) else { unreachable!() };
/// assert_eq!(poll.request.uri(), "https://api.oomol.dev/v1/auth/device_login/result?stat=s1");
/// login.handle_response(poll.id, http::Response::new(r#"{"status":"waiting"}"#.into()), start);
/// assert!(matches!(login.poll_action(start), LoginAction::Sleep(d) if d == Duration::from_secs(2)));
/// let later = start + Duration::from_secs(2);
/// let LoginAction::Send(poll) = login.poll_action(later) else { unreachable!() };
/// let verified = r#"{"status":"verified","api_key":"sk-1","endpoint":"oomol.dev","id":"u1","name":"Ada"}"#;
/// login.handle_response(poll.id, http::Response::new(verified.into()), later);
/// let LoginAction::Done(Ok(account)) = login.poll_action(later) else { unreachable!() };
/// assert_eq!((account.name.as_str(), account.api_key.expose_secret()), ("Ada", "sk-1"));
/// # Ok::<(), cloud_task_core::Error>(())
/// ```
pub struct DeviceLogin {
    config: Config,
    state: String,
    interval: Duration,
    /// The caller's deadline, if any.
    deadline: Option<Instant>,
    cancel_token: Option<CancelToken>,
    phase: Phase,
    call: Option<Call>,
    code: Option<DeviceCode>,
    failures: u32,
    last_failure: Option<Error>,
    /// How long the sign-in waits for the user, once the code is known.
    total_wait: Duration,
}

impl fmt::Debug for DeviceLogin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DeviceLogin")
            .field("interval", &self.interval)
            .field("failures", &self.failures)
            .finish_non_exhaustive()
    }
}

impl DeviceLogin {
    /// A sign-in at `now`, with a fresh random state ([`login_state`]).
    pub fn new(config: &Config, options: LoginOptions, now: Instant) -> Self {
        Self::with_state(config, &login_state(), options, now)
    }

    /// A sign-in with the given state (for tests, or a state of your own).
    pub fn with_state(config: &Config, state: &str, options: LoginOptions, now: Instant) -> Self {
        let interval = options
            .interval
            .unwrap_or(DEFAULT_LOGIN_INTERVAL)
            .max(Duration::from_millis(100));
        DeviceLogin {
            config: config.clone(),
            state: state.to_owned(),
            interval,
            deadline: options.timeout.and_then(|t| now.checked_add(t)),
            cancel_token: options.cancel_token,
            phase: Phase::Code,
            call: None,
            code: None,
            failures: 0,
            last_failure: None,
            total_wait: Duration::ZERO,
        }
    }

    /// The token whose firing cancels the sign-in, if any.
    pub fn cancel_token(&self) -> Option<&CancelToken> {
        self.cancel_token.as_ref()
    }

    /// What to do next, at `now`.
    pub fn poll_action(&mut self, now: Instant) -> LoginAction {
        loop {
            if let Phase::Done(outcome) = &mut self.phase {
                return LoginAction::Done(outcome.take().unwrap_or_else(|| {
                    Err(Error::misuse("device_login", "poll_action after the end"))
                }));
            }
            if let Some(code) = self.code.take() {
                return LoginAction::Code(code);
            }
            if let Some(call) = &mut self.call {
                match call.poll_action(now) {
                    CallAction::Send(transmit) => return LoginAction::Send(transmit),
                    CallAction::Wait(wait) => return LoginAction::Wait(wait),
                    CallAction::Done(outcome) => {
                        self.call = None;
                        self.land(outcome, now);
                        continue;
                    }
                }
            }
            match self.phase {
                Phase::Code => match self.request(&StartDeviceLogin(&self.state), now) {
                    Ok(call) => self.call = Some(call),
                    Err(error) => self.end(Err(error)),
                },
                Phase::Polling { next, until } => {
                    if now >= until {
                        let error = self.expired();
                        self.end(Err(error));
                    } else if now < next {
                        return LoginAction::Sleep(next.min(until) - now);
                    } else {
                        match self.request(&PollDeviceLogin(&self.state), now) {
                            Ok(call) => self.call = Some(call.with_deadline(until)),
                            Err(error) => self.end(Err(error)),
                        }
                    }
                }
                Phase::Done(_) => {}
            }
        }
    }

    /// Feeds the answer to request `id`.
    pub fn handle_response(&mut self, id: RequestId, response: HttpResponse, now: Instant) {
        if let Some(call) = &mut self.call {
            call.handle_response(id, response, now);
        }
    }

    /// Feeds the transport's failure of request `id`.
    pub fn handle_transport_error(&mut self, id: RequestId, error: Error, now: Instant) {
        if let Some(call) = &mut self.call {
            call.handle_transport_error(id, error, now);
        }
    }

    /// Ends the sign-in with [`Error::Cancelled`].
    pub fn cancel(&mut self) {
        if !matches!(self.phase, Phase::Done(_)) {
            self.call = None;
            self.code = None;
            self.phase = Phase::Done(Some(Err(Error::cancelled())));
        }
    }

    fn request<O: Operation>(&self, op: &O, now: Instant) -> Result<Call> {
        let mut request = op.request(&self.config)?;
        // No key travels with a sign-in: the user has none yet, or is replacing it.
        request.headers_mut().remove(AUTHORIZATION);
        let call = Call::new(&self.config, O::NAME, request, now);
        Ok(match self.deadline {
            Some(deadline) => call.with_deadline(deadline),
            None => call,
        })
    }

    fn end(&mut self, outcome: Result<LoginAccount>) {
        self.call = None;
        self.phase = Phase::Done(Some(outcome));
    }

    /// The error of a sign-in not confirmed within its wait.
    fn expired(&mut self) -> Error {
        let last = self.last_failure.take();
        let mut message = format!(
            "the sign-in was not confirmed within {} s: sign in again",
            self.total_wait.as_secs()
        );
        if let Some(failure) = &last {
            message.push_str(&format!(" (the last request failed: {})", failure.reason()));
        }
        let mut error = TimeoutError::new("", self.total_wait, last);
        error.message = message;
        Error::Timeout(Box::new(error))
    }

    /// An answer (or the failure that ended its call).
    fn land(&mut self, outcome: Result<HttpResponse>, now: Instant) {
        match self.phase {
            Phase::Code => match outcome.and_then(|r| StartDeviceLogin(&self.state).parse(r)) {
                Ok(code) => {
                    let stated = Duration::from_secs(code.expires_in);
                    let mut wait = stated.min(MAX_LOGIN_WAIT);
                    if let Some(deadline) = self.deadline {
                        wait = wait.min(deadline.saturating_duration_since(now));
                    }
                    self.total_wait = wait;
                    let until = now.checked_add(wait).unwrap_or(now);
                    self.phase = Phase::Polling { next: now, until };
                    self.code = Some(code);
                }
                Err(error) => self.end(Err(error)),
            },
            Phase::Polling { until, .. } => {
                match outcome.and_then(|r| PollDeviceLogin(&self.state).parse(r)) {
                    Ok(Some(account)) => self.end(Ok(account)),
                    Ok(None) => {
                        self.failures = 0;
                        self.phase = Phase::Polling {
                            next: now + self.interval,
                            until,
                        };
                    }
                    Err(error) if is_passing(&error) && self.failures < MAX_LOGIN_POLL_FAILURES => {
                        self.failures += 1;
                        self.last_failure = Some(error);
                        self.phase = Phase::Polling {
                            next: now + self.interval,
                            until,
                        };
                    }
                    Err(error) => self.end(Err(error)),
                }
            }
            Phase::Done(_) => {}
        }
    }
}

/// A failure a sign-in outlasts: the network, a 429, a 5xx.
fn is_passing(error: &Error) -> bool {
    match error {
        Error::Transport(_) => true,
        Error::Api(api) => api.status.as_u16() == 429 || api.status.is_server_error(),
        _ => false,
    }
}

/// `POST /v1/auth/device_login/code` with `{"stat": state}`.
struct StartDeviceLogin<'a>(&'a str);

impl Operation for StartDeviceLogin<'_> {
    type Output = DeviceCode;
    const NAME: &'static str = "start_device_login";

    fn request(&self, config: &Config) -> Result<HttpRequest> {
        #[derive(Serialize)]
        struct Body<'a> {
            stat: &'a str,
        }
        config
            .account_request(Method::POST, "/v1/auth/device_login/code")
            .json(&Body { stat: self.0 })
            .build()
    }

    fn parse(&self, response: HttpResponse) -> Result<DeviceCode> {
        #[derive(Deserialize)]
        struct Answer {
            code: String,
            expires_in: u64,
            status: String,
            verify_code_url: String,
        }
        let answer: Answer = wire::parse_json("device login code", response)?;
        let bad = |what: &str| Error::protocol(Self::NAME, what.to_owned());
        if answer.status != "waiting" {
            return Err(bad("the sign-in code's status is not \"waiting\""));
        }
        if answer.expires_in == 0 {
            return Err(bad("the sign-in code expires at once (expires_in is 0)"));
        }
        if answer.code.is_empty()
            || answer.code.len() > 64
            || answer.code.chars().any(|c| c.is_control())
        {
            return Err(bad(
                "the sign-in code is empty, too long or holds control characters",
            ));
        }
        if !is_web_url(&answer.verify_code_url) {
            return Err(bad("the page to confirm the sign-in is not an http(s) URL"));
        }
        Ok(DeviceCode {
            code: answer.code,
            verify_code_url: answer.verify_code_url,
            expires_in: answer.expires_in,
        })
    }
}

/// An `http`/`https` URL of at most 2 KiB with a host, and nothing a terminal would act on.
fn is_web_url(url: &str) -> bool {
    url.len() <= 2048
        && !url.chars().any(|c| c.is_control() || c.is_whitespace())
        && url.parse::<http::Uri>().is_ok_and(|uri| {
            matches!(uri.scheme_str(), Some("http" | "https"))
                && uri.host().is_some_and(|h| !h.is_empty())
        })
}

/// `GET /v1/auth/device_login/result?stat=state`: `None` while waiting.
struct PollDeviceLogin<'a>(&'a str);

impl Operation for PollDeviceLogin<'_> {
    type Output = Option<LoginAccount>;
    const NAME: &'static str = "poll_device_login";

    fn request(&self, config: &Config) -> Result<HttpRequest> {
        config
            .account_request(Method::GET, "/v1/auth/device_login/result")
            .query("stat", self.0)
            .build()
    }

    fn parse(&self, response: HttpResponse) -> Result<Option<LoginAccount>> {
        #[derive(Deserialize)]
        struct Answer {
            status: String,
            api_key: Option<String>,
            endpoint: Option<String>,
            id: Option<Value>,
            name: Option<String>,
        }
        let answer: Answer = wire::parse_json("device login result", response)?;
        let bad = |what: String| Error::protocol(Self::NAME, what);
        match answer.status.as_str() {
            "waiting" => Ok(None),
            "verified" => {
                let key = answer
                    .api_key
                    .filter(|k| !k.trim().is_empty())
                    .ok_or_else(|| bad("a verified sign-in without an api_key".into()))?;
                ApiKey::check(key.trim()).map_err(|_| {
                    bad("a verified sign-in whose api_key cannot be sent in a header".into())
                })?;
                let endpoint = answer
                    .endpoint
                    .filter(|e| !e.trim().is_empty())
                    .ok_or_else(|| bad("a verified sign-in without an endpoint".into()))?;
                crate::config::endpoint_urls(&endpoint).map_err(|_| {
                    bad("a verified sign-in whose endpoint is not a domain or an origin".into())
                })?;
                let id = match answer.id {
                    Some(Value::String(s)) if !s.is_empty() => s,
                    Some(Value::Number(n)) => n.to_string(),
                    _ => return Err(bad("a verified sign-in without a user id".into())),
                };
                let name = answer.name.unwrap_or_default();
                let clean = |s: &str| s.chars().filter(|c| !c.is_control()).collect::<String>();
                Ok(Some(LoginAccount {
                    api_key: ApiKey::new(key.trim()),
                    endpoint: endpoint.trim().to_owned(),
                    id: clean(&id),
                    name: clean(&name),
                }))
            }
            other => Err(bad(format!(
                "the sign-in answered the status {:?}, neither \"waiting\" nor \"verified\"",
                other.chars().take(64).collect::<String>()
            ))),
        }
    }
}
