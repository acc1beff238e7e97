use http::Method;

use crate::config::Config;
use crate::error::{Error, Result};
use crate::models::TaskLogs;
use crate::ops::Operation;
use crate::wire;
use crate::{HttpRequest, HttpResponse};

/// `GET /v3/users/me/tasks/{taskID}/logs?page=N`: one page of a task's logs (pages from 1).
///
/// Not in the official SDKs; used by OOMOL's own CLI and engine.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct GetTaskLogs {
    /// The task.
    pub task_id: String,
    /// The page, from 1; `None` sends no `page` (the server's first page).
    pub page: Option<u32>,
}

impl GetTaskLogs {
    /// The first page of `task_id`'s logs.
    pub fn new(task_id: impl Into<String>) -> Self {
        GetTaskLogs {
            task_id: task_id.into(),
            page: None,
        }
    }

    /// Asks for page `page` (from 1).
    pub fn page(mut self, page: u32) -> Self {
        self.page = Some(page);
        self
    }
}

impl Operation for GetTaskLogs {
    type Output = TaskLogs;
    const NAME: &'static str = "get_task_logs";

    fn request(&self, config: &Config) -> Result<HttpRequest> {
        wire::check_not_empty("task_id", &self.task_id)?;
        if self.page == Some(0) {
            return Err(Error::invalid_input(
                "page",
                "page must be an integer of at least 1",
            ));
        }
        config
            .api_request(Method::GET, "/v3/users/me/tasks")
            .segment(&self.task_id)
            .path("/logs")
            .query_opt("page", self.page.map(|p| p.to_string()))
            .build()
    }

    fn parse(&self, response: HttpResponse) -> Result<TaskLogs> {
        wire::parse_json("task logs", response)
    }

    fn task_id(&self) -> Option<&str> {
        Some(&self.task_id)
    }
}
