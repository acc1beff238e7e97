//! [`Client`] and [`ClientBuilder`]: configuration and the one generic `execute` path.

use std::sync::Arc;

#[cfg(doc)]
use cloud_task_core::ConfigBuilder;
use cloud_task_core::{
    Call, CreateTask, CreateTaskRequest, CreateTaskResponse, Dashboard, GetDashboard,
    GetLatestTasks, GetTask, GetTaskLogs, GetTaskResult, HttpResponse, LatestTaskItem, ListTasks,
    ListTasksQuery, Operation, PauseResponse, RequestId, Result, SendLimits, SetTasksPause,
    TaskDetail, TaskLogs, TaskPage, TaskResult, Transmit, WorkloadIds,
};
use futures_util::StreamExt;
use tracing::Instrument;

use crate::engine::Engine;
use crate::timer::{Timer, TokioTimer};
use crate::transport::{BodyStream, HttpTransport, ReqwestTransport, ResponseHead};

cloud_task_core::__client! {
    /// The async Cloud Task client.
    ///
    /// Cheap to clone: clones share one configuration, one transport (one connection pool)
    /// and one timer. Every method builds its request with `cloud-task-core`, sends it through
    /// the [`HttpTransport`], and parses the answer with the core.
    ///
    /// ```no_run
    /// use oomol_cloud_task::{AwaitOptions, Client, CreateTaskRequest};
    ///
    /// # async fn run() -> oomol_cloud_task::Result<()> {
    /// let client = Client::new("my-api-key")?;
    /// let outcome = client
    ///     .create_and_wait(
    ///         CreateTaskRequest::new("@oomol/my-package", "1.0.0", "main").input("text", "hi"),
    ///         AwaitOptions::new(),
    ///     )
    ///     .await?;
    /// println!("{} -> {:?}", outcome.task_id, outcome.result.result_data);
    /// # Ok(()) }
    /// ```
    client;
    /// ```no_run
    /// # async fn run(client: oomol_cloud_task::Client) -> oomol_cloud_task::Result<()> {
    /// use oomol_cloud_task::{AwaitOptions, CreateTaskRequest, DownloadOptions};
    /// let task = client
    ///     .submit(CreateTaskRequest::new("@oomol/file", "1.0.0", "main").input("text", "hi"))
    ///     .await?;
    /// println!("started {}", task.id()); // keep it: client.task(id) finds it again
    /// let result = task.wait(AwaitOptions::new()).await?;
    /// if result.result_url.is_some() {
    ///     task.download_result("out.txt", DownloadOptions::new()).await?;
    /// }
    /// # Ok(()) }
    /// ```
    handle;
    transport: HttpTransport;
    timer: Timer;
}

impl Client {
    /// Runs any core operation: builds its request (refusing bad input before anything is
    /// sent), sends it once through the core's [`Call`] (which bounds its time and body and
    /// follows redirects within the origin only), and parses the response.
    ///
    /// Every method of the client goes through here (or through the same engine), so a
    /// new endpoint of the core needs no code in this crate.
    pub async fn execute<O: Operation>(&self, op: &O) -> Result<O::Output> {
        let call = Call::for_operation(op, &self.inner.config, self.now())?;
        let engine = Engine::new(self, call);
        // The answer is read after the engine is done: an error of its status or body is
        // the operation's too.
        let span = engine.span().clone();
        let response = engine.run(|_, never| match never {}).await?;
        let output = op.parse(response);
        cloud_task_core::__record_failure!(&span, output.as_ref().err());
        output
    }

    /// Sends one transmit inside its request span ([`cloud_task_core::trace`]: never the
    /// key, never a presigned URL's signature), cut off at its deadline whatever the
    /// transport does. The future owns what it needs.
    pub(crate) fn send(
        &self,
        transmit: Transmit,
    ) -> impl Future<Output = (RequestId, Result<HttpResponse>)> + Send + use<> {
        let span = cloud_task_core::__request_span!(&transmit, self.inner.config);
        let limits = transmit.limits(self.now());
        let transport = Arc::clone(&self.inner.transport);
        let id = transmit.id;
        async move {
            // Through the `dyn` itself: `transport.send` would be the `Arc`'s forwarding
            // impl, one more boxed future per call.
            let send = (*transport).send(transmit.request, limits);
            let outcome = if (*transport).bounds_itself() {
                send.await
            } else {
                match tokio::time::timeout(limits.timeout, send).await {
                    Ok(outcome) => outcome,
                    Err(_) => Err(limits.elapsed()),
                }
            };
            cloud_task_core::__record_answer!(&tracing::Span::current(), &outcome);
            (id, outcome)
        }
        .instrument(span)
    }

    /// [`send`](Self::send) for a request whose head is wanted first
    /// ([`Transmit::streams_body`]): its head, and its body to read in pieces, both cut off
    /// at the request's deadline (by the transport when it bounds itself, else here).
    pub(crate) fn send_head(
        &self,
        transmit: Transmit,
    ) -> impl Future<Output = (RequestId, Result<(ResponseHead, BodyStream)>)> + Send + 'static
    {
        let span = cloud_task_core::__request_span!(&transmit, self.inner.config);
        let limits = transmit.limits(self.now());
        let transport = Arc::clone(&self.inner.transport);
        let id = transmit.id;
        async move {
            let send = (*transport).send_streaming(transmit.request, limits);
            let outcome = if (*transport).bounds_itself() {
                send.await
            } else {
                let deadline = tokio::time::Instant::now() + limits.timeout;
                match tokio::time::timeout_at(deadline, send).await {
                    Ok(outcome) => {
                        outcome.map(|(head, body)| (head, cut_off(body, deadline, limits)))
                    }
                    Err(_) => Err(limits.elapsed()),
                }
            };
            let status = outcome.as_ref().map(|(head, _)| head.status);
            cloud_task_core::__record_answer!(&tracing::Span::current(), status status);
            (id, outcome)
        }
        .instrument(span)
    }

