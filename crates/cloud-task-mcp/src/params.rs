//! The tools' typed parameters, decoded so that a value that does not fit names its
//! parameter (`waitSeconds: invalid type: string "soon", expected u64`), where the
//! decoder alone names only the type.

use rmcp::ErrorData;
use rmcp::handler::server::common::FromContextPart;
use rmcp::handler::server::tool::ToolCallContext;
use rmcp::schemars::{self, JsonSchema};
use serde::de::DeserializeOwned;
use serde_json::Value;

/// A tool's parameters of type `P`: its input schema is `P`'s, and arguments that do not
/// fit are a tool error naming the parameter and why, before anything is sent.
#[derive(Debug, Clone)]
pub struct Parameters<P>(pub P);

impl<P: JsonSchema> JsonSchema for Parameters<P> {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        P::schema_name()
    }

    fn json_schema(generator: &mut schemars::SchemaGenerator) -> schemars::Schema {
        P::json_schema(generator)
    }
}

impl<S, P: DeserializeOwned> FromContextPart<ToolCallContext<'_, S>> for Parameters<P> {
    fn from_context_part(context: &mut ToolCallContext<'_, S>) -> Result<Self, ErrorData> {
        let arguments = context.arguments.take().unwrap_or_default();
        decode(Value::Object(arguments)).map(Parameters)
    }
}

/// Decodes `arguments`; an error reads `failed to deserialize parameters: <where>: <why>`,
/// which the router hands to the agent as a tool error (not a protocol error).
fn decode<P: DeserializeOwned>(arguments: Value) -> Result<P, ErrorData> {
    serde_path_to_error::deserialize(arguments).map_err(|error| {
        let path = error.path().to_string();
        let why = error.into_inner();
        let place = if path == "." {
            String::new()
        } else {
            format!("{path}: ")
        };
        ErrorData::invalid_params(
            format!(
                "failed to deserialize parameters: {place}{why}. Nothing was sent; the tool's \
                 input schema says what each parameter takes."
            ),
            None,
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::{RunParams, WaitParams};
    use serde_json::json;

    fn message<P: DeserializeOwned + std::fmt::Debug>(arguments: Value) -> String {
        decode::<P>(arguments).unwrap_err().message.into_owned()
    }

    #[test]
    fn a_value_that_does_not_fit_names_its_parameter() {
        let bad = message::<WaitParams>(json!({"taskId": "t", "waitSeconds": "soon"}));
        assert!(
            bad.starts_with("failed to deserialize parameters: waitSeconds: invalid type"),
            "{bad}"
        );
        let nested = message::<RunParams>(json!({"blockName": "main", "inputValues": [1]}));
        assert!(nested.contains("inputValues: invalid type"), "{nested}");
        let missing = message::<WaitParams>(json!({}));
        assert!(missing.contains("missing field `taskId`"), "{missing}");
        let unknown = message::<WaitParams>(json!({"taskId": "t", "wait": 3}));
        assert!(unknown.contains("unknown field `wait`"), "{unknown}");
        assert!(decode::<WaitParams>(json!({"taskId": "t"})).is_ok());
    }
}
