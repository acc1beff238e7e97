//! The live view of a task: typed events from every block of the catalogue, in order and
//! each once, through faults, up to the deadline; and task handles.

use std::collections::HashSet;
use std::time::Duration;

use cloud_task_core::{AwaitOptions, CreateTaskRequest, Error, LogEvent, TaskEvent, TaskStatus};
use cloud_task_emulator::{Fault, FaultRule, LOG_PAGE_SIZE, Route};
use serde_json::json;

use crate::driver::Driver;
use crate::{conformance, echo, virtual_emulator};

conformance!(
    events_tell_the_whole_story_of_a_task,
    events_of_every_block_are_typed,
    events_of_a_failed_task_end_with_its_failure_after_its_logs,
    events_read_each_entry_once_through_faults,
    events_end_at_the_deadline_with_the_task_id,
    handles_submit_wait_read_logs_and_follow,
);

/// The log events of `events`, and the final outcome.
fn split(events: &[cloud_task_core::Result<TaskEvent>]) -> (Vec<&LogEvent>, Vec<f64>) {
    let mut logs = Vec::new();
    let mut progress = Vec::new();
    for event in events {
        match event {
            Ok(TaskEvent::Log { event: log, .. }) => logs.push(log),
            Ok(TaskEvent::Progress { progress: p, .. }) => progress.push(*p),
            _ => {}
        }
    }
    (logs, progress)
}

fn lines(logs: &[&LogEvent]) -> Vec<String> {
    logs.iter()
        .filter_map(|e| match e {
            LogEvent::BlockLog { log, .. } => Some(log.clone()),
            _ => None,
        })
        .collect()
}

