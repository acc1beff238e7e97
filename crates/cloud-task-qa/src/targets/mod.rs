//! The bodies of the fuzz targets: each takes arbitrary bytes, drives one part of the core
//! with them, and panics when an invariant breaks (a panic is what a fuzzer reports).
//!
//! The cargo-fuzz targets under `fuzz/` call these functions; `tests/properties.rs` calls
//! them with proptest's inputs, so the same checks run in CI.
//!
//! | function | what it drives |
//! |---|---|
//! | [`responses`] | the `parse` of every operation of the core (task API and upload steps) |
//! | [`poller`] | the polling state machine, fed a sequence of arbitrary answers |
//! | [`upload_plan`] | the upload plan, from an arbitrary `init` answer and file size |
//! | [`retry_after_header`] | the `Retry-After` header and the API error of a non-2xx answer |
//! | [`package_info`] | a registry description, and the check of arbitrary inputs against it |
//! | [`batch_journal`] | a batch crashed at any point, its journal cut by the crash, replayed and resumed; or arbitrary bytes as a journal |
//! | [`download`] | the download machine against a host serving two versions of a file, misbehaving; and a part record read back |
//! | [`follower`] | the live view of a task against a server writing logs, ending and failing as the input says |
//! | [`log_event`] | the typing of a log entry with stringified, raw and broken fields |
//! | [`login`] | a device sign-in against a server answering as the input says, and the profile's parse |
//! | [`credentials`] | arbitrary bytes as a stored credentials file |
//! | [`codegen`] | a registry description turned into Rust types by `cloud-task-codegen` |
//! | [`outputs`] | a task's `resultData` decoded as a block's typed outputs |

use std::time::{Duration, Instant};

use cloud_task_core::http::{HeaderValue, StatusCode, header::RETRY_AFTER};
use cloud_task_core::{
    AwaitOptions, BackoffStrategy, Config, CreateTask, CreateTaskRequest, Error, GetDashboard,
    GetLatestTasks, GetTask, GetTaskLogs, GetTaskResult, GetUploadUrl, HttpResponse, ListTasks,
    Operation, PollAction, Poller, SetTasksPause, UploadErrorCode, UploadInit, UploadPart,
    UploadPlan, UploadTarget, api_error, retry_after,
};
use serde_json::Value;

mod download;
mod follow;
mod journal;
mod login;
mod outputs;

pub use download::download;
pub use follow::{follower, log_event};
pub use journal::batch_journal;
pub use login::{credentials, login};
pub use outputs::outputs;

/// Reads structured values off the front of fuzz input; answers zeros once it runs out.
#[derive(Debug, Clone)]
pub struct Input<'a> {
    data: &'a [u8],
}

impl<'a> Input<'a> {
    /// Reads from `data`.
    pub fn new(data: &'a [u8]) -> Self {
        Input { data }
    }

    /// The next byte, or 0.
    pub fn byte(&mut self) -> u8 {
        match self.data.split_first() {
            Some((b, rest)) => {
                self.data = rest;
                *b
            }
            None => 0,
        }
    }

    /// The next 8 bytes as a little-endian number (missing bytes are 0).
    pub fn u64(&mut self) -> u64 {
        let mut bytes = [0u8; 8];
        for b in &mut bytes {
            *b = self.byte();
        }
        u64::from_le_bytes(bytes)
    }

    /// The next `n` bytes (fewer when the input ends).
    pub fn take(&mut self, n: usize) -> &'a [u8] {
        let (head, rest) = self.data.split_at(n.min(self.data.len()));
        self.data = rest;
        head
    }

    /// How many bytes are left.
    pub fn data_left(&self) -> usize {
        self.data.len()
    }

    /// Everything left.
    pub fn rest(&mut self) -> &'a [u8] {
        self.take(self.data.len())
    }

    /// An HTTP status: mostly the interesting ones, any valid code otherwise.
    pub fn status(&mut self) -> StatusCode {
        const COMMON: [u16; 12] = [200, 200, 201, 204, 400, 401, 402, 404, 429, 500, 502, 503];
        let b = self.byte();
        let code = match COMMON.get(usize::from(b % 16)) {
            Some(code) => *code,
            None => 100 + u16::from(self.byte()) * 2 % 500,
        };
        StatusCode::from_u16(code).unwrap_or(StatusCode::OK)
    }
}

