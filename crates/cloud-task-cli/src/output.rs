//! Where output goes (stdout for results, stderr for progress and messages), colours, and
//! the human renderings of the API's answers.

use std::ffi::OsStr;
use std::io::{IsTerminal, Write};

use cloud_task_async::{
    ApiKey, BlockInfo, BlockPath, Dashboard, LatestTaskItem, LogEntry, LogEvent, PackageInfo,
    PauseResponse, TaskDetail, TaskListItem, TaskStatus,
};
use serde::Serialize;
use serde_json::Value;

use crate::failure::Failure;

/// The terminal: what to print where, and how.
#[derive(Debug, Clone)]
pub struct Ui {
    /// `--json`: one JSON document on stdout.
    pub json: bool,
    /// `--quiet`: no progress, no messages (errors still go to stderr).
    pub quiet: bool,
    stderr_terminal: bool,
    stdout_color: bool,
    stderr_color: bool,
    /// The API key, scrubbed from every message ([`ApiKey::scrub`]).
    secret: Option<ApiKey>,
}

/// Server-provided text made safe for a terminal: every control character (C0, DEL, C1:
/// escape sequences, carriage returns, backspaces, line breaks) and every bidirectional
/// override is shown as `\u{..}` instead of acting on the terminal. JSON output does not
/// go through here (it is escaped by JSON itself).
///
/// ```ignore
/// assert_eq!(clean("a\u{1b}]0;owned\u{7}b\r"), "a\\u{1b}]0;owned\\u{7}b\\u{d}");
/// ```
pub fn clean(text: &str) -> std::borrow::Cow<'_, str> {
    fn unsafe_char(c: char) -> bool {
        c.is_control()
            || matches!(c, '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
    }
    if !text.chars().any(unsafe_char) {
        return std::borrow::Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 16);
    for c in text.chars() {
        if unsafe_char(c) {
            out.push_str(&format!("\\u{{{:x}}}", u32::from(c)));
        } else {
            out.push(c);
        }
    }
    std::borrow::Cow::Owned(out)
}

/// [`clean`], keeping line breaks: for our own messages, which may span lines, with
/// server text already cleaned inside them.
pub fn clean_lines(text: &str) -> String {
    text.split('\n')
        .map(|line| clean(line).into_owned())
        .collect::<Vec<_>>()
        .join("\n")
}

/// True when colours may be used on a stream: it is a terminal and `NO_COLOR` is unset
/// or empty (<https://no-color.org>).
pub fn color_allowed(terminal: bool, no_color: Option<&OsStr>) -> bool {
    terminal && no_color.is_none_or(OsStr::is_empty)
}

impl Ui {
    /// The terminal as the process sees it (streams, `NO_COLOR`).
    pub fn new(json: bool, quiet: bool, secret: Option<String>) -> Ui {
        let no_color = std::env::var_os("NO_COLOR");
        let stderr_terminal = std::io::stderr().is_terminal();
        Ui {
            json,
            quiet,
            stderr_terminal,
            stdout_color: color_allowed(std::io::stdout().is_terminal(), no_color.as_deref()),
            stderr_color: color_allowed(stderr_terminal, no_color.as_deref()),
            secret: secret.map(|s| ApiKey::new(s.trim())),
        }
    }

    /// No terminal, no colours (unit tests).
    #[cfg(test)]
    pub fn plain(json: bool, quiet: bool, secret: Option<String>) -> Ui {
        Ui {
            json,
            quiet,
            stderr_terminal: false,
            stdout_color: false,
            stderr_color: false,
            secret: secret.map(ApiKey::new),
        }
    }

    /// Progress bars are drawn only on a terminal, and never with `--quiet`.
    pub fn draw_bars(&self) -> bool {
        !self.quiet && self.stderr_terminal
    }

