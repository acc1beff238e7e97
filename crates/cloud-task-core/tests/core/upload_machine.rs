//! The upload as one machine, driven by a scripted driver with a fake clock.

use std::collections::{HashMap, HashSet, VecDeque};
use std::time::{Duration, Instant};

use cloud_task_core::http::Method;
use cloud_task_core::{
    CancelToken, Config, Error, HttpRequest, HttpResponse, Limit, RequestId, Upload, UploadAction,
    UploadErrorCode, UploadOptions,
};
use serde_json::json;

use crate::{KEY, config, header, response};

/// What the server answers to each part try: by part number, in order; a success when the
/// script for that part is empty.
#[derive(Default)]
struct Script {
    parts: HashMap<u32, VecDeque<Answer>>,
    init: Option<HttpResponse>,
}

enum Answer {
    Status(u16),
    Transport,
    Never,
}

/// What the driver saw.
#[derive(Default, Debug)]
struct Seen {
    reads: Vec<(u32, u64, u64)>,
    sent_parts: Vec<u32>,
    progress: Vec<(u8, Option<u32>)>,
    waits: Vec<Duration>,
    max_held: usize,
    part_requests: Vec<HttpRequest>,
    outcome: Option<Result<cloud_task_core::UploadedFile, Error>>,
    elapsed: Duration,
}

fn init_answer(part_size: u64, total: u32) -> HttpResponse {
    let urls: serde_json::Map<String, serde_json::Value> = (1..=total)
        .map(|k| {
            (
                k.to_string(),
                json!(format!("https://s3.test/up/{k}?X-Sig=sig{k}")),
            )
        })
        .collect();
    response(
        200,
        &json!({"data": {"upload_id": "up-1", "part_size": part_size, "total_parts": total, "presigned_urls": urls}})
            .to_string(),
    )
}

fn final_answer() -> HttpResponse {
    response(
        200,
        r#"{"data":{"url":"https://files.test/up-1.bin","file_size":10}}"#,
    )
}

/// Runs an upload of `size` bytes whose parts answer as `script` says. Answers arrive at
/// the next wait (all at once); reads are answered at once.
fn run(
    config: &Config,
    size: u64,
    options: UploadOptions,
    mut script: Script,
    part_size: u64,
) -> Seen {
    let start = Instant::now();
    let mut now = start;
    let total = size.div_ceil(part_size).max(1) as u32;
    let mut upload = Upload::new(config, "data.bin", size, &options, now).unwrap();
    let mut seen = Seen::default();
    let mut pending: Vec<(RequestId, Option<HttpResponse>, Option<Error>)> = Vec::new();
    // The parts held, as the machine counts them: from their first read until they are
    // reported uploaded (a retry reads a held part again).
    let mut held: HashSet<u32> = HashSet::new();
    for _ in 0..100_000 {
        match upload.poll_action(now) {
            UploadAction::Send(t) => {
                let path = t.request.uri().path().to_owned();
                if path.ends_with("/init") {
                    assert_eq!(t.request.method(), Method::POST);
                    let answer = script
                        .init
                        .take()
                        .unwrap_or_else(|| init_answer(part_size, total));
                    pending.push((t.id, Some(answer), None));
                } else if path.ends_with("/url") {
                    assert_eq!(t.request.method(), Method::GET);
                    pending.push((t.id, Some(final_answer()), None));
                } else {
                    let part: u32 = path.rsplit('/').next().unwrap().parse().unwrap();
                    seen.sent_parts.push(part);
                    assert_eq!(t.deadline, now + options.get_part_timeout());
                    seen.part_requests.push(t.request);
                    match script.parts.get_mut(&part).and_then(VecDeque::pop_front) {
                        None => pending.push((t.id, Some(response(200, "")), None)),
                        Some(Answer::Status(code)) => {
                            pending.push((t.id, Some(response(code, "{}")), None))
                        }
                        Some(Answer::Transport) => pending.push((
                            t.id,
                            None,
                            Some(Error::transport(
                                cloud_task_core::TransportErrorKind::Io,
                                std::io::Error::other("reset"),
                            )),
                        )),
                        Some(Answer::Never) => {}
                    }
                }
            }
            UploadAction::Read { part, offset, len } => {
                seen.reads.push((part, offset, len));
                held.insert(part);
                seen.max_held = seen.max_held.max(held.len());
                let bytes = (offset..offset + len).map(|b| b as u8).collect();
                upload.handle_read(part, Ok(bytes), now);
            }
            UploadAction::Progress { percent, part } => {
                seen.progress.push((percent, part));
                if let Some(part) = part {
                    assert!(
                        held.remove(&part),
                        "part {part} reported uploaded but never read"
                    );
                }
            }
            UploadAction::Wait(d) | UploadAction::AwaitResponse(d) => {
                if pending.is_empty() {
                    seen.waits.push(d);
                    now += d;
                }
                for (id, response, error) in pending.drain(..) {
                    match (response, error) {
                        (Some(r), _) => upload.handle_response(id, r, now),
                        (None, Some(e)) => upload.handle_transport_error(id, e, now),
                        _ => unreachable!(),
                    }
                }
            }
            UploadAction::Done(outcome) => {
                seen.outcome = Some(outcome);
                seen.elapsed = now - start;
                return seen;
            }
        }
    }
    panic!("the upload never ended");
}

