//! The live view of a task (the `Follower`) against a server whose answers the input
//! chooses, and the typed log events read from arbitrary entries.

use std::time::{Duration, Instant};

use cloud_task_core::http::StatusCode;
use cloud_task_core::{
    AwaitOptions, Config, Error, FollowAction, Follower, HttpRequest, HttpResponse, LOG_PAGE_SIZE,
    LogEntry, LogEvent, TaskEvent, TransportErrorKind,
};
use serde_json::{Map, Value, json};

use super::{Input, check_error_text, response};

/// The entry number `seq` of the task's logs: a line of its root block, numbered.
fn entry(seq: usize) -> Value {
    json!({"type": "BlockLog", "stacks": "[]", "log": seq.to_string(), "stdio": "stdout"})
}

fn session_finished() -> Value {
    json!({"type": "SessionFinished", "stacks": "[]"})
}

/// A task server: the task writes log entries as the input says, ends when it says (with
/// success or a failure, and with its session's end entry or not), and the server answers
/// each request honestly, late (a page it has not caught up with yet), or with an error.
/// It never changes an entry once written, nor their order.
struct TaskServer<'a> {
    input: Input<'a>,
    /// The entries written: their numbers (the session's end as `usize::MAX`).
    written: Vec<usize>,
    ended: Option<bool>,
    session_end: bool,
}

impl TaskServer<'_> {
    /// The task moves on by one step of the input: entries written, maybe its end.
    fn advance(&mut self) {
        if self.ended.is_some() {
            // After its end, a task may still flush a few entries, then its session's end.
            if self.input.byte().is_multiple_of(4) && !self.session_end {
                let n = self.written.len();
                self.written.push(n);
            }
            return;
        }
        let more = usize::from(self.input.byte() % 64) * usize::from(self.input.byte() % 4);
        for _ in 0..more {
            let n = self.written.len();
            self.written.push(n);
        }
        let end = self.input.byte();
        if self.input.data_left() == 0 || end.is_multiple_of(8) {
            self.ended = Some(end % 16 != 8);
            if self.input.byte().is_multiple_of(2) {
                self.written.push(usize::MAX);
                self.session_end = true;
            }
        }
    }

    fn answer(&mut self, request: &HttpRequest) -> Result<HttpResponse, Error> {
        self.advance();
        let fault = self.input.byte() % 16;
        match fault {
            0 => return Err(Error::transport(TransportErrorKind::Io, "reset")),
            1 => return Ok(response(StatusCode::BAD_GATEWAY, b"{\"message\":\"busy\"}")),
            _ => {}
        }
        let path = request.uri().path();
        if path.ends_with("/result") {
            let body = match self.ended {
                Some(true) => {
                    json!({"status": "success", "resultURL": null, "resultData": [{"ok": 1}]})
                }
                Some(false) => json!({"status": "failed", "error": "it broke"}),
                None => json!({"status": "running", "progress": (self.written.len() % 100) as f64}),
            };
            return Ok(response(StatusCode::OK, body.to_string().as_bytes()));
        }
        if path.ends_with("/logs") {
            let page: usize = request
                .uri()
                .query()
                .and_then(|q| q.split('&').find_map(|p| p.strip_prefix("page=")))
                .and_then(|p| p.parse().ok())
                .unwrap_or(1);
            let from = (page.max(1) - 1) * LOG_PAGE_SIZE;
            let mut to = (from + LOG_PAGE_SIZE).min(self.written.len());
            // A server that has not caught up yet serves a shorter page.
            if fault == 2 && to > from {
                to -= 1 + usize::from(self.input.byte()) % (to - from);
            }
            let logs: Vec<Value> = self.written[from.min(to)..to]
                .iter()
                .map(|&n| {
                    if n == usize::MAX {
                        session_finished()
                    } else {
                        entry(n)
                    }
                })
                .collect();
            return Ok(response(
                StatusCode::OK,
                json!({"logs": logs}).to_string().as_bytes(),
            ));
        }
        panic!("the follower asked for {path}");
    }
}

