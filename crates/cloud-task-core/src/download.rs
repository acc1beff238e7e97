//! Downloading a file (a task's `resultURL`, or an uploaded file's URL) as a machine:
//! chunk by chunk with `Range`, each chunk bounded, resumable with `If-Range`.

use std::collections::VecDeque;
use std::ffi::OsString;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use http::header::{
    CONTENT_LENGTH, CONTENT_RANGE, CONTENT_TYPE, ETAG, HeaderMap, HeaderValue, IF_RANGE,
    LAST_MODIFIED, RANGE, USER_AGENT,
};
use http::{Method, StatusCode, Uri};
use serde::{Deserialize, Serialize};

use crate::HttpResponse;
use crate::cancel::CancelToken;
use crate::config::Config;
use crate::error::{Error, Limit, Result};
use crate::exchange::{Flight, Landing, RequestId, Transmit, same_origin};
use crate::retry::is_retryable_status;
use crate::upload::part_retry_delay;
use crate::wire;

/// The default size of one chunk of a download: 8 MiB.
pub const DEFAULT_CHUNK_SIZE: u64 = 8 * 1024 * 1024;
/// The size of the pieces a driver writes a chunk in. One write of a whole chunk (megabytes
/// in one system call) can stall for tens of milliseconds in the kernel's throttling of
/// dirty pages, where the same bytes in pieces of this size do not: measured on Linux,
/// a 1 GiB download went from 100–250 MiB/s to the raw client's 1 GiB/s.
pub const WRITE_PIECE: usize = 256 * 1024;
/// The most bytes of a body coming in pieces that a download gathers before handing them
/// out to be written (each hand-out is one write of the driver's, on a thread pool for the
/// async client): 1 MiB. Measured on two cores, 256 KiB hand-outs cost a tenth of the
/// throughput in hand-offs; the write itself still goes in pieces of [`WRITE_PIECE`].
pub const BODY_PIECE: usize = 1024 * 1024;
/// The bound the command line and the MCP server put on a download's size unless told
/// otherwise: 16 GiB.
pub const DEFAULT_TOOL_MAX_DOWNLOAD_SIZE: u64 = 16 * 1024 * 1024 * 1024;
/// How many times each chunk is tried by default.
pub const DEFAULT_DOWNLOAD_RETRIES: u32 = 3;

/// Called with `(bytes written, total size when known)`.
pub type DownloadProgressFn = Arc<dyn Fn(u64, Option<u64>) + Send + Sync>;

/// What a download starts from: the bytes already on disk from an earlier try, and the
/// validator (`ETag`, else `Last-Modified`) the server gave them. Sent as
/// `Range: bytes={offset}-` with `If-Range: {validator}`: the server answers the rest, or
/// the whole file again when it changed since.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Resume {
    /// Bytes already held, from the start of the file.
    pub offset: u64,
    /// The validator they were read under.
    pub validator: Option<String>,
}

impl Resume {
    /// Resumes after `offset` bytes read under `validator`.
    pub fn new(offset: u64, validator: Option<String>) -> Self {
        Resume { offset, validator }
    }
}

/// Options of a download.
///
/// ```
/// # use cloud_task_core::DownloadOptions;
/// let options = DownloadOptions::new().chunk_size(1 << 20).on_progress(|done, total| {
///     println!("{done} of {total:?} bytes");
/// });
/// assert_eq!(options.get_chunk_size(), 1 << 20);
/// ```
#[derive(Clone)]
pub struct DownloadOptions {
    chunk_size: u64,
    retries: u32,
    max_size: Option<u64>,
    on_progress: Option<DownloadProgressFn>,
    cancel: Option<CancelToken>,
}

impl Default for DownloadOptions {
    fn default() -> Self {
        DownloadOptions {
            chunk_size: DEFAULT_CHUNK_SIZE,
            retries: DEFAULT_DOWNLOAD_RETRIES,
            max_size: None,
            on_progress: None,
            cancel: None,
        }
    }
}

impl DownloadOptions {
    /// The defaults: chunks of 8 MiB, each tried 3 times.
    pub fn new() -> Self {
        Self::default()
    }

    /// The size of one chunk (default 8 MiB; at least 1 KiB and at most the client's
    /// `max_response_body`, checked when the download starts): the most one request asks
    /// for. A client that streams holds about [`BODY_PIECE`] of it at a time; one that
    /// gathers answers whole (with interceptors configured, or through a transport that
    /// does not stream) holds a whole chunk.
    pub fn chunk_size(mut self, bytes: u64) -> Self {
        self.chunk_size = bytes;
        self
    }

    /// The largest file the download writes, in bytes (default: no bound). A file the
    /// server says is larger (its `Content-Range` total) is refused before a byte of it is
    /// written, and a file of unknown size (`bytes a-b/*`) ends with [`Error::Limit`]
    /// ([`Limit::DownloadSize`](crate::Limit::DownloadSize)) at the chunk that would pass
    /// the bound: set it wherever the server is not trusted with the disk. The CLI and the
    /// MCP server set [`DEFAULT_TOOL_MAX_DOWNLOAD_SIZE`].
    pub fn max_size(mut self, bytes: u64) -> Self {
        self.max_size = Some(bytes);
        self
    }

