//! `list_all`: every task across pages, driven by the core's [`Paginator`].

use cloud_task_core::{ListTasksQuery, Paginator, Result, TaskListItem};
use futures_util::StreamExt;

use crate::client::Client;
use crate::engine::{self, Engine, Flow, Next};

impl Client {
    /// A stream of every task matching `query`, page after page (the filters are kept on
    /// every page; `query.size` sets the page size).
    ///
    /// A page is fetched only when the previous one has been consumed, so memory holds one
    /// page. The walk is the core [`Paginator`]'s: it ends after the last page, and a
    /// server cannot make it loop (a page token seen before ends it with
    /// [`Error::Protocol`](crate::Error::Protocol)) or run on for ever (at most
    /// [`Config::max_pages`](crate::Config::max_pages) pages). An error (an invalid query,
    /// a failed page) is yielded once and ends the stream.
    ///
    /// ```no_run
    /// # async fn run(client: cloud_task_async::Client) -> cloud_task_async::Result<()> {
    /// use cloud_task_async::ListTasksQuery;
    /// use futures_util::TryStreamExt;
    /// let failed: Vec<_> = client
    ///     .list_all(ListTasksQuery::new().status("failed").size(100))
    ///     .try_collect()
    ///     .await?;
    /// # Ok(()) }
    /// ```
    pub fn list_all(&self, query: ListTasksQuery) -> TaskListStream {
        let engine = Paginator::new(self.config(), query).map(|pages| Engine::new(self, pages));
        let pages = engine::stream(engine, |_, next| match next {
            Next::Event(page) => Flow::Yield(Ok(page.tasks)),
            Next::Done(Ok(())) => Flow::End,
            Next::Done(Err(error)) => Flow::Last(Err(error)),
        });
        // A page is asked for only once the tasks of the one before are consumed.
        let tasks = pages.flat_map(|page| {
            let tasks: Box<dyn Iterator<Item = Result<TaskListItem>> + Send> = match page {
                Ok(tasks) => Box::new(tasks.into_iter().map(Ok)),
                Err(error) => Box::new(std::iter::once(Err(error))),
            };
            futures_util::stream::iter(tasks)
        });
        TaskListStream::new(tasks)
    }
}

boxed_stream! {
    /// A stream of [`TaskListItem`]s across pages, from [`Client::list_all`]. `Unpin`: call
    /// `next()` directly.
    TaskListStream => TaskListItem
}
