//! Many inputs of one block, crash-safe: `run_many`, driven by the core's [`Batch`].

use std::fs::{File, OpenOptions};
use std::io::{BufReader, Seek, SeekFrom, Write};
use std::iter::FusedIterator;
use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

use cloud_task_core::machine::JournalWork;
use cloud_task_core::{
    Batch, BatchCounts, BatchEvent, BatchOptions, CreateTaskRequest, Error, JournalReplay, Result,
};

use crate::client::Client;
use crate::engine::{Engine, Flow, Local, Next, Steps};

/// The iterator of [`Client::run_many`]: a [`BatchEvent`] per task created, per progress
/// report and per input ended, then the end. An `Err` (the journal could not be written,
/// or a bad input or journal refused before anything was sent) ends it.
///
/// [`counts`](Self::counts) says where the batch stands at any time. Dropping the
/// iterator stops the batch where it is: tasks created keep running, and a create in
/// flight is recorded as sent, to be looked up by a resume.
pub struct BatchRun {
    steps: Steps<Batch, Journal, BatchEvent>,
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

/// The journal of a batch, when it has one: the local side of its engine.
struct Journal(Option<File>);

impl Local<JournalWork, Result<()>> for Journal {
    fn run(&mut self, work: JournalWork) -> Result<()> {
        let Some(file) = &mut self.0 else {
            return Ok(());
        };
        match work {
            JournalWork::Append(record) => file
                .write_all(record.to_line().as_bytes())
                .map_err(|e| Error::io("writing the batch journal", e)),
            JournalWork::Sync => file
                .sync_data()
                .map_err(|e| Error::io("syncing the batch journal", e)),
        }
    }
}

/// Opens (creating) the journal at `path` and reads back what it holds; the file is cut
/// after its last complete record (a record torn by a crash is dropped).
fn open_journal(path: &Path) -> Result<(File, JournalReplay)> {
    let context = || format!("opening the batch journal {}", path.display());
    let mut file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(path)
        .map_err(|e| Error::io(context(), e))?;
    let replay = JournalReplay::read_from(BufReader::new(&mut file))?;
    file.set_len(replay.valid_len())
        .and_then(|()| file.seek(SeekFrom::End(0)))
        .map_err(|e| Error::io(context(), e))?;
    Ok((file, replay))
}

impl Client {
    /// Runs a task for each of `requests`, crash-safe, and iterates over what happens:
    /// each task created ([`BatchEvent::Created`]), progress, and each input as it ends
    /// ([`BatchEvent::Finished`], with its index).
    ///
    /// Driven by the core's [`Batch`]: creates are bounded in flight, the account's
    /// `maxConcurrency` and `maxQueueSize` are kept, a `429` holds creates back for its
    /// `Retry-After`, a create whose outcome is unknown is never sent again (it is looked
    /// up among the account's tasks, else handed out as unknown), and finished results are
    /// handed out as they come. With [`BatchOptions::journal`], every task ID is recorded
    /// (and synced) as soon as its create answers, and running the same inputs with the
    /// same journal again resumes: tasks it holds are waited for, not created again. The
    /// cancel token of [`BatchOptions::await_options`] stops creating; tasks already
    /// created keep running and stay in the journal.
    ///
    /// Bad input (an invalid request, a journal of other inputs) is the iterator's first
    /// and only item, before anything is sent.
    ///
    /// ```no_run
    /// use cloud_task_blocking::{BatchEvent, BatchOptions, Client, CreateTaskRequest};
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
    /// # Ok::<(), cloud_task_blocking::Error>(())
    /// ```
    pub fn run_many(
        &self,
        requests: impl IntoIterator<Item = CreateTaskRequest>,
        options: BatchOptions,
    ) -> BatchRun {
        let engine = self.start_batch(requests.into_iter().collect(), options);
        let counts = engine
            .as_ref()
            .map_or_else(|_| BatchCounts::default(), |e| e.machine().counts());
        BatchRun {
            steps: Steps::new(engine, |_, next| match next {
                Next::Event(event) => Flow::Yield(Ok(event)),
                Next::Done(Ok(())) => Flow::End,
                Next::Done(Err(error)) => Flow::Last(Err(error)),
            }),
            counts,
        }
    }

    fn start_batch(
        &self,
        requests: Vec<CreateTaskRequest>,
        options: BatchOptions,
    ) -> Result<Engine<Batch, Journal>> {
        let (journal, replay) = match options.get_journal() {
            Some(path) => {
                let (file, replay) = open_journal(path)?;
                (Some(file), replay)
            }
            None => (None, JournalReplay::new()),
        };
        let wall_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64);
        let batch = Batch::resume(
            self.config(),
            requests,
            options,
            &replay,
            self.now(),
            wall_ms,
        )?;
        Ok(Engine::with_local(self, batch, Journal(journal)))
    }
}