    /// How many times each chunk is tried, the first try included (default 3; at least 1).
    pub fn retries(mut self, retries: u32) -> Self {
        self.retries = retries;
        self
    }

    /// Called with `(bytes written, total size when known)` after each chunk.
    pub fn on_progress(mut self, f: impl Fn(u64, Option<u64>) + Send + Sync + 'static) -> Self {
        self.on_progress = Some(Arc::new(f));
        self
    }

    /// Ends the download with [`Error::Cancelled`] when `token` is cancelled (the bytes
    /// written so far stay, to resume from).
    pub fn cancel_token(mut self, token: CancelToken) -> Self {
        self.cancel = Some(token);
        self
    }

    /// The chunk size.
    pub fn get_chunk_size(&self) -> u64 {
        self.chunk_size
    }

    /// The largest file the download writes, if bounded.
    pub fn get_max_size(&self) -> Option<u64> {
        self.max_size
    }

    /// Tries per chunk.
    pub fn get_retries(&self) -> u32 {
        self.retries
    }

    /// The cancellation token, if any.
    pub fn get_cancel_token(&self) -> Option<&CancelToken> {
        self.cancel.as_ref()
    }

    /// Calls the progress callback, if any.
    pub fn report_progress(&self, written: u64, total: Option<u64>) {
        if let Some(f) = &self.on_progress {
            f(written, total);
        }
    }

    /// Checks the options against `config`, naming the field.
    pub fn validate(&self, config: &Config) -> Result<()> {
        if self.chunk_size < 1024 || self.chunk_size > config.max_response_body() {
            return Err(Error::invalid_input(
                "chunk_size",
                format!(
                    "chunk_size must be between 1024 bytes and the client's max_response_body ({}), got {}",
                    config.max_response_body(),
                    self.chunk_size
                ),
            ));
        }
        if self.retries == 0 {
            return Err(Error::invalid_input(
                "retries",
                "retries must be at least 1: it counts the tries of each chunk, the first one included",
            ));
        }
        Ok(())
    }
}

impl fmt::Debug for DownloadOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DownloadOptions")
            .field("chunk_size", &self.chunk_size)
            .field("retries", &self.retries)
            .field("on_progress", &self.on_progress.as_ref().map(|_| "Fn"))
            .field("cancel", &self.cancel)
            .finish()
    }
}

/// What a finished download got.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Downloaded {
    /// The file's size in bytes (all of it written).
    pub size: u64,
    /// Its `Content-Type`, when the server named one.
    pub content_type: Option<String>,
    /// Its validator (`ETag`, else `Last-Modified`), when the server gave one.
    pub validator: Option<String>,
}

/// What the driver must do next; the answer of [`Download::poll_action`].
#[must_use]
#[derive(Debug)]
// The transmit is handed straight to the transport: boxing it would only add an allocation.
#[allow(clippy::large_enum_variant)]
pub enum DownloadAction {
    /// Send this (the next chunk), then feed its answer to [`Download::handle_response`] or
    /// [`Download::handle_transport_error`] with its `id`.
    Send(Transmit),
    /// Write these bytes at `offset` of the destination, then ask again. Chunks come in
    /// order: `offset` is where the previous write ended (0 for the first).
    Write {
        /// Where they go.
        offset: u64,
        /// The bytes.
        bytes: Vec<u8>,
    },
    /// The server sends the whole file again (it changed since the bytes held were read,
    /// or it does not serve ranges): empty the destination, then ask again.
    Restart,
    /// `written` bytes of `total` (when known) are written: report them, then ask again.
    Progress {
        /// Bytes written from the start of the file.
        written: u64,
        /// The file's size, when the server said.
        total: Option<u64>,
    },
    /// A retry is due in this long: sleep (or until cancelled), then ask again.
    Wait(Duration),
    /// The download is over.
    Done(Result<Downloaded>),
}

/// Where a download is.
enum State {
    /// Ready to ask for the chunk at `offset` (once `now >= not_before`).
    Ready {
        not_before: Option<Instant>,
    },
    InFlight(Box<Flight>),
    /// The body of a chunk's answer, coming in pieces (its head accepted).
    Body(Box<Body>),
    Finished(Result<Downloaded>),
    Spent,
}

/// The body of a chunk's answer whose head was accepted: written as it comes.
struct Body {
    flight: Flight,
    /// Its length, when announced (a 206's `Content-Range`, a 200's `Content-Length`).
    expected: Option<u64>,
    /// Bytes of it received so far.
    got: u64,
    /// A 200: the whole file.
    whole: bool,
    /// Bytes received and not handed out to be written yet (fewer than [`BODY_PIECE`]).
    pending: Vec<u8>,
}

/// A piece of a body: borrowed from the transport's buffer, or a whole body already owned.
enum Piece<'a> {
    Borrowed(&'a [u8]),
    Owned(Vec<u8>),
}

impl Piece<'_> {
    fn len(&self) -> usize {
        match self {
            Piece::Borrowed(bytes) => bytes.len(),
            Piece::Owned(bytes) => bytes.len(),
        }
    }
}

