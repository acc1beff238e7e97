//! The three-step file upload as values: init, parts, final URL.
//!
//! [`Upload`] runs the three steps as one machine (bounded parts in flight, per-part
//! retries and deadlines, progress, cancellation); the pieces below are its parts, public
//! for drivers that want their own orchestration.
//!
//! 1. [`UploadInit`] (`POST {upload_base}/init`, authorised) answers an [`UploadTarget`].
//! 2. [`UploadPlan::new`] turns it into [`UploadPart`]s (byte range and presigned URL). The
//!    driver reads each part's bytes from its source only when it sends it, builds the
//!    `PUT` with [`UploadPart::request`] (no `Authorization`, no default headers), and on
//!    failure asks a [`PartRetry`] whether and when to try again.
//!    [`UploadProgress`] turns finished parts into the percentages to report.
//! 3. [`GetUploadUrl`] (`GET {upload_base}/{upload_id}/url`, authorised) answers the
//!    [`UploadedFile`] whose `url` goes into `inputValues`.
//!
//! The core never holds file contents.

use std::collections::BTreeMap;
use std::fmt;
use std::ops::Range;
use std::sync::Arc;
use std::time::Duration;

use http::header::CONTENT_TYPE;
use http::{HeaderMap, HeaderValue, Method};
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;

mod machine;

pub use machine::{Upload, UploadAction};

use crate::cancel::CancelToken;
use crate::config::Config;
use crate::error::{Error, Result, UploadError, UploadErrorCode};
use crate::ops::Operation;
pub use crate::retry::{MAX_PART_RETRY_DELAY, part_retry_delay};
use crate::wire;
use crate::{HttpRequest, HttpResponse};

/// How many times each part is tried by default.
pub const DEFAULT_UPLOAD_RETRIES: u32 = 3;
/// How many parts are in flight at once by default.
pub const DEFAULT_UPLOAD_CONCURRENCY: usize = 4;
/// How long one part's `PUT` may take by default, from sending it to its answer: 5 min.
pub const DEFAULT_PART_TIMEOUT: Duration = Duration::from_secs(300);

/// Called with the upload's progress percentage (0 to 100).
pub type UploadProgressFn = Arc<dyn Fn(u8) + Send + Sync>;

/// Options of `upload_file`.
///
/// ```
/// # use cloud_task_core::UploadOptions;
/// let options = UploadOptions::new().retries(5).concurrency(8).on_progress(|p| println!("{p}%"));
/// assert_eq!(options.get_retries(), 5);
/// ```
#[derive(Clone)]
pub struct UploadOptions {
    retries: u32,
    concurrency: usize,
    part_timeout: Duration,
    on_progress: Option<UploadProgressFn>,
    cancel: Option<CancelToken>,
}

impl Default for UploadOptions {
    fn default() -> Self {
        UploadOptions {
            retries: DEFAULT_UPLOAD_RETRIES,
            concurrency: DEFAULT_UPLOAD_CONCURRENCY,
            part_timeout: DEFAULT_PART_TIMEOUT,
            on_progress: None,
            cancel: None,
        }
    }
}

impl UploadOptions {
    /// The defaults: 3 tries per part, 4 parts in flight.
    pub fn new() -> Self {
        Self::default()
    }

    /// How many times each part is tried, the first try included (default 3): as in the
    /// official `Failed after {retries} attempts`, `retries(1)` tries each part once. 0 is
    /// refused when the upload starts ([`validate`](Self::validate)).
    pub fn retries(mut self, retries: u32) -> Self {
        self.retries = retries;
        self
    }

    /// How many parts are sent at once (default 4; fewer when parts are large). 0 is
    /// refused when the upload starts.
    pub fn concurrency(mut self, concurrency: usize) -> Self {
        self.concurrency = concurrency;
        self
    }

    /// How long one part's `PUT` may take, from sending it to its answer (default 5 min;
    /// under 1 ms is refused when the upload starts). A part not answered by then is a
    /// failed try, retried as the others. The `init` and final calls have the client's
    /// per-request timeout.
    pub fn part_timeout(mut self, timeout: Duration) -> Self {
        self.part_timeout = timeout;
        self
    }

