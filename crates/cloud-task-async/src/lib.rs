//! The async client of the OOMOL Cloud Task SDK for Rust: tokio + reqwest, driving the
//! sans-IO [`cloud-task-core`](cloud_task_core).
//!
//! Every method builds its request with the core, sends it through an [`HttpTransport`]
//! (reqwest by default) and parses the answer with the core; waiting, paging and uploading
//! only do what the core's state machines say. So the wire format, validation, backoff,
//! timeouts, retries and error classification are exactly the core's (and the blocking
//! client's).
//!
//! ```no_run
//! use oomol_cloud_task::{AwaitOptions, Client, CreateTaskRequest, UploadOptions};
//! use std::time::Duration;
//!
//! # async fn run() -> oomol_cloud_task::Result<()> {
//! let client = Client::from_env()?; // OOMOL_API_KEY
//!
//! // Upload an input file, run a block on it and wait for the result.
//! let file = client.upload_file("input.pdf", UploadOptions::new()).await?;
//! let outcome = client
//!     .create_and_wait(
//!         CreateTaskRequest::new("@oomol/pdf-tools", "1.0.0", "extract").input("file", file.url),
//!         AwaitOptions::new()
//!             .timeout(Duration::from_secs(600))
//!             .on_progress(|progress, status| println!("{status}: {progress}%")),
//!     )
//!     .await?;
//! println!("task {} gave {:?}", outcome.task_id, outcome.result.result_data);
//! # Ok(()) }
//! ```
//!
//! The same client runs on any HTTP stack, here a canned one (this example runs as is):
//!
//! ```
//! use oomol_cloud_task::transport::async_trait; // re-exported: no dependency of your own needed
//! use oomol_cloud_task::transport::{HttpRequest, HttpResponse};
//! use oomol_cloud_task::{Client, CreateTaskRequest, Result, transport::{HttpTransport, SendLimits}};
//!
//! struct Canned;
//!
//! #[async_trait]
//! impl HttpTransport for Canned {
//!     async fn send(&self, request: HttpRequest, _limits: SendLimits) -> Result<HttpResponse> {
//!         assert_eq!(request.uri(), "https://cloud-task.oomol.com/v3/users/me/tasks");
//!         Ok(HttpResponse::new(br#"{"taskID":"t-1"}"#.to_vec()))
//!     }
//! }
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<()> {
//! let client = Client::builder().api_key("my-api-key").transport(Canned).build()?;
//! let created = client
//!     .create_task(CreateTaskRequest::new("@oomol/echo", "1.0.0", "main"))
//!     .await?;
//! assert_eq!(created.task_id, "t-1");
//! # Ok(()) }
//! ```
//!
//! # What is here
//!
//! - [`Client`] (cheap to clone, one connection pool) and its [`ClientBuilder`]: API key or
//!   cookie header, base URLs, default headers, user agent, per-request (30 s) and connect
//!   timeouts, the limits of the core's [`Config`], or your own [`HttpTransport`] and
//!   [`Timer`].
//! - One method per API operation with the official names (`create_task`, `list_tasks`,
//!   `get_latest_tasks`, `get_task`, `get_task_detail`, `get_task_result`,
//!   `get_dashboard`, `set_tasks_pause`, `pause_user_queue`, `resume_user_queue`,
//!   `get_task_logs`), and [`Client::execute`] for any core [`Operation`].
//! - Waiting: [`Client::await_result`], [`Client::create_and_wait`] (typed data
//!   with [`TaskSuccess::data_as`]), [`Client::watch`] (a stream of progress changes) and
//!   [`Client::await_many`] (thousands of tasks, a bounded number of polls in flight).
//! - [`Client::list_all`]: a stream of every task across pages.
//! - Checks before a run: [`Client::get_package_info`], [`Client::check_inputs`],
//!   [`Client::create_task_checked`], [`Client::create_and_wait_checked`],
//!   [`Client::dry_run`].
//! - The live view: [`Client::events`] (a task's progress, each log entry typed, and its
//!   result, as one stream), [`Client::task`] and [`Client::submit`] ([`TaskHandle`]),
//!   [`Client::download`] (resumable) and [`Client::download_to_writer`].
//! - Uploads: [`Client::upload_file`], [`Client::upload_bytes`], [`Client::upload_reader`],
//!   with parts in parallel, per-part retries and progress.
//! - Cancellation: dropping a future stops its work; a [`CancelToken`] in the
//!   [`AwaitOptions`] or [`UploadOptions`] ends a wait or an upload at once with
//!   [`Error::Cancelled`] (carrying the task ID of a wait), even in the middle of a sleep
//!   or a request.
//! - Bounds no server can move, all decided by the core's machines: every request is cut
//!   off at its deadline (the sooner of the per-request timeout and the wait's), whatever
//!   transport sends it; bodies are read up to the configured limit; redirects are followed
//!   only within the configured origin (one to another origin ends the call with
//!   [`Error::Redirect`], so no credential or default header travels there); `list_all`
//!   stops on a page token seen before and after `max_pages` pages. See the core's crate
//!   docs for the table of limits and their defaults.
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
//! | `rustls` | yes | TLS through rustls with the platform's certificate verifier |
//! | `native-tls` | no | TLS through the platform's native library |
//!
//! Proxies are taken from the environment (`HTTP_PROXY`, `HTTPS_PROXY`, `NO_PROXY`) as
//! reqwest does.
//!
//! This client needs a tokio runtime (with the time driver) for its default transport and
//! timer. Do not call blocking code from async tasks: use the `cloud-task-blocking` client
//! in programs without a runtime.
#![forbid(unsafe_code)]
#![deny(missing_docs)]
#![cfg_attr(docsrs, feature(doc_cfg))]

/// The Rust blocks of this crate's README, compiled as doc tests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;

/// Defines an `Unpin` boxed stream type: with a private constructor, or with a side value
/// (`with field: Type, shown by getter`) that its `Debug` shows through `getter`.
macro_rules! boxed_stream {
    ($(#[$doc:meta])* $name:ident => $item:ty) => {
        boxed_stream!(@type $(#[$doc])* $name => $item {});

        impl $name {
            fn new(
                stream: impl futures_core::Stream<Item = cloud_task_core::Result<$item>>
                    + Send
                    + 'static,
            ) -> Self {
                $name { inner: Box::pin(stream) }
            }
        }

        impl std::fmt::Debug for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(stringify!($name))
            }
        }
    };
    ($(#[$doc:meta])* $name:ident => $item:ty, with $field:ident: $fty:ty, shown by $getter:ident) => {
        boxed_stream!(@type $(#[$doc])* $name => $item { $field: $fty, });

        impl std::fmt::Debug for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.debug_struct(stringify!($name))
                    .field(stringify!($getter), &self.$getter())
                    .finish()
            }
        }
    };
    (@type $(#[$doc:meta])* $name:ident => $item:ty { $($field:ident: $fty:ty,)? }) => {
        $(#[$doc])*
        pub struct $name {
            inner: std::pin::Pin<
                Box<dyn futures_core::Stream<Item = cloud_task_core::Result<$item>> + Send>,
            >,
            $($field: $fty,)?
        }

        impl futures_core::Stream for $name {
            type Item = cloud_task_core::Result<$item>;

            fn poll_next(
                mut self: std::pin::Pin<&mut Self>,
                cx: &mut std::task::Context<'_>,
            ) -> std::task::Poll<Option<Self::Item>> {
                self.inner.as_mut().poll_next(cx)
            }
        }
    };
}

mod account;
mod batch;
mod client;
mod download;
mod engine;
mod follow;
mod handle;
mod list;
mod packages;
mod poll;
mod timer;
mod tower;
mod transport;
mod typed;
mod upload;

pub use batch::BatchRun;
pub use client::{Client, ClientBuilder, TaskHandle, TypedTask};
pub use follow::TaskEvents;
pub use list::TaskList;
pub use poll::Watch;
pub use timer::{Timer, TokioTimer};
pub use tower::TowerTransport;
pub use transport::{
    BodyStream, DEFAULT_CONNECT_TIMEOUT, DEFAULT_TIMEOUT, HttpTransport, ReqwestTransport,
    ResponseHead,
};

/// The former name of [`Watch`].
#[deprecated(since = "0.2.0", note = "renamed `Watch`, as in the blocking client")]
pub type WatchStream = Watch;
/// The former name of [`TaskEvents`].
#[deprecated(
    since = "0.2.0",
    note = "renamed `TaskEvents`, as in the blocking client"
)]
pub type TaskEventStream = TaskEvents;
/// The former name of [`TaskList`].
#[deprecated(
    since = "0.2.0",
    note = "renamed `TaskList`, as in the blocking client"
)]
pub type TaskListStream = TaskList;
/// The former name of [`BatchRun`].
#[deprecated(
    since = "0.2.0",
    note = "renamed `BatchRun`, as in the blocking client"
)]
pub type BatchStream = BatchRun;

/// The attribute that implements [`HttpTransport`] and [`Timer`] (async trait methods),
/// re-exported so that your own transport or timer needs no dependency of its own.
pub use async_trait::async_trait;

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
