//! `list_all`: every task across pages, driven by the core's [`Paginator`].

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use cloud_task_core::{ListTasksQuery, Paginator, Result, TaskListItem};
use futures_util::StreamExt;

use crate::client::Client;
use crate::engine::{self, Engine, Flow};

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
    /// # async fn run(client: oomol_cloud_task::Client) -> oomol_cloud_task::Result<()> {
    /// use oomol_cloud_task::ListTasksQuery;
    /// use futures_util::TryStreamExt;
    /// let failed: Vec<_> = client
    ///     .list_all(ListTasksQuery::new().status("failed").size(100))
    ///     .try_collect()
    ///     .await?;
    /// # Ok(()) }
    /// ```
    pub fn list_all(&self, query: ListTasksQuery) -> TaskList {
        let pages = Arc::new(AtomicU64::new(0));
        let read = Arc::clone(&pages);
        let engine = Paginator::new(self.config(), query).map(|walk| Engine::new(self, walk));
        let walk = engine::stream(engine, move |walk, next| {
            read.store(walk.pages(), Ordering::Relaxed);
            Flow::of_events(next, |page| page.tasks)
        });
        // A page is asked for only once the tasks of the one before are consumed.
        let tasks = walk.flat_map(|page| {
            let tasks: Box<dyn Iterator<Item = Result<TaskListItem>> + Send> = match page {
                Ok(tasks) => Box::new(tasks.into_iter().map(Ok)),
                Err(error) => Box::new(std::iter::once(Err(error))),
            };
            futures_util::stream::iter(tasks)
        });
        TaskList {
            // Fused: asked again after its end, it answers `None` again.
            inner: Box::pin(tasks.fuse()),
            pages,
        }
    }
}

boxed_stream! {
    /// A stream of [`TaskListItem`]s across pages, from [`Client::list_all`]. `Unpin`: call
    /// `next()` directly.
    TaskList => TaskListItem, with pages: Arc<AtomicU64>, shown by pages
}

impl TaskList {
    /// Pages read so far.
    pub fn pages(&self) -> u64 {
        self.pages.load(Ordering::Relaxed)
    }
}
