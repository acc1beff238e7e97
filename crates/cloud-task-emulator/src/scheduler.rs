//! The simulated scheduler: the user's tasks, their queue, and their life cycle.
//!
//! Time is an argument (`now`, the time since the emulator started), so the scheduler is
//! deterministic and its tests need no clock. Before answering anything, the scheduler
//! replays every transition due up to `now` in time order ([`Scheduler::advance`]); each
//! transition is stamped with the exact simulated time it happened at, not the time it was
//! observed.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, HashSet, VecDeque};
use std::time::Duration;

use cloud_task_core::models::{PauseResponse, PauseState};
use cloud_task_core::{
    CreateTaskRequest, Dashboard, DashboardCount, DashboardLimits, LatestTaskItem, LogEntry,
    PauseType, TaskDetail, TaskListItem, TaskLogs, TaskPage, TaskResult, TaskStatus, TaskSuccess,
    TaskType, UserTaskDetail, Workload,
};
use serde_json::{Map, Value, json};
use uuid::Uuid;

use crate::catalogue::{self, Outcome, Plan, ResultFile};
use crate::ids::{IdSource, random_token};

/// Log entries per page of the logs endpoint (the service's and OOMOL's engine's 100).
pub const LOG_PAGE_SIZE: usize = cloud_task_core::LOG_PAGE_SIZE;

/// The path of result files under the emulator's address.
pub const RESULTS_PATH: &str = "/storage/results";

/// The namespace of workload IDs (UUID v5 of package, version and block).
const WORKLOAD_NAMESPACE: Uuid = Uuid::from_u128(0x6f6f_6d6f_6c2d_4354_8000_776f_726b_6c64);

/// A `BlockLog` entry of `message` on `stdio`.
fn block_log(message: &str, stdio: &str) -> Map<String, Value> {
    let mut map = Map::new();
    map.insert("type".into(), "BlockLog".into());
    map.insert("log".into(), message.into());
    map.insert("stdio".into(), stdio.into());
    map
}

/// The owner of every task: the emulator has one user.
const OWNER_ID: &str = "00000000-0000-4000-8000-00000000e001";

/// A simulated duration longer than any test: what an overflowing scaled duration becomes.
const FOREVER: Duration = Duration::from_secs(100 * 365 * 24 * 3600);

/// The workload ID of a block: a UUID v5 of package, version and block, so the same block
/// always has the same ID, in every emulator.
///
/// ```
/// use oomol_cloud_task::emulator::workload_id;
/// assert_eq!(workload_id("@oomol/echo", "1.0.0", "main"), workload_id("@oomol/echo", "1.0.0", "main"));
/// assert_ne!(workload_id("@oomol/echo", "1.0.0", "main"), workload_id("@oomol/echo", "1.0.1", "main"));
/// ```
pub fn workload_id(package_name: &str, package_version: &str, block_name: &str) -> String {
    let name = format!("{package_name}\n{package_version}\n{block_name}");
    Uuid::new_v5(&WORKLOAD_NAMESPACE, name.as_bytes()).to_string()
}

/// The scheduler's limits and speed.
#[derive(Clone, Debug)]
pub(crate) struct SchedulerConfig {
    pub(crate) max_concurrency: u64,
    pub(crate) max_queue_size: u64,
    pub(crate) time_scale: f64,
    /// The wall clock at `now == 0`, epoch milliseconds.
    pub(crate) epoch_ms: i64,
    /// Seeds the task IDs.
    pub(crate) seed: u64,
    /// The emulator's address, for the URLs of result files.
    pub(crate) base_url: String,
    /// A success's `resultData` as one object keyed by output handle, not a list of it.
    pub(crate) keyed_outputs: bool,
}

/// Why a task was not created.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum CreateError {
    /// The queue already holds `max_queue_size` waiting tasks.
    QueueFull(u64),
}

/// The filters of a listing.
#[derive(Clone, Debug, Default)]
pub(crate) struct ListFilter {
    pub(crate) status: Option<TaskStatus>,
    pub(crate) task_type: Option<TaskType>,
    pub(crate) workload: Option<Workload>,
    pub(crate) workload_id: Option<String>,
    pub(crate) package_id: Option<String>,
}

struct Task {
    id: String,
    package_name: String,
    package_version: String,
    block_name: String,
    workload_id: String,
    inputs: Map<String, Value>,
    outcome: Outcome,
    log_lines: u64,
    /// The result file, and the signature of its URL.
    file: Option<(ResultFile, String)>,
    scheduling_for: Duration,
    scheduled_for: Duration,
    run_for: Duration,
    status: TaskStatus,
    created: Duration,
    updated: Duration,
    start: Option<Duration>,
    end: Option<Duration>,
}

