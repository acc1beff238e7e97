//! Checking a task's inputs against its block's description before anything is sent: the
//! rules of OOMOL's CLI, with a real JSON Schema validator.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, PoisonError};

use serde_json::{Map, Value};

use crate::error::inputs::MAX_MESSAGE;
pub use crate::error::inputs::{InputProblem, InvalidInputsError, MAX_INPUT_PROBLEMS, ProblemKind};
use crate::error::{Error, Result, one_line, truncate};
use crate::models::{BlockInfo, HandleDef, PackageInfo};
use crate::ops::CreateTaskRequest;

/// The most problems reported for one value.
#[cfg(feature = "input-checks")]
const MAX_PER_VALUE: usize = 10;

impl PackageInfo {
    /// Pins `request` to the version this description is of, when it is of the same
    /// package: a tag the registry resolved (`latest`) becomes the exact version, so that
    /// what is checked is what runs. Answers the version the request named when it
    /// changed, for the caller to say so.
    ///
    /// ```
    /// # use cloud_task_core::{CreateTaskRequest, PackageInfo};
    /// let info: PackageInfo = serde_json::from_value(serde_json::json!({
    ///     "packageName": "@oomol/echo", "packageVersion": "1.0.0", "blocks": []}))?;
    /// let mut request = CreateTaskRequest::new("@oomol/echo", "latest", "main");
    /// assert_eq!(info.pin(&mut request).as_deref(), Some("latest"));
    /// assert_eq!(request.package_version, "1.0.0");
    /// assert_eq!(info.pin(&mut request), None);
    /// # Ok::<(), serde_json::Error>(())
    /// ```
    pub fn pin(&self, request: &mut CreateTaskRequest) -> Option<String> {
        (request.package_name == self.package_name
            && request.package_version != self.package_version)
            .then(|| std::mem::replace(&mut request.package_version, self.package_version.clone()))
    }

    /// Checks `request` against this description: the package and an exact version, the
    /// block, then its inputs ([`BlockInfo::check_inputs`]). Every problem at once, as
    /// [`Error::InvalidInputs`]; an unknown block or a version that is not exact is
    /// [`Error::InvalidInput`]. Values are checked against their schema with the default
    /// feature `input-checks`; without it, only unknown and missing inputs are named.
    ///
    /// ```
    /// # #[cfg(feature = "input-checks")] {
    /// use cloud_task_core::{CreateTaskRequest, Error, PackageInfo};
    /// let info: PackageInfo = serde_json::from_value(serde_json::json!({
    ///     "packageName": "@acme/tools", "packageVersion": "1.0.0",
    ///     "blocks": [{"blockName": "main", "inputHandleDefs": [
    ///         {"handle": "pages", "json_schema": {"type": "integer", "minimum": 1}},
    ///     ]}]
    /// }))?;
    /// let ok = CreateTaskRequest::new("@acme/tools", "1.0.0", "main").input("pages", 3);
    /// assert!(info.check(&ok).is_ok());
    /// let bad = CreateTaskRequest::new("@acme/tools", "1.0.0", "main").input("pages", 0).input("page", 1);
    /// match info.check(&bad) {
    ///     Err(Error::InvalidInputs(e)) => {
    ///         assert_eq!(e.problems.len(), 2);
    ///         assert_eq!(e.problems[0].handle, "page"); // unknown
    ///         assert_eq!(e.problems[1].handle, "pages"); // below its minimum
    ///     }
    ///     other => panic!("{other:?}"),
    /// }
    /// # }
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn check(&self, request: &CreateTaskRequest) -> Result<()> {
        check_exact_version(&request.package_version)?;
        if request.package_name != self.package_name {
            return Err(Error::invalid_input(
                "package_name",
                format!(
                    "the description is of package {}, not {}",
                    self.package_name, request.package_name
                ),
            ));
        }
        let block = self.block(&request.block_name).ok_or_else(|| {
            let names: Vec<&str> = self.blocks.iter().map(|b| b.block_name.as_str()).collect();
            Error::invalid_input(
                "block_name",
                format!(
                    "{}@{} has no block {:?}; its blocks: {}",
                    self.package_name,
                    self.package_version,
                    request.block_name,
                    if names.is_empty() {
                        "none".to_owned()
                    } else {
                        truncate(&names.join(", "), MAX_MESSAGE).into_owned()
                    }
                ),
            )
        })?;
        let empty = Map::new();
        let inputs = request.input_values.as_ref().unwrap_or(&empty);
        let mut problems = block.check_inputs(inputs);
        if problems.is_empty() {
            return Ok(());
        }
        let more = problems.len().saturating_sub(MAX_INPUT_PROBLEMS);
        problems.truncate(MAX_INPUT_PROBLEMS);
        Err(Error::InvalidInputs(Box::new(InvalidInputsError {
            package: self.package_name.clone(),
            version: self.package_version.clone(),
            block: block.block_name.clone(),
            problems,
            more,
        })))
    }
}

