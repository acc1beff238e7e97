//! Why a command failed: its exit code, its one-line message, a hint, and the JSON error
//! document printed with `--json`.

use cloud_task_async::Error;
use cloud_task_async::core::Limit;
use serde_json::{Map, Value, json};

use crate::output::Ui;

/// The exit codes other than 0.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Exit {
    /// The task failed.
    TaskFailed = 1,
    /// Bad arguments or configuration, refused before anything was sent.
    Usage = 2,
    /// The API answered an error, or the network failed.
    Api = 3,
    /// The wait timed out (the task keeps running).
    Timeout = 4,
    /// Interrupted by Ctrl-C (the task keeps running).
    Interrupted = 130,
}

/// A failed command (boxed: it travels in every `Result` of the commands).
#[derive(Debug)]
pub struct Failure(Box<Info>);

/// What a [`Failure`] says.
#[derive(Debug)]
pub struct Info {
    exit: Exit,
    /// A short machine-readable name: `usage`, `io`, `api`, `network`, `decode`, `upload`,
    /// `task_failed`, `timeout`, `interrupted`, `output`.
    kind: &'static str,
    message: String,
    hint: Option<String>,
    task_id: Option<String>,
    status: Option<u16>,
    code: Option<String>,
    resume: Option<String>,
    /// Stdout already holds the command's JSON document: print no error document.
    printed: bool,
    /// The problems of the inputs, one per entry (`invalid_inputs`).
    problems: Vec<Value>,
    /// Nothing more to say (stdout was closed by its reader).
    silent: bool,
}

impl std::ops::Deref for Failure {
    type Target = Info;

    fn deref(&self) -> &Info {
        &self.0
    }
}

impl std::ops::DerefMut for Failure {
    fn deref_mut(&mut self) -> &mut Info {
        &mut self.0
    }
}

impl Failure {
    fn new(exit: Exit, kind: &'static str, message: impl Into<String>) -> Self {
        Failure(Box::new(Info {
            exit,
            kind,
            message: message.into(),
            hint: None,
            task_id: None,
            status: None,
            code: None,
            resume: None,
            printed: false,
            silent: false,
            problems: Vec::new(),
        }))
    }

    /// Bad arguments or configuration (exit 2).
    pub fn usage(message: impl Into<String>) -> Self {
        Failure::new(Exit::Usage, "usage", message)
    }

    /// No API key was found (exit 2): `sources` says where it looked; the hint how to give
    /// one.
    pub fn missing_api_key(sources: &str) -> Self {
        Failure::usage(format!("no API key ({sources})"))
            .with_hint("run `cloud-task login`, pass --api-key KEY or set OOMOL_API_KEY")
    }

    /// Something the SDK should never do (exit 3).
    pub fn unexpected(message: impl Into<String>) -> Self {
        Failure::new(Exit::Api, "error", message)
    }

    /// Ctrl-C (exit 130).
    pub fn interrupted() -> Self {
        Failure::new(Exit::Interrupted, "interrupted", "interrupted")
    }

    /// A batch in which some inputs did not succeed (exit 1); their lines say why.
    pub fn batch_incomplete(counts: &cloud_task_async::BatchCounts) -> Self {
        Failure::new(
            Exit::TaskFailed,
            "batch_incomplete",
            format!(
                "{} of {} inputs did not succeed ({} failed or not created, {} unknown)",
                counts.total - counts.done,
                counts.total,
                counts.failed,
                counts.unknown
            ),
        )
        .already_printed()
    }

    /// A second Ctrl-C while a task was being created (exit 130): the task may exist.
    pub fn interrupted_creation() -> Self {
        Failure::new(
            Exit::Interrupted,
            "interrupted",
            "interrupted while the task was being created: it may have been created",
        )
        .with_hint("`cloud-task list --size 5` shows the newest tasks")
    }

    /// Writing stdout failed. A closed pipe (`cloud-task list --all | head`) ends the
    /// command quietly and successfully, as it does for other tools.
    pub fn output(error: std::io::Error) -> Self {
        let mut failure = Failure::new(
            Exit::Api,
            "output",
            format!("cannot write to stdout: {error}"),
        );
        failure.silent = error.kind() == std::io::ErrorKind::BrokenPipe;
        failure
    }

