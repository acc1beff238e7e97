//! The one error type of the SDK, by phase.
//!
//! Every fallible call of the core and of both drivers returns [`Error`]. Its variants say
//! *when* things went wrong:
//!
//! | variant | phase | retried by the SDK? |
//! |---|---|---|
//! | [`Error::InvalidInput`] | before anything was sent | no: fix the input |
//! | [`Error::Transport`] | sending or receiving (DNS, connect, TLS, timeout, reset) | polls and part uploads only |
//! | [`Error::Api`] | the server answered with a non-2xx status | polls (except 401/403/404) |
//! | [`Error::Decode`] | a 2xx body that is not the expected JSON | polls only |
//! | [`Error::TaskFailed`] | the task itself ended in `failed` | no |
//! | [`Error::Timeout`] | the caller's wait timeout elapsed | no |
//! | [`Error::Upload`] | a step of the three-step file upload | parts, up to `retries` times |
//! | [`Error::Io`] | local I/O: reading a file to upload, starting the emulator | no |
//! | [`Error::Cancelled`] | the caller's [`CancelToken`](crate::CancelToken) fired | no |
//! | [`Error::Limit`] | a bound of the [`Config`](crate::Config) was reached (body size, pages, ...) | no |
//! | [`Error::Redirect`] | the server redirected to another origin (refused) | no |
//! | [`Error::Protocol`] | the server broke the protocol (a page token seen twice, ...) | no |
//! | [`Error::Misuse`] | the code driving a machine of the core broke its documented calling order | no: a bug to fix in that code |
//!
//! Each variant's `Display` is a single line; underlying causes are available through
//! [`std::error::Error::source`]. No variant ever contains the API key.

use std::fmt;
use std::time::Duration;

use http::StatusCode;

pub(crate) mod inputs;

use crate::retry::is_retryable_status;

/// Shorthand for `Result<T, cloud_task_core::Error>`.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// A boxed error from a transport or another lower layer.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Every error the SDK returns, grouped by the phase in which it happened.
///
/// Large payloads are boxed so that `Result<T, Error>` stays small.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The input was refused before anything was sent.
    #[error(transparent)]
    InvalidInput(InvalidInputError),
    /// The request did not complete at the transport level.
    #[error(transparent)]
    Transport(TransportError),
    /// The server answered with a non-2xx status.
    #[error(transparent)]
    Api(Box<ApiError>),
    /// A 2xx response whose body could not be decoded.
    #[error(transparent)]
    Decode(Box<DecodeError>),
    /// The task ended with status `failed`.
    #[error(transparent)]
    TaskFailed(Box<TaskFailedError>),
    /// Waiting for the task took longer than the configured timeout.
    #[error(transparent)]
    Timeout(Box<TimeoutError>),
    /// A step of a file upload failed.
    #[error(transparent)]
    Upload(Box<UploadError>),
    /// Local I/O failed: reading the file being uploaded, or starting the emulator.
    #[error(transparent)]
    Io(IoError),
    /// The operation was cancelled through a [`CancelToken`](crate::CancelToken).
    #[error(transparent)]
    Cancelled(CancelledError),
    /// A bound of the configuration was reached: the call was stopped rather than let a
    /// server make the client buffer, loop or wait without end.
    #[error(transparent)]
    Limit(Box<LimitError>),
    /// The server answered with a redirect the client refuses to follow (to another
    /// origin, where credentials must not travel).
    #[error(transparent)]
    Redirect(Box<RedirectError>),
    /// The server's answers broke the protocol in a way that retrying cannot mend.
    #[error(transparent)]
    Protocol(Box<ProtocolError>),
    /// A task's inputs do not fit its block's description: every problem, named by input
    /// and place, found before anything was sent.
    #[error(transparent)]
    InvalidInputs(Box<inputs::InvalidInputsError>),
    /// A result file was asked for, but the task succeeded without one (its `resultURL`
    /// is `null`: the block returned its outputs in `resultData` only).
    #[error(transparent)]
    NoResultFile(NoResultFileError),
    /// A machine of the core was driven against its documented calling order (asked for
    /// its next action after it was done, fed bytes of the wrong length): a bug in the code
    /// driving it, never caused by the input or the server. The SDK's own drivers never
    /// produce it; a driver of your own that does should be fixed, not retried.
    #[error(transparent)]
    Misuse(Box<MisuseError>),
    /// A task succeeded, but its outputs do not fit the typed outputs of its block
    /// ([`Block::Outputs`](crate::typed::Block::Outputs)): the error names the output
    /// handle and keeps the data.
    #[error(transparent)]
    Outputs(Box<OutputsError>),
}

