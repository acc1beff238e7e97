//! Tasks as the API describes them: the create answer, list items and pages, the latest
//! task of a workload, and a task's detail.

use serde::de::{self, Deserializer};
use serde::ser::Serializer;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{TaskStatus, TaskType, Workload, default_task_type, default_workload, empty_object};

/// The answer to `create_task`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct CreateTaskResponse {
    /// The new task's ID.
    #[serde(rename = "taskID")]
    pub task_id: String,
}

impl CreateTaskResponse {
    /// Builds the response (used by servers such as the emulator).
    pub fn new(task_id: impl Into<String>) -> Self {
        CreateTaskResponse {
            task_id: task_id.into(),
        }
    }
}

/// A task as listed by `list_tasks`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct TaskListItem {
    /// The task ID.
    #[serde(rename = "taskID")]
    pub task_id: String,
    /// `user` or `shared`.
    #[serde(rename = "taskType", default = "default_task_type")]
    pub task_type: TaskType,
    /// The owner's ID.
    #[serde(rename = "ownerID", default)]
    pub owner_id: String,
    /// The subscription, for shared tasks.
    #[serde(rename = "subscriptionID", default)]
    pub subscription_id: Option<String>,
    /// The package ID, when known.
    #[serde(rename = "packageID", default)]
    pub package_id: Option<String>,
    /// The block name (seen in other OOMOL clients; absent from older servers).
    #[serde(rename = "blockName", default, skip_serializing_if = "Option::is_none")]
    pub block_name: Option<String>,
    /// The current status.
    pub status: TaskStatus,
    /// Progress, 0 to 100.
    #[serde(default)]
    pub progress: f64,
    /// The workload kind.
    #[serde(default = "default_workload")]
    pub workload: Workload,
    /// The workload ID (stable per package, version and block).
    #[serde(rename = "workloadID", default)]
    pub workload_id: String,
    /// Where the result can be downloaded, once there is one.
    #[serde(rename = "resultURL", default)]
    pub result_url: Option<String>,
    /// The failure message of a failed task.
    #[serde(rename = "failedMessage", default)]
    pub failed_message: Option<String>,
    /// Creation time, epoch milliseconds.
    #[serde(rename = "createdAt", default)]
    pub created_at: i64,
    /// Last update time, epoch milliseconds.
    #[serde(rename = "updatedAt", default)]
    pub updated_at: i64,
    /// When the task started running, epoch milliseconds.
    #[serde(rename = "startTime", default)]
    pub start_time: Option<i64>,
    /// When the task ended, epoch milliseconds.
    #[serde(rename = "endTime", default)]
    pub end_time: Option<i64>,
    /// The scheduler's own data about the task.
    #[serde(rename = "schedulerPayload", default = "empty_object")]
    pub scheduler_payload: Value,
}

impl TaskListItem {
    /// A `user` task of the `serverless` workload with only its ID and status set, the
    /// other fields at their defaults (used by servers such as the emulator, which then
    /// set the public fields).
    ///
    /// ```
    /// # use cloud_task_core::{TaskListItem, TaskStatus};
    /// let mut item = TaskListItem::new("t-1", TaskStatus::Queued);
    /// item.created_at = 1_700_000_000_000;
    /// let json = serde_json::to_value(&item).unwrap();
    /// assert_eq!(json["taskType"], "user");
    /// assert_eq!(json["workload"], "serverless");
    /// assert_eq!(serde_json::from_value::<TaskListItem>(json).unwrap(), item);
    /// ```
    pub fn new(task_id: impl Into<String>, status: TaskStatus) -> Self {
        TaskListItem {
            task_id: task_id.into(),
            task_type: default_task_type(),
            owner_id: String::new(),
            subscription_id: None,
            package_id: None,
            block_name: None,
            status,
            progress: 0.0,
            workload: default_workload(),
            workload_id: String::new(),
            result_url: None,
            failed_message: None,
            created_at: 0,
            updated_at: 0,
            start_time: None,
            end_time: None,
            scheduler_payload: empty_object(),
        }
    }

    /// The inputs it was created with, as its scheduler payload carries them
    /// (`schedulerPayload.inputValues`), when it does.
    pub fn input_values(&self) -> Option<&Value> {
        payload_field(&self.scheduler_payload, "inputValues")
    }
}

/// A field of a scheduler payload (`inputValues`, `blockName`, ...), when present and
/// not `null`.
fn payload_field<'a>(payload: &'a Value, key: &str) -> Option<&'a Value> {
    payload.get(key).filter(|value| !value.is_null())
}

/// One page of `list_tasks`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct TaskPage {
    /// The tasks on this page, newest first.
    #[serde(default)]
    pub tasks: Vec<TaskListItem>,
    /// The token of the next page; `None` on the last page.
    #[serde(rename = "nextToken", default)]
    pub next_token: Option<String>,
}