/// A response with `status` and `body`.
pub fn response(status: StatusCode, body: &[u8]) -> HttpResponse {
    let mut response = HttpResponse::new(body.to_vec());
    *response.status_mut() = status;
    response
}

/// Checks an error's text: one line, and no panic when it is shown in any way.
pub fn check_error_text(error: &Error) {
    let shown = error.to_string();
    assert!(!shown.contains('\n'), "a multi-line Display: {shown:?}");
    let reason = error.reason();
    assert!(!reason.contains('\n'), "a multi-line reason: {reason:?}");
    let _ = format!("{error:?}");
    let mut source = std::error::Error::source(error);
    while let Some(s) = source {
        let _ = s.to_string();
        source = s.source();
    }
}

/// Checks the outcome of a task API `parse`: Ok only for 2xx; a non-2xx answer is an API
/// error with its status; a 2xx body that does not decode is a decode error that keeps the
/// raw body, byte for byte. Answers whether the parse succeeded.
pub fn check_parse<T>(status: StatusCode, body: &[u8], outcome: Result<T, Error>) -> bool {
    match outcome {
        Ok(_) => {
            assert!(status.is_success(), "Ok from HTTP {status}");
            true
        }
        Err(error) => {
            check_error_text(&error);
            match &error {
                Error::Api(api) => {
                    assert!(!status.is_success(), "an API error from HTTP {status}");
                    assert_eq!(api.status, status);
                    assert!(!api.message.is_empty());
                }
                Error::Decode(decode) => {
                    assert!(status.is_success(), "a decode error from HTTP {status}");
                    assert_eq!(decode.body, body, "the decode error lost the raw body");
                    assert_eq!(decode.status, status);
                }
                other => panic!("unexpected error from a parser: {other:?}"),
            }
            false
        }
    }
}

/// Checks the outcome of an upload step's `parse`: Ok only for 2xx, else an upload error
/// with the step's code, whose cause is the API or decode error.
fn check_upload_step<T>(
    code: UploadErrorCode,
    status: StatusCode,
    body: &[u8],
    outcome: Result<T, Error>,
) -> bool {
    match outcome {
        Ok(_) => {
            assert!(status.is_success(), "Ok from HTTP {status}");
            true
        }
        Err(Error::Upload(upload)) => {
            assert_eq!(upload.code, code);
            let cause = upload.source.as_deref().expect("the cause is kept");
            match cause {
                Error::Api(_) | Error::Decode(_) => {}
                other => panic!("unexpected cause {other:?}"),
            }
            if let Error::Decode(decode) = cause {
                assert_eq!(decode.body, body);
            }
            check_error_text(&Error::Upload(upload));
            false
        }
        Err(other) => panic!("an upload step answered {other:?}"),
    }
}

/// Fuzz target: the first byte picks an operation, the next a status, the rest is the body;
/// the operation's `parse` must answer as [`check_parse`] says, never panic. Answers
/// whether the parse succeeded.
pub fn responses(data: &[u8]) -> bool {
    let mut input = Input::new(data);
    let which = input.byte();
    let status = input.status();
    let body = input.rest();
    let r = || response(status, body);
    match which % 13 {
        0 => check_parse(status, body, CreateTask::new(create_request()).parse(r())),
        1 => check_parse(status, body, ListTasks::default().parse(r())),
        2 => check_parse(status, body, GetLatestTasks::new("w-1").parse(r())),
        3 => check_parse(status, body, GetTask::new("t-1").parse(r())),
        4 => check_parse(status, body, GetTaskResult::new("t-1").parse(r())),
        5 => check_parse(
            status,
            body,
            GetTaskResult::new_as::<Vec<serde_json::Map<String, Value>>>("t-1").parse(r()),
        ),
        6 => check_parse(status, body, GetDashboard.parse(r())),
        7 => check_parse(status, body, SetTasksPause::pause().parse(r())),
        8 => check_parse(status, body, GetTaskLogs::new("t-1").parse(r())),
        9 => check_upload_step(
            UploadErrorCode::InitUploadFailed,
            status,
            body,
            UploadInit::for_file("a.bin", 10).parse(r()),
        ),
        10 => check_upload_step(
            UploadErrorCode::GetUploadUrlFailed,
            status,
            body,
            GetUploadUrl::new("u-1").parse(r()),
        ),
        11 => {
            let part = UploadPart::new(1, 0, 1, "http://store.test/p/1");
            match part.parse(r()) {
                Ok(()) => {
                    assert!(status.is_success());
                    true
                }
                Err(Error::Upload(upload)) => {
                    assert!(!status.is_success());
                    assert_eq!(upload.code, UploadErrorCode::UploadFailed);
                    assert_eq!(upload.status, Some(status));
                    check_error_text(&Error::Upload(upload));
                    false
                }
                Err(other) => panic!("a part answered {other:?}"),
            }
        }
        _ => {
            if !status.is_success() {
                let api = api_error(r());
                assert_eq!(api.status, status);
                assert!(!api.message.is_empty() && !api.to_string().contains('\n'));
            }
            false
        }
    }
}

