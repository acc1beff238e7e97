use std::marker::PhantomData;

use http::Method;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::config::Config;
use crate::error::Result;
use crate::models::result::{self, Decoded};
use crate::models::{TaskResult, TaskStatus, TaskSuccess};
use crate::ops::Operation;
use crate::wire;
use crate::{HttpRequest, HttpResponse};

/// `GET /v3/users/me/tasks/{taskID}/result`: the current state of a task's result.
///
/// `T` is the type `resultData` decodes into; the default, [`serde_json::Value`], accepts
/// any JSON (a list of objects as documented, or a single object as sometimes seen).
///
/// ```
/// # use cloud_task_core::{GetTaskResult, Operation, TaskResult, http};
/// #[derive(serde::Deserialize)]
/// struct Out { text: String }
/// let op = GetTaskResult::new_as::<Vec<Out>>("t-1");
/// let response = http::Response::new(br#"{"status":"success","resultURL":null,"resultData":[{"text":"hi"}]}"#.to_vec());
/// match op.parse(response).unwrap() {
///     TaskResult::Success(s) => assert_eq!(s.result_data.unwrap()[0].text, "hi"),
///     _ => unreachable!(),
/// }
/// ```
#[non_exhaustive]
pub struct GetTaskResult<T = Value> {
    /// The task.
    pub task_id: String,
    _data: PhantomData<fn() -> T>,
}

impl GetTaskResult {
    /// The operation for `task_id`, its result data as any JSON.
    pub fn new(task_id: impl Into<String>) -> Self {
        GetTaskResult::new_as(task_id)
    }

    /// The operation for `task_id`, its result data decoded as `T`:
    /// `GetTaskResult::new_as::<MyOutputs>("task-id")`.
    pub fn new_as<T>(task_id: impl Into<String>) -> GetTaskResult<T> {
        GetTaskResult {
            task_id: task_id.into(),
            _data: PhantomData,
        }
    }
}

impl<T> Clone for GetTaskResult<T> {
    fn clone(&self) -> Self {
        GetTaskResult::new_as(self.task_id.clone())
    }
}

impl<T> std::fmt::Debug for GetTaskResult<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GetTaskResult")
            .field("task_id", &self.task_id)
            .finish()
    }
}

/// How far a result response could be read.
pub(crate) enum ResultParse<T> {
    /// Not finished yet.
    InProgress { status: TaskStatus, progress: f64 },
    /// Succeeded.
    Success(TaskSuccess<T>),
    /// The task failed: the backend's message, and the detail the official SDKs keep
    /// (the `error` string, else the body as received).
    Failed {
        error: Option<String>,
        detail: Option<Value>,
    },
    /// The task succeeded, but `resultData` does not decode as `T`: polling again cannot
    /// help.
    DataMismatch(crate::Error),
}

impl<T: DeserializeOwned> GetTaskResult<T> {
    /// Parses a response with the one result decoder, telling a wrong body (an error:
    /// worth polling again) apart from a successful task whose data does not fit `T`
    /// (final).
    pub(crate) fn parse_detailed(&self, response: HttpResponse) -> Result<ResultParse<T>> {
        if !response.status().is_success() {
            return Err(crate::Error::Api(Box::new(wire::api_error(response))));
        }
        let status = response.status();
        let body = response.into_body();
        Ok(match result::decode::<T>(&body) {
            Decoded::Result(TaskResult::Failed { error }) => ResultParse::Failed {
                error,
                detail: result::failure_detail(&body),
            },
            Decoded::Result(TaskResult::Success(success)) => ResultParse::Success(success),
            Decoded::Result(TaskResult::InProgress { status, progress }) => {
                ResultParse::InProgress { status, progress }
            }
            Decoded::DataMismatch(source) => ResultParse::DataMismatch(wire::decode_error(
                "task result data",
                status,
                body,
                source,
            )),
            Decoded::Broken(source) => {
                return Err(wire::decode_error("task result", status, body, source));
            }
        })
    }
}

impl<T: DeserializeOwned> Operation for GetTaskResult<T> {
    type Output = TaskResult<T>;
    const NAME: &'static str = "get_task_result";

    fn request(&self, config: &Config) -> Result<HttpRequest> {
        wire::check_not_empty("task_id", &self.task_id)?;
        config
            .api_request(Method::GET, "/v3/users/me/tasks")
            .segment(&self.task_id)
            .path("/result")
            .build()
    }

    fn parse(&self, response: HttpResponse) -> Result<TaskResult<T>> {
        match self.parse_detailed(response)? {
            ResultParse::InProgress { status, progress } => {
                Ok(TaskResult::InProgress { status, progress })
            }
            ResultParse::Success(success) => Ok(TaskResult::Success(success)),
            ResultParse::Failed { error, .. } => Ok(TaskResult::Failed { error }),
            ResultParse::DataMismatch(e) => Err(e),
        }
    }

    fn task_id(&self) -> Option<&str> {
        Some(&self.task_id)
    }
}