    /// Checks the options, naming the field: `retries` and `concurrency` must be at least 1,
    /// `part_timeout` at least 1 ms. Every upload runs it before anything is sent.
    ///
    /// ```
    /// # use cloud_task_core::UploadOptions;
    /// assert!(UploadOptions::new().validate().is_ok());
    /// let error = UploadOptions::new().retries(0).validate().unwrap_err();
    /// assert_eq!(
    ///     error.to_string(),
    ///     "retries must be at least 1: it counts the tries of each part, the first one included"
    /// );
    /// ```
    pub fn validate(&self) -> Result<()> {
        if self.retries == 0 {
            return Err(Error::invalid_input(
                "retries",
                "retries must be at least 1: it counts the tries of each part, the first one included",
            ));
        }
        if self.concurrency == 0 {
            return Err(Error::invalid_input(
                "concurrency",
                "concurrency must be at least 1",
            ));
        }
        if self.part_timeout < Duration::from_millis(1) {
            return Err(Error::invalid_input(
                "part_timeout",
                format!(
                    "part_timeout must be at least 1 ms, got {} ms",
                    self.part_timeout.as_secs_f64() * 1000.0
                ),
            ));
        }
        Ok(())
    }

    /// Called with the progress percentage after each part, and with 100 at the end.
    pub fn on_progress(mut self, f: impl Fn(u8) + Send + Sync + 'static) -> Self {
        self.on_progress = Some(Arc::new(f));
        self
    }

    /// Ends the upload with [`Error::Cancelled`] when `token` is cancelled.
    pub fn cancel_token(mut self, token: CancelToken) -> Self {
        self.cancel = Some(token);
        self
    }

    /// Tries per part.
    pub fn get_retries(&self) -> u32 {
        self.retries
    }

    /// Parts in flight at once.
    pub fn get_concurrency(&self) -> usize {
        self.concurrency
    }

    /// The timeout of one part's `PUT`.
    pub fn get_part_timeout(&self) -> Duration {
        self.part_timeout
    }

    /// The cancellation token, if any.
    pub fn get_cancel_token(&self) -> Option<&CancelToken> {
        self.cancel.as_ref()
    }

    /// Calls the progress callback, if any.
    pub fn report_progress(&self, percent: u8) {
        if let Some(f) = &self.on_progress {
            f(percent);
        }
    }
}

impl fmt::Debug for UploadOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UploadOptions")
            .field("retries", &self.retries)
            .field("concurrency", &self.concurrency)
            .field("part_timeout", &self.part_timeout)
            .field("on_progress", &self.on_progress.as_ref().map(|_| "Fn"))
            .field("cancel", &self.cancel)
            .finish()
    }
}

/// The extension sent to `init`: from the last `.` of the file name, dot included; `"."`
/// when there is none (a leading dot alone, as in `.bashrc`, is not an extension).
///
/// ```
/// # use cloud_task_core::file_extension;
/// assert_eq!(file_extension("report.PDF"), ".PDF");
/// assert_eq!(file_extension("/tmp/archive.tar.gz"), ".gz");
/// assert_eq!(file_extension("Makefile"), ".");
/// assert_eq!(file_extension(".bashrc"), ".");
/// ```
pub fn file_extension(file_name: &str) -> String {
    let base = file_name.rsplit(['/', '\\']).next().unwrap_or(file_name);
    match base.rfind('.') {
        Some(i) if i > 0 && i + 1 < base.len() => base[i..].to_owned(),
        _ => ".".to_owned(),
    }
}

/// Refuses anything but a regular file as an upload source, naming what it is. Drivers call
/// it with the `stat` of a path before they open it (opening a named pipe blocks until a
/// writer comes) and again with the opened file's.
///
/// ```
/// # use cloud_task_core::check_upload_source;
/// let dir = std::env::temp_dir();
/// let error = check_upload_source(&dir, &std::fs::metadata(&dir).unwrap()).unwrap_err();
/// assert!(error.to_string().ends_with("is a directory"));
/// ```
pub fn check_upload_source(path: &std::path::Path, metadata: &std::fs::Metadata) -> Result<()> {
    if metadata.is_file() {
        return Ok(());
    }
    let what = if metadata.is_dir() {
        "a directory"
    } else {
        "not a regular file (a named pipe, socket or device cannot be uploaded)"
    };
    Err(Error::invalid_input(
        "path",
        format!("{} is {what}", path.display()),
    ))
}

