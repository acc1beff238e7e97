//! Typed models of every request and response body of the Cloud Task v3 API.
//!
//! Field names are snake_case in Rust and exactly the API's names on the wire. Unknown
//! fields are ignored; unknown enum values are kept in an `Unknown` variant, never an
//! error. All models serialise back to the wire shape (the emulator serves them).

use std::fmt;

use serde::de::{self, DeserializeOwned, Deserializer};
use serde::ser::{SerializeMap, Serializer};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// Defines a string enum that keeps unknown values.
macro_rules! string_enum {
    (
        $(#[$meta:meta])*
        $name:ident { $( $(#[$vmeta:meta])* $variant:ident => $wire:literal ),+ $(,)? }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash)]
        pub enum $name {
            $( $(#[$vmeta])* $variant, )+
            /// A value this version of the SDK does not know, kept as sent.
            Unknown(String),
        }

        impl $name {
            /// The wire string.
            pub fn as_str(&self) -> &str {
                match self {
                    $( $name::$variant => $wire, )+
                    $name::Unknown(s) => s,
                }
            }
        }

        impl From<&str> for $name {
            fn from(s: &str) -> Self {
                match s {
                    $( $wire => $name::$variant, )+
                    other => $name::Unknown(other.to_owned()),
                }
            }
        }

        impl From<String> for $name {
            fn from(s: String) -> Self {
                match s.as_str() {
                    $( $wire => $name::$variant, )+
                    _ => $name::Unknown(s),
                }
            }
        }

        impl std::str::FromStr for $name {
            type Err = std::convert::Infallible;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Ok(Self::from(s))
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.pad(self.as_str())
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                struct V;
                impl de::Visitor<'_> for V {
                    type Value = $name;
                    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                        f.write_str("a string")
                    }
                    fn visit_str<E: de::Error>(self, s: &str) -> Result<$name, E> {
                        Ok($name::from(s))
                    }
                    fn visit_string<E: de::Error>(self, s: String) -> Result<$name, E> {
                        Ok($name::from(s))
                    }
                }
                d.deserialize_str(V)
            }
        }
    };
}

string_enum! {
    /// The status of a task. `queued`, `scheduling`, `scheduled`, `running` are in
    /// progress; `success` and `failed` are terminal. An unknown status is treated as in
    /// progress.
    TaskStatus {
        /// Waiting in the user's queue.
        Queued => "queued",
        /// Being assigned to a worker.
        Scheduling => "scheduling",
        /// Assigned, about to start.
        Scheduled => "scheduled",
        /// Running.
        Running => "running",
        /// Finished successfully (terminal).
        Success => "success",
        /// Finished with an error (terminal).
        Failed => "failed",
    }
}

impl TaskStatus {
    /// True for `success` and `failed`.
    pub fn is_terminal(&self) -> bool {
        matches!(self, TaskStatus::Success | TaskStatus::Failed)
    }

    /// True for every non-terminal status, unknown ones included.
    pub fn is_in_progress(&self) -> bool {
        !self.is_terminal()
    }
}

string_enum! {
    /// Who owns a task: the user, or a shared subscription.
    TaskType {
        /// A task of the current user.
        User => "user",
        /// A task run under a shared subscription.
        Shared => "shared",
    }
}

string_enum! {
    /// The kind of workload a task runs. The SDK only creates `serverless` tasks.
    Workload {
        /// A published block run as a serverless function.
        Serverless => "serverless",
        /// An applet.
        Applet => "applet",
        /// An API applet.
        ApiApplet => "api_applet",
        /// A web task.
        WebTask => "web_task",
    }
}

string_enum! {
    /// Why the user's queue is paused.
    PauseType {
        /// Paused by the user.
        User => "user",
        /// Paused by the system.
        System => "system",
        /// Paused for billing reasons.
        Billing => "billing",
    }
}

/// The body of `create_task`, normalised: `type` is always `"serverless"`, `inputValues`
/// is omitted when there are none, and nothing else is ever sent.
///
/// Deserialising accepts (and drops) the legacy `type`, `webhookUrl` and `metadata` keys.
///
/// ```
/// # use cloud_task_core::CreateTaskRequest;
/// let req = CreateTaskRequest::new("@oomol/my-package", "1.0.0", "main")
///     .input("text", "hello");
/// assert_eq!(
///     serde_json::to_string(&req).unwrap(),
///     r#"{"type":"serverless","packageName":"@oomol/my-package","packageVersion":"1.0.0","blockName":"main","inputValues":{"text":"hello"}}"#
/// );
/// ```
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct CreateTaskRequest {
    /// The package, e.g. `@oomol/my-package`.
    pub package_name: String,
    /// The package version, e.g. `1.0.0`.
    pub package_version: String,
    /// The block to run, e.g. `main`.
    pub block_name: String,
    /// The block's inputs; `None` sends no `inputValues` key.
    #[serde(default)]
    pub input_values: Option<Map<String, Value>>,
}

impl CreateTaskRequest {
    /// A request to run `block_name` of `package_name@package_version` without inputs.
    pub fn new(
        package_name: impl Into<String>,
        package_version: impl Into<String>,
        block_name: impl Into<String>,
    ) -> Self {
        CreateTaskRequest {
            package_name: package_name.into(),
            package_version: package_version.into(),
            block_name: block_name.into(),
            input_values: None,
        }
    }

    /// Sets one input value.
    pub fn input(mut self, key: impl Into<String>, value: impl Into<Value>) -> Self {
        self.input_values
            .get_or_insert_with(Map::new)
            .insert(key.into(), value.into());
        self
    }

    /// Replaces all input values.
    pub fn input_values(mut self, values: Map<String, Value>) -> Self {
        self.input_values = Some(values);
        self
    }

    /// Replaces all input values with any value that serialises to a JSON object.
    pub fn inputs<T: Serialize>(mut self, values: &T) -> crate::Result<Self> {
        match serde_json::to_value(values) {
            Ok(Value::Object(map)) => {
                self.input_values = Some(map);
                Ok(self)
            }
            Ok(other) => Err(crate::Error::invalid_input(
                "input_values",
                format!(
                    "input_values must be a JSON object, not {}",
                    json_kind(&other)
                ),
            )),
            Err(e) => Err(crate::Error::invalid_input(
                "input_values",
                format!("input_values could not be encoded as JSON: {e}"),
            )),
        }
    }
}

pub(crate) fn json_kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

impl Serialize for CreateTaskRequest {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let len = if self.input_values.is_some() { 5 } else { 4 };
        let mut map = s.serialize_map(Some(len))?;
        map.serialize_entry("type", "serverless")?;
        map.serialize_entry("packageName", &self.package_name)?;
        map.serialize_entry("packageVersion", &self.package_version)?;
        map.serialize_entry("blockName", &self.block_name)?;
        if let Some(values) = &self.input_values {
            map.serialize_entry("inputValues", values)?;
        }
        map.end()
    }
}

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
}

fn default_task_type() -> TaskType {
    TaskType::User
}

fn default_workload() -> Workload {
    Workload::Serverless
}

fn empty_object() -> Value {
    Value::Object(Map::new())
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

/// The state of a task's result, tagged on the wire by `status`.
///
/// `T` is the type of `resultData`; the default accepts any JSON.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum TaskResult<T = Value> {
    /// Not finished yet (`queued`, `scheduling`, `scheduled`, `running`, or unknown).
    InProgress {
        /// The current status.
        status: TaskStatus,
        /// Progress, 0 to 100.
        progress: f64,
    },
    /// Finished successfully.
    Success(TaskSuccess<T>),
    /// Finished with an error.
    Failed {
        /// The backend's failure message.
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
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct TaskSuccess<T = Value> {
    /// Where the result can be downloaded, when the block stored one.
    #[serde(rename = "resultURL", default)]
    pub result_url: Option<String>,
    /// The block's outputs (usually a list of objects); `None` when absent.
    #[serde(
        rename = "resultData",
        default = "none",
        skip_serializing_if = "Option::is_none"
    )]
    pub result_data: Option<T>,
}

fn none<T>() -> Option<T> {
    None
}

impl<T> TaskSuccess<T> {
    /// Builds a success (used by servers such as the emulator, and by tests).
    pub fn new(result_url: Option<String>, result_data: Option<T>) -> Self {
        TaskSuccess {
            result_url,
            result_data,
        }
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
            TaskResult::Success(success) => {
                let len = if success.result_data.is_some() { 3 } else { 2 };
                let mut map = s.serialize_map(Some(len))?;
                map.serialize_entry("status", "success")?;
                map.serialize_entry("resultURL", &success.result_url)?;
                if let Some(data) = &success.result_data {
                    map.serialize_entry("resultData", data)?;
                }
                map.end()
            }
            TaskResult::Failed { error } => {
                let mut map = s.serialize_map(Some(2))?;
                map.serialize_entry("status", "failed")?;
                map.serialize_entry("error", error)?;
                map.end()
            }
        }
    }
}

