//! Running one block over many inputs, as a value: the machine behind `run_many`, and the
//! journal that lets a batch survive a crash.

use std::collections::{HashMap, HashSet, VecDeque};
use std::fmt;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use crate::config::Config;
use crate::error::{Error, TransportErrorKind};
use crate::exchange::{Call, CallAction, Flight, Landing, RequestId, Transmit};
use crate::models::{TaskListItem, TaskStatus, TaskSuccess};
use crate::ops::{CreateTask, CreateTaskRequest, GetDashboard, ListTasksQuery, Operation};
use crate::paginate::{PageAction, Paginator};
use crate::wait::AwaitOptions;
use crate::poll_set::{PollSetAction, PollerSet};
use crate::{HttpResponse, wire};

/// The default number of creates in flight at once.
pub const DEFAULT_CREATES_IN_FLIGHT: usize = 4;
/// The default number of definite refusals (`429` and the like) one input may meet before
/// it is given up as [`BatchOutcome::NotCreated`].
pub const DEFAULT_MAX_REFUSALS: u32 = 50;
/// The longest a refusal holds the creates back, whatever its `Retry-After` says.
pub const MAX_HOLD: Duration = Duration::from_secs(60);
/// The shortest a refusal holds the creates back (a `Retry-After: 0` included).
const MIN_HOLD: Duration = Duration::from_millis(100);
/// How often the dashboard is read again while inputs are left to create.
const DASHBOARD_EVERY: Duration = Duration::from_secs(5);
/// How long after an unknown create the lookup waits, so that a create the server is still
/// processing can be found.
const LOOKUP_DELAY: Duration = Duration::from_secs(2);
/// How far before the first unknown create the lookup reads the task list (clock skew
/// between this machine and the server).
const LOOKUP_SKEW_MS: i64 = 5 * 60 * 1000;
/// The journal's format version.
const JOURNAL_VERSION: u32 = 1;

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
    creates_in_flight: usize,
    max_active: Option<usize>,
    account_limits: bool,
    max_refusals: u32,
    lookup_unknown: bool,
    recreate_unknown: bool,
    journal: Option<std::path::PathBuf>,
    await_options: AwaitOptions,
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

/// The identity of an input in a journal: the first 128 bits of the SHA-256 of its
/// canonical JSON (`packageName`, `packageVersion`, `blockName`, `inputValues`, object keys
/// sorted at every level, no inputs the same as `{}`), as 32 hex digits.
///
/// ```
/// use cloud_task_core::{CreateTaskRequest, input_identity};
/// let a = CreateTaskRequest::new("@oomol/echo", "1.0.0", "main").input("x", 1).input("y", 2);
/// let b = CreateTaskRequest::new("@oomol/echo", "1.0.0", "main").input("y", 2).input("x", 1);
/// assert_eq!(input_identity(&a), input_identity(&b));
/// assert_ne!(input_identity(&a), input_identity(&a.clone().input("x", 3)));
/// ```
pub fn input_identity(request: &CreateTaskRequest) -> String {
    identity_of(
        &request.package_name,
        &request.package_version,
        &request.block_name,
        request.input_values.as_ref(),
    )
}

fn identity_of(
    package: &str,
    version: &str,
    block: &str,
    inputs: Option<&Map<String, Value>>,
) -> String {
    let mut text = String::new();
    let empty = Map::new();
    let mut object = Map::new();
    object.insert("blockName".into(), Value::from(block));
    object.insert(
        "inputValues".into(),
        Value::Object(inputs.unwrap_or(&empty).clone()),
    );
    object.insert("packageName".into(), Value::from(package));
    object.insert("packageVersion".into(), Value::from(version));
    canonical(&Value::Object(object), &mut text);
    let digest = Sha256::digest(text.as_bytes());
    digest[..16].iter().map(|b| format!("{b:02x}")).collect()
}

/// Writes `value` as JSON with object keys sorted at every level.
fn canonical(value: &Value, out: &mut String) {
    match value {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            out.push('{');
            for (n, key) in keys.into_iter().enumerate() {
                if n > 0 {
                    out.push(',');
                }
                out.push_str(&Value::from(key.as_str()).to_string());
                out.push(':');
                canonical(&map[key], out);
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (n, item) in items.iter().enumerate() {
                if n > 0 {
                    out.push(',');
                }
                canonical(item, out);
            }
            out.push(']');
        }
        other => out.push_str(&other.to_string()),
    }
}

/// The identity of a listed task's inputs, when its `schedulerPayload` carries them.
fn identity_of_listed(item: &TaskListItem) -> Option<String> {
    let payload = item.scheduler_payload.as_object()?;
    let text = |key: &str| payload.get(key).and_then(Value::as_str);
    let block = text("blockName").or(item.block_name.as_deref())?;
    let inputs = match item.input_values() {
        Some(Value::Object(map)) => Some(map),
        None => None,
        Some(_) => return None,
    };
    Some(identity_of(
        text("packageName")?,
        text("packageVersion")?,
        block,
        inputs,
    ))
}

/// One line of a batch journal. Write [`to_line`](Self::to_line) (it ends with `\n`).
#[derive(Clone, PartialEq)]
pub struct JournalRecord(Record);

impl fmt::Debug for JournalRecord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.to_line().trim_end())
    }
}

impl JournalRecord {
    /// The record as one line of JSON, ending with `\n`.
    pub fn to_line(&self) -> String {
        let mut line = serde_json::to_string(&self.0).unwrap_or_else(|_| "{}".to_owned());
        line.push('\n');
        line
    }

    /// The input the record is about (`None` for the header).
    pub fn index(&self) -> Option<usize> {
        match &self.0 {
            Record::Batch { .. } => None,
            Record::Sending { i, .. }
            | Record::Created { i, .. }
            | Record::NotCreated { i, .. }
            | Record::Unknown { i, .. }
            | Record::Done { i, .. } => usize::try_from(*i).ok(),
        }
    }
}