/// The download of one URL as a machine: chunk after chunk, in order, each asked for with
/// `Range` (and `If-Range` once a validator is known, so that a file that changed is sent
/// whole again instead of spliced), each at most `chunk_size` bytes, each tried up to
/// `retries` times with the upload parts' waits.
///
/// A server cannot move the number of requests away from the bytes it sends: a chunk
/// shorter than asked must end the file, one larger than asked or of another range ends the
/// download with [`Error::Protocol`].
///
/// The machine never holds more than one chunk: it hands each to the driver to write
/// ([`DownloadAction::Write`]) before asking for the next. A driver that streams
/// ([`Transmit::streams_body`]) feeds a chunk's head first ([`head`](Self::head)): its
/// status, `Content-Range`, validator and size bounds are checked before a byte of it is
/// taken, and its body ([`body_piece`](Self::body_piece), [`body_end`](Self::body_end)) is
/// then handed out to be written in pieces of [`BODY_PIECE`] as it comes; a chunk cut short
/// leaves its bytes written, and the next try asks for the rest.
///
/// Credentials and default headers go only to the configured origins: a URL on another
/// host (a storage service's presigned URL) gets none of them. Redirects are followed
/// within the URL's origin only.
///
/// Calling order:
///
/// ```text
/// let mut download = Download::new(&config, url, &options, resume, now())?;
/// loop {
///     match download.poll_action(now()) {
///         DownloadAction::Send(t) => match send(t.request, t.limits(now())) {
///             Ok(response) => download.handle_response(t.id, response, now()),
///             Err(error) => download.handle_transport_error(t.id, error, now()),
///         },
///         DownloadAction::Write { offset, bytes } => write_at(offset, bytes)?,
///         DownloadAction::Restart => truncate()?,
///         DownloadAction::Progress { written, total } => options.report_progress(written, total),
///         DownloadAction::Wait(d) => sleep(d),
///         DownloadAction::Done(outcome) => return outcome,
///     }
/// }
/// ```
///
/// Streamed, the `Send` arm becomes (the next piece is read when the machine answers
/// `Wait`, after the writes it handed out meanwhile):
///
/// ```text
/// DownloadAction::Send(t) => match send_head(t.request, t.limits(now())) {
///     Ok((head, body)) if download.head(t.id, &head) => reading = Some((t.id, body)),
///     Ok((head, body)) => download.handle_response(t.id, gather(head, body)?, now()),
///     Err(error) => download.handle_transport_error(t.id, error, now()),
/// },
/// DownloadAction::Wait(_) if reading.is_some() => match read(&mut body) {
///     Ok(0) => download.body_end(id, Ok(()), now()),
///     Ok(n) => download.body_piece(id, &buffer[..n]),
///     Err(error) => download.body_end(id, Err(error), now()),
/// },
/// ```
pub struct Download {
    config: Config,
    uri: Uri,
    credentials: bool,
    chunk_size: u64,
    retries: u32,
    max_size: Option<u64>,
    failures: u32,
    offset: u64,
    total: Option<u64>,
    validator: Option<String>,
    content_type: Option<String>,
    cancel: Option<CancelToken>,
    actions: VecDeque<DownloadAction>,
    state: State,
}

impl fmt::Debug for Download {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Download")
            .field("origin", &self.uri.authority().map(|a| a.as_str()))
            .field("offset", &self.offset)
            .field("total", &self.total)
            .finish_non_exhaustive()
    }
}

impl Download {
    /// The download of `url`, from the bytes `resume` says are held (or from the start).
    /// Refuses a URL that is not absolute `http`/`https`, and invalid options.
    pub fn new(
        config: &Config,
        url: &str,
        options: &DownloadOptions,
        resume: Option<Resume>,
        _now: Instant,
    ) -> Result<Download> {
        options.validate(config)?;
        let uri: Uri = url
            .trim()
            .parse()
            .map_err(|_| Error::invalid_input("url", "url is not a valid URL".to_owned()))?;
        if !matches!(uri.scheme_str(), Some("http") | Some("https")) || uri.host().is_none() {
            return Err(Error::invalid_input(
                "url",
                "url must be an absolute http:// or https:// URL",
            ));
        }
        let on = |base: &str| base.parse::<Uri>().is_ok_and(|b| same_origin(&b, &uri));
        let credentials = on(config.base_url()) || on(config.upload_base_url());
        let resume = resume.unwrap_or(Resume::new(0, None));
        Ok(Download {
            config: config.clone(),
            uri,
            credentials,
            chunk_size: options.chunk_size,
            retries: options.retries,
            max_size: options.max_size,
            failures: 0,
            offset: resume.offset,
            total: None,
            validator: resume.validator.filter(|v| !v.is_empty()),
            content_type: None,
            cancel: options.cancel.clone(),
            actions: VecDeque::new(),
            state: State::Ready { not_before: None },
        })
    }

    /// Bytes written so far, from the start of the file.
    pub fn written(&self) -> u64 {
        self.offset
    }

    /// The file's size, once the server has said.
    pub fn total(&self) -> Option<u64> {
        self.total
    }

