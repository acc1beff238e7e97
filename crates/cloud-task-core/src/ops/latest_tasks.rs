use http::Method;

use crate::config::Config;
use crate::error::{Error, Result};
use crate::models::LatestTaskItem;
use crate::ops::Operation;
use crate::wire;
use crate::{HttpRequest, HttpResponse};

/// The most workload IDs one `get_latest_tasks` call accepts.
pub const MAX_WORKLOAD_IDS: usize = 50;

/// The workload IDs of `get_latest_tasks`: a list, or one (possibly comma-separated) string.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WorkloadIds {
    /// A list of 1 to 50 IDs; each is trimmed and must not be empty.
    List(Vec<String>),
    /// One string, trimmed, which may already be comma-separated.
    Joined(String),
}

impl WorkloadIds {
    /// The comma-joined value sent as `workloadIDs`, after the official checks: 1 to 50
    /// IDs, each trimmed and not empty. A joined string is held to the same rules as a
    /// list (its items are split at commas and trimmed), so that what the server would
    /// refuse is refused before sending.
    ///
    /// ```
    /// # use cloud_task_core::WorkloadIds;
    /// assert_eq!(WorkloadIds::from(" a, b ").to_param().unwrap(), "a,b");
    /// let many = vec!["w"; 51].join(",");
    /// assert_eq!(
    ///     WorkloadIds::from(many).to_param().unwrap_err().to_string(),
    ///     "workload_ids cannot exceed 50 items"
    /// );
    /// ```
    pub fn to_param(&self) -> Result<String> {
        let empty = match self {
            WorkloadIds::List(ids) => ids.is_empty(),
            WorkloadIds::Joined(s) => s.trim().is_empty(),
        };
        if empty {
            return Err(Error::invalid_input(
                "workload_ids",
                "workload_ids cannot be empty",
            ));
        }
        match self {
            WorkloadIds::List(ids) => join_checked(ids.iter().map(String::as_str)),
            WorkloadIds::Joined(s) => join_checked(s.split(',')),
        }
    }
}

/// Checks and joins at least one workload ID: at most [`MAX_WORKLOAD_IDS`], each trimmed
/// and not empty.
fn join_checked<'a>(ids: impl Iterator<Item = &'a str>) -> Result<String> {
    let field = "workload_ids";
    let trimmed: Vec<&str> = ids.map(str::trim).collect();
    if trimmed.len() > MAX_WORKLOAD_IDS {
        return Err(Error::invalid_input(
            field,
            "workload_ids cannot exceed 50 items",
        ));
    }
    if trimmed.iter().any(|s| s.is_empty()) {
        return Err(Error::invalid_input(
            field,
            "workload_ids must not contain empty items",
        ));
    }
    Ok(trimmed.join(","))
}

impl From<Vec<String>> for WorkloadIds {
    fn from(ids: Vec<String>) -> Self {
        WorkloadIds::List(ids)
    }
}

impl From<Vec<&str>> for WorkloadIds {
    fn from(ids: Vec<&str>) -> Self {
        WorkloadIds::List(ids.into_iter().map(str::to_owned).collect())
    }
}

impl From<&[&str]> for WorkloadIds {
    fn from(ids: &[&str]) -> Self {
        WorkloadIds::List(ids.iter().map(|s| (*s).to_owned()).collect())
    }
}

impl From<&[String]> for WorkloadIds {
    fn from(ids: &[String]) -> Self {
        WorkloadIds::List(ids.to_vec())
    }
}

impl<const N: usize> From<[&str; N]> for WorkloadIds {
    fn from(ids: [&str; N]) -> Self {
        WorkloadIds::List(ids.iter().map(|s| (*s).to_owned()).collect())
    }
}

impl From<&str> for WorkloadIds {
    fn from(s: &str) -> Self {
        WorkloadIds::Joined(s.to_owned())
    }
}

impl From<String> for WorkloadIds {
    fn from(s: String) -> Self {
        WorkloadIds::Joined(s)
    }
}

/// `GET /v3/users/me/tasks/latest?workloadIDs=a,b`: the newest task of each workload.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct GetLatestTasks {
    /// The workloads asked about.
    pub workload_ids: WorkloadIds,
}

impl GetLatestTasks {
    /// The operation for `workload_ids` (a list or a comma-separated string).
    pub fn new(workload_ids: impl Into<WorkloadIds>) -> Self {
        GetLatestTasks {
            workload_ids: workload_ids.into(),
        }
    }
}

impl Operation for GetLatestTasks {
    type Output = Vec<LatestTaskItem>;
    const NAME: &'static str = "get_latest_tasks";

    fn request(&self, config: &Config) -> Result<HttpRequest> {
        let ids = self.workload_ids.to_param()?;
        config
            .api_request(Method::GET, "/v3/users/me/tasks/latest")
            .query("workloadIDs", ids)
            .build()
    }

    fn parse(&self, response: HttpResponse) -> Result<Vec<LatestTaskItem>> {
        wire::parse_json("latest tasks", response)
    }
}