/// How many package descriptions a [`PackageCache`] keeps.
pub const PACKAGE_CACHE_SIZE: usize = 64;

/// The package descriptions a client has read, by name and exact version (a published
/// version never changes), at most [`PACKAGE_CACHE_SIZE`], the oldest dropped first.
/// Shared by a client's clones; the drivers read through it.
#[derive(Debug, Default)]
pub struct PackageCache {
    entries: Mutex<VecDeque<(String, String, Arc<PackageInfo>)>>,
}

impl PackageCache {
    /// An empty cache.
    pub fn new() -> Self {
        PackageCache::default()
    }

    /// The description of `name` at `version`, when it was read before.
    pub fn get(&self, name: &str, version: &str) -> Option<Arc<PackageInfo>> {
        let entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        entries
            .iter()
            .find(|(n, v, _)| n == name && v == version)
            .map(|(_, _, info)| Arc::clone(info))
    }

    /// Keeps `info` as the description of `name` at `version` (an exact version only:
    /// `latest` moves).
    pub fn insert(&self, name: &str, version: &str, info: Arc<PackageInfo>) {
        if check_exact_version(version).is_err() {
            return;
        }
        let mut entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        entries.retain(|(n, v, _)| !(n == name && v == version));
        if entries.len() >= PACKAGE_CACHE_SIZE {
            entries.pop_front();
        }
        entries.push_back((name.to_owned(), version.to_owned(), info));
    }

    /// How many descriptions it holds.
    pub fn len(&self) -> usize {
        self.entries
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }

