//! `list_all`: every task across pages, driven by the core's [`Paginator`].

use std::collections::VecDeque;
use std::fmt;
use std::iter::FusedIterator;

#[cfg(doc)]
use cloud_task_core::Error;
use cloud_task_core::{ListTasksQuery, Paginator, Result, TaskListItem};

use crate::client::Client;
use crate::engine::{Engine, Flow, NoLocal, Steps};

impl Client {
    /// An iterator over every task matching `query`, page after page (the filters are kept
    /// on every page; `query.size` sets the page size).
    ///
    /// A page is fetched only when the previous one has been consumed, so memory holds one
    /// page. The walk is the core [`Paginator`]'s: it ends after the last page, and a
    /// server cannot make it loop (a page token seen before ends it with
    /// [`Error::Protocol`]) or run on for ever (at most
    /// [`Config::max_pages`](crate::Config::max_pages) pages). An error (an invalid query,
    /// a failed page) is yielded once and ends the iteration.
    ///
    /// ```no_run
    /// use oomol_cloud_task::{ListTasksQuery, blocking::Client};
    /// let client = Client::from_env()?;
    /// let failed = client
    ///     .list_all(ListTasksQuery::new().status("failed").size(100))
    ///     .collect::<Result<Vec<_>, _>>()?;
    /// # Ok::<(), oomol_cloud_task::Error>(())
    /// ```
    pub fn list_all(&self, query: ListTasksQuery) -> TaskList {
        let engine = Paginator::new(self.config(), query).map(|pages| Engine::new(self, pages));
        TaskList {
            steps: Steps::new(engine, |_, next| Flow::of_events(next, |page| page.tasks)),
            pages: 0,
            buffered: VecDeque::new(),
        }
    }
}

/// The iterator of [`Client::list_all`]: [`TaskListItem`]s across pages.
pub struct TaskList {
    steps: Steps<Paginator, NoLocal, Vec<TaskListItem>>,
    pages: u64,
    buffered: VecDeque<TaskListItem>,
}

impl TaskList {
    /// Pages read so far.
    pub fn pages(&self) -> u64 {
        self.pages
    }
}

impl Iterator for TaskList {
    type Item = Result<TaskListItem>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if let Some(task) = self.buffered.pop_front() {
                return Some(Ok(task));
            }
            // A page is asked for only once the tasks of the one before are consumed.
            let page = self.steps.next()?;
            self.pages = self.steps.machine().map_or(self.pages, Paginator::pages);
            match page {
                Ok(tasks) => self.buffered.extend(tasks),
                Err(error) => return Some(Err(error)),
            }
        }
    }
}

impl FusedIterator for TaskList {}

impl fmt::Debug for TaskList {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TaskList")
            .field("pages", &self.pages())
            .field("buffered", &self.buffered.len())
            .field("done", &self.steps.is_ended())
            .finish()
    }
}