    /// Replaces the API key, wherever it appears, with `***` ([`ApiKey::scrub`]: a key
    /// shorter than [`MIN_SCRUBBED_KEY`](cloud_task_async::core::MIN_SCRUBBED_KEY) is never looked
    /// for, it would mangle ordinary text).
    pub fn scrub(&self, text: &str) -> String {
        match &self.secret {
            Some(key) => key.scrub(text).into_owned(),
            None => text.to_owned(),
        }
    }

    /// A message on stderr, unless `--quiet` (control characters escaped).
    pub fn note(&self, text: &str) {
        if !self.quiet {
            eprintln!("{}", clean_lines(&self.scrub(text)));
        }
    }

    /// `error: ...` (and `hint: ...`) on stderr, even with `--quiet`.
    pub fn error_line(&self, message: &str, hint: Option<&str>) {
        let (error, tip) = if self.stderr_color {
            ("\x1b[1;31merror:\x1b[0m", "\x1b[1;36mhint:\x1b[0m")
        } else {
            ("error:", "hint:")
        };
        let mut text = format!("{error} {}", clean_lines(&self.scrub(message)));
        if let Some(hint) = hint {
            text.push_str(&format!("\n{tip} {}", clean_lines(&self.scrub(hint))));
        }
        eprintln!("{text}");
    }

    /// A line (or lines) on stdout.
    pub fn out(&self, text: &str) -> Result<(), Failure> {
        let mut stdout = std::io::stdout().lock();
        writeln!(stdout, "{text}")
            .and_then(|()| stdout.flush())
            .map_err(Failure::output)
    }

    /// Text on stdout with no line break (pieces of a document written as it comes).
    pub fn out_raw(&self, text: &str) -> Result<(), Failure> {
        let mut stdout = std::io::stdout().lock();
        write!(stdout, "{text}")
            .and_then(|()| stdout.flush())
            .map_err(Failure::output)
    }

    /// A JSON document on stdout, on one line.
    pub fn out_json(&self, value: &impl Serialize) -> Result<(), Failure> {
        let text =
            serde_json::to_string(value).map_err(|e| Failure::output(std::io::Error::other(e)))?;
        self.out(&text)
    }

    /// A status padded to `width`, coloured on a terminal.
    pub fn status(&self, status: &TaskStatus, width: usize) -> String {
        let text = format!("{:width$}", clean(&status.to_string()));
        if !self.stdout_color {
            return text;
        }
        let color = match status {
            TaskStatus::Success => "32",
            TaskStatus::Failed => "31",
            TaskStatus::Running => "33",
            _ => "36",
        };
        format!("\x1b[{color}m{text}\x1b[0m")
    }
}

/// Epoch milliseconds as `2024-05-01T12:00:00Z` (UTC); `-` for 0 (unset).
pub fn utc(ms: i64) -> String {
    if ms == 0 {
        return "-".to_owned();
    }
    cloud_task_async::core::timestamp::to_rfc3339(ms)
}

/// An optional time, `-` when absent.
fn utc_opt(ms: Option<i64>) -> String {
    ms.map_or_else(|| "-".to_owned(), utc)
}

/// A progress figure as `42%`.
pub fn percent(progress: f64) -> String {
    format!("{:.0}%", progress.clamp(0.0, 100.0))
}

const ID: usize = 36;
const STATUS: usize = 10;
const PROGRESS: usize = 8;
const TIME: usize = 20;

/// The header of the `list` table.
pub fn task_header() -> String {
    format!(
        "{:ID$}  {:STATUS$}  {:>PROGRESS$}  {:TIME$}  PACKAGE",
        "TASK ID", "STATUS", "PROGRESS", "CREATED"
    )
}

/// A row of the `list` table.
pub fn task_row(ui: &Ui, task: &TaskListItem) -> String {
    let package = match (&task.package_id, &task.block_name) {
        (Some(package), Some(block)) => format!("{package} {block}"),
        (Some(package), None) => package.clone(),
        (None, _) => task.workload_id.clone(),
    };
    let package = clean(&package);
    format!(
        "{:ID$}  {}  {:>PROGRESS$}  {:TIME$}  {package}",
        clean(&task.task_id),
        ui.status(&task.status, STATUS),
        percent(task.progress),
        utc(task.created_at),
    )
}