impl Error {
    /// A short name of its kind, for the `error.type` field of tracing spans and for
    /// metrics: `invalid_input`, `connect`, `transport_timeout`, `transport_io`,
    /// `transport`, the status of an [`Error::Api`] (`404`), `decode`, `task_failed`,
    /// `timeout`, `upload`, `io`, `cancelled`, `limit`, `redirect`, `protocol`,
    /// `invalid_inputs`, `no_result_file`, `misuse`, `outputs`. Never a message.
    ///
    /// ```
    /// use cloud_task_core::{Error, TransportErrorKind};
    /// assert_eq!(Error::transport(TransportErrorKind::Connect, "refused").error_type(), "connect");
    /// assert_eq!(Error::cancelled().error_type(), "cancelled");
    /// ```
    pub fn error_type(&self) -> &str {
        match self {
            Error::InvalidInput(_) => "invalid_input",
            Error::Transport(transport) => match transport.kind {
                TransportErrorKind::Connect => "connect",
                TransportErrorKind::Timeout => "transport_timeout",
                TransportErrorKind::Io => "transport_io",
                TransportErrorKind::Other => "transport",
            },
            Error::Api(api) => api.status.as_str(),
            Error::Decode(_) => "decode",
            Error::TaskFailed(_) => "task_failed",
            Error::Timeout(_) => "timeout",
            Error::Upload(_) => "upload",
            Error::Io(_) => "io",
            Error::Cancelled(_) => "cancelled",
            Error::Limit(_) => "limit",
            Error::Redirect(_) => "redirect",
            Error::Protocol(_) => "protocol",
            Error::InvalidInputs(_) => "invalid_inputs",
            Error::NoResultFile(_) => "no_result_file",
            Error::Misuse(_) => "misuse",
            Error::Outputs(_) => "outputs",
        }
    }

    /// An [`Error::Cancelled`] of a call about no task in particular.
    pub fn cancelled() -> Self {
        Error::Cancelled(CancelledError { task_id: None })
    }

    /// An [`Error::Cancelled`] of a wait for task `task_id` (which keeps running).
    pub fn cancelled_task(task_id: impl Into<String>) -> Self {
        Error::Cancelled(CancelledError {
            task_id: Some(task_id.into()),
        })
    }

    /// True for [`Error::Cancelled`].
    pub fn is_cancelled(&self) -> bool {
        matches!(self, Error::Cancelled(_))
    }

    /// The task this error is about, when there is one: the task that failed, the task
    /// whose wait timed out or was cancelled (it may still be running).
    pub fn task_id(&self) -> Option<&str> {
        match self {
            Error::TaskFailed(e) => Some(&e.task_id),
            Error::Timeout(e) => Some(&e.task_id),
            Error::Cancelled(e) => e.task_id.as_deref(),
            Error::NoResultFile(e) => Some(&e.task_id),
            _ => None,
        }
    }

    /// An [`Error::Limit`]: `limit` (of at most `max`) was exceeded by `operation`.
    pub fn limit(operation: &'static str, limit: Limit, max: u64) -> Self {
        Error::Limit(Box::new(LimitError {
            operation,
            limit,
            max,
        }))
    }

    /// An [`Error::Protocol`] of `operation`, saying what the server did.
    pub fn protocol(operation: &'static str, message: impl Into<String>) -> Self {
        Error::Protocol(Box::new(ProtocolError {
            operation,
            message: message.into(),
        }))
    }

    /// An [`Error::Misuse`] of `machine`, saying what the driving code did wrong.
    pub fn misuse(machine: &'static str, message: impl Into<String>) -> Self {
        Error::Misuse(Box::new(MisuseError {
            machine,
            message: message.into(),
        }))
    }

    /// An [`Error::InvalidInput`] about `field`.
    pub fn invalid_input(field: &'static str, message: impl Into<String>) -> Self {
        Error::InvalidInput(InvalidInputError {
            field,
            message: message.into(),
        })
    }

    /// An [`Error::Transport`] of the given kind wrapping `source`.
    ///
    /// Drivers call this for every error of their HTTP stack.
    pub fn transport(kind: TransportErrorKind, source: impl Into<BoxError>) -> Self {
        Error::Transport(TransportError {
            kind,
            host: None,
            source: source.into(),
        })
    }

    /// Names the host a [transport error](Error::Transport) was about (the authority of
    /// the request's URL: host and port); other errors are answered as they are.
    ///
    /// ```
    /// use cloud_task_core::{Error, TransportErrorKind};
    ///
    /// let error = Error::transport(TransportErrorKind::Connect, "refused").with_host("registry.oomol.com");
    /// assert_eq!(error.to_string(), "could not connect (host registry.oomol.com)");
    /// ```
    pub fn with_host(mut self, host: impl Into<String>) -> Self {
        if let Error::Transport(transport) = &mut self {
            transport.host = Some(one_line(&host.into()));
        }
        self
    }

