//! The block catalogue: what a task does, chosen by the request's package name.

use std::time::Duration;

use cloud_task_core::CreateTaskRequest;
use serde_json::{Map, Value};

/// The package whose tasks succeed with their inputs as the result.
pub const ECHO: &str = "@oomol/echo";
/// The package whose tasks fail with `inputValues.message`.
pub const FAIL: &str = "@oomol/fail";
/// The package whose tasks fail with `Insufficient quota`.
pub const QUOTA: &str = "@oomol/quota";
/// The package whose tasks run for `inputValues.durationMs` (default 10 s) and succeed.
pub const SLOW: &str = "@oomol/slow";

/// The failure message of `@oomol/fail` without `inputValues.message`.
pub const DEFAULT_FAIL_MESSAGE: &str = "The block raised an error";
/// The failure message of `@oomol/quota`.
pub const QUOTA_MESSAGE: &str = "Insufficient quota";

/// How long a task is `scheduling`, before scaling.
pub const SCHEDULING: Duration = Duration::from_millis(100);
/// How long a task is `scheduled`, before scaling.
pub const SCHEDULED: Duration = Duration::from_millis(100);
/// How long a task runs without `inputValues.durationMs`, before scaling.
pub const DEFAULT_RUN: Duration = Duration::from_millis(800);
/// How long `@oomol/slow` runs without `inputValues.durationMs`, before scaling.
pub const DEFAULT_SLOW_RUN: Duration = Duration::from_secs(10);
/// The longest run `inputValues.durationMs` may ask for.
pub const MAX_RUN: Duration = Duration::from_secs(7 * 24 * 3600);
/// The most extra log lines `inputValues.logLines` may ask for.
pub const MAX_LOG_LINES: u64 = 10_000;

/// How a task ends.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Outcome {
    /// Success with this `resultData`.
    Success(Value),
    /// Failure with this message.
    Failure(String),
}

/// What a task will do, decided when it is created.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Plan {
    /// The running time, before scaling.
    pub(crate) run: Duration,
    /// How it ends.
    pub(crate) outcome: Outcome,
    /// Extra `line N` log entries written while it runs.
    pub(crate) log_lines: u64,
}

/// Decides what a task does; refuses bad catalogue inputs with a message naming them.
pub(crate) fn plan(request: &CreateTaskRequest) -> Result<Plan, String> {
    let empty = Map::new();
    let inputs = request.input_values.as_ref().unwrap_or(&empty);
    let default_run = if request.package_name == SLOW {
        DEFAULT_SLOW_RUN
    } else {
        DEFAULT_RUN
    };
    let run = match inputs.get("durationMs") {
        None | Some(Value::Null) => default_run,
        Some(value) => duration_ms(value)?,
    };
    let log_lines = match inputs.get("logLines") {
        None | Some(Value::Null) => 0,
        Some(value) => value
            .as_u64()
            .filter(|n| *n <= MAX_LOG_LINES)
            .ok_or_else(|| {
                format!("inputValues.logLines must be an integer from 0 to {MAX_LOG_LINES}")
            })?,
    };
    let outcome = match request.package_name.as_str() {
        FAIL => Outcome::Failure(match inputs.get("message") {
            None | Some(Value::Null) => DEFAULT_FAIL_MESSAGE.to_owned(),
            Some(Value::String(s)) => s.clone(),
            Some(other) => other.to_string(),
        }),
        QUOTA => Outcome::Failure(QUOTA_MESSAGE.to_owned()),
        _ => Outcome::Success(Value::Array(vec![Value::Object(inputs.clone())])),
    };
    Ok(Plan {
        run,
        outcome,
        log_lines,
    })
}

fn duration_ms(value: &Value) -> Result<Duration, String> {
    let ms = value
        .as_f64()
        .filter(|ms| ms.is_finite() && *ms >= 0.0)
        .ok_or_else(|| "inputValues.durationMs must be a non-negative number".to_owned())?;
    let run = Duration::try_from_secs_f64(ms / 1000.0).unwrap_or(Duration::MAX);
    if run > MAX_RUN {
        return Err(format!(
            "inputValues.durationMs must be at most {} (7 days)",
            MAX_RUN.as_millis()
        ));
    }
    Ok(run)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(package: &str) -> CreateTaskRequest {
        CreateTaskRequest::new(package, "1.0.0", "main")
    }

    #[test]
    fn echo_and_unknown_packages_return_their_inputs() {
        let plan = plan(&request(ECHO).input("text", "hi")).unwrap();
        assert_eq!(
            plan.outcome,
            Outcome::Success(serde_json::json!([{"text": "hi"}]))
        );
        assert_eq!(plan.run, DEFAULT_RUN);
        let plan = super::plan(&request("@acme/whatever")).unwrap();
        assert_eq!(plan.outcome, Outcome::Success(serde_json::json!([{}])));
    }

    #[test]
    fn failures_and_their_messages() {
        let with_message = plan(&request(FAIL).input("message", "boom")).unwrap();
        assert_eq!(with_message.outcome, Outcome::Failure("boom".into()));
        let default = plan(&request(FAIL)).unwrap();
        assert_eq!(
            default.outcome,
            Outcome::Failure(DEFAULT_FAIL_MESSAGE.into())
        );
        let number = plan(&request(FAIL).input("message", 42)).unwrap();
        assert_eq!(number.outcome, Outcome::Failure("42".into()));
        let quota = plan(&request(QUOTA)).unwrap();
        assert_eq!(quota.outcome, Outcome::Failure(QUOTA_MESSAGE.into()));
    }

    #[test]
    fn durations_and_log_lines() {
        assert_eq!(plan(&request(SLOW)).unwrap().run, DEFAULT_SLOW_RUN);
        let slow = plan(&request(SLOW).input("durationMs", 2500)).unwrap();
        assert_eq!(slow.run, Duration::from_millis(2500));
        let fail = plan(&request(FAIL).input("durationMs", 0.5)).unwrap();
        assert_eq!(fail.run, Duration::from_micros(500));
        assert_eq!(
            plan(&request(ECHO).input("logLines", 3)).unwrap().log_lines,
            3
        );
        for bad in [
            serde_json::json!(-1),
            serde_json::json!("10"),
            serde_json::json!(1e300),
        ] {
            let err = plan(&request(ECHO).input("durationMs", bad)).unwrap_err();
            assert!(err.contains("durationMs"), "{err}");
        }
        let err = plan(&request(ECHO).input("logLines", 1.5)).unwrap_err();
        assert!(err.contains("logLines"), "{err}");
    }
}
