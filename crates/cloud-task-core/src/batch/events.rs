//! What a batch hands out: how each input ended, its events, its counts, and the actions
//! of its machine.

#[cfg(doc)]
#[allow(unused_imports)]
use super::*;
use std::time::Duration;

use crate::error::Error;
use crate::exchange::Transmit;
use crate::models::{TaskStatus, TaskSuccess};

use super::journal::JournalRecord;

/// How an input of a batch ended.
#[derive(Debug)]
#[non_exhaustive]
pub enum BatchOutcome {
    /// Its task succeeded.
    Succeeded(TaskSuccess),
    /// Its task failed ([`Error::TaskFailed`]), or waiting for it ended with an error
    /// (a timeout, an answer that retrying could not mend); the task may still be running
    /// then, and a resume waits for it again.
    Failed(Error),
    /// No task was created: the server refused the create ([`Error::Api`]), refused it
    /// more than [`BatchOptions::max_refusals`] times, or the lookup of an unknown create
    /// found nothing. Safe to run again.
    NotCreated(Error),
    /// The create was sent and its outcome is unknown: a task may or may not exist. Not
    /// created again unless [`BatchOptions::recreate_unknown`].
    Unknown(Error),
    /// The batch was cancelled first: a task, when the item has one, keeps running (and a
    /// resume waits for it); without one, nothing was created.
    Cancelled,
}

/// One input of a batch, ended.
#[derive(Debug)]
#[non_exhaustive]
pub struct BatchItem {
    /// The input's position in the batch.
    pub index: usize,
    /// Its task, when one is known to exist.
    pub task_id: Option<String>,
    /// How it ended.
    pub outcome: BatchOutcome,
}

impl BatchItem {
    /// True when its task succeeded.
    pub fn is_success(&self) -> bool {
        matches!(self.outcome, BatchOutcome::Succeeded(_))
    }

    /// The typed outputs of its task (see [`decode_outputs`](crate::typed::decode_outputs)),
    /// e.g. `item.into_outputs::<<MyInputs as Block>::Outputs>()`, or the error that ended
    /// it ([`Error::Cancelled`] for a cancelled input).
    ///
    /// [`Block`]: crate::typed::Block
    pub fn into_outputs<O: serde::de::DeserializeOwned>(self) -> crate::Result<O> {
        match self.outcome {
            BatchOutcome::Succeeded(success) => {
                let decoded = crate::typed::decode_outputs(success.result_data.as_ref());
                match self.task_id {
                    Some(task) => decoded.map_err(|e| crate::typed::with_task(e, task)),
                    None => decoded,
                }
            }
            BatchOutcome::Failed(error)
            | BatchOutcome::NotCreated(error)
            | BatchOutcome::Unknown(error) => Err(error),
            BatchOutcome::Cancelled => Err(match self.task_id {
                Some(task) => Error::cancelled_task(task),
                None => Error::cancelled(),
            }),
        }
    }
}

/// What a running batch reports: the stream (async) or iterator (blocking) of `run_many`.
#[derive(Debug)]
#[non_exhaustive]
pub enum BatchEvent {
    /// Input `index` has a task now (created, found by the lookup of an unknown create,
    /// or re-attached from the journal): it is in the journal from here on.
    Created {
        /// The input.
        index: usize,
        /// Its task.
        task_id: String,
    },
    /// The task of input `index` is in progress.
    Progress {
        /// The input.
        index: usize,
        /// Progress, 0 to 100.
        progress: f64,
        /// The in-progress status.
        status: TaskStatus,
    },
    /// Input `index` has ended.
    Finished(BatchItem),
}

/// Where a batch stands: every input is in exactly one of these.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct BatchCounts {
    /// Inputs in the batch.
    pub total: usize,
    /// Not created yet (waiting for room, or for a refusal's delay).
    pub pending: usize,
    /// Creates in flight.
    pub creating: usize,
    /// Created, not running yet (`queued`, `scheduling`, `scheduled`).
    pub queued: usize,
    /// Running.
    pub running: usize,
    /// Succeeded.
    pub done: usize,
    /// Failed, or not created.
    pub failed: usize,
    /// Create outcome unknown: being looked up, or ended so.
    pub unknown: usize,
    /// Ended by a cancellation.
    pub cancelled: usize,
}

/// What the driver must do next for a [`Batch`]; the answer of [`Batch::poll_action`].
#[must_use]
#[derive(Debug)]
// The request is handed straight to the transport: boxing it would only add an allocation.
#[allow(clippy::large_enum_variant)]
#[non_exhaustive]
pub enum BatchAction {
    /// Append this record to the journal (when there is one), then ask again.
    Record(JournalRecord),
    /// Make the records appended so far durable (flush and sync the journal), then ask
    /// again. Comes before every create is sent and before every wait.
    Sync,
    /// Send this request, then feed its outcome to [`Batch::handle_response`] or
    /// [`Batch::handle_transport_error`] with the transmit's `id`; ask again at once.
    Send {
        /// The input it is about (a create or a poll), when it is about one.
        index: Option<usize>,
        /// The request, with its deadline.
        transmit: Transmit,
    },
    /// Input `index` has a task now (created, or found by the lookup, or re-attached).
    Created {
        /// The input.
        index: usize,
        /// Its task.
        task_id: String,
    },
    /// The task of input `index` is in progress.
    Progress {
        /// The input.
        index: usize,
        /// Progress, 0 to 100.
        progress: f64,
        /// The in-progress status.
        status: TaskStatus,
    },
    /// Input `index` has ended: hand it out.
    Item(BatchItem),
    /// Nothing is due for this long: sleep, waking early when a request in flight
    /// answers (or the batch is cancelled), then ask again.
    Wait(Duration),
    /// Every input has ended.
    Finished,
}

impl BatchAction {
    /// The event this action hands out (`Created`, `Progress`, `Item`), or the action
    /// back when it is work for the driver.
    // The action goes straight back to the driver's match: boxing it would only allocate.
    #[allow(clippy::result_large_err)]
    pub fn into_event(self) -> Result<BatchEvent, BatchAction> {
        match self {
            BatchAction::Created { index, task_id } => Ok(BatchEvent::Created { index, task_id }),
            BatchAction::Progress {
                index,
                progress,
                status,
            } => Ok(BatchEvent::Progress {
                index,
                progress,
                status,
            }),
            BatchAction::Item(item) => Ok(BatchEvent::Finished(item)),
            other => Err(other),
        }
    }
}