    /// An [`Error::Io`] saying what was being done (`context`, e.g. `"reading /tmp/a.pdf"`).
    pub fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        Error::Io(IoError {
            context: context.into(),
            source,
        })
    }

    /// The HTTP status of the response behind this error, if there was one.
    ///
    /// For [`Error::TaskFailed`] this is the classified status code (402 for quota).
    pub fn status(&self) -> Option<StatusCode> {
        match self {
            Error::Api(e) => Some(e.status),
            Error::Decode(e) => Some(e.status),
            Error::Upload(e) => e.status,
            Error::Redirect(e) => Some(e.status),
            Error::TaskFailed(e) => e.status_code,
            _ => None,
        }
    }

    /// True when the error means the account lacks quota or credit: a failed task
    /// classified `INSUFFICIENT_QUOTA` or `PAYMENT_REQUIRED`, or an API error with status
    /// 402 or body code `OOMOL_INSUFFICIENT_CREDIT`.
    pub fn is_insufficient_quota(&self) -> bool {
        match self {
            Error::TaskFailed(e) => e.code.is_some(),
            Error::Api(e) => e.is_quota(),
            _ => false,
        }
    }

    /// True when this error, met sending a task's create, leaves unknown whether the task
    /// was created, so that sending the create again could run it twice: the connection
    /// broke or timed out after it was open, the server answered a 5xx (or anything but a
    /// 4xx), or its answer could not be read or followed. False when nothing can have
    /// been created: the request was refused before it was sent (bad input, a cancellation),
    /// the connection never opened, or the server answered a 4xx.
    ///
    /// ```
    /// use cloud_task_core::{Error, TransportErrorKind};
    /// assert!(Error::transport(TransportErrorKind::Io, "reset").create_outcome_unknown());
    /// assert!(!Error::transport(TransportErrorKind::Connect, "refused").create_outcome_unknown());
    /// assert!(!Error::invalid_input("block_name", "empty").create_outcome_unknown());
    /// let answer = |status: u16| {
    ///     let mut response = http::Response::new(Vec::new());
    ///     *response.status_mut() = http::StatusCode::from_u16(status).unwrap();
    ///     Error::Api(Box::new(cloud_task_core::api_error(response)))
    /// };
    /// assert!(answer(502).create_outcome_unknown());
    /// assert!(!answer(429).create_outcome_unknown());
    /// assert!(!answer(400).create_outcome_unknown());
    /// ```
    pub fn create_outcome_unknown(&self) -> bool {
        match self {
            Error::Transport(e) => e.kind != TransportErrorKind::Connect,
            Error::Api(e) => !e.status.is_client_error(),
            Error::Decode(_) | Error::Protocol(_) | Error::Redirect(_) | Error::Limit(_) => true,
            _ => false,
        }
    }

    /// True for errors that a caller may reasonably retry later: transport failures,
    /// 408, 425, 429 and 5xx API errors ([`is_retryable_status`]), timeouts of the wait.
    pub fn is_retryable(&self) -> bool {
        match self {
            Error::Transport(_) | Error::Timeout(_) => true,
            Error::Api(e) => is_retryable_status(e.status),
            _ => false,
        }
    }

    /// This error's text where the official SDKs would not print it (a batch's outcome
    /// lines, the CLI, the MCP server): as [`Display`](fmt::Display), except that a
    /// [timeout](Error::Timeout) says exactly how long it waited (`Task polling timeout
    /// after 3 s`), where `Display` keeps the official text and its rounded minutes
    /// (`after 1 minutes` for any wait under 90 s).
    ///
    /// ```
    /// use std::time::Duration;
    /// use cloud_task_core::{Error, TimeoutError};
    ///
    /// let error = Error::Timeout(Box::new(TimeoutError::new("t-1", Duration::from_secs(3), None)));
    /// assert_eq!(error.to_string(), "Task polling timeout after 1 minutes");
    /// assert_eq!(error.exact_text(), "Task polling timeout after 3 s");
    /// ```
    pub fn exact_text(&self) -> String {
        let Error::Timeout(timeout) = self else {
            return self.to_string();
        };
        let mut text = format!(
            "Task polling timeout after {}",
            exact_duration(timeout.timeout)
        );
        if let Some(e) = &timeout.last_error {
            text.push_str(". Last polling request error: ");
            text.push_str(&e.reason());
        }
        one_line(&text)
    }

    /// The text used as "reason" when this error is quoted in another message (the timeout
    /// error's `Last polling request error: {reason}`): an API error body's `message` (or
    /// `error`) string, else this error's text followed by its causes.
    pub fn reason(&self) -> String {
        if let Error::Api(api) = self
            && let Some(body) = &api.body
        {
            for key in ["message", "error"] {
                if let Some(s) = body.get(key).and_then(|v| v.as_str()) {
                    return one_line(s);
                }
            }
        }
        let mut text = self.to_string();
        let mut source = std::error::Error::source(self);
        while let Some(s) = source {
            let piece = one_line(&s.to_string());
            if !text.contains(&piece) {
                text.push_str(": ");
                text.push_str(&piece);
            }
            source = s.source();
        }
        text
    }
}

