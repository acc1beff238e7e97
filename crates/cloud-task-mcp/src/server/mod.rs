//! The server: one tool per operation of the SDK, and one per block of the configured
//! package.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use cloud_task_async::core::LOG_PAGE_SIZE;
use cloud_task_async::{
    AwaitOptions, BatchEvent, BatchOptions, CancelToken, Client, CreateTaskRequest,
    DownloadOptions, Error, ListTasksQuery, LogEvent, PackageInfo, TaskEvent, TaskResult,
    TaskStatus, UploadOptions,
};
use futures_util::StreamExt;
use rmcp::handler::server::router::tool::ToolRoute;
use rmcp::handler::server::tool::{ToolCallContext, ToolRouter};
use rmcp::handler::server::wrapper::Json;
use rmcp::model::{
    CallToolResponse, CallToolResult, ContentBlock, Implementation, ProgressNotificationParam,
    ProgressToken, ServerCapabilities, ServerConfig, Tool, ToolAnnotations,
};
use rmcp::service::RequestContext;
use rmcp::{ErrorData, Peer, RoleServer, ServerHandler, tool, tool_handler, tool_router};
use serde_json::{Map, Value};

use crate::McpOptions;
use crate::errors::ToolError;
use crate::params::Parameters;
use crate::types::*;

use crate::convert::*;

mod files;
mod packages;
mod queue;
mod runs;
mod tasks;

/// The most bytes `upload_base64` takes, once decoded.
pub const MAX_BASE64_UPLOAD: usize = 32 * 1024 * 1024;
/// How many of a task's last log lines a failure quotes.
const LOG_TAIL: usize = 10;
/// The longest log line a failure quotes, in characters.
const LOG_LINE: usize = 300;

/// The Cloud Task MCP server: clone it freely (it is a handle).
#[derive(Clone)]
pub struct CloudTaskServer {
    inner: Arc<Inner>,
    tool_router: ToolRouter<CloudTaskServer>,
}

struct Inner {
    client: Client,
    options: McpOptions,
    /// The configured package's description, read once at start.
    package: Option<Arc<PackageInfo>>,
    /// The directory the file tools are confined to, resolved at start.
    root: Option<crate::root::Root>,
    /// The API key, looked for in every answer (see `call_tool`); none when too short to
    /// look for ([`ApiKey::scrubbable`](cloud_task_async::ApiKey::scrubbable), the CLI's
    /// rule too).
    secret: Option<String>,
}

/// `value` with every occurrence of `secret` in its strings (and object keys) replaced by
/// `***`; `None` when it holds none (nothing to rebuild). Its recursion is bounded by the
/// answer's depth: a server's JSON is parsed with serde_json's limit of 128 levels, and the
/// tools wrap it in a few more.
fn scrubbed(value: &Value, secret: &str) -> Option<Value> {
    match value {
        Value::String(text) if text.contains(secret) => {
            Some(Value::String(text.replace(secret, "***")))
        }
        Value::Array(items) => {
            let changed: Vec<Option<Value>> = items.iter().map(|v| scrubbed(v, secret)).collect();
            changed.iter().any(Option::is_some).then(|| {
                Value::Array(
                    changed
                        .into_iter()
                        .zip(items)
                        .map(|(new, old)| new.unwrap_or_else(|| old.clone()))
                        .collect(),
                )
            })
        }
        Value::Object(map) => {
            let dirty = map
                .iter()
                .any(|(k, v)| k.contains(secret) || scrubbed(v, secret).is_some());
            dirty.then(|| {
                Value::Object(
                    map.iter()
                        .map(|(k, v)| {
                            (
                                k.replace(secret, "***"),
                                scrubbed(v, secret).unwrap_or_else(|| v.clone()),
                            )
                        })
                        .collect(),
                )
            })
        }
        _ => None,
    }
}