#[test]
fn a_whole_upload_reads_each_part_once_and_reports_progress() {
    let seen = run(&config(), 10, UploadOptions::new(), Script::default(), 4);
    let file = seen.outcome.unwrap().unwrap();
    assert_eq!(file.url, "https://files.test/up-1.bin");
    assert_eq!(seen.reads, [(1, 0, 4), (2, 4, 4), (3, 8, 2)]);
    assert_eq!(seen.sent_parts, [1, 2, 3]);
    assert_eq!(
        seen.progress,
        [(40, Some(1)), (80, Some(2)), (99, Some(3)), (100, None)]
    );
    // Parts carry neither the key nor any default header, and the bytes they were given.
    for (i, request) in seen.part_requests.iter().enumerate() {
        assert_eq!(request.method(), Method::PUT);
        assert!(request.headers().get("authorization").is_none());
        assert!(request.headers().get("x-client").is_none());
        assert_eq!(
            header(request.headers(), "content-type"),
            Some("application/octet-stream")
        );
        let offset = i as u64 * 4;
        let expected: Vec<u8> = (offset..(offset + 4).min(10)).map(|b| b as u8).collect();
        assert_eq!(request.body(), &expected);
    }
    assert!(!format!("{:?}", seen.part_requests).contains(KEY));
}

#[test]
fn parts_in_flight_are_bounded_by_concurrency_and_the_buffer() {
    let seen = run(
        &config(),
        100,
        UploadOptions::new().concurrency(3),
        Script::default(),
        10,
    );
    assert!(seen.outcome.unwrap().is_ok());
    assert_eq!(seen.max_held, 3);
    // Large parts go fewer at a time: 4 KiB of buffer holds two parts of 1.5 KiB.
    let config = Config::builder().max_upload_buffer(4096).build().unwrap();
    let seen = run(
        &config,
        15_000,
        UploadOptions::new().concurrency(8),
        Script::default(),
        1500,
    );
    assert!(seen.outcome.unwrap().is_ok());
    assert_eq!(seen.max_held, 2);
}