    /// The validator of the bytes written (`ETag`, else `Last-Modified`), once the server
    /// has given one: keep it with a partial file to [`Resume`] it.
    pub fn validator(&self) -> Option<&str> {
        self.validator.as_deref()
    }

    /// True when the URL is on a configured origin, so the request carries the
    /// configuration's credentials and default headers.
    pub fn sends_credentials(&self) -> bool {
        self.credentials
    }

    /// True while a chunk's request is in flight.
    pub(crate) fn is_in_flight(&self) -> bool {
        matches!(self.state, State::InFlight(_) | State::Body(_))
    }

    /// The cancel token of its options, if any.
    pub(crate) fn get_cancel_token(&self) -> Option<&CancelToken> {
        self.cancel.as_ref()
    }

    /// Ends the download with `error` (a chunk that could not be written), unless it is
    /// over already.
    pub(crate) fn fail(&mut self, error: Error) {
        if !matches!(self.state, State::Spent) {
            self.actions.clear();
            self.state = State::Finished(Err(error));
        }
    }

    /// What to do next, at `now`.
    pub fn poll_action(&mut self, now: Instant) -> DownloadAction {
        if self.cancel.as_ref().is_some_and(CancelToken::is_cancelled) {
            self.cancel();
        }
        if let Some(action) = self.actions.pop_front() {
            return action;
        }
        match std::mem::replace(&mut self.state, State::Spent) {
            State::Spent => DownloadAction::Done(Err(Error::misuse(
                "download",
                "poll_action was called again after the download was over",
            ))),
            State::Finished(outcome) => DownloadAction::Done(outcome),
            State::InFlight(flight) if flight.is_overdue(now) => {
                let error = flight.elapsed();
                self.failed_try(error, now);
                self.poll_action(now)
            }
            State::InFlight(flight) => {
                let wait = flight.deadline.saturating_duration_since(now);
                self.state = State::InFlight(flight);
                DownloadAction::Wait(wait)
            }
            State::Body(body) if body.flight.is_overdue(now) => {
                let (id, error) = (body.flight.id, body.flight.elapsed());
                self.state = State::Body(body);
                self.body_end(id, Err(error), now);
                self.poll_action(now)
            }
            State::Body(body) => {
                let wait = body.flight.deadline.saturating_duration_since(now);
                self.state = State::Body(body);
                DownloadAction::Wait(wait)
            }
            State::Ready { not_before } => {
                if let Some(at) = not_before
                    && now < at
                {
                    self.state = State::Ready { not_before };
                    return DownloadAction::Wait(at - now);
                }
                match self.request() {
                    Ok(request) => {
                        let (flight, mut transmit) =
                            Flight::launch(&self.config, "download", request, now, None, true);
                        transmit.streams_body = true;
                        self.state = State::InFlight(Box::new(flight));
                        DownloadAction::Send(transmit)
                    }
                    Err(error) => DownloadAction::Done(Err(error)),
                }
            }
        }
    }

    /// The request for the next chunk.
    fn request(&self) -> Result<crate::HttpRequest> {
        let mut headers = if self.credentials {
            self.config.headers()
        } else {
            let mut headers = HeaderMap::with_capacity(3);
            headers.insert(USER_AGENT, self.config.user_agent().clone());
            headers
        };
        let end = self.offset.saturating_add(self.chunk_size - 1);
        let range = HeaderValue::from_str(&format!("bytes={}-{end}", self.offset))
            .map_err(|_| Error::misuse("download", "a range header could not be built"))?;
        headers.insert(RANGE, range);
        if let Some(validator) = &self.validator
            && let Ok(value) = HeaderValue::from_str(validator)
        {
            headers.insert(IF_RANGE, value);
        }
        Ok(wire::request_to(
            Method::GET,
            self.uri.clone(),
            headers,
            Vec::new(),
        ))
    }

    /// Feeds the answer to request `id` (any other is ignored).
    pub fn handle_response(&mut self, id: RequestId, response: HttpResponse, now: Instant) {
        let State::InFlight(mut flight) = std::mem::replace(&mut self.state, State::Spent) else {
            return;
        };
        if flight.id != id {
            self.state = State::InFlight(flight);
            return;
        }
        match flight.land(&self.config, response) {
            Landing::Follow(mut transmit) => {
                transmit.streams_body = true;
                self.actions.push_back(DownloadAction::Send(transmit));
                self.state = State::InFlight(flight);
            }
            Landing::Failed(error) => self.state = State::Finished(Err(error)),
            Landing::Response(response) => self.answer(flight, response, now),
        }
    }

    /// Feeds the head of the answer to request `id` (sent with
    /// [`Transmit::streams_body`]): true when its body is to be fed in pieces
    /// ([`body_piece`](Self::body_piece), then [`body_end`](Self::body_end)), its head
    /// having passed every check that needs no byte of it (or having ended the download:
    /// its body is not wanted then either); false when the whole answer is to be fed to
    /// [`handle_response`](Self::handle_response) (a redirect, an error, another request's).
    pub fn head(&mut self, id: RequestId, head: &http::response::Parts) -> bool {
        let streams = matches!(head.status, StatusCode::PARTIAL_CONTENT | StatusCode::OK);
        match std::mem::replace(&mut self.state, State::Spent) {
            State::InFlight(flight) if flight.id == id && streams => {
                self.open_body(flight, head.status, &head.headers, None);
                true
            }
            state => {
                self.state = state;
                false
            }
        }
    }

