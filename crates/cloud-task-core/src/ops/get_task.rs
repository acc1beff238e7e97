use http::Method;

use crate::config::Config;
use crate::error::Result;
use crate::models::TaskDetail;
use crate::ops::Operation;
use crate::wire;
use crate::{HttpRequest, HttpResponse};

/// `GET /v3/users/me/tasks/{taskID}`: a task's details (`get_task` / `get_task_detail`).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct GetTask {
    /// The task, sent percent-encoded as one path segment.
    pub task_id: String,
}

impl GetTask {
    /// The operation for `task_id`.
    pub fn new(task_id: impl Into<String>) -> Self {
        GetTask {
            task_id: task_id.into(),
        }
    }
}

impl Operation for GetTask {
    type Output = TaskDetail;
    const NAME: &'static str = "get_task";

    fn request(&self, config: &Config) -> Result<HttpRequest> {
        wire::check_not_empty("task_id", &self.task_id)?;
        config
            .api_request(Method::GET, "/v3/users/me/tasks")
            .segment(&self.task_id)
            .build()
    }

    fn parse(&self, response: HttpResponse) -> Result<TaskDetail> {
        wire::parse_json("task detail", response)
    }

    fn task_id(&self) -> Option<&str> {
        Some(&self.task_id)
    }
}
