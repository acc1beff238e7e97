//! [`TaskHandle`]: one task, found again by its ID.

use std::path::Path;

use cloud_task_core::{
    AwaitOptions, CreateTaskRequest, DownloadOptions, Downloaded, Result, TaskDetail, TaskLogs,
    TaskResult, TaskSuccess,
};
use std::io::Write;

use crate::client::{Client, TaskHandle};
use crate::follow::TaskEvents;

impl Client {
    /// Starts a task (once: never retried, as [`create_task`](Self::create_task)) and
    /// answers its handle.
    pub fn submit(&self, request: CreateTaskRequest) -> Result<TaskHandle> {
        let created = self.create_task(request)?;
        Ok(self.task(created.task_id))
    }
}

impl TaskHandle {
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