impl Task {
    fn progress(&self, now: Duration) -> f64 {
        match (&self.status, self.start) {
            (TaskStatus::Success | TaskStatus::Failed, _) => 100.0,
            (TaskStatus::Running, Some(start)) if !self.run_for.is_zero() => {
                let fraction = now.saturating_sub(start).as_secs_f64() / self.run_for.as_secs_f64();
                ((fraction * 1000.0).floor() / 10.0).clamp(0.0, 99.0)
            }
            _ => 0.0,
        }
    }

    fn failed_message(&self) -> Option<String> {
        match (&self.status, &self.outcome) {
            (TaskStatus::Failed, Outcome::Failure(message)) => Some(message.clone()),
            _ => None,
        }
    }

    fn matches(&self, filter: &ListFilter) -> bool {
        filter.status.as_ref().is_none_or(|s| *s == self.status)
            && filter
                .task_type
                .as_ref()
                .is_none_or(|t| *t == TaskType::User)
            && filter
                .workload
                .as_ref()
                .is_none_or(|w| *w == Workload::Serverless)
            && filter
                .workload_id
                .as_ref()
                .is_none_or(|w| *w == self.workload_id)
            && filter
                .package_id
                .as_ref()
                .is_none_or(|p| *p == self.package_name)
    }

    fn scheduler_payload(&self) -> Value {
        json!({
            "packageName": self.package_name,
            "packageVersion": self.package_version,
            "blockName": self.block_name,
            "inputValues": self.inputs,
        })
    }
}

/// The user's tasks and queue.
pub(crate) struct Scheduler {
    config: SchedulerConfig,
    tasks: Vec<Task>,
    by_id: HashMap<String, usize>,
    latest: HashMap<String, usize>,
    queue: VecDeque<usize>,
    /// The end of the current phase of every task in flight.
    events: BinaryHeap<Reverse<(Duration, usize)>>,
    scheduling: u64,
    scheduled: u64,
    running: u64,
    paused: bool,
    /// The simulated time everything has been replayed up to.
    cursor: Duration,
    ids: IdSource,
}

impl Scheduler {
    pub(crate) fn new(config: SchedulerConfig) -> Self {
        Scheduler {
            ids: IdSource::new(config.seed),
            config,
            tasks: Vec::new(),
            by_id: HashMap::new(),
            latest: HashMap::new(),
            queue: VecDeque::new(),
            events: BinaryHeap::new(),
            scheduling: 0,
            scheduled: 0,
            running: 0,
            paused: false,
            cursor: Duration::ZERO,
        }
    }

    fn scale(&self, d: Duration) -> Duration {
        Duration::try_from_secs_f64(d.as_secs_f64() * self.config.time_scale)
            .unwrap_or(FOREVER)
            .min(FOREVER)
    }

    fn epoch_ms(&self, t: Duration) -> i64 {
        let ms = i64::try_from(t.as_millis()).unwrap_or(i64::MAX);
        self.config.epoch_ms.saturating_add(ms)
    }

    fn in_flight(&self) -> u64 {
        self.scheduling + self.scheduled + self.running
    }

    /// Replays every transition due up to `now`, in time order. Answers the time the
    /// scheduler is now at: `now`, or a later time already reached (two requests may read
    /// the clock in one order and take the lock in the other; time never goes back).
    pub(crate) fn advance(&mut self, now: Duration) -> Duration {
        loop {
            self.start_waiting(self.cursor);
            match self.events.peek() {
                Some(Reverse((at, _))) if *at <= now => {}
                _ => break,
            }
            let Some(Reverse((at, index))) = self.events.pop() else {
                break;
            };
            self.cursor = self.cursor.max(at);
            self.step(index, at);
        }
        self.cursor = self.cursor.max(now);
        self.cursor
    }

    /// Moves queued tasks into free slots at time `at`, oldest first.
    fn start_waiting(&mut self, at: Duration) {
        while !self.paused && self.in_flight() < self.config.max_concurrency {
            let Some(index) = self.queue.pop_front() else {
                break;
            };
            let task = &mut self.tasks[index];
            task.status = TaskStatus::Scheduling;
            task.updated = at;
            let due = at.saturating_add(task.scheduling_for);
            self.scheduling += 1;
            self.events.push(Reverse((due, index)));
        }
    }