impl TaskPage {
    /// Builds a page (used by servers such as the emulator).
    pub fn new(tasks: Vec<TaskListItem>, next_token: Option<String>) -> Self {
        TaskPage { tasks, next_token }
    }
}

/// The newest task of a workload, from `get_latest_tasks`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct LatestTaskItem {
    /// The task ID.
    #[serde(rename = "taskID")]
    pub task_id: String,
    /// The workload ID it was asked for.
    #[serde(rename = "workloadID", default)]
    pub workload_id: String,
    /// The current status.
    pub status: TaskStatus,
    /// Progress, 0 to 100.
    #[serde(default)]
    pub progress: f64,
    /// Creation time, epoch milliseconds.
    #[serde(rename = "createdAt", default)]
    pub created_at: i64,
    /// When the task started, epoch milliseconds.
    #[serde(rename = "startTime", default)]
    pub start_time: Option<i64>,
    /// When the task ended, epoch milliseconds.
    #[serde(rename = "endTime", default)]
    pub end_time: Option<i64>,
}

impl LatestTaskItem {
    /// An item with only its ID and status set, the other fields at their defaults (used
    /// by servers such as the emulator, which then set the public fields).
    pub fn new(task_id: impl Into<String>, status: TaskStatus) -> Self {
        LatestTaskItem {
            task_id: task_id.into(),
            workload_id: String::new(),
            status,
            progress: 0.0,
            created_at: 0,
            start_time: None,
            end_time: None,
        }
    }
}

/// The details of a user's own task (`taskType: "user"`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct UserTaskDetail {
    /// The task ID.
    #[serde(rename = "taskID")]
    pub task_id: String,
    /// The current status.
    pub status: TaskStatus,
    /// Progress, 0 to 100.
    #[serde(default)]
    pub progress: f64,
    /// The workload kind.
    #[serde(default = "default_workload")]
    pub workload: Workload,
    /// The workload ID.
    #[serde(rename = "workloadID", default)]
    pub workload_id: String,
    /// The scheduler's own data about the task.
    #[serde(rename = "schedulerPayload", default = "empty_object")]
    pub scheduler_payload: Value,
    /// Creation time, epoch milliseconds.
    #[serde(rename = "createdAt", default)]
    pub created_at: i64,
    /// When the task started, epoch milliseconds.
    #[serde(rename = "startTime", default)]
    pub start_time: Option<i64>,
    /// When the task ended, epoch milliseconds.
    #[serde(rename = "endTime", default)]
    pub end_time: Option<i64>,
    /// Where the result can be downloaded.
    #[serde(rename = "resultURL", default)]
    pub result_url: Option<String>,
    /// The failure message of a failed task.
    #[serde(rename = "failedMessage", default)]
    pub failed_message: Option<String>,
}

impl UserTaskDetail {
    /// A `serverless` detail with only its ID and status set, the other fields at their
    /// defaults (used by servers such as the emulator, which then set the public fields).
    pub fn new(task_id: impl Into<String>, status: TaskStatus) -> Self {
        UserTaskDetail {
            task_id: task_id.into(),
            status,
            progress: 0.0,
            workload: default_workload(),
            workload_id: String::new(),
            scheduler_payload: empty_object(),
            created_at: 0,
            start_time: None,
            end_time: None,
            result_url: None,
            failed_message: None,
        }
    }
}

/// The details of a task run under a shared subscription (`taskType: "shared"`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct SharedTaskDetail {
    /// The task ID.
    #[serde(rename = "taskID")]
    pub task_id: String,
    /// The package ID.
    #[serde(rename = "packageID", default)]
    pub package_id: Option<String>,
    /// The subscription ID.
    #[serde(rename = "subscriptionID", default)]
    pub subscription_id: Option<String>,
    /// The current status.
    pub status: TaskStatus,
    /// Progress, 0 to 100.
    #[serde(default)]
    pub progress: f64,
    /// The scheduler's own data about the task.
    #[serde(rename = "schedulerPayload", default = "empty_object")]
    pub scheduler_payload: Value,
    /// Creation time, epoch milliseconds.
    #[serde(rename = "createdAt", default)]
    pub created_at: i64,
    /// When the task started, epoch milliseconds.
    #[serde(rename = "startTime", default)]
    pub start_time: Option<i64>,
    /// When the task ended, epoch milliseconds.
    #[serde(rename = "endTime", default)]
    pub end_time: Option<i64>,
    /// Where the result can be downloaded.
    #[serde(rename = "resultURL", default)]
    pub result_url: Option<String>,
    /// The failure message of a failed task.
    #[serde(rename = "failedMessage", default)]
    pub failed_message: Option<String>,
}

