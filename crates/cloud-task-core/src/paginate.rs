//! Pagination as a value: from a query and each page's `nextToken`, the next request.

use crate::config::Config;
use crate::error::Result;
use crate::models::TaskPage;
use crate::ops::{ListTasks, ListTasksQuery, Operation};
use crate::{HttpRequest, HttpResponse};

/// Walks every page of `list_tasks`, keeping the query's filters.
///
/// Calling order: while [`next_request`](Self::next_request) gives a request, send it and
/// feed the response to [`handle_response`](Self::handle_response), which answers the page.
/// The walk ends after a page whose `nextToken` is null or empty, or (to never loop
/// forever) one that repeats the token just used.
///
/// ```
/// # use cloud_task_core::{Config, ListTasksQuery, Paginator, http};
/// let config = Config::default();
/// let mut pages = Paginator::new(ListTasksQuery::new().size(2).status("running"));
/// let first = pages.next_request(&config).unwrap().unwrap();
/// assert_eq!(first.uri().query(), Some("size=2&status=running"));
/// let page = pages
///     .handle_response(http::Response::new(br#"{"tasks":[],"nextToken":"t2"}"#.to_vec()))
///     .unwrap();
/// assert_eq!(page.next_token.as_deref(), Some("t2"));
/// let second = pages.next_request(&config).unwrap().unwrap();
/// assert_eq!(second.uri().query(), Some("size=2&nextToken=t2&status=running"));
/// pages.handle_response(http::Response::new(br#"{"tasks":[],"nextToken":null}"#.to_vec())).unwrap();
/// assert!(pages.next_request(&config).is_none());
/// ```
#[derive(Debug, Clone)]
pub struct Paginator {
    query: ListTasksQuery,
    done: bool,
    pages: u64,
}

impl Paginator {
    /// Starts at `query`'s page (its `next_token`, if set, is the first page's).
    pub fn new(query: ListTasksQuery) -> Self {
        Paginator {
            query,
            done: false,
            pages: 0,
        }
    }

    /// The request of the next page, or `None` once the last page has been read.
    /// An invalid query is refused here, before anything is sent.
    pub fn next_request(&self, config: &Config) -> Option<Result<HttpRequest>> {
        if self.done {
            return None;
        }
        Some(ListTasks::new(self.query.clone()).request(config))
    }

    /// Feeds the response of the request from `next_request`; answers its page. After an
    /// error the position is unchanged, so the same page can be asked for again.
    pub fn handle_response(&mut self, response: HttpResponse) -> Result<TaskPage> {
        let page = ListTasks::default().parse(response)?;
        self.pages += 1;
        match page.next_token.as_deref().filter(|t| !t.is_empty()) {
            Some(token) if self.query.next_token.as_deref() != Some(token) => {
                self.query.next_token = Some(token.to_owned());
            }
            _ => self.done = true,
        }
        Ok(page)
    }

    /// True once the last page has been read.
    pub fn is_done(&self) -> bool {
        self.done
    }

    /// Ends the walk: `next_request` answers `None` from now on.
    pub fn stop(&mut self) {
        self.done = true;
    }

    /// Pages read so far.
    pub fn pages(&self) -> u64 {
        self.pages
    }

    /// The query of the next page.
    pub fn query(&self) -> &ListTasksQuery {
        &self.query
    }
}
