//! Many inputs of one block, crash-safe: `run_many`, driven by the core's [`Batch`].

use std::sync::{Arc, Mutex, PoisonError};

use cloud_task_core::{Batch, BatchCounts, BatchEvent, BatchOptions, CreateTaskRequest, Result};

use cloud_task_local::JournalFile;

use futures_util::StreamExt;

use crate::client::Client;
use crate::engine::{self, Engine, Flow, OnPool, on_pool};

boxed_stream! {
    /// The stream of [`Client::run_many`]: a [`BatchEvent`] per task created, per progress
    /// report and per input ended, then the end. An `Err` (the journal could not be written,
    /// or a bad input or journal refused before anything was sent) ends it.
    ///
    /// `Unpin`: call `next()` directly. [`counts`](Self::counts) says where the batch stands
    /// at any time. Dropping the stream stops the batch where it is: tasks created keep
    /// running, and a create in flight is recorded as sent, to be looked up by a resume.
    BatchRun => BatchEvent, with counts: Arc<Mutex<BatchCounts>>, shown by counts
}

impl BatchRun {
    /// Where the batch stands (queued, running, done, failed, unknown, ...).
    pub fn counts(&self) -> BatchCounts {
        *self.counts.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Client {
    #[doc = cloud_task_core::__run_many_doc!("streams", "stream")]
    ///
    /// ```no_run
    /// use futures_util::StreamExt;
    /// use oomol_cloud_task::{BatchEvent, BatchOptions, Client, CreateTaskRequest};
    ///
    /// # async fn run() -> oomol_cloud_task::Result<()> {
    /// let client = Client::new("my-api-key")?;
    /// let requests = (0..1000).map(|n| {
    ///     CreateTaskRequest::new("@oomol/my-package", "1.0.0", "main").input("n", n)
    /// });
    /// let mut batch = client.run_many(requests, BatchOptions::new().journal("run.journal"));
    /// while let Some(event) = batch.next().await {
    ///     if let BatchEvent::Finished(item) = event? {
    ///         println!("input {}: {:?}", item.index, item.outcome);
    ///     }
    /// }
    /// println!("{:?}", batch.counts());
    /// # Ok(()) }
    /// ```
    pub fn run_many(
        &self,
        requests: impl IntoIterator<Item = CreateTaskRequest>,
        options: BatchOptions,
    ) -> BatchRun {
        self.run_many_requests(Ok(requests.into_iter().collect()), options)
    }

    /// [`run_many`](Self::run_many) of requests that may have failed to build (then the
    /// stream's only item is that error).
    pub(crate) fn run_many_requests(
        &self,
        requests: Result<Vec<CreateTaskRequest>>,
        options: BatchOptions,
    ) -> BatchRun {
        let total = requests.as_ref().map_or(0, Vec::len);
        // Until the batch starts (at the stream's first poll), every input is pending.
        let mut before = BatchCounts::default();
        before.total = total;
        before.pending = total;
        let counts = Arc::new(Mutex::new(before));
        let shared = Arc::clone(&counts);
        let client = self.clone();
        let start = futures_util::stream::once(async move {
            let engine = match requests {
                Ok(requests) => client.start_batch(requests, options).await,
                Err(error) => Err(error),
            };
            engine::stream(engine, move |batch, next| {
                *shared.lock().unwrap_or_else(PoisonError::into_inner) = batch.counts();
                Flow::of_events(next, |event| event)
            })
        });
        BatchRun {
            inner: Box::pin(start.flatten().fuse()),
            counts,
        }
    }

    /// Opens the journal (on tokio's blocking pool: reading a file never blocks the
    /// runtime) and builds the batch from it.
    async fn start_batch(
        &self,
        requests: Vec<CreateTaskRequest>,
        options: BatchOptions,
    ) -> Result<Engine<Batch, OnPool<JournalFile>>> {
        let client = self.clone();
        let (batch, journal) = on_pool("opening the batch journal", move || {
            JournalFile::start_batch(client.config(), requests, options, || client.now())
        })
        .await??;
        Ok(Engine::with_local(self, batch, OnPool::new(journal)))
    }
}