#[test]
fn a_part_larger_than_the_buffer_is_refused_before_any_part() {
    let config = Config::builder().max_upload_buffer(4096).build().unwrap();
    let seen = run(
        &config,
        10_000,
        UploadOptions::new(),
        Script::default(),
        5000,
    );
    match seen.outcome.unwrap().unwrap_err() {
        Error::Limit(l) => {
            assert_eq!(
                (l.limit, l.max, l.operation),
                (Limit::UploadBuffer, 4096, "upload_init")
            );
        }
        other => panic!("{other:?}"),
    }
    assert!(seen.reads.is_empty() && seen.sent_parts.is_empty());
    // A small file under a large part size holds only its own bytes: fine.
    let seen = run(
        &config,
        100,
        UploadOptions::new(),
        Script::default(),
        1 << 30,
    );
    assert!(seen.outcome.unwrap().is_ok());
}

#[test]
fn a_failed_part_is_read_again_and_retried_with_waits() {
    let mut script = Script::default();
    script
        .parts
        .insert(2, VecDeque::from([Answer::Status(503), Answer::Transport]));
    let seen = run(&config(), 8, UploadOptions::new().concurrency(1), script, 4);
    assert!(seen.outcome.unwrap().is_ok());
    assert_eq!(seen.sent_parts, [1, 2, 2, 2]);
    assert_eq!(seen.reads, [(1, 0, 4), (2, 4, 4), (2, 4, 4), (2, 4, 4)]);
    assert_eq!(seen.waits, [Duration::from_secs(1), Duration::from_secs(2)]);
}