/// A tool's answer (or failure) with the key replaced wherever a server echoed it: in an
/// error message, a log line, a result. An answer that cannot be rebuilt after scrubbing
/// (never seen) is replaced by an error saying so, never passed on unscrubbed.
fn scrub_answer(
    answer: Result<rmcp::model::CallToolResponse, ErrorData>,
    secret: &str,
) -> Result<rmcp::model::CallToolResponse, ErrorData> {
    let unscrubbable = || {
        ErrorData::internal_error(
            "the tool's answer held the API key and could not be cleaned of it",
            None,
        )
    };
    match answer {
        Ok(rmcp::model::CallToolResponse::Complete(result)) => {
            let Ok(value) = serde_json::to_value(&result) else {
                return Err(unscrubbable());
            };
            match scrubbed(&value, secret) {
                None => Ok(rmcp::model::CallToolResponse::Complete(result)),
                Some(clean) => serde_json::from_value(clean)
                    .map(rmcp::model::CallToolResponse::Complete)
                    .map_err(|_| unscrubbable()),
            }
        }
        // The tools of this server answer complete results only.
        Ok(other) => Ok(other),
        Err(mut error) => {
            if error.message.contains(secret) {
                error.message = error.message.replace(secret, "***").into();
            }
            if let Some(data) = &error.data
                && let Some(clean) = scrubbed(data, secret)
            {
                error.data = Some(clean);
            }
            Err(error)
        }
    }
}

impl std::fmt::Debug for CloudTaskServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CloudTaskServer")
            .field("client", &self.inner.client)
            .field("options", &self.inner.options)
            .field("tools", &self.tool_router.list_all().len())
            .finish()
    }
}

impl CloudTaskServer {
    /// The local path to use for a path an agent gave: confined to the root when the
    /// server has one, else as given.
    pub(crate) fn local_path(&self, given: &str) -> Result<std::path::PathBuf, ToolError> {
        match &self.inner.root {
            Some(root) => root.confine(given).map_err(ToolError::new),
            None => Ok(std::path::PathBuf::from(given)),
        }
    }

    /// A server on `client`. With a package in `options`, its description is read first
    /// (an error when it cannot be: a server that was asked for a package's tools and
    /// cannot offer them should not start) and each of its blocks becomes a tool.
    pub async fn new(client: Client, options: McpOptions) -> Result<Self, Error> {
        options.validate()?;
        let root = match &options.root {
            Some(dir) => {
                Some(crate::root::Root::new(dir).map_err(|e| Error::invalid_input("root", e))?)
            }
            None => None,
        };
        let package = match &options.package {
            Some((name, version)) => Some(client.get_package_info(name, version).await?),
            None => None,
        };
        let mut tool_router = Self::runs_router()
            + Self::tasks_router()
            + Self::queue_router()
            + Self::files_router()
            + Self::packages_router();
        if let Some(info) = &package {
            for route in block_routes(info, &tool_router) {
                tool_router.add_route(route);
            }
        }
        let secret = client
            .config()
            .api_key()
            .and_then(|key| key.scrubbable())
            .map(str::to_owned);
        Ok(CloudTaskServer {
            inner: Arc::new(Inner {
                client,
                options,
                package,
                root,
                secret,
            }),
            tool_router,
        })
    }

    /// Every tool it offers, as `tools/list` answers them.
    pub fn tools(&self) -> Vec<Tool> {
        self.tool_router.list_all()
    }

    fn client(&self) -> &Client {
        &self.inner.client
    }

    fn note(&self, line: &str) {
        if self.inner.options.notes {
            eprintln!("cloud-task mcp: {line}");
        }
    }

    /// The wait window asked for, in seconds, within bounds.
    fn window(&self, asked: Option<u64>) -> Result<u64, ToolError> {
        match asked {
            None => Ok(self.inner.options.window.as_secs().max(1)),
            Some(seconds) if (1..=MAX_WAIT_SECONDS).contains(&seconds) => Ok(seconds),
            Some(seconds) => Err(ToolError::new(format!(
                "waitSeconds must be 1 to {MAX_WAIT_SECONDS}, not {seconds}; nothing was sent."
            ))),
        }
    }