    /// Ends the current phase of task `index` at time `at`.
    fn step(&mut self, index: usize, at: Duration) {
        let task = &mut self.tasks[index];
        task.updated = at;
        match task.status {
            TaskStatus::Scheduling => {
                task.status = TaskStatus::Scheduled;
                self.scheduling -= 1;
                self.scheduled += 1;
                let due = at.saturating_add(task.scheduled_for);
                self.events.push(Reverse((due, index)));
            }
            TaskStatus::Scheduled => {
                task.status = TaskStatus::Running;
                task.start = Some(at);
                self.scheduled -= 1;
                self.running += 1;
                let due = at.saturating_add(task.run_for);
                self.events.push(Reverse((due, index)));
            }
            TaskStatus::Running => {
                task.status = match task.outcome {
                    Outcome::Success(_) => TaskStatus::Success,
                    Outcome::Failure(_) => TaskStatus::Failed,
                };
                task.end = Some(at);
                self.running -= 1;
            }
            _ => {}
        }
    }

    /// Creates a task at `now` (after [`Scheduler::advance`]); answers its ID.
    pub(crate) fn create(
        &mut self,
        request: CreateTaskRequest,
        plan: Plan,
        now: Duration,
    ) -> Result<String, CreateError> {
        let now = self.advance(now);
        let must_wait = self.paused
            || self.in_flight() >= self.config.max_concurrency
            || !self.queue.is_empty();
        if must_wait && self.queue.len() as u64 >= self.config.max_queue_size {
            return Err(CreateError::QueueFull(self.config.max_queue_size));
        }
        let index = self.tasks.len();
        let id = self.ids.next(self.epoch_ms(now));
        let workload_id = workload_id(
            &request.package_name,
            &request.package_version,
            &request.block_name,
        );
        self.tasks.push(Task {
            id: id.clone(),
            workload_id: workload_id.clone(),
            inputs: request.input_values.unwrap_or_default(),
            package_name: request.package_name,
            package_version: request.package_version,
            block_name: request.block_name,
            outcome: match plan.outcome {
                Outcome::Success(Value::Array(mut items))
                    if self.config.keyed_outputs && items.len() == 1 =>
                {
                    Outcome::Success(items.remove(0))
                }
                outcome => outcome,
            },
            log_lines: plan.log_lines,
            file: plan.file.map(|file| (file, random_token())),
            scheduling_for: self.scale(catalogue::SCHEDULING),
            scheduled_for: self.scale(catalogue::SCHEDULED),
            run_for: self.scale(plan.run),
            status: TaskStatus::Queued,
            created: now,
            updated: now,
            start: None,
            end: None,
        });
        self.by_id.insert(id.clone(), index);
        self.latest.insert(workload_id, index);
        self.queue.push_back(index);
        self.start_waiting(now);
        Ok(id)
    }

    /// The result of task `id`, or `None` when there is no such task.
    pub(crate) fn result(&mut self, id: &str, now: Duration) -> Option<TaskResult> {
        let now = self.advance(now);
        let task = &self.tasks[*self.by_id.get(id)?];
        Some(match (&task.status, &task.outcome) {
            (TaskStatus::Success, Outcome::Success(data)) => {
                let url = self.result_url(task);
                let mut data = data.clone();
                // `@oomol/file`'s output handle `file` is its result file's URL, as its
                // description says.
                if let (Some(url), Some(outputs)) = (&url, outputs_mut(&mut data)) {
                    outputs.insert("file".to_owned(), Value::String(url.clone()));
                }
                TaskResult::Success(TaskSuccess::new(url, Some(data)))
            }
            (TaskStatus::Failed, Outcome::Failure(message)) => TaskResult::Failed {
                error: Some(message.clone()),
            },
            (status, _) => TaskResult::InProgress {
                status: status.clone(),
                progress: task.progress(now),
            },
        })
    }

    /// The details of task `id`.
    pub(crate) fn detail(&mut self, id: &str, now: Duration) -> Option<TaskDetail> {
        let now = self.advance(now);
        let task = &self.tasks[*self.by_id.get(id)?];
        let mut detail = UserTaskDetail::new(task.id.clone(), task.status.clone());
        detail.progress = task.progress(now);
        detail.workload_id = task.workload_id.clone();
        detail.scheduler_payload = task.scheduler_payload();
        detail.created_at = self.epoch_ms(task.created);
        detail.start_time = task.start.map(|t| self.epoch_ms(t));
        detail.end_time = task.end.map(|t| self.epoch_ms(t));
        detail.failed_message = task.failed_message();
        detail.result_url = self.result_url(task);
        Some(TaskDetail::User(detail))
    }

