//! [`Client`] and [`ClientBuilder`]: configuration and the one generic `execute` path.

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};

use cloud_task_core::{
    ApiKey, Config, ConfigBuilder, CreateTask, CreateTaskRequest, CreateTaskResponse, Dashboard,
    Error, GetDashboard, GetLatestTasks, GetTask, GetTaskLogs, GetTaskResult, HttpRequest,
    HttpResponse, LatestTaskItem, ListTasks, ListTasksQuery, Operation, PauseResponse, Result,
    SetTasksPause, TaskDetail, TaskLogs, TaskPage, TaskResult, WorkloadIds,
};
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::timer::{StdTimer, Timer};
use crate::transport::{DEFAULT_CONNECT_TIMEOUT, DEFAULT_TIMEOUT, HttpTransport, UreqTransport};

/// The blocking Cloud Task client.
///
/// Cheap to clone and `Send + Sync`: clones share one configuration, one transport (one
/// connection pool) and one timer, and can be used from many threads at once. Every method
/// builds its request with `cloud-task-core`, sends it through the [`HttpTransport`], and
/// parses the answer with the core.
///
/// ```no_run
/// use cloud_task_blocking::{AwaitOptions, Client, CreateTaskRequest};
///
/// let client = Client::new("my-api-key")?;
/// let outcome = client.create_and_wait(
///     CreateTaskRequest::new("@oomol/my-package", "1.0.0", "main").input("text", "hi"),
///     AwaitOptions::new(),
/// )?;
/// println!("{} -> {:?}", outcome.task_id, outcome.result.result_data);
/// # Ok::<(), cloud_task_blocking::Error>(())
/// ```
#[derive(Clone)]
pub struct Client {
    pub(crate) inner: Arc<Inner>,
}

pub(crate) struct Inner {
    pub(crate) config: Config,
    pub(crate) transport: Arc<dyn HttpTransport>,
    pub(crate) timer: Arc<dyn Timer>,
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("config", &self.inner.config)
            .finish_non_exhaustive()
    }
}

impl Client {
    /// A client for the official service with this API key.
    ///
    /// Fails with [`Error::InvalidInput`] when the key is empty or cannot be sent in a
    /// header.
    pub fn new(api_key: impl Into<ApiKey>) -> Result<Client> {
        Client::builder().api_key(api_key).build()
    }

    /// A builder with the defaults: official base URLs, no API key, 30 s per request.
    pub fn builder() -> ClientBuilder {
        ClientBuilder::default()
    }

    /// A client configured from the environment: `OOMOL_API_KEY` (required),
    /// `OOMOL_BASE_URL` and `OOMOL_UPLOAD_BASE_URL` (optional).
    pub fn from_env() -> Result<Client> {
        let client = Client::builder().from_env().build()?;
        if client.config().api_key().is_none() {
            return Err(Error::invalid_input(
                "api_key",
                format!(
                    "the environment variable {} is not set",
                    cloud_task_core::ENV_API_KEY
                ),
            ));
        }
        Ok(client)
    }

    /// The configuration (base URLs, headers; its `Debug` hides the key).
    pub fn config(&self) -> &Config {
        &self.inner.config
    }

    /// Runs any core operation: builds its request (refusing bad input before anything is
    /// sent), sends it once, and parses the response.
    ///
    /// Every method of the client goes through here (or through the same send path), so a
    /// new endpoint of the core needs no code in this crate.
    ///
    /// ```no_run
    /// use cloud_task_blocking::{Client, core::GetDashboard};
    /// let client = Client::from_env()?;
    /// let dashboard = client.execute(&GetDashboard)?;
    /// println!("{} running", dashboard.count.running);
    /// # Ok::<(), cloud_task_blocking::Error>(())
    /// ```
    pub fn execute<O: Operation>(&self, op: &O) -> Result<O::Output> {
        let request = op.request(&self.inner.config)?;
        let response = self.send(O::NAME, op.task_id(), request)?;
        op.parse(response)
    }