#[test]
fn a_part_failing_every_try_ends_the_upload() {
    let mut script = Script::default();
    script.parts.insert(
        1,
        VecDeque::from([Answer::Status(500), Answer::Status(500)]),
    );
    let seen = run(&config(), 4, UploadOptions::new().retries(2), script, 4);
    match seen.outcome.unwrap().unwrap_err() {
        Error::Upload(u) => {
            assert_eq!(u.code, UploadErrorCode::RetryExhausted);
            assert!(
                u.message.starts_with("Failed after 2 attempts: "),
                "{}",
                u.message
            );
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_part_never_answered_is_given_up_at_its_timeout_and_retried() {
    let mut script = Script::default();
    script.parts.insert(1, VecDeque::from([Answer::Never]));
    let options = UploadOptions::new().part_timeout(Duration::from_secs(7));
    let seen = run(&config(), 4, options, script, 4);
    assert!(seen.outcome.unwrap().is_ok());
    assert_eq!(seen.sent_parts, [1, 1]);
    assert_eq!(seen.waits, [Duration::from_secs(7), Duration::from_secs(1)]);
}

#[test]
fn cancelling_ends_the_upload_at_once_and_ignores_late_answers() {
    let now = Instant::now();
    let token = CancelToken::new();
    let options = UploadOptions::new().cancel_token(token.clone());
    let mut upload = Upload::new(&config(), "a.bin", 8, &options, now).unwrap();
    let UploadAction::Send(init) = upload.poll_action(now) else {
        panic!()
    };
    upload.handle_response(init.id, init_answer(4, 2), now);
    let UploadAction::Read { part: 1, .. } = upload.poll_action(now) else {
        panic!()
    };
    upload.handle_read(1, Ok(vec![0; 4]), now);
    let UploadAction::Send(part) = upload.poll_action(now) else {
        panic!()
    };
    let UploadAction::Read { part: 2, .. } = upload.poll_action(now) else {
        panic!()
    };
    token.cancel();
    assert!(matches!(
        upload.poll_action(now),
        UploadAction::Done(Err(Error::Cancelled(_)))
    ));
    upload.handle_response(part.id, response(200, ""), now);
    upload.handle_read(2, Ok(vec![0; 4]), now);
    assert!(matches!(
        upload.poll_action(now),
        UploadAction::Done(Err(Error::Misuse(_)))
    ));
    // Cancelled before it starts: nothing is sent.
    let options = UploadOptions::new().cancel_token(token);
    let mut upload = Upload::new(&config(), "a.bin", 8, &options, now).unwrap();
    assert!(matches!(
        upload.poll_action(now),
        UploadAction::Done(Err(Error::Cancelled(_)))
    ));
}

#[test]
fn a_read_failure_is_final_and_a_short_read_refused() {
    let now = Instant::now();
    let mut upload = Upload::new(&config(), "a.bin", 4, &UploadOptions::new(), now).unwrap();
    let UploadAction::Send(init) = upload.poll_action(now) else {
        panic!()
    };
    upload.handle_response(init.id, init_answer(4, 1), now);
    let UploadAction::Read { part, .. } = upload.poll_action(now) else {
        panic!()
    };
    upload.handle_read(part, Ok(vec![0; 3]), now);
    match upload.poll_action(now) {
        UploadAction::Done(Err(Error::Misuse(e))) => {
            assert!(e.message.contains("must be 4 bytes"))
        }
        other => panic!("{other:?}"),
    }
    let mut upload = Upload::new(&config(), "a.bin", 4, &UploadOptions::new(), now).unwrap();
    let UploadAction::Send(init) = upload.poll_action(now) else {
        panic!()
    };
    upload.handle_response(init.id, init_answer(4, 1), now);
    let UploadAction::Read { part, .. } = upload.poll_action(now) else {
        panic!()
    };
    upload.handle_read(
        part,
        Err(Error::io("reading a.bin", std::io::Error::other("gone"))),
        now,
    );
    assert!(matches!(
        upload.poll_action(now),
        UploadAction::Done(Err(Error::Io(_)))
    ));
}

#[test]
fn init_and_final_failures_carry_their_codes() {
    let script = Script {
        init: Some(response(500, r#"{"message":"no"}"#)),
        ..Script::default()
    };
    let seen = run(&config(), 4, UploadOptions::new(), script, 4);
    assert!(
        matches!(seen.outcome.unwrap(), Err(Error::Upload(u)) if u.code == UploadErrorCode::InitUploadFailed)
    );
    let script = Script {
        init: Some(response(
            200,
            r#"{"data":{"upload_id":"u","part_size":4,"total_parts":2,"presigned_urls":{"1":"https://s3.test/1"}}}"#,
        )),
        ..Script::default()
    };
    let seen = run(&config(), 8, UploadOptions::new(), script, 4);
    assert!(
        matches!(seen.outcome.unwrap(), Err(Error::Upload(u)) if u.code == UploadErrorCode::MissingPresignedUrl)
    );
    assert!(seen.reads.is_empty());
}

#[test]
fn an_empty_file_reports_0_then_100() {
    let seen = run(&config(), 0, UploadOptions::new(), Script::default(), 4);
    seen.outcome.unwrap().unwrap();
    let percents: Vec<u8> = seen.progress.iter().map(|(p, _)| *p).collect();
    assert_eq!(percents, [0, 100]);
}

#[test]
fn options_that_cannot_work_are_refused_before_anything_is_sent() {
    let now = Instant::now();
    for (options, field, message) in [
        (
            UploadOptions::new().retries(0),
            "retries",
            "retries must be at least 1: it counts the tries of each part, the first one included",
        ),
        (
            UploadOptions::new().concurrency(0),
            "concurrency",
            "concurrency must be at least 1",
        ),
        (
            UploadOptions::new().part_timeout(Duration::ZERO),
            "part_timeout",
            "part_timeout must be at least 1 ms, got 0 ms",
        ),
    ] {
        let error = Upload::new(&config(), "a.bin", 10, &options, now).unwrap_err();
        crate::assert_invalid(error, field, message);
    }
    // One try is allowed: a part is tried once, then the upload fails.
    let mut script = Script::default();
    script
        .parts
        .insert(1, VecDeque::from([Answer::Status(500)]));
    let seen = run(&config(), 4, UploadOptions::new().retries(1), script, 4);
    let error = seen.outcome.unwrap().unwrap_err();
    assert_eq!(
        error.to_string(),
        "Failed after 1 attempts: Upload failed with status 500"
    );
    assert_eq!(seen.sent_parts, [1]);
}
