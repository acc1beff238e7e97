//! What a wait hands back: the task and its result ([`TaskOutcome`]), and the items of a
//! progress stream ([`WatchEvent`]).

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::models::{TaskStatus, TaskSuccess};

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

impl TaskOutcome {
    /// This outcome with its data decoded as `T` (see [`TaskSuccess::data_as`]).
    pub fn data_as<T: serde::de::DeserializeOwned>(self) -> crate::Result<TaskOutcome<T>> {
        Ok(TaskOutcome {
            task_id: self.task_id,
            result: self.result.data_as()?,
        })
    }
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