    /// Sends one request inside a tracing span naming the operation, method, path (never
    /// the query, which may hold a presigned signature), task and status. Never the key.
    pub(crate) fn send(
        &self,
        name: &'static str,
        task_id: Option<&str>,
        request: HttpRequest,
    ) -> Result<HttpResponse> {
        let span = tracing::debug_span!(
            "cloud_task_request",
            op = name,
            method = %request.method(),
            path = request.uri().path(),
            task_id = task_id.unwrap_or_default(),
            status = tracing::field::Empty,
        );
        let _entered = span.enter();
        let outcome = self.inner.transport.send(request);
        match &outcome {
            Ok(response) => {
                span.record("status", response.status().as_u16());
                tracing::debug!(status = response.status().as_u16(), "response");
            }
            Err(error) => tracing::debug!(%error, "transport error"),
        }
        outcome
    }

    /// The timer's current instant.
    pub(crate) fn now(&self) -> Instant {
        self.inner.timer.now()
    }

    /// The timer.
    pub(crate) fn timer(&self) -> &dyn Timer {
        &*self.inner.timer
    }

    /// Starts a task. Never retried: a failed creation is reported, not repeated (it may
    /// have reached the server, and a repeat would run the block twice).
    pub fn create_task(&self, request: CreateTaskRequest) -> Result<CreateTaskResponse> {
        self.execute(&CreateTask::new(request))
    }

    /// One page of the user's tasks. See [`list_all`](Self::list_all) for every page.
    pub fn list_tasks(&self, query: ListTasksQuery) -> Result<TaskPage> {
        self.execute(&ListTasks::new(query))
    }

    /// The latest task of each workload (1 to 50 IDs, or one comma-separated string).
    pub fn get_latest_tasks(
        &self,
        workload_ids: impl Into<WorkloadIds>,
    ) -> Result<Vec<LatestTaskItem>> {
        self.execute(&GetLatestTasks::new(workload_ids))
    }

    /// A task's detail.
    pub fn get_task(&self, task_id: &str) -> Result<TaskDetail> {
        self.execute(&GetTask::new(task_id))
    }

    /// A task's detail (the official SDKs' other name of [`get_task`](Self::get_task)).
    pub fn get_task_detail(&self, task_id: &str) -> Result<TaskDetail> {
        self.get_task(task_id)
    }

    /// A task's result, once: in progress, success (any JSON data) or failed.
    pub fn get_task_result(&self, task_id: &str) -> Result<TaskResult> {
        self.get_task_result_as::<Value>(task_id)
    }

    /// A task's result with its data decoded as `T`.
    pub fn get_task_result_as<T: DeserializeOwned>(&self, task_id: &str) -> Result<TaskResult<T>> {
        self.execute(&GetTaskResult::<T>::new(task_id))
    }

    /// The user's limits, queue counts and pause state.
    pub fn get_dashboard(&self) -> Result<Dashboard> {
        self.execute(&GetDashboard)
    }

    /// Pauses (`true`) or resumes (`false`) the user's queue.
    pub fn set_tasks_pause(&self, paused: bool) -> Result<PauseResponse> {
        self.execute(&SetTasksPause::new(paused))
    }

    /// Pauses the user's queue.
    pub fn pause_user_queue(&self) -> Result<PauseResponse> {
        self.set_tasks_pause(true)
    }

    /// Resumes the user's queue.
    pub fn resume_user_queue(&self) -> Result<PauseResponse> {
        self.set_tasks_pause(false)
    }

    /// One page of a task's logs (pages start at 1; `None` asks for the server's default).
    pub fn get_task_logs(&self, task_id: &str, page: Option<u32>) -> Result<TaskLogs> {
        let mut op = GetTaskLogs::new(task_id);
        op.page = page;
        self.execute(&op)
    }
}

/// Builds a [`Client`]; [`build`](Self::build) validates everything and names the field
/// that was wrong.
///
/// ```
/// use std::time::Duration;
/// let client = cloud_task_blocking::Client::builder()
///     .api_key("my-api-key")
///     .base_url("https://cloud-task.oomol.com/v3/")
///     .default_header("X-Team", "research")
///     .timeout(Duration::from_secs(10))
///     .build()?;
/// assert_eq!(client.config().base_url(), "https://cloud-task.oomol.com");
/// # Ok::<(), cloud_task_blocking::Error>(())
/// ```
#[derive(Clone)]
pub struct ClientBuilder {
    config: ConfigBuilder,
    timeout: Duration,
    connect_timeout: Duration,
    transport: Option<Arc<dyn HttpTransport>>,
    timer: Option<Arc<dyn Timer>>,
}