    /// Feeds the next piece of the body of the answer to request `id`, whose head
    /// [`head`](Self::head) took (any other is ignored).
    pub fn body_piece(&mut self, id: RequestId, piece: &[u8]) {
        if matches!(&self.state, State::Body(body) if body.flight.id == id) {
            self.piece(Piece::Borrowed(piece));
        }
    }

    /// Feeds the end of the body of the answer to request `id` (any other is ignored):
    /// `Ok` when it came whole. A failure is a failed try of the chunk, retried from the
    /// bytes that came (they are handed out to be written first).
    pub fn body_end(&mut self, id: RequestId, outcome: Result<()>, now: Instant) {
        let mut body = match std::mem::replace(&mut self.state, State::Spent) {
            State::Body(body) if body.flight.id == id => body,
            state => {
                self.state = state;
                return;
            }
        };
        self.flush(&mut body);
        let error = match (outcome, body.expected) {
            (Ok(()), Some(expected)) if body.got < expected => {
                return self.broken(format!(
                    "an answer whose body is shorter than it announced: {} of {expected} bytes",
                    body.got
                ));
            }
            (Ok(()), _) => return self.chunk_done(&body),
            (Err(error), _) => body.flight.name_error(error),
        };
        if body.got > 0 {
            self.actions.push_back(DownloadAction::Progress {
                written: self.offset,
                total: self.total,
            });
        }
        self.state = State::Ready { not_before: None };
        if error.is_cancelled() {
            self.cancel();
        } else {
            self.failed_try(error, now);
        }
    }

    /// Feeds the transport's failure of request `id` (any other is ignored): a failed
    /// try of the chunk, retried.
    pub fn handle_transport_error(&mut self, id: RequestId, error: Error, now: Instant) {
        match &self.state {
            State::InFlight(flight) if flight.id == id => {
                let error = flight.name_error(error);
                self.state = State::Ready { not_before: None };
                if error.is_cancelled() {
                    self.cancel();
                } else {
                    self.failed_try(error, now);
                }
            }
            _ => {}
        }
    }

    /// Ends the download with [`Error::Cancelled`] (unless it is over). The bytes written
    /// stay, to resume from.
    pub fn cancel(&mut self) {
        if matches!(
            self.state,
            State::Ready { .. } | State::InFlight(_) | State::Body(_)
        ) {
            self.actions.clear();
            self.state = State::Finished(Err(Error::cancelled()));
        }
    }

    /// A try of the chunk failed: retried after a wait, or the end.
    fn failed_try(&mut self, error: Error, now: Instant) {
        let retryable = match &error {
            Error::Transport(_) => true,
            Error::Api(api) => is_retryable_status(api.status),
            _ => false,
        };
        self.failures += 1;
        if !retryable || self.failures >= self.retries {
            self.state = State::Finished(Err(error));
            return;
        }
        let wait = part_retry_delay(self.failures);
        self.state = State::Ready {
            not_before: Some(now.checked_add(wait).unwrap_or(now)),
        };
    }

    /// Reads the whole answer to a chunk.
    fn answer(&mut self, flight: Box<Flight>, response: HttpResponse, now: Instant) {
        match response.status() {
            status @ (StatusCode::PARTIAL_CONTENT | StatusCode::OK) => {
                let (head, body) = response.into_parts();
                let (id, len) = (flight.id, body.len() as u64);
                if self.open_body(flight, status, &head.headers, Some(len)) {
                    self.piece(Piece::Owned(body));
                    self.body_end(id, Ok(()), now);
                }
            }
            StatusCode::RANGE_NOT_SATISFIABLE => {
                // Resumed at the end of a file already whole.
                let total = response
                    .headers()
                    .get(CONTENT_RANGE)
                    .and_then(|v| v.to_str().ok())
                    .and_then(unsatisfied_total);
                if total == Some(self.offset) && self.offset > 0 {
                    self.total = total;
                    self.complete();
                } else {
                    self.state =
                        State::Finished(Err(Error::Api(Box::new(wire::api_error(response)))));
                }
            }
            _ => {
                let error = Error::Api(Box::new(wire::api_error(response)));
                self.failed_try(error, now);
            }
        }
    }

