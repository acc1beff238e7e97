use http::Method;

use crate::config::Config;
use crate::error::{Error, Result};
use crate::models::{TaskPage, TaskStatus, TaskType, Workload};
use crate::ops::Operation;
use crate::wire;
use crate::{HttpRequest, HttpResponse};

/// The largest page `list_tasks` accepts.
pub const MAX_PAGE_SIZE: u32 = 100;

/// Filters and paging of `list_tasks`. Every parameter is sent only when set and non-empty.
///
/// ```
/// # use cloud_task_core::{ListTasksQuery, TaskStatus};
/// let query = ListTasksQuery::new().size(20).status(TaskStatus::Running);
/// assert_eq!(query.size, Some(20));
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ListTasksQuery {
    /// Page size, 1 to 100 (the server's default when `None`).
    pub size: Option<u32>,
    /// The previous page's `nextToken`.
    pub next_token: Option<String>,
    /// Only tasks with this status.
    pub status: Option<TaskStatus>,
    /// Only `user` or `shared` tasks.
    pub task_type: Option<TaskType>,
    /// Only this workload kind.
    pub workload: Option<Workload>,
    /// Only tasks of this workload ID.
    pub workload_id: Option<String>,
    /// Only tasks of this package ID.
    pub package_id: Option<String>,
}

impl ListTasksQuery {
    /// An empty query: the first page, no filter.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets the page size (1 to 100; checked when the request is built).
    pub fn size(mut self, size: u32) -> Self {
        self.size = Some(size);
        self
    }

    /// Continues from a previous page's `nextToken`.
    pub fn next_token(mut self, token: impl Into<String>) -> Self {
        self.next_token = Some(token.into());
        self
    }

    /// Only tasks with this status.
    pub fn status(mut self, status: impl Into<TaskStatus>) -> Self {
        self.status = Some(status.into());
        self
    }

    /// Only `user` or `shared` tasks.
    pub fn task_type(mut self, task_type: impl Into<TaskType>) -> Self {
        self.task_type = Some(task_type.into());
        self
    }

    /// Only this workload kind.
    pub fn workload(mut self, workload: impl Into<Workload>) -> Self {
        self.workload = Some(workload.into());
        self
    }

    /// Only tasks of this workload ID.
    pub fn workload_id(mut self, id: impl Into<String>) -> Self {
        self.workload_id = Some(id.into());
        self
    }

    /// Only tasks of this package ID.
    pub fn package_id(mut self, id: impl Into<String>) -> Self {
        self.package_id = Some(id.into());
        self
    }

    /// Checks the query: `size` must be 1 to 100.
    pub fn validate(&self) -> Result<()> {
        match self.size {
            Some(size) if !(1..=MAX_PAGE_SIZE).contains(&size) => Err(Error::invalid_input(
                "size",
                "size must be an integer between 1 and 100",
            )),
            _ => Ok(()),
        }
    }

    /// The query parameters in wire order, only those set and non-empty.
    pub fn to_pairs(&self) -> Vec<(&'static str, String)> {
        let mut pairs = Vec::new();
        if let Some(size) = self.size {
            pairs.push(("size", size.to_string()));
        }
        let optional: [(&'static str, Option<&str>); 6] = [
            ("nextToken", self.next_token.as_deref()),
            ("status", self.status.as_ref().map(TaskStatus::as_str)),
            ("taskType", self.task_type.as_ref().map(TaskType::as_str)),
            ("workload", self.workload.as_ref().map(Workload::as_str)),
            ("workloadID", self.workload_id.as_deref()),
            ("packageID", self.package_id.as_deref()),
        ];
        for (name, value) in optional {
            if let Some(v) = value.filter(|v| !v.is_empty()) {
                pairs.push((name, v.to_owned()));
            }
        }
        pairs
    }
}

/// `GET /v3/users/me/tasks`: one page of the user's tasks, newest first.
///
/// See [`Paginator`](crate::Paginator) to walk every page.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ListTasks {
    /// Filters and paging.
    pub query: ListTasksQuery,
}

impl ListTasks {
    /// The operation for `query`.
    pub fn new(query: ListTasksQuery) -> Self {
        ListTasks { query }
    }
}

impl From<ListTasksQuery> for ListTasks {
    fn from(query: ListTasksQuery) -> Self {
        ListTasks { query }
    }
}

impl Operation for ListTasks {
    type Output = TaskPage;
    const NAME: &'static str = "list_tasks";

    fn request(&self, config: &Config) -> Result<HttpRequest> {
        self.query.validate()?;
        let mut request = config.api_request(Method::GET, "/v3/users/me/tasks");
        for (name, value) in self.query.to_pairs() {
            request = request.query(name, value);
        }
        request.build()
    }

    fn parse(&self, response: HttpResponse) -> Result<TaskPage> {
        wire::parse_json("task list", response)
    }
}