/// The body of `init`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct InitUploadRequest {
    /// The extension with its dot, or `"."`.
    pub file_extension: String,
    /// The file size in bytes.
    pub size: u64,
}

/// `POST {upload_base}/init`: start an upload.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct UploadInit {
    /// The extension with its dot, or `"."`.
    pub file_extension: String,
    /// The file size in bytes.
    pub size: u64,
}

impl UploadInit {
    /// Starts the upload of `size` bytes named `file_name` (its extension is taken by
    /// [`file_extension`]).
    pub fn for_file(file_name: &str, size: u64) -> Self {
        UploadInit {
            file_extension: file_extension(file_name),
            size,
        }
    }

    /// Starts an upload with an explicit extension (a missing leading dot is added; empty
    /// becomes `"."`).
    pub fn with_extension(extension: &str, size: u64) -> Self {
        let extension = extension.trim();
        let file_extension = if extension.starts_with('.') {
            extension.to_owned()
        } else {
            format!(".{extension}")
        };
        UploadInit {
            file_extension,
            size,
        }
    }
}

/// The `data` of the `init` answer: where each part goes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct UploadTarget {
    /// The upload's ID.
    pub upload_id: String,
    /// The size of every part but the last.
    pub part_size: u64,
    /// How many parts.
    pub total_parts: u32,
    /// Part number (from 1) to presigned URL. On the wire the keys may be strings or
    /// numbers; a list is read as parts 1, 2, ...
    #[serde(deserialize_with = "presigned_urls")]
    pub presigned_urls: BTreeMap<u32, String>,
}

impl UploadTarget {
    /// Builds a target (used by servers such as the emulator).
    pub fn new(
        upload_id: impl Into<String>,
        part_size: u64,
        total_parts: u32,
        presigned_urls: BTreeMap<u32, String>,
    ) -> Self {
        UploadTarget {
            upload_id: upload_id.into(),
            part_size,
            total_parts,
            presigned_urls,
        }
    }
}

fn presigned_urls<'de, D: Deserializer<'de>>(d: D) -> Result<BTreeMap<u32, String>, D::Error> {
    use serde::de::Error as _;
    let value = Value::deserialize(d)?;
    let mut urls = BTreeMap::new();
    match value {
        Value::Object(map) => {
            for (key, url) in map {
                let number: u32 = key.trim().parse().map_err(|_| {
                    D::Error::custom(format!("presigned_urls key {key:?} is not a part number"))
                })?;
                let url = url.as_str().ok_or_else(|| {
                    D::Error::custom(format!("presigned URL of part {number} is not a string"))
                })?;
                urls.insert(number, url.to_owned());
            }
        }
        Value::Array(list) => {
            for (i, url) in list.into_iter().enumerate() {
                let url = url.as_str().ok_or_else(|| {
                    D::Error::custom(format!("presigned URL of part {} is not a string", i + 1))
                })?;
                let number =
                    u32::try_from(i + 1).map_err(|_| D::Error::custom("too many parts"))?;
                urls.insert(number, url.to_owned());
            }
        }
        Value::Null => {}
        _ => return Err(D::Error::custom("presigned_urls must be an object")),
    }
    Ok(urls)
}

/// The whole `init` answer: `{"data": {...}}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct InitUploadResponse {
    /// The upload target.
    pub data: UploadTarget,
}

impl InitUploadResponse {
    /// Wraps a target.
    pub fn new(data: UploadTarget) -> Self {
        InitUploadResponse { data }
    }
}

/// Wraps any upload-API failure of `step` into an [`UploadError`] with `code`.
fn upload_step_error(code: UploadErrorCode, step: &str, error: Error) -> Error {
    let status = error.status();
    let message = match &error {
        Error::Api(api) => format!("{step} failed: {}", api.message),
        other => format!("{step} failed: {}", other.reason()),
    };
    Error::from(UploadError::new(code, status, message).with_source(error))
}