    /// Reads the head of a chunk's answer, a 206 or a 200 (`len`: its body's length when
    /// it came whole already): true when its body is to be written from
    /// [`written`](Self::written) on (the state is then [`State::Body`]); false when the
    /// download is over (another range, a file that changed, a size over the bound).
    fn open_body(
        &mut self,
        flight: Box<Flight>,
        status: StatusCode,
        headers: &HeaderMap,
        len: Option<u64>,
    ) -> bool {
        let header = |name| {
            headers
                .get(name)
                .and_then(|v: &HeaderValue| v.to_str().ok())
                .map(str::to_owned)
        };
        let validator = header(ETAG).or_else(|| header(LAST_MODIFIED));
        if self.content_type.is_none() {
            self.content_type = header(CONTENT_TYPE);
        }
        let whole = status == StatusCode::OK;
        let expected = if whole {
            // The whole file: the server ignores ranges, or it changed since.
            let announced = len.or_else(|| header(CONTENT_LENGTH).and_then(|n| n.parse().ok()));
            if let Some(max) = self.max_size
                && announced.is_some_and(|n| n > max)
            {
                self.too_large(max);
                return false;
            }
            if self.offset > 0 {
                self.actions.push_back(DownloadAction::Restart);
            }
            self.offset = 0;
            self.validator = validator;
            self.total = announced;
            announced
        } else {
            let Some(range) = header(CONTENT_RANGE).as_deref().and_then(content_range) else {
                self.broken("a 206 answer without a valid Content-Range");
                return false;
            };
            let range_len = range.end - range.start + 1;
            if range.start != self.offset {
                self.broken(format!(
                    "a 206 answer for another range than the one asked: bytes {}-{}, asked from byte {}",
                    range.start, range.end, self.offset
                ));
                return false;
            }
            if let Some(len) = len
                && len != range_len
            {
                self.broken(format!(
                    "a 206 answer for another range than the one asked: {len} bytes under a Content-Range of {range_len}"
                ));
                return false;
            }
            if range_len > self.chunk_size {
                self.broken(format!(
                    "a 206 answer larger than the chunk asked: {range_len} bytes, asked {}",
                    self.chunk_size
                ));
                return false;
            }
            // Shorter than asked is the end of the file, or a server making the client
            // send a request per few bytes: the requests stay proportional to the bytes.
            if range_len < self.chunk_size
                && range
                    .total
                    .is_some_and(|total| self.offset + range_len < total)
            {
                self.broken(format!(
                    "a 206 answer shorter than the chunk asked, before the end of the file: {range_len} of {} bytes",
                    self.chunk_size
                ));
                return false;
            }
            if self.validator.is_some() && validator.is_some() && validator != self.validator {
                self.broken("the file changed between two chunks");
                return false;
            }
            // With or without a validator: chunks of files of two sizes are two files.
            if let (Some(known), Some(total)) = (self.total, range.total)
                && known != total
            {
                self.broken(
                    "the file's size changed between two chunks: they are of two versions of it",
                );
                return false;
            }
            if let Some(max) = self.max_size
                && (range.total.is_some_and(|total| total > max) || self.offset + range_len > max)
            {
                self.too_large(max);
                return false;
            }
            self.validator = self.validator.take().or(validator);
            self.total = range.total.or(self.total);
            Some(range_len)
        };
        self.state = State::Body(Box::new(Body {
            flight: *flight,
            expected,
            got: 0,
            whole,
            pending: Vec::new(),
        }));
        true
    }

    /// Takes the next piece of the body coming: handed out to be written once
    /// [`BODY_PIECE`] bytes are held (a whole body owned already, at once); the download
    /// ends when it passes the length announced or the size bound.
    fn piece(&mut self, piece: Piece<'_>) {
        let mut body = match std::mem::replace(&mut self.state, State::Spent) {
            State::Body(body) => body,
            state => {
                self.state = state;
                return;
            }
        };
        // What is left of the body, when announced: a small body gets a small buffer.
        let rest = body
            .expected
            .map_or(u64::MAX, |e| e.saturating_sub(body.got));
        let got = body.got.saturating_add(piece.len() as u64);
        if let Some(expected) = body.expected
            && got > expected
        {
            self.flush(&mut body);
            return self.broken(format!(
                "an answer whose body is longer than it announced: past {expected} bytes"
            ));
        }
        if let Some(max) = self.max_size
            && body.whole
            && got > max
        {
            self.flush(&mut body);
            return self.too_large(max);
        }
        // One answer is bounded as a gathered one is, whatever the transport does.
        let limit = self.config.max_response_body();
        if got > limit {
            self.flush(&mut body);
            let error = Error::limit(body.flight.name, Limit::ResponseBody, limit);
            self.state = State::Finished(Err(error));
            return;
        }
        body.got = got;
        match piece {
            Piece::Owned(bytes) if body.pending.is_empty() => self.write(bytes),
            Piece::Borrowed(bytes) if body.pending.is_empty() && bytes.len() >= BODY_PIECE => {
                self.write(bytes.to_vec());
            }
            piece => {
                let bytes = match &piece {
                    Piece::Borrowed(bytes) => bytes,
                    Piece::Owned(bytes) => bytes.as_slice(),
                };
                if body.pending.capacity() == 0 {
                    let size =
                        usize::try_from(rest).map_or(BODY_PIECE, |rest| rest.min(BODY_PIECE));
                    body.pending.reserve_exact(size.max(bytes.len()));
                }
                body.pending.extend_from_slice(bytes);
                if body.pending.len() >= BODY_PIECE {
                    self.flush(&mut body);
                }
            }
        }
        self.state = State::Body(body);
    }