    /// The failure of an upload. A source that ends before the size it had when the
    /// upload began got shorter while its parts were sent: that is a failed upload (exit
    /// 3), not a usage error, since something was sent.
    pub fn upload(error: Error) -> Self {
        match &error {
            Error::Io(io) if io.source.kind() == std::io::ErrorKind::UnexpectedEof => {
                Failure::new(Exit::Api, "upload", error.to_string()).with_hint(
                    "the file got shorter while it was uploaded: upload it again once it stops changing",
                )
            }
            _ => Failure::from(error),
        }
    }

    /// Adds a hint (printed on its own line after the error).
    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    /// Names the task the failure is about.
    pub fn with_task(mut self, task_id: &str) -> Self {
        if self.task_id.is_none() {
            self.task_id = Some(task_id.to_owned());
        }
        if self.exit == Exit::Interrupted {
            self.message = format!("interrupted; task {task_id} keeps running on the server");
        }
        self
    }

    /// For a timeout or an interruption (the task keeps running): the command that
    /// resumes waiting, shown as the hint.
    pub fn with_resume(mut self, command: String) -> Self {
        if matches!(self.exit, Exit::Timeout | Exit::Interrupted) {
            self.hint = Some(format!("resume waiting with: {command}"));
            self.resume = Some(command);
        }
        self
    }

    /// Stdout already holds this command's JSON document.
    pub fn already_printed(mut self) -> Self {
        self.printed = true;
        self
    }

    /// The exit code.
    #[cfg(test)]
    pub fn exit(&self) -> Exit {
        self.exit
    }

    /// The process exit status: 0 for a quiet end on a closed pipe.
    pub fn exit_status(&self) -> u8 {
        if self.silent { 0 } else { self.exit as u8 }
    }

    /// The HTTP status of an API failure.
    pub fn status(&self) -> Option<u16> {
        self.status
    }

    /// The short machine-readable name of the failure (`network`, `api`, ...).
    pub fn kind(&self) -> &'static str {
        self.kind
    }

    /// The one-line message (without `error: `).
    #[cfg(test)]
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The JSON error document: `{"error": {"kind", "message", "exitCode", ...}}`.
    pub fn to_json(&self, ui: &Ui) -> Value {
        let mut error = Map::new();
        error.insert("kind".into(), self.kind.into());
        error.insert("message".into(), ui.scrub(&self.message).into());
        error.insert("exitCode".into(), (self.exit as u8).into());
        let optional = [
            ("hint", self.hint.as_ref().map(|h| ui.scrub(h).into())),
            ("taskID", self.task_id.clone().map(Value::from)),
            ("status", self.status.map(Value::from)),
            ("code", self.code.clone().map(Value::from)),
            ("resume", self.resume.clone().map(Value::from)),
        ];
        for (key, value) in optional {
            if let Some(value) = value {
                error.insert(key.into(), value);
            }
        }
        if !self.problems.is_empty() {
            error.insert("problems".into(), Value::Array(self.problems.clone()));
        }
        json!({ "error": error })
    }

    /// Prints the failure: `error: ...` (and `hint: ...`) on stderr, always, and with
    /// `--json` the error document on stdout, unless stdout already holds one.
    pub fn report(&self, ui: &Ui) {
        if self.silent {
            return;
        }
        if ui.json && !self.printed {
            // Stdout may be gone; stderr still says what happened.
            let _ = ui.out_json(&self.to_json(ui));
        }
        ui.error_line(&self.message, self.hint.as_deref());
    }
}