impl Operation for UploadInit {
    type Output = UploadTarget;
    const NAME: &'static str = "upload_init";

    fn request(&self, config: &Config) -> Result<HttpRequest> {
        let body = InitUploadRequest {
            file_extension: self.file_extension.clone(),
            size: self.size,
        };
        config
            .upload_request(Method::POST, "/init")
            .json(&body)
            .build()
    }

    fn parse(&self, response: HttpResponse) -> Result<UploadTarget> {
        wire::parse_json::<InitUploadResponse>("upload init", response)
            .map(|r| r.data)
            .map_err(|e| upload_step_error(UploadErrorCode::InitUploadFailed, "Upload init", e))
    }
}

/// One part of an upload: its number, byte range and presigned URL.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct UploadPart {
    /// The part number, from 1.
    pub number: u32,
    /// The offset of its first byte in the file.
    pub offset: u64,
    /// Its length in bytes.
    pub len: u64,
    /// The presigned URL to `PUT` it to.
    pub url: String,
}

impl UploadPart {
    /// Part `number` (from 1): `len` bytes at `offset`, to `PUT` to the presigned `url`
    /// (plans build these; a driver of its own may too).
    pub fn new(number: u32, offset: u64, len: u64, url: impl Into<String>) -> Self {
        UploadPart {
            number,
            offset,
            len,
            url: url.into(),
        }
    }

    /// The byte range `[offset, offset + len)`.
    pub fn range(&self) -> Range<u64> {
        self.offset..self.offset + self.len
    }

    /// The `PUT` of this part: `Content-Type: application/octet-stream`, and neither an
    /// `Authorization` header nor any default header (the URL is presigned, on another
    /// host). Refuses a body whose length is not the part's ([`Error::Misuse`]: the driver
    /// read the wrong range; a source that ends early is an [`Error::Io`] of the driver).
    pub fn request(&self, body: Vec<u8>) -> Result<HttpRequest> {
        if body.len() as u64 != self.len {
            return Err(Error::misuse(
                "upload",
                format!(
                    "part {} must be {} bytes, got {}",
                    self.number,
                    self.len,
                    body.len()
                ),
            ));
        }
        let mut headers = HeaderMap::with_capacity(1);
        headers.insert(
            CONTENT_TYPE,
            HeaderValue::from_static("application/octet-stream"),
        );
        wire::build(Method::PUT, self.url.clone(), headers, body)
    }

    /// Reads the answer to the `PUT`: 2xx is done, anything else is `UPLOAD_FAILED` with the
    /// official message `Upload failed with status {status}`, the part's number, and the
    /// answer as an [`Error::Api`] source.
    pub fn parse(&self, response: HttpResponse) -> Result<()> {
        if response.status().is_success() {
            return Ok(());
        }
        let status = response.status();
        let api = wire::api_error(response);
        Err(Error::from(
            UploadError::new(
                UploadErrorCode::UploadFailed,
                Some(status),
                format!("Upload failed with status {}", status.as_u16()),
            )
            .with_part(self.number)
            .with_source(Error::Api(Box::new(api))),
        ))
    }

    /// The retry bookkeeping of this part, allowing `retries` tries in all.
    pub fn retry(&self, retries: u32) -> PartRetry {
        PartRetry::new(self.number, retries)
    }
}

/// What to do after a part's try failed.
#[derive(Debug)]
#[must_use]
pub enum RetryDecision {
    /// Wait this long, then try the part again.
    RetryAfter(Duration),
    /// Stop: the upload fails with this error (`RETRY_EXHAUSTED`, or a final error such as
    /// a cancellation or a local read failure).
    GiveUp(Error),
}

/// Counts the tries of one part and decides on retries.
#[derive(Debug, Clone)]
pub struct PartRetry {
    part: u32,
    retries: u32,
    failures: u32,
}

impl PartRetry {
    /// Bookkeeping for part `part` with `retries` tries in all (at least 1).
    pub fn new(part: u32, retries: u32) -> Self {
        PartRetry {
            part,
            retries: retries.max(1),
            failures: 0,
        }
    }