    fn list_item(&self, task: &Task, now: Duration) -> TaskListItem {
        let mut item = TaskListItem::new(task.id.clone(), task.status.clone());
        item.owner_id = OWNER_ID.to_owned();
        item.package_id = Some(task.package_name.clone());
        item.block_name = Some(task.block_name.clone());
        item.progress = task.progress(now);
        item.workload_id = task.workload_id.clone();
        item.failed_message = task.failed_message();
        item.result_url = self.result_url(task);
        item.created_at = self.epoch_ms(task.created);
        item.updated_at = self.epoch_ms(task.updated);
        item.start_time = task.start.map(|t| self.epoch_ms(t));
        item.end_time = task.end.map(|t| self.epoch_ms(t));
        item.scheduler_payload = task.scheduler_payload();
        item
    }

    /// One page of tasks, newest first, of those created before `before` (a position
    /// from a `nextToken`). New tasks never shift later pages: positions only grow.
    pub(crate) fn list(
        &mut self,
        filter: &ListFilter,
        size: usize,
        before: Option<usize>,
        now: Duration,
    ) -> TaskPage {
        let now = self.advance(now);
        let end = before.unwrap_or(self.tasks.len()).min(self.tasks.len());
        let mut matching = self.tasks[..end]
            .iter()
            .enumerate()
            .rev()
            .filter(|(_, task)| task.matches(filter));
        let mut items = Vec::with_capacity(size.min(end));
        let mut last = None;
        for (index, task) in matching.by_ref().take(size) {
            items.push(self.list_item(task, now));
            last = Some(index);
        }
        let more = matching.next().is_some();
        let next_token = match (more, last) {
            (true, Some(index)) => Some(encode_token(index)),
            _ => None,
        };
        TaskPage::new(items, next_token)
    }

    /// Decodes a `nextToken` of this scheduler into a position.
    pub(crate) fn decode_token(&self, token: &str) -> Option<usize> {
        decode_token(token).filter(|position| *position <= self.tasks.len())
    }

    /// The newest task of each workload ID that has one, in the order asked.
    pub(crate) fn latest(&mut self, workload_ids: &[&str], now: Duration) -> Vec<LatestTaskItem> {
        let now = self.advance(now);
        let mut seen = HashSet::new();
        workload_ids
            .iter()
            .filter(|id| seen.insert(**id))
            .filter_map(|id| self.latest.get(*id))
            .map(|index| {
                let task = &self.tasks[*index];
                let mut item = LatestTaskItem::new(task.id.clone(), task.status.clone());
                item.workload_id = task.workload_id.clone();
                item.progress = task.progress(now);
                item.created_at = self.epoch_ms(task.created);
                item.start_time = task.start.map(|t| self.epoch_ms(t));
                item.end_time = task.end.map(|t| self.epoch_ms(t));
                item
            })
            .collect()
    }

    /// Page `page` (from 1) of the logs of task `id`.
    /// The URL of a succeeded task's result file, if it stores one.
    fn result_url(&self, task: &Task) -> Option<String> {
        let (file, token) = task.file.as_ref()?;
        (task.status == TaskStatus::Success).then(|| {
            format!(
                "{}{RESULTS_PATH}/{}/{}?signature={token}",
                self.config.base_url,
                task.id,
                file.name()
            )
        })
    }

    /// The result file of task `id` for a request signed `signature`: `None` when there is
    /// no such task, file or signature, or the task has not succeeded (yet).
    pub(crate) fn result_file(
        &mut self,
        id: &str,
        signature: Option<&str>,
        now: Duration,
    ) -> Option<ResultFile> {
        self.advance(now);
        let task = &self.tasks[*self.by_id.get(id)?];
        let (file, token) = task.file.as_ref()?;
        (task.status == TaskStatus::Success && signature == Some(token.as_str()))
            .then(|| file.clone())
    }

    /// Page `page` (from 1) of task `id`'s logs, or `None` when there is no such task.
    pub(crate) fn logs(&mut self, id: &str, page: usize, now: Duration) -> Option<TaskLogs> {
        let now = self.advance(now);
        let task = &self.tasks[*self.by_id.get(id)?];
        let written = self.logs_written(task, now);
        let skip = page.saturating_sub(1).saturating_mul(LOG_PAGE_SIZE);
        let entries = (skip..written.min(skip.saturating_add(LOG_PAGE_SIZE)))
            .map(|index| self.log_entry(task, index))
            .collect();
        Some(TaskLogs::new(entries))
    }