    /// Hands out the bytes of `body` held, to be written.
    fn flush(&mut self, body: &mut Body) {
        if !body.pending.is_empty() {
            let bytes = std::mem::take(&mut body.pending);
            self.write(bytes);
        }
    }

    /// Hands out `bytes`, to be written where the previous ended.
    fn write(&mut self, bytes: Vec<u8>) {
        let offset = self.offset;
        self.offset += bytes.len() as u64;
        self.actions
            .push_back(DownloadAction::Write { offset, bytes });
    }

    /// A chunk came whole (its bytes handed out): the progress, then the next chunk or the
    /// end.
    fn chunk_done(&mut self, body: &Body) {
        self.failures = 0;
        if body.whole {
            self.total = Some(self.offset);
        }
        self.actions.push_back(DownloadAction::Progress {
            written: self.offset,
            total: self.total,
        });
        // The end: the whole file, the size reached, or a chunk came short of its size.
        let ended = body.whole
            || match self.total {
                Some(total) => self.offset >= total,
                None => body.got < self.chunk_size,
            };
        if ended {
            self.complete();
        } else {
            self.state = State::Ready { not_before: None };
        }
    }

    fn complete(&mut self) {
        self.state = State::Finished(Ok(Downloaded {
            size: self.offset,
            content_type: self.content_type.clone(),
            validator: self.validator.clone(),
        }));
    }

    fn too_large(&mut self, max: u64) {
        self.state = State::Finished(Err(Error::limit("download", Limit::DownloadSize, max)));
    }

    fn broken(&mut self, what: impl Into<String>) {
        self.state = State::Finished(Err(Error::protocol("download", what.into())));
    }
}

/// The record kept beside a partial download on disk, so that a later download of the same
/// file resumes it instead of starting over.
///
/// A download to `dest` writes its bytes to [`part_path(dest)`](Self::part_path) and this
/// record, as JSON, to [`record_path(dest)`](Self::record_path); once the file is whole,
/// the partial file is renamed to `dest` and the record removed. A later download of the
/// same URL resumes from the partial file's length ([`resume`](Self::resume)), sending the
/// record's validator in `If-Range`: a file that changed since comes whole again, never
/// spliced. The record keeps the URL without its query, so that a presigned URL's
/// signature is never written to disk (a newly signed URL of the same file resumes too).
///
/// ```
/// # use std::path::Path;
/// # use cloud_task_core::PartRecord;
/// let record = PartRecord::new("https://files.example/r/1/out.bin?signature=s3cr3t", "\"v1\"", Some(100));
/// assert!(!String::from_utf8(record.to_json()).unwrap().contains("s3cr3t"));
/// assert_eq!(PartRecord::part_path(Path::new("out.bin")), Path::new("out.bin.part"));
/// // 40 bytes held: resume after them, under the same validator.
/// let resume = record.resume("https://files.example/r/1/out.bin?signature=other", 40).unwrap();
/// assert_eq!((resume.offset, resume.validator.as_deref()), (40, Some("\"v1\"")));
/// // Another file, or nothing held: start over.
/// assert!(record.resume("https://files.example/r/2/out.bin", 40).is_none());
/// assert!(record.resume("https://files.example/r/1/out.bin", 0).is_none());
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct PartRecord {
    /// The file's URL, without its query.
    pub url: String,
    /// The validator (`ETag`, else `Last-Modified`) the bytes held were read under.
    pub validator: String,
    /// The file's size, when the server said.
    #[serde(default)]
    pub total: Option<u64>,
}

/// The largest record read back: anything larger is not one of ours. A driver reads at
/// most this many bytes (and one more, to tell a larger file).
pub const MAX_PART_RECORD: u64 = 64 * 1024;

impl PartRecord {
    /// The record of a download of `url` whose bytes were read under `validator`.
    pub fn new(url: &str, validator: &str, total: Option<u64>) -> Self {
        PartRecord {
            url: without_query(url).to_owned(),
            validator: validator.to_owned(),
            total,
        }
    }

    /// Where the bytes of a download to `dest` are written until it is whole:
    /// `dest` followed by `.part`.
    pub fn part_path(dest: &Path) -> PathBuf {
        with_suffix(dest, ".part")
    }

    /// Where the record of a download to `dest` is kept: `dest` followed by `.part.json`.
    pub fn record_path(dest: &Path) -> PathBuf {
        with_suffix(dest, ".part.json")
    }

    /// The record as JSON.
    pub fn to_json(&self) -> Vec<u8> {
        serde_json::to_vec_pretty(self).unwrap_or_default()
    }

    /// A record read back; `None` when `bytes` are not one (larger than 64 KiB, not
    /// JSON, or without a validator).
    pub fn from_json(bytes: &[u8]) -> Option<PartRecord> {
        if bytes.len() as u64 > MAX_PART_RECORD {
            return None;
        }
        serde_json::from_slice::<PartRecord>(bytes)
            .ok()
            .filter(|r| !r.validator.is_empty())
    }