    /// How many tries have failed so far.
    pub fn failures(&self) -> u32 {
        self.failures
    }

    /// Feeds a failed try (a transport error, or the error of [`UploadPart::parse`]).
    ///
    /// A transport error becomes `NETWORK_ERROR` (`Network error during upload`, the
    /// transport's error as its source). After the last try, the upload fails with
    /// `RETRY_EXHAUSTED`: `Failed after {retries} attempts: {last}`, no status (as in the
    /// official SDKs), the part's number, and the last try's error as its source.
    pub fn on_failure(&mut self, error: Error) -> RetryDecision {
        let error = match error {
            Error::Cancelled(_)
            | Error::Io(_)
            | Error::InvalidInput(_)
            | Error::Limit(_)
            | Error::Misuse(_) => {
                return RetryDecision::GiveUp(error);
            }
            Error::Transport(_) => Error::from(
                UploadError::new(
                    UploadErrorCode::NetworkError,
                    None,
                    "Network error during upload",
                )
                .with_part(self.part)
                .with_source(error),
            ),
            other => other,
        };
        self.failures += 1;
        if self.failures < self.retries {
            return RetryDecision::RetryAfter(part_retry_delay(self.failures));
        }
        let last = match &error {
            Error::Upload(u) => u.message.clone(),
            other => other.reason(),
        };
        RetryDecision::GiveUp(Error::from(
            UploadError::new(
                UploadErrorCode::RetryExhausted,
                None,
                format!("Failed after {} attempts: {last}", self.retries),
            )
            .with_part(self.part)
            .with_source(error),
        ))
    }
}

/// The parts of an upload, checked against the file size.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UploadPlan {
    upload_id: String,
    size: u64,
    part_size: u64,
    parts: Vec<UploadPart>,
}

impl UploadPlan {
    /// Plans the parts of a `size`-byte file from the `init` answer.
    ///
    /// Part `k` covers `[(k-1)·part_size, min(k·part_size, size))`. Fails with
    /// `MISSING_PRESIGNED_URL` when a part has no URL, and with `INIT_UPLOAD_FAILED` when
    /// the answer is inconsistent with the size (never a panic).
    pub fn new(target: &UploadTarget, size: u64) -> Result<Self> {
        let inconsistent = |why: String| {
            Error::from(UploadError::new(
                UploadErrorCode::InitUploadFailed,
                None,
                format!("Upload init returned an inconsistent plan: {why}"),
            ))
        };
        if target.upload_id.trim().is_empty() {
            return Err(inconsistent("the upload_id is empty".to_owned()));
        }
        let total = u64::from(target.total_parts);
        if size == 0 {
            if total > 1 {
                return Err(inconsistent(format!(
                    "an empty file cannot have {total} parts"
                )));
            }
        } else {
            if target.part_size == 0 {
                return Err(inconsistent("part_size is 0".to_owned()));
            }
            let expected = size.div_ceil(target.part_size);
            if expected != total {
                return Err(inconsistent(format!(
                    "{size} bytes in parts of {} bytes need {expected} parts, not {total}",
                    target.part_size
                )));
            }
        }
        let mut parts =
            Vec::with_capacity(target.presigned_urls.len().min(target.total_parts as usize));
        for number in 1..=target.total_parts {
            let url = target.presigned_urls.get(&number).ok_or_else(|| {
                Error::from(UploadError::new(
                    UploadErrorCode::MissingPresignedUrl,
                    None,
                    format!("Missing presigned URL for part {number}"),
                ))
            })?;
            if url
                .parse::<http::Uri>()
                .map_or(true, |u| u.scheme().is_none())
            {
                return Err(inconsistent(format!(
                    "the presigned URL of part {number} is not an absolute URL"
                )));
            }
            let offset = u64::from(number - 1) * target.part_size;
            let end = offset.saturating_add(target.part_size).min(size);
            parts.push(UploadPart {
                number,
                offset: offset.min(size),
                len: end.saturating_sub(offset),
                url: url.clone(),
            });
        }
        Ok(UploadPlan {
            upload_id: target.upload_id.clone(),
            size,
            part_size: target.part_size,
            parts,
        })
    }