    /// True when it holds none.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Refuses a version that is not exact (`latest`, empty, a range): a checked task must run
/// the very version that was checked.
pub fn check_exact_version(version: &str) -> Result<()> {
    let v = version.trim();
    let exact = !v.is_empty()
        && v != "latest"
        && v.chars().next().is_some_and(|c| c.is_ascii_digit())
        && !v.contains([' ', '^', '~', '*', '>', '<', '=', '|', 'x']);
    if exact {
        Ok(())
    } else {
        Err(Error::invalid_input(
            "package_version",
            format!("an exact version (such as 1.0.0) is needed to check inputs, not {version:?}"),
        ))
    }
}

impl BlockInfo {
    /// Every problem of `inputs` against this block, in order: unknown handles first (in
    /// the order given), then each input of the block in its order (missing, unsupported,
    /// or each place its value breaks its schema). Empty when the inputs fit.
    pub fn check_inputs(&self, inputs: &Map<String, Value>) -> Vec<InputProblem> {
        let mut problems = Vec::new();
        for handle in inputs.keys() {
            if self.input(handle).is_none() {
                let known: Vec<&str> = self.inputs.iter().map(|h| h.handle.as_str()).collect();
                let message = format!(
                    "block {} has no such input; its inputs: {}",
                    self.block_name,
                    if known.is_empty() {
                        "none".to_owned()
                    } else {
                        known.join(", ")
                    }
                );
                problems.push(InputProblem {
                    handle: handle.clone(),
                    pointer: String::new(),
                    kind: ProblemKind::Unknown,
                    message: truncate(&one_line(&message), MAX_MESSAGE).into_owned(),
                });
            }
        }
        for def in &self.inputs {
            problems.extend(check_value(def, inputs.get(&def.handle)));
        }
        problems
    }
}

impl BlockInfo {
    /// The JSON Schema of a task's `inputValues` for this block, as one document: an
    /// object with a property per input (its own schema, OOMOL's `ui:*` hints and a
    /// secret's `contentMediaType` removed, its description and default added, `null`
    /// allowed when it is nullable), the inputs that have no default `required`, and no
    /// other property. What agents and form builders need to offer typed inputs; the
    /// authority on a value is still [`check_inputs`](Self::check_inputs).
    ///
    /// ```
    /// use cloud_task_core::BlockInfo;
    /// let block: BlockInfo = serde_json::from_value(serde_json::json!({
    ///     "blockName": "main",
    ///     "inputHandleDefs": [
    ///         {"handle": "text", "description": "Any text", "json_schema": {"type": "string"}},
    ///         {"handle": "n", "json_schema": {"type": "integer", "ui:widget": "slider"}, "value": 1},
    ///     ],
    /// }))?;
    /// assert_eq!(
    ///     block.input_schema(),
    ///     serde_json::json!({
    ///         "type": "object",
    ///         "properties": {
    ///             "text": {"type": "string", "description": "Any text"},
    ///             "n": {"type": "integer", "default": 1},
    ///         },
    ///         "required": ["text"],
    ///         "additionalProperties": false,
    ///     }),
    /// );
    /// # Ok::<(), serde_json::Error>(())
    /// ```
    pub fn input_schema(&self) -> Value {
        let mut properties = Map::new();
        let mut required = Vec::new();
        for def in &self.inputs {
            properties.insert(def.handle.clone(), handle_schema(def));
            if !def.is_optional() {
                required.push(Value::from(def.handle.clone()));
            }
        }
        let mut schema = Map::new();
        schema.insert("type".into(), "object".into());
        schema.insert("properties".into(), Value::Object(properties));
        schema.insert("required".into(), Value::Array(required));
        schema.insert("additionalProperties".into(), false.into());
        Value::Object(schema)
    }
}

/// The schema of one input's values, as [`BlockInfo::input_schema`] shows it.
fn handle_schema(def: &HandleDef) -> Value {
    let mut schema = match without_ui_hints(&def.json_schema) {
        Value::Object(schema) => schema,
        Value::Bool(false) => Map::from_iter([("not".to_owned(), Value::Object(Map::new()))]),
        // `true` or anything that is not a schema: any value.
        _ => Map::new(),
    };
    if schema.get("contentMediaType") == Some(&Value::from("oomol/secret")) {
        schema.remove("contentMediaType");
    }
    if def.nullable == Some(true) {
        schema = Map::from_iter([(
            "anyOf".to_owned(),
            Value::Array(vec![
                Value::Object(schema),
                serde_json::json!({"type": "null"}),
            ]),
        )]);
    }
    if !def.description.trim().is_empty() && !schema.contains_key("description") {
        schema.insert("description".into(), def.description.clone().into());
    }
    if let Some(value) = def.default_value()
        && !(value.is_null() && def.nullable != Some(true))
        && !schema.contains_key("default")
    {
        schema.insert("default".into(), value.clone());
    }
    Value::Object(schema)
}

/// The problems of one input's value (`None`: not given).
fn check_value(def: &HandleDef, value: Option<&Value>) -> Vec<InputProblem> {
    let problem = |kind, pointer: String, message: String| InputProblem {
        handle: def.handle.clone(),
        pointer,
        kind,
        message: truncate(&one_line(&message), MAX_MESSAGE).into_owned(),
    };
    let Some(value) = value else {
        if def.is_optional() {
            return Vec::new();
        }
        return vec![problem(
            ProblemKind::Missing,
            String::new(),
            format!("required, of type {}", def.type_name()),
        )];
    };
    if def.nullable == Some(true) && value.is_null() {
        return Vec::new();
    }
    let secret = def.json_schema.get("contentMediaType") == Some(&Value::from("oomol/secret"));
    let schema = match usable_schema(&def.json_schema) {
        Ok(schema) => schema,
        Err(media_type) => {
            return vec![problem(
                ProblemKind::Unsupported,
                String::new(),
                format!("takes {media_type} values, which a task cannot be given"),
            )];
        }
    };
    invalid_values(&schema, value, secret, problem)
}

/// The problems of `value` against `schema` (at most [`MAX_PER_VALUE`]).
#[cfg(feature = "input-checks")]
fn invalid_values(
    schema: &Value,
    value: &Value,
    secret: bool,
    problem: impl Fn(ProblemKind, String, String) -> InputProblem,
) -> Vec<InputProblem> {
    let validator = match jsonschema::options().build(schema) {
        Ok(validator) => validator,
        Err(error) => {
            return vec![problem(
                ProblemKind::BadSchema,
                String::new(),
                format!("the block's schema for it cannot be used: {error}"),
            )];
        }
    };
    validator
        .iter_errors(value)
        .take(MAX_PER_VALUE)
        .map(|error| {
            let message = if secret {
                // The validator's words quote the value: never a secret's.
                "the value does not fit its schema (a secret: not shown)".to_owned()
            } else {
                error.to_string()
            };
            problem(
                ProblemKind::Invalid,
                error.instance_path().to_string(),
                message,
            )
        })
        .collect()
}

/// Without the feature `input-checks`, values are not checked against their schema.
#[cfg(not(feature = "input-checks"))]
fn invalid_values(
    _schema: &Value,
    _value: &Value,
    _secret: bool,
    _problem: impl Fn(ProblemKind, String, String) -> InputProblem,
) -> Vec<InputProblem> {
    Vec::new()
}

/// The schema to validate with: OOMOL's `ui:*` hints removed at every level, and a
/// `contentMediaType` of `oomol/secret` (a string like any other) removed; any other
/// `contentMediaType` is answered as `Err` (values a task cannot be given).
fn usable_schema(schema: &Value) -> std::result::Result<Value, String> {
    let mut schema = without_ui_hints(schema);
    if let Some(object) = schema.as_object_mut()
        && let Some(media_type) = object.get("contentMediaType").and_then(Value::as_str)
    {
        if media_type != "oomol/secret" {
            return Err(media_type.to_owned());
        }
        object.remove("contentMediaType");
    }
    Ok(schema)
}

fn without_ui_hints(value: &Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.iter()
                .filter(|(key, _)| !key.starts_with("ui:"))
                .map(|(key, value)| (key.clone(), without_ui_hints(value)))
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(without_ui_hints).collect()),
        other => other.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn block(inputs: Value) -> BlockInfo {
        serde_json::from_value(json!({"blockName": "main", "inputHandleDefs": inputs})).unwrap()
    }