    /// The package a call names, the server's filling in what it leaves out.
    fn target(
        &self,
        name: Option<String>,
        version: Option<String>,
    ) -> Result<(String, String), ToolError> {
        let configured = self.inner.options.package.as_ref();
        let name = name
            .or_else(|| configured.map(|(name, _)| name.clone()))
            .ok_or_else(|| {
                ToolError::new(
                    "packageName is required (this server has no default package); nothing \
                     was sent.",
                )
            })?;
        let version = version
            .or_else(|| {
                configured
                    .filter(|(configured, _)| *configured == name)
                    .map(|(_, version)| version.clone())
            })
            .unwrap_or_else(|| "latest".to_owned());
        Ok((name, version))
    }

    /// The description of a package to check inputs against.
    async fn described(&self, name: &str, version: &str) -> Result<Arc<PackageInfo>, ToolError> {
        self.client()
            .get_package_info(name, version)
            .await
            .map_err(|e| {
                ToolError::new(format!(
                    "{}\nThe inputs could not be checked, so nothing was created; pass \
                     checkInputs: false to create unchecked.",
                    ToolError::from_sdk(&e)
                ))
            })
    }

    /// The request a spec describes: the server's package fills what it leaves out, and
    /// with the check on, the inputs are checked against the block's description and the
    /// version pinned to the one checked (`latest` resolved).
    async fn request(&self, spec: TaskSpec) -> Result<CreateTaskRequest, ToolError> {
        let (name, version) = self.target(spec.package_name, spec.package_version)?;
        let mut request = CreateTaskRequest::new(name, version, spec.block_name);
        if let Some(inputs) = spec.input_values {
            request = request.input_values(inputs);
        }
        if spec.check_inputs != Some(false) {
            let info = self
                .described(&request.package_name, &request.package_version)
                .await?;
            info.pin(&mut request);
            info.check(&request).map_err(|e| ToolError::from_sdk(&e))?;
        }
        Ok(request)
    }

    /// The requests of a batch, every input checked (with the check on) before any is
    /// created: the problems of the first inputs that do not fit, each by index.
    async fn batch_requests(
        &self,
        params: &BatchParams,
    ) -> Result<Vec<CreateTaskRequest>, ToolError> {
        if params.inputs.is_empty() || params.inputs.len() > MAX_BATCH_INPUTS {
            return Err(ToolError::new(format!(
                "inputs must hold 1 to {MAX_BATCH_INPUTS} entries, not {}; nothing was sent.",
                params.inputs.len()
            )));
        }
        let (name, mut version) =
            self.target(params.package_name.clone(), params.package_version.clone())?;
        let info = match params.check_inputs {
            Some(false) => None,
            _ => {
                let info = self.described(&name, &version).await?;
                version = info.package_version.clone();
                Some(info)
            }
        };
        let mut requests = Vec::with_capacity(params.inputs.len());
        let mut problems = Vec::new();
        for (index, inputs) in params.inputs.iter().enumerate() {
            let request = CreateTaskRequest::new(&name, &version, &params.block_name)
                .input_values(inputs.clone());
            if let Some(info) = &info
                && let Err(error) = info.check(&request)
            {
                problems.push(format!("inputs[{index}]: {}", ToolError::from_sdk(&error)));
                if problems.len() == 5 {
                    break;
                }
            }
            requests.push(request);
        }
        if !problems.is_empty() {
            return Err(ToolError::new(format!(
                "Some inputs do not fit the block; nothing was created.\n{}",
                problems.join("\n")
            )));
        }
        Ok(requests)
    }

    /// Creates the task, unless the client cancelled the call first: a cancelled call
    /// creates nothing (once the create is sent, it is seen through: its answer names the
    /// task, on stderr when the client no longer listens).
    async fn create(
        &self,
        request: CreateTaskRequest,
        context: &RequestContext<RoleServer>,
    ) -> Result<String, ToolError> {
        // The call's own token, not its bridge: the bridge may not have run yet.
        if context.ct.is_cancelled() {
            self.note(
                "the client cancelled a call before its task was created: nothing was created",
            );
            return Err(ToolError::new(
                "The call was cancelled before the task was created: nothing was created.",
            ));
        }
        let created = self
            .client()
            .create_task(request)
            .await
            .map_err(|e| ToolError::from_create(&e))?;
        self.note(&format!("created task {}", created.task_id));
        Ok(created.task_id)
    }

