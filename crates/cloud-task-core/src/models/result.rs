//! A task's result (in progress, success or failed) and the one decoder every path uses:
//! [`GetTaskResult`](crate::GetTaskResult), the poller, and `Deserialize` of [`TaskResult`].

use serde::de::{DeserializeOwned, Deserializer, IgnoredAny};
use serde::ser::{SerializeMap, Serializer};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{TaskStatus, none};

/// The state of a task's result, tagged on the wire by `status`.
///
/// `T` is the type of `resultData`; the default accepts any JSON.
///
/// ```
/// # use cloud_task_core::{TaskResult, TaskStatus};
/// let running: TaskResult = serde_json::from_str(r#"{"status":"running","progress":42.5}"#)?;
/// assert_eq!(running, TaskResult::InProgress { status: TaskStatus::Running, progress: 42.5 });
/// let failed: TaskResult = serde_json::from_str(r#"{"status":"failed","error":"boom"}"#)?;
/// assert_eq!(failed, TaskResult::Failed { error: Some("boom".into()) });
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum TaskResult<T = Value> {
    /// Not finished yet (`queued`, `scheduling`, `scheduled`, `running`, or unknown).
    InProgress {
        /// The current status.
        status: TaskStatus,
        /// Progress, 0 to 100 (0 when the server sent none, or not a finite number).
        progress: f64,
    },
    /// Finished successfully.
    Success(TaskSuccess<T>),
    /// Finished with an error.
    Failed {
        /// The backend's failure message: the `error` string, the `message` of an `error`
        /// object, or any other `error` value as JSON text.
        error: Option<String>,
    },
}

impl<T> TaskResult<T> {
    /// The status this result reports.
    pub fn status(&self) -> TaskStatus {
        match self {
            TaskResult::InProgress { status, .. } => status.clone(),
            TaskResult::Success(_) => TaskStatus::Success,
            TaskResult::Failed { .. } => TaskStatus::Failed,
        }
    }

    /// True once the task has succeeded or failed.
    pub fn is_terminal(&self) -> bool {
        !matches!(self, TaskResult::InProgress { .. })
    }
}

/// The result of a successful task.
///
/// It serialises as the official result object, `{"status": "success", "resultURL": ...,
/// "resultData": ...}` (`resultData` left out when `None`); `status` is optional when
/// deserialising.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[non_exhaustive]
pub struct TaskSuccess<T = Value> {
    /// Where the result can be downloaded, when the block stored one.
    #[serde(rename = "resultURL", default)]
    pub result_url: Option<String>,
    /// The block's outputs (usually a list of objects); `None` when absent.
    #[serde(rename = "resultData", default = "none")]
    pub result_data: Option<T>,
}

impl TaskSuccess<Value> {
    /// This result with its data decoded as `T` (your own type of the block's outputs),
    /// the one way to get typed data from any call that answers a result.
    ///
    /// Fails with [`Error::Decode`](crate::Error::Decode) (`what`: `task result data`,
    /// with the data as JSON) when the data does not fit `T`.
    ///
    /// ```
    /// # use cloud_task_core::TaskSuccess;
    /// #[derive(serde::Deserialize)]
    /// struct Echo { text: String }
    ///
    /// let success: TaskSuccess = TaskSuccess::new(None, Some(serde_json::json!([{"text": "hi"}])));
    /// let typed = success.data_as::<Vec<Echo>>()?;
    /// assert_eq!(typed.result_data.unwrap()[0].text, "hi");
    /// # Ok::<(), cloud_task_core::Error>(())
    /// ```
    pub fn data_as<T: DeserializeOwned>(self) -> crate::Result<TaskSuccess<T>> {
        let result_data = match self.result_data {
            None => None,
            Some(value) => Some(T::deserialize(&value).map_err(|source| {
                let body = serde_json::to_vec(&value).unwrap_or_default();
                crate::error::decode_error("task result data", http::StatusCode::OK, body, source)
            })?),
        };
        Ok(TaskSuccess {
            result_url: self.result_url,
            result_data,
        })
    }
}

impl TaskResult<Value> {
    /// This result with the data of a success decoded as `T` (see
    /// [`TaskSuccess::data_as`]).
    pub fn data_as<T: DeserializeOwned>(self) -> crate::Result<TaskResult<T>> {
        Ok(match self {
            TaskResult::InProgress { status, progress } => {
                TaskResult::InProgress { status, progress }
            }
            TaskResult::Success(success) => TaskResult::Success(success.data_as()?),
            TaskResult::Failed { error } => TaskResult::Failed { error },
        })
    }
}

impl<T> TaskSuccess<T> {
    /// Builds a success (used by servers such as the emulator, and by tests).
    pub fn new(result_url: Option<String>, result_data: Option<T>) -> Self {
        TaskSuccess {
            result_url,
            result_data,
        }
    }

