//! `list_all`: every task across pages, driven by the core's [`Paginator`].

use std::collections::VecDeque;

use cloud_task_core::{ListTasksQuery, PageAction, Paginator, TaskListItem};

use crate::client::{Client, Sent};

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
        let state = Paginator::new(self.config(), query).map(|paginator| Pages {
            client: self.clone(),
            paginator,
            buffered: VecDeque::new(),
        });
        let stream = futures_util::stream::unfold(Some(state), |state| async move {
            let mut state = match state? {
                Ok(state) => state,
                Err(error) => return Some((Err(error), None)),
            };
            loop {
                if let Some(task) = state.buffered.pop_front() {
                    return Some((Ok(task), Some(Ok(state))));
                }
                let client = &state.client;
                match state.paginator.poll_action(client.now()) {
                    PageAction::Send(transmit) => match client.transmit(transmit, None, None).await
                    {
                        Sent::Answer(id, Ok(response)) => {
                            state.paginator.handle_response(id, response, client.now());
                        }
                        Sent::Answer(id, Err(error)) => {
                            state
                                .paginator
                                .handle_transport_error(id, error, client.now());
                        }
                        Sent::Cancelled => state.paginator.cancel(),
                    },
                    PageAction::Wait(duration) => client.inner.timer.sleep(duration).await,
                    PageAction::Page(page) => state.buffered.extend(page.tasks),
                    PageAction::Done(Ok(())) => return None,
                    PageAction::Done(Err(error)) => return Some((Err(error), None)),
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
