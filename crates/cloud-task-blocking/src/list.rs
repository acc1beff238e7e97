//! `list_all`: every task across pages, driven by the core's [`Paginator`].

use std::collections::VecDeque;
use std::fmt;
use std::iter::FusedIterator;

use cloud_task_core::{ListTasks, ListTasksQuery, Operation, Paginator, Result, TaskListItem};

use crate::client::Client;

impl Client {
    /// An iterator over every task matching `query`, page after page (the filters are kept
    /// on every page; `query.size` sets the page size).
    ///
    /// A page is fetched only when the previous one has been consumed. An error (an
    /// invalid query, a failed page) is yielded once and ends the iteration.
    ///
    /// ```no_run
    /// use cloud_task_blocking::{Client, ListTasksQuery};
    /// let client = Client::from_env()?;
    /// let failed = client
    ///     .list_all(ListTasksQuery::new().status("failed").size(100))
    ///     .collect::<Result<Vec<_>, _>>()?;
    /// # Ok::<(), cloud_task_blocking::Error>(())
    /// ```
    pub fn list_all(&self, query: ListTasksQuery) -> TaskListIter {
        TaskListIter {
            client: self.clone(),
            paginator: Paginator::new(query),
            buffered: VecDeque::new(),
        }
    }
}

/// The iterator of [`Client::list_all`]: [`TaskListItem`]s across pages.
pub struct TaskListIter {
    client: Client,
    paginator: Paginator,
    buffered: VecDeque<TaskListItem>,
}

impl TaskListIter {
    /// Pages read so far.
    pub fn pages(&self) -> u64 {
        self.paginator.pages()
    }
}

impl Iterator for TaskListIter {
    type Item = Result<TaskListItem>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if let Some(task) = self.buffered.pop_front() {
                return Some(Ok(task));
            }
            let page = self
                .paginator
                .next_request(self.client.config())?
                .and_then(|request| self.client.send(ListTasks::NAME, None, request))
                .and_then(|response| self.paginator.handle_response(response));
            match page {
                Ok(page) => self.buffered.extend(page.tasks),
                Err(error) => {
                    self.paginator.stop();
                    return Some(Err(error));
                }
            }
        }
    }
}

impl FusedIterator for TaskListIter {}

impl fmt::Debug for TaskListIter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TaskListIter")
            .field("pages", &self.paginator.pages())
            .field("buffered", &self.buffered.len())
            .field("done", &self.paginator.is_done())
            .finish()
    }
}
