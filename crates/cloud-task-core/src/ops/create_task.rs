use http::Method;
use serde::ser::{SerializeMap, Serializer};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::config::Config;
use crate::error::Result;
use crate::models::CreateTaskResponse;
use crate::ops::Operation;
use crate::wire;
use crate::{HttpRequest, HttpResponse};

/// The body of `create_task`, normalised: `type` is always `"serverless"`, `inputValues`
/// is omitted when there are none, and nothing else is ever sent.
///
/// Deserialising accepts (and drops) the legacy `type`, `webhookUrl` and `metadata` keys.
///
/// ```
/// # use cloud_task_core::CreateTaskRequest;
/// let req = CreateTaskRequest::new("@oomol/my-package", "1.0.0", "main")
///     .input("text", "hello");
/// assert_eq!(
///     serde_json::to_string(&req).unwrap(),
///     r#"{"type":"serverless","packageName":"@oomol/my-package","packageVersion":"1.0.0","blockName":"main","inputValues":{"text":"hello"}}"#
/// );
/// ```
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct CreateTaskRequest {
    /// The package, e.g. `@oomol/my-package`.
    pub package_name: String,
    /// The package version, e.g. `1.0.0`.
    pub package_version: String,
    /// The block to run, e.g. `main`.
    pub block_name: String,
    /// The block's inputs; `None` sends no `inputValues` key.
    #[serde(default)]
    pub input_values: Option<Map<String, Value>>,
}

impl CreateTaskRequest {
    /// A request to run `block_name` of `package_name@package_version` without inputs.
    pub fn new(
        package_name: impl Into<String>,
        package_version: impl Into<String>,
        block_name: impl Into<String>,
    ) -> Self {
        CreateTaskRequest {
            package_name: package_name.into(),
            package_version: package_version.into(),
            block_name: block_name.into(),
            input_values: None,
        }
    }

    /// Sets one input value.
    pub fn input(mut self, key: impl Into<String>, value: impl Into<Value>) -> Self {
        self.input_values
            .get_or_insert_with(Map::new)
            .insert(key.into(), value.into());
        self
    }

    /// Replaces all input values.
    pub fn input_values(mut self, values: Map<String, Value>) -> Self {
        self.input_values = Some(values);
        self
    }

    /// Replaces all input values with any value that serialises to a JSON object.
    pub fn inputs<T: Serialize>(mut self, values: &T) -> crate::Result<Self> {
        match serde_json::to_value(values) {
            Ok(Value::Object(map)) => {
                self.input_values = Some(map);
                Ok(self)
            }
            Ok(other) => Err(crate::Error::invalid_input(
                "input_values",
                format!(
                    "input_values must be a JSON object, not {}",
                    crate::models::json_kind(&other)
                ),
            )),
            Err(e) => Err(crate::Error::invalid_input(
                "input_values",
                format!("input_values could not be encoded as JSON: {e}"),
            )),
        }
    }
}

impl Serialize for CreateTaskRequest {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let len = if self.input_values.is_some() { 5 } else { 4 };
        let mut map = s.serialize_map(Some(len))?;
        map.serialize_entry("type", "serverless")?;
        map.serialize_entry("packageName", &self.package_name)?;
        map.serialize_entry("packageVersion", &self.package_version)?;
        map.serialize_entry("blockName", &self.block_name)?;
        if let Some(values) = &self.input_values {
            map.serialize_entry("inputValues", values)?;
        }
        map.end()
    }
}

/// `POST /v3/users/me/tasks`: create a serverless task.
///
/// The body is normalised (see [`CreateTaskRequest`]). Package name, version and block name
/// must not be empty. A create is never retried by the SDK: the request may have reached
/// the server, and a second one would run the block twice.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct CreateTask {
    /// What to run.
    pub request: CreateTaskRequest,
}

impl CreateTask {
    /// The operation for `request`.
    pub fn new(request: CreateTaskRequest) -> Self {
        CreateTask { request }
    }

    /// Checks the request without building it.
    pub fn validate(&self) -> Result<()> {
        wire::check_not_empty("package_name", &self.request.package_name)?;
        wire::check_not_empty("package_version", &self.request.package_version)?;
        wire::check_not_empty("block_name", &self.request.block_name)
    }
}

impl From<CreateTaskRequest> for CreateTask {
    fn from(request: CreateTaskRequest) -> Self {
        CreateTask { request }
    }
}

impl Operation for CreateTask {
    type Output = CreateTaskResponse;
    const NAME: &'static str = "create_task";

    fn request(&self, config: &Config) -> Result<HttpRequest> {
        self.validate()?;
        config
            .api_request(Method::POST, "/v3/users/me/tasks")
            .json(&self.request)
            .build()
    }

    fn parse(&self, response: HttpResponse) -> Result<CreateTaskResponse> {
        wire::parse_json("create task", response)
    }
}