/// Input refused before anything was sent.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct InvalidInputError {
    /// The name of the offending argument or field (`"size"`, `"task_id"`, ...).
    pub field: &'static str,
    /// What was wrong, e.g. `size must be an integer between 1 and 100`.
    pub message: String,
}

impl fmt::Display for InvalidInputError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&one_line(&self.message))
    }
}

impl std::error::Error for InvalidInputError {}

/// What kind of transport failure happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum TransportErrorKind {
    /// Could not connect (DNS, refused, TLS handshake).
    Connect,
    /// The per-request timeout elapsed.
    Timeout,
    /// The connection broke while sending the request or reading the response.
    Io,
    /// Anything else the HTTP stack reported.
    Other,
}

impl fmt::Display for TransportErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TransportErrorKind::Connect => "could not connect",
            TransportErrorKind::Timeout => "request timed out",
            TransportErrorKind::Io => "connection error",
            TransportErrorKind::Other => "transport error",
        })
    }
}

/// The request failed at the transport level; the cause is in `source()`.
///
/// Its text names the host when the transport said which one it was (both drivers' own
/// transports do): `could not connect (host registry.oomol.com)`.
#[derive(Debug, thiserror::Error)]
#[error("{kind}{}", host.as_deref().map(|h| format!(" (host {h})")).unwrap_or_default())]
#[non_exhaustive]
pub struct TransportError {
    /// What kind of failure it was.
    pub kind: TransportErrorKind,
    /// The host (and port, when the URL names one) of the request that failed, when the
    /// transport said: never a path or a query.
    pub host: Option<String>,
    /// The HTTP stack's own error.
    #[source]
    pub source: BoxError,
}

/// The server answered with a non-2xx status.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ApiError {
    /// The HTTP status.
    pub status: StatusCode,
    /// The body's `message` string, else `Request failed: {status}`.
    pub message: String,
    /// The body parsed as JSON, or `None` when it was not JSON.
    pub body: Option<serde_json::Value>,
    /// The body's `code` string, when there was one (e.g. `OOMOL_INSUFFICIENT_CREDIT`).
    pub code: Option<String>,
    /// The `Retry-After` header, when it held a number of seconds.
    pub retry_after: Option<Duration>,
}

impl ApiError {
    /// True for a 402, or a body code `OOMOL_INSUFFICIENT_CREDIT`.
    pub fn is_quota(&self) -> bool {
        self.status == StatusCode::PAYMENT_REQUIRED
            || self.code.as_deref() == Some(INSUFFICIENT_CREDIT)
    }
}

/// The official text: the body's `message`, else `Request failed: {status}` (one line, at
/// most 500 characters). The status is in [`ApiError::status`], not in the text.
impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&truncate(&one_line(&self.message), 500))
    }
}

impl std::error::Error for ApiError {}

/// How much of a raw body an error keeps: the first 64 KiB.
pub const MAX_ERROR_BODY: usize = 64 * 1024;

/// A response whose body could not be decoded as the expected JSON.
#[derive(Debug)]
#[non_exhaustive]
pub struct DecodeError {
    /// What was being decoded, e.g. `"task result"`.
    pub what: &'static str,
    /// The HTTP status of the response.
    pub status: StatusCode,
    /// The raw body as received, cut to its first [`MAX_ERROR_BODY`] bytes.
    pub body: Vec<u8>,
    /// The length of the whole body (larger than `body.len()` when it was cut).
    pub body_len: usize,
    /// The JSON error.
    pub source: serde_json::Error,
}

impl DecodeError {
    /// The raw body (its kept prefix) as text (lossy UTF-8).
    pub fn body_text(&self) -> std::borrow::Cow<'_, str> {
        String::from_utf8_lossy(&self.body)
    }

    /// True when `body` holds only a prefix of the body.
    pub fn is_body_cut(&self) -> bool {
        self.body_len > self.body.len()
    }
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "could not decode the {} response (HTTP {}, {} bytes)",
            self.what,
            self.status.as_u16(),
            self.body_len
        )
    }
}

