use http::Method;

use crate::config::Config;
use crate::error::Result;
use crate::models::{CreateTaskRequest, CreateTaskResponse};
use crate::ops::Operation;
use crate::wire;
use crate::{HttpRequest, HttpResponse};

/// `POST /v3/users/me/tasks`: create a serverless task.
///
/// The body is normalised (see [`CreateTaskRequest`]). Package name, version and block name
/// must not be empty. A create is never retried by the SDK: the request may have reached
/// the server, and a second one would run the block twice.
#[derive(Debug, Clone, PartialEq)]
pub struct CreateTask {
    /// What to run.
    pub request: CreateTaskRequest,
}

impl CreateTask {
    /// The operation for `request`.
    pub fn new(request: CreateTaskRequest) -> Self {
        CreateTask { request }
    }

    /// Checks the request without building it.
    pub fn validate(&self) -> Result<()> {
        wire::require_non_empty("package_name", &self.request.package_name)?;
        wire::require_non_empty("package_version", &self.request.package_version)?;
        wire::require_non_empty("block_name", &self.request.block_name)
    }
}

impl From<CreateTaskRequest> for CreateTask {
    fn from(request: CreateTaskRequest) -> Self {
        CreateTask { request }
    }
}

impl Operation for CreateTask {
    type Output = CreateTaskResponse;
    const NAME: &'static str = "create_task";

    fn request(&self, config: &Config) -> Result<HttpRequest> {
        self.validate()?;
        let body = wire::to_json(&self.request)?;
        wire::request(
            config,
            config.base_url(),
            Method::POST,
            "/v3/users/me/tasks",
            &[],
            Some(body),
        )
    }

    fn parse(&self, response: HttpResponse) -> Result<CreateTaskResponse> {
        wire::parse_json("create task", response)
    }
}