fn create_request() -> CreateTaskRequest {
    CreateTaskRequest::new("@oomol/echo", "1.0.0", "main")
}

/// Fuzz target: a poller fed a sequence of arbitrary answers (each a status, a length and a
/// body; or a transport error) on a fake clock. It must end (every run has a timeout),
/// never ask for a poll before the last one was answered, never give a poll time past the
/// deadline, and end as the answers say: success only after a 2xx answer, a timeout only
/// after its last poll within the final window before the deadline, an API error only on
/// a status that retrying cannot mend. Answers whether it ended with a success.
pub fn poller(data: &[u8]) -> bool {
    let mut input = Input::new(data);
    let interval = Duration::from_millis(10 + u64::from(input.byte()) * 20);
    let timeout = Duration::from_millis(1 + u64::from(input.byte()) * 100);
    let strategy = if input.byte().is_multiple_of(2) {
        BackoffStrategy::Fixed
    } else {
        BackoffStrategy::Exponential
    };
    let options = AwaitOptions::new()
        .interval(interval)
        .max_interval(interval * 4)
        .strategy(strategy)
        .timeout(timeout);
    let start = Instant::now();
    let config = Config::default();
    let mut poller = match Poller::new(&config, "t-1", &options, start) {
        Ok(poller) => poller,
        Err(error) => panic!("a valid task ID was refused: {error:?}"),
    };
    let mut now = start;
    let mut last_status = None;
    // Every poll is followed by a wait of at least `interval` (or the end), and by at most
    // one progress report.
    let polls = (timeout.as_millis() / interval.as_millis()) as usize + 2;
    let limit = 3 * polls + 16;
    for _ in 0..limit {
        match poller.poll_action(now) {
            PollAction::Send(transmit) => {
                assert_eq!(transmit.request.method(), "GET");
                assert!(now <= start + timeout, "a poll after the deadline");
                assert!(
                    transmit.deadline <= start + timeout,
                    "a poll answered past the deadline"
                );
                let id = transmit.id;
                if input.data.is_empty() || input.byte().is_multiple_of(8) {
                    poller.handle_transport_error(
                        id,
                        Error::transport(cloud_task_core::TransportErrorKind::Io, "reset"),
                        now,
                    );
                    last_status = None;
                } else {
                    let status = input.status();
                    let len = usize::from(input.byte());
                    let body = input.take(len);
                    last_status = Some(status);
                    poller.handle_response(id, response(status, body), now);
                }
            }
            PollAction::Progress { progress, .. } => {
                assert!(progress.is_finite(), "progress {progress}");
            }
            PollAction::Wait(wait) => {
                assert!(!wait.is_zero(), "a zero wait would spin");
                now += wait;
                assert!(now <= start + timeout, "a wait past the deadline");
            }
            PollAction::Done(outcome) => {
                match &outcome {
                    Ok(_) => assert!(
                        last_status.is_some_and(|s| s.is_success()),
                        "success without a 2xx answer"
                    ),
                    Err(Error::Timeout(_)) => {
                        let window = cloud_task_core::FINAL_POLL_WINDOW.min(timeout / 10);
                        assert!(
                            now + window >= start + timeout,
                            "a timeout before the last poll"
                        );
                    }
                    Err(Error::Api(api)) => assert!(
                        !cloud_task_core::is_retryable_status(api.status),
                        "polling stopped on {}",
                        api.status
                    ),
                    Err(Error::TaskFailed(failed)) => {
                        assert_eq!(failed.task_id, "t-1");
                        assert!(failed.message.starts_with("Task failed: "));
                    }
                    // The data did not decode as `Value`: impossible for any JSON, but a
                    // body may decode as a head and not as a success.
                    Err(Error::Decode(_)) => {}
                    // A 3xx without a usable Location, or a body over the limit.
                    Err(Error::Redirect(_) | Error::Limit(_)) => {}
                    Err(other) => panic!("the poller ended with {other:?}"),
                }
                if let Err(error) = &outcome {
                    check_error_text(error);
                }
                assert!(poller.is_finished());
                return outcome.is_ok();
            }
        }
    }
    panic!("the poller did not end within {limit} steps");
}