#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "t", rename_all = "snake_case")]
enum Record {
    Batch {
        v: u32,
        inputs: u64,
        at: u64,
    },
    Sending {
        i: u64,
        input: String,
        at: u64,
    },
    Created {
        i: u64,
        input: String,
        task: String,
    },
    NotCreated {
        i: u64,
        input: String,
        error: String,
    },
    Unknown {
        i: u64,
        input: String,
        error: String,
    },
    Done {
        i: u64,
        input: String,
        task: String,
        status: TaskStatus,
        #[serde(rename = "resultURL", default, skip_serializing_if = "Option::is_none")]
        result_url: Option<String>,
        #[serde(
            rename = "resultData",
            default,
            skip_serializing_if = "Option::is_none"
        )]
        result_data: Option<Value>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        error: Option<String>,
    },
}

/// What a journal says of one input.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Known {
    /// A create was sent; no answer was recorded.
    Sending { at: u64 },
    /// Created: this task.
    Created(String),
    /// Definitely not created: may be created.
    NotCreated,
    /// The create's outcome is unknown.
    Unknown { at: u64 },
    /// Finished: this task.
    Done(String),
}

/// A journal read back, line by line, to resume a batch from ([`Batch::resume`]).
///
/// Read the file's lines in order (each with its `\n`; a last line without one is a
/// record torn by a crash and is ignored), then truncate the file to
/// [`valid_len`](Self::valid_len) before appending, so that no torn bytes end up in the
/// middle of the journal.
///
/// ```
/// use cloud_task_core::JournalReplay;
/// let header = "{\"t\":\"batch\",\"v\":1,\"inputs\":2,\"at\":0}\n";
/// let created = "{\"t\":\"created\",\"i\":0,\"input\":\"ab\",\"task\":\"t-1\"}\n";
/// let mut replay = JournalReplay::new();
/// replay.read_line(header.as_bytes())?;
/// replay.read_line(created.as_bytes())?;
/// replay.read_line(b"{\"t\":\"crea")?; // torn by a crash: ignored
/// assert_eq!(replay.records(), 2);
/// assert_eq!(replay.valid_len(), (header.len() + created.len()) as u64);
/// assert_eq!(replay.task_id(0), Some("t-1"));
/// # Ok::<(), cloud_task_core::Error>(())
/// ```
#[derive(Debug, Default)]
pub struct JournalReplay {
    known: HashMap<u64, (String, Known)>,
    header: bool,
    records: u64,
    lines: u64,
    valid_len: u64,
    torn: bool,
}

impl JournalReplay {
    /// An empty replay (a new journal).
    pub fn new() -> Self {
        JournalReplay::default()
    }

    /// Reads one line, `\n` included. A line without `\n` is taken as the torn last record
    /// of a crash and ignored; a complete line that is not a record, a first record that
    /// is not the header, or a record contradicting an earlier one about the same input is
    /// an [`Error::InvalidInput`] naming the line.
    pub fn read_line(&mut self, line: &[u8]) -> Result<(), Error> {
        if self.torn {
            return Err(self.bad("a record follows a torn one: the journal is damaged"));
        }
        self.lines += 1;
        if line.last() != Some(&b'\n') {
            self.torn = true;
            return Ok(());
        }
        self.valid_len += line.len() as u64;
        if line.iter().all(u8::is_ascii_whitespace) {
            return Ok(());
        }
        let record: Record = serde_json::from_slice(line)
            .map_err(|e| self.bad(&format!("it is not a batch journal record ({e})")))?;
        self.records += 1;
        if !self.header {
            return match record {
                Record::Batch { v, .. } if v == JOURNAL_VERSION => {
                    self.header = true;
                    Ok(())
                }
                Record::Batch { v, .. } => Err(self.bad(&format!(
                    "the journal is of format version {v}; this SDK reads version {JOURNAL_VERSION}"
                ))),
                _ => Err(self.bad("the journal does not start with its header")),
            };
        }
        let (i, input, known) = match record {
            Record::Batch { .. } => return Ok(()),
            Record::Sending { i, input, at } => (i, input, Known::Sending { at }),
            Record::Created { i, input, task } => (i, input, Known::Created(task)),
            Record::NotCreated { i, input, .. } => (i, input, Known::NotCreated),
            Record::Unknown { i, input, .. } => (i, input, Known::Unknown { at: 0 }),
            Record::Done { i, input, task, .. } => (i, input, Known::Done(task)),
        };
        let line_no = self.lines;
        match self.known.get_mut(&i) {
            None => {
                self.known.insert(i, (input, known));
            }
            Some((was_input, _)) if *was_input != input => {
                return Err(Error::invalid_input(
                    "journal",
                    format!(
                        "line {line_no} of the journal gives input {i} another identity than earlier lines: the journal is damaged"
                    ),
                ));
            }
            Some((_, was)) => {
                *was = match (std::mem::replace(was, Known::NotCreated), known) {
                    // A task once known stays known: later records cannot unmake it.
                    (Known::Done(task), _) => Known::Done(task),
                    (Known::Created(_), Known::Done(task)) => Known::Done(task),
                    (Known::Created(task), _) => Known::Created(task),
                    (Known::Sending { at }, Known::Unknown { .. }) => Known::Unknown { at },
                    (_, next) => next,
                };
            }
        }
        Ok(())
    }

    fn bad(&self, why: &str) -> Error {
        Error::invalid_input(
            "journal",
            format!("line {} of the journal: {why}", self.lines),
        )
    }

    /// Reads every line of `reader` (a journal file opened by the driver): see
    /// [`read_line`](Self::read_line). Read errors are [`Error::Io`].
    pub fn read_from(mut reader: impl std::io::BufRead) -> Result<JournalReplay, Error> {
        let mut replay = JournalReplay::new();
        let mut line = Vec::new();
        loop {
            line.clear();
            let n = reader
                .read_until(b'\n', &mut line)
                .map_err(|e| Error::io("reading the batch journal", e))?;
            if n == 0 {
                return Ok(replay);
            }
            replay.read_line(&line)?;
        }
    }

    /// The bytes of complete records read: truncate the file to this before appending.
    pub fn valid_len(&self) -> u64 {
        self.valid_len
    }

    /// How many records were read (the header included).
    pub fn records(&self) -> u64 {
        self.records
    }

    /// True when no record was read: a new journal, to start with a header.
    pub fn is_empty(&self) -> bool {
        self.records == 0
    }

