//! A task's log entries as typed events.
//!
//! The logs endpoint answers flat objects whose values are strings, nested JSON stringified
//! (`"stacks": "[]"`, `"output": "{\"a\":1}"`). These are the events OOMOL's engine writes
//! (its reporter messages, with a `type`): a block's log line, its outputs, its end, the end
//! of the session. [`LogEvent::from_entry`] types an entry, parsing the stringified values
//! back; an entry of a type it does not know, or whose fields do not have the expected
//! shape, is kept whole as [`LogEvent::Other`]: typing never fails.

use serde::ser::{SerializeMap, Serializer};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::LogEntry;

/// The keys whose values the logs endpoint stringifies (as OOMOL's engine reads them).
const STRINGIFIED: [&str; 4] = ["stacks", "output", "outputs", "result"];

/// One level of a block's place in nested flows: the flow job, the flow, and the node the
/// block runs as.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct StackLevel {
    /// The job of the flow at this level.
    pub flow_job_id: String,
    /// The flow, as a path.
    pub flow: String,
    /// The node of the flow the next level (or the block) runs as.
    pub node_id: String,
}

/// Where an event comes from: the stack of flows above the block (empty for the task's
/// root block), the block's path and its job.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct BlockPath {
    /// The flows above the block, outermost first; empty for the root block.
    pub stacks: Vec<StackLevel>,
    /// The block's path, when the entry names one.
    pub block_path: Option<String>,
    /// The block's job, when the entry names one.
    pub job_id: Option<String>,
}

impl BlockPath {
    /// True for the task's own (root) block.
    pub fn is_root(&self) -> bool {
        self.stacks.is_empty()
    }

    /// The nodes from the root to the block, e.g. `["extract", "ocr"]`.
    pub fn nodes(&self) -> impl Iterator<Item = &str> {
        self.stacks.iter().map(|level| level.node_id.as_str())
    }
}

/// One entry of a task's logs, typed.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum LogEvent {
    /// A line a block wrote (`BlockLog`).
    BlockLog {
        /// The block.
        block: BlockPath,
        /// The line.
        log: String,
        /// `stdout` or `stderr`, when named.
        stdio: Option<String>,
    },
    /// A block produced one output (`BlockOutput`).
    BlockOutput {
        /// The block.
        block: BlockPath,
        /// The output handle.
        handle: String,
        /// The value.
        output: Value,
    },
    /// A block produced several outputs at once (`BlockOutputs`).
    BlockOutputs {
        /// The block.
        block: BlockPath,
        /// Output handle to value.
        outputs: Map<String, Value>,
    },
    /// A block ended (`BlockFinished`): with its outputs, or an error.
    BlockFinished {
        /// The block.
        block: BlockPath,
        /// Its outputs, when it reported them.
        result: Option<Map<String, Value>>,
        /// Its error, when it failed.
        error: Option<String>,
    },
    /// A subflow block ended (`SubflowBlockFinished`).
    SubflowBlockFinished {
        /// The block.
        block: BlockPath,
        /// Its error, when it failed.
        error: Option<String>,
    },
    /// The session running the task ended (`SessionFinished`): with the root block's, the
    /// last entry the task writes.
    SessionFinished {
        /// Where it was reported (the root for the task's own session).
        block: BlockPath,
        /// Its error, when it failed.
        error: Option<String>,
    },
    /// Any other entry (a type this SDK does not type, or fields of an unexpected shape),
    /// kept as received.
    Other(LogEntry),
}

impl LogEvent {
    /// Types `entry`, parsing its stringified values back; never fails (see
    /// [`LogEvent::Other`]).
    ///
    /// ```
    /// # use cloud_task_core::{LogEntry, LogEvent};
    /// let entry: LogEntry = serde_json::from_str(
    ///     r#"{"type":"BlockOutput","stacks":"[]","handle":"text","output":"{\"pages\":2}"}"#,
    /// )?;
    /// match LogEvent::from_entry(entry) {
    ///     LogEvent::BlockOutput { block, handle, output } => {
    ///         assert!(block.is_root());
    ///         assert_eq!(handle, "text");
    ///         assert_eq!(output["pages"], 2);
    ///     }
    ///     other => panic!("{other:?}"),
    /// }
    /// # Ok::<(), serde_json::Error>(())
    /// ```
    pub fn from_entry(entry: LogEntry) -> LogEvent {
        match typed(&entry) {
            Some(event) => event,
            None => LogEvent::Other(entry),
        }
    }