/// Fuzz target: an `init` answer (structured from the input, or the input's bytes as
/// JSON) and a file size. When the plan is accepted, its parts cover the file exactly, in
/// order, none longer than the part size, each with an absolute URL; each part's request
/// carries only `Content-Type`, and a body of the wrong length is refused. Progress rises
/// to 99 and ends at 100. Answers how many parts were planned, `None` when refused.
pub fn upload_plan(data: &[u8]) -> Option<usize> {
    let mut input = Input::new(data);
    let mode = input.byte();
    let size = match input.byte() % 4 {
        0 => u64::from(input.byte()),
        1 => u64::from(input.byte()) * 1000 + u64::from(input.byte()),
        2 => input.u64() % (1 << 40),
        _ => input.u64(),
    };
    let target = if mode.is_multiple_of(2) {
        let part_size = match input.byte() % 3 {
            0 => u64::from(input.byte()),
            1 => u64::from(input.byte()) * 1000,
            _ => input.u64(),
        };
        let total_parts = u32::from(input.byte() % 64);
        let mut urls = std::collections::BTreeMap::new();
        for number in 0..=total_parts + 1 {
            match input.byte() % 8 {
                0 => {}
                1 => {
                    urls.insert(number, "not a url".to_owned());
                }
                _ => {
                    urls.insert(number, format!("http://store.test/p/{number}?sig=s"));
                }
            }
        }
        UploadTarget::new("u-1", part_size, total_parts, urls)
    } else {
        let status = input.status();
        let body = input.rest();
        match UploadInit::for_file("a.bin", size).parse(response(status, body)) {
            Ok(target) => target,
            Err(error) => {
                check_error_text(&error);
                return None;
            }
        }
    };
    let plan = match UploadPlan::new(&target, size) {
        Ok(plan) => plan,
        Err(error) => {
            match &error {
                Error::Upload(u) => assert!(matches!(
                    u.code,
                    UploadErrorCode::InitUploadFailed | UploadErrorCode::MissingPresignedUrl
                )),
                other => panic!("a plan was refused with {other:?}"),
            }
            check_error_text(&error);
            return None;
        }
    };
    assert_eq!(plan.size(), size);
    let mut offset = 0u64;
    let mut progress = plan.progress();
    let mut last_percent = 0;
    for (i, part) in plan.parts().iter().enumerate() {
        assert_eq!(part.number as usize, i + 1, "parts out of order");
        assert_eq!(
            part.offset, offset,
            "a gap or overlap before part {}",
            part.number
        );
        assert!(part.len <= plan.part_size() || part.len == 0);
        assert!(
            part.len > 0 || size == 0,
            "an empty part of a non-empty file"
        );
        assert!(part.url.contains("://"), "a relative URL {:?}", part.url);
        offset += part.len;
        let percent = progress.on_part_done(part.len);
        assert!(percent >= last_percent && percent <= 99);
        last_percent = percent;
        // Building a request needs the part's bytes: only try the small ones.
        if part.len <= 4096 {
            let request = part
                .request(vec![0; part.len as usize])
                .expect("a part of the right length is accepted");
            assert_eq!(request.method(), "PUT");
            assert_eq!(request.headers().len(), 1);
            assert_eq!(
                request.headers()["content-type"],
                "application/octet-stream"
            );
            assert!(request.headers().get("authorization").is_none());
            assert!(part.request(vec![0; part.len as usize + 1]).is_err());
        }
    }
    assert_eq!(offset, size, "the parts do not cover the file");
    assert_eq!(progress.on_complete(), 100);
    // The final step for this upload builds (the ID was accepted as non-empty).
    let config = Config::default();
    let request = plan
        .final_url()
        .request(&config)
        .expect("a final URL request");
    assert!(request.uri().path().ends_with("/url"));
    Some(plan.parts().len())
}

