//! `list_all`: every task across pages, driven by the core's [`Paginator`].

use std::collections::VecDeque;

use cloud_task_core::{ListTasks, ListTasksQuery, Operation, Paginator, TaskListItem};

use crate::client::Client;

impl Client {
    /// A stream of every task matching `query`, page after page (the filters are kept on
    /// every page; `query.size` sets the page size).
    ///
    /// A page is fetched only when the previous one has been consumed. An error (an
    /// invalid query, a failed page) is yielded once and ends the stream.
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
        let state = Pages {
            client: self.clone(),
            paginator: Paginator::new(query),
            buffered: VecDeque::new(),
        };
        let stream = futures_util::stream::unfold(state, |mut state| async move {
            loop {
                if let Some(task) = state.buffered.pop_front() {
                    return Some((Ok(task), state));
                }
                let request = match state.paginator.next_request(state.client.config())? {
                    Ok(request) => request,
                    Err(error) => {
                        state.paginator.stop();
                        return Some((Err(error), state));
                    }
                };
                let page = match state.client.send(ListTasks::NAME, None, request).await {
                    Ok(response) => state.paginator.handle_response(response),
                    Err(error) => Err(error),
                };
                match page {
                    Ok(page) => state.buffered.extend(page.tasks),
                    Err(error) => {
                        state.paginator.stop();
                        return Some((Err(error), state));
                    }
                }
            }
        });
        TaskListStream::new(stream)
    }
}

struct Pages {
    client: Client,
    paginator: Paginator,
    buffered: VecDeque<TaskListItem>,
}

boxed_stream! {
    /// A stream of [`TaskListItem`]s across pages, from [`Client::list_all`]. `Unpin`: call
    /// `next()` directly.
    TaskListStream => TaskListItem
}
