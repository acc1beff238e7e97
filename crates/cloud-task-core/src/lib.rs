//! The sans-IO core of the OOMOL Cloud Task SDK for Rust.
//!
//! This crate knows the Cloud Task v3 protocol and nothing about networks: it builds
//! [`http::Request`]s, reads [`http::Response`]s, validates input, and runs the polling,
//! pagination and upload logic as state machines that are driven from outside with an
//! explicit `now`. The async (`cloud-task-async`, reqwest + tokio) and blocking
//! (`cloud-task-blocking`, ureq) clients are thin drivers of it; so can be any other HTTP
//! stack (hyper, a WASM fetch, a proxy).
//!
//! **What the core never does**: open a socket, read the clock, sleep, spawn, or hold the
//! contents of a file being uploaded. A `clippy.toml` forbids `Instant::now`,
//! `SystemTime::now` and `thread::sleep` here.
//!
//! In scope: the wire format of every endpoint ([`ops`], [`upload`]), typed models
//! ([`models`]), validation with the official messages, the error type ([`Error`]),
//! configuration, limits and secrets ([`Config`], [`ApiKey`]), the machines that decide
//! everything a server could otherwise move ([`Call`], [`Poller`], [`PollerSet`],
//! [`Paginator`], [`Upload`], [`Follower`] for a task's live view of typed events,
//! [`Download`] for resumable file downloads, [`Batch`] for many inputs of one block with
//! a crash-safe journal), input checks against a block's description
//! ([`GetPackageInfo`], [`PackageInfo::check`]), and a runtime-agnostic [`CancelToken`]. Out of scope:
//! connection pooling, TLS, proxies, threads and tasks, reading files, sleeping.
//!
//! # Every machine speaks one vocabulary
//!
//! Inputs are `handle_*(…, now)` and `cancel()`; the next thing to do is
//! `poll_action(now)` (`#[must_use]`). An action that asks the driver to send a request
//! hands out a [`Transmit`]: the request, the [`RequestId`] to feed its answer back with,
//! the instant by which its answer must have arrived (the sooner of the per-request
//! timeout and the wait's deadline) and the largest body to read. A machine asked for its
//! next action after a request's deadline gives that request up itself, so deadlines hold
//! whatever transport is plugged in; answers of requests given up, cancelled or unknown
//! are ignored. Drivers only move bytes, sleep and report.
//!
//! # The bounds a server cannot move
//!
//! | bound | default | set with | when reached |
//! |---|---|---|---|
//! | time of one request, body included | 30 s | [`ConfigBuilder::timeout`] | a failed request ([`TransportErrorKind::Timeout`]); polls and parts retry it |
//! | largest response body, enforced while reading | 32 MiB | [`ConfigBuilder::max_response_body`] | [`Error::Limit`] |
//! | bytes of parts an upload holds | 64 MiB | [`ConfigBuilder::max_upload_buffer`] | fewer parts in flight; [`Error::Limit`] before any part when one part is larger |
//! | pages of one walk | 10,000 | [`ConfigBuilder::max_pages`] | [`Error::Limit`] |
//! | a page token seen before | | | [`Error::Protocol`] naming it |
//! | same-origin redirects of one call | 5 | [`ConfigBuilder::max_redirects`] | [`Error::Limit`] |
//! | a redirect to another origin | never followed | | [`Error::Redirect`] naming the origin |
//! | a wait's timeout | none | [`AwaitOptions::timeout`] | [`Error::Timeout`], after a last poll within the deadline |
//! | raw body kept in an error | 64 KiB | [`MAX_ERROR_BODY`] | the rest is dropped (its length is kept) |
//! | a batch's creates in flight | 4 | [`BatchOptions::creates_in_flight`] | the next waits for an answer |
//! | a batch's queued-plus-running tasks | the account's `maxConcurrency + maxQueueSize`, less its other tasks | [`BatchOptions::max_active`] | creates wait for room (one at a time when the dashboard shows none and none of the batch's is in flight) |
//! | a refusal's hold (`Retry-After` of a 429 to a create) | at most 60 s | [`MAX_HOLD`] | held that long |
//! | refusals of one input | 50 | [`BatchOptions::max_refusals`] | [`BatchOutcome::NotCreated`] |
//!
//! Statuses that retrying cannot mend (400, 401, 403, 404, 405, 410, 422, ...) end a wait
//! at once; 408, 425, 429, 5xx and transport errors are retried
//! ([`is_retryable_status`]).
//!
//! # Using the core with your own HTTP stack
//!
//! ```
//! use cloud_task_core::{Config, CreateTask, CreateTaskRequest, Operation, http};
//!
//! let config = Config::builder().api_key("my-key").build()?;
//! let op = CreateTask::new(
//!     CreateTaskRequest::new("@oomol/my-package", "1.0.0", "main").input("text", "hello"),
//! );
//! let request = op.request(&config)?;
//! assert_eq!(request.method(), http::Method::POST);
//! assert_eq!(request.uri(), "https://cloud-task.oomol.com/v3/users/me/tasks");
//!
//! // ... send `request` with any HTTP client, then:
//! let response = http::Response::builder()
//!     .status(200)
//!     .body(br#"{"taskID":"019234a5-b678"}"#.to_vec())?;
//! let created = op.parse(response)?;
//! assert_eq!(created.task_id, "019234a5-b678");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Waiting for a result without any runtime
//!
//! ```
//! use std::time::{Duration, Instant};
//! use cloud_task_core::{AwaitOptions, Config, PollAction, Poller, http};
//!
//! let config = Config::default();
//! let start = Instant::now();
//! let mut poller = Poller::new(&config, "t-1", &AwaitOptions::new(), start)?;
//! let mut now = start;
//! let mut answers = vec![
//!     r#"{"status":"success","resultURL":null,"resultData":[{"ok":true}]}"#,
//!     r#"{"status":"running","progress":50}"#,
//! ];
//! let result = loop {
//!     match poller.poll_action(now) {
//!         PollAction::Send(transmit) => {
//!             // Send `transmit.request`; its answer is due by `transmit.deadline`.
//!             let body = answers.pop().unwrap().as_bytes().to_vec();
//!             poller.handle_response(transmit.id, http::Response::new(body), now);
//!         }
//!         PollAction::Progress { progress, status } => println!("{status} {progress}%"),
//!         PollAction::Wait(d) => now += d, // a real driver sleeps here
//!         PollAction::Done(outcome) => break outcome?,
//!     }
//! };
//! assert_eq!(result.result_data.unwrap()[0]["ok"], true);
//! assert_eq!(now - start, Duration::from_millis(3000));
//! # Ok::<(), cloud_task_core::Error>(())
//! ```
#![forbid(unsafe_code)]
#![deny(missing_docs)]
#![cfg_attr(docsrs, feature(doc_cfg))]

