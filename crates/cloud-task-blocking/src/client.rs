//! [`Client`] and [`ClientBuilder`]: configuration and the one generic `execute` path.

use std::sync::Arc;
use std::time::Instant;

#[cfg(doc)]
use cloud_task_core::ConfigBuilder;
use cloud_task_core::models::{
    CreateTaskResponse, Dashboard, LatestTaskItem, PauseResponse, TaskDetail, TaskLogs, TaskPage,
    TaskResult,
};
use cloud_task_core::ops::{
    CreateTask, CreateTaskRequest, GetDashboard, GetLatestTasks, GetTask, GetTaskLogs,
    GetTaskResult, ListTasks, ListTasksQuery, Operation, SetTasksPause, WorkloadIds,
};
use cloud_task_core::seam::{HttpResponse, RequestId, Transmit};
use cloud_task_core::{Call, Result};

use crate::engine::Engine;
use crate::senders::Senders;
use crate::timer::{StdTimer, Timer};
use crate::transport::{BodyReader, HttpTransport, ResponseHead, UreqTransport};

cloud_task_core::__client! {
    /// The blocking Cloud Task client.
    ///
    /// Cheap to clone and `Send + Sync`: clones share one configuration, one transport (one
    /// connection pool) and one timer, and can be used from many threads at once. Every method
    /// builds its request with `cloud-task-core`, sends it through the [`HttpTransport`], and
    /// parses the answer with the core.
    ///
    /// ```no_run
    /// use oomol_cloud_task::{AwaitOptions, CreateTaskRequest, blocking::Client};
    ///
    /// let client = Client::from_env()?;
    /// // One client, shared by the threads of a pool: one connection pool for all.
    /// let workers: Vec<_> = ["a", "b", "c"]
    ///     .into_iter()
    ///     .map(|text| {
    ///         let client = client.clone();
    ///         std::thread::spawn(move || {
    ///             let request = CreateTaskRequest::new("@oomol/echo", "1.0.0", "main");
    ///             client.create_and_wait(request.input("text", text), AwaitOptions::new())
    ///         })
    ///     })
    ///     .collect();
    /// for worker in workers {
    ///     let outcome = worker.join().expect("the worker ran")?;
    ///     println!("{}: {:?}", outcome.task_id, outcome.result.result_data);
    /// }
    /// # Ok::<(), oomol_cloud_task::Error>(())
    /// ```
    client;
    /// ```no_run
    /// # fn run(client: oomol_cloud_task::blocking::Client) -> oomol_cloud_task::Result<()> {
    /// use oomol_cloud_task::{AwaitOptions, CreateTaskRequest, DownloadOptions};
    /// let task = client
    ///     .submit(CreateTaskRequest::new("@oomol/file", "1.0.0", "main").input("text", "hi"))
    ///     ?;
    /// println!("started {}", task.id()); // keep it: client.task(id) finds it again
    /// let result = task.wait(AwaitOptions::new())?;
    /// if result.result_url.is_some() {
    ///     task.download_result("out.txt", DownloadOptions::new())?;
    /// }
    /// # Ok(()) }
    /// ```
    handle;
    transport: HttpTransport;
    timer: Timer;
    senders: Senders,
}

impl Client {
    /// Runs any core operation: builds its request (refusing bad input before anything is
    /// sent), sends it once through the core's [`Call`] (which bounds its time and body and
    /// follows redirects within the origin only), and parses the response.
    ///
    /// Every method of the client goes through here (or through the same engine), so a
    /// new endpoint of the core needs no code in this crate.
    ///
    /// ```no_run
    /// use oomol_cloud_task::{blocking::Client, sans_io::GetDashboard};
    /// let client = Client::from_env()?;
    /// let dashboard = client.execute(&GetDashboard)?;
    /// println!("{} running", dashboard.count.running);
    /// # Ok::<(), oomol_cloud_task::Error>(())
    /// ```
    pub fn execute<O: Operation>(&self, op: &O) -> Result<O::Output> {
        let call = Call::for_operation(op, &self.inner.config, self.now())?;
        let engine = Engine::new(self, call);
        // The answer is read after the engine is done: an error of its status or body is
        // the operation's too.
        let span = engine.span().clone();
        let response = engine.run(|_, never| match never {})?;
        let output = op.parse(response);
        cloud_task_core::__record_failure!(&span, output.as_ref().err());
        output
    }

    /// Sends one transmit on this thread, within its limits (for a transport that bounds
    /// itself).
    pub(crate) fn send_here(&self, transmit: Transmit) -> (RequestId, Result<HttpResponse>) {
        let id = transmit.id;
        let span = cloud_task_core::__request_span!(&transmit, self.inner.config);
        let limits = transmit.limits(self.now());
        let _entered = span.enter();
        let outcome = (*self.inner.transport).send(transmit.request, limits);
        cloud_task_core::__record_answer!(&span, &outcome);
        (id, outcome)
    }

    /// [`send_here`](Self::send_here) for a request whose head is wanted first
    /// ([`Transmit::streams_body`]): its head, and its body to read in pieces (within its
    /// limits: for a transport that bounds itself).
    pub(crate) fn send_head_here(
        &self,
        transmit: Transmit,
    ) -> (RequestId, Result<(ResponseHead, BodyReader)>) {
        let id = transmit.id;
        let span = cloud_task_core::__request_span!(&transmit, self.inner.config);
        let limits = transmit.limits(self.now());
        let _entered = span.enter();
        let outcome = self
            .inner
            .transport
            .send_streaming(transmit.request, limits);
        let status = outcome.as_ref().map(|(head, _)| head.status);
        cloud_task_core::__record_answer!(&span, status status);
        (id, outcome)
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
        self.execute(&GetTaskResult::new(task_id))
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

cloud_task_core::__client_builder! {
    /// Builds a [`Client`]; [`build`](Self::build) validates everything and names the field
    /// that was wrong.
    ///
    /// Its settings are the core's [`ConfigBuilder`]'s (URLs, key, headers, timeouts, limits),
    /// plus the transport and the timer.
    ///
    /// ```
    /// use std::time::Duration;
    /// let client = oomol_cloud_task::blocking::Client::builder()
    ///     .api_key("my-api-key")
    ///     .base_url("https://cloud-task.oomol.com/v3/")
    ///     .default_header("X-Team", "research")
    ///     .timeout(Duration::from_secs(10))
    ///     .build()?;
    /// assert_eq!(client.config().base_url(), "https://cloud-task.oomol.com");
    /// # Ok::<(), oomol_cloud_task::Error>(())
    /// ```
    transport: HttpTransport, default "ureq";
    timer: Timer, default "std's";
}

impl ClientBuilder {
    /// Validates and builds the client.
    ///
    /// Fails with [`Error::InvalidInput`](crate::Error::InvalidInput) naming the field (see [`ConfigBuilder::build`]).
    pub fn build(self) -> Result<Client> {
        let (config, transport, timer) = self.into_parts()?;
        let transport: Arc<dyn HttpTransport> = match transport {
            Some(t) => t,
            None => Arc::new(UreqTransport::new(&config)),
        };
        Ok(Client {
            inner: Arc::new(Inner {
                config,
                transport,
                timer: timer.unwrap_or_else(|| Arc::new(StdTimer)),
                senders: Senders::default(),
                packages: cloud_task_core::PackageCache::new(),
            }),
        })
    }
}
