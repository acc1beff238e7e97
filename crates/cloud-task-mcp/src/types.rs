//! The tools' parameters and answers: typed, so that their JSON Schemas (the tools'
//! `inputSchema` and `outputSchema`) are derived from them, with the doc comments as the
//! descriptions an agent reads.

use rmcp::schemars::{self, JsonSchema};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// The longest wait window a tool accepts, in seconds (one hour).
pub const MAX_WAIT_SECONDS: u64 = 3600;

/// Drops the `format` that schemars gives Rust's number types (`uint64`, `int64`,
/// `double`...): they are no JSON Schema formats, and validators such as the MCP
/// Inspector's warn about each one. Bounds (`minimum`) stay.
fn plain_numbers(schema: &mut schemars::Schema) {
    fn walk(value: &mut Value) {
        match value {
            Value::Object(map) => {
                let numeric = map.get("format").and_then(Value::as_str).is_some_and(|f| {
                    f.starts_with("int") || f.starts_with("uint") || f == "double" || f == "float"
                });
                if numeric {
                    map.remove("format");
                }
                map.values_mut().for_each(walk);
            }
            Value::Array(items) => items.iter_mut().for_each(walk),
            _ => {}
        }
    }
    if let Some(map) = schema.as_object_mut() {
        map.values_mut().for_each(walk);
    }
}

/// The block to run and its inputs.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[schemars(transform = plain_numbers)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TaskSpec {
    /// The package, such as `@oomol/echo`. Defaults to the server's package
    /// (`--package` or `OOMOL_PACKAGE_NAME`), when it has one.
    #[serde(default)]
    pub package_name: Option<String>,
    /// The package version, such as `1.0.0`, or `latest`. Defaults to the server's package
    /// version, else `latest`.
    #[serde(default)]
    pub package_version: Option<String>,
    /// The block of the package to run (see `get_package_info` for a package's blocks).
    pub block_name: String,
    /// The block's inputs, by handle name.
    #[serde(default)]
    pub input_values: Option<Map<String, Value>>,
    /// Check the inputs against the block's published input schema before creating the
    /// task (default true).
    #[serde(default)]
    pub check_inputs: Option<bool>,
}

/// `run_task`: a block, its inputs, and how long to wait.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[schemars(transform = plain_numbers)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RunParams {
    /// The package, such as `@oomol/echo`. Defaults to the server's package
    /// (`--package` or `OOMOL_PACKAGE_NAME`), when it has one.
    #[serde(default)]
    pub package_name: Option<String>,
    /// The package version, such as `1.0.0`, or `latest`. Defaults to the server's package
    /// version, else `latest`.
    #[serde(default)]
    pub package_version: Option<String>,
    /// The block of the package to run (see `get_package_info` for a package's blocks).
    pub block_name: String,
    /// The block's inputs, by handle name.
    #[serde(default)]
    pub input_values: Option<Map<String, Value>>,
    /// Check the inputs against the block's published input schema before creating the
    /// task (default true).
    #[serde(default)]
    pub check_inputs: Option<bool>,
    /// How long to wait for the result, in seconds (1 to 3600; default: the server's
    /// window). When the window ends first, the task keeps running: the answer names it,
    /// and `wait_task` continues the wait.
    #[serde(default)]
    #[schemars(range(min = 1, max = 3600))]
    pub wait_seconds: Option<u64>,
}

impl RunParams {
    /// The task to create, and the wait window asked for.
    pub fn split(self) -> (TaskSpec, Option<u64>) {
        let spec = TaskSpec {
            package_name: self.package_name,
            package_version: self.package_version,
            block_name: self.block_name,
            input_values: self.input_values,
            check_inputs: self.check_inputs,
        };
        (spec, self.wait_seconds)
    }
}

/// The most inputs one `run_batch` call takes.
pub const MAX_BATCH_INPUTS: usize = 1000;

/// `run_batch`: one block over many inputs.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[schemars(transform = plain_numbers)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct BatchParams {
    /// The package. Defaults to the server's package, when it has one.
    #[serde(default)]
    pub package_name: Option<String>,
    /// The package version. Defaults to the server's package version, else `latest`.
    #[serde(default)]
    pub package_version: Option<String>,
    /// The block to run on each input.
    pub block_name: String,
    /// The inputs, one task each (1 to 1000): each is a block's `inputValues`.
    #[schemars(length(min = 1, max = 1000))]
    pub inputs: Vec<Map<String, Value>>,
    /// Check every input against the block's input schema before anything is created
    /// (default true).
    #[serde(default)]
    pub check_inputs: Option<bool>,
    /// A journal file on the server's machine: each input's task ID is recorded as soon
    /// as it is created. Calling again with the same inputs and journal resumes: tasks it
    /// holds are waited for, never created again. Without one, a window that ends leaves
    /// the task IDs in the answer only.
    #[serde(default)]
    pub journal: Option<String>,
    /// At most this many of the batch's tasks queued or running at once (default: the
    /// account's limits, read from the dashboard).
    #[serde(default)]
    #[schemars(range(min = 1))]
    pub concurrency: Option<usize>,
    /// How long to wait for the whole batch, in seconds (1 to 3600; default: the server's
    /// window). When it ends first, no more tasks are created; those created keep running.
    #[serde(default)]
    #[schemars(range(min = 1, max = 3600))]
    pub wait_seconds: Option<u64>,
}