    /// The task the journal holds for input `index`, if any.
    pub fn task_id(&self, index: usize) -> Option<&str> {
        match self.known.get(&(index as u64)) {
            Some((_, Known::Created(task) | Known::Done(task))) => Some(task),
            _ => None,
        }
    }
}

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

/// Where one input stands.
#[derive(Debug)]
enum Item {
    Pending { refusals: u32 },
    Creating { refusals: u32, sent_ms: u64 },
    Active { slot: usize },
    Unknown { refusals: u32, error: Error },
    Ended,
}

/// The walk of the account's task list that settles unknown creates.
struct Lookup {
    pages: Paginator,
    /// The page request in flight.
    sent: Option<RequestId>,
    /// Tasks created before this (ms since the epoch, server clock) are not ours.
    cutoff_ms: i64,
    /// The inputs looked for, by identity, lowest index first.
    wanted: HashMap<String, VecDeque<usize>>,
}

/// A batch of creates and waits under one scheduler: bounded creates in flight, the
/// account's limits kept, refusals backed off, unknown outcomes settled, results handed out
/// as they finish.
///
/// # What a batch guarantees
///
/// - **At most one task per input.** A create is never sent twice unless its first
///   sending was definitely refused: a `429`, `408` or `425` answer, or a connection that
///   could not be opened (nothing reached the server). A create whose outcome is unknown (a
///   connection dropped after sending, a timeout, a `5xx`, an unreadable `2xx`) is not sent
///   again: it is looked up among the account's tasks (see below) and, when not found,
///   handed out as [`BatchOutcome::Unknown`] with its input's index.
/// - **The account's limits are kept.** Before creating, the batch reads the dashboard's
///   `maxConcurrency` and `maxQueueSize` and keeps its own queued-plus-running tasks within
///   what the account's other tasks leave free (re-read every few seconds while inputs are
///   left, and after a refusal). When the dashboard shows no room and none of the batch's
///   tasks is in flight, one create goes out all the same, so that the server's answer,
///   not the dashboard, decides: a dashboard cannot hold a batch for ever. A `429` holds
///   every create back for its `Retry-After` (at most [`MAX_HOLD`]).
/// - **Nothing obtained is lost.** With a journal, each input's task ID is recorded as
///   soon as its create answers, before any waiting, and each result when it is obtained.
///   Resuming from the journal ([`JournalReplay`], [`Batch::resume`]) re-attaches to the
///   tasks it holds and creates only the inputs that were never created.
///
/// # Looking up unknown outcomes
///
/// A task's listing carries the inputs it was created with (`schedulerPayload`), so an
/// unknown create can be settled: once no create is left to send, the batch walks the
/// account's task list from the newest, back to a few minutes before the first unknown
/// create was sent, and matches each task not already known by package, version, block
/// and inputs. A match is attached to its input (recorded as created and waited for);
/// inputs without a match are [`BatchOutcome::Unknown`], and created again only with
/// [`BatchOptions::recreate_unknown`]. Identical inputs are interchangeable: a match is
/// given to the first of them. (Another client creating the very same inputs in that
/// window could be mistaken for ours: turn the lookup off with
/// [`BatchOptions::lookup_unknown`] if that can happen.)
///
/// # The journal
///
/// JSON Lines, one record per line, appended. The first line is a header
/// (`{"t":"batch","v":1,...}`); then, per input `i`: `sending` (written and synced before
/// its create is sent), `created` (with the task ID), `not_created` (a definite refusal,
/// or a lookup that found nothing), `unknown`, and `done` (the result: status, result URL
/// and data, or the failure message). Every record about an input carries that input's
/// identity (`input`): the first 128 bits of the SHA-256 of its canonical JSON (package,
/// version, block and inputs, object keys sorted), so a resume against a changed input file
/// is refused, naming the first input that differs.
///
/// The machine says when to make the journal durable ([`BatchAction::Sync`]): before a
/// create is sent, and before any wait. Records between two syncs are synced together, so
/// a batch of ten thousand inputs costs a few thousand syncs, not tens of thousands.
///
/// # Driving it
///
/// Calling order: loop on [`poll_action`](Self::poll_action) and do what it says:
/// append [`BatchAction::Record`]s to the journal and sync it on [`BatchAction::Sync`];
/// send what it says to send and feed each answer back with its `id`; hand out
/// [`BatchAction::Item`]s; sleep on [`BatchAction::Wait`] (waking on an answer); stop at
/// [`BatchAction::Finished`]. Every request carries its deadline; a create whose answer is
/// overdue is given up by the batch itself (as unknown).
///
/// ```
/// use std::time::{Duration, Instant};
/// use cloud_task_core::{Batch, BatchAction, BatchOptions, BatchOutcome, Config, CreateTaskRequest, http};
///
/// let config = Config::builder().api_key("k").build()?;
/// let inputs = vec![CreateTaskRequest::new("@oomol/echo", "1.0.0", "main").input("n", 1)];
/// let options = BatchOptions::new().account_limits(false);
/// let start = Instant::now();
/// let mut batch = Batch::new(&config, inputs, options, start, 1_700_000_000_000)?;
/// let mut now = start;
/// let mut journal = String::new();
/// let item = loop {
///     match batch.poll_action(now) {
///         BatchAction::Record(record) => journal.push_str(&record.to_line()),
///         BatchAction::Sync => {} // flush and sync the journal here
///         BatchAction::Send { transmit, .. } => {
///             let body: &[u8] = if transmit.name == "create_task" {
///                 br#"{"taskID":"t-1"}"#
///             } else {
///                 br#"{"status":"success","resultURL":null,"resultData":[{"n":1}]}"#
///             };
///             batch.handle_response(transmit.id, http::Response::new(body.to_vec()), now);
///         }
///         BatchAction::Wait(d) => now += d,
///         BatchAction::Item(item) => break item,
///         _ => {}
///     }
/// };
/// assert!(matches!(item.outcome, BatchOutcome::Succeeded(_)));
/// assert_eq!(journal.lines().count(), 4); // header, sending, created, done
/// # Ok::<(), cloud_task_core::Error>(())
/// ```
pub struct Batch {
    config: Config,
    options: BatchOptions,
    requests: Vec<CreateTaskRequest>,
    identities: Vec<String>,
    items: Vec<Item>,
    pending: VecDeque<usize>,
    creates: HashMap<RequestId, (usize, Flight)>,
    set: PollerSet,
    /// The input of each task of the set.
    slot_input: Vec<usize>,
    /// Whether each task of the set was last seen running.
    slot_running: Vec<bool>,
    /// The task of each slot of the set (the set forgets it once finished).
    slot_tasks: Vec<String>,
    /// Inputs that have ended.
    ended: usize,
    known_tasks: HashSet<String>,
    out: VecDeque<BatchAction>,
    unsynced: bool,
    counts: BatchCounts,
    start: Instant,
    start_wall_ms: u64,
    /// When each unknown create was sent (ms since the epoch), for the lookup's cutoff.
    unknown_since: HashMap<usize, u64>,
    unknown_waiting: usize,
    // The account's limits.
    dashboard: Option<(Call, Option<RequestId>)>,
    next_dashboard: Option<Instant>,
    limits_read: bool,
    account_room: Option<u64>,
    hold_until: Option<Instant>,
    refusals_in_row: u32,
    fatal: Option<crate::error::ApiError>,
    lookup: Option<Lookup>,
    lookup_after: Option<Instant>,
    cancelled: bool,
    finished: bool,
    /// The journal could not be written (fed by a driver's engine).
    local_error: Option<Error>,
}

