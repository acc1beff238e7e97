//! The Rust SDK for [OOMOL Cloud Task](https://oomol.com): run published OOMOL blocks as
//! serverless tasks, wait for their results, manage your queue and upload input files,
//! from async code, from blocking code, or from any HTTP stack.
//!
//! # Async (the default feature)
//!
//! ```
//! use std::time::Duration;
//! use oomol_cloud_task::{AwaitOptions, Client, CreateTaskRequest};
//! # use oomol_cloud_task::emulator::Emulator;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # let emulator = Emulator::builder().time_scale(0.01).start().await?;
//! # let (api_key, base_url) = (emulator.api_key(), emulator.base_url());
//! // `Client::from_env()` reads OOMOL_API_KEY (and OOMOL_BASE_URL when set); here the
//! // client talks to a local emulator.
//! let client = Client::builder().api_key(api_key).base_url(base_url).build()?;
//!
//! let outcome = client
//!     .create_and_wait(
//!         CreateTaskRequest::new("@oomol/echo", "1.0.0", "main").input("text", "hello"),
//!         AwaitOptions::new()
//!             .interval(Duration::from_secs(2))
//!             .timeout(Duration::from_secs(10 * 60))
//!             .on_progress(|progress, status| println!("{status}: {progress}%")),
//!     )
//!     .await?;
//! println!("task {} succeeded: {:?}", outcome.task_id, outcome.result.result_data);
//! # assert_eq!(outcome.result.result_data.unwrap()[0]["text"], "hello");
//! # Ok(()) }
//! ```
//!
//! # Blocking (feature `blocking`)
//!
//! No async runtime: for scripts and command-line tools.
//!
//! ```
//! use oomol_cloud_task::blocking::Client;
//! use oomol_cloud_task::{AwaitOptions, CreateTaskRequest};
//! use oomol_cloud_task::emulator::Emulator;
//!
//! // A local Cloud Task on loopback (feature `emulator`): no account needed.
//! let emulator = Emulator::builder().time_scale(0.01).start_blocking()?;
//! let client = Client::builder()
//!     .api_key(emulator.api_key())
//!     .base_url(emulator.base_url())
//!     .build()?;
//!
//! let outcome = client.create_and_wait(
//!     CreateTaskRequest::new("@oomol/echo", "1.0.0", "main").input("n", 42),
//!     AwaitOptions::new(),
//! )?;
//! assert_eq!(outcome.result.result_data.unwrap()[0]["n"], 42);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! **Do not call the blocking client from async code**: each call blocks its thread until
//! the server answers (and a wait until the task ends), which stalls an async executor.
//! In async programs use the async `Client`, or move blocking calls to `spawn_blocking`.
//!
//! # The live view: events, task handles, result files
//!
//! One stream tells the whole story of a task: its progress, each entry of its logs typed
//! ([`LogEvent`](models::LogEvent): a block's lines, outputs and end, parsed back from the strings the API
//! sends), and its result last. A task handle (`client.task(id)`) finds a task again by its ID;
//! a result file downloads to a path (resumable) or a writer, in bounded memory.
//!
//! ```
//! use futures_util::StreamExt;
//! use oomol_cloud_task::models::LogEvent;
//! use oomol_cloud_task::{AwaitOptions, CreateTaskRequest, DownloadOptions, TaskEvent};
//! # use oomol_cloud_task::emulator::{Emulator, EmulatorClients};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # let emulator = Emulator::builder().time_scale(0.01).start().await?;
//! # let client = emulator.client()?;
//! # let dir = tempfile::tempdir()?;
//! # let path = dir.path().join("result.txt");
//! let task = client
//!     .submit(CreateTaskRequest::new("@oomol/file", "1.0.0", "main").input("text", "hi"))
//!     .await?;
//! let mut events = task.events(AwaitOptions::new());
//! while let Some(event) = events.next().await {
//!     match event? {
//!         TaskEvent::Progress { status, progress } => println!("{status} {progress}%"),
//!         TaskEvent::Log { event: LogEvent::BlockLog { log, .. }, .. } => println!("| {log}"),
//!         TaskEvent::Finished(result) => println!("done: {:?}", result.result_data),
//!         _ => {}
//!     }
//! }
//! let file = task.download_result(&path, DownloadOptions::new()).await?;
//! # assert_eq!(file.size, 2);
//! # assert_eq!(std::fs::read_to_string(&path)?, "hi");
//! # Ok(()) }
//! ```
//!
//! # Core only (no feature): your own HTTP stack
//!
//! The sans-IO core ([`sans_io`]) builds `http::Request`s and reads `http::Response`s;
//! send them with anything (hyper, a WASM fetch, a proxy). See `examples/custom_stack.rs` for a complete
//! client on `std::net::TcpStream`.
//!
//! ```
//! use oomol_cloud_task::sans_io::{CreateTask, Operation};
//! use oomol_cloud_task::{Config, CreateTaskRequest, http};
//!
//! let config = Config::builder().api_key("my-api-key").build()?;
//! let op = CreateTask::new(CreateTaskRequest::new("@oomol/echo", "1.0.0", "main"));
//! let request = op.request(&config)?; // validated: bad input never leaves the process
//! assert_eq!(request.uri(), "https://cloud-task.oomol.com/v3/users/me/tasks");
//!
//! let response = http::Response::new(br#"{"taskID":"t-1"}"#.to_vec()); // from your stack
//! assert_eq!(op.parse(response)?.task_id, "t-1");
//! # Ok::<(), oomol_cloud_task::Error>(())
//! ```
//!
//! # Errors
//!
//! Every call returns [`Error`], whose variants name the phase that failed: invalid input
//! (nothing was sent), transport, API (status, message, body), decode (with the raw body),
//! task failed (with the quota classification), timeout (with the last polling error),
//! upload (with the official codes), I/O, cancelled, a limit reached, a refused redirect,
//! a broken protocol, a success without a result file.
//!
//! # Features
//!
//! | feature | default | what it adds |
//! |---|---|---|
//! | `async` | yes | the tokio + reqwest client at the root: `Client`, and its HTTP seam in `transport` |
//! | `blocking` | no | the `blocking` module: the ureq client, no async runtime, with the same names |
//! | `emulator` | no | the `emulator` module: a local Cloud Task server for your tests |
//! | `rustls` | yes | TLS through rustls |
//! | `native-tls` | no | TLS through the platform's library |
//! | `input-checks` | no | input values checked against their block's JSON Schemas (`jsonschema`) by `create_task_checked`, `create_and_wait_checked`, `check_inputs` and `dry_run`; without it they still refuse unknown and missing inputs |
//!
//! The layout is reqwest's: the async client at the root, the blocking one in `blocking`.
//! Features are additive; every combination builds. Whatever the features, the root holds
//! the request and option types, the [`Error`], and what the calls answer; [`models`] the
//! API's response models; [`error`] the details of each error; [`sans_io`] the sans-IO
//! core for your own HTTP stack.
//!
//! In this build:
#![cfg_attr(
    feature = "async",
    doc = "\n- the async client: [`Client`], [`ClientBuilder`], [`TaskHandle`], and its seam in [`transport`];"
)]
#![cfg_attr(
    feature = "blocking",
    doc = "\n- the blocking client: [`blocking::Client`], [`blocking::TaskHandle`];"
)]
#![cfg_attr(
    feature = "emulator",
    doc = "\n- the emulator: [`emulator::Emulator`];"
)]
#![doc = "\n- the sans-IO core: [`sans_io::Operation`], [`sans_io::machine::Machine`], [`sans_io::Poller`], [`sans_io::Follower`], [`sans_io::Download`], [`sans_io::Upload`]."]
#![forbid(unsafe_code)]
#![deny(missing_docs)]
#![cfg_attr(docsrs, feature(doc_cfg))]
// Examples in the docs (and in the README, below) compile without a warning.
#![doc(test(attr(deny(warnings))))]