/// Fuzz target: arbitrary bytes as a `Retry-After` value on a non-2xx answer with an
/// arbitrary body: the delay, when there is one, is at most a day; the API error is whole.
pub fn retry_after_header(data: &[u8]) {
    let mut input = Input::new(data);
    let len = usize::from(input.byte() % 32);
    let value = input.take(len);
    let status = input.status();
    let body = input.rest();
    let mut r = response(status, body);
    if let Ok(value) = HeaderValue::from_bytes(value) {
        r.headers_mut().insert(RETRY_AFTER, value);
    }
    if let Some(wait) = retry_after(&r) {
        assert!(
            wait <= Duration::from_secs(24 * 3600),
            "Retry-After {wait:?}"
        );
    }
    let wait = retry_after(&r);
    let api = api_error(r);
    assert_eq!(api.retry_after, wait);
    assert_eq!(api.status, status);
    assert!(!api.message.is_empty());
    assert!(!api.to_string().contains('\n'));
}

/// Fuzz target: arbitrary bytes as a registry description, turned into Rust source by
/// `cloud-task-codegen`: refused with an error naming a block, or source that holds no
/// control character but line breaks (a name's escapes stay escaped), whose braces balance,
/// whose types are each defined once, and that starts with its header. Answers whether
/// source was generated.
pub fn codegen(data: &[u8]) -> bool {
    let Ok(info) = serde_json::from_slice::<cloud_task_core::PackageInfo>(data) else {
        return false;
    };
    let source = match cloud_task_codegen::generate(&info) {
        Ok(source) => source,
        Err(error) => {
            let text = error.to_string();
            assert!(!text.chars().any(|c| c.is_control()), "{text:?}");
            return false;
        }
    };
    assert!(source.starts_with("// Generated by `cloud-task codegen` from "));
    assert!(
        !source.chars().any(|c| c.is_control() && c != '\n'),
        "a control character in the source"
    );
    // Every item that opens a block closes it. Comments are left out: a description may
    // end a doc line with ` {` (string literals end with `")]`, never with a brace).
    let code = || source.lines().filter(|l| !l.trim_start().starts_with("//"));
    let opened = code().filter(|l| l.ends_with(" {")).count();
    let closed = code().filter(|l| *l == "}").count();
    assert_eq!(opened, closed, "items that do not close");
    let mut names = std::collections::HashSet::new();
    for line in source.lines() {
        for keyword in ["pub struct ", "pub enum "] {
            if let Some(rest) = line.strip_prefix(keyword) {
                let name = rest.split([' ', '{']).next().unwrap_or_default();
                assert!(names.insert(name.to_owned()), "type {name} defined twice");
            }
        }
    }
    true
}

/// Fuzz target: arbitrary bytes as a registry description (status 200), then the rest as a
/// task's inputs (JSON, when they parse) checked against its first block: the parse is a
/// description or an error, never a panic; a check answers `Ok` or names each problem by
/// an input of the request or of the block, with at most `MAX_INPUT_PROBLEMS` listed.
pub fn package_info(data: &[u8]) -> bool {
    use cloud_task_core::{GetPackageInfo, MAX_INPUT_PROBLEMS, PackageInfo};
    let mut input = Input::new(data);
    let split = usize::from(input.byte()) * 4;
    let rest = input.rest();
    let (description, inputs) = rest.split_at(split.min(rest.len()));
    let op = GetPackageInfo::new("p", "1.0.0");
    let outcome = op.parse(response(StatusCode::OK, description));
    let Ok(info) = outcome else {
        if let Err(error) = &outcome {
            check_error_text(error);
        }
        return false;
    };
    let info: PackageInfo = info;
    let Some(block) = info.blocks.first() else {
        return true;
    };
    let values = match serde_json::from_slice::<Value>(inputs) {
        Ok(Value::Object(map)) => map,
        _ => serde_json::Map::new(),
    };
    let request =
        CreateTaskRequest::new(info.package_name.clone(), "1.0.0", block.block_name.clone())
            .input_values(values.clone());
    match info.check(&request) {
        Ok(()) => {}
        Err(Error::InvalidInputs(e)) => {
            assert!(e.problems.len() <= MAX_INPUT_PROBLEMS);
            for problem in &e.problems {
                assert!(
                    values.contains_key(&problem.handle) || block.input(&problem.handle).is_some(),
                    "a problem of an input nobody named: {problem}"
                );
                assert!(problem.pointer.is_empty() || problem.pointer.starts_with('/'));
            }
            check_error_text(&Error::InvalidInputs(e));
        }
        Err(error @ Error::InvalidInput(_)) => check_error_text(&error),
        Err(other) => panic!("a check ended with {other:?}"),
    }
    true
}