impl Default for ClientBuilder {
    fn default() -> Self {
        ClientBuilder {
            config: ConfigBuilder::default(),
            timeout: DEFAULT_TIMEOUT,
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            transport: None,
            timer: None,
        }
    }
}

impl fmt::Debug for ClientBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientBuilder")
            .field("config", &self.config)
            .field("timeout", &self.timeout)
            .field("connect_timeout", &self.connect_timeout)
            .field("custom_transport", &self.transport.is_some())
            .field("custom_timer", &self.timer.is_some())
            .finish()
    }
}

impl ClientBuilder {
    /// The API key, sent as `Authorization: Bearer <key>` (never logged or shown).
    pub fn api_key(mut self, key: impl Into<ApiKey>) -> Self {
        self.config = self.config.api_key(key);
        self
    }

    /// The task API base URL (default `https://cloud-task.oomol.com`; a trailing `/v1`
    /// or `/v3` is stripped).
    pub fn base_url(mut self, url: impl Into<String>) -> Self {
        self.config = self.config.base_url(url);
        self
    }

    /// The upload API base URL (default `https://llm.oomol.com/api/tasks/files/remote-cache`).
    pub fn upload_base_url(mut self, url: impl Into<String>) -> Self {
        self.config = self.config.upload_base_url(url);
        self
    }

    /// A header sent on every API request (not on presigned part uploads). For cookie
    /// authentication: `.default_header("Cookie", "oomol-token=...")`.
    pub fn default_header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.config = self.config.default_header(name, value);
        self
    }

    /// The `User-Agent` of API requests (default `oomol-cloud-task-rust/<version>`).
    pub fn user_agent(mut self, ua: impl Into<String>) -> Self {
        self.config = self.config.user_agent(ua);
        self
    }

    /// The timeout of each single request, from connecting to the end of the response
    /// body (default 30 s). It applies to the default transport only.
    pub fn timeout(mut self, per_request: Duration) -> Self {
        self.timeout = per_request;
        self
    }

    /// The connect timeout (default 10 s). It applies to the default transport only.
    pub fn connect_timeout(mut self, d: Duration) -> Self {
        self.connect_timeout = d;
        self
    }

    /// Applies `OOMOL_API_KEY`, `OOMOL_BASE_URL` and `OOMOL_UPLOAD_BASE_URL` from the
    /// process environment, where set and not blank.
    pub fn from_env(mut self) -> Self {
        self.config = self.config.with_env(|name| std::env::var(name).ok());
        self
    }

    /// Sends through this transport instead of ureq (the timeouts are then its own).
    pub fn transport(mut self, t: impl HttpTransport) -> Self {
        self.transport = Some(Arc::new(t));
        self
    }

    /// Uses this clock and sleeper instead of std's (for tests).
    pub fn timer(mut self, t: impl Timer) -> Self {
        self.timer = Some(Arc::new(t));
        self
    }

    /// Validates and builds the client.
    ///
    /// Fails with [`Error::InvalidInput`] naming the field (`base_url`, `upload_base_url`,
    /// `api_key`, `default_headers`, `user_agent`, `timeout`, `connect_timeout`).
    pub fn build(self) -> Result<Client> {
        let config = self.config.build()?;
        for (field, value) in [
            ("timeout", self.timeout),
            ("connect_timeout", self.connect_timeout),
        ] {
            if value.is_zero() {
                return Err(Error::invalid_input(
                    field,
                    format!("{field} must be greater than zero"),
                ));
            }
        }
        let transport: Arc<dyn HttpTransport> = match self.transport {
            Some(t) => t,
            None => Arc::new(UreqTransport::with_timeouts(
                self.timeout,
                self.connect_timeout,
            )),
        };
        Ok(Client {
            inner: Arc::new(Inner {
                config,
                transport,
                timer: self.timer.unwrap_or_else(|| Arc::new(StdTimer)),
            }),
        })
    }
}