/// Every Rust block of the README, compiled (and run, unless marked `no_run`) as a doc
/// test, so that what a new user copies works as written.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;

// The root: the client, its builder, the request and option types, the error, and what
// the client's calls answer. (Plain comments here: a doc comment on a `pub use` would be
// prepended to the page of every item it re-exports.)
#[cfg(feature = "async")]
#[cfg_attr(docsrs, doc(cfg(feature = "async")))]
pub use cloud_task_async::{
    BatchRun, Client, ClientBuilder, TaskEvents, TaskHandle, TaskList, TypedTask, Watch,
};
pub use cloud_task_core::http;
pub use cloud_task_core::{
    ApiKey, AwaitOptions, BackoffStrategy, BatchCounts, BatchEvent, BatchItem, BatchOptions,
    BatchOutcome, CallOptions, CancelToken, Config, ConfigBuilder, CreateTaskRequest, DeviceCode,
    DownloadOptions, Downloaded, DryRun, Error, Jitter, ListTasksQuery, LoginAccount, LoginOptions,
    Result, TaskEvent, TaskOutcome, UploadOptions, UploadedFile, UserProfile, WatchEvent,
    WorkloadIds,
};

/// Interceptors: hooks on every request a client sends (any call, wait, upload, download,
/// batch, live view or sign-in) and on its answer; add them with the builders'
/// `interceptor`. Two are shipped: [`HeaderInterceptor`](intercept::HeaderInterceptor)
/// and [`Metrics`](intercept::Metrics).
pub mod intercept {
    pub use cloud_task_core::intercept::{
        HeaderInterceptor, Interceptor, Interceptors, Metrics, OperationMetrics, RequestContext,
    };
}

