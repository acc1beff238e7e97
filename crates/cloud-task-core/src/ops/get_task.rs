use http::Method;

use crate::config::Config;
use crate::error::Result;
use crate::models::TaskDetail;
use crate::ops::Operation;
use crate::wire;
use crate::{HttpRequest, HttpResponse};

/// `GET /v3/users/me/tasks/{taskID}`: a task's details (`get_task` / `get_task_detail`).
#[derive(Debug, Clone, PartialEq, Eq)]
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
        wire::require_non_empty("task_id", &self.task_id)?;
        let path = format!(
            "/v3/users/me/tasks/{}",
            wire::encode_path_segment(&self.task_id)
        );
        wire::request(config, config.base_url(), Method::GET, &path, &[], None)
    }

    fn parse(&self, response: HttpResponse) -> Result<TaskDetail> {
        wire::parse_json("task detail", response)
    }

    fn task_id(&self) -> Option<&str> {
        Some(&self.task_id)
    }
}