/// How each input of a batch ended, and the counts.
#[derive(Debug, Clone, Serialize, JsonSchema)]
#[schemars(transform = plain_numbers)]
#[serde(rename_all = "camelCase")]
pub struct BatchResult {
    /// True when every input ended within the window (succeeded, failed, or not created).
    pub complete: bool,
    /// How many inputs.
    pub total: usize,
    /// How many succeeded.
    pub succeeded: usize,
    /// How many failed.
    pub failed: usize,
    /// How many were refused before a task existed (safe to run again).
    pub not_created: usize,
    /// How many have a create whose outcome is unknown (not to run again blindly).
    pub unknown: usize,
    /// How many were left when the window ended or the call was cancelled (their tasks,
    /// when they have one, keep running).
    pub unfinished: usize,
    /// One entry per input, by index.
    pub items: Vec<BatchEntry>,
    /// What to do next, when the batch is not complete.
    pub next: Option<String>,
}

/// One input of a batch.
#[derive(Debug, Clone, Serialize, JsonSchema)]
#[schemars(transform = plain_numbers)]
#[serde(rename_all = "camelCase")]
pub struct BatchEntry {
    /// The input's position in `inputs`, from 0.
    pub index: usize,
    /// Its task, when one exists.
    pub task_id: Option<String>,
    /// `success`, `failed`, `not_created`, `unknown` or `unfinished`.
    pub status: String,
    /// Its result file's URL, when it succeeded with one.
    #[serde(rename = "resultURL")]
    pub result_url: Option<String>,
    /// Its outputs, when it succeeded with data.
    pub result_data: Option<Value>,
    /// Why it did not succeed.
    pub error: Option<String>,
}

/// One task, by ID.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[schemars(transform = plain_numbers)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TaskIdParams {
    /// The task's ID, as `create_task` or `run_task` answered it.
    pub task_id: String,
}

/// `wait_task`: a task and how long to wait for it.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[schemars(transform = plain_numbers)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct WaitParams {
    /// The task's ID.
    pub task_id: String,
    /// How long to wait, in seconds (1 to 3600; default: the server's window). A window
    /// that ends first answers the task's status; call again to keep waiting.
    #[serde(default)]
    #[schemars(range(min = 1, max = 3600))]
    pub wait_seconds: Option<u64>,
}

/// `get_task_logs`: a task and a page of its logs.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[schemars(transform = plain_numbers)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct LogsParams {
    /// The task's ID.
    pub task_id: String,
    /// The page, from 1 (100 entries a page; default 1).
    #[serde(default)]
    #[schemars(range(min = 1))]
    pub page: Option<u32>,
}

/// `list_tasks`: filters and paging.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[schemars(transform = plain_numbers)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ListParams {
    /// Tasks per page, 1 to 100 (default: the server's).
    #[serde(default)]
    #[schemars(range(min = 1, max = 100))]
    pub size: Option<u32>,
    /// The `nextToken` of the previous page, to read the next one.
    #[serde(default)]
    pub next_token: Option<String>,
    /// Only tasks with this status: `queued`, `scheduling`, `scheduled`, `running`,
    /// `success` or `failed`.
    #[serde(default)]
    pub status: Option<String>,
    /// Only tasks of this package ID (`name@version`).
    #[serde(default)]
    pub package_id: Option<String>,
    /// Only tasks of this workload ID.
    #[serde(default)]
    pub workload_id: Option<String>,
}

/// `get_latest_tasks`: workload IDs.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[schemars(transform = plain_numbers)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct LatestParams {
    /// The workload IDs (1 to 50) whose latest task to show.
    pub workload_ids: Vec<String>,
}

/// `upload_file`: a file on the server's machine.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[schemars(transform = plain_numbers)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UploadFileParams {
    /// The file's path on the machine that runs this server (absolute, or relative to its
    /// working directory).
    pub path: String,
}