    fn inputs(value: Value) -> Map<String, Value> {
        value.as_object().unwrap().clone()
    }

    #[test]
    fn unknown_missing_and_invalid_inputs_are_named_all_at_once() {
        let block = block(json!([
            {"handle": "text", "json_schema": {"type": "string"}},
            {"handle": "n", "json_schema": {"type": "integer", "minimum": 1}, "value": 1},
            {"handle": "opts", "json_schema": {"type": "object", "properties": {
                "depth": {"type": "integer"}, "tags": {"type": "array", "items": {"type": "string"}}
            }, "required": ["depth"]}, "nullable": true, "value": null},
        ]));
        assert!(block.check_inputs(&inputs(json!({"text": "a"}))).is_empty());
        assert!(
            block
                .check_inputs(&inputs(json!({"text": "a", "opts": null})))
                .is_empty()
        );
        let problems = block.check_inputs(&inputs(json!({
            "txt": "a", "n": 0, "opts": {"tags": ["x", 2]}
        })));
        let summary: Vec<(&str, &str, ProblemKind)> = problems
            .iter()
            .map(|p| (p.handle.as_str(), p.pointer.as_str(), p.kind))
            .collect();
        assert_eq!(
            summary,
            [
                ("txt", "", ProblemKind::Unknown),
                ("text", "", ProblemKind::Missing),
                ("n", "", ProblemKind::Invalid),
                ("opts", "", ProblemKind::Invalid),
                ("opts", "/tags/1", ProblemKind::Invalid),
            ]
        );
        assert!(
            problems[0].message.contains("text, n, opts"),
            "{}",
            problems[0]
        );
        assert!(problems[1].message.contains("string"), "{}", problems[1]);
        assert!(problems[3].message.contains("depth"), "{}", problems[3]);
    }