    /// The entry's `type`, e.g. `BlockLog` (that of the kept entry for
    /// [`LogEvent::Other`], empty when it has none).
    pub fn type_name(&self) -> &str {
        match self {
            LogEvent::BlockLog { .. } => "BlockLog",
            LogEvent::BlockOutput { .. } => "BlockOutput",
            LogEvent::BlockOutputs { .. } => "BlockOutputs",
            LogEvent::BlockFinished { .. } => "BlockFinished",
            LogEvent::SubflowBlockFinished { .. } => "SubflowBlockFinished",
            LogEvent::SessionFinished { .. } => "SessionFinished",
            LogEvent::Other(entry) => entry.get_str("type").unwrap_or_default(),
        }
    }

    /// The block the event is about, when it is typed.
    pub fn block(&self) -> Option<&BlockPath> {
        match self {
            LogEvent::BlockLog { block, .. }
            | LogEvent::BlockOutput { block, .. }
            | LogEvent::BlockOutputs { block, .. }
            | LogEvent::BlockFinished { block, .. }
            | LogEvent::SubflowBlockFinished { block, .. }
            | LogEvent::SessionFinished { block, .. } => Some(block),
            LogEvent::Other(_) => None,
        }
    }

    /// True for the root block's `SessionFinished`: the task has written all its logs.
    pub fn ends_the_session(&self) -> bool {
        matches!(self, LogEvent::SessionFinished { block, .. } if block.is_root())
    }
}

/// The value of `key`, parsed back when the endpoint stringified it: a string that parses
/// as JSON other than a string becomes that JSON (as OOMOL's engine reads it), any other
/// value is kept.
pub(crate) fn unstringified(entry: &LogEntry, key: &str) -> Option<Value> {
    let value = entry.as_map().get(key)?;
    if let Value::String(text) = value
        && STRINGIFIED.contains(&key)
        && let Ok(parsed) = serde_json::from_str::<Value>(text)
        && !parsed.is_string()
    {
        return Some(parsed);
    }
    Some(value.clone())
}

/// A string field, absent or `null` as `None`; `Err` when it holds anything else.
fn text(entry: &LogEntry, key: &str) -> Result<Option<String>, ()> {
    match entry.as_map().get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(()),
    }
}

/// An object field (stringified or not), absent or `null` as `None`.
fn object(entry: &LogEntry, key: &str) -> Result<Option<Map<String, Value>>, ()> {
    match unstringified(entry, key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Object(map)) => Ok(Some(map)),
        Some(_) => Err(()),
    }
}

fn block_of(entry: &LogEntry) -> Result<BlockPath, ()> {
    let stacks = match unstringified(entry, "stacks") {
        None | Some(Value::Null) => Vec::new(),
        Some(value) => serde_json::from_value(value).map_err(|_| ())?,
    };
    Ok(BlockPath {
        stacks,
        block_path: text(entry, "block_path")?,
        job_id: text(entry, "job_id")?,
    })
}

/// The typed event of `entry`, or `None` when its type is unknown or a field does not
/// have the expected shape.
fn typed(entry: &LogEntry) -> Option<LogEvent> {
    let kind = entry.get_str("type")?;
    let block = block_of(entry).ok()?;
    Some(match kind {
        "BlockLog" => LogEvent::BlockLog {
            block,
            log: text(entry, "log").ok()??,
            stdio: text(entry, "stdio").ok()?,
        },
        "BlockOutput" => LogEvent::BlockOutput {
            block,
            handle: text(entry, "handle").ok()??,
            output: unstringified(entry, "output").unwrap_or(Value::Null),
        },
        "BlockOutputs" => LogEvent::BlockOutputs {
            block,
            outputs: object(entry, "outputs").ok()??,
        },
        "BlockFinished" => LogEvent::BlockFinished {
            block,
            result: object(entry, "result").ok()?,
            error: text(entry, "error").ok()?,
        },
        "SubflowBlockFinished" => LogEvent::SubflowBlockFinished {
            block,
            error: text(entry, "error").ok()?,
        },
        "SessionFinished" => LogEvent::SessionFinished {
            block,
            error: text(entry, "error").ok()?,
        },
        _ => return None,
    })
}

/// As JSON: `{"type": ..., ...}` with the entry's values parsed back (`stacks` a list,
/// `output` any JSON); an [`LogEvent::Other`] entry as received.
impl Serialize for LogEvent {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.serialize_at(None, s)
    }
}

