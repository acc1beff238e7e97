//! The batch journal: its replay from bytes on disk, and the resume of a batch from it.

use std::time::{Duration, Instant};

use cloud_task_core::http::StatusCode;
use cloud_task_core::{
    AwaitOptions, Batch, BatchAction, BatchOptions, Config, CreateTaskRequest, Error, HttpResponse,
    JournalReplay, MAX_JOURNAL_LINE, Transmit, TransportErrorKind,
};
use serde_json::json;

use super::{Input, response};

/// The wall clock of the first run, epoch milliseconds.
const WALL: u64 = 1_767_225_600_000;
/// The most actions a batch of a few inputs may take before it must have ended.
const MAX_STEPS: usize = 20_000;

fn config() -> Config {
    match Config::builder()
        .api_key("k")
        .base_url("https://api.test")
        .build()
    {
        Ok(config) => config,
        Err(error) => panic!("the fuzz config was refused: {error:?}"),
    }
}

fn inputs(n: usize) -> Vec<CreateTaskRequest> {
    (0..n)
        .map(|i| CreateTaskRequest::new("@oomol/echo", "1.0.0", "main").input("i", i))
        .collect()
}

fn json_response(status: u16, body: serde_json::Value) -> HttpResponse {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::OK);
    response(status, body.to_string().as_bytes())
}

/// A server of tasks whose answers the fuzz input chooses, and that keeps what it really
/// created, whatever the client heard.
struct Server<'a> {
    input: Input<'a>,
    /// Each task it created: its ID and the input (`i`) it was created for.
    tasks: Vec<(String, usize, u64)>,
}

impl Server<'_> {
    /// The answer to `transmit` at `wall` (epoch ms): `None` when the answer is lost (the
    /// request may still have been carried out).
    fn answer(
        &mut self,
        transmit: &Transmit,
        index: Option<usize>,
        wall: u64,
    ) -> Result<HttpResponse, Error> {
        let choice = self.input.byte();
        match transmit.name {
            "create_task" => {
                let i = index.unwrap_or(usize::MAX);
                match choice % 8 {
                    // Created, answered.
                    0..=3 => Ok(json_response(200, json!({"taskID": self.create(i, wall)}))),
                    // Created, the answer lost on the way back.
                    4 => {
                        self.create(i, wall);
                        Err(Error::transport(TransportErrorKind::Io, "connection reset"))
                    }
                    // Never reached the server.
                    5 => Err(Error::transport(TransportErrorKind::Connect, "refused")),
                    // Refused: nothing created.
                    6 => Ok(json_response(400, json!({"message": "bad input"}))),
                    _ => Ok(json_response(429, json!({"message": "slow down"}))),
                }
            }
            // Once the input is spent (zeros), every task has succeeded.
            "get_task_result" => Ok(match choice % 4 {
                1 => json_response(200, json!({"status": "running", "progress": 50})),
                2 => json_response(500, json!({"message": "oops"})),
                _ => json_response(
                    200,
                    json!({"status": "success", "resultURL": null, "resultData": [{"ok": true}]}),
                ),
            }),
            "list_tasks" => {
                // Every task it holds, newest first, on one page: the lookup's answer.
                let tasks: Vec<_> = self
                    .tasks
                    .iter()
                    .rev()
                    .map(|(task, i, at)| {
                        json!({"taskID": task, "taskType": "user", "ownerID": "o",
                               "status": "running", "progress": 0, "workload": "serverless",
                               "workloadID": "w", "createdAt": at, "updatedAt": at,
                               "schedulerPayload": {"packageName": "@oomol/echo",
                                   "packageVersion": "1.0.0", "blockName": "main",
                                   "inputValues": {"i": i}}})
                    })
                    .collect();
                Ok(json_response(
                    200,
                    json!({"tasks": tasks, "nextToken": null}),
                ))
            }
            _ => Ok(json_response(404, json!({"message": "no such route"}))),
        }
    }

    fn create(&mut self, i: usize, wall: u64) -> String {
        let task = format!("t-{}", self.tasks.len());
        self.tasks.push((task.clone(), i, wall));
        task
    }
}

/// What one run of a batch left.
struct Run {
    journal: Vec<u8>,
    /// The journal's length at its last sync.
    synced: usize,
    items: usize,
    finished: bool,
}

/// Drives `batch` against `server` for at most `steps` actions (a crash ends it there).
fn drive(batch: &mut Batch, server: &mut Server, start: Instant, wall: u64, steps: usize) -> Run {
    let mut run = Run {
        journal: Vec::new(),
        synced: 0,
        items: 0,
        finished: false,
    };
    let mut now = start;
    let mut zero_waits = 0;
    for _ in 0..steps {
        let wall_now = wall + (now - start).as_millis() as u64;
        let action = batch.poll_action(now);
        if !matches!(action, BatchAction::Wait(wait) if wait.is_zero()) {
            zero_waits = 0;
        }
        match action {
            BatchAction::Record(record) => {
                run.journal.extend_from_slice(record.to_line().as_bytes())
            }
            BatchAction::Sync => run.synced = run.journal.len(),
            BatchAction::Send { index, transmit } => {
                if transmit.name == "create_task" {
                    assert_eq!(
                        run.synced,
                        run.journal.len(),
                        "a create left before the journal was synced"
                    );
                }
                match server.answer(&transmit, index, wall_now) {
                    Ok(answer) => batch.handle_response(transmit.id, answer, now),
                    Err(error) => batch.handle_transport_error(transmit.id, error, now),
                }
            }
            BatchAction::Item(_) => run.items += 1,
            BatchAction::Wait(wait) => {
                if wait.is_zero() {
                    // Due now: something must happen at the next ask (a create whose
                    // deadline is reached), not a wait again and again.
                    zero_waits += 1;
                    assert!(
                        zero_waits < 3,
                        "a busy loop: waits of zero, {:?}",
                        batch.counts()
                    );
                }
                now += wait.max(Duration::from_millis(1));
            }
            BatchAction::Finished => {
                run.finished = true;
                return run;
            }
            _ => {}
        }
    }
    run
}