/// Typed blocks: the [`Block`](typed::Block) trait the inputs structs of
/// `cloud-task codegen` implement, and their outputs decoded
/// ([`decode_outputs`](typed::decode_outputs)): a list's single object or the object
/// itself. The clients' `run`, `create` and `run_many_blocks` take them.
pub mod typed {
    pub use cloud_task_core::typed::{Block, TypedOutcome, decode_outputs};
}

/// The response models of the API: tasks, results, statuses, logs and their typed events,
/// the dashboard, package descriptions.
pub mod models {
    pub use cloud_task_core::models::*;
}

/// The error type and the details of each of its variants.
///
/// Every call returns [`Error`], whose variants name the phase that failed; the detail of
/// each variant is a type of its own, here.
pub mod error {
    pub use cloud_task_core::{
        ApiError, BoxError, CancelledError, DecodeError, Error, InputProblem, InvalidInputError,
        InvalidInputsError, IoError, Limit, LimitError, MAX_ERROR_BODY, MAX_INPUT_PROBLEMS,
        MisuseError, NoResultFileError, OutputsError, ProblemKind, ProtocolError, RedirectError,
        Result, TaskErrorCode, TaskFailedError, TimeoutError, TransportError, TransportErrorKind,
        UploadError, UploadErrorCode,
    };
}

/// The HTTP seam of the async client: plug your own stack ([`HttpTransport`](transport::HttpTransport))
/// or clock ([`Timer`](transport::Timer)) into [`ClientBuilder`] (feature `async`).
#[cfg(feature = "async")]
#[cfg_attr(docsrs, doc(cfg(feature = "async")))]
pub mod transport {
    pub use cloud_task_async::{
        BodyStream, DEFAULT_CONNECT_TIMEOUT, DEFAULT_TIMEOUT, HttpTransport, ReqwestTransport,
        ResponseHead, Timer, TokioTimer, TowerTransport, async_trait,
    };
    pub use cloud_task_core::{HttpRequest, HttpResponse, SendLimits};
}