impl From<Error> for Failure {
    fn from(error: Error) -> Self {
        // Server text never drives the terminal, nor starts a line of its own.
        let text = crate::output::clean(&error.reason()).into_owned();
        match error {
            Error::InvalidInput(e) => Failure::usage(e.to_string()),
            Error::Transport(_) => Failure::new(Exit::Api, "network", text)
                .with_hint("check your network and the base URL (--base-url or OOMOL_BASE_URL)"),
            Error::Api(api) => {
                let status = api.status.as_u16();
                let hint = match status {
                    401 | 403 => Some("check the API key (--api-key or OOMOL_API_KEY)"),
                    404 => Some("check the ID"),
                    429 => Some("the server is busy or the queue is full: try again later"),
                    _ if api.is_quota() => Some("the account has no quota or credit left"),
                    _ => None,
                };
                // The official text, and the status in the CLI's own words.
                let message =
                    crate::output::clean(&format!("{api} (HTTP {status})")).into_owned();
                let mut failure = Failure::new(Exit::Api, "api", message);
                failure.status = Some(status);
                failure.code = api.code.clone();
                failure.hint = hint.map(str::to_owned);
                failure
            }
            Error::Decode(decode) => {
                let mut failure = Failure::new(Exit::Api, "decode", text);
                failure.status = Some(decode.status.as_u16());
                failure
            }
            Error::TaskFailed(failed) => {
                let mut failure = Failure::new(
                    Exit::TaskFailed,
                    "task_failed",
                    crate::output::clean(&format!("{} (task {})", failed.message, failed.task_id))
                        .into_owned(),
                );
                failure.task_id = Some(failed.task_id.clone());
                failure.status = failed.status_code.map(|s| s.as_u16());
                failure.code = failed.code.map(|c| c.as_str().to_owned());
                if failed.code.is_some() {
                    failure.hint = Some("the account has no quota or credit left".into());
                }
                failure
            }
            // A wait that is about no task (a sign-in): the SDK's message says what timed out.
            Error::Timeout(timeout) if timeout.task_id.is_empty() => Failure::new(
                Exit::Timeout,
                "timeout",
                crate::output::clean(&timeout.message),
            ),
            Error::Timeout(timeout) => {
                // In the CLI's own words: how long it waited, which task, why the last poll
                // failed (the SDK's message is the official one, with minutes rounded).
                let mut message = format!(
                    "stopped waiting after {}: task {} has not finished and keeps running on the server",
                    crate::duration::format_duration(timeout.timeout),
                    crate::output::clean(&timeout.task_id)
                );
                if let Some(last) = &timeout.last_error {
                    message.push_str("; the last poll failed: ");
                    message.push_str(&crate::output::clean(&last.reason()));
                }
                let mut failure = Failure::new(Exit::Timeout, "timeout", message);
                failure.task_id = Some(timeout.task_id.clone());
                failure
            }
            Error::Upload(upload) => {
                let mut failure = Failure::new(Exit::Api, "upload", text);
                failure.status = upload.status.map(|s| s.as_u16());
                failure.code = Some(upload.code.as_str().to_owned());
                failure
            }
            Error::Io(_) => Failure::new(Exit::Usage, "io", text),
            Error::Cancelled(_) => Failure::interrupted(),
            Error::Limit(limit) if limit.limit == Limit::DownloadSize => {
                Failure::new(Exit::Api, "limit", text).with_hint(
                    "the file is larger than `download` writes unless told: if it is expected, pass a larger --max-size (e.g. --max-size 64GiB)",
                )
            }
            Error::Limit(_) => Failure::new(Exit::Api, "limit", text).with_hint(
                "the server sent more than this client accepts; if it is expected, raise the limit in your own client",
            ),
            Error::Redirect(redirect) => {
                let mut failure = Failure::new(Exit::Api, "redirect", text)
                    .with_hint("check the base URL: credentials are never sent to another host");
                failure.status = Some(redirect.status.as_u16());
                failure
            }
            Error::Protocol(_) => Failure::new(Exit::Api, "protocol", text),
            Error::InvalidInputs(e) => {
                // One line per problem, after the summary: who reads it fixes them all.
                let mut message = format!(
                    "the inputs do not fit block {} of {}@{}:",
                    e.block, e.package, e.version
                );
                for problem in &e.problems {
                    message.push_str("\n  ");
                    message.push_str(&crate::output::clean(&problem.to_string()));
                }
                if e.more > 0 {
                    message.push_str(&format!("\n  and {} more", e.more));
                }
                let mut failure = Failure::new(Exit::Usage, "invalid_inputs", message).with_hint(
                    format!(
                        "`cloud-task info {} {} {}` lists the block's inputs; --no-check creates the task without checking",
                        crate::output::clean(&e.package),
                        crate::output::clean(&e.version),
                        crate::output::clean(&e.block)
                    ),
                );
                failure.problems = e
                    .problems
                    .iter()
                    .map(|p| {
                        json!({"handle": p.handle, "pointer": p.pointer,
                               "kind": p.kind.as_str(), "message": p.message})
                    })
                    .collect();
                failure
            }
            Error::NoResultFile(e) => {
                let hint = format!(
                    "its outputs are what `cloud-task result {}` shows",
                    crate::output::clean(&e.task_id)
                );
                let mut failure = Failure::new(Exit::Api, "no_result_file", text).with_hint(hint);
                failure.task_id = Some(e.task_id.clone());
                failure
            }
            _ => Failure::new(Exit::Api, "error", text),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cloud_task_async::core::{TaskFailedError, TimeoutError};
    use std::time::Duration;

    fn ui(secret: Option<&str>) -> Ui {
        Ui::plain(true, false, secret.map(str::to_owned))
    }

    #[test]
    fn a_file_that_shrinks_during_an_upload_is_a_failed_upload() {
        let shrank = || {
            Error::io(
                "reading /tmp/a.bin",
                std::io::Error::from(std::io::ErrorKind::UnexpectedEof),
            )
        };
        let failure = Failure::upload(shrank());
        assert_eq!(failure.exit(), Exit::Api);
        assert!(
            failure.message().contains("/tmp/a.bin"),
            "{}",
            failure.message()
        );
        // Elsewhere, and for a file that cannot be opened, a local error is a usage error.
        assert_eq!(Failure::from(shrank()).exit(), Exit::Usage);
        let missing = Error::io(
            "opening /tmp/none",
            std::io::Error::from(std::io::ErrorKind::NotFound),
        );
        assert_eq!(Failure::upload(missing).exit(), Exit::Usage);
    }

    #[test]
    fn sdk_errors_get_their_exit_codes() {
        let cases: Vec<(Error, Exit, &str)> = vec![
            (
                Error::invalid_input("size", "size must be an integer between 1 and 100"),
                Exit::Usage,
                "usage",
            ),
            (
                Error::TaskFailed(Box::new(TaskFailedError::new("t-1", Some("boom"), None))),
                Exit::TaskFailed,
                "task_failed",
            ),
            (
                Error::Timeout(Box::new(TimeoutError::new(
                    "t-1",
                    Duration::from_secs(60),
                    None,
                ))),
                Exit::Timeout,
                "timeout",
            ),
            (
                Error::transport(
                    cloud_task_async::TransportErrorKind::Connect,
                    "connection refused",
                ),
                Exit::Api,
                "network",
            ),
            (
                Error::io(
                    "reading a.txt",
                    std::io::Error::from(std::io::ErrorKind::NotFound),
                ),
                Exit::Usage,
                "io",
            ),
            (Error::cancelled(), Exit::Interrupted, "interrupted"),
        ];
        for (error, exit, kind) in cases {
            let failure = Failure::from(error);
            assert_eq!((failure.exit(), failure.kind), (exit, kind), "{failure:?}");
        }
    }

    #[test]
    fn a_quota_failure_is_explained() {
        let failure = Failure::from(Error::TaskFailed(Box::new(TaskFailedError::new(
            "t-9",
            Some("Insufficient quota"),
            None,
        ))));
        let json = failure.to_json(&ui(None));
        assert_eq!(json["error"]["code"], "INSUFFICIENT_QUOTA");
        assert_eq!(json["error"]["taskID"], "t-9");
        assert_eq!(json["error"]["exitCode"], 1);
        assert!(json["error"]["hint"].as_str().unwrap().contains("quota"));
    }

    #[test]
    fn resume_applies_to_timeouts_and_interruptions_only() {
        let command = "cloud-task wait t-1".to_owned();
        let interrupted = Failure::interrupted()
            .with_task("t-1")
            .with_resume(command.clone());
        assert_eq!(
            interrupted.message,
            "interrupted; task t-1 keeps running on the server"
        );
        assert_eq!(
            interrupted.hint.as_deref(),
            Some("resume waiting with: cloud-task wait t-1")
        );
        let json = interrupted.to_json(&ui(None));
        assert_eq!(json["error"]["resume"], "cloud-task wait t-1");
        assert_eq!(json["error"]["exitCode"], 130);
        let usage = Failure::usage("bad").with_resume(command);
        assert!(usage.resume.is_none() && usage.hint.is_none());
    }

    #[test]
    fn the_key_is_scrubbed_from_messages() {
        let failure = Failure::usage("the server said: bad key sk-secret-123")
            .with_hint("sk-secret-123 again");
        let text = failure.to_json(&ui(Some("sk-secret-123"))).to_string();
        assert!(!text.contains("sk-secret-123"), "{text}");
        assert!(text.contains("bad key ***"), "{text}");
    }

    #[test]
    fn a_closed_pipe_ends_quietly() {
        let failure = Failure::output(std::io::Error::from(std::io::ErrorKind::BrokenPipe));
        assert_eq!(failure.exit_status(), 0);
        let failure = Failure::output(std::io::Error::other("disk full"));
        assert_eq!(failure.exit_status(), 3);
    }
}