pub use http;

mod batch;
mod cancel;
mod config;
mod download;
mod dry_run;
mod error;
mod exchange;
mod follow;
mod inputs;
pub mod intercept;
mod login;
pub mod machine;
pub mod models;
pub mod ops;
mod outcome;
mod paginate;
mod poll;
mod poll_set;
pub mod retry;
pub mod seam;
pub mod timestamp;
pub mod trace;
pub mod typed;
pub mod upload;
mod wait;
mod wire;

pub use dry_run::DryRun;
pub use intercept::{
    HeaderInterceptor, Interceptor, Interceptors, Metrics, OperationMetrics, RequestContext,
};
pub use login::{
    DEFAULT_LOGIN_INTERVAL, DeviceCode, DeviceLogin, GetProfile, LoginAccount, LoginAction,
    LoginOptions, MAX_LOGIN_POLL_FAILURES, MAX_LOGIN_WAIT, UserProfile, login_state,
};
pub use seam::{HttpRequest, HttpResponse};

pub use batch::{
    Batch, BatchAction, BatchCounts, BatchEvent, BatchItem, BatchOptions, BatchOutcome,
    DEFAULT_CREATES_IN_FLIGHT, DEFAULT_MAX_REFUSALS, JournalRecord, JournalReplay, MAX_HOLD,
    MAX_JOURNAL_LINE, input_identity,
};
pub use cancel::{CancelGuard, CancelToken, Cancelled};
pub use config::{
    ApiKey, CallOptions, Config, ConfigBuilder, DEFAULT_API_URL, DEFAULT_BASE_URL,
    DEFAULT_CONNECT_TIMEOUT, DEFAULT_ENDPOINT, DEFAULT_MAX_PAGES, DEFAULT_MAX_REDIRECTS,
    DEFAULT_MAX_RESPONSE_BODY, DEFAULT_MAX_UPLOAD_BUFFER, DEFAULT_REGISTRY_URL, DEFAULT_TIMEOUT,
    DEFAULT_UPLOAD_BASE_URL, DEFAULT_USER_AGENT, DerivedUrls, ENV_API_KEY, ENV_BASE_URL,
    ENV_BASE_URL_FALLBACK, ENV_ENDPOINT, ENV_REGISTRY_URL, ENV_REGISTRY_URL_FALLBACK,
    ENV_UPLOAD_BASE_URL, ENV_UPLOAD_BASE_URL_FALLBACK, EndpointUrls, MIN_SCRUBBED_KEY,
    derived_urls, endpoint_urls, is_secret_header_name, normalize_base_url,
};
pub use download::{
    BODY_PIECE, DEFAULT_CHUNK_SIZE, DEFAULT_DOWNLOAD_RETRIES, DEFAULT_TOOL_MAX_DOWNLOAD_SIZE,
    Download, DownloadAction, DownloadOptions, DownloadProgressFn, Downloaded, MAX_PART_RECORD,
    PartBook, PartRecord, Resume, WRITE_PIECE,
};
pub use error::{
    ApiError, BoxError, CancelledError, DecodeError, Error, InvalidInputError, IoError, Limit,
    LimitError, MAX_ERROR_BODY, MisuseError, NoResultFileError, OutputsError, ProtocolError,
    RedirectError, Result, TaskErrorCode, TaskFailedError, TimeoutError, TransportError,
    TransportErrorKind, UploadError, UploadErrorCode,
};
pub use exchange::{
    Call, CallAction, DeadlineElapsed, RequestId, SendLimits, Transmit, same_origin,
};
pub use follow::{
    DRAIN_EMPTY_ROUNDS, DRAIN_INTERVAL, FollowAction, Follower, LOG_PAGE_SIZE, MAX_DRAIN_ROUNDS,
    TaskEvent,
};
pub use inputs::{
    InputProblem, InvalidInputsError, MAX_INPUT_PROBLEMS, PACKAGE_CACHE_SIZE, PackageCache,
    ProblemKind, check_exact_version,
};
pub use models::*;
pub use ops::{
    CreateTask, CreateTaskRequest, GetDashboard, GetLatestTasks, GetPackageInfo, GetTask,
    GetTaskLogs, GetTaskResult, ListTasks, ListTasksQuery, Operation, SetTasksPause, WorkloadIds,
};
pub use outcome::{TaskOutcome, WatchEvent};
pub use paginate::{PageAction, Paginator};
pub use poll::{PollAction, Poller};
pub use poll_set::{PollSetAction, PollerSet};
pub use retry::{
    BACKOFF_FACTOR, BackoffStrategy, Jitter, backoff_delay, is_retryable_status, part_retry_delay,
    retry_after,
};
pub use upload::{
    GetUploadUrl, PartRetry, RetryDecision, Upload, UploadAction, UploadInit, UploadOptions,
    UploadPart, UploadPlan, UploadProgress, UploadTarget, UploadedFile, check_upload_source,
    file_extension,
};
pub use wait::{
    AwaitOptions, DEFAULT_AWAIT_MANY_IN_FLIGHT, DEFAULT_INTERVAL, DEFAULT_MAX_INTERVAL,
    FINAL_POLL_WINDOW, MIN_INTERVAL, ProgressFn, RetryFn, TaskProgressFn,
};
pub use wire::{RequestBuilder, api_error, check_not_empty, encode_path_segment, parse_json};