impl fmt::Debug for Batch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Batch")
            .field("counts", &self.counts)
            .field("cancelled", &self.cancelled)
            .finish_non_exhaustive()
    }
}

impl Batch {
    /// A batch creating a task for each of `requests`, started at `now`; `wall_ms` is the
    /// wall clock at `now` (milliseconds since the Unix epoch), for the journal and the
    /// lookup. Every request is checked here, before anything is sent: the first invalid
    /// one is an [`Error::InvalidInput`] naming its index.
    pub fn new(
        config: &Config,
        requests: Vec<CreateTaskRequest>,
        options: BatchOptions,
        now: Instant,
        wall_ms: u64,
    ) -> Result<Batch, Error> {
        Batch::resume(
            config,
            requests,
            options,
            &JournalReplay::new(),
            now,
            wall_ms,
        )
    }

    /// [`new`](Self::new), resuming from a journal read back: inputs it holds a task for
    /// are re-attached (waited for, not created); inputs it says were definitely not
    /// created, and inputs it does not mention, are created; inputs whose create was sent
    /// without a recorded answer are looked up (see the module docs). A journal about other
    /// inputs (an input's identity differs, or it names an input past the end) is an
    /// [`Error::InvalidInput`] naming the first such input.
    pub fn resume(
        config: &Config,
        requests: Vec<CreateTaskRequest>,
        options: BatchOptions,
        replay: &JournalReplay,
        now: Instant,
        wall_ms: u64,
    ) -> Result<Batch, Error> {
        for (index, request) in requests.iter().enumerate() {
            CreateTask::new(request.clone())
                .request(config)
                .map_err(|error| {
                    Error::invalid_input("requests", format!("input {index}: {error}"))
                })?;
        }
        let identities: Vec<String> = requests.iter().map(input_identity).collect();
        let mut known: Vec<(&u64, &(String, Known))> = replay.known.iter().collect();
        known.sort_by_key(|(i, _)| **i);
        for (i, (identity, _)) in &known {
            match identities.get(**i as usize) {
                Some(current) if current == identity => {}
                Some(_) => {
                    return Err(Error::invalid_input(
                        "journal",
                        format!(
                            "input {i} is not the one the journal recorded: the inputs changed since the journal was written (use a new journal for new inputs)"
                        ),
                    ));
                }
                None => {
                    return Err(Error::invalid_input(
                        "journal",
                        format!(
                            "the journal records input {i}, but there are only {} inputs: the inputs changed since the journal was written",
                            requests.len()
                        ),
                    ));
                }
            }
        }
        let await_options = options.await_options.clone();
        let mut batch = Batch {
            config: config.clone(),
            requests,
            identities,
            items: Vec::new(),
            pending: VecDeque::new(),
            creates: HashMap::new(),
            set: PollerSet::new(config, Vec::<String>::new(), &await_options, now),
            slot_input: Vec::new(),
            slot_running: Vec::new(),
            slot_tasks: Vec::new(),
            ended: 0,
            known_tasks: HashSet::new(),
            out: VecDeque::new(),
            unsynced: false,
            counts: BatchCounts::default(),
            start: now,
            start_wall_ms: wall_ms,
            unknown_since: HashMap::new(),
            unknown_waiting: 0,
            dashboard: None,
            next_dashboard: options.account_limits.then_some(now),
            limits_read: !options.account_limits,
            account_room: None,
            hold_until: None,
            refusals_in_row: 0,
            fatal: None,
            lookup: None,
            lookup_after: None,
            cancelled: false,
            finished: false,
            local_error: None,
            options,
        };
        let total = batch.requests.len();
        batch.counts.total = total;
        if replay.is_empty() {
            batch.record(Record::Batch {
                v: JOURNAL_VERSION,
                inputs: total as u64,
                at: wall_ms,
            });
        }
        for index in 0..total {
            match replay.known.get(&(index as u64)).map(|(_, k)| k) {
                Some(Known::Created(task) | Known::Done(task)) => {
                    batch.items.push(Item::Ended);
                    batch.attach(index, task.clone(), now, false);
                }
                Some(Known::Sending { at } | Known::Unknown { at }) => {
                    batch.items.push(Item::Unknown {
                        refusals: 0,
                        error: Error::protocol(
                            "create_task",
                            "the create was sent before the batch stopped, and its answer was not recorded",
                        ),
                    });
                    batch.counts.unknown += 1;
                    batch.unknown_waiting += 1;
                    let at = if *at == 0 { wall_ms } else { *at };
                    batch.unknown_since.insert(index, at);
                    batch.lookup_after = Some(now);
                }
                Some(Known::NotCreated) | None => {
                    batch.items.push(Item::Pending { refusals: 0 });
                    batch.pending.push_back(index);
                    batch.counts.pending += 1;
                }
            }
        }
        if batch.unknown_waiting > 0 && !batch.options.lookup_unknown {
            batch.settle_unknown_without_lookup();
        }
        Ok(batch)
    }