impl std::error::Error for DecodeError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.source)
    }
}

/// Error codes a failed task can be classified with (the official `RunTaskErrorCode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum TaskErrorCode {
    /// The account has no quota, balance or credit left (`INSUFFICIENT_QUOTA`): the
    /// backend's failure message names it, or the server answered the body code
    /// `OOMOL_INSUFFICIENT_CREDIT`.
    InsufficientQuota,
    /// The server answered `402 Payment Required` without saying more
    /// (`PAYMENT_REQUIRED`).
    PaymentRequired,
}

impl TaskErrorCode {
    /// The official code string.
    pub fn as_str(&self) -> &'static str {
        match self {
            TaskErrorCode::InsufficientQuota => "INSUFFICIENT_QUOTA",
            TaskErrorCode::PaymentRequired => "PAYMENT_REQUIRED",
        }
    }
}

impl fmt::Display for TaskErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The task ended with status `failed`.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct TaskFailedError {
    /// The task that failed.
    pub task_id: String,
    /// `Task failed: {backend message}` (`Unknown error` when the backend gave none).
    pub message: String,
    /// The classification, when one applies.
    pub code: Option<TaskErrorCode>,
    /// The classified status code: 402 for both codes, `None` otherwise.
    pub status_code: Option<StatusCode>,
    /// The raw failure detail, as the official SDKs keep it: the backend's `error` string
    /// when the result has a non-empty one, else the result object exactly as received
    /// (for a quota answer of the API, its body).
    pub detail: Option<serde_json::Value>,
}

/// Words that mark a failure message as a quota/credit problem (case-insensitive).
const QUOTA_WORDS: [&str; 7] = [
    "insufficient",
    "quota",
    "balance",
    "credit",
    "余额",
    "点数",
    "费用",
];

/// True when `message` names a quota, balance or credit problem.
fn mentions_quota(message: &str) -> bool {
    let lower = message.to_lowercase();
    QUOTA_WORDS.iter().any(|w| lower.contains(w))
}

impl TaskFailedError {
    /// Classifies a backend failure message as API.md says.
    pub fn new(
        task_id: impl Into<String>,
        backend_message: Option<&str>,
        detail: Option<serde_json::Value>,
    ) -> Self {
        let backend = backend_message
            .map(str::trim)
            .filter(|m| !m.is_empty())
            .unwrap_or("Unknown error");
        let quota = mentions_quota(backend);
        TaskFailedError {
            task_id: task_id.into(),
            message: format!("Task failed: {backend}"),
            code: quota.then_some(TaskErrorCode::InsufficientQuota),
            status_code: quota.then_some(StatusCode::PAYMENT_REQUIRED),
            detail,
        }
    }

    /// A billing refusal reported as an API error while waiting ([`ApiError::is_quota`]:
    /// a 402, or the body code `OOMOL_INSUFFICIENT_CREDIT`): `INSUFFICIENT_QUOTA` when the
    /// code or the message says so, `PAYMENT_REQUIRED` for a bare 402.
    pub fn from_quota_api_error(task_id: impl Into<String>, api: &ApiError) -> Self {
        let quota =
            api.code.as_deref() == Some(INSUFFICIENT_CREDIT) || mentions_quota(&api.message);
        TaskFailedError {
            task_id: task_id.into(),
            message: format!("Task failed: {}", api.message),
            code: Some(if quota {
                TaskErrorCode::InsufficientQuota
            } else {
                TaskErrorCode::PaymentRequired
            }),
            status_code: Some(StatusCode::PAYMENT_REQUIRED),
            detail: api.body.clone(),
        }
    }
}

/// A duration in the largest unit that states it exactly: `2 minutes`, `90 s`, `1500 ms`.
fn exact_duration(duration: Duration) -> String {
    let ms = duration.as_millis();
    if ms == 0 || !ms.is_multiple_of(1000) {
        format!("{ms} ms")
    } else if !ms.is_multiple_of(60_000) {
        format!("{} s", ms / 1000)
    } else if ms == 60_000 {
        "1 minute".to_owned()
    } else {
        format!("{} minutes", ms / 60_000)
    }
}

/// The body code of an API error that means the account is out of credit.
const INSUFFICIENT_CREDIT: &str = "OOMOL_INSUFFICIENT_CREDIT";

impl fmt::Display for TaskFailedError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&truncate(&one_line(&self.message), 1000))
    }
}

impl std::error::Error for TaskFailedError {}

