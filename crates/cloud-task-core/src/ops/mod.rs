//! One type per operation of the Cloud Task v3 API.
//!
//! Each implements [`Operation`]: [`Operation::request`] validates its input and builds the
//! `http::Request`; [`Operation::parse`] turns the `http::Response` into the typed output or
//! an [`Error`](crate::Error). Drivers run any operation through one generic path.

use crate::config::Config;
use crate::error::Result;
use crate::{HttpRequest, HttpResponse};

mod create_task;
mod dashboard;
mod get_task;
mod latest_tasks;
mod list_tasks;
mod package_info;
mod pause;
mod task_logs;
pub(crate) mod task_result;

pub use create_task::{CreateTask, CreateTaskRequest};
pub use dashboard::GetDashboard;
pub use get_task::GetTask;
pub use latest_tasks::{GetLatestTasks, MAX_WORKLOAD_IDS, WorkloadIds};
pub use list_tasks::{ListTasks, ListTasksQuery, MAX_PAGE_SIZE};
pub use package_info::GetPackageInfo;
pub use pause::SetTasksPause;
pub use task_logs::GetTaskLogs;
pub use task_result::GetTaskResult;

/// One API operation: how to build its request and how to read its response.
///
/// Calling order: `request` (which validates, and may refuse with
/// [`Error::InvalidInput`](crate::Error::InvalidInput) before anything is sent), send the
/// request with any HTTP stack, then `parse` the response.
///
/// ```
/// use cloud_task_core::{Config, GetDashboard, Operation};
/// let config = Config::builder().api_key("k").build().unwrap();
/// let request = GetDashboard.request(&config).unwrap();
/// assert_eq!(request.uri(), "https://cloud-task.oomol.com/v3/users/me/dashboard");
/// ```
pub trait Operation {
    /// What a successful response parses into.
    type Output;

    /// The operation's name, for logs and tracing spans (e.g. `"create_task"`).
    const NAME: &'static str;

    /// Validates the input and builds the request.
    fn request(&self, config: &Config) -> Result<HttpRequest>;

    /// Parses the response: non-2xx becomes an API error, a bad body a decode error.
    fn parse(&self, response: HttpResponse) -> Result<Self::Output>;

    /// The task this operation is about, for tracing.
    fn task_id(&self) -> Option<&str> {
        None
    }
}
