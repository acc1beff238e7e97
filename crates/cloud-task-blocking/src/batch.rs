//! Many inputs of one block, crash-safe: `run_many`, driven by the core's [`Batch`].

use std::iter::FusedIterator;

use cloud_task_core::{Batch, BatchCounts, BatchEvent, BatchOptions, CreateTaskRequest, Result};
use cloud_task_local::JournalFile;

use crate::client::Client;
use crate::engine::{Engine, Flow, Steps};

/// The iterator of [`Client::run_many`]: a [`BatchEvent`] per task created, per progress
/// report and per input ended, then the end. An `Err` (the journal could not be written,
/// or a bad input or journal refused before anything was sent) ends it.
///
/// [`counts`](Self::counts) says where the batch stands at any time. Dropping the
/// iterator stops the batch where it is: tasks created keep running, and a create in
/// flight is recorded as sent, to be looked up by a resume.
pub struct BatchRun {
    steps: Steps<Batch, JournalFile, BatchEvent>,
    /// The counts of the last step (kept once the batch is over).
    counts: BatchCounts,
}

impl std::fmt::Debug for BatchRun {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BatchRun")
            .field("counts", &self.counts())
            .finish()
    }
}

impl BatchRun {
    /// Where the batch stands (queued, running, done, failed, unknown, ...).
    pub fn counts(&self) -> BatchCounts {
        self.steps.machine().map_or(self.counts, Batch::counts)
    }
}

impl Iterator for BatchRun {
    type Item = Result<BatchEvent>;

    fn next(&mut self) -> Option<Self::Item> {
        let next = self.steps.next();
        // The counts of a batch that has ended stay readable.
        self.counts = self.steps.machine().map_or(self.counts, Batch::counts);
        next
    }
}

impl FusedIterator for BatchRun {}

impl Client {
    #[doc = cloud_task_core::__run_many_doc!("iterates over", "iterator")]
    ///
    /// ```no_run
    /// use oomol_cloud_task::{BatchEvent, BatchOptions, CreateTaskRequest, blocking::Client};
    ///
    /// let client = Client::new("my-api-key")?;
    /// let requests = (0..1000).map(|n| {
    ///     CreateTaskRequest::new("@oomol/my-package", "1.0.0", "main").input("n", n)
    /// });
    /// let mut batch = client.run_many(requests, BatchOptions::new().journal("run.journal"));
    /// for event in &mut batch {
    ///     if let BatchEvent::Finished(item) = event? {
    ///         println!("input {}: {:?}", item.index, item.outcome);
    ///     }
    /// }
    /// println!("{:?}", batch.counts());
    /// # Ok::<(), oomol_cloud_task::Error>(())
    /// ```
    pub fn run_many(
        &self,
        requests: impl IntoIterator<Item = CreateTaskRequest>,
        options: BatchOptions,
    ) -> BatchRun {
        self.run_many_requests(Ok(requests.into_iter().collect()), options)
    }

    /// [`run_many`](Self::run_many) of requests that may have failed to build (then the
    /// iterator's only item is that error).
    pub(crate) fn run_many_requests(
        &self,
        requests: Result<Vec<CreateTaskRequest>>,
        options: BatchOptions,
    ) -> BatchRun {
        let engine = requests.and_then(|requests| self.start_batch(requests, options));
        let counts = engine
            .as_ref()
            .map_or_else(|_| BatchCounts::default(), |e| e.machine().counts());
        BatchRun {
            steps: Steps::new(engine, |_, next| Flow::of_events(next, |event| event)),
            counts,
        }
    }

    fn start_batch(
        &self,
        requests: Vec<CreateTaskRequest>,
        options: BatchOptions,
    ) -> Result<Engine<Batch, JournalFile>> {
        let (batch, journal) =
            JournalFile::start_batch(self.config(), requests, options, || self.now())?;
        Ok(Engine::with_local(self, batch, journal))
    }
}