/// The wait for a task's result took longer than its timeout.
#[derive(Debug)]
#[non_exhaustive]
pub struct TimeoutError {
    /// `Task polling timeout after {m} minutes`, plus
    /// `. Last polling request error: {reason}` when a poll had failed.
    pub message: String,
    /// The timeout that elapsed.
    pub timeout: Duration,
    /// The task being waited for.
    pub task_id: String,
    /// The last failed poll, if any.
    pub last_error: Option<Error>,
}

impl TimeoutError {
    /// Builds the timeout error with the official message.
    pub fn new(task_id: impl Into<String>, timeout: Duration, last_error: Option<Error>) -> Self {
        let minutes = ((timeout.as_millis() as f64) / 60_000.0).round().max(1.0) as u64;
        let mut message = format!("Task polling timeout after {minutes} minutes");
        if let Some(e) = &last_error {
            message.push_str(". Last polling request error: ");
            message.push_str(&e.reason());
        }
        TimeoutError {
            message,
            timeout,
            task_id: task_id.into(),
            last_error,
        }
    }
}

impl fmt::Display for TimeoutError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&one_line(&self.message))
    }
}

impl std::error::Error for TimeoutError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.last_error
            .as_ref()
            .map(|e| e as &(dyn std::error::Error + 'static))
    }
}

/// Error codes of the file upload, as in the official SDKs.
///
/// The official `UPLOAD_CANCELLED` has no variant: a cancelled upload ends with
/// [`Error::Cancelled`], as every other cancelled call of this SDK does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum UploadErrorCode {
    /// The `init` call answered non-2xx, or its answer was unusable.
    InitUploadFailed,
    /// A part `PUT` answered non-2xx (`Upload failed with status {status}`).
    UploadFailed,
    /// A part `PUT` failed at the transport level (`Network error during upload`).
    NetworkError,
    /// A part failed on every try (`Failed after {retries} attempts: {last error}`).
    RetryExhausted,
    /// The final `url` call failed.
    GetUploadUrlFailed,
    /// The `init` answer had no presigned URL for a part.
    MissingPresignedUrl,
}

impl UploadErrorCode {
    /// The official code string, e.g. `RETRY_EXHAUSTED`.
    pub fn as_str(&self) -> &'static str {
        match self {
            UploadErrorCode::InitUploadFailed => "INIT_UPLOAD_FAILED",
            UploadErrorCode::UploadFailed => "UPLOAD_FAILED",
            UploadErrorCode::NetworkError => "NETWORK_ERROR",
            UploadErrorCode::RetryExhausted => "RETRY_EXHAUSTED",
            UploadErrorCode::GetUploadUrlFailed => "GET_UPLOAD_URL_FAILED",
            UploadErrorCode::MissingPresignedUrl => "MISSING_PRESIGNED_URL",
        }
    }
}

impl fmt::Display for UploadErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A step of the file upload failed.
///
/// Its text is the official message alone; the code, the status, the part and the cause
/// are fields. For `RETRY_EXHAUSTED`, [`source`](std::error::Error::source) is the last
/// try's error (an `UPLOAD_FAILED` with the part's status, or a `NETWORK_ERROR` whose own
/// source is the transport's error).
#[derive(Debug)]
#[non_exhaustive]
pub struct UploadError {
    /// Which step failed and how.
    pub code: UploadErrorCode,
    /// The HTTP status of the answer this error is about: set for `UPLOAD_FAILED`,
    /// `INIT_UPLOAD_FAILED` and `GET_UPLOAD_URL_FAILED` when a response was received;
    /// `None` for `RETRY_EXHAUSTED` (as in the official SDKs; its source has the status).
    pub status: Option<StatusCode>,
    /// The official message, in one line.
    pub message: String,
    /// The part (from 1) a part's error is about.
    pub part: Option<u32>,
    /// The underlying error (for `RETRY_EXHAUSTED`, the last try's error).
    pub source: Option<Box<Error>>,
}

impl UploadError {
    /// An upload error without an underlying cause.
    pub fn new(
        code: UploadErrorCode,
        status: Option<StatusCode>,
        message: impl Into<String>,
    ) -> Self {
        UploadError {
            code,
            status,
            message: message.into(),
            part: None,
            source: None,
        }
    }

    /// Names the part this error is about.
    pub fn with_part(mut self, part: u32) -> Self {
        self.part = Some(part);
        self
    }

    /// Sets the underlying error.
    pub fn with_source(mut self, source: Error) -> Self {
        self.source = Some(Box::new(source));
        self
    }
}

/// The official text: the message alone (the code is in [`UploadError::code`]).
impl fmt::Display for UploadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&truncate(&one_line(&self.message), 1000))
    }
}