/// The sans-IO core, for people embedding the protocol in their own HTTP stack (hyper, a
/// WASM fetch, a proxy): the operations, the machines behind every wait, walk, upload,
/// download and batch, the one [`Machine`](sans_io::machine::Machine) trait they share,
/// the HTTP seam, the retry policy, and the defaults and limits.
///
/// See `examples/custom_stack.rs` for a complete client on `std::net::TcpStream`.
pub mod sans_io {
    pub use cloud_task_core::{machine, ops, retry, seam, timestamp, upload};
    // The seam.
    pub use cloud_task_core::{
        DeadlineElapsed, HttpRequest, HttpResponse, RequestId, SendLimits, Transmit,
    };
    // The operations.
    pub use cloud_task_core::{
        CreateTask, GetDashboard, GetLatestTasks, GetPackageInfo, GetProfile, GetTask, GetTaskLogs,
        GetTaskResult, ListTasks, Operation, SetTasksPause,
    };
    // The machines and their actions.
    pub use cloud_task_core::{
        Batch, BatchAction, Call, CallAction, DeviceLogin, Download, DownloadAction, FollowAction,
        Follower, JournalRecord, JournalReplay, LoginAction, PageAction, Paginator, PollAction,
        PollSetAction, Poller, PollerSet, Resume, Upload, UploadAction, input_identity,
        login_state,
    };
    // Callbacks, defaults and limits.
    pub use cloud_task_core::{
        BACKOFF_FACTOR, DEFAULT_API_URL, DEFAULT_AWAIT_MANY_IN_FLIGHT, DEFAULT_BASE_URL,
        DEFAULT_CHUNK_SIZE, DEFAULT_CONNECT_TIMEOUT, DEFAULT_CREATES_IN_FLIGHT,
        DEFAULT_DOWNLOAD_RETRIES, DEFAULT_ENDPOINT, DEFAULT_INTERVAL, DEFAULT_LOGIN_INTERVAL,
        DEFAULT_MAX_INTERVAL, DEFAULT_MAX_PAGES, DEFAULT_MAX_REDIRECTS, DEFAULT_MAX_REFUSALS,
        DEFAULT_MAX_RESPONSE_BODY, DEFAULT_MAX_UPLOAD_BUFFER, DEFAULT_REGISTRY_URL,
        DEFAULT_TIMEOUT, DEFAULT_TOOL_MAX_DOWNLOAD_SIZE, DEFAULT_UPLOAD_BASE_URL,
        DEFAULT_USER_AGENT, DownloadProgressFn, ENV_API_KEY, ENV_BASE_URL, ENV_BASE_URL_FALLBACK,
        ENV_ENDPOINT, ENV_REGISTRY_URL, ENV_REGISTRY_URL_FALLBACK, ENV_UPLOAD_BASE_URL,
        ENV_UPLOAD_BASE_URL_FALLBACK, EndpointUrls, FINAL_POLL_WINDOW, LOG_PAGE_SIZE, MAX_HOLD,
        MAX_LOGIN_POLL_FAILURES, MAX_LOGIN_WAIT, MIN_INTERVAL, ProgressFn, RetryFn, TaskProgressFn,
        endpoint_urls,
    };
}

/// The blocking client: ureq, no async runtime (feature `blocking`). The same names as the
/// async client at the crate root: [`Client`](blocking::Client),
/// [`ClientBuilder`](blocking::ClientBuilder), [`TaskHandle`](blocking::TaskHandle),
/// [`Watch`](blocking::Watch), [`TaskEvents`](blocking::TaskEvents),
/// [`TaskList`](blocking::TaskList) and [`BatchRun`](blocking::BatchRun) (iterators
/// where the async client has streams), and its own [`transport`](blocking::transport).
///
/// Do not call it from async code: each call blocks its thread.
#[cfg(feature = "blocking")]
#[cfg_attr(docsrs, doc(cfg(feature = "blocking")))]
pub mod blocking {
    pub use cloud_task_blocking::{
        BatchRun, Client, ClientBuilder, TaskEvents, TaskHandle, TaskList, TypedTask, Watch,
    };