    /// How a download of `url` resumes a partial file of `held` bytes kept under this
    /// record: after them, under the record's validator, when the record is of the same
    /// URL (its query aside), some bytes are held, and no more than the file's size;
    /// otherwise `None`, and the download starts over.
    pub fn resume(&self, url: &str, held: u64) -> Option<Resume> {
        let same = without_query(url) == self.url;
        let fits = self.total.is_none_or(|total| held <= total);
        (same && held > 0 && fits).then(|| Resume::new(held, Some(self.validator.clone())))
    }
}

/// The bookkeeping of a download to a path, beside its partial file: whether the bytes an
/// earlier try left are resumed, when the record must be written (again), and whether the
/// bytes are worth keeping when the download stops. The driver reads and writes the files;
/// this decides, once for every driver.
///
/// ```
/// # use cloud_task_core::{PartBook, PartRecord};
/// let url = "https://files.example/r/1/out.bin?signature=s";
/// // Nothing on disk: start over (empty the partial file, remove any record).
/// let (mut book, resume) = PartBook::open(url, None, None);
/// assert!(resume.is_none());
/// assert!(!book.keeps_part(), "bytes without a validator cannot be resumed");
/// // The first chunk came under an ETag: write the record, once.
/// let json = book.written(Some("\"v1\""), Some(100)).expect("a record to write");
/// assert!(book.written(Some("\"v1\""), Some(100)).is_none());
/// assert!(book.keeps_part());
/// // A later try finds the record and 40 bytes: it resumes after them.
/// let (_, resume) = PartBook::open(url, Some(&json), Some(40));
/// assert_eq!(resume.unwrap().offset, 40);
/// ```
#[derive(Debug, Clone)]
pub struct PartBook {
    url: String,
    /// What the record on disk says (validator, total), once written.
    recorded: Option<(String, Option<u64>)>,
}

impl PartBook {
    /// The book of a download of `url`, from the record read back (`None`: none, or
    /// unreadable) and the partial file's length (`None`: no partial file). Answers how to
    /// resume; `None` means start over: empty the partial file and remove the record.
    pub fn open(url: &str, record: Option<&[u8]>, held: Option<u64>) -> (PartBook, Option<Resume>) {
        let resume = match (record.and_then(PartRecord::from_json), held) {
            (Some(kept), Some(held)) => kept.resume(url, held),
            _ => None,
        };
        let recorded = resume
            .as_ref()
            .and_then(|r| r.validator.clone())
            .map(|v| (v, None));
        let book = PartBook {
            url: url.to_owned(),
            recorded,
        };
        (book, resume)
    }

    /// Bytes read under `validator` (a file of `total`) were written to the partial file:
    /// the record to write now, as JSON, when it changed; `None` when there is nothing to
    /// write (no validator: such bytes cannot be resumed; or the record already says so).
    /// Write it after the bytes it names.
    pub fn written(&mut self, validator: Option<&str>, total: Option<u64>) -> Option<Vec<u8>> {
        let validator = validator?;
        if self
            .recorded
            .as_ref()
            .is_some_and(|(v, t)| v == validator && *t == total)
        {
            return None;
        }
        self.recorded = Some((validator.to_owned(), total));
        Some(PartRecord::new(&self.url, validator, total).to_json())
    }

    /// The partial file was emptied (the file comes whole again): its record no longer
    /// holds (remove the record file).
    pub fn restarted(&mut self) {
        self.recorded = None;
    }

    /// True when the partial file is worth keeping after a download that stopped: a
    /// record names its bytes, so a later download resumes them. Otherwise remove it.
    pub fn keeps_part(&self) -> bool {
        self.recorded.is_some()
    }
}

fn without_query(url: &str) -> &str {
    let url = url.trim();
    let end = url.find(['?', '#']).unwrap_or(url.len());
    &url[..end]
}

fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut name = OsString::from(path.as_os_str());
    name.push(suffix);
    PathBuf::from(name)
}

/// A `Content-Range: bytes a-b/total` (total may be `*`).
struct ContentRange {
    start: u64,
    end: u64,
    total: Option<u64>,
}

fn content_range(value: &str) -> Option<ContentRange> {
    let rest = value.trim().strip_prefix("bytes ")?;
    let (range, total) = rest.split_once('/')?;
    let (start, end) = range.split_once('-')?;
    let start: u64 = start.trim().parse().ok()?;
    let end: u64 = end.trim().parse().ok()?;
    let total = match total.trim() {
        "*" => None,
        t => Some(t.parse::<u64>().ok()?),
    };
    (end >= start && total.is_none_or(|t| end < t)).then_some(ContentRange { start, end, total })
}

/// The total of a `Content-Range: bytes */total` (the answer to a range past the end).
fn unsatisfied_total(value: &str) -> Option<u64> {
    value.trim().strip_prefix("bytes */")?.trim().parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_ranges_are_read_strictly() {
        let r = content_range("bytes 0-99/1000").unwrap();
        assert_eq!((r.start, r.end, r.total), (0, 99, Some(1000)));
        assert!(content_range("bytes 5-4/10").is_none());
        assert!(content_range("bytes 0-10/10").is_none());
        assert_eq!(content_range("bytes 0-9/*").unwrap().total, None);
        assert!(content_range("items 0-9/10").is_none());
        assert_eq!(unsatisfied_total("bytes */42"), Some(42));
    }
}