    /// Waits for `task_id` for at most `window` seconds, reporting its progress to the
    /// client when it asked for progress; the client's cancellation ends the wait (never
    /// the task).
    async fn follow(
        &self,
        task_id: &str,
        window: u64,
        cancel: &CancelToken,
        context: &RequestContext<RoleServer>,
    ) -> Result<TaskOutcome, ToolError> {
        let options = AwaitOptions::new()
            .interval(self.inner.options.interval)
            .timeout(Duration::from_secs(window))
            .cancel_token(cancel.clone());
        let mut events = self.client().events(task_id, options);
        let mut progress = Progress::new(context);
        let mut status = TaskStatus::Queued;
        let mut percent = 0.0;
        let mut logs = LogTail::default();
        while let Some(event) = events.next().await {
            match event {
                Ok(TaskEvent::Progress {
                    status: now,
                    progress: at,
                }) => {
                    progress
                        .report(at, &format!("task {task_id}: {now} {at:.0}%"))
                        .await;
                    status = now;
                    percent = at;
                }
                Ok(TaskEvent::Log { event, .. }) => logs.push(&event),
                Ok(TaskEvent::Finished(success)) => {
                    progress
                        .report(100.0, &format!("task {task_id}: success"))
                        .await;
                    return Ok(TaskOutcome {
                        task_id: task_id.to_owned(),
                        status: TaskStatus::Success.to_string(),
                        result_url: success.result_url,
                        result_data: success.result_data,
                    });
                }
                Ok(_) => {}
                Err(Error::Timeout(_)) => {
                    return Err(ToolError::window_ended(
                        task_id,
                        window,
                        status.as_str(),
                        percent,
                    ));
                }
                Err(Error::Cancelled(_)) => {
                    self.note(&format!(
                        "the client cancelled the wait for task {task_id}; the task keeps running"
                    ));
                    return Err(ToolError::cancelled(task_id));
                }
                Err(error) => {
                    return Err(ToolError::while_waiting(&error, task_id, &logs.lines()));
                }
            }
        }
        Err(ToolError::new(format!(
            "The wait for task {task_id} ended without its result; call wait_task again."
        )))
    }

    /// An upload that did not end: a cancelled one stopped sending at once.
    fn upload_failed(&self, error: &Error) -> ToolError {
        if error.is_cancelled() {
            self.note("the client cancelled an upload; no more parts are sent");
            return ToolError::new("The upload was cancelled; no file was stored.");
        }
        ToolError::from_sdk(error)
    }

    /// `run_task` and the block tools: check, create, then wait.
    async fn run(
        &self,
        spec: TaskSpec,
        window: Option<u64>,
        context: &RequestContext<RoleServer>,
    ) -> Result<TaskOutcome, ToolError> {
        let window = self.window(window)?;
        let request = self.request(spec).await?;
        let task_id = self.create(request, context).await?;
        self.follow(&task_id, window, &call_token(context), context)
            .await
    }

    /// A block tool's call: its arguments are the block's inputs.
    async fn call_block(
        &self,
        block: &str,
        arguments: Option<Map<String, Value>>,
        context: &RequestContext<RoleServer>,
    ) -> CallToolResult {
        let Some(info) = &self.inner.package else {
            return CallToolResult::error(vec![ContentBlock::text("no package is configured")]);
        };
        let spec = TaskSpec {
            package_name: Some(info.package_name.clone()),
            package_version: Some(info.package_version.clone()),
            block_name: block.to_owned(),
            input_values: Some(arguments.unwrap_or_default()),
            check_inputs: Some(true),
        };
        match self.run(spec, None, context).await {
            Ok(outcome) => structured(&outcome),
            Err(error) => CallToolResult::error(vec![ContentBlock::text(error.message())]),
        }
    }
}