/// The `latest` table.
pub fn latest_table(ui: &Ui, items: &[LatestTaskItem]) -> String {
    let mut lines = vec![format!(
        "{:ID$}  {:ID$}  {:STATUS$}  {:>PROGRESS$}  CREATED",
        "TASK ID", "WORKLOAD ID", "STATUS", "PROGRESS"
    )];
    for item in items {
        lines.push(format!(
            "{:ID$}  {:ID$}  {}  {:>PROGRESS$}  {}",
            clean(&item.task_id),
            clean(&item.workload_id),
            ui.status(&item.status, STATUS),
            percent(item.progress),
            utc(item.created_at),
        ));
    }
    lines.join("\n")
}

/// `label  value` lines, the labels aligned; each value is [`clean`]ed, except that a
/// pretty-printed JSON value keeps its line breaks.
fn fields(rows: &[(&str, String)]) -> String {
    let width = rows.iter().map(|(label, _)| label.len()).max().unwrap_or(0);
    rows.iter()
        .map(|(label, value)| format!("{label:width$}  {}", clean_lines(value)))
        .collect::<Vec<_>>()
        .join("\n")
}

/// A task's details, for `get`.
pub fn detail(ui: &Ui, detail: &TaskDetail) -> String {
    let mut rows = vec![
        ("task ID", detail.task_id().to_owned()),
        ("type", detail.task_type().to_string()),
        ("status", ui.status(detail.status(), 0)),
        ("progress", percent(detail.progress())),
    ];
    // The times, result URL and failure every known kind of detail has.
    let (created, start, end, url, failed) = match detail {
        TaskDetail::User(d) => {
            rows.push(("workload", format!("{} {}", d.workload, d.workload_id)));
            (
                d.created_at,
                d.start_time,
                d.end_time,
                &d.result_url,
                &d.failed_message,
            )
        }
        TaskDetail::Shared(d) => {
            rows.push(("package ID", d.package_id.clone().unwrap_or_default()));
            let subscription = d.subscription_id.clone().unwrap_or_default();
            rows.push(("subscription", subscription));
            (
                d.created_at,
                d.start_time,
                d.end_time,
                &d.result_url,
                &d.failed_message,
            )
        }
        TaskDetail::Unknown { raw, .. } => {
            rows.push(("details", pretty(raw)));
            return fields(&rows);
        }
        _ => return fields(&rows),
    };
    rows.push(("created", utc(created)));
    rows.push(("started", utc_opt(start)));
    rows.push(("ended", utc_opt(end)));
    rows.push(("result URL", url.clone().unwrap_or_else(|| "-".into())));
    if let Some(message) = failed {
        rows.push(("failure", message.clone()));
    }
    fields(&rows)
}

/// The dashboard.
pub fn dashboard(dashboard: &Dashboard) -> String {
    let pause = &dashboard.pause;
    let queue = if pause.paused {
        let why = pause
            .pause_type
            .as_ref()
            .map_or_else(String::new, |t| format!(" ({t})"));
        let resume = if pause.can_resume {
            "you can resume it"
        } else {
            "you cannot resume it"
        };
        format!("paused{why}, {resume}")
    } else {
        "running".to_owned()
    };
    let count = &dashboard.count;
    fields(&[
        ("queue", queue),
        (
            "limits",
            format!(
                "{} tasks at once, {} waiting at most",
                dashboard.limits.max_concurrency, dashboard.limits.max_queue_size
            ),
        ),
        (
            "tasks",
            format!(
                "{} queued, {} scheduling, {} scheduled, {} running",
                count.queued, count.scheduling, count.scheduled, count.running
            ),
        ),
    ])
}