    /// The URL of the result file of task `task_id` (this success), or
    /// [`Error::NoResultFile`](crate::Error::NoResultFile) naming it when the block stored
    /// none (`resultURL` null or empty).
    ///
    /// ```
    /// # use cloud_task_core::{Error, TaskSuccess};
    /// let without: TaskSuccess = TaskSuccess::new(None, None);
    /// assert!(matches!(without.require_result_url("t-1"), Err(Error::NoResultFile(_))));
    /// let with: TaskSuccess = TaskSuccess::new(Some("https://files/x".into()), None);
    /// assert_eq!(with.require_result_url("t-1").unwrap(), "https://files/x");
    /// ```
    pub fn require_result_url(&self, task_id: &str) -> crate::Result<&str> {
        match self.result_url.as_deref().map(str::trim) {
            Some(url) if !url.is_empty() => Ok(url),
            _ => Err(crate::Error::NoResultFile(
                crate::error::NoResultFileError::new(task_id),
            )),
        }
    }
}

impl<T: Serialize> Serialize for TaskSuccess<T> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let len = if self.result_data.is_some() { 3 } else { 2 };
        let mut map = s.serialize_map(Some(len))?;
        map.serialize_entry("status", "success")?;
        map.serialize_entry("resultURL", &self.result_url)?;
        if let Some(data) = &self.result_data {
            map.serialize_entry("resultData", data)?;
        }
        map.end()
    }
}

impl<T: Serialize> Serialize for TaskResult<T> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            TaskResult::InProgress { status, progress } => {
                let mut map = s.serialize_map(Some(2))?;
                map.serialize_entry("status", status)?;
                map.serialize_entry("progress", progress)?;
                map.end()
            }
            TaskResult::Success(success) => success.serialize(s),
            TaskResult::Failed { error } => {
                let mut map = s.serialize_map(Some(2))?;
                map.serialize_entry("status", "failed")?;
                map.serialize_entry("error", error)?;
                map.end()
            }
        }
    }
}

/// Every field of any result shape, read in one pass: the one decoder of a task result.
///
/// With `T = IgnoredAny` it reads the status-level fields of a body whose `resultData`
/// does not fit the caller's type, to tell such a body apart from a broken one.
#[derive(Deserialize)]
struct Wire<T> {
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

impl<T> Wire<T> {
    fn into_result(self) -> TaskResult<T> {
        match self.status {
            TaskStatus::Success => {
                TaskResult::Success(TaskSuccess::new(self.result_url, self.result_data))
            }
            TaskStatus::Failed => TaskResult::Failed {
                error: error_text(self.error.as_ref()),
            },
            status => TaskResult::InProgress {
                status,
                progress: self.progress.filter(|p| p.is_finite()).unwrap_or(0.0),
            },
        }
    }
}

/// The failure message of an `error` field of any JSON type.
fn error_text(error: Option<&Value>) -> Option<String> {
    match error {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(Value::Object(o)) => o
            .get("message")
            .and_then(Value::as_str)
            .map(str::to_owned)
            .or_else(|| Some(Value::Object(o.clone()).to_string())),
        Some(other) => Some(other.to_string()),
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for TaskResult<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Wire::<T>::deserialize(d).map(Wire::into_result)
    }
}

/// How far a result body could be read.
pub(crate) enum Decoded<T> {
    /// Read whole.
    Result(TaskResult<T>),
    /// The task succeeded, but its `resultData` does not decode as `T`: reading the result
    /// again cannot help.
    DataMismatch(serde_json::Error),
    /// Not a task result at all (worth reading again while waiting).
    Broken(serde_json::Error),
}

/// Decodes a result body in one pass; only when that fails does it read the body again,
/// to tell a success whose data does not fit `T` from a broken body.
pub(crate) fn decode<T: DeserializeOwned>(body: &[u8]) -> Decoded<T> {
    let error = match serde_json::from_slice::<Wire<T>>(body) {
        Ok(wire) => return Decoded::Result(wire.into_result()),
        Err(error) => error,
    };
    match serde_json::from_slice::<Wire<IgnoredAny>>(body) {
        Ok(wire) if wire.status == TaskStatus::Success => Decoded::DataMismatch(error),
        // Not a success: `resultData` means nothing, whatever it holds.
        Ok(wire) => Decoded::Result(
            Wire::<T> {
                status: wire.status,
                progress: wire.progress,
                error: wire.error,
                result_url: None,
                result_data: None,
            }
            .into_result(),
        ),
        Err(_) => Decoded::Broken(error),
    }
}

/// The detail of a failed result as the official SDKs keep it: the `error` string when the
/// body has a non-empty one, else the whole body exactly as received.
pub(crate) fn failure_detail(body: &[u8]) -> Option<Value> {
    let value: Value = serde_json::from_slice(body).ok()?;
    match value.get("error") {
        Some(Value::String(error)) if !error.is_empty() => Some(Value::String(error.clone())),
        _ => Some(value),
    }
}