fn events_tell_the_whole_story_of_a_task<D: Driver>() {
    let (emulator, _clock) = virtual_emulator(|b| b);
    let client = D::of(&emulator);
    let lines_written = 250;
    let request = echo(
        json!({"logLines": lines_written, "durationMs": 5000, "note": {"a": [1]}, "word": "seven"}),
    );
    let id = client.create_task(request).unwrap().task_id;
    let events = client.events(&id, AwaitOptions::new());

    // Progress first, rising; logs in the middle; the result last.
    let (logs, progress) = split(&events);
    assert!(!progress.is_empty());
    assert!(progress.windows(2).all(|w| w[0] < w[1]), "{progress:?}");
    match events.last() {
        Some(Ok(TaskEvent::Finished(success))) => {
            assert_eq!(
                success.result_data.as_ref().unwrap()[0]["note"],
                json!({"a": [1]})
            );
        }
        other => panic!("{other:?}"),
    }
    assert!(events.iter().all(Result::is_ok));
    // Every line once, in order, after the start line; then one output per input, the
    // block's end with its result, the session's end.
    let written = lines(&logs);
    assert!(
        written[0].starts_with("Running block main of @oomol/echo"),
        "{}",
        written[0]
    );
    let expected: Vec<String> = (1..=lines_written).map(|n| format!("line {n}")).collect();
    assert_eq!(written[1..], expected[..]);
    let outputs: HashSet<&str> = logs
        .iter()
        .filter_map(|e| match e {
            LogEvent::BlockOutput { handle, .. } => Some(handle.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(
        outputs,
        HashSet::from(["logLines", "durationMs", "note", "word"])
    );
    // Values typed back: an object is an object; a string stays a string, as OOMOL's
    // engine reads it.
    for log in &logs {
        if let LogEvent::BlockOutput { handle, output, .. } = log {
            match handle.as_str() {
                "note" => assert_eq!(*output, json!({"a": [1]})),
                "word" => assert_eq!(*output, json!("seven")),
                "logLines" => assert_eq!(*output, json!(lines_written)),
                _ => {}
            }
        }
    }
    let tail: Vec<&str> = logs[logs.len() - 2..]
        .iter()
        .map(|e| e.type_name())
        .collect();
    assert_eq!(tail, ["BlockFinished", "SessionFinished"]);
    match logs[logs.len() - 2] {
        LogEvent::BlockFinished {
            result: Some(result),
            error: None,
            block,
        } => {
            assert!(block.is_root());
            assert_eq!(result["note"], json!({"a": [1]}));
        }
        other => panic!("{other:?}"),
    }
    // Each page of logs read as it filled: the reads are bounded by one per result poll
    // plus one per page (and the drain's few).
    let pages = logs.len().div_ceil(LOG_PAGE_SIZE);
    let stats = emulator.stats();
    let (polls, reads) = (stats.count(Route::TaskResult), stats.count(Route::TaskLogs));
    assert!(
        reads <= polls + pages as u64 + 3,
        "{reads} reads, {polls} polls"
    );
}

fn events_of_every_block_are_typed<D: Driver>() {
    let (emulator, _clock) = virtual_emulator(|b| b);
    let client = D::of(&emulator);
    let blocks = [
        echo(json!({"logLines": 3, "x": 1})),
        CreateTaskRequest::new("@oomol/fail", "1.0.0", "main").input("message", "nope"),
        CreateTaskRequest::new("@oomol/quota", "1.0.0", "main"),
        CreateTaskRequest::new("@oomol/slow", "1.0.0", "main").input("durationMs", 20_000),
        CreateTaskRequest::new("@oomol/file", "1.0.0", "main").input("text", "hello"),
        CreateTaskRequest::new("@acme/anything", "2.0.0", "run"),
    ];
    for request in blocks {
        let package = request.package_name.clone();
        let id = client.create_task(request).unwrap().task_id;
        let events = client.events(&id, AwaitOptions::new());
        let (logs, _) = split(&events);
        assert!(logs.len() >= 3, "{package}: {logs:?}");
        for log in &logs {
            assert!(!matches!(log, LogEvent::Other(_)), "{package}: {log:?}");
            assert!(
                log.block().is_some_and(|b| b.is_root()),
                "{package}: {log:?}"
            );
        }
        assert!(logs.last().unwrap().ends_the_session(), "{package}");
        let finished_ok = matches!(events.last(), Some(Ok(TaskEvent::Finished(_))));
        let failed = matches!(events.last(), Some(Err(Error::TaskFailed(_))));
        assert!(finished_ok || failed, "{package}: {:?}", events.last());
    }
}

fn events_of_a_failed_task_end_with_its_failure_after_its_logs<D: Driver>() {
    let (emulator, _clock) = virtual_emulator(|b| b);
    let client = D::of(&emulator);
    let request = CreateTaskRequest::new("@oomol/fail", "1.0.0", "main").input("message", "bad");
    let id = client.create_task(request).unwrap().task_id;
    let events = client.events(&id, AwaitOptions::new());
    let (logs, _) = split(&events);
    let stderr = logs.iter().find_map(|e| match e {
        LogEvent::BlockLog { log, stdio, .. } if stdio.as_deref() == Some("stderr") => Some(log),
        _ => None,
    });
    assert_eq!(stderr.map(String::as_str), Some("Error: bad"));
    match logs.last() {
        Some(LogEvent::SessionFinished { error, .. }) => assert_eq!(error.as_deref(), Some("bad")),
        other => panic!("{other:?}"),
    }
    match events.last() {
        Some(Err(Error::TaskFailed(failed))) => {
            assert_eq!(failed.task_id, id);
            assert!(failed.message.contains("bad"), "{}", failed.message);
        }
        other => panic!("{other:?}"),
    }
}

fn events_read_each_entry_once_through_faults<D: Driver>() {
    let (emulator, _clock) = virtual_emulator(|b| b);
    let client = D::of(&emulator);
    let id = client
        .create_task(echo(json!({"logLines": 150, "durationMs": 3000})))
        .unwrap()
        .task_id;
    emulator.add_fault(FaultRule::new(Route::TaskLogs, Fault::ServiceUnavailable).probability(0.3));
    emulator.add_fault(FaultRule::new(Route::TaskResult, Fault::ServiceUnavailable).times(2));
    let events = client.events(&id, AwaitOptions::new());
    assert!(
        matches!(events.last(), Some(Ok(TaskEvent::Finished(_)))),
        "{:?}",
        events.last()
    );
    let (logs, _) = split(&events);
    let written = lines(&logs);
    let expected: Vec<String> = (1..=150).map(|n| format!("line {n}")).collect();
    assert_eq!(written[1..], expected[..]);
    assert!(logs.last().unwrap().ends_the_session());
}

fn events_end_at_the_deadline_with_the_task_id<D: Driver>() {
    let (emulator, _clock) = virtual_emulator(|b| b);
    let client = D::of(&emulator);
    let id = client
        .create_task(
            CreateTaskRequest::new("@oomol/slow", "1.0.0", "main")
                .input("durationMs", 3_600_000)
                .input("logLines", 10),
        )
        .unwrap()
        .task_id;
    let events = client.events(&id, AwaitOptions::new().timeout(Duration::from_secs(60)));
    match events.last() {
        Some(Err(Error::Timeout(timeout))) => assert_eq!(timeout.task_id, id),
        other => panic!("{other:?}"),
    }
    // What happened before the deadline was handed out: the start line at least.
    let (logs, progress) = split(&events);
    assert!(!logs.is_empty());
    assert!(!progress.is_empty());
    assert_eq!(
        client.get_task_result(&id).unwrap().status(),
        TaskStatus::Running
    );
}

fn handles_submit_wait_read_logs_and_follow<D: Driver>() {
    let (emulator, _clock) = virtual_emulator(|b| b);
    let client = D::of(&emulator);
    let id = client.submit(echo(json!({"logLines": 2}))).unwrap();
    assert_eq!(emulator.stats().count(Route::CreateTask), 1);
    let success = client.handle_wait(&id, AwaitOptions::new()).unwrap();
    assert_eq!(success.result_data.unwrap()[0]["logLines"], 2);
    let page = client.handle_logs(&id, 1).unwrap();
    assert_eq!(page.logs.len(), 1 + 2 + 1 + 2);
    // Re-attached by ID after the end: the whole story again, ending with the result.
    let events = client.handle_events(&id, AwaitOptions::new());
    let (logs, _) = split(&events);
    assert_eq!(logs.len(), page.logs.len());
    assert!(matches!(events.last(), Some(Ok(TaskEvent::Finished(_)))));
    // A handle of an unknown task: its calls say so.
    let unknown = client.handle_wait("no-such-task", AwaitOptions::new());
    assert_eq!(unknown.unwrap_err().status().map(|s| s.as_u16()), Some(404));
}