    #[test]
    fn ui_hints_secrets_and_unusable_schemas() {
        let block = block(json!([
            {"handle": "color", "json_schema": {"type": "string", "ui:widget": "color",
                "ui:options": {"x": 1}}},
            {"handle": "key", "json_schema": {"type": "string", "contentMediaType": "oomol/secret"}},
            {"handle": "cred", "json_schema": {"contentMediaType": "oomol/credential"}},
            {"handle": "remote", "json_schema": {"$ref": "https://example.com/schema.json"}},
            {"handle": "broken", "json_schema": {"type": 42}},
        ]));
        let problems = block.check_inputs(&inputs(json!({
            "color": "#fff", "key": "s3cr3t", "cred": "x", "remote": 1, "broken": 1
        })));
        let kinds: Vec<(&str, ProblemKind)> = problems
            .iter()
            .map(|p| (p.handle.as_str(), p.kind))
            .collect();
        assert_eq!(
            kinds,
            [
                ("cred", ProblemKind::Unsupported),
                ("remote", ProblemKind::BadSchema),
                ("broken", ProblemKind::BadSchema),
            ]
        );
        // A secret that does not fit is never quoted.
        let problems = block.check_inputs(&inputs(json!({"key": ["s3cr3t"]})));
        let key: Vec<_> = problems.iter().filter(|p| p.handle == "key").collect();
        assert_eq!(key.len(), 1);
        assert_eq!(key[0].kind, ProblemKind::Invalid);
        assert!(!key[0].to_string().contains("s3cr3t"), "{}", key[0]);
        // Nor is a long value quoted whole.
        let long = "y".repeat(10_000);
        let problems = block.check_inputs(&inputs(json!({"color": [long]})));
        let color = problems.iter().find(|p| p.handle == "color").unwrap();
        assert!(color.message.chars().count() <= MAX_MESSAGE + 1, "{color}");
    }