    /// How many log entries `task` has written by `now`: a line when it starts, its
    /// `logLines` lines spread over its run, then its end entries.
    fn logs_written(&self, task: &Task, now: Duration) -> usize {
        let Some(start) = task.start else {
            return 0;
        };
        if now < start {
            return 0;
        }
        let lines = task.log_lines as usize;
        if task.end.is_some() {
            return 1 + lines + self.end_entries(task).len();
        }
        let elapsed = now.saturating_sub(start).as_secs_f64();
        let run = task.run_for.as_secs_f64().max(f64::MIN_POSITIVE);
        let shown = ((elapsed / run) * (lines + 1) as f64).floor() as usize;
        1 + shown.min(lines)
    }

    /// The entry at `index` of a task's logs, as OOMOL's engine reports it: a flat object
    /// of strings, nested values stringified.
    fn log_entry(&self, task: &Task, index: usize) -> LogEntry {
        let start = task.start.unwrap_or(task.created);
        let lines = task.log_lines as usize;
        let (at, mut map) = if index == 0 {
            let message = format!(
                "Running block {} of {}@{} with inputs {}",
                task.block_name,
                task.package_name,
                task.package_version,
                Value::Object(task.inputs.clone())
            );
            (start, block_log(&message, "stdout"))
        } else if index <= lines {
            let at = start + task.run_for.mul_f64(index as f64 / (lines + 1) as f64);
            (at, block_log(&format!("line {index}"), "stdout"))
        } else {
            let end = task.end.unwrap_or(start);
            let entry = self
                .end_entries(task)
                .into_iter()
                .nth(index - lines - 1)
                .unwrap_or_default();
            (end, entry)
        };
        map.insert("session_id".into(), task.id.clone().into());
        map.insert("job_id".into(), format!("{}-job", task.id).into());
        map.insert("block_path".into(), task.block_name.clone().into());
        map.insert("stacks".into(), "[]".into());
        map.insert("time".into(), self.epoch_ms(at).to_string().into());
        LogEntry(map)
    }

    /// The entries a task writes when it ends: an output per handle, the block's end and
    /// the session's on success; the error line, the block's end and the session's on
    /// failure.
    fn end_entries(&self, task: &Task) -> Vec<Map<String, Value>> {
        let entry = |kind: &str, fields: &[(&str, String)]| {
            let mut map = Map::new();
            map.insert("type".into(), kind.into());
            for (key, value) in fields {
                map.insert((*key).into(), value.clone().into());
            }
            map
        };
        match &task.outcome {
            Outcome::Success(data) => {
                let outputs: Map<String, Value> = match data {
                    Value::Array(items) => items.first(),
                    keyed => Some(keyed),
                }
                .and_then(Value::as_object)
                .cloned()
                .unwrap_or_default();
                let mut entries: Vec<_> = outputs
                    .iter()
                    .map(|(handle, value)| {
                        // Strings as they are, other values stringified (OOMOL's engine
                        // parses back only what is not a string).
                        let output = match value {
                            Value::String(text) => text.clone(),
                            other => other.to_string(),
                        };
                        entry(
                            "BlockOutput",
                            &[("handle", handle.clone()), ("output", output)],
                        )
                    })
                    .collect();
                let result = Value::Object(outputs).to_string();
                entries.push(entry("BlockFinished", &[("result", result)]));
                entries.push(entry("SessionFinished", &[]));
                entries
            }
            Outcome::Failure(message) => vec![
                block_log(&format!("Error: {message}"), "stderr"),
                entry("BlockFinished", &[("error", message.clone())]),
                entry("SessionFinished", &[("error", message.clone())]),
            ],
        }
    }

    pub(crate) fn dashboard(&mut self, now: Duration) -> Dashboard {
        self.advance(now);
        Dashboard::new(
            DashboardLimits::new(self.config.max_concurrency, self.config.max_queue_size),
            DashboardCount::new(
                self.queue.len() as u64,
                self.scheduling,
                self.scheduled,
                self.running,
            ),
            PauseState::new(self.paused, self.pause_type(), self.paused),
        )
    }

    fn pause_type(&self) -> Option<PauseType> {
        self.paused.then_some(PauseType::User)
    }

    /// Pauses (`true`) or resumes (`false`) the queue at `now`.
    pub(crate) fn set_paused(&mut self, paused: bool, now: Duration) -> PauseResponse {
        let now = self.advance(now);
        self.paused = paused;
        self.start_waiting(now);
        PauseResponse::new(self.pause_type())
    }
}

