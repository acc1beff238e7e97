use std::marker::PhantomData;

use http::Method;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::config::Config;
use crate::error::Result;
use crate::models::{ResultHead, TaskResult, TaskStatus, TaskSuccess};
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
/// let op = GetTaskResult::<Vec<Out>>::new("t-1");
/// let response = http::Response::new(br#"{"status":"success","resultURL":null,"resultData":[{"text":"hi"}]}"#.to_vec());
/// match op.parse(response).unwrap() {
///     TaskResult::Success(s) => assert_eq!(s.result_data.unwrap()[0].text, "hi"),
///     _ => unreachable!(),
/// }
/// ```
pub struct GetTaskResult<T = Value> {
    /// The task.
    pub task_id: String,
    _data: PhantomData<fn() -> T>,
}

impl<T> GetTaskResult<T> {
    /// The operation for `task_id`.
    pub fn new(task_id: impl Into<String>) -> Self {
        GetTaskResult {
            task_id: task_id.into(),
            _data: PhantomData,
        }
    }
}

impl<T> Clone for GetTaskResult<T> {
    fn clone(&self) -> Self {
        GetTaskResult::new(self.task_id.clone())
    }
}

impl<T> std::fmt::Debug for GetTaskResult<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GetTaskResult")
            .field("task_id", &self.task_id)
            .finish()
    }
}

/// Every field of any result shape, read in one pass.
#[derive(serde::Deserialize)]
struct FullResult<T> {
    status: TaskStatus,
    #[serde(default)]
    progress: Option<f64>,
    #[serde(default)]
    error: Option<Value>,
    #[serde(rename = "resultURL", default)]
    result_url: Option<String>,
    #[serde(rename = "resultData", default = "none")]
    result_data: Option<T>,
}

fn none<T>() -> Option<T> {
    None
}

impl<T> FullResult<T> {
    fn into_result(self) -> TaskResult<T> {
        match self.status {
            TaskStatus::Success => {
                TaskResult::Success(TaskSuccess::new(self.result_url, self.result_data))
            }
            TaskStatus::Failed => TaskResult::Failed {
                error: ResultHead::error_text(self.error.as_ref()),
            },
            status => TaskResult::InProgress {
                status,
                progress: self.progress.filter(|p| p.is_finite()).unwrap_or(0.0),
            },
        }
    }
}

/// How far a result response could be read.
pub(crate) enum ResultParse<T> {
    /// Fully parsed.
    Parsed(TaskResult<T>),
    /// The task succeeded, but `resultData` does not decode as `T`: polling again cannot
    /// help.
    DataMismatch(crate::Error),
}

impl<T: DeserializeOwned> GetTaskResult<T> {
    /// Parses a response, telling a wrong body (worth polling again) apart from a
    /// successful task whose data does not fit `T` (final).
    pub(crate) fn parse_detailed(&self, response: HttpResponse) -> Result<ResultParse<T>> {
        if !response.status().is_success() {
            return Err(crate::Error::Api(Box::new(wire::api_error(response))));
        }
        let status = response.status();
        let body = response.into_body();
        // One pass in the common case; the slower path below only runs to classify an error.
        if let Ok(full) = serde_json::from_slice::<FullResult<T>>(&body) {
            return Ok(ResultParse::Parsed(full.into_result()));
        }
        let head: ResultHead = match serde_json::from_slice(&body) {
            Ok(head) => head,
            Err(source) => return Err(wire::decode_error("task result", status, body, source)),
        };
        Ok(match head.status {
            TaskStatus::Success => match serde_json::from_slice::<TaskSuccess<T>>(&body) {
                Ok(success) => ResultParse::Parsed(TaskResult::Success(success)),
                Err(source) => ResultParse::DataMismatch(wire::decode_error(
                    "task result data",
                    status,
                    body,
                    source,
                )),
            },
            TaskStatus::Failed => ResultParse::Parsed(TaskResult::Failed {
                error: head.error_message(),
            }),
            other => ResultParse::Parsed(TaskResult::InProgress {
                status: other,
                progress: head.progress.filter(|p| p.is_finite()).unwrap_or(0.0),
            }),
        })
    }
}

impl<T: DeserializeOwned> Operation for GetTaskResult<T> {
    type Output = TaskResult<T>;
    const NAME: &'static str = "get_task_result";

    fn request(&self, config: &Config) -> Result<HttpRequest> {
        wire::require_non_empty("task_id", &self.task_id)?;
        let path = format!(
            "/v3/users/me/tasks/{}/result",
            wire::encode_path_segment(&self.task_id)
        );
        wire::request(config, config.base_url(), Method::GET, &path, &[], None)
    }

    fn parse(&self, response: HttpResponse) -> Result<TaskResult<T>> {
        match self.parse_detailed(response)? {
            ResultParse::Parsed(result) => Ok(result),
            ResultParse::DataMismatch(e) => Err(e),
        }
    }

    fn task_id(&self) -> Option<&str> {
        Some(&self.task_id)
    }
}
