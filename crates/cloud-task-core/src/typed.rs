//! Typed blocks: a block's inputs as a Rust type that knows its block, and its outputs
//! decoded into another.
//!
//! `cloud-task codegen PACKAGE VERSION` (or `cloud_task_codegen::generate` in a build
//! script) writes, for each block of a package, an inputs struct implementing [`Block`] and
//! an outputs struct, from the registry's description. The clients' `run`, `create` and
//! `run_many_blocks` take the inputs and answer the outputs; a misspelt input or a value of
//! the wrong type is a compile error, not a failed task.
//!
//! The outputs of a task (its `resultData`) come in two shapes in OOMOL's code: the
//! official SDKs type them as a list of objects (the emulator's default), OOMOL's engine
//! client reads one object keyed by output handle. [`decode_outputs`] takes either: a
//! list's single object, or the object itself.

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::error::{Error, OutputsError, Result};
use crate::models::TaskSuccess;
use crate::ops::CreateTaskRequest;

/// A block's inputs, as a type that knows its block: implemented by the inputs structs
/// `cloud-task codegen` writes.
///
/// ```
/// use cloud_task_core::typed::Block;
///
/// #[derive(serde::Serialize)]
/// struct EchoInputs { text: String }
/// #[derive(serde::Deserialize)]
/// struct EchoOutputs { text: String }
///
/// impl Block for EchoInputs {
///     const PACKAGE: &'static str = "@oomol/echo";
///     const VERSION: &'static str = "1.0.0";
///     const BLOCK: &'static str = "main";
///     type Outputs = EchoOutputs;
/// }
///
/// let request = EchoInputs { text: "hi".into() }.to_request()?;
/// assert_eq!(request.package_name, "@oomol/echo");
/// assert_eq!(request.input_values.unwrap()["text"], "hi");
/// # Ok::<(), cloud_task_core::Error>(())
/// ```
pub trait Block: Serialize {
    /// The package, e.g. `@oomol/pdf-tools`.
    const PACKAGE: &'static str;
    /// The exact version the type was generated from.
    const VERSION: &'static str;
    /// The block's name in its package.
    const BLOCK: &'static str;
    /// The block's outputs.
    type Outputs: DeserializeOwned;

    /// The request that runs this block with these inputs (their JSON object as its
    /// `inputValues`; fails only when they do not serialise to an object).
    fn to_request(&self) -> Result<CreateTaskRequest>
    where
        Self: Sized,
    {
        CreateTaskRequest::new(Self::PACKAGE, Self::VERSION, Self::BLOCK).inputs(self)
    }
}

/// Decodes a task's `resultData` as `O`, one object of outputs keyed by output handle:
/// from a list holding one object (the official SDKs' shape), or from the object itself
/// (OOMOL's engine client's). No data decodes as an empty object, so outputs that are all
/// optional fit it.
///
/// Fails with [`Error::Outputs`], which names the handle that did not fit (or says the
/// shape was another) and keeps the data.
///
/// ```
/// use cloud_task_core::typed::decode_outputs;
/// #[derive(serde::Deserialize)]
/// struct Outputs { text: String }
/// let listed = serde_json::json!([{"text": "hi"}]);
/// let keyed = serde_json::json!({"text": "hi"});
/// assert_eq!(decode_outputs::<Outputs>(Some(&listed))?.text, "hi");
/// assert_eq!(decode_outputs::<Outputs>(Some(&keyed))?.text, "hi");
/// # Ok::<(), cloud_task_core::Error>(())
/// ```
pub fn decode_outputs<O: DeserializeOwned>(data: Option<&Value>) -> Result<O> {
    let empty = Value::Object(serde_json::Map::new());
    let object = match data {
        None | Some(Value::Null) => &empty,
        Some(object @ Value::Object(_)) => object,
        Some(Value::Array(items)) => match items.as_slice() {
            [object @ Value::Object(_)] => object,
            _ => {
                return Err(outputs_error(
                    None,
                    format!(
                        "expected one object of outputs, got a list of {} item(s)",
                        items.len()
                    ),
                    data,
                ));
            }
        },
        Some(other) => {
            return Err(outputs_error(
                None,
                format!(
                    "expected an object of outputs, got {}",
                    crate::models::json_kind(other)
                ),
                data,
            ));
        }
    };
    serde_path_to_error::deserialize(object).map_err(|error| {
        let path = error.path().to_string();
        let reason = error.into_inner().to_string();
        // A missing field is told by serde at the level of its object: its name is in the
        // reason, and the path is that of the object (`.` at the top).
        let handle = (path != ".")
            .then_some(path)
            .or_else(|| missing_field(&reason));
        outputs_error(handle, reason, data)
    })
}

/// `error`, naming task `task_id` when it is an [`Error::Outputs`].
pub fn with_task(error: Error, task_id: impl Into<String>) -> Error {
    match error {
        Error::Outputs(mut outputs) => {
            outputs.task_id = Some(task_id.into());
            Error::Outputs(outputs)
        }
        other => other,
    }
}

/// The field named by serde's `missing field `x`` message.
fn missing_field(reason: &str) -> Option<String> {
    let rest = reason.strip_prefix("missing field `")?;
    rest.split_once('`').map(|(name, _)| name.to_owned())
}

fn outputs_error(handle: Option<String>, reason: String, data: Option<&Value>) -> Error {
    Error::Outputs(Box::new(OutputsError {
        handle,
        reason,
        data: data.cloned().unwrap_or(Value::Null),
        task_id: None,
    }))
}

impl TaskSuccess<Value> {
    /// Its outputs decoded as `O` (see [`decode_outputs`]): a list's single object, or
    /// the object itself.
    pub fn outputs<O: DeserializeOwned>(&self) -> Result<O> {
        decode_outputs(self.result_data.as_ref())
    }
}

/// A finished typed run: the task, its typed outputs and its result file's URL, if any.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct TypedOutcome<O> {
    /// The task's ID.
    pub task_id: String,
    /// Its outputs.
    pub outputs: O,
    /// Where its result file can be downloaded, when the block stored one.
    pub result_url: Option<String>,
}

impl<O: DeserializeOwned> TypedOutcome<O> {
    /// The outcome of task `task_id` that succeeded with `success`, its outputs decoded
    /// (an [`Error::Outputs`] names the task).
    pub fn decode(task_id: String, success: &TaskSuccess) -> Result<Self> {
        match success.outputs() {
            Ok(outputs) => Ok(TypedOutcome {
                outputs,
                result_url: success.result_url.clone(),
                task_id,
            }),
            Err(error) => Err(with_task(error, task_id)),
        }
    }
}