#[tool_handler(router = self.tool_router)]
impl ServerHandler for CloudTaskServer {
    /// Every tool's answer passes here on its way to the agent: the API key is replaced by
    /// `***` wherever a server echoed it (an agent's transcript is not a place for it).
    async fn call_tool(
        &self,
        request: rmcp::model::CallToolRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<rmcp::model::CallToolResponse, ErrorData> {
        let answer = self
            .tool_router
            .call(ToolCallContext::new(self, request, context))
            .await;
        match self.inner.secret.as_deref() {
            Some(secret) => scrub_answer(answer, secret),
            None => answer,
        }
    }

    /// The request that stands for a line past the limit (see `lines`) is answered with a
    /// JSON-RPC error that says so; any other unknown method, as rmcp does.
    async fn on_custom_request(
        &self,
        request: rmcp::model::CustomRequest,
        _context: RequestContext<RoleServer>,
    ) -> Result<rmcp::model::CustomResult, ErrorData> {
        if request.method == crate::lines::OVERSIZED_METHOD {
            return Err(crate::lines::oversized_error(request.params.as_ref()));
        }
        Err(ErrorData::new(
            rmcp::model::ErrorCode::METHOD_NOT_FOUND,
            request.method,
            None,
        ))
    }

    fn get_info(&self) -> ServerConfig {
        let mut instructions = String::from(
            "Runs OOMOL blocks as serverless Cloud Task tasks. get_package_info describes a \
             package's blocks and their inputs; run_task creates a task and waits for its \
             result with progress (create_task + wait_task do the same in two steps). A wait \
             window that ends, or a cancelled call, leaves the task running: continue with \
             wait_task and its taskId, never by creating it again. upload_file or \
             upload_base64 turn a file into a URL for a block input; download_result saves a \
             result file.",
        );
        if let Some(root) = &self.inner.root {
            instructions.push_str(&format!(
                " File paths (upload_file, download_result, run_batch's journal) must be under \
                 {}; a relative path is taken from there.",
                root.dir().display()
            ));
        }
        if let Some(info) = &self.inner.package {
            instructions.push_str(&format!(
                " The block_* tools run the blocks of {}@{} with their own inputs.",
                info.package_name, info.package_version
            ));
        }
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
            .with_server_info(Implementation::new(
                "cloud-task-mcp",
                env!("CARGO_PKG_VERSION"),
            ))
            .with_instructions(instructions)
    }
}

/// One tool per block of `info`, named `block_<name>` (characters MCP does not allow in a
/// tool name become `_`), whose input schema is the block's own.
fn block_routes(
    info: &PackageInfo,
    existing: &ToolRouter<CloudTaskServer>,
) -> Vec<ToolRoute<CloudTaskServer>> {
    let mut routes: Vec<ToolRoute<CloudTaskServer>> = Vec::new();
    for block in &info.blocks {
        let name = block_tool_name(&block.block_name);
        if existing.has_route(&name) || routes.iter().any(|r| r.name() == name) {
            // Two blocks whose names differ only in characters a tool name cannot hold:
            // the first keeps the name, the other is reachable through run_task.
            continue;
        }
        let Value::Object(schema) = block.input_schema() else {
            continue;
        };
        let summary = if block.description.trim().is_empty() {
            block.title.trim()
        } else {
            block.description.trim()
        };
        let description = format!(
            "Runs block {} of {}@{} and waits for its result (with progress; the server's \
             wait window; cancelling ends the wait, not the task). The arguments are the \
             block's inputs. {summary}",
            block.block_name, info.package_name, info.package_version
        );
        let tool = Tool::new_with_raw(name, Some(description.into()), Arc::new(schema))
            .with_raw_output_schema(rmcp::handler::server::common::schema_for_output::<
                TaskOutcome,
            >())
            .with_annotations(ToolAnnotations::new().destructive(false).open_world(true));
        let block_name = block.block_name.clone();
        routes.push(ToolRoute::new_dyn(
            tool,
            move |context: ToolCallContext<'_, CloudTaskServer>| {
                let block_name = block_name.clone();
                Box::pin(async move {
                    let result = context
                        .service
                        .call_block(&block_name, context.arguments, &context.request_context)
                        .await;
                    Ok::<CallToolResponse, ErrorData>(result.into())
                })
            },
        ));
    }
    routes
}