/// The answer of pause or resume.
pub fn pause_state(response: &PauseResponse) -> String {
    match &response.pause_type {
        Some(kind) => format!("queue paused ({})", clean(&kind.to_string())),
        None => "queue running".to_owned(),
    }
}

/// One log entry of a page: its time, then the line of its event ([`event_line`]).
pub fn log_line(entry: &LogEntry) -> String {
    timed_event_line(&LogEvent::from_entry(entry.clone()), entry.time_ms())
}

/// An event's line ([`event_line`]) after its time when it has one: the same line for an
/// entry read from a page and for one followed live.
pub fn timed_event_line(event: &LogEvent, time: Option<i64>) -> String {
    let line = event_line(event);
    match time {
        Some(time) => format!("{} {line}", utc(time)),
        None => line,
    }
}

/// Where an event comes from, for people: the nodes of the flows above the block, then
/// the block (`task` for the root block when the entry names none).
fn block_label(block: &BlockPath) -> String {
    let mut parts: Vec<&str> = block.nodes().collect();
    if let Some(path) = block.block_path.as_deref().filter(|p| !p.is_empty()) {
        if parts.last() != Some(&path) {
            parts.push(path);
        }
    } else if parts.is_empty() {
        parts.push("task");
    }
    parts.join("/")
}

/// A JSON value inline: strings as they are, anything else as compact JSON.
fn inline(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// One typed log event, on one line: `[block] line` for a block's output line
/// (`[block!]` on stderr), `[block] handle = value` for an output, `[block] finished` or
/// `[block] failed: error` for an end; an entry of another type as its fields,
/// `key=value`. Server text is cleaned: it cannot drive the terminal.
pub fn event_line(event: &LogEvent) -> String {
    let label = |block: &BlockPath| format!("[{}]", block_label(block));
    let ended = |what: &str, error: &Option<String>| match error {
        Some(error) => format!("{what} failed: {error}"),
        None => format!("{what} finished"),
    };
    let line = match event {
        LogEvent::BlockLog {
            block, log, stdio, ..
        } => {
            let mut tag = label(block);
            if stdio.as_deref() == Some("stderr") {
                tag.insert(tag.len() - 1, '!');
            }
            format!("{tag} {log}")
        }
        LogEvent::BlockOutput {
            block,
            handle,
            output,
            ..
        } => format!("{} {handle} = {}", label(block), inline(output)),
        LogEvent::BlockOutputs { block, outputs, .. } => {
            let pairs: Vec<String> = outputs
                .iter()
                .map(|(handle, value)| format!("{handle} = {}", inline(value)))
                .collect();
            format!("{} {}", label(block), pairs.join(", "))
        }
        LogEvent::BlockFinished { block, error, .. } => {
            format!("{} {}", label(block), ended("block", error))
        }
        LogEvent::SubflowBlockFinished { block, error, .. } => {
            format!("{} {}", label(block), ended("subflow", error))
        }
        LogEvent::SessionFinished { block, error, .. } => {
            format!("{} {}", label(block), ended("session", error))
        }
        LogEvent::Other(entry) => entry
            .as_map()
            .iter()
            .filter(|(key, _)| key.as_str() != "time")
            .map(|(key, value)| format!("{key}={}", inline(value)))
            .collect::<Vec<_>>()
            .join(" "),
        other => format!("{other:?}"),
    };
    clean(&line).into_owned()
}

/// A package's blocks for people: a heading per block, then one line per input (name,
/// type, `required` or its default, description) and the outputs.
pub fn package_info(info: &PackageInfo, blocks: &[BlockInfo]) -> String {
    // Every piece of server text is cleaned on its own: none can start a line.
    let c = |text: &str| clean(text).into_owned();
    let mut lines = vec![format!(
        "{}@{}",
        c(&info.package_name),
        c(&info.package_version)
    )];
    if !info.description.is_empty() {
        lines.push(c(&truncate(&info.description, 200)));
    }
    for block in blocks {
        lines.push(String::new());
        let title = if block.title.is_empty() || block.title == block.block_name {
            String::new()
        } else {
            format!(": {}", c(&truncate(&block.title, 80)))
        };
        lines.push(format!("block {}{title}", c(&block.block_name)));
        if block.inputs.is_empty() {
            lines.push("  no inputs".to_owned());
        }
        // One row per input, every column padded to its widest cell in this block.
        let rows: Vec<[String; 4]> = block
            .inputs
            .iter()
            .map(|input| {
                let need = match input.default_value() {
                    _ if !input.is_optional() => "required".to_owned(),
                    Some(value) => format!("default {}", truncate(&value.to_string(), 40)),
                    None => "optional".to_owned(),
                };
                let mut rest = Vec::new();
                if let Some(values) = input.json_schema.get("enum").and_then(Value::as_array) {
                    let values: Vec<String> = values.iter().map(Value::to_string).collect();
                    rest.push(format!("one of {}", c(&truncate(&values.join(", "), 60))));
                }
                if !input.description.is_empty() {
                    rest.push(c(&truncate(&input.description, 80)));
                }
                [
                    c(&input.handle),
                    c(&truncate(&input.type_name(), 40)),
                    c(&need),
                    rest.join("  "),
                ]
            })
            .collect();
        let width = |column: usize| {
            rows.iter()
                .map(|r| r[column].chars().count())
                .max()
                .unwrap_or(0)
        };
        let (w0, w1, w2) = (width(0), width(1), width(2));
        for [handle, kind, need, rest] in &rows {
            let line = format!("  {handle:w0$}  {kind:w1$}  {need:w2$}  {rest}");
            lines.push(line.trim_end().to_owned());
        }
        if !block.outputs.is_empty() {
            let outputs: Vec<String> = block
                .outputs
                .iter()
                .map(|h| format!("{} ({})", c(&h.handle), c(&h.type_name())))
                .collect();
            lines.push(format!("  outputs: {}", outputs.join(", ")));
        }
    }
    lines.join("\n")
}

/// `text` cut to `max` characters.
fn truncate(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((end, _)) => format!("{}…", &text[..end]),
        None => text.to_owned(),
    }
}