    /// The journal could not be written: the batch ends with `error` at its next step.
    pub(crate) fn fail_local(&mut self, error: Error) {
        self.local_error.get_or_insert(error);
    }

    /// The journal's failure, once.
    pub(crate) fn take_local_error(&mut self) -> Option<Error> {
        self.local_error.take()
    }

    /// Where the batch stands.
    pub fn counts(&self) -> BatchCounts {
        self.counts
    }

    /// The options of the batch.
    pub fn options(&self) -> &BatchOptions {
        &self.options
    }

    /// True once [`cancel`](Self::cancel) was called: a driver stops watching its cancel
    /// token then (it would fire again at once), and keeps reading the answers of the
    /// creates still in flight.
    pub fn is_cancelled(&self) -> bool {
        self.cancelled
    }

    /// The task of input `index`, while the batch waits for it.
    pub fn task_id(&self, index: usize) -> Option<&str> {
        match self.items.get(index) {
            Some(Item::Active { slot }) => self.set.task_id(*slot),
            _ => None,
        }
    }

    /// Stops creating: inputs not created yet end [`BatchOutcome::Cancelled`], tasks
    /// being waited for end so too (they keep running, and stay in the journal), inputs
    /// whose create is unknown end [`BatchOutcome::Unknown`]. The answers of creates in
    /// flight are still awaited (until their deadlines), so that their tasks are recorded.
    pub fn cancel(&mut self) {
        if self.cancelled {
            return;
        }
        self.cancelled = true;
        self.dashboard = None;
        if let Some(mut lookup) = self.lookup.take() {
            lookup.pages.cancel();
        }
        while let Some(index) = self.pending.pop_front() {
            self.counts.pending -= 1;
            self.end(index, None, BatchOutcome::Cancelled);
        }
        self.settle_unknown_without_lookup();
        self.set.cancel();
        self.drain_set();
    }

    /// Feeds the answer to request `id` (answers of requests given up or unknown are
    /// ignored).
    pub fn handle_response(&mut self, id: RequestId, response: HttpResponse, now: Instant) {
        self.answered(id, Ok(response), now);
    }

    /// Feeds a transport failure of request `id`.
    pub fn handle_transport_error(&mut self, id: RequestId, error: Error, now: Instant) {
        self.answered(id, Err(error), now);
    }

    fn answered(&mut self, id: RequestId, outcome: Result<HttpResponse, Error>, now: Instant) {
        if let Some((index, flight)) = self.creates.remove(&id) {
            self.create_answered(index, flight, outcome, now);
            return;
        }
        if let Some((call, sent)) = &mut self.dashboard
            && *sent == Some(id)
        {
            match outcome {
                Ok(response) => call.handle_response(id, response, now),
                Err(error) => call.handle_transport_error(id, error, now),
            }
            *sent = None;
            return;
        }
        if let Some(lookup) = &mut self.lookup
            && lookup.sent == Some(id)
        {
            match outcome {
                Ok(response) => lookup.pages.handle_response(id, response, now),
                Err(error) => lookup.pages.handle_transport_error(id, error, now),
            }
            lookup.sent = None;
            return;
        }
        match outcome {
            Ok(response) => self.set.handle_response(id, response, now),
            Err(error) => self.set.handle_transport_error(id, error, now),
        }
    }

    /// What to do next, at `now`.
    pub fn poll_action(&mut self, now: Instant) -> BatchAction {
        loop {
            if let Some(action) = self.out.pop_front() {
                return action;
            }
            if self.finished {
                return BatchAction::Finished;
            }
            self.expire_creates(now);
            if !self.out.is_empty() {
                continue;
            }
            if let Some(action) = self.step_dashboard(now) {
                return action;
            }
            if !self.out.is_empty() {
                continue;
            }
            if let Some(action) = self.step_lookup(now) {
                return action;
            }
            if !self.out.is_empty() {
                continue;
            }
            if self.step_create(now) {
                continue;
            }
            let set_wait = match self.set.poll_action(now) {
                PollSetAction::Send { index, transmit } => {
                    self.drain_set();
                    let input = self.slot_input[index];
                    return BatchAction::Send {
                        index: Some(input),
                        transmit,
                    };
                }
                PollSetAction::Progress {
                    index,
                    progress,
                    status,
                } => {
                    self.drain_set();
                    let running = status == TaskStatus::Running;
                    if self.slot_running[index] != running {
                        self.slot_running[index] = running;
                        if running {
                            self.counts.queued -= 1;
                            self.counts.running += 1;
                        } else {
                            self.counts.running -= 1;
                            self.counts.queued += 1;
                        }
                    }
                    return BatchAction::Progress {
                        index: self.slot_input[index],
                        progress,
                        status,
                    };
                }
                PollSetAction::Wait(d) | PollSetAction::AwaitResponse(d) => Some(d),
                PollSetAction::Finished => None,
            };
            self.drain_set();
            if !self.out.is_empty() {
                continue;
            }
            if self.unsynced {
                self.unsynced = false;
                return BatchAction::Sync;
            }
            if self.ended == self.counts.total && self.creates.is_empty() && self.lookup.is_none() {
                self.finished = true;
                self.dashboard = None;
                return BatchAction::Finished;
            }
            return BatchAction::Wait(self.next_wake(now, set_wait));
        }
    }

    /// The longest the driver may sleep: until the next poll, create, dashboard read or
    /// lookup is due, or the earliest deadline of a request in flight.
    fn next_wake(&self, now: Instant, set_wait: Option<Duration>) -> Duration {
        let mut at: Vec<Instant> = Vec::new();
        if let Some(d) = set_wait {
            at.push(now + d);
        }
        at.extend(self.creates.values().map(|(_, flight)| flight.deadline));
        if let Some((call, _)) = &self.dashboard {
            at.extend(call.deadline());
        }
        if !self.pending.is_empty() {
            at.extend(self.next_dashboard);
            if self.room() > 0 {
                at.extend(self.hold_until);
            }
        }
        if self.lookup.is_none() && self.unknown_waiting > 0 {
            at.extend(self.lookup_after);
        }
        if self.lookup.is_some() {
            // The paginator says how long its page may take; be back by then.
            at.push(now + self.config.timeout());
        }
        at.into_iter()
            .min()
            .map(|at| at.saturating_duration_since(now))
            // Nothing due (never, while an input is unfinished): a bound all the same.
            .unwrap_or(Duration::from_secs(1))
    }