    /// The timer's current instant.
    pub(crate) fn now(&self) -> std::time::Instant {
        self.inner.timer.now()
    }

    /// Starts a task. Never retried: a failed creation is reported, not repeated (it may
    /// have reached the server, and a repeat would run the block twice).
    pub async fn create_task(&self, request: CreateTaskRequest) -> Result<CreateTaskResponse> {
        self.execute(&CreateTask::new(request)).await
    }

    /// One page of the user's tasks. See [`list_all`](Self::list_all) for every page.
    pub async fn list_tasks(&self, query: ListTasksQuery) -> Result<TaskPage> {
        self.execute(&ListTasks::new(query)).await
    }

    /// The latest task of each workload (1 to 50 IDs, or one comma-separated string).
    pub async fn get_latest_tasks(
        &self,
        workload_ids: impl Into<WorkloadIds>,
    ) -> Result<Vec<LatestTaskItem>> {
        self.execute(&GetLatestTasks::new(workload_ids)).await
    }

    /// A task's detail.
    pub async fn get_task(&self, task_id: &str) -> Result<TaskDetail> {
        self.execute(&GetTask::new(task_id)).await
    }

    /// A task's detail (the official SDKs' other name of [`get_task`](Self::get_task)).
    pub async fn get_task_detail(&self, task_id: &str) -> Result<TaskDetail> {
        self.get_task(task_id).await
    }

    /// A task's result, once: in progress, success (any JSON data) or failed.
    pub async fn get_task_result(&self, task_id: &str) -> Result<TaskResult> {
        self.execute(&GetTaskResult::new(task_id)).await
    }

    /// The user's limits, queue counts and pause state.
    pub async fn get_dashboard(&self) -> Result<Dashboard> {
        self.execute(&GetDashboard).await
    }

    /// Pauses (`true`) or resumes (`false`) the user's queue.
    pub async fn set_tasks_pause(&self, paused: bool) -> Result<PauseResponse> {
        self.execute(&SetTasksPause::new(paused)).await
    }

    /// Pauses the user's queue.
    pub async fn pause_user_queue(&self) -> Result<PauseResponse> {
        self.set_tasks_pause(true).await
    }

    /// Resumes the user's queue.
    pub async fn resume_user_queue(&self) -> Result<PauseResponse> {
        self.set_tasks_pause(false).await
    }

    /// One page of a task's logs (pages start at 1; `None` asks for the server's default).
    pub async fn get_task_logs(&self, task_id: &str, page: Option<u32>) -> Result<TaskLogs> {
        let mut op = GetTaskLogs::new(task_id);
        op.page = page;
        self.execute(&op).await
    }
}

cloud_task_core::__client_builder! {
    /// Builds a [`Client`]; [`build`](Self::build) validates everything and names the field
    /// that was wrong.
    ///
    /// Its settings are the core's [`ConfigBuilder`]'s (URLs, key, headers, timeouts, limits),
    /// plus the transport and the timer.
    ///
    /// ```
    /// use std::time::Duration;
    /// let client = oomol_cloud_task::Client::builder()
    ///     .api_key("my-api-key")
    ///     .base_url("https://cloud-task.oomol.com/v3/")
    ///     .default_header("X-Team", "research")
    ///     .timeout(Duration::from_secs(10))
    ///     .max_response_body(8 << 20)
    ///     .build()?;
    /// assert_eq!(client.config().base_url(), "https://cloud-task.oomol.com");
    /// assert_eq!(client.config().timeout(), Duration::from_secs(10));
    /// # Ok::<(), oomol_cloud_task::Error>(())
    /// ```
    transport: HttpTransport, default "reqwest";
    timer: Timer, default "tokio's";
}

impl ClientBuilder {
    /// Validates and builds the client.
    ///
    /// Fails with [`Error::InvalidInput`](crate::Error::InvalidInput) naming the field (see [`ConfigBuilder::build`]),
    /// or with [`Error::Transport`](crate::Error::Transport) when the TLS backend cannot be initialised.
    pub fn build(self) -> Result<Client> {
        let (config, transport, timer) = self.into_parts()?;
        let transport: Arc<dyn HttpTransport> = match transport {
            Some(t) => t,
            None => Arc::new(ReqwestTransport::new(&config)?),
        };
        Ok(Client {
            inner: Arc::new(Inner {
                config,
                transport,
                timer: timer.unwrap_or_else(|| Arc::new(TokioTimer)),
                packages: cloud_task_core::PackageCache::new(),
            }),
        })
    }
}

/// `body`, ending with [`SendLimits::elapsed`] at `deadline` (for a transport that does
/// not bound itself).
fn cut_off(body: BodyStream, deadline: tokio::time::Instant, limits: SendLimits) -> BodyStream {
    Box::pin(futures_util::stream::unfold(
        Some(body),
        move |body| async move {
            let mut body = body?;
            match tokio::time::timeout_at(deadline, body.next()).await {
                Ok(Some(Ok(piece))) => Some((Ok(piece), Some(body))),
                Ok(Some(Err(error))) => Some((Err(error), None)),
                Ok(None) => None,
                Err(_) => Some((Err(limits.elapsed()), None)),
            }
        },
    ))
}
