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
//! configuration and secrets ([`Config`], [`ApiKey`]), the poller ([`Poller`]), the
//! paginator ([`Paginator`]), the upload plan ([`UploadPlan`]), and a runtime-agnostic
//! [`CancelToken`]. Out of scope: connection pooling, TLS, proxies, timeouts of single
//! requests, threads and tasks, reading files.
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
//! let mut poller = Poller::<serde_json::Value>::new(&config, "t-1", &AwaitOptions::new(), start)?;
//! let mut now = start;
//! let mut answers = vec![
//!     r#"{"status":"success","resultURL":null,"resultData":[{"ok":true}]}"#,
//!     r#"{"status":"running","progress":50}"#,
//! ];
//! let result = loop {
//!     match poller.poll_action(now) {
//!         PollAction::Send(_request) => {
//!             let body = answers.pop().unwrap().as_bytes().to_vec();
//!             poller.handle_response(http::Response::new(body), now);
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

mod cancel;
mod config;
mod error;
pub mod models;
pub mod ops;
mod paginate;
mod poll;
mod poll_set;
pub mod upload;
mod wire;

/// The request type every operation builds.
pub type HttpRequest = http::Request<Vec<u8>>;
/// The response type every operation parses.
pub type HttpResponse = http::Response<Vec<u8>>;

pub use cancel::{CancelGuard, CancelToken, Cancelled};
pub use config::{
    ApiKey, Config, ConfigBuilder, DEFAULT_BASE_URL, DEFAULT_UPLOAD_BASE_URL, DEFAULT_USER_AGENT,
    ENV_API_KEY, ENV_BASE_URL, ENV_BASE_URL_FALLBACK, ENV_UPLOAD_BASE_URL,
    ENV_UPLOAD_BASE_URL_FALLBACK, normalize_base_url,
};
pub use error::{
    ApiError, BoxError, DecodeError, Error, InvalidInputError, IoError, Result, TaskErrorCode,
    TaskFailedError, TimeoutError, TransportError, TransportErrorKind, UploadError,
    UploadErrorCode,
};
pub use models::{
    CreateTaskRequest, CreateTaskResponse, Dashboard, DashboardCount, DashboardLimits,
    LatestTaskItem, LogEntry, PauseResponse, PauseState, PauseType, SharedTaskDetail, TaskDetail,
    TaskListItem, TaskLogs, TaskOutcome, TaskPage, TaskResult, TaskStatus, TaskSuccess, TaskType,
    UserTaskDetail, WatchEvent, Workload,
};
pub use ops::{
    CreateTask, GetDashboard, GetLatestTasks, GetTask, GetTaskLogs, GetTaskResult, ListTasks,
    ListTasksQuery, Operation, SetTasksPause, WorkloadIds,
};
pub use paginate::Paginator;
pub use poll::{
    AwaitOptions, BACKOFF_FACTOR, BackoffStrategy, DEFAULT_AWAIT_MANY_IN_FLIGHT, DEFAULT_INTERVAL,
    DEFAULT_MAX_INTERVAL, Jitter, PollAction, Poller, ProgressFn, backoff_delay,
};
pub use poll_set::{PollSetAction, PollerSet};
pub use upload::{
    GetUploadUrl, PartRetry, RetryDecision, UploadInit, UploadOptions, UploadPart, UploadPlan,
    UploadProgress, UploadTarget, UploadedFile, file_extension, part_retry_delay,
};
pub use wire::{api_error, encode_path_segment, retry_after};