    fn record(&mut self, record: Record) {
        self.out
            .push_back(BatchAction::Record(JournalRecord(record)));
        self.unsynced = true;
    }

    fn wall_ms(&self, now: Instant) -> u64 {
        self.start_wall_ms
            .saturating_add(now.saturating_duration_since(self.start).as_millis() as u64)
    }

    /// Ends input `index` with `outcome`, counting it.
    fn end(&mut self, index: usize, task_id: Option<String>, outcome: BatchOutcome) {
        match &outcome {
            BatchOutcome::Succeeded(_) => self.counts.done += 1,
            BatchOutcome::Failed(_) | BatchOutcome::NotCreated(_) => self.counts.failed += 1,
            // Counted when it became unknown.
            BatchOutcome::Unknown(_) => self.unknown_waiting -= 1,
            BatchOutcome::Cancelled => self.counts.cancelled += 1,
        }
        self.ended += 1;
        self.items[index] = Item::Ended;
        self.out.push_back(BatchAction::Item(BatchItem {
            index,
            task_id,
            outcome,
        }));
    }

    /// Input `index` has task `task_id`: wait for it (or, once cancelled, hand it out).
    fn attach(&mut self, index: usize, task_id: String, now: Instant, announce: bool) {
        self.known_tasks.insert(task_id.clone());
        // What an input was is kept only while it may be created again.
        self.requests[index].input_values = None;
        if announce {
            self.out.push_back(BatchAction::Created {
                index,
                task_id: task_id.clone(),
            });
        }
        if self.cancelled {
            self.end(index, Some(task_id), BatchOutcome::Cancelled);
            return;
        }
        let slot = self.set.push(task_id.clone(), now);
        self.slot_tasks.push(task_id);
        self.slot_input.push(index);
        self.slot_running.push(false);
        self.items[index] = Item::Active { slot };
        self.counts.queued += 1;
    }

    /// Hands out the outcomes of finished tasks.
    fn drain_set(&mut self) {
        while let Some((slot, outcome)) = self.set.take_finished() {
            let index = self.slot_input[slot];
            if self.slot_running[slot] {
                self.counts.running -= 1;
            } else {
                self.counts.queued -= 1;
            }
            let task = self.slot_tasks[slot].clone();
            // Only an ended task is `done` in the journal: a wait that ended otherwise (a
            // timeout, a cancellation) is waited for again by a resume.
            let done = match &outcome {
                Ok(success) => Some((TaskStatus::Success, Some(success), None)),
                Err(error @ Error::TaskFailed(_)) => {
                    Some((TaskStatus::Failed, None, Some(error.to_string())))
                }
                Err(_) => None,
            };
            if let Some((status, success, error)) = done {
                self.record(Record::Done {
                    i: index as u64,
                    input: self.identities[index].clone(),
                    task: task.clone(),
                    status,
                    result_url: success.and_then(|s| s.result_url.clone()),
                    result_data: success.and_then(|s| s.result_data.clone()),
                    error,
                });
            }
            let outcome = match outcome {
                Ok(success) => BatchOutcome::Succeeded(success),
                Err(Error::Cancelled(_)) => BatchOutcome::Cancelled,
                Err(error) => BatchOutcome::Failed(error),
            };
            self.end(index, Some(task), outcome);
        }
    }
}

impl Batch {
    /// The answer (or the transport's failure) of the create of input `index`.
    fn create_answered(
        &mut self,
        index: usize,
        mut flight: Flight,
        outcome: Result<HttpResponse, Error>,
        now: Instant,
    ) {
        let Item::Creating { refusals, sent_ms } = self.items[index] else {
            return;
        };
        self.counts.creating -= 1;
        let response = match outcome {
            Ok(response) => response,
            Err(error) => {
                let error = flight.name_error(error);
                // A connection never opened sent nothing: as good as a refusal.
                return match &error {
                    Error::Transport(t) if t.kind == TransportErrorKind::Connect => {
                        self.refused(index, refusals, error, None, now)
                    }
                    _ => self.unknown(index, refusals, sent_ms, error, now),
                };
            }
        };
        let response = match flight.land(&self.config, response) {
            Landing::Response(response) => response,
            Landing::Follow(transmit) => {
                self.counts.creating += 1;
                self.creates.insert(transmit.id, (index, flight));
                self.out.push_back(BatchAction::Send {
                    index: Some(index),
                    transmit,
                });
                return;
            }
            Landing::Failed(error) => return self.unknown(index, refusals, sent_ms, error, now),
        };
        let status = response.status();
        if status.is_success() {
            return match wire::parse_json::<crate::models::CreateTaskResponse>(
                "create task",
                response,
            ) {
                Ok(created) if !created.task_id.is_empty() => {
                    self.refusals_in_row = 0;
                    self.record(Record::Created {
                        i: index as u64,
                        input: self.identities[index].clone(),
                        task: created.task_id.clone(),
                    });
                    self.attach(index, created.task_id, now, true);
                }
                Ok(_) => {
                    let error = Error::protocol("create_task", "the answer has an empty taskID");
                    self.unknown(index, refusals, sent_ms, error, now);
                }
                Err(error) => self.unknown(index, refusals, sent_ms, error, now),
            };
        }
        let api = wire::api_error(response);
        let retry_after = api.retry_after;
        match status.as_u16() {
            408 | 425 | 429 => {
                self.refused(index, refusals, Error::Api(Box::new(api)), retry_after, now);
            }
            // The key, the account or its credit: every other create would meet the same.
            401..=403 => {
                self.fatal = Some(api.clone());
                self.not_created(index, Error::Api(Box::new(api)));
                while let Some(other) = self.pending.pop_front() {
                    self.counts.pending -= 1;
                    let error = Error::Api(Box::new(self.fatal.clone().expect("set above")));
                    self.not_created(other, error);
                }
            }
            400..=499 => self.not_created(index, Error::Api(Box::new(api))),
            // A 5xx may come after the task was made.
            _ => self.unknown(index, refusals, sent_ms, Error::Api(Box::new(api)), now),
        }
    }

