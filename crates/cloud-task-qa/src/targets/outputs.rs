//! The typed outputs of a block (`cloud_task_core::decode_outputs`), from arbitrary data.

use cloud_task_core::typed::{TypedOutcome, decode_outputs};
use cloud_task_core::{Error, TaskSuccess};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::check_error_text;

/// The outputs of a block as `cloud-task codegen` writes them: a required text, an optional
/// number, a list of a string enum, an optional nested object with a renamed field.
#[derive(Debug, PartialEq, Serialize, Deserialize)]
struct Outputs {
    text: String,
    #[serde(default)]
    count: Option<i64>,
    #[serde(default)]
    modes: Vec<Mode>,
    #[serde(default)]
    nested: Option<Nested>,
}

#[derive(Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
enum Mode {
    Fast,
    Slow,
}

#[derive(Debug, PartialEq, Serialize, Deserialize)]
struct Nested {
    #[serde(rename = "a-b")]
    a_b: f64,
    #[serde(default)]
    list: Vec<Option<String>>,
}

/// The output handles of [`Outputs`], as an error may name them (the first segment).
const HANDLES: [&str; 4] = ["text", "count", "modes", "nested"];

/// Fuzz target: the bytes as a task's `resultData` (JSON when they parse, else a JSON
/// string of them; an empty input is no data at all), decoded as typed outputs. Either the
/// outputs, which encode and decode back to themselves and carry the data's `text`; or an
/// [`Error::Outputs`] that keeps the data exactly, names a handle of the outputs when it
/// names one, reads on one line, and, decoded for a task, names that task. Never another
/// error, never a panic. Answers whether the outputs decoded.
pub fn outputs(data: &[u8]) -> bool {
    let value: Option<Value> = if data.is_empty() {
        None
    } else {
        Some(
            serde_json::from_slice(data)
                .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(data).into_owned())),
        )
    };
    let decoded = decode_outputs::<Outputs>(value.as_ref());
    let success: TaskSuccess = TaskSuccess::new(None, value.clone());
    let typed = TypedOutcome::<Outputs>::decode("task-1".to_owned(), &success);
    match decoded {
        Ok(outputs) => {
            let typed = typed.expect("the same data decodes for a task too");
            assert_eq!(typed.outputs, outputs);
            assert_eq!(typed.task_id, "task-1");
            // The text is the data's own: a list's single object, or the object.
            let object = match &value {
                Some(Value::Array(items)) => items.first(),
                other => other.as_ref(),
            };
            assert_eq!(
                object.and_then(|o| o.get("text")).and_then(Value::as_str),
                Some(outputs.text.as_str())
            );
            let again = serde_json::to_value(&outputs).expect("outputs encode");
            assert_eq!(
                decode_outputs::<Outputs>(Some(&again)).expect("decodes back"),
                outputs
            );
            true
        }
        Err(error) => {
            check_error_text(&error);
            let Error::Outputs(outputs) = &error else {
                panic!("another error than Outputs: {error:?}");
            };
            assert_eq!(outputs.data, value.clone().unwrap_or(Value::Null));
            assert_eq!(outputs.task_id, None);
            if let Some(handle) = &outputs.handle {
                let first = handle.split(['.', '[']).next().unwrap_or_default();
                assert!(HANDLES.contains(&first), "handle {handle:?}");
            }
            assert!(!error.to_string().chars().any(char::is_control), "{error}");
            match typed {
                Err(Error::Outputs(for_task)) => {
                    assert_eq!(for_task.task_id.as_deref(), Some("task-1"));
                    assert_eq!(for_task.handle, outputs.handle);
                }
                other => panic!("decoded for a task: {other:?}"),
            }
            false
        }
    }
}