fn options(input: &mut Input) -> BatchOptions {
    BatchOptions::new()
        .account_limits(false)
        .creates_in_flight(1 + usize::from(input.byte() % 3))
        .await_options(AwaitOptions::new().interval(Duration::from_millis(50)))
}

/// Fuzz target: a batch of a few inputs, run against a server whose answers the input
/// chooses (a create answered, lost on the way back after the task was created, never
/// sent, refused, throttled), crashed after a number of steps the input chooses, its journal
/// cut anywhere after the last sync (a torn write), replayed, and resumed to its end
/// against the same server. Or, with the first byte's high bit set, the rest of the input
/// as a journal replayed as it is (then resumed when it replays).
///
/// A crashed journal always replays; the resumed batch ends, hands out every input once;
/// and the server never creates a task twice for one input, whatever was lost (the batch's
/// promise). A journal of arbitrary bytes never panics its replay, and no input the journal
/// holds a task for is created again. Answers whether the journal replayed.
pub fn batch_journal(data: &[u8]) -> bool {
    let mut input = Input::new(data);
    let mode = input.byte();
    let n = 1 + usize::from(input.byte() % 6);
    let options = options(&mut input);
    let config = config();
    let start = Instant::now();
    if mode & 0x80 != 0 {
        return raw_journal(input.rest(), n, &config, options, start);
    }
    let crash_after = usize::from(input.byte()) * 4;
    let cut = input.u64();
    let mut server = Server {
        input,
        tasks: Vec::new(),
    };
    let mut first = match Batch::new(&config, inputs(n), options.clone(), start, WALL) {
        Ok(batch) => batch,
        Err(error) => panic!("a valid batch was refused: {error:?}"),
    };
    let run = drive(&mut first, &mut server, start, WALL, crash_after);
    drop(first);
    // The crash keeps what was synced, and any part of what was written after.
    let kept = run.synced + (cut % (run.journal.len() - run.synced + 1) as u64) as usize;
    let journal = &run.journal[..kept];
    let replay = match JournalReplay::read_from(journal) {
        Ok(replay) => replay,
        Err(error) => panic!(
            "a journal cut by a crash did not replay ({error}): {:?}",
            String::from_utf8_lossy(journal)
        ),
    };
    assert!(replay.valid_len() <= kept as u64);
    let later = start + Duration::from_secs(3600);
    let wall = WALL + 3_600_000;
    let mut resumed = match Batch::resume(&config, inputs(n), options, &replay, later, wall) {
        Ok(batch) => batch,
        Err(error) => panic!("a crashed journal of the same inputs was refused: {error:?}"),
    };
    let second = drive(&mut resumed, &mut server, later, wall, MAX_STEPS);
    assert!(second.finished, "the resumed batch did not end");
    assert_eq!(
        second.items, n,
        "the resumed batch did not hand out every input once"
    );
    for i in 0..n {
        let created = server.tasks.iter().filter(|(_, at, _)| *at == i).count();
        assert!(created <= 1, "input {i} was created {created} times");
    }
    true
}

/// Arbitrary bytes as a journal: the replay never panics and refuses rather than guesses;
/// a resume from it never creates an input the journal holds a task for.
fn raw_journal(
    bytes: &[u8],
    n: usize,
    config: &Config,
    options: BatchOptions,
    start: Instant,
) -> bool {
    let replay = match JournalReplay::read_from(bytes) {
        Ok(replay) => replay,
        Err(error) => {
            assert!(matches!(error, Error::InvalidInput(_)), "{error:?}");
            assert!(error.to_string().contains("journal"), "{error}");
            return false;
        }
    };
    let valid = replay.valid_len() as usize;
    assert!(valid <= bytes.len());
    assert!(
        valid == 0 || bytes[valid - 1] == b'\n',
        "a replay ended inside a line"
    );
    assert!(
        bytes[valid..].iter().filter(|b| **b == b'\n').count() == 0,
        "a complete line was dropped"
    );
    assert!(bytes.len() - valid <= MAX_JOURNAL_LINE);
    // The same bytes replay the same way (no hidden state).
    let again = JournalReplay::read_from(&bytes[..valid]).unwrap_or_else(|e| panic!("{e:?}"));
    assert_eq!(again.records(), replay.records());
    let known: Vec<Option<String>> = (0..n)
        .map(|i| replay.task_id(i).map(str::to_owned))
        .collect();
    let Ok(mut batch) = Batch::resume(config, inputs(n), options, &replay, start, WALL) else {
        // A journal of other inputs is refused, naming them: nothing is sent.
        return true;
    };
    let mut server = Server {
        input: Input::new(&[]),
        tasks: Vec::new(),
    };
    let run = drive(&mut batch, &mut server, start, WALL, MAX_STEPS);
    assert!(run.finished, "a resumed batch did not end");
    for (i, task) in known.iter().enumerate() {
        if task.is_some() {
            assert!(
                !server.tasks.iter().any(|(_, at, _)| *at == i),
                "input {i}, whose task the journal holds, was created again"
            );
        }
    }
    true
}
