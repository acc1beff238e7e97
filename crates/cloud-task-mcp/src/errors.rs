//! Errors an agent can act on: each failure of a tool becomes a tool error (`isError`
//! with one text block) that says what happened, what was and was not done, and what to
//! call next. Protocol errors are left for requests that cannot be routed at all.

use std::fmt::Write as _;

use cloud_task_async::Error;
use rmcp::model::{ContentBlock, IntoContents};

/// A tool's failure, as the agent reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ToolError {
    message: String,
}

impl ToolError {
    /// A failure in these words.
    pub fn new(message: impl Into<String>) -> Self {
        ToolError {
            message: message.into(),
        }
    }

    /// The words.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// An SDK error of a call that created nothing, ran nothing or only read.
    pub fn from_sdk(error: &Error) -> Self {
        ToolError::new(describe(error, None))
    }

    /// An SDK error met while waiting for `task_id`, whose last log lines were `logs`.
    pub fn while_waiting(error: &Error, task_id: &str, logs: &[String]) -> Self {
        let mut message = describe(error, Some(task_id));
        if !logs.is_empty() && matches!(error, Error::TaskFailed(_)) {
            message.push_str("\nIts last log lines:");
            for line in logs {
                let _ = write!(message, "\n  {line}");
            }
        }
        ToolError::new(message)
    }

    /// An SDK error of a create: when the request may have reached the server
    /// ([`Error::create_outcome_unknown`]), whether a task was created is unknown, and
    /// sending it again could run it twice.
    pub fn from_create(error: &Error) -> Self {
        if error.create_outcome_unknown() {
            return ToolError::new(format!(
                "Whether the task was created is unknown ({error}). Do not create it again \
                 blindly: list_tasks (newest first) shows whether it exists."
            ));
        }
        ToolError::from_sdk(error)
    }

    /// A wait window that ended before the task did.
    pub fn window_ended(task_id: &str, window_seconds: u64, status: &str, progress: f64) -> Self {
        ToolError::new(format!(
            "Task {task_id} is still {status} ({progress:.0}%) after the {window_seconds} s wait \
             window; it keeps running and was not created again. To continue, call wait_task \
             with {{\"taskId\": \"{task_id}\"}} (and waitSeconds up to 3600), or get_task_result \
             later."
        ))
    }

    /// A wait the client cancelled: the task keeps running.
    pub fn cancelled(task_id: &str) -> Self {
        ToolError::new(format!(
            "The wait for task {task_id} was cancelled; the task itself keeps running. Call \
             wait_task with {{\"taskId\": \"{task_id}\"}} to wait again."
        ))
    }
}

impl std::fmt::Display for ToolError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl IntoContents for ToolError {
    fn into_contents(self) -> Vec<ContentBlock> {
        vec![ContentBlock::text(self.message)]
    }
}

/// The words for `error`; `task_id` when it happened while waiting for that task.
fn describe(error: &Error, task_id: Option<&str>) -> String {
    if error.is_insufficient_quota() {
        let what = match task_id {
            Some(id) => format!("Task {id} could not run"),
            None => "No task was created".to_owned(),
        };
        return format!(
            "{what}: the account's quota or credit is exhausted ({error}). Add credit or wait \
             for the quota to renew at https://oomol.com, then call again; get_dashboard shows \
             the account's limits."
        );
    }
    match error {
        Error::TaskFailed(failed) => format!(
            "Task {} failed: {}. The task is over and is not retried; running it again creates \
             a new task (get_task_logs shows its whole log).",
            failed.task_id,
            failed
                .message
                .strip_prefix("Task failed: ")
                .unwrap_or(&failed.message)
        ),
        Error::InvalidInputs(invalid) => {
            let mut message = format!(
                "The inputs do not fit block {} of {}@{}; nothing was created:",
                invalid.block, invalid.package, invalid.version
            );
            for problem in &invalid.problems {
                let _ = write!(message, "\n- {problem}");
            }
            if invalid.more > 0 {
                let _ = write!(message, "\n- and {} more", invalid.more);
            }
            message.push_str(
                "\nFix these inputs and call again (get_package_info shows the block's input \
                 schema).",
            );
            message
        }
        Error::InvalidInput(_) => {
            format!("{error}. Nothing was sent: correct it and call again.")
        }
        Error::Api(api) if api.status.as_u16() == 401 || api.status.as_u16() == 403 => format!(
            "The Cloud Task API refused the API key ({error}). Set a valid key in OOMOL_API_KEY \
             for this server and restart it."
        ),
        Error::Api(api) if api.status.as_u16() == 404 => match task_id {
            Some(id) => format!("There is no task {id} ({error}): check the ID."),
            None => format!("Not found ({error}): check the names and IDs given."),
        },
        Error::Api(api) if api.status.as_u16() == 429 => {
            let after = api
                .retry_after
                .map(|d| format!(" after {} s", d.as_secs().max(1)))
                .unwrap_or_default();
            format!(
                "The Cloud Task API is rate limiting this account ({error}). Call again{after}."
            )
        }
        Error::Cancelled(_) => match task_id {
            Some(id) => ToolError::cancelled(id).message,
            None => "Cancelled; nothing more was sent.".to_owned(),
        },
        _ if error.is_retryable() => {
            let state = match task_id {
                Some(id) => format!(" Task {id} keeps running: wait_task continues the wait."),
                None => String::new(),
            };
            format!(
                "The Cloud Task API could not be reached or answered an error ({error}); try \
                 again.{state}"
            )
        }
        _ => match task_id {
            Some(id) => format!("{error} (task {id})"),
            None => error.to_string(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cloud_task_async::TransportErrorKind;

    fn transport(kind: TransportErrorKind) -> Error {
        Error::transport(kind, "connection reset")
    }

    #[test]
    fn a_create_that_may_have_been_sent_is_not_to_be_sent_again() {
        for kind in [
            TransportErrorKind::Io,
            TransportErrorKind::Timeout,
            TransportErrorKind::Other,
        ] {
            let message = ToolError::from_create(&transport(kind)).message;
            assert!(message.contains("is unknown"), "{message}");
            assert!(message.contains("list_tasks"), "{message}");
        }
        // Never connected: nothing was sent, so trying again is safe.
        let refused = ToolError::from_create(&transport(TransportErrorKind::Connect)).message;
        assert!(!refused.contains("is unknown"), "{refused}");
        assert!(refused.contains("try again"), "{refused}");
    }

    #[test]
    fn a_wait_that_failed_on_the_network_says_the_task_keeps_running() {
        let message =
            ToolError::while_waiting(&transport(TransportErrorKind::Io), "t-1", &[]).message;
        assert!(message.contains("Task t-1 keeps running"), "{message}");
        assert!(message.contains("wait_task"), "{message}");
    }

    #[test]
    fn log_lines_are_quoted_for_failures_only() {
        let logs = vec!["line 1".to_owned()];
        let failed = ToolError::while_waiting(&transport(TransportErrorKind::Io), "t-1", &logs);
        assert!(!failed.message.contains("line 1"));
        let window = ToolError::window_ended("t-1", 50, "running", 42.4);
        assert!(
            window
                .message
                .contains("still running (42%) after the 50 s")
        );
        assert!(window.message.contains(r#"{"taskId": "t-1"}"#));
    }
}