impl std::error::Error for UploadError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source
            .as_deref()
            .map(|e| e as &(dyn std::error::Error + 'static))
    }
}

impl From<UploadError> for Error {
    fn from(e: UploadError) -> Self {
        Error::Upload(Box::new(e))
    }
}

/// The wait or call was cancelled through a [`CancelToken`](crate::CancelToken).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct CancelledError {
    /// The task that was being waited for, when there is one. Cancelling a wait never
    /// cancels the task: it keeps running, and this ID finds it again.
    pub task_id: Option<String>,
}

impl fmt::Display for CancelledError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.task_id {
            None => f.write_str("the operation was cancelled"),
            Some(id) => write!(
                f,
                "the wait for task {} was cancelled (the task keeps running)",
                truncate(&one_line(id), 200)
            ),
        }
    }
}

impl std::error::Error for CancelledError {}

/// A task succeeded without a result file, so there is nothing to download.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct NoResultFileError {
    /// The task, which succeeded: its outputs are in its `resultData`.
    pub task_id: String,
}

impl NoResultFileError {
    /// The error of task `task_id`.
    pub fn new(task_id: impl Into<String>) -> Self {
        NoResultFileError {
            task_id: task_id.into(),
        }
    }
}

impl fmt::Display for NoResultFileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "task {} succeeded without a result file (its resultURL is null): its outputs are in its resultData",
            truncate(&one_line(&self.task_id), 200)
        )
    }
}

impl std::error::Error for NoResultFileError {}

/// A bound of the configuration, as named in [`LimitError`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Limit {
    /// The largest response body read ([`ConfigBuilder::max_response_body`](crate::ConfigBuilder::max_response_body)).
    ResponseBody,
    /// The most bytes of parts an upload holds at once
    /// ([`ConfigBuilder::max_upload_buffer`](crate::ConfigBuilder::max_upload_buffer)).
    UploadBuffer,
    /// The most pages one walk over the task list reads
    /// ([`ConfigBuilder::max_pages`](crate::ConfigBuilder::max_pages)).
    Pages,
    /// The most same-origin redirects one call follows
    /// ([`ConfigBuilder::max_redirects`](crate::ConfigBuilder::max_redirects)).
    Redirects,
    /// The largest file a download writes
    /// ([`DownloadOptions::max_size`](crate::DownloadOptions::max_size)).
    DownloadSize,
}

impl Limit {
    /// The name of the setting, e.g. `max_response_body`.
    pub fn setting(&self) -> &'static str {
        match self {
            Limit::ResponseBody => "max_response_body",
            Limit::UploadBuffer => "max_upload_buffer",
            Limit::Pages => "max_pages",
            Limit::Redirects => "max_redirects",
            Limit::DownloadSize => "max_size",
        }
    }
}

impl fmt::Display for Limit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.setting())
    }
}

/// A call was stopped at a bound of the configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct LimitError {
    /// The operation that was stopped, e.g. `get_dashboard`.
    pub operation: &'static str,
    /// Which bound.
    pub limit: Limit,
    /// Its value (bytes, pages or redirects).
    pub max: u64,
}

impl fmt::Display for LimitError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let what = match self.limit {
            Limit::ResponseBody => format!("the response body exceeds {} bytes", self.max),
            Limit::UploadBuffer => format!(
                "the upload server asks for parts larger than the {} bytes an upload may hold",
                self.max
            ),
            Limit::Pages => format!("more than {} pages", self.max),
            Limit::Redirects => format!("more than {} redirects", self.max),
            Limit::DownloadSize => format!("the file is larger than {} bytes", self.max),
        };
        let whose = match self.limit {
            Limit::DownloadSize => "the download's options",
            _ => "the client's builder",
        };
        write!(
            f,
            "{}: {what} (limit {}; raise it on {whose})",
            self.operation, self.limit
        )
    }
}

impl std::error::Error for LimitError {}

/// A redirect the client refused to follow.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct RedirectError {
    /// The operation whose request was redirected.
    pub operation: &'static str,
    /// The redirect's status (301, 302, 303, 307 or 308).
    pub status: StatusCode,
    /// Where it pointed: `scheme://host:port` only (a path or query may hold secrets), or
    /// `None` when the `Location` header was missing or not a URL.
    pub target_origin: Option<String>,
}

impl fmt::Display for RedirectError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.target_origin {
            Some(origin) => write!(
                f,
                "{}: refused to follow a redirect (HTTP {}) to another origin, {}: credentials \
                 and headers only go to the configured origin",
                self.operation,
                self.status.as_u16(),
                truncate(&one_line(origin), 300)
            ),
            None => write!(
                f,
                "{}: the server answered a redirect (HTTP {}) without a usable Location",
                self.operation,
                self.status.as_u16()
            ),
        }
    }
}

