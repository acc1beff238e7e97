//! The blocking client of the OOMOL Cloud Task SDK for Rust: ureq, no async runtime,
//! driving the sans-IO [`cloud-task-core`](cloud_task_core).
//!
//! For scripts, command-line tools and programs without an async runtime. Every method
//! builds its request with the core, sends it through an [`HttpTransport`] (ureq by
//! default) and parses the answer with the core; waiting, paging and uploading only do
//! what the core's state machines say. So the wire format, validation, backoff, timeouts,
//! retries and error classification are exactly the core's (and the async client's).
//!
//! ```no_run
//! use oomol_cloud_task::{AwaitOptions, CreateTaskRequest, UploadOptions, blocking::Client};
//! use std::time::Duration;
//!
//! let client = Client::from_env()?; // OOMOL_API_KEY
//!
//! // Upload an input file, run a block on it and wait for the result.
//! let file = client.upload_file("input.pdf", UploadOptions::new())?;
//! let outcome = client.create_and_wait(
//!     CreateTaskRequest::new("@oomol/pdf-tools", "1.0.0", "extract").input("file", file.url),
//!     AwaitOptions::new()
//!         .timeout(Duration::from_secs(600))
//!         .on_progress(|progress, status| println!("{status}: {progress}%")),
//! )?;
//! println!("task {} gave {:?}", outcome.task_id, outcome.result.result_data);
//! # Ok::<(), oomol_cloud_task::Error>(())
//! ```
//!
//! The same client runs on any HTTP stack, here a canned one (this example runs as is):
//!
//! ```
//! use oomol_cloud_task::blocking::transport::{HttpRequest, HttpResponse};
//! use oomol_cloud_task::{CreateTaskRequest, Result, blocking::Client, blocking::transport::{HttpTransport, SendLimits}};
//!
//! struct Canned;
//!
//! impl HttpTransport for Canned {
//!     fn send(&self, request: HttpRequest, _limits: SendLimits) -> Result<HttpResponse> {
//!         assert_eq!(request.uri(), "https://cloud-task.oomol.com/v3/users/me/tasks");
//!         Ok(HttpResponse::new(br#"{"taskID":"t-1"}"#.to_vec()))
//!     }
//! }
//!
//! let client = Client::builder().api_key("my-api-key").transport(Canned).build()?;
//! let created = client.create_task(CreateTaskRequest::new("@oomol/echo", "1.0.0", "main"))?;
//! assert_eq!(created.task_id, "t-1");
//! # Ok::<(), oomol_cloud_task::Error>(())
//! ```
//!
//! # What is here
//!
//! - [`Client`] (cheap to clone, `Send + Sync`, one connection pool) and its
//!   [`ClientBuilder`]: API key or cookie header, base URLs, default headers, user agent,
//!   per-request (30 s) and connect (10 s) timeouts, the limits of the core's [`Config`],
//!   or your own [`HttpTransport`] and [`Timer`].
//! - One method per API operation with the official names (`create_task`, `list_tasks`,
//!   `get_latest_tasks`, `get_task`, `get_task_detail`, `get_task_result`,
//!   `get_dashboard`, `set_tasks_pause`, `pause_user_queue`, `resume_user_queue`,
//!   `get_task_logs`), and [`Client::execute`] for any core [`Operation`].
//! - Waiting: [`Client::await_result`], [`Client::create_and_wait`] (typed data
//!   with [`TaskSuccess::data_as`]), [`Client::watch`] (an iterator of progress changes) and
//!   [`Client::await_many`] (thousands of tasks interleaved on one thread, a bounded pool
//!   of threads sending the polls).
//! - [`Client::list_all`]: an iterator over every task across pages.
//! - Checks before a run: [`Client::get_package_info`], [`Client::check_inputs`],
//!   [`Client::create_task_checked`], [`Client::create_and_wait_checked`],
//!   [`Client::dry_run`].
//! - The live view: [`Client::events`] (a task's progress, each log entry typed, and its
//!   result, as one iterator), [`Client::task`] and [`Client::submit`] ([`TaskHandle`]),
//!   [`Client::download`] (resumable) and [`Client::download_to_writer`].
//! - Uploads: [`Client::upload_file`], [`Client::upload_bytes`], [`Client::upload_reader`]
//!   (any `Read + Seek`), with parts in parallel on the client's sender threads, per-part
//!   retries and progress, all decided by the core's `Upload` machine.
//! - Cancellation: a [`CancelToken`] in the [`AwaitOptions`] or [`UploadOptions`],
//!   cancelled from any thread, ends a wait or an upload at once with
//!   [`Error::Cancelled`] (carrying the task ID of a wait), without sleeping out the
//!   current interval or waiting for a request in flight.
//! - Bounds no server can move, all decided by the core's machines: every request ends by
//!   its deadline (the sooner of the per-request timeout and the wait's), whatever
//!   transport sends it (one that does not bound itself runs on a sender thread and is
//!   abandoned at the deadline); bodies are read up to the configured limit; redirects are
//!   followed only within the configured origin (one to another origin ends the call with
//!   [`Error::Redirect`]); `list_all` stops on a page token seen before and after
//!   `max_pages` pages. See the core's crate docs for the table of limits.
//! - A task creation is never retried; polls and part uploads are, as the core decides.
//! - `tracing` spans ready for OpenTelemetry, target `oomol_cloud_task`: one per public
//!   operation (INFO) and one per HTTP request inside it (DEBUG), with the semantic
//!   conventions' HTTP client fields, the attempt and the task (see
//!   [`cloud_task_core::trace`]); never the key, never a presigned URL's signature.
//!
//! # Features
//!
//! | feature | default | what |
//! |---|---|---|
//! | `rustls` | yes | TLS through rustls, with the Mozilla root certificates |
//! | `native-tls` | no | TLS through the platform's native library (chosen when enabled) |
//!
//! With neither, the client speaks plain `http://` only (enough for the local emulator).
//! Proxies are taken from the environment (`ALL_PROXY`, `HTTPS_PROXY`, `HTTP_PROXY`,
//! `NO_PROXY`) as ureq does.
//!
//! # Do not call this client from async code
//!
//! Every method blocks the calling thread until the server answers (and `await_result`
//! until the task ends). Called inside an async task, it stalls the executor's thread and
//! every other task scheduled on it. In async programs use the `cloud-task-async` client,
//! or move the call to a blocking thread (for tokio, `spawn_blocking`). This crate itself
//! needs no runtime and starts none.
#![forbid(unsafe_code)]
#![deny(missing_docs)]
#![cfg_attr(docsrs, feature(doc_cfg))]