/// Any JSON, indented.
pub fn pretty(value: &Value) -> String {
    serde_json::to_string_pretty(value).unwrap_or_else(|_| value.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn colours_need_a_terminal_and_no_no_color() {
        assert!(color_allowed(true, None));
        assert!(color_allowed(true, Some(OsStr::new(""))));
        assert!(!color_allowed(true, Some(OsStr::new("1"))));
        assert!(!color_allowed(false, None));
    }

    #[test]
    fn times_are_utc() {
        assert_eq!(utc(0), "-");
        assert_eq!(utc(1), "1970-01-01T00:00:00Z");
        assert_eq!(utc(951_782_400_000), "2000-02-29T00:00:00Z");
        assert_eq!(utc(1_714_564_800_123), "2024-05-01T12:00:00Z");
        assert_eq!(utc(-1000), "1969-12-31T23:59:59Z");
        assert_eq!(utc(4_102_444_799_000), "2099-12-31T23:59:59Z");
    }

    #[test]
    fn rows_line_up_under_the_header() {
        let ui = Ui::plain(false, false, None);
        let mut task =
            TaskListItem::new("0190f2a4-0000-7000-8000-000000000001", TaskStatus::Running);
        task.progress = 42.4;
        task.created_at = 1_714_564_800_000;
        task.package_id = Some("@oomol/echo".into());
        task.block_name = Some("main".into());
        let header = task_header();
        let row = task_row(&ui, &task);
        assert_eq!(header.find("STATUS"), row.find("running"));
        assert_eq!(header.find("PACKAGE"), row.find("@oomol/echo main"));
        assert!(row.contains("     42%  2024-05-01T12:00:00Z"), "{row}");
    }

    #[test]
    fn log_lines_say_which_block_and_what_happened() {
        let entry = |value: Value| -> LogEntry { serde_json::from_value(value).unwrap() };
        let line = entry(
            json!({"type": "BlockLog", "stacks": "[]", "block_path": "main",
            "log": "hello", "stdio": "stdout", "time": "1714564800000"}),
        );
        assert_eq!(log_line(&line), "2024-05-01T12:00:00Z [main] hello");
        let stderr =
            entry(json!({"type": "BlockLog", "stacks": "[]", "log": "oops", "stdio": "stderr"}));
        assert_eq!(log_line(&stderr), "[task!] oops");
        let nested = entry(
            json!({"type": "BlockOutput", "handle": "text", "output": "{\"a\":1}",
            "block_path": "ocr",
            "stacks": "[{\"flow_job_id\":\"j\",\"flow\":\"f\",\"node_id\":\"extract\"}]"}),
        );
        assert_eq!(log_line(&nested), "[extract/ocr] text = {\"a\":1}");
        let failed = entry(json!({"type": "SessionFinished", "stacks": "[]", "error": "boom"}));
        assert_eq!(log_line(&failed), "[task] session failed: boom");
        let finished = entry(json!({"type": "BlockFinished", "stacks": "[]", "result": "{}"}));
        assert_eq!(log_line(&finished), "[task] block finished");
        let other = entry(json!({"event": "started", "level": "info", "time": "1714564800000"}));
        assert_eq!(
            log_line(&other),
            "2024-05-01T12:00:00Z event=started level=info"
        );
        let hostile = entry(json!({"type": "BlockLog", "stacks": "[]", "log": "a\u{1b}[2Jb"}));
        assert!(!log_line(&hostile).chars().any(char::is_control));
    }

    #[test]
    fn server_text_cannot_drive_the_terminal() {
        let hostile = "t-1\u{1b}]0;pwned\u{7}\u{1b}[2J\r\u{8}\u{9b}31m\u{202e}x\ny";
        let cleaned = clean(hostile);
        assert!(!cleaned.chars().any(char::is_control), "{cleaned:?}");
        assert_eq!(
            cleaned,
            "t-1\\u{1b}]0;pwned\\u{7}\\u{1b}[2J\\u{d}\\u{8}\\u{9b}31m\\u{202e}x\\u{a}y"
        );
        assert!(matches!(
            clean("plain text, ünïcode 中文"),
            std::borrow::Cow::Borrowed(_)
        ));
        let ui = Ui::plain(false, false, None);
        let mut task = TaskListItem::new(hostile, TaskStatus::Unknown("run\u{1b}[5m".into()));
        task.workload_id = "\u{1b}[31mfake".into();
        let row = task_row(&ui, &task);
        assert!(!row.chars().any(char::is_control), "{row:?}");
        let entry: LogEntry =
            serde_json::from_value(json!({"message": "done\r\u{1b}[1Aerased"})).unwrap();
        assert!(!log_line(&entry).chars().any(char::is_control));
    }

    #[test]
    fn only_keys_long_enough_to_be_keys_are_scrubbed() {
        let short = Ui::plain(false, false, Some("k".into()));
        assert_eq!(short.scrub("Task failed"), "Task failed");
        let key = Ui::plain(false, false, Some("sk-0123456789".into()));
        assert_eq!(key.scrub("bad key sk-0123456789!"), "bad key ***!");
    }

    #[test]
    fn pause_answers_read_as_sentences() {
        let paused: PauseResponse = serde_json::from_value(json!({"pauseType": "user"})).unwrap();
        assert_eq!(pause_state(&paused), "queue paused (user)");
        let running: PauseResponse = serde_json::from_value(json!({"pauseType": null})).unwrap();
        assert_eq!(pause_state(&running), "queue running");
    }
}