/// `block_` and the block's name, with what a tool name cannot hold as `_`, at most 128
/// characters.
pub fn block_tool_name(block: &str) -> String {
    let mut name = String::from("block_");
    name.extend(block.chars().map(|c| {
        if c.is_ascii_alphanumeric() || c == '_' || c == '-' || c == '.' {
            c
        } else {
            '_'
        }
    }));
    name.truncate(128);
    name
}

/// The SDK's cancel token for a call, cancelled when the client cancels the call: rmcp
/// cancels the call's own token on `notifications/cancelled` (and once the call has
/// answered, which ends this bridge). Every wait, upload, download and batch of a call
/// stops through it, as the SDK's cancellation stops them anywhere.
fn call_token(context: &RequestContext<RoleServer>) -> CancelToken {
    let token = CancelToken::new();
    let call = context.ct.clone();
    if call.is_cancelled() {
        // Already: no task needs to run first for the call's work to see it.
        token.cancel();
        return token;
    }
    let bridge = token.clone();
    tokio::spawn(async move {
        call.cancelled().await;
        bridge.cancel();
    });
    token
}

fn structured<T: serde::Serialize>(value: &T) -> CallToolResult {
    match serde_json::to_value(value) {
        Ok(value) => CallToolResult::structured(value),
        Err(e) => CallToolResult::error(vec![ContentBlock::text(format!(
            "the answer could not be encoded: {e}"
        ))]),
    }
}

fn check_task_id(task_id: &str) -> Result<(), ToolError> {
    if task_id.trim().is_empty() {
        return Err(ToolError::new(
            "taskId is empty: give the ID that create_task or run_task answered.",
        ));
    }
    Ok(())
}

fn decode_base64(data: &str) -> Result<Vec<u8>, ToolError> {
    // Four characters per three bytes: refuse an oversized file before decoding it.
    let max_chars = MAX_BASE64_UPLOAD.div_ceil(3) * 4;
    let data = data.trim();
    if data.len() > max_chars {
        return Err(ToolError::new(format!(
            "dataBase64 holds more than {} MiB; upload a file this large with upload_file \
             from the machine that runs this server.",
            MAX_BASE64_UPLOAD / (1024 * 1024)
        )));
    }
    base64::engine::general_purpose::STANDARD
        .decode(data)
        .map_err(|e| ToolError::new(format!("dataBase64 is not valid standard base64: {e}")))
}

/// Progress notifications to the client, when it asked for them (a progress token in the
/// call): each one higher than the last, as the protocol wants.
struct Progress {
    peer: Peer<RoleServer>,
    token: Option<ProgressToken>,
    last: Option<f64>,
}

impl Progress {
    fn new(context: &RequestContext<RoleServer>) -> Self {
        Progress {
            peer: context.peer.clone(),
            token: context.meta.get_progress_token(),
            last: None,
        }
    }

    async fn report(&mut self, progress: f64, message: &str) {
        let Some(token) = &self.token else {
            return;
        };
        if !progress.is_finite() {
            return;
        }
        // Within the total announced, whatever the server reports.
        let progress = progress.clamp(0.0, 100.0);
        if self.last.is_some_and(|last| progress <= last) {
            return;
        }
        self.last = Some(progress);
        let notification = ProgressNotificationParam::new(token.clone(), progress)
            .with_total(100.0)
            .with_message(message);
        // A client that went away misses its progress; the wait goes on to its answer.
        let _ = self.peer.notify_progress(notification).await;
    }
}

/// The last lines a task logged, for its failure message.
#[derive(Default)]
struct LogTail {
    lines: VecDeque<String>,
}

impl LogTail {
    fn push(&mut self, event: &LogEvent) {
        let line = match event {
            LogEvent::BlockLog { log, .. } => log.clone(),
            LogEvent::BlockFinished {
                error: Some(error), ..
            }
            | LogEvent::SubflowBlockFinished {
                error: Some(error), ..
            }
            | LogEvent::SessionFinished {
                error: Some(error), ..
            } => format!("error: {error}"),
            _ => return,
        };
        let mut line: String = line.trim_end().chars().take(LOG_LINE).collect();
        line = line.replace(['\r', '\n'], " ");
        // An error is reported by the block, then by its session: once is enough.
        if self.lines.back() == Some(&line) {
            return;
        }
        if self.lines.len() == LOG_TAIL {
            self.lines.pop_front();
        }
        self.lines.push_back(line);
    }

