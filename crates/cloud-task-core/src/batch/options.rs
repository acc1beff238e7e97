//! How a batch runs: [`BatchOptions`] and its defaults.

#[cfg(doc)]
#[allow(unused_imports)]
use super::*;
use crate::wait::AwaitOptions;

/// The default number of creates in flight at once.
pub const DEFAULT_CREATES_IN_FLIGHT: usize = 4;
/// The default number of definite refusals (`429` and the like) one input may meet before
/// it is given up as [`BatchOutcome::NotCreated`](super::BatchOutcome::NotCreated).
pub const DEFAULT_MAX_REFUSALS: u32 = 50;

/// How a batch runs; the defaults suit most accounts.
///
/// ```
/// use std::time::Duration;
/// use cloud_task_core::{AwaitOptions, BatchOptions};
///
/// let options = BatchOptions::new()
///     .max_active(20)                       // at most 20 of ours queued or running
///     .journal("batch.journal")             // resumable after a crash
///     .await_options(AwaitOptions::new().timeout(Duration::from_secs(3600)));
/// assert_eq!(options.get_max_active(), Some(20));
/// ```
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct BatchOptions {
    pub(super) creates_in_flight: usize,
    pub(super) max_active: Option<usize>,
    pub(super) account_limits: bool,
    pub(super) max_refusals: u32,
    pub(super) lookup_unknown: bool,
    pub(super) recreate_unknown: bool,
    pub(super) journal: Option<std::path::PathBuf>,
    pub(super) await_options: AwaitOptions,
}

impl Default for BatchOptions {
    fn default() -> Self {
        BatchOptions {
            creates_in_flight: DEFAULT_CREATES_IN_FLIGHT,
            max_active: None,
            account_limits: true,
            max_refusals: DEFAULT_MAX_REFUSALS,
            lookup_unknown: true,
            recreate_unknown: false,
            journal: None,
            await_options: AwaitOptions::new(),
        }
    }
}

impl BatchOptions {
    /// The defaults: [`DEFAULT_CREATES_IN_FLIGHT`] creates in flight, the account's limits
    /// read from its dashboard, unknown creates looked up and never created again, no
    /// journal.
    pub fn new() -> Self {
        BatchOptions::default()
    }

    /// At most `n` creates in flight at once (at least 1).
    pub fn creates_in_flight(mut self, n: usize) -> Self {
        self.creates_in_flight = n.max(1);
        self
    }

    /// At most `n` of the batch's tasks queued or running at once (at least 1), on top of
    /// the account's own limits.
    pub fn max_active(mut self, n: usize) -> Self {
        self.max_active = Some(n.max(1));
        self
    }

    /// Whether to read the dashboard's limits and keep within them (default `true`).
    pub fn account_limits(mut self, read: bool) -> Self {
        self.account_limits = read;
        self
    }

    /// How many definite refusals one input may meet before it is given up (default
    /// [`DEFAULT_MAX_REFUSALS`]).
    pub fn max_refusals(mut self, n: u32) -> Self {
        self.max_refusals = n;
        self
    }

    /// Whether to look unknown creates up among the account's tasks (default `true`).
    pub fn lookup_unknown(mut self, lookup: bool) -> Self {
        self.lookup_unknown = lookup;
        self
    }

    /// Whether to create again an input whose create outcome was unknown and that the
    /// lookup did not find (default `false`). Without the lookup, such an input may have a
    /// task already: only ask for this when running it twice is acceptable.
    pub fn recreate_unknown(mut self, recreate: bool) -> Self {
        self.recreate_unknown = recreate;
        self
    }

    /// The journal file: the drivers append to it (creating it when missing) and resume
    /// from it when it holds records.
    pub fn journal(mut self, path: impl Into<std::path::PathBuf>) -> Self {
        self.journal = Some(path.into());
        self
    }

    /// How each task is waited for (interval, backoff, per-task timeout, polls in flight,
    /// cancel token). The cancel token cancels the whole batch ([`Batch::cancel`]).
    pub fn await_options(mut self, options: AwaitOptions) -> Self {
        self.await_options = options;
        self
    }

    /// The creates in flight at once.
    pub fn get_creates_in_flight(&self) -> usize {
        self.creates_in_flight
    }

    /// The cap on the batch's queued-plus-running tasks, if any.
    pub fn get_max_active(&self) -> Option<usize> {
        self.max_active
    }

    /// Whether the account's limits are read.
    pub fn get_account_limits(&self) -> bool {
        self.account_limits
    }

    /// Definite refusals per input before it is given up.
    pub fn get_max_refusals(&self) -> u32 {
        self.max_refusals
    }

    /// Whether unknown creates are looked up.
    pub fn get_lookup_unknown(&self) -> bool {
        self.lookup_unknown
    }

    /// Whether inputs with an unknown create outcome are created again.
    pub fn get_recreate_unknown(&self) -> bool {
        self.recreate_unknown
    }

    /// The journal file, if any.
    pub fn get_journal(&self) -> Option<&std::path::Path> {
        self.journal.as_deref()
    }

    /// How each task is waited for.
    pub fn get_await_options(&self) -> &AwaitOptions {
        &self.await_options
    }
}
