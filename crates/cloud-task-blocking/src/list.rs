//! `list_all`: every task across pages, driven by the core's [`Paginator`].

use std::collections::VecDeque;
use std::fmt;
use std::iter::FusedIterator;

use cloud_task_core::{Error, ListTasksQuery, PageAction, Paginator, Result, TaskListItem};

use crate::client::{Client, Sent};

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
    /// use cloud_task_blocking::{Client, ListTasksQuery};
    /// let client = Client::from_env()?;
    /// let failed = client
    ///     .list_all(ListTasksQuery::new().status("failed").size(100))
    ///     .collect::<Result<Vec<_>, _>>()?;
    /// # Ok::<(), cloud_task_blocking::Error>(())
    /// ```
    pub fn list_all(&self, query: ListTasksQuery) -> TaskListIter {
        let (paginator, failed) = match Paginator::new(self.config(), query) {
            Ok(paginator) => (Some(paginator), None),
            Err(error) => (None, Some(error)),
        };
        TaskListIter {
            client: self.clone(),
            paginator,
            failed,
            ended: false,
            buffered: VecDeque::new(),
        }
    }
}

/// The iterator of [`Client::list_all`]: [`TaskListItem`]s across pages.
pub struct TaskListIter {
    client: Client,
    paginator: Option<Paginator>,
    failed: Option<Error>,
    ended: bool,
    buffered: VecDeque<TaskListItem>,
}

impl TaskListIter {
    /// Pages read so far.
    pub fn pages(&self) -> u64 {
        self.paginator.as_ref().map_or(0, Paginator::pages)
    }
}

impl Iterator for TaskListIter {
    type Item = Result<TaskListItem>;

    fn next(&mut self) -> Option<Self::Item> {
        if let Some(error) = self.failed.take() {
            return Some(Err(error));
        }
        loop {
            if let Some(task) = self.buffered.pop_front() {
                return Some(Ok(task));
            }
            if self.ended {
                return None;
            }
            let paginator = self.paginator.as_mut()?;
            let client = &self.client;
            match paginator.poll_action(client.now()) {
                PageAction::Send(transmit) => match client.transmit(transmit, None, None) {
                    Sent::Answer(id, Ok(response)) => {
                        paginator.handle_response(id, response, client.now());
                    }
                    Sent::Answer(id, Err(error)) => {
                        paginator.handle_transport_error(id, error, client.now());
                    }
                    Sent::Cancelled => paginator.cancel(),
                },
                PageAction::Wait(duration) => {
                    let _ = client.timer().sleep(duration, None);
                }
                PageAction::Page(page) => self.buffered.extend(page.tasks),
                PageAction::Done(end) => {
                    self.ended = true;
                    return end.err().map(Err);
                }
            }
        }
    }
}

impl FusedIterator for TaskListIter {}

impl fmt::Debug for TaskListIter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TaskListIter")
            .field("pages", &self.pages())
            .field("buffered", &self.buffered.len())
            .field("done", &self.ended)
            .finish()
    }
}