const TOKEN_PREFIX: &str = "ct1.";
const TOKEN_MASK: u64 = 0x5a17_c3e9_04b2_d86f;

fn encode_token(position: usize) -> String {
    format!("{TOKEN_PREFIX}{:016x}", position as u64 ^ TOKEN_MASK)
}

fn decode_token(token: &str) -> Option<usize> {
    let hex = token.strip_prefix(TOKEN_PREFIX)?;
    if hex.len() != 16 {
        return None;
    }
    let value = u64::from_str_radix(hex, 16).ok()? ^ TOKEN_MASK;
    usize::try_from(value).ok()
}

/// The object of outputs of a success's data: a list's single object, or the object.
fn outputs_mut(data: &mut Value) -> Option<&mut Map<String, Value>> {
    match data {
        Value::Array(items) if items.len() == 1 => items[0].as_object_mut(),
        Value::Object(outputs) => Some(outputs),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    fn scheduler(max_concurrency: u64, max_queue_size: u64) -> Scheduler {
        Scheduler::new(SchedulerConfig {
            max_concurrency,
            max_queue_size,
            time_scale: 1.0,
            epoch_ms: 1_700_000_000_000,
            seed: 0,
            base_url: "http://emulator.test".to_owned(),
            keyed_outputs: false,
        })
    }

    fn create(s: &mut Scheduler, request: CreateTaskRequest, now: Duration) -> String {
        let plan = catalogue::plan(&request).unwrap();
        s.create(request, plan, now).unwrap()
    }

    fn echo(run_ms: u64) -> CreateTaskRequest {
        CreateTaskRequest::new("@oomol/echo", "1.0.0", "main").input("durationMs", run_ms)
    }

    fn status(s: &mut Scheduler, id: &str, now: Duration) -> TaskStatus {
        s.result(id, now).unwrap().status()
    }

    #[test]
    fn a_task_goes_through_every_state_with_exact_timestamps() {
        let mut s = scheduler(10, 100);
        let id = create(&mut s, echo(1000), 5 * MS);
        assert_eq!(status(&mut s, &id, 5 * MS), TaskStatus::Scheduling);
        assert_eq!(status(&mut s, &id, 104 * MS), TaskStatus::Scheduling);
        assert_eq!(status(&mut s, &id, 105 * MS), TaskStatus::Scheduled);
        assert_eq!(status(&mut s, &id, 205 * MS), TaskStatus::Running);
        match s.result(&id, 455 * MS).unwrap() {
            TaskResult::InProgress { progress, .. } => assert_eq!(progress, 25.0),
            other => panic!("{other:?}"),
        }
        let TaskDetail::User(detail) = s.detail(&id, 1300 * MS).unwrap() else {
            panic!("not a user task")
        };
        assert_eq!(detail.status, TaskStatus::Success);
        assert_eq!(detail.progress, 100.0);
        assert_eq!(detail.created_at, 1_700_000_000_005);
        assert_eq!(detail.start_time, Some(1_700_000_000_205));
        assert_eq!(detail.end_time, Some(1_700_000_001_205));
        let TaskResult::Success(success) = s.result(&id, 1300 * MS).unwrap() else {
            panic!("not a success")
        };
        assert_eq!(success.result_data, Some(json!([{"durationMs": 1000}])));
    }

    #[test]
    fn concurrency_limit_queues_in_order_and_starts_at_the_exact_free_time() {
        let mut s = scheduler(2, 100);
        let ids: Vec<String> = (0..4)
            .map(|_| create(&mut s, echo(100), Duration::ZERO))
            .collect();
        let dashboard = s.dashboard(Duration::ZERO);
        assert_eq!(dashboard.count, DashboardCount::new(2, 2, 0, 0));
        // The first two end at 300 ms; the next two start scheduling then, even when
        // observed much later.
        let TaskDetail::User(third) = s.detail(&ids[2], 10_000 * MS).unwrap() else {
            panic!()
        };
        assert_eq!(third.start_time, Some(1_700_000_000_000 + 500));
        assert_eq!(third.end_time, Some(1_700_000_000_000 + 600));
        assert_eq!(s.dashboard(10_000 * MS).count, DashboardCount::default());
    }

    #[test]
    fn never_more_in_flight_than_the_limit() {
        let mut s = scheduler(3, 1000);
        for i in 0..20 {
            create(&mut s, echo(37 * (i % 5)), MS * (i as u32) * 13);
        }
        let mut t = Duration::ZERO;
        while t < 5000 * MS {
            let c = s.dashboard(t).count;
            assert!(
                c.scheduling + c.scheduled + c.running <= 3,
                "{c:?} at {t:?}"
            );
            t += 7 * MS;
        }
        let page = s.list(&ListFilter::default(), 100, None, t);
        assert!(
            page.tasks
                .iter()
                .all(|task| task.status == TaskStatus::Success)
        );
    }

    #[test]
    fn queue_size_refuses_only_tasks_that_would_wait() {
        let mut s = scheduler(1, 2);
        for _ in 0..3 {
            create(&mut s, echo(1000), Duration::ZERO);
        }
        let request = echo(1);
        let plan = catalogue::plan(&request).unwrap();
        assert_eq!(
            s.create(request, plan, Duration::ZERO),
            Err(CreateError::QueueFull(2))
        );
        // Once the first finishes, one more fits.
        create(&mut s, echo(1), 1300 * MS);
        // With a queue of 0, a task that needs no waiting is still accepted.
        let mut s = scheduler(1, 0);
        create(&mut s, echo(1), Duration::ZERO);
        let request = echo(1);
        let plan = catalogue::plan(&request).unwrap();
        assert!(s.create(request, plan, Duration::ZERO).is_err());
    }

    #[test]
    fn pause_keeps_queued_tasks_queued_and_lets_running_ones_finish() {
        let mut s = scheduler(1, 10);
        let first = create(&mut s, echo(100), Duration::ZERO);
        let second = create(&mut s, echo(100), Duration::ZERO);
        assert_eq!(
            s.set_paused(true, 250 * MS).pause_type,
            Some(PauseType::User)
        );
        let dashboard = s.dashboard(250 * MS);
        assert!(dashboard.pause.paused && dashboard.pause.can_resume);
        assert_eq!(status(&mut s, &first, 10_000 * MS), TaskStatus::Success);
        assert_eq!(status(&mut s, &second, 10_000 * MS), TaskStatus::Queued);
        assert_eq!(s.set_paused(false, 10_000 * MS).pause_type, None);
        assert!(!s.dashboard(10_000 * MS).pause.paused);
        assert_eq!(status(&mut s, &second, 10_000 * MS), TaskStatus::Scheduling);
        let TaskDetail::User(detail) = s.detail(&second, 20_000 * MS).unwrap() else {
            panic!()
        };
        assert_eq!(detail.start_time, Some(1_700_000_000_000 + 10_200));
    }

    #[test]
    fn failures_carry_their_message() {
        let mut s = scheduler(10, 10);
        let id = create(
            &mut s,
            CreateTaskRequest::new("@oomol/quota", "1.0.0", "main"),
            Duration::ZERO,
        );
        assert_eq!(
            s.result(&id, 2000 * MS),
            Some(TaskResult::Failed {
                error: Some("Insufficient quota".into())
            })
        );
        let page = s.list(&ListFilter::default(), 10, None, 2000 * MS);
        assert_eq!(
            page.tasks[0].failed_message.as_deref(),
            Some("Insufficient quota")
        );
    }

    #[test]
    fn time_never_goes_back_when_requests_race_for_the_lock() {
        let mut s = scheduler(10, 10);
        let first = create(&mut s, echo(100), 100 * MS);
        // A request that read the clock earlier but took the lock later.
        let second = create(&mut s, echo(100), 50 * MS);
        let created = |s: &mut Scheduler, id: &str| match s.detail(id, 60 * MS).unwrap() {
            TaskDetail::User(d) => d.created_at,
            other => panic!("{other:?}"),
        };
        assert!(created(&mut s, &second) >= created(&mut s, &first));
        assert_eq!(
            status(&mut s, &first, Duration::ZERO),
            TaskStatus::Scheduling
        );
    }

    #[test]
    fn time_scale_multiplies_every_duration() {
        let mut s = Scheduler::new(SchedulerConfig {
            max_concurrency: 1,
            max_queue_size: 1,
            time_scale: 0.01,
            epoch_ms: 0,
            seed: 0,
            base_url: "http://emulator.test".to_owned(),
            keyed_outputs: false,
        });
        let id = create(&mut s, echo(1000), Duration::ZERO);
        assert_eq!(status(&mut s, &id, 11 * MS), TaskStatus::Running);
        assert_eq!(status(&mut s, &id, 12 * MS), TaskStatus::Success);
    }

    #[test]
    fn listing_pages_never_repeat_or_skip_while_tasks_are_created() {
        let mut s = scheduler(100, 1000);
        for _ in 0..25 {
            create(&mut s, echo(1), Duration::ZERO);
        }
        let all: Vec<String> = s
            .list(&ListFilter::default(), 100, None, Duration::ZERO)
            .tasks
            .into_iter()
            .map(|t| t.task_id)
            .collect();
        let mut seen = Vec::new();
        let mut before = None;
        loop {
            let page = s.list(&ListFilter::default(), 7, before, Duration::ZERO);
            seen.extend(page.tasks.into_iter().map(|t| t.task_id));
            create(&mut s, echo(1), Duration::ZERO);
            match page.next_token {
                Some(token) => before = Some(s.decode_token(&token).unwrap()),
                None => break,
            }
        }
        assert_eq!(seen, all);
        assert!(s.decode_token("nonsense").is_none());
        assert!(s.decode_token(&encode_token(10_000)).is_none());
    }

    #[test]
    fn filters_and_latest() {
        let mut s = scheduler(10, 10);
        let a1 = create(
            &mut s,
            CreateTaskRequest::new("@x/a", "1", "main"),
            Duration::ZERO,
        );
        let b = create(
            &mut s,
            CreateTaskRequest::new("@x/b", "1", "main"),
            Duration::ZERO,
        );
        let a2 = create(&mut s, CreateTaskRequest::new("@x/a", "1", "main"), MS);
        let wa = workload_id("@x/a", "1", "main");
        let filter = ListFilter {
            workload_id: Some(wa.clone()),
            ..ListFilter::default()
        };
        let ids: Vec<String> = s
            .list(&filter, 10, None, MS)
            .tasks
            .into_iter()
            .map(|t| t.task_id)
            .collect();
        assert_eq!(ids, [a2.clone(), a1]);
        let filter = ListFilter {
            package_id: Some("@x/b".into()),
            ..ListFilter::default()
        };
        assert_eq!(s.list(&filter, 10, None, MS).tasks[0].task_id, b);
        let shared = ListFilter {
            task_type: Some(TaskType::Shared),
            ..ListFilter::default()
        };
        assert!(s.list(&shared, 10, None, MS).tasks.is_empty());
        let latest = s.latest(&[wa.as_str(), "nope", wa.as_str()], MS);
        assert_eq!(latest.len(), 1);
        assert_eq!(latest[0].task_id, a2);
        assert_eq!(latest[0].workload_id, wa);
    }

    #[test]
    fn logs_appear_as_they_happen_and_page() {
        use cloud_task_core::LogEvent;
        let mut s = scheduler(10, 10);
        let id = create(&mut s, echo(1000).input("logLines", 130), Duration::ZERO);
        // Nothing before the block starts (200 ms), then its first line, then lines as
        // its run goes on.
        assert!(s.logs(&id, 1, Duration::ZERO).unwrap().logs.is_empty());
        assert_eq!(s.logs(&id, 1, 200 * MS).unwrap().logs.len(), 1);
        let midway = s.logs(&id, 1, 700 * MS).unwrap().logs;
        assert!((60..=70).contains(&midway.len()), "{}", midway.len());
        // Ended: the start line, 130 lines, an output per handle, the block's and the
        // session's ends: 135 entries on pages of 100.
        let page1 = s.logs(&id, 1, 5000 * MS).unwrap().logs;
        let page2 = s.logs(&id, 2, 5000 * MS).unwrap().logs;
        assert_eq!(page1.len(), LOG_PAGE_SIZE);
        assert_eq!(page2.len(), 35);
        assert!(s.logs(&id, 3, 5000 * MS).unwrap().logs.is_empty());
        // The same entries whenever they are read.
        assert_eq!(page1[..midway.len()], midway[..]);
        for entry in page1.iter().chain(&page2) {
            assert!(entry.as_map().values().all(Value::is_string), "{entry:?}");
            let event = LogEvent::from_entry(entry.clone());
            assert!(!matches!(event, LogEvent::Other(_)), "{entry:?}");
            assert!(event.block().unwrap().is_root());
        }
        let events: Vec<LogEvent> = page2.into_iter().map(LogEvent::from_entry).collect();
        assert!(events.last().unwrap().ends_the_session());
        assert!(events.iter().any(|e| matches!(
            e,
            LogEvent::BlockOutput { handle, output, .. } if handle == "logLines" && *output == json!(130)
        )));
        assert!(events.iter().any(|e| matches!(
            e,
            LogEvent::BlockFinished { result: Some(r), error: None, .. } if r["durationMs"] == 1000
        )));
        assert!(s.logs("nope", 1, MS).is_none());
    }
}