    /// A definite refusal of the create of input `index`: nothing was created; it is sent
    /// again after the hold (or given up after too many).
    fn refused(
        &mut self,
        index: usize,
        refusals: u32,
        error: Error,
        retry_after: Option<Duration>,
        now: Instant,
    ) {
        let refusals = refusals.saturating_add(1);
        self.refusals_in_row = self.refusals_in_row.saturating_add(1);
        if refusals > self.options.max_refusals || self.cancelled {
            return self.not_created(index, error);
        }
        self.record(Record::NotCreated {
            i: index as u64,
            input: self.identities[index].clone(),
            error: error.to_string(),
        });
        self.items[index] = Item::Pending { refusals };
        self.pending.push_front(index);
        self.counts.pending += 1;
        let backoff = Duration::from_secs(1)
            .saturating_mul(1 << self.refusals_in_row.saturating_sub(1).min(6));
        let hold = retry_after.unwrap_or(backoff).clamp(MIN_HOLD, MAX_HOLD);
        let until = now + hold;
        self.hold_until = Some(self.hold_until.map_or(until, |at| at.max(until)));
        // The account's limits may have moved: read them again soon.
        if self.options.account_limits && self.dashboard.is_none() {
            let soon = now + Duration::from_secs(1);
            self.next_dashboard = Some(self.next_dashboard.map_or(soon, |at| at.min(soon)));
        }
    }

    /// Input `index` was definitely not created, and will not be.
    fn not_created(&mut self, index: usize, error: Error) {
        self.record(Record::NotCreated {
            i: index as u64,
            input: self.identities[index].clone(),
            error: error.to_string(),
        });
        self.end(index, None, BatchOutcome::NotCreated(error));
    }

    /// The create of input `index` was sent and its outcome is unknown.
    fn unknown(&mut self, index: usize, refusals: u32, sent_ms: u64, error: Error, now: Instant) {
        self.record(Record::Unknown {
            i: index as u64,
            input: self.identities[index].clone(),
            error: error.to_string(),
        });
        self.counts.unknown += 1;
        self.unknown_waiting += 1;
        if !self.options.lookup_unknown || self.cancelled {
            return self.end(index, None, BatchOutcome::Unknown(error));
        }
        self.items[index] = Item::Unknown { refusals, error };
        self.unknown_since.insert(index, sent_ms);
        let after = now + LOOKUP_DELAY;
        self.lookup_after = Some(self.lookup_after.map_or(after, |at| at.max(after)));
    }

    /// Ends every input whose create is unknown as [`BatchOutcome::Unknown`].
    fn settle_unknown_without_lookup(&mut self) {
        if self.unknown_waiting == 0 {
            return;
        }
        for index in 0..self.items.len() {
            if let Item::Unknown { .. } = self.items[index]
                && let Item::Unknown { error, .. } =
                    std::mem::replace(&mut self.items[index], Item::Ended)
            {
                self.unknown_since.remove(&index);
                self.end(index, None, BatchOutcome::Unknown(error));
            }
        }
    }

    /// Gives up the creates whose answer is overdue: their outcome is unknown.
    fn expire_creates(&mut self, now: Instant) {
        let overdue: Vec<RequestId> = self
            .creates
            .iter()
            .filter(|(_, (_, flight))| flight.is_overdue(now))
            .map(|(id, _)| *id)
            .collect();
        for id in overdue {
            if let Some((index, flight)) = self.creates.remove(&id)
                && let Item::Creating { refusals, sent_ms } = self.items[index]
            {
                self.counts.creating -= 1;
                self.unknown(index, refusals, sent_ms, flight.elapsed(), now);
            }
        }
    }

    /// How many more creates may be sent now.
    fn room(&self) -> usize {
        let ours = self.counts.creating + self.counts.queued + self.counts.running;
        let mut room = self
            .options
            .creates_in_flight
            .saturating_sub(self.counts.creating);
        if let Some(max) = self.options.max_active {
            room = room.min(max.saturating_sub(ours));
        }
        if let Some(account) = self.account_room {
            let free = usize::try_from(account)
                .unwrap_or(usize::MAX)
                .saturating_sub(ours);
            // The dashboard alone never stops a batch that has nothing of its own in
            // flight: one create goes out, and the server's answer (a task, or a 429
            // counted against `max_refusals`) decides. A dashboard that never shows room
            // cannot hold the batch for ever.
            room = room.min(if ours == 0 { free.max(1) } else { free });
        }
        room
    }

    /// Sends the creates there is room for: their `sending` records, one sync, then the
    /// creates. True when it did.
    fn step_create(&mut self, now: Instant) -> bool {
        if self.cancelled || self.fatal.is_some() || !self.limits_read || self.pending.is_empty() {
            return false;
        }
        if self.hold_until.is_some_and(|at| at > now) {
            return false;
        }
        self.hold_until = None;
        let mut sends = Vec::new();
        for _ in 0..self.room() {
            let Some(index) = self.pending.pop_front() else {
                break;
            };
            self.counts.pending -= 1;
            let refusals = match self.items[index] {
                Item::Pending { refusals } => refusals,
                _ => 0,
            };
            let request = match CreateTask::new(self.requests[index].clone()).request(&self.config)
            {
                Ok(request) => request,
                Err(error) => {
                    self.not_created(index, error);
                    continue;
                }
            };
            let (flight, transmit) =
                Flight::launch(&self.config, CreateTask::NAME, request, now, None, true);
            let sent_ms = self.wall_ms(now);
            self.items[index] = Item::Creating { refusals, sent_ms };
            self.counts.creating += 1;
            self.record(Record::Sending {
                i: index as u64,
                input: self.identities[index].clone(),
                at: sent_ms,
            });
            self.creates.insert(transmit.id, (index, flight));
            sends.push((index, transmit));
        }
        if sends.is_empty() {
            return !self.out.is_empty();
        }
        // The `sending` records must be durable before their creates leave.
        self.out.push_back(BatchAction::Sync);
        self.unsynced = false;
        for (index, transmit) in sends {
            self.out.push_back(BatchAction::Send {
                index: Some(index),
                transmit,
            });
        }
        true
    }

