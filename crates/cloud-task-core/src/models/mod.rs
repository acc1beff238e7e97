//! Typed models of the response bodies of the Cloud Task v3 API, by topic.
//!
//! Field names are snake_case in Rust and exactly the API's names on the wire. Unknown
//! fields are ignored; unknown enum values are kept in an `Unknown` variant, never an
//! error. All models serialise back to the wire shape (the emulator serves them). The
//! parameters of each request live beside their operation ([`crate::ops`]).
//!
//! | topic | types |
//! |---|---|
//! | string enums | [`TaskStatus`], [`TaskType`], [`Workload`], [`PauseType`] |
//! | tasks | [`CreateTaskResponse`], [`TaskListItem`], [`TaskPage`], [`LatestTaskItem`], [`TaskDetail`] |
//! | results | [`TaskResult`], [`TaskSuccess`] |
//! | the queue | [`Dashboard`], [`PauseState`], [`PauseResponse`] |
//! | logs | [`TaskLogs`], [`LogEntry`], typed as [`LogEvent`] (with the [`BlockPath`] it comes from) |
//! | packages (the registry) | [`PackageInfo`], [`BlockInfo`], [`HandleDef`] |

use serde_json::{Map, Value};

mod dashboard;
mod enums;
mod events;
mod logs;
mod package;
pub(crate) mod result;
mod task;

pub use dashboard::{Dashboard, DashboardCount, DashboardLimits, PauseResponse, PauseState};
pub use enums::{PauseType, TaskStatus, TaskType, Workload};
pub use events::{BlockPath, LogEvent, StackLevel};
pub use logs::{LogEntry, TaskLogs};
pub use package::{BlockInfo, HandleDef, PackageInfo};
pub use result::{TaskResult, TaskSuccess};
pub use task::{
    CreateTaskResponse, LatestTaskItem, SharedTaskDetail, TaskDetail, TaskListItem, TaskPage,
    UserTaskDetail,
};

/// `None`, as a serde default for `Option<T>` fields of generic models (`#[serde(default)]`
/// would ask `T: Default`).
pub(crate) fn none<T>() -> Option<T> {
    None
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

/// What kind of JSON value `v` is, for messages ("a string", "an array", ...).
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