/// The status-level part of a task result, decoded before `resultData`.
#[derive(Deserialize)]
pub(crate) struct ResultHead {
    pub(crate) status: TaskStatus,
    #[serde(default)]
    pub(crate) progress: Option<f64>,
    #[serde(default)]
    pub(crate) error: Option<Value>,
}

impl ResultHead {
    /// The failure message, whether the server sent a string or something else.
    pub(crate) fn error_message(&self) -> Option<String> {
        Self::error_text(self.error.as_ref())
    }

    /// The failure message of an `error` field of any JSON type.
    pub(crate) fn error_text(error: Option<&Value>) -> Option<String> {
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
}

impl<'de, T: DeserializeOwned> Deserialize<'de> for TaskResult<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let value = Value::deserialize(d)?;
        let head = ResultHead::deserialize(&value).map_err(de::Error::custom)?;
        result_from_head(head, value).map_err(de::Error::custom)
    }
}

/// Completes a task result from its decoded head and the whole body.
pub(crate) fn result_from_head<T: DeserializeOwned>(
    head: ResultHead,
    value: Value,
) -> Result<TaskResult<T>, serde_json::Error> {
    Ok(match head.status {
        TaskStatus::Success => TaskResult::Success(TaskSuccess::deserialize(value)?),
        TaskStatus::Failed => TaskResult::Failed {
            error: head.error_message(),
        },
        status => TaskResult::InProgress {
            status,
            progress: head.progress.filter(|p| p.is_finite()).unwrap_or(0.0),
        },
    })
}