/// The details of one task, tagged on the wire by `taskType`.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum TaskDetail {
    /// A user's own task.
    User(UserTaskDetail),
    /// A task under a shared subscription.
    Shared(SharedTaskDetail),
    /// A `taskType` this SDK does not know; the fields that every detail has are parsed,
    /// the whole body is kept in `raw`.
    Unknown {
        /// The unknown `taskType`.
        task_type: String,
        /// The task ID.
        task_id: String,
        /// The status.
        status: TaskStatus,
        /// Progress, 0 to 100.
        progress: f64,
        /// The whole body as received.
        raw: Value,
    },
}

impl TaskDetail {
    /// The task ID.
    pub fn task_id(&self) -> &str {
        match self {
            TaskDetail::User(d) => &d.task_id,
            TaskDetail::Shared(d) => &d.task_id,
            TaskDetail::Unknown { task_id, .. } => task_id,
        }
    }

    /// The task type.
    pub fn task_type(&self) -> TaskType {
        match self {
            TaskDetail::User(_) => TaskType::User,
            TaskDetail::Shared(_) => TaskType::Shared,
            TaskDetail::Unknown { task_type, .. } => TaskType::from(task_type.as_str()),
        }
    }

    /// The status.
    pub fn status(&self) -> &TaskStatus {
        match self {
            TaskDetail::User(d) => &d.status,
            TaskDetail::Shared(d) => &d.status,
            TaskDetail::Unknown { status, .. } => status,
        }
    }

    /// Progress, 0 to 100.
    pub fn progress(&self) -> f64 {
        match self {
            TaskDetail::User(d) => d.progress,
            TaskDetail::Shared(d) => d.progress,
            TaskDetail::Unknown { progress, .. } => *progress,
        }
    }

    /// The scheduler's own data about the task (`None` for an unknown task type).
    pub fn scheduler_payload(&self) -> Option<&Value> {
        match self {
            TaskDetail::User(d) => Some(&d.scheduler_payload),
            TaskDetail::Shared(d) => Some(&d.scheduler_payload),
            TaskDetail::Unknown { .. } => None,
        }
    }

    /// The inputs it was created with (`schedulerPayload.inputValues`), when shown.
    ///
    /// ```
    /// # use cloud_task_core::TaskDetail;
    /// let detail: TaskDetail = serde_json::from_value(serde_json::json!({
    ///     "taskType": "user", "taskID": "t-1", "status": "running", "progress": 5,
    ///     "workload": "serverless", "workloadID": "w", "createdAt": 1,
    ///     "schedulerPayload": {"blockName": "main", "inputValues": {"text": "hi"}},
    /// }))?;
    /// assert_eq!(detail.input_values().unwrap()["text"], "hi");
    /// assert_eq!(detail.scheduled_block(), Some("main"));
    /// # Ok::<(), serde_json::Error>(())
    /// ```
    pub fn input_values(&self) -> Option<&Value> {
        payload_field(self.scheduler_payload()?, "inputValues")
    }

    /// The block it runs (`schedulerPayload.blockName`), when shown.
    pub fn scheduled_block(&self) -> Option<&str> {
        payload_field(self.scheduler_payload()?, "blockName")?.as_str()
    }
}

impl Serialize for TaskDetail {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        struct Tagged<'a, T> {
            #[serde(rename = "taskType")]
            task_type: &'a str,
            #[serde(flatten)]
            inner: &'a T,
        }
        match self {
            TaskDetail::User(d) => Tagged {
                task_type: "user",
                inner: d,
            }
            .serialize(s),
            TaskDetail::Shared(d) => Tagged {
                task_type: "shared",
                inner: d,
            }
            .serialize(s),
            TaskDetail::Unknown { raw, .. } => raw.serialize(s),
        }
    }
}

impl<'de> Deserialize<'de> for TaskDetail {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let value = Value::deserialize(d)?;
        let task_type = value
            .get("taskType")
            .and_then(Value::as_str)
            .unwrap_or("user")
            .to_owned();
        match task_type.as_str() {
            "user" => serde_json::from_value(value)
                .map(TaskDetail::User)
                .map_err(de::Error::custom),
            "shared" => serde_json::from_value(value)
                .map(TaskDetail::Shared)
                .map_err(de::Error::custom),
            _ => {
                #[derive(Deserialize)]
                struct Common {
                    #[serde(rename = "taskID")]
                    task_id: String,
                    status: TaskStatus,
                    #[serde(default)]
                    progress: f64,
                }
                let common: Common = Common::deserialize(&value).map_err(de::Error::custom)?;
                Ok(TaskDetail::Unknown {
                    task_type,
                    task_id: common.task_id,
                    status: common.status,
                    progress: common.progress,
                    raw: value,
                })
            }
        }
    }
}