/// `upload_base64`: a file's bytes, for agents on another machine.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[schemars(transform = plain_numbers)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UploadBase64Params {
    /// The file's name (its extension is kept, such as `report.pdf`).
    pub file_name: String,
    /// The file's bytes in standard base64 (at most 32 MiB once decoded).
    pub data_base64: String,
}

/// `download_result`: a finished task and where to save its result file.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[schemars(transform = plain_numbers)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DownloadParams {
    /// The task's ID (it must have succeeded with a result file).
    pub task_id: String,
    /// Where to save the file on the machine that runs this server (replaced when it
    /// exists; an interrupted download to the same path resumes); a relative path is
    /// taken from the server's working directory, or its root when it has one.
    pub path: String,
}

/// `get_package_info`: a package.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[schemars(transform = plain_numbers)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PackageParams {
    /// The package, such as `@oomol/echo`.
    pub package_name: String,
    /// Its version (default `latest`).
    #[serde(default)]
    pub package_version: Option<String>,
}

/// A task that was created.
#[derive(Debug, Clone, Serialize, JsonSchema)]
#[schemars(transform = plain_numbers)]
#[serde(rename_all = "camelCase")]
pub struct CreatedTask {
    /// The new task's ID: `wait_task`, `get_task_result` and the others take it.
    pub task_id: String,
    /// Its status right after creation (`queued`).
    pub status: String,
}

/// A task that succeeded, with its result.
#[derive(Debug, Clone, Serialize, JsonSchema)]
#[schemars(transform = plain_numbers)]
#[serde(rename_all = "camelCase")]
pub struct TaskOutcome {
    /// The task's ID.
    pub task_id: String,
    /// `success`.
    pub status: String,
    /// The URL of its result file, when it stored one (`download_result` saves it).
    #[serde(rename = "resultURL")]
    pub result_url: Option<String>,
    /// The block's outputs, by handle name, when it returned data.
    pub result_data: Option<Value>,
}

/// A task's result as it is now, without waiting.
#[derive(Debug, Clone, Serialize, JsonSchema)]
#[schemars(transform = plain_numbers)]
#[serde(rename_all = "camelCase")]
pub struct ResultNow {
    /// The task's ID.
    pub task_id: String,
    /// `queued`, `scheduling`, `scheduled`, `running`, `success` or `failed`.
    pub status: String,
    /// Progress, 0 to 100.
    pub progress: f64,
    /// Its result file's URL, once it succeeded with one.
    #[serde(rename = "resultURL")]
    pub result_url: Option<String>,
    /// Its outputs, once it succeeded with data.
    pub result_data: Option<Value>,
    /// Why it failed, once it failed.
    pub error: Option<String>,
}

/// One task, as the task list and its detail show it.
#[derive(Debug, Clone, Serialize, JsonSchema)]
#[schemars(transform = plain_numbers)]
#[serde(rename_all = "camelCase")]
pub struct TaskInfo {
    /// The task's ID.
    pub task_id: String,
    /// `queued`, `scheduling`, `scheduled`, `running`, `success` or `failed`.
    pub status: String,
    /// Progress, 0 to 100.
    pub progress: f64,
    /// `user` or `shared`.
    pub task_type: Option<String>,
    /// The package ID (`name@version`), when known.
    pub package_id: Option<String>,
    /// The block, when known.
    pub block_name: Option<String>,
    /// The workload kind.
    pub workload: Option<String>,
    /// The workload ID.
    pub workload_id: Option<String>,
    /// The inputs it was created with, when the server shows them.
    pub input_values: Option<Value>,
    /// When it was created (milliseconds since the Unix epoch).
    pub created_at: Option<i64>,
    /// When it started running.
    pub start_time: Option<i64>,
    /// When it ended.
    pub end_time: Option<i64>,
    /// Its result file's URL, when it has one.
    #[serde(rename = "resultURL")]
    pub result_url: Option<String>,
    /// Why it failed, when it did.
    pub failed_message: Option<String>,
}

impl TaskInfo {
    /// A task of which only its ID, status and progress are known yet.
    pub fn new(task_id: String, status: &impl std::fmt::Display, progress: f64) -> Self {
        TaskInfo {
            task_id,
            status: status.to_string(),
            progress,
            task_type: None,
            package_id: None,
            block_name: None,
            workload: None,
            workload_id: None,
            input_values: None,
            created_at: None,
            start_time: None,
            end_time: None,
            result_url: None,
            failed_message: None,
        }
    }
}

/// A page of the task list.
#[derive(Debug, Clone, Serialize, JsonSchema)]
#[schemars(transform = plain_numbers)]
#[serde(rename_all = "camelCase")]
pub struct TaskList {
    /// The tasks, newest first.
    pub tasks: Vec<TaskInfo>,
    /// Pass it back as `nextToken` for the next page; absent on the last page.
    pub next_token: Option<String>,
}