    /// Reads the dashboard when due; `Some` when a request is to be sent.
    fn step_dashboard(&mut self, now: Instant) -> Option<BatchAction> {
        if self.dashboard.is_none() {
            let due = self.next_dashboard.is_some_and(|at| at <= now);
            if self.cancelled || !due || (self.pending.is_empty() && self.limits_read) {
                return None;
            }
            self.next_dashboard = None;
            match Call::for_operation(&GetDashboard, &self.config, now) {
                Ok(call) => self.dashboard = Some((call, None)),
                Err(_) => {
                    self.limits_read = true;
                    return None;
                }
            }
        }
        let (call, sent) = self.dashboard.as_mut()?;
        match call.poll_action(now) {
            CallAction::Send(transmit) => {
                *sent = Some(transmit.id);
                Some(BatchAction::Send {
                    index: None,
                    transmit,
                })
            }
            CallAction::Wait(_) => None,
            CallAction::Done(outcome) => {
                self.dashboard = None;
                self.limits_read = true;
                match outcome.and_then(|response| GetDashboard.parse(response)) {
                    Ok(dashboard) => {
                        let limits = dashboard.limits;
                        let room = limits.max_concurrency.saturating_add(limits.max_queue_size);
                        self.account_room = (room > 0).then(|| {
                            let c = dashboard.count;
                            let in_progress = c.queued + c.scheduling + c.scheduled + c.running;
                            let ours = (self.counts.queued + self.counts.running) as u64;
                            room.saturating_sub(in_progress.saturating_sub(ours))
                        });
                        if !self.pending.is_empty() {
                            self.next_dashboard = Some(now + DASHBOARD_EVERY);
                        }
                    }
                    // No limits to read (an older server, a proxy): the batch's own bounds
                    // hold; refusals still back it off.
                    Err(_) => self.account_room = None,
                }
                None
            }
        }
    }

    /// Settles the unknown creates when due; `Some` when a request is to be sent.
    fn step_lookup(&mut self, now: Instant) -> Option<BatchAction> {
        if self.lookup.is_none() {
            let due = self.lookup_after.is_some_and(|at| at <= now);
            if self.cancelled
                || !due
                || self.unknown_since.is_empty()
                || !self.pending.is_empty()
                || !self.creates.is_empty()
            {
                return None;
            }
            self.lookup_after = None;
            let mut wanted: HashMap<String, VecDeque<usize>> = HashMap::new();
            let mut indexes: Vec<usize> = self.unknown_since.keys().copied().collect();
            indexes.sort_unstable();
            for &index in &indexes {
                wanted
                    .entry(self.identities[index].clone())
                    .or_default()
                    .push_back(index);
            }
            let first_ms = self.unknown_since.values().copied().min().unwrap_or(0);
            let cutoff_ms = i64::try_from(first_ms)
                .unwrap_or(i64::MAX)
                .saturating_sub(LOOKUP_SKEW_MS);
            match Paginator::new(&self.config, ListTasksQuery::new().size(100)) {
                Ok(pages) => {
                    self.lookup = Some(Lookup {
                        pages,
                        sent: None,
                        cutoff_ms,
                        wanted,
                    })
                }
                Err(_) => {
                    self.end_lookup();
                    return None;
                }
            }
        }
        let lookup = self.lookup.as_mut()?;
        match lookup.pages.poll_action(now) {
            PageAction::Send(transmit) => {
                lookup.sent = Some(transmit.id);
                Some(BatchAction::Send {
                    index: None,
                    transmit,
                })
            }
            PageAction::Wait(_) => None,
            PageAction::Page(page) => {
                let mut older = false;
                let mut found = Vec::new();
                for task in page.tasks {
                    if task.created_at < lookup.cutoff_ms {
                        older = true;
                        continue;
                    }
                    if self.known_tasks.contains(&task.task_id) {
                        continue;
                    }
                    let Some(identity) = identity_of_listed(&task) else {
                        continue;
                    };
                    if let Some(indexes) = lookup.wanted.get_mut(&identity)
                        && let Some(index) = indexes.pop_front()
                    {
                        found.push((index, task.task_id));
                    }
                }
                lookup.wanted.retain(|_, indexes| !indexes.is_empty());
                if older || lookup.wanted.is_empty() {
                    lookup.pages.stop();
                }
                for (index, task_id) in found {
                    self.found(index, task_id, now);
                }
                // The walk moves on at once (its next page, or its end): nothing else may
                // be left to wake the driver before the walk's own deadline.
                self.step_lookup(now)
            }
            PageAction::Done(_) => {
                // A walk that failed leaves the rest unknown, as a walk that found nothing.
                self.lookup = None;
                self.end_lookup();
                None
            }
        }
    }

    /// The lookup found input `index`'s task.
    fn found(&mut self, index: usize, task_id: String, now: Instant) {
        if !matches!(self.items[index], Item::Unknown { .. }) {
            return;
        }
        self.unknown_since.remove(&index);
        self.unknown_waiting -= 1;
        self.counts.unknown -= 1;
        self.record(Record::Created {
            i: index as u64,
            input: self.identities[index].clone(),
            task: task_id.clone(),
        });
        self.attach(index, task_id, now, true);
    }

    /// The lookup is over: what it did not find is created again when asked, else ends
    /// unknown.
    fn end_lookup(&mut self) {
        let mut indexes: Vec<usize> = self.unknown_since.keys().copied().collect();
        indexes.sort_unstable();
        for index in indexes {
            self.unknown_since.remove(&index);
            let Item::Unknown { refusals, error } =
                std::mem::replace(&mut self.items[index], Item::Ended)
            else {
                continue;
            };
            let again = refusals.saturating_add(1);
            if self.options.recreate_unknown && again <= self.options.max_refusals {
                self.unknown_waiting -= 1;
                self.counts.unknown -= 1;
                self.record(Record::NotCreated {
                    i: index as u64,
                    input: self.identities[index].clone(),
                    error: format!("not found among the account's tasks after: {error}"),
                });
                self.items[index] = Item::Pending { refusals: again };
                self.pending.push_back(index);
                self.counts.pending += 1;
            } else {
                self.end(index, None, BatchOutcome::Unknown(error));
            }
        }
    }
}