    #[test]
    fn the_error_is_one_line_whatever_the_names_hold() {
        let info: PackageInfo = serde_json::from_value(json!({
            "packageName": "p\nq", "packageVersion": "1.0.0",
            "blocks": [{"blockName": "m\nn", "inputHandleDefs": [
                {"handle": "h\ni", "json_schema": {"type": "object",
                    "additionalProperties": {"type": "integer"}}}
            ]}]
        }))
        .unwrap();
        let request = CreateTaskRequest::new("p\nq", "1.0.0", "m\nn")
            .input("h\ni", json!({"k\ney": "x"}))
            .input("x\ny", 1);
        match info.check(&request) {
            Err(Error::InvalidInputs(e)) => {
                assert_eq!(e.problems.len(), 2, "{e}");
                assert_eq!(
                    e.problems[1].pointer, "/k\ney",
                    "the pointer is kept as it is"
                );
                let text = e.to_string();
                assert!(!text.contains(['\n', '\r']), "{text}");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn exact_versions_only() {
        for good in ["1.0.0", "0.1.2-beta.1", "2.3.4+build"] {
            assert!(check_exact_version(good).is_ok(), "{good}");
        }
        for bad in [
            "",
            "latest",
            "^1.0.0",
            "~1.2",
            "1.x",
            ">=1",
            "1.0.0 || 2.0.0",
            "v1",
        ] {
            assert!(check_exact_version(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_cache_keeps_exact_versions_and_stays_bounded() {
        let cache = PackageCache::new();
        let info = |name: &str| {
            Arc::new(PackageInfo {
                package_name: name.into(),
                package_version: "1.0.0".into(),
                title: String::new(),
                description: String::new(),
                blocks: Vec::new(),
            })
        };
        cache.insert("a", "latest", info("a"));
        assert!(cache.is_empty());
        for i in 0..PACKAGE_CACHE_SIZE + 10 {
            cache.insert(&format!("p{i}"), "1.0.0", info("p"));
        }
        assert_eq!(cache.len(), PACKAGE_CACHE_SIZE);
        assert!(cache.get("p0", "1.0.0").is_none(), "the oldest went first");
        assert!(
            cache
                .get(&format!("p{}", PACKAGE_CACHE_SIZE + 9), "1.0.0")
                .is_some()
        );
        assert!(cache.get("p20", "2.0.0").is_none());
    }

    #[test]
    fn problems_are_bounded() {
        let block = block(json!([]));
        let many: Map<String, Value> = (0..200).map(|i| (format!("h{i}"), json!(i))).collect();
        assert_eq!(block.check_inputs(&many).len(), 200);
        let info = PackageInfo {
            package_name: "@a/b".into(),
            package_version: "1.0.0".into(),
            title: String::new(),
            description: String::new(),
            blocks: vec![block],
        };
        let request = CreateTaskRequest::new("@a/b", "1.0.0", "main").input_values(many);
        match info.check(&request) {
            Err(Error::InvalidInputs(e)) => {
                assert_eq!(e.problems.len(), MAX_INPUT_PROBLEMS);
                assert_eq!(e.more, 150);
                assert!(e.to_string().ends_with("and 150 more"));
            }
            other => panic!("{other:?}"),
        }
    }

    #[cfg(feature = "input-checks")]
    #[test]
    fn the_input_schema_accepts_exactly_what_the_check_accepts() {
        let block = block(json!([
            {"handle": "text", "description": "Any text", "json_schema": {"type": "string"}},
            {"handle": "n", "json_schema": {"type": "integer", "minimum": 1, "ui:widget": "slider"}, "value": 1},
            {"handle": "mode", "json_schema": {"enum": ["fast", "thorough"], "default": "fast"}},
            {"handle": "opts", "description": "Options", "json_schema": {"type": "object",
                "properties": {"depth": {"type": "integer"}}, "required": ["depth"]},
                "nullable": true, "value": null},
            {"handle": "key", "json_schema": {"type": "string", "contentMediaType": "oomol/secret"}},
            {"handle": "any", "json_schema": true, "value": 0},
        ]));
        let schema = block.input_schema();
        assert_eq!(schema["required"], json!(["text", "key"]));
        assert_eq!(schema["additionalProperties"], json!(false));
        let properties = &schema["properties"];
        assert_eq!(properties["text"]["description"], "Any text");
        assert_eq!(properties["n"]["default"], 1);
        assert!(properties["n"].get("ui:widget").is_none());
        assert_eq!(properties["mode"]["default"], "fast");
        assert_eq!(properties["opts"]["description"], "Options");
        assert_eq!(properties["opts"]["anyOf"][1], json!({"type": "null"}));
        assert!(properties["key"].get("contentMediaType").is_none());
        assert_eq!(properties["any"], json!({"default": 0}));

        let validator = jsonschema::options().build(&schema).unwrap();
        for candidate in [
            json!({"text": "a", "key": "k"}),
            json!({"text": "a", "key": "k", "n": 3, "mode": "thorough", "opts": null}),
            json!({"text": "a", "key": "k", "opts": {"depth": 2}, "any": [1]}),
            json!({"key": "k"}),
            json!({"text": "a", "key": "k", "n": 0}),
            json!({"text": "a", "key": "k", "mode": "slow"}),
            json!({"text": "a", "key": "k", "opts": {}}),
            json!({"text": "a", "key": "k", "extra": 1}),
            json!({"text": 5, "key": "k"}),
        ] {
            let fits = block.check_inputs(&inputs(candidate.clone())).is_empty();
            assert_eq!(validator.is_valid(&candidate), fits, "{candidate}");
        }
    }
}