    /// The HTTP seam of the blocking client: plug your own stack or clock into
    /// [`ClientBuilder`].
    pub mod transport {
        pub use cloud_task_blocking::{
            BodyRead, BodyReader, DEFAULT_CONNECT_TIMEOUT, DEFAULT_TIMEOUT, HttpTransport,
            ResponseHead, StdTimer, Timer, UreqTransport,
        };
        pub use cloud_task_core::{HttpRequest, HttpResponse, SendLimits};
    }
}

/// A local Cloud Task server on loopback, to test your code without an account (feature
/// `emulator`). See [`Emulator`](emulator::Emulator).
///
/// A test of your own code against it is three lines: start it, take a client of it
/// ([`EmulatorClients`](emulator::EmulatorClients): its URLs, its key, and waits scaled
/// to its time scale), run your code.
///
/// ```
/// use oomol_cloud_task::emulator::{Emulator, EmulatorClients};
/// use oomol_cloud_task::{AwaitOptions, CreateTaskRequest};
///
/// let emulator = Emulator::builder().time_scale(0.01).start_blocking()?;
/// let client = emulator.blocking_client()?; // polls every 30 ms: 3 s × 0.01
/// let outcome = client.create_and_wait(
///     CreateTaskRequest::new("@oomol/echo", "1.0.0", "main").input("n", 1),
///     AwaitOptions::new(),
/// )?;
/// assert_eq!(outcome.result.result_data.unwrap()[0]["n"], 1);
/// # Ok::<(), oomol_cloud_task::Error>(())
/// ```
#[cfg(feature = "emulator")]
#[cfg_attr(docsrs, doc(cfg(feature = "emulator")))]
pub mod emulator {
    pub use cloud_task_emulator::*;

    /// Clients pointed at a running emulator: its base URLs and API key, and its
    /// [`await_options`](EmulatorHandle::await_options) as their default waits (the
    /// official 3 s interval scaled by the time scale), so that they see a task end about
    /// as soon as the emulator ends it. On an emulator with a [`ManualClock`], the clients
    /// run in virtual time: their [`VirtualTimer`] moves the emulator's clock on instead of
    /// sleeping. Implemented by both handles ([`EmulatorHandle`] and [`BlockingEmulator`]).
    pub trait EmulatorClients {
        /// The emulator's client configuration (see [`EmulatorHandle::config`]).
        fn client_config(&self) -> cloud_task_core::ConfigBuilder;

        /// The manual clock the emulator runs on, if any.
        fn clock(&self) -> Option<ManualClock>;

        /// An async client of this emulator (features `async` and `emulator`).
        #[cfg(feature = "async")]
        #[cfg_attr(docsrs, doc(cfg(feature = "async")))]
        fn client(&self) -> crate::Result<crate::Client> {
            let mut builder = crate::Client::builder().config(self.client_config());
            if let Some(clock) = self.clock() {
                builder = builder.timer(VirtualTimer::new(clock));
            }
            builder.build()
        }

        /// A blocking client of this emulator (features `blocking` and `emulator`).
        #[cfg(feature = "blocking")]
        #[cfg_attr(docsrs, doc(cfg(feature = "blocking")))]
        fn blocking_client(&self) -> crate::Result<crate::blocking::Client> {
            let mut builder = crate::blocking::Client::builder().config(self.client_config());
            if let Some(clock) = self.clock() {
                builder = builder.timer(VirtualTimer::new(clock));
            }
            builder.build()
        }
    }

    impl EmulatorClients for EmulatorHandle {
        fn client_config(&self) -> cloud_task_core::ConfigBuilder {
            self.config()
        }