impl std::error::Error for RedirectError {}

/// A machine of the core was driven against its documented calling order.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct MisuseError {
    /// The machine, e.g. `poller`.
    pub machine: &'static str,
    /// What the driving code did.
    pub message: String,
}

impl fmt::Display for MisuseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} was driven against its calling order: {} (a bug in the code driving it)",
            self.machine, self.message
        )
    }
}

impl std::error::Error for MisuseError {}

/// The server broke the protocol.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ProtocolError {
    /// The operation that noticed it.
    pub operation: &'static str,
    /// What the server did.
    pub message: String,
}

impl fmt::Display for ProtocolError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: {}",
            self.operation,
            truncate(&one_line(&self.message), 1000)
        )
    }
}

impl std::error::Error for ProtocolError {}

/// A task's outputs that do not fit its block's typed outputs.
///
/// ```
/// # use cloud_task_core::{Error, typed::decode_outputs};
/// #[derive(serde::Deserialize, Debug)]
/// struct Outputs { text: String }
/// let data = serde_json::json!([{"text": 3}]);
/// let Err(Error::Outputs(error)) = decode_outputs::<Outputs>(Some(&data)) else { panic!() };
/// assert_eq!(error.handle.as_deref(), Some("text"));
/// assert_eq!(error.to_string(), "output `text` does not fit its type: invalid type: integer `3`, expected a string");
/// assert_eq!(error.data, data); // nothing is lost
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct OutputsError {
    /// The output handle that did not fit (its path, `a.b` for a nested field), or `None`
    /// when the data as a whole has another shape than one object of outputs.
    pub handle: Option<String>,
    /// Why, as serde said it.
    pub reason: String,
    /// The task's `resultData` as the server sent it (`null` when there was none).
    pub data: serde_json::Value,
    /// The task, when the call knew it.
    pub task_id: Option<String>,
}

impl fmt::Display for OutputsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // A handle or a value may hold terminal escapes: shown escaped.
        let reason = printable(&self.reason);
        match &self.handle {
            Some(handle) => write!(
                f,
                "output `{}` does not fit its type: {}",
                truncate(&printable(handle), 200),
                truncate(&reason, 500)
            ),
            None => write!(
                f,
                "the task's outputs do not fit their type: {}",
                truncate(&reason, 500)
            ),
        }
    }
}

impl std::error::Error for OutputsError {}

/// Local I/O failed (reading a file to upload, binding the emulator's address, ...).
///
/// Its text names what was being done and why it failed, e.g.
/// `reading x.pdf failed: No such file or directory (os error 2)`.
#[derive(Debug, thiserror::Error)]
#[error("{context} failed: {source}")]
#[non_exhaustive]
pub struct IoError {
    /// What was being done, e.g. `reading /tmp/a.pdf`.
    pub context: String,
    /// The I/O error.
    #[source]
    pub source: std::io::Error,
}

/// `s` with its control characters escaped (`\u{1b}`, `\n`).
fn printable(s: &str) -> String {
    s.chars()
        .flat_map(|c| {
            let escaped = c.is_control().then(|| c.escape_debug());
            escaped
                .into_iter()
                .flatten()
                .chain((!c.is_control()).then_some(c))
        })
        .collect()
}

/// Folds a message onto one line.
pub(crate) fn one_line(s: &str) -> String {
    if s.contains(['\n', '\r']) {
        s.split(['\n', '\r'])
            .map(str::trim)
            .filter(|p| !p.is_empty())
            .collect::<Vec<_>>()
            .join(" ")
    } else {
        s.to_owned()
    }
}

/// Shortens a message to at most `max` characters, marking the cut.
pub(crate) fn truncate(s: &str, max: usize) -> std::borrow::Cow<'_, str> {
    match s.char_indices().nth(max) {
        None => std::borrow::Cow::Borrowed(s),
        Some((i, _)) => std::borrow::Cow::Owned(format!("{}…", &s[..i])),
    }
}

/// An [`Error::Decode`] keeping the first [`MAX_ERROR_BODY`](crate::MAX_ERROR_BODY) bytes
/// of the raw body.
pub(crate) fn decode_error(
    what: &'static str,
    status: StatusCode,
    mut body: Vec<u8>,
    source: serde_json::Error,
) -> Error {
    let body_len = body.len();
    if body_len > MAX_ERROR_BODY {
        body.truncate(MAX_ERROR_BODY);
        body.shrink_to_fit();
    }
    Error::Decode(Box::new(DecodeError {
        what,
        status,
        body,
        body_len,
        source,
    }))
}