/// The latest task of each workload asked for.
#[derive(Debug, Clone, Serialize, JsonSchema)]
#[schemars(transform = plain_numbers)]
#[serde(rename_all = "camelCase")]
pub struct LatestTasks {
    /// One entry per workload that has a task.
    pub tasks: Vec<TaskInfo>,
}

/// A page of a task's logs.
#[derive(Debug, Clone, Serialize, JsonSchema)]
#[schemars(transform = plain_numbers)]
#[serde(rename_all = "camelCase")]
pub struct LogsPage {
    /// The task's ID.
    pub task_id: String,
    /// The page (from 1).
    pub page: u32,
    /// Its entries, oldest first, as the engine wrote them (each has a `type`, such as
    /// `BlockLog` with its `log` line).
    pub logs: Vec<Value>,
    /// True when the page was full: the next page may hold more.
    pub more: bool,
}

/// The user the server's key belongs to.
#[derive(Debug, Clone, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct WhoamiInfo {
    /// The user's ID, when the profile names it.
    pub id: Option<String>,
    /// The user's name, when the profile names it.
    pub name: Option<String>,
    /// The account API that answered (the key is never shown).
    pub api_url: String,
    /// The task API the tools use.
    pub base_url: String,
}

/// The account's queue: limits, counts and pause state.
#[derive(Debug, Clone, Serialize, JsonSchema)]
#[schemars(transform = plain_numbers)]
#[serde(rename_all = "camelCase")]
pub struct DashboardInfo {
    /// How many tasks may run at once.
    pub max_concurrency: u64,
    /// How many tasks may wait in the queue.
    pub max_queue_size: u64,
    /// Tasks queued.
    pub queued: u64,
    /// Tasks being scheduled.
    pub scheduling: u64,
    /// Tasks scheduled.
    pub scheduled: u64,
    /// Tasks running.
    pub running: u64,
    /// True when the queue is paused (new tasks wait until it resumes).
    pub paused: bool,
    /// Why it is paused (`manual`, or a reason of the server's), when it is.
    pub pause_type: Option<String>,
    /// True when `resume_queue` can resume it.
    pub can_resume: bool,
}

/// The queue's pause state after a change.
#[derive(Debug, Clone, Serialize, JsonSchema)]
#[schemars(transform = plain_numbers)]
#[serde(rename_all = "camelCase")]
pub struct PauseInfo {
    /// True when the queue is now paused.
    pub paused: bool,
    /// Why it is paused, when it is.
    pub pause_type: Option<String>,
}

/// A file that was uploaded: give its URL to a block input that takes a file.
#[derive(Debug, Clone, Serialize, JsonSchema)]
#[schemars(transform = plain_numbers)]
#[serde(rename_all = "camelCase")]
pub struct UploadedInfo {
    /// Where the file can be downloaded: the value to give a task.
    pub url: String,
    /// The stored file name.
    pub file_name: Option<String>,
    /// The stored size in bytes.
    pub file_size: Option<u64>,
    /// The detected MIME type.
    pub mime_type: Option<String>,
    /// When the URL expires.
    pub expires_at: Option<String>,
}

/// A result file that was saved.
#[derive(Debug, Clone, Serialize, JsonSchema)]
#[schemars(transform = plain_numbers)]
#[serde(rename_all = "camelCase")]
pub struct DownloadedInfo {
    /// The task's ID.
    pub task_id: String,
    /// Where the file was saved, as an absolute path.
    pub path: String,
    /// Its size in bytes.
    pub size: u64,
    /// Its `Content-Type`, when the server named one.
    pub content_type: Option<String>,
}

/// A package: its blocks and what each takes and gives.
#[derive(Debug, Clone, Serialize, JsonSchema)]
#[schemars(transform = plain_numbers)]
#[serde(rename_all = "camelCase")]
pub struct PackageSummary {
    /// The package.
    pub package_name: String,
    /// The exact version described (`latest` resolved).
    pub package_version: String,
    /// Its title.
    pub title: String,
    /// What it does.
    pub description: String,
    /// Its blocks.
    pub blocks: Vec<BlockSummary>,
}

/// One block of a package.
#[derive(Debug, Clone, Serialize, JsonSchema)]
#[schemars(transform = plain_numbers)]
#[serde(rename_all = "camelCase")]
pub struct BlockSummary {
    /// The block's name: a task's `blockName`.
    pub block_name: String,
    /// Its title.
    pub title: String,
    /// What it does.
    pub description: String,
    /// The JSON Schema of its `inputValues`.
    pub input_schema: Value,
    /// Its outputs: handle name to description.
    pub outputs: Map<String, Value>,
}
