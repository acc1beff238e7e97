//! A package's description from the registry: its blocks and their input and output
//! handles, each with a JSON Schema.

use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;

/// What the registry says of one version of a package
/// (`GET {registry}/-/oomol/package-info/{name}/{version}`). Unknown fields are ignored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct PackageInfo {
    /// The package, e.g. `@oomol/pdf-tools`.
    pub package_name: String,
    /// The exact version described (the registry resolves `latest`).
    pub package_version: String,
    /// Its display name.
    #[serde(default)]
    pub title: String,
    /// What it does.
    #[serde(default)]
    pub description: String,
    /// Its blocks.
    #[serde(default)]
    pub blocks: Vec<BlockInfo>,
}

/// One block of a package.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct BlockInfo {
    /// The block's name, as a task's `blockName`.
    #[serde(rename = "blockName", default)]
    pub block_name: String,
    /// Its display name.
    #[serde(default)]
    pub title: String,
    /// What it does.
    #[serde(default)]
    pub description: String,
    /// Its inputs, in order (a task's `inputValues` keys).
    #[serde(rename = "inputHandleDefs", default)]
    pub inputs: Vec<HandleDef>,
    /// Its outputs, in order.
    #[serde(rename = "outputHandleDefs", default)]
    pub outputs: Vec<HandleDef>,
}

/// One input or output handle of a block.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct HandleDef {
    /// The handle's name.
    #[serde(default)]
    pub handle: String,
    /// What it is for.
    #[serde(default)]
    pub description: String,
    /// The JSON Schema of its values (`{}`: anything), possibly with OOMOL's `ui:*` hints.
    #[serde(default = "empty_schema")]
    pub json_schema: Value,
    /// Whether `null` is accepted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nullable: Option<bool>,
    /// Its default value: `Some(Value::Null)` for an explicit `null`, `None` when absent.
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    pub value: Option<Value>,
}

fn empty_schema() -> Value {
    Value::Object(serde_json::Map::new())
}

/// A field that is present, `null` included (`Option` alone reads `null` as absent).
fn present<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Value>, D::Error> {
    Value::deserialize(d).map(Some)
}

impl PackageInfo {
    /// The block named `name`, if the package has it.
    pub fn block(&self, name: &str) -> Option<&BlockInfo> {
        self.blocks.iter().find(|b| b.block_name == name)
    }

    /// Drops what the registry may send but is no description: handles without a name
    /// (as OOMOL's CLI does).
    pub(crate) fn tidy(mut self) -> Self {
        for block in &mut self.blocks {
            block.inputs.retain(|h| !h.handle.trim().is_empty());
            block.outputs.retain(|h| !h.handle.trim().is_empty());
        }
        self
    }
}

impl BlockInfo {
    /// The input named `handle`, if the block has it.
    pub fn input(&self, handle: &str) -> Option<&HandleDef> {
        self.inputs.iter().find(|h| h.handle == handle)
    }
}

impl HandleDef {
    /// True when a task may leave this input out: it has a non-null default `value`, or it
    /// is nullable with a `null` value, or its schema has a `default` (OOMOL's CLI's rule).
    ///
    /// ```
    /// # use cloud_task_core::HandleDef;
    /// let def: HandleDef = serde_json::from_value(serde_json::json!(
    ///     {"handle": "n", "json_schema": {"type": "integer", "default": 3}}
    /// ))?;
    /// assert!(def.is_optional());
    /// let def: HandleDef = serde_json::from_value(serde_json::json!(
    ///     {"handle": "text", "json_schema": {"type": "string"}, "value": null}
    /// ))?;
    /// assert!(!def.is_optional(), "a null value without nullable is no default");
    /// # Ok::<(), serde_json::Error>(())
    /// ```
    pub fn is_optional(&self) -> bool {
        match &self.value {
            Some(Value::Null) if self.nullable == Some(true) => true,
            Some(Value::Null) | None => self
                .json_schema
                .as_object()
                .is_some_and(|schema| schema.contains_key("default")),
            Some(_) => true,
        }
    }

    /// A short name of the values it takes, for people: the schema's `type` (or `enum`,
    /// `any`), e.g. `integer`, `string | null`, `enum`.
    pub fn type_name(&self) -> String {
        let schema = self.json_schema.as_object();
        let kind = match schema.and_then(|s| s.get("type")) {
            Some(Value::String(t)) => t.clone(),
            Some(Value::Array(types)) => types
                .iter()
                .filter_map(Value::as_str)
                .collect::<Vec<_>>()
                .join(" | "),
            _ if schema.is_some_and(|s| s.contains_key("enum")) => "enum".to_owned(),
            _ => "any".to_owned(),
        };
        if self.nullable == Some(true) && !kind.contains("null") {
            format!("{kind} | null")
        } else {
            kind
        }
    }

    /// Its default: the `value`, else the schema's `default`.
    pub fn default_value(&self) -> Option<&Value> {
        match &self.value {
            Some(Value::Null) | None => self.json_schema.get("default"),
            Some(value) => Some(value),
        }
    }
}
