//! A task's log entries, one page at a time.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// One log entry: a flat object whose values are strings. Nested JSON arrives
/// stringified; [`LogEntry::parsed`] parses it back.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct LogEntry(pub Map<String, Value>);

impl LogEntry {
    /// The value of `key` when it is a string.
    pub fn get_str(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(Value::as_str)
    }

    /// The value of `key`, parsed as JSON when it is a string holding JSON, else as is.
    pub fn parsed(&self, key: &str) -> Option<Value> {
        let value = self.0.get(key)?;
        if let Value::String(s) = value {
            let t = s.trim_start();
            if (t.starts_with('{') || t.starts_with('['))
                && let Ok(v) = serde_json::from_str(s)
            {
                return Some(v);
            }
        }
        Some(value.clone())
    }

    /// When the entry was written, in milliseconds since the Unix epoch: its `time`, which
    /// the logs endpoint sends as a string of digits (a number is read too); `None` when
    /// the entry has none, or one that is not a whole number.
    ///
    /// ```
    /// # use cloud_task_core::LogEntry;
    /// let entry: LogEntry = serde_json::from_str(r#"{"type":"BlockLog","time":"1714564800000"}"#)?;
    /// assert_eq!(entry.time_ms(), Some(1_714_564_800_000));
    /// # Ok::<(), serde_json::Error>(())
    /// ```
    pub fn time_ms(&self) -> Option<i64> {
        match self.0.get("time")? {
            Value::String(text) => text.trim().parse().ok(),
            Value::Number(number) => number.as_i64(),
            _ => None,
        }
    }

    /// The underlying map.
    pub fn as_map(&self) -> &Map<String, Value> {
        &self.0
    }
}

/// One page of a task's logs.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct TaskLogs {
    /// The entries on this page; empty past the last page.
    #[serde(default)]
    pub logs: Vec<LogEntry>,
}

impl TaskLogs {
    /// Builds a page of logs.
    pub fn new(logs: Vec<LogEntry>) -> Self {
        TaskLogs { logs }
    }
}