/// The user's limits, queue counts and pause state.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Dashboard {
    /// The user's limits.
    pub limits: DashboardLimits,
    /// How many tasks are in each in-progress state.
    pub count: DashboardCount,
    /// The queue's pause state.
    pub pause: PauseState,
}

impl Dashboard {
    /// Builds a dashboard (used by servers such as the emulator).
    pub fn new(limits: DashboardLimits, count: DashboardCount, pause: PauseState) -> Self {
        Dashboard {
            limits,
            count,
            pause,
        }
    }
}

/// The user's limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct DashboardLimits {
    /// How many tasks may run at once.
    #[serde(rename = "maxConcurrency", default)]
    pub max_concurrency: u64,
    /// How many tasks may wait in the queue.
    #[serde(rename = "maxQueueSize", default)]
    pub max_queue_size: u64,
}

impl DashboardLimits {
    /// Builds the limits.
    pub fn new(max_concurrency: u64, max_queue_size: u64) -> Self {
        DashboardLimits {
            max_concurrency,
            max_queue_size,
        }
    }
}

/// How many of the user's tasks are in each in-progress state.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct DashboardCount {
    /// Queued tasks.
    #[serde(default)]
    pub queued: u64,
    /// Tasks being scheduled.
    #[serde(default)]
    pub scheduling: u64,
    /// Scheduled tasks.
    #[serde(default)]
    pub scheduled: u64,
    /// Running tasks.
    #[serde(default)]
    pub running: u64,
}