    /// The upload's ID.
    pub fn upload_id(&self) -> &str {
        &self.upload_id
    }

    /// The file size.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// The part size.
    pub fn part_size(&self) -> u64 {
        self.part_size
    }

    /// The parts, in order.
    pub fn parts(&self) -> &[UploadPart] {
        &self.parts
    }

    /// The progress accounting of this upload.
    pub fn progress(&self) -> UploadProgress {
        UploadProgress::new(self.size)
    }

    /// The final step: the request for the uploaded file's URL.
    pub fn final_url(&self) -> GetUploadUrl {
        GetUploadUrl::new(self.upload_id.clone())
    }
}

/// Turns finished parts into the percentages to report.
///
/// After each part: `floor(uploaded / size × 100)`, shown as 99 while that reaches 100;
/// 100 once the final URL is known.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UploadProgress {
    size: u64,
    uploaded: u64,
}

impl UploadProgress {
    /// Accounting for a `size`-byte upload.
    pub fn new(size: u64) -> Self {
        UploadProgress { size, uploaded: 0 }
    }

    /// Bytes done so far.
    pub fn uploaded(&self) -> u64 {
        self.uploaded
    }

    /// Feeds a finished part of `len` bytes; answers the percentage to report (0 to 99).
    /// An empty file reports 0 for its part, as the official client does (then 100 once
    /// the final URL is known).
    pub fn on_part_done(&mut self, len: u64) -> u8 {
        self.uploaded = self.uploaded.saturating_add(len).min(self.size);
        if self.size == 0 {
            return 0;
        }
        let percent = u128::from(self.uploaded) * 100 / u128::from(self.size);
        percent.min(99) as u8
    }

    /// The upload is complete (the final URL is known): 100.
    pub fn on_complete(&mut self) -> u8 {
        self.uploaded = self.size;
        100
    }
}

/// The uploaded file, from the final step. Pass `url` in `inputValues`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct UploadedFile {
    /// Where the file can be downloaded.
    pub url: String,
    /// When the URL expires.
    #[serde(default)]
    pub expires_at: Option<String>,
    /// The stored file name.
    #[serde(default)]
    pub file_name: Option<String>,
    /// The stored size in bytes.
    #[serde(default)]
    pub file_size: Option<u64>,
    /// The detected MIME type.
    #[serde(default)]
    pub mime_type: Option<String>,
}

impl UploadedFile {
    /// Builds the description (used by servers such as the emulator).
    pub fn new(url: impl Into<String>) -> Self {
        UploadedFile {
            url: url.into(),
            expires_at: None,
            file_name: None,
            file_size: None,
            mime_type: None,
        }
    }
}

/// The whole final answer: `{"data": {...}}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct UploadUrlResponse {
    /// The uploaded file.
    pub data: UploadedFile,
}

impl UploadUrlResponse {
    /// Wraps a file description.
    pub fn new(data: UploadedFile) -> Self {
        UploadUrlResponse { data }
    }
}

/// `GET {upload_base}/{upload_id}/url`: the URL of the uploaded file.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct GetUploadUrl {
    /// The upload's ID, sent percent-encoded as one path segment.
    pub upload_id: String,
}

impl GetUploadUrl {
    /// The final step of upload `upload_id`.
    pub fn new(upload_id: impl Into<String>) -> Self {
        GetUploadUrl {
            upload_id: upload_id.into(),
        }
    }
}

impl Operation for GetUploadUrl {
    type Output = UploadedFile;
    const NAME: &'static str = "upload_url";

    fn request(&self, config: &Config) -> Result<HttpRequest> {
        wire::check_not_empty("upload_id", &self.upload_id)?;
        config
            .upload_request(Method::GET, "")
            .segment(&self.upload_id)
            .path("/url")
            .build()
    }

    fn parse(&self, response: HttpResponse) -> Result<UploadedFile> {
        wire::parse_json::<UploadUrlResponse>("upload URL", response)
            .map(|r| r.data)
            .map_err(|e| {
                upload_step_error(UploadErrorCode::GetUploadUrlFailed, "Get upload URL", e)
            })
    }
}