impl LogEvent {
    /// Serializes the event as [`LogEvent`]'s `Serialize` does, with a `time` (milliseconds
    /// since the Unix epoch) after its `type` when given and the event is typed (an
    /// [`LogEvent::Other`] entry keeps its own `time`).
    pub(crate) fn serialize_at<S: Serializer>(
        &self,
        time: Option<i64>,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        let LogEvent::Other(entry) = self else {
            let mut map = s.serialize_map(None)?;
            map.serialize_entry("type", self.type_name())?;
            if let Some(time) = time {
                map.serialize_entry("time", &time)?;
            }
            if let Some(block) = self.block() {
                map.serialize_entry("stacks", &block.stacks)?;
                if let Some(path) = &block.block_path {
                    map.serialize_entry("block_path", path)?;
                }
                if let Some(job) = &block.job_id {
                    map.serialize_entry("job_id", job)?;
                }
            }
            match self {
                LogEvent::BlockLog { log, stdio, .. } => {
                    map.serialize_entry("log", log)?;
                    if let Some(stdio) = stdio {
                        map.serialize_entry("stdio", stdio)?;
                    }
                }
                LogEvent::BlockOutput { handle, output, .. } => {
                    map.serialize_entry("handle", handle)?;
                    map.serialize_entry("output", output)?;
                }
                LogEvent::BlockOutputs { outputs, .. } => {
                    map.serialize_entry("outputs", outputs)?;
                }
                LogEvent::BlockFinished { result, error, .. } => {
                    if let Some(result) = result {
                        map.serialize_entry("result", result)?;
                    }
                    if let Some(error) = error {
                        map.serialize_entry("error", error)?;
                    }
                }
                LogEvent::SubflowBlockFinished { error, .. }
                | LogEvent::SessionFinished { error, .. } => {
                    if let Some(error) = error {
                        map.serialize_entry("error", error)?;
                    }
                }
                LogEvent::Other(_) => {}
            }
            return map.end();
        };
        entry.serialize(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn entry(value: Value) -> LogEntry {
        serde_json::from_value(value).unwrap()
    }

    #[test]
    fn stringified_values_are_parsed_back_and_plain_strings_kept() {
        let e = entry(
            json!({"type": "BlockOutput", "handle": "h", "output": "\"quoted\"",
            "stacks": "[{\"flow_job_id\":\"j\",\"flow\":\"f\",\"node_id\":\"n\"}]"}),
        );
        match LogEvent::from_entry(e) {
            LogEvent::BlockOutput { block, output, .. } => {
                assert_eq!(output, json!("\"quoted\""));
                assert_eq!(block.nodes().collect::<Vec<_>>(), ["n"]);
                assert!(!block.is_root());
            }
            other => panic!("{other:?}"),
        }
        // Values not stringified are taken as they are.
        let e = entry(json!({"type": "BlockOutputs", "stacks": [], "outputs": {"a": 1}}));
        assert!(matches!(
            LogEvent::from_entry(e),
            LogEvent::BlockOutputs { outputs, .. } if outputs["a"] == 1
        ));
    }

    #[test]
    fn unknown_types_and_odd_shapes_are_kept_whole() {
        for value in [
            json!({"type": "BlockProgress", "progress": "50"}),
            json!({"no": "type"}),
            json!({"type": "BlockLog", "stacks": "not json"}),
            json!({"type": "BlockLog", "stacks": "[]"}),
            json!({"type": "BlockOutputs", "outputs": "[1]"}),
            json!({"type": "BlockLog", "log": 5}),
        ] {
            let e = entry(value.clone());
            assert_eq!(
                LogEvent::from_entry(e.clone()),
                LogEvent::Other(e),
                "{value}"
            );
        }
    }

    #[test]
    fn the_root_session_end_is_recognised_and_events_serialise_with_their_type() {
        let end = LogEvent::from_entry(entry(json!({"type": "SessionFinished", "stacks": "[]"})));
        assert!(end.ends_the_session());
        let nested = LogEvent::from_entry(entry(json!({"type": "SessionFinished",
            "stacks": "[{\"flow_job_id\":\"j\",\"flow\":\"f\",\"node_id\":\"n\"}]"})));
        assert!(!nested.ends_the_session());
        let log = LogEvent::from_entry(entry(
            json!({"type": "BlockLog", "stacks": "[]", "log": "hi", "stdio": "stdout", "job_id": "j1"}),
        ));
        assert_eq!(
            serde_json::to_value(&log).unwrap(),
            json!({"type": "BlockLog", "stacks": [], "job_id": "j1", "log": "hi", "stdio": "stdout"})
        );
        let other = entry(json!({"type": "Custom", "x": "1"}));
        assert_eq!(
            serde_json::to_value(LogEvent::from_entry(other)).unwrap(),
            json!({"type": "Custom", "x": "1"})
        );
    }
}