        fn clock(&self) -> Option<ManualClock> {
            self.manual_clock()
        }
    }

    impl EmulatorClients for BlockingEmulator {
        fn client_config(&self) -> cloud_task_core::ConfigBuilder {
            self.config()
        }

        fn clock(&self) -> Option<ManualClock> {
            self.manual_clock()
        }
    }

    /// The clock and sleeper of a client in virtual time, on an emulator's
    /// [`ManualClock`]: its `now` is the clock's time, and a sleep moves the clock on by
    /// its length and returns at once. So a wait of ten minutes for a ten-minute task
    /// takes a few milliseconds, and the polls it makes are exactly those of the real
    /// schedule. Every sleep of every client sharing the clock moves it on.
    ///
    /// ```
    /// use std::time::Duration;
    /// use oomol_cloud_task::emulator::{Emulator, EmulatorClients, ManualClock};
    /// use oomol_cloud_task::{AwaitOptions, CreateTaskRequest};
    ///
    /// let clock = ManualClock::new();
    /// let emulator = Emulator::builder().manual_clock(clock.clone()).start_blocking()?;
    /// let client = emulator.blocking_client()?; // on a VirtualTimer
    /// // A block that runs for an hour, waited for with the official 3 s polls.
    /// let request = CreateTaskRequest::new("@oomol/slow", "1.0.0", "main").input("durationMs", 3_600_000);
    /// client.create_and_wait(request, AwaitOptions::new().interval(Duration::from_secs(3)))?;
    /// assert!(clock.elapsed() >= Duration::from_secs(3600));
    /// # Ok::<(), oomol_cloud_task::Error>(())
    /// ```
    #[derive(Clone, Debug)]
    pub struct VirtualTimer {
        clock: ManualClock,
        origin: std::time::Instant,
    }

    impl VirtualTimer {
        /// A timer on `clock`.
        pub fn new(clock: ManualClock) -> Self {
            VirtualTimer {
                origin: std::time::Instant::now(),
                clock,
            }
        }

        /// The instant it reads: when it was made, plus the time the clock has moved since.
        pub fn now(&self) -> std::time::Instant {
            self.origin + self.clock.elapsed()
        }

        /// The clock it runs on.
        pub fn clock(&self) -> &ManualClock {
            &self.clock
        }
    }

    #[cfg(feature = "async")]
    #[crate::transport::async_trait]
    impl crate::transport::Timer for VirtualTimer {
        fn now(&self) -> std::time::Instant {
            VirtualTimer::now(self)
        }

        async fn sleep(&self, duration: std::time::Duration) {
            self.clock.advance(duration);
            // Let the other tasks of the runtime see the new time.
            YieldOnce(false).await;
        }
    }

    /// A future that is pending once (waking itself), then ready: a yield to the runtime.
    #[cfg(feature = "async")]
    struct YieldOnce(bool);

    #[cfg(feature = "async")]
    impl std::future::Future for YieldOnce {
        type Output = ();

        fn poll(
            mut self: std::pin::Pin<&mut Self>,
            cx: &mut std::task::Context<'_>,
        ) -> std::task::Poll<()> {
            if self.0 {
                return std::task::Poll::Ready(());
            }
            self.0 = true;
            cx.waker().wake_by_ref();
            std::task::Poll::Pending
        }
    }

    #[cfg(feature = "blocking")]
    impl crate::blocking::transport::Timer for VirtualTimer {
        fn now(&self) -> std::time::Instant {
            VirtualTimer::now(self)
        }

        fn sleep(
            &self,
            duration: std::time::Duration,
            cancel: Option<&cloud_task_core::CancelToken>,
        ) -> crate::Result<()> {
            if cancel.is_some_and(cloud_task_core::CancelToken::is_cancelled) {
                return Err(crate::Error::cancelled());
            }
            self.clock.advance(duration);
            Ok(())
        }
    }
}