/// The Rust blocks of this crate's README, compiled as doc tests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;

mod account;
mod batch;
mod client;
mod download;
mod engine;
mod flights;
mod follow;
mod handle;
mod list;
mod packages;
mod poll;
mod resolve;
mod senders;
mod timer;
mod transport;
mod typed;
mod upload;

pub use batch::BatchRun;
pub use client::{Client, ClientBuilder, TaskHandle, TypedTask};
pub use follow::TaskEvents;
pub use list::TaskList;
pub use poll::Watch;

/// The former name of [`Watch`].
#[deprecated(since = "0.2.0", note = "renamed `Watch`, as in the async client")]
pub type WatchIter = Watch;
/// The former name of [`TaskList`].
#[deprecated(since = "0.2.0", note = "renamed `TaskList`, as in the async client")]
pub type TaskListIter = TaskList;
/// The former name of [`BatchRun`].
#[deprecated(since = "0.2.0", note = "renamed `BatchRun`, as in the async client")]
pub type BatchIter = BatchRun;
pub use timer::{StdTimer, Timer};
pub use transport::{
    BodyRead, BodyReader, DEFAULT_CONNECT_TIMEOUT, DEFAULT_TIMEOUT, HttpTransport, ResponseHead,
    UreqTransport,
};

// Every wire model (a new one needs no edit here), then the types of the client's own API.
pub use cloud_task_core::models::*;
pub use cloud_task_core::{
    self as core, ApiKey, AwaitOptions, BackoffStrategy, BatchCounts, BatchEvent, BatchItem,
    BatchOptions, BatchOutcome, CallOptions, CancelToken, Config, ConfigBuilder, CreateTaskRequest,
    DEFAULT_AWAIT_MANY_IN_FLIGHT, DeviceCode, DownloadOptions, Downloaded, DryRun, Error, Jitter,
    ListTasksQuery, LoginAccount, LoginOptions, Operation, Result, SendLimits, TaskErrorCode,
    TaskEvent, TaskOutcome, TransportErrorKind, UploadErrorCode, UploadOptions, UploadedFile,
    UserProfile, WatchEvent, WorkloadIds,
};
