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