/// Fuzz target: the follower of a task against a task server whose log
/// entries, end and faults the input chooses. Each entry is handed out once, in order, none
/// skipped; the root session's end is the last log event; `Finished` comes last and only
/// for a task that succeeded; and the view ends within a bound of requests (its timeout,
/// the pages written, the drain rounds). Answers whether the view ended with the result.
pub fn follower(data: &[u8]) -> bool {
    let mut input = Input::new(data);
    let interval = Duration::from_millis(100 + u64::from(input.byte()) * 10);
    let options = AwaitOptions::new()
        .interval(interval)
        .timeout(Duration::from_secs(120));
    let config = Config::default();
    let start = Instant::now();
    let mut follower = match Follower::new(&config, "t-1", &options, start) {
        Ok(follower) => follower,
        Err(error) => panic!("a valid follower was refused: {error:?}"),
    };
    let mut server = TaskServer {
        input,
        written: Vec::new(),
        ended: None,
        session_end: false,
    };
    let mut now = start;
    let mut next_seq = 0usize;
    let mut session_seen = false;
    let mut finished = false;
    let mut sends = 0usize;
    // Polls within the timeout, pages of what can be written, drain rounds, and a try
    // for each fault: a generous bound that a server cannot move.
    let most = 4 * (120_000 / interval.as_millis() as usize + 1)
        + 2 * (data.len() * 3 * 64 / LOG_PAGE_SIZE + 1)
        + 4 * cloud_task_core::MAX_DRAIN_ROUNDS as usize
        + 64;
    loop {
        match follower.poll_action(now) {
            FollowAction::Send(transmit) => {
                sends += 1;
                assert!(sends <= most, "more than {most} requests");
                match server.answer(&transmit.request) {
                    Ok(answer) => follower.handle_response(transmit.id, answer, now),
                    Err(error) => follower.handle_transport_error(transmit.id, error, now),
                }
            }
            FollowAction::Event(event) => {
                assert!(!finished, "an event after Finished");
                match event {
                    TaskEvent::Log { event: log, .. } => {
                        assert!(!session_seen, "a log event after the session's end");
                        if log.ends_the_session() {
                            session_seen = true;
                            assert_eq!(
                                next_seq,
                                server.written.len() - 1,
                                "entries skipped before the end"
                            );
                            continue;
                        }
                        let LogEvent::BlockLog { log: line, .. } = &log else {
                            panic!("an entry typed as {log:?}");
                        };
                        assert_eq!(
                            line,
                            &next_seq.to_string(),
                            "an entry handed out twice, or skipped"
                        );
                        next_seq += 1;
                    }
                    TaskEvent::Progress { progress, .. } => {
                        assert!((0.0..=100.0).contains(&progress), "progress {progress}");
                    }
                    TaskEvent::Finished(_) => {
                        assert_eq!(
                            server.ended,
                            Some(true),
                            "Finished for a task that did not succeed"
                        );
                        finished = true;
                    }
                    _ => {}
                }
            }
            FollowAction::Wait(wait) => {
                assert!(!wait.is_zero(), "a zero wait would spin");
                now += wait;
                assert!(
                    now - start
                        <= Duration::from_secs(121)
                            + cloud_task_core::DRAIN_INTERVAL * cloud_task_core::MAX_DRAIN_ROUNDS,
                    "waited past every bound"
                );
            }
            FollowAction::Done(outcome) => {
                match &outcome {
                    Ok(()) => assert!(finished, "Done(Ok) without Finished"),
                    Err(error) => {
                        assert!(!finished, "an error after Finished");
                        check_error_text(error);
                    }
                }
                if session_seen {
                    assert_eq!(next_seq + 1, server.written.len());
                }
                return outcome.is_ok();
            }
        }
    }
}

/// The values a log entry's fields take: stringified JSON (as the endpoint sends them),
/// raw JSON, and text.
fn field_value(input: &mut Input) -> Value {
    let len = usize::from(input.byte() % 24);
    let text = String::from_utf8_lossy(input.take(len)).into_owned();
    match input.byte() % 8 {
        0 => Value::String(format!("[{text}]")),
        1 => Value::String(format!("{{\"a\":{text}}}")),
        2 => Value::String(
            r#"[{"node_id":"n1","job_id":"j","session_id":"s","flow":"f"}]"#.to_owned(),
        ),
        3 => Value::String(text),
        4 => serde_json::from_str(&text).unwrap_or(Value::Null),
        5 => json!({"h": text}),
        6 => Value::String(format!("{{\"h\":{}}}", input.byte())),
        _ => json!([text]),
    }
}

/// Fuzz target: a log entry (the input as a JSON object, or one built of the fields the
/// typing reads, with stringified, raw and broken values) typed as a [`LogEvent`]. Typing
/// never fails nor panics; a typed event keeps the entry's `type`; an entry it does not type
/// is kept as it came; the event serializes, with its `type`. Answers whether it was typed.
pub fn log_event(data: &[u8]) -> bool {
    const TYPES: [&str; 8] = [
        "BlockLog",
        "BlockOutput",
        "BlockOutputs",
        "BlockFinished",
        "SubflowBlockFinished",
        "SessionFinished",
        "Other",
        "",
    ];
    const KEYS: [&str; 11] = [
        "time",
        "stacks",
        "log",
        "stdio",
        "handle",
        "output",
        "outputs",
        "result",
        "error",
        "block_path",
        "job_id",
    ];
    let entry: Map<String, Value> = match serde_json::from_slice::<Map<String, Value>>(data) {
        Ok(map) => map,
        Err(_) => {
            let mut input = Input::new(data);
            let mut map = Map::new();
            map.insert(
                "type".to_owned(),
                Value::from(TYPES[usize::from(input.byte() % 8)]),
            );
            let fields = input.byte() % 8;
            for _ in 0..fields {
                let key = KEYS[usize::from(input.byte()) % KEYS.len()];
                let value = field_value(&mut input);
                map.insert(key.to_owned(), value);
            }
            map
        }
    };
    let kept = LogEntry(entry.clone());
    let event = LogEvent::from_entry(LogEntry(entry.clone()));
    let time = kept.time_ms();
    let typed = !matches!(event, LogEvent::Other(_));
    match &event {
        LogEvent::Other(other) => assert_eq!(other, &kept, "an untyped entry was changed"),
        typed => assert_eq!(
            Some(typed.type_name()),
            entry.get("type").and_then(Value::as_str),
            "a typed event lost its type"
        ),
    }
    let _ = event.block();
    let _ = event.ends_the_session();
    let json = match serde_json::to_value(&event) {
        Ok(json) => json,
        Err(error) => panic!("a log event did not serialize: {error}"),
    };
    if typed {
        assert_eq!(json["type"], event.type_name());
    }
    let view: TaskEvent = TaskEvent::Log { event, time };
    match serde_json::to_value(&view) {
        // A typed event's time is the entry's, as a number; an untyped one keeps its own.
        Ok(json) if typed => assert_eq!(json.get("time").and_then(Value::as_i64), time),
        Ok(_) => {}
        Err(error) => panic!("a log event in a view did not serialize: {error}"),
    }
    typed
}