    fn lines(&self) -> Vec<String> {
        self.lines.iter().cloned().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn block_tool_names_hold_only_what_mcp_allows() {
        assert_eq!(block_tool_name("main"), "block_main");
        assert_eq!(block_tool_name("pdf to text/v2"), "block_pdf_to_text_v2");
        assert_eq!(block_tool_name("a.b-c_d"), "block_a.b-c_d");
        assert_eq!(block_tool_name("é"), "block__");
        assert_eq!(block_tool_name(&"x".repeat(300)).len(), 128);
    }

    #[test]
    fn base64_is_bounded_before_it_is_decoded() {
        assert_eq!(decode_base64(" AAECAw== ").unwrap(), [0, 1, 2, 3]);
        assert!(
            decode_base64("%%")
                .unwrap_err()
                .message()
                .contains("base64")
        );
        let too_long = "A".repeat(MAX_BASE64_UPLOAD.div_ceil(3) * 4 + 4);
        assert!(
            decode_base64(&too_long)
                .unwrap_err()
                .message()
                .contains("32 MiB")
        );
    }

    #[test]
    fn the_log_tail_keeps_the_last_lines_once_each() {
        let mut tail = LogTail::default();
        let line = |text: &str| LogEvent::BlockLog {
            block: Default::default(),
            log: text.to_owned(),
            stdio: None,
        };
        for i in 0..(LOG_TAIL + 5) {
            tail.push(&line(&format!("line {i}\nmore")));
        }
        let lines = tail.lines();
        assert_eq!(lines.len(), LOG_TAIL);
        assert_eq!(lines[0], "line 5 more");
        let error = LogEvent::SessionFinished {
            block: Default::default(),
            error: Some("boom".into()),
        };
        tail.push(&error);
        tail.push(&error);
        assert_eq!(
            tail.lines().iter().filter(|l| *l == "error: boom").count(),
            1
        );
        tail.push(&line(&"y".repeat(LOG_LINE * 2)));
        assert_eq!(tail.lines().last().unwrap().chars().count(), LOG_LINE);
    }

    #[test]
    fn the_key_is_replaced_in_every_string_and_object_key_and_nothing_else_changes() {
        let secret = "sk-secret-123";
        let clean = json!({"a": ["x", 1, {"b": "y"}], "c": null});
        assert_eq!(scrubbed(&clean, secret), None);
        let dirty = json!({
            "a": ["x", "key sk-secret-123!", 1],
            "sk-secret-123": {"d": "sk-secret-123sk-secret-123", "e": true},
            "f": "kept"
        });
        assert_eq!(
            scrubbed(&dirty, secret),
            Some(json!({
                "a": ["x", "key ***!", 1],
                "***": {"d": "******", "e": true},
                "f": "kept"
            }))
        );
        // A failure's message and data too.
        let failure = ErrorData::internal_error(
            "refused sk-secret-123",
            Some(json!({"key": "sk-secret-123"})),
        );
        let Err(failure) = scrub_answer(Err(failure), secret) else {
            panic!("a failure stays one");
        };
        assert_eq!(failure.message, "refused ***");
        assert_eq!(failure.data, Some(json!({"key": "***"})));
    }

    #[tokio::test]
    async fn a_wait_window_is_one_second_to_an_hour() {
        let client = Client::new("key-for-a-test").unwrap();
        let server = CloudTaskServer::new(client, McpOptions::new())
            .await
            .unwrap();
        assert_eq!(server.window(None).unwrap(), 50);
        assert_eq!(server.window(Some(3600)).unwrap(), 3600);
        for bad in [0, 3601] {
            let error = server.window(Some(bad)).unwrap_err();
            assert!(error.message().contains("waitSeconds must be 1 to 3600"));
        }
        assert_eq!(server.tools().len(), 17);
    }
}
