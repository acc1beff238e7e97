//! The batch journal: the identity of an input, the records written, and a journal read
//! back to resume from.

#[cfg(doc)]
#[allow(unused_imports)]
use super::*;
use std::collections::HashMap;
use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::error::Error;
use crate::models::{TaskListItem, TaskStatus};
use crate::ops::CreateTaskRequest;

/// The journal's format version.
pub(super) const JOURNAL_VERSION: u32 = 1;

/// The longest line a journal may hold: 64 MiB (a `done` record carries the result's data,
/// itself bounded by the largest response body read, 32 MiB by default). A longer line is
/// refused, naming it, instead of being read on.
pub const MAX_JOURNAL_LINE: usize = 64 << 20;

/// How every journal starts: its header record is serialised with this first.
const HEADER_START: &[u8] = br#"{"t":"batch""#;

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
    let digest = hmac_sha256::Hash::hash(text.as_bytes());
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
pub(super) fn identity_of_listed(item: &TaskListItem) -> Option<String> {
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
pub struct JournalRecord(pub(super) Record);

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
pub(super) enum Record {
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
pub(super) enum Known {
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
    pub(super) known: HashMap<u64, (String, Known)>,
    pub(super) header: bool,
    pub(super) records: u64,
    pub(super) lines: u64,
    pub(super) valid_len: u64,
    pub(super) torn: bool,
}

impl JournalReplay {
    /// An empty replay (a new journal).
    pub fn new() -> Self {
        JournalReplay::default()
    }

    /// Reads one line, `\n` included. A line without `\n` is taken as the torn last record
    /// of a crash and ignored, when it can be one: after the header, or as the start of a
    /// header (a file of anything else, without a newline, is not a journal). A complete
    /// line that is not a record, a first record that is not the header, a line longer
    /// than [`MAX_JOURNAL_LINE`], or a record contradicting an earlier one about the same
    /// input is an [`Error::InvalidInput`] naming the line: a file that is not a journal is
    /// refused before anything is written to it.
    pub fn read_line(&mut self, line: &[u8]) -> Result<(), Error> {
        if self.torn {
            return Err(self.bad("a record follows a torn one: the journal is damaged"));
        }
        self.lines += 1;
        if line.len() > MAX_JOURNAL_LINE {
            return Err(self.bad(&format!(
                "the line is longer than {} MiB: this is not a batch journal",
                MAX_JOURNAL_LINE >> 20
            )));
        }
        if line.last() != Some(&b'\n') {
            let could_be_header = HEADER_START.starts_with(line) || line.starts_with(HEADER_START);
            if !self.header && !could_be_header {
                return Err(self.bad(
                    "this is not a batch journal (a journal starts with its header record); \
                     the file is left as it is: name another path",
                ));
            }
            self.torn = true;
            return Ok(());
        }
        self.valid_len += line.len() as u64;
        if line.iter().all(u8::is_ascii_whitespace) {
            return Ok(());
        }
        let record: Record = serde_json::from_slice(line).map_err(|e| {
            if self.header {
                self.bad(&format!("it is not a batch journal record ({e})"))
            } else {
                self.bad(&format!(
                    "this is not a batch journal ({e}); the file is left as it is: name another path"
                ))
            }
        })?;
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
    /// [`read_line`](Self::read_line). Each line is read up to [`MAX_JOURNAL_LINE`] bytes
    /// and one more, whatever the file holds. Read errors are [`Error::Io`].
    pub fn read_from(mut reader: impl std::io::BufRead) -> Result<JournalReplay, Error> {
        use std::io::{BufRead, Read};
        let mut replay = JournalReplay::new();
        let mut line = Vec::new();
        loop {
            line.clear();
            // One byte past the bound, so that a longer line is told apart and refused.
            let n = (&mut reader)
                .take(MAX_JOURNAL_LINE as u64 + 1)
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