impl DashboardCount {
    /// Builds the counts.
    pub fn new(queued: u64, scheduling: u64, scheduled: u64, running: u64) -> Self {
        DashboardCount {
            queued,
            scheduling,
            scheduled,
            running,
        }
    }
}

/// The queue's pause state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct PauseState {
    /// True while the queue is paused.
    #[serde(default)]
    pub paused: bool,
    /// Why it is paused.
    #[serde(rename = "type", default)]
    pub pause_type: Option<PauseType>,
    /// Whether the user may resume it.
    #[serde(rename = "canResume", default)]
    pub can_resume: bool,
}

impl PauseState {
    /// Builds a pause state.
    pub fn new(paused: bool, pause_type: Option<PauseType>, can_resume: bool) -> Self {
        PauseState {
            paused,
            pause_type,
            can_resume,
        }
    }
}

/// The answer to pause and resume.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct PauseResponse {
    /// The pause type after the call; `None` when the queue is running.
    #[serde(rename = "pauseType", default)]
    pub pause_type: Option<PauseType>,
}

impl PauseResponse {
    /// Builds the response.
    pub fn new(pause_type: Option<PauseType>) -> Self {
        PauseResponse { pause_type }
    }
}

/// One log entry: a flat object whose values are strings. Nested JSON arrives
/// stringified; [`LogEntry::parsed`] parses it back.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct LogEntry(pub Map<String, Value>);

impl LogEntry {
    /// The value of `key` when it is a string.
    pub fn get_str(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(Value::as_str)
    }

    /// The value of `key`, parsed as JSON when it is a string holding JSON, else as is.
    pub fn parsed(&self, key: &str) -> Option<Value> {
        let value = self.0.get(key)?;
        if let Value::String(s) = value {
            let t = s.trim_start();
            if (t.starts_with('{') || t.starts_with('['))
                && let Ok(v) = serde_json::from_str(s)
            {
                return Some(v);
            }
        }
        Some(value.clone())
    }

    /// The underlying map.
    pub fn as_map(&self) -> &Map<String, Value> {
        &self.0
    }
}

/// One page of a task's logs.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct TaskLogs {
    /// The entries on this page; empty past the last page.
    #[serde(default)]
    pub logs: Vec<LogEntry>,
}

impl TaskLogs {
    /// Builds a page of logs.
    pub fn new(logs: Vec<LogEntry>) -> Self {
        TaskLogs { logs }
    }
}

/// The result of `create_and_wait`: the task ID and its successful result.
///
/// ```
/// # use cloud_task_core::{TaskOutcome, TaskSuccess};
/// let outcome = TaskOutcome::new("t-1", TaskSuccess::<serde_json::Value>::new(None, None));
/// let TaskOutcome { task_id, result } = outcome;
/// assert_eq!(task_id, "t-1");
/// assert!(result.result_data.is_none());
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TaskOutcome<T = Value> {
    /// The task that ran.
    #[serde(rename = "taskID")]
    pub task_id: String,
    /// Its successful result.
    pub result: TaskSuccess<T>,
}

impl<T> TaskOutcome<T> {
    /// Pairs a task ID with its result.
    pub fn new(task_id: impl Into<String>, result: TaskSuccess<T>) -> Self {
        TaskOutcome {
            task_id: task_id.into(),
            result,
        }
    }
}

/// One item of a `watch` stream: a change of status or progress, then the end.
///
/// A `watch` yields `Progress` events without repeats (a poll that reports the same status
/// and progress as the previous one yields nothing), then one `Finished` with the success
/// result. A failed task, a timeout or any other error ends the stream with that error
/// instead.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum WatchEvent<T = Value> {
    /// The task's status or progress changed.
    Progress {
        /// The in-progress status.
        status: TaskStatus,
        /// Progress, 0 to 100.
        progress: f64,
    },
    /// The task succeeded; this is the last event.
    Finished(TaskSuccess<T>),
}
