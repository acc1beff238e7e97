//! [`TaskHandle`]: one task, found again by its ID.

use std::path::Path;

use cloud_task_core::{
    AwaitOptions, CreateTaskRequest, DownloadOptions, Downloaded, Result, TaskDetail, TaskLogs,
    TaskResult, TaskSuccess,
};
use std::io::Write;

use crate::client::Client;
use crate::follow::TaskEvents;

/// One task of the user's, by its ID: what [`Client::submit`] answers, and what
/// [`Client::task`] makes of an ID kept from earlier (another run, another process), to
/// re-attach to a task that is still running.
///
/// It holds the client (cheap to clone) and the ID, nothing else: every method asks the
/// server. Waiting on it never cancels the task; an error of a wait names the task
/// ([`Error::task_id`](cloud_task_core::Error::task_id)).
///
/// ```no_run
/// # fn run(client: cloud_task_blocking::Client) -> cloud_task_blocking::Result<()> {
/// use cloud_task_blocking::{AwaitOptions, CreateTaskRequest, DownloadOptions};
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
#[derive(Clone)]
pub struct TaskHandle {
    client: Client,
    id: String,
}

impl std::fmt::Debug for TaskHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TaskHandle").field("id", &self.id).finish()
    }
}

impl Client {
    /// The handle of task `id` (nothing is sent; a bad ID is reported by the first call
    /// that uses it).
    pub fn task(&self, id: impl Into<String>) -> TaskHandle {
        TaskHandle {
            client: self.clone(),
            id: id.into(),
        }
    }

    /// Starts a task (once: never retried, as [`create_task`](Self::create_task)) and
    /// answers its handle.
    pub fn submit(&self, request: CreateTaskRequest) -> Result<TaskHandle> {
        let created = self.create_task(request)?;
        Ok(self.task(created.task_id))
    }
}

impl TaskHandle {
    /// The task's ID.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The client it asks through.
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// Its result now (one request): in progress, success or failure.
    pub fn result(&self) -> Result<TaskResult> {
        self.client.get_task_result(&self.id)
    }

    /// Its full record (package, block, times, progress, ...).
    pub fn detail(&self) -> Result<TaskDetail> {
        self.client.get_task_detail(&self.id)
    }

    /// Page `page` (from 1) of its logs, as the server sends it; [`events`](Self::events)
    /// follows them typed.
    pub fn logs(&self, page: u32) -> Result<TaskLogs> {
        self.client.get_task_logs(&self.id, Some(page))
    }

    /// Waits for its result: [`Client::await_result`].
    pub fn wait(&self, options: AwaitOptions) -> Result<TaskSuccess> {
        self.client.await_result(&self.id, options)
    }

    /// Its progress, logs and result as one stream: [`Client::events`].
    pub fn events(&self, options: AwaitOptions) -> TaskEvents {
        self.client.events(&self.id, options)
    }

    /// The URL of its result file, once it has succeeded: waits for the result with the
    /// client's default wait (and `options`' cancel token), then
    /// [`Error::NoResultFile`](cloud_task_core::Error::NoResultFile) when it stored none,
    /// [`Error::TaskFailed`](cloud_task_core::Error::TaskFailed) when it failed.
    fn result_url(&self, options: &DownloadOptions) -> Result<String> {
        let mut wait = AwaitOptions::new();
        if let Some(token) = options.get_cancel_token() {
            wait = wait.cancel_token(token.clone());
        }
        let success = self.wait(wait)?;
        success.require_result_url(&self.id).map(str::to_owned)
    }

    /// Downloads its result file to `path` ([`Client::download`]: resumable, bounded),
    /// once it has succeeded (waiting for it as the client's defaults say).
    pub fn download_result(
        &self,
        path: impl AsRef<Path>,
        options: DownloadOptions,
    ) -> Result<Downloaded> {
        let url = self.result_url(&options)?;
        self.client.download(&url, path, options)
    }

    /// Downloads its result file into `writer` ([`Client::download_to_writer`]).
    pub fn download_result_to_writer<W: Write>(
        &self,
        writer: &mut W,
        options: DownloadOptions,
    ) -> Result<Downloaded> {
        let url = self.result_url(&options)?;
        self.client.download_to_writer(&url, writer, options)
    }
}
