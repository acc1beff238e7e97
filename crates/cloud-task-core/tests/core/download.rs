//! The download machine against a scripted file server: chunks in order with `Range`,
//! resume with `If-Range`, a file that changed, a server without ranges, retries, and
//! hostile answers, a bound on the size; credentials only to the configured origins.

use std::time::{Duration, Instant};

use cloud_task_core::http::StatusCode;
use cloud_task_core::{
    BODY_PIECE, CancelToken, Config, Download, DownloadAction, DownloadOptions, Downloaded, Error,
    HttpRequest, HttpResponse, Limit, Resume, TransportErrorKind, http,
};

use crate::{config, header};

const ETAG: &str = "\"v1\"";

/// A file server: answers a `Range` with 206 and `Content-Range`, or the whole file with
/// 200 when `ranges` is off or an `If-Range` does not match `etag`.
struct Files {
    data: Vec<u8>,
    etag: &'static str,
    ranges: bool,
}

impl Files {
    /// `len` bytes under the validator [`ETAG`], served in ranges or not.
    fn of(len: usize, ranges: bool) -> Files {
        Files {
            data: data(len),
            etag: ETAG,
            ranges,
        }
    }

    fn answer(&self, request: &HttpRequest) -> HttpResponse {
        let range = header(request.headers(), "range")
            .and_then(|r| r.strip_prefix("bytes="))
            .and_then(|r| r.split_once('-'))
            .map(|(a, b)| (a.parse::<u64>().unwrap(), b.parse::<u64>().unwrap()));
        let if_range_ok = header(request.headers(), "if-range").is_none_or(|v| v == self.etag);
        let len = self.data.len() as u64;
        match range {
            Some((start, _)) if self.ranges && if_range_ok && start >= len => {
                http::Response::builder()
                    .status(416)
                    .header("content-range", format!("bytes */{len}"))
                    .body(Vec::new())
                    .unwrap()
            }
            Some((start, end)) if self.ranges && if_range_ok => {
                let end = end.min(len - 1);
                http::Response::builder()
                    .status(206)
                    .header("content-range", format!("bytes {start}-{end}/{len}"))
                    .header("etag", self.etag)
                    .header("content-type", "text/plain")
                    .body(self.data[start as usize..=end as usize].to_vec())
                    .unwrap()
            }
            _ => http::Response::builder()
                .status(200)
                .header("etag", self.etag)
                .body(self.data.clone())
                .unwrap(),
        }
    }
}

/// What a download did.
#[derive(Debug, Default)]
struct Seen {
    file: Vec<u8>,
    requests: Vec<HttpRequest>,
    restarts: usize,
    progress: Vec<(u64, Option<u64>)>,
    waits: Vec<Duration>,
    /// The length of each write.
    writes: Vec<usize>,
}

/// How a test feeds the machine its answers.
#[derive(Debug, Clone, Copy)]
enum Feed {
    /// Each answer whole ([`Download::handle_response`]).
    Gathered,
    /// Each answer's head first ([`Download::head`]), then its body in pieces of `piece`
    /// bytes; answer number `cut.0` (from 0) stops with a broken connection after `cut.1`
    /// bytes of its body.
    Streamed {
        piece: usize,
        cut: Option<(usize, usize)>,
    },
}

/// Runs a download against `serve`, its answers fed whole, then again (against a fresh
/// clone of `serve`) with each piece size of a streamed feed: each of those must end the same way (an equal outcome, file,
/// request list and progress when it succeeds; the same kind of error when it fails, with
/// at least the bytes the whole feed wrote, in place). Answers the whole feed's run.
fn run(
    config: &Config,
    url: &str,
    options: DownloadOptions,
    resume: Option<(Vec<u8>, Option<String>)>,
    serve: impl FnMut(&HttpRequest) -> Result<HttpResponse, Error> + Clone,
) -> (Seen, Result<Downloaded, Error>) {
    let whole = run_fed(
        Feed::Gathered,
        config,
        url,
        options.clone(),
        resume.clone(),
        serve.clone(),
    );
    for piece in [1, 7, 1000, usize::MAX] {
        let feed = Feed::Streamed { piece, cut: None };
        let streamed = run_fed(
            feed,
            config,
            url,
            options.clone(),
            resume.clone(),
            serve.clone(),
        );
        match (&whole.1, &streamed.1) {
            (Ok(a), Ok(b)) => {
                assert_eq!(a, b, "{feed:?}");
                assert!(
                    whole.0.file == streamed.0.file,
                    "{feed:?}: the files differ"
                );
                assert_eq!(ranges(&whole.0), ranges(&streamed.0), "{feed:?}");
                assert_eq!(whole.0.progress, streamed.0.progress, "{feed:?}");
                assert_eq!(whole.0.restarts, streamed.0.restarts, "{feed:?}");
            }
            (Err(a), Err(b)) => {
                assert_eq!(
                    std::mem::discriminant(a),
                    std::mem::discriminant(b),
                    "{feed:?}: {a:?} against {b:?}"
                );
                assert!(
                    streamed.0.file.starts_with(&whole.0.file),
                    "{feed:?}: a streamed feed lost or moved bytes"
                );
            }
            (a, b) => panic!("{feed:?}: {a:?} against {b:?}"),
        }
    }
    whole
}

/// Runs a download against `serve`, fed as `feed` says.
fn run_fed(
    feed: Feed,
    config: &Config,
    url: &str,
    options: DownloadOptions,
    resume: Option<(Vec<u8>, Option<String>)>,
    mut serve: impl FnMut(&HttpRequest) -> Result<HttpResponse, Error>,
) -> (Seen, Result<Downloaded, Error>) {
    let start = Instant::now();
    let mut now = start;
    let mut seen = Seen::default();
    let resume = resume.map(|(held, validator)| {
        let offset = held.len() as u64;
        seen.file = held;
        Resume::new(offset, validator)
    });
    let mut download = Download::new(config, url, &options, resume, now).unwrap();
    let mut answers = 0;
    for _ in 0..100_000 {
        match download.poll_action(now) {
            DownloadAction::Send(t) => {
                assert!(t.streams_body, "a download's chunks can be streamed");
                let answer = serve(&t.request);
                seen.requests.push(t.request);
                match (answer, feed) {
                    (Err(e), _) => download.handle_transport_error(t.id, e, now),
                    (Ok(r), Feed::Gathered) => download.handle_response(t.id, r, now),
                    (Ok(r), Feed::Streamed { piece, cut }) => {
                        let (head, body) = r.into_parts();
                        if !download.head(t.id, &head) {
                            download.handle_response(
                                t.id,
                                HttpResponse::from_parts(head, body),
                                now,
                            );
                            continue;
                        }
                        let this = answers;
                        answers += 1;
                        let (body, broken) = match cut {
                            Some((at, after)) if at == this => {
                                (&body[..after.min(body.len())], true)
                            }
                            _ => (&body[..], false),
                        };
                        // Each piece is fed once the machine waits for one: the writes it
                        // hands out meanwhile are done first, as an engine does.
                        let mut pieces = body.chunks(piece.max(1));
                        loop {
                            match download.poll_action(now) {
                                DownloadAction::Wait(_) => {}
                                DownloadAction::Write { offset, bytes } => {
                                    assert_eq!(
                                        offset,
                                        seen.file.len() as u64,
                                        "writes come in order"
                                    );
                                    seen.writes.push(bytes.len());
                                    seen.file.extend_from_slice(&bytes);
                                    continue;
                                }
                                DownloadAction::Restart => {
                                    seen.restarts += 1;
                                    seen.file.clear();
                                    continue;
                                }
                                DownloadAction::Progress { written, total } => {
                                    seen.progress.push((written, total));
                                    continue;
                                }
                                DownloadAction::Done(outcome) => return (seen, outcome),
                                DownloadAction::Send(_) => panic!("a request while a body comes"),
                            }
                            match pieces.next() {
                                Some(piece) => download.body_piece(t.id, piece),
                                None if broken => {
                                    let error = Error::transport(
                                        TransportErrorKind::Io,
                                        "connection reset",
                                    );
                                    download.body_end(t.id, Err(error), now);
                                    break;
                                }
                                None => {
                                    download.body_end(t.id, Ok(()), now);
                                    break;
                                }
                            }
                        }
                    }
                }
            }
            DownloadAction::Write { offset, bytes } => {
                assert_eq!(offset, seen.file.len() as u64, "writes come in order");
                assert!(
                    !bytes.is_empty() || offset == 0,
                    "no empty write but an empty file's"
                );
                seen.writes.push(bytes.len());
                seen.file.extend_from_slice(&bytes);
            }
            DownloadAction::Restart => {
                seen.restarts += 1;
                seen.file.clear();
            }
            DownloadAction::Progress { written, total } => seen.progress.push((written, total)),
            DownloadAction::Wait(d) => {
                seen.waits.push(d);
                now += d;
            }
            DownloadAction::Done(outcome) => return (seen, outcome),
        }
    }
    panic!("the download never ended");
}

fn data(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 7 % 251) as u8).collect()
}

fn ranges(seen: &Seen) -> Vec<String> {
    seen.requests
        .iter()
        .map(|r| header(r.headers(), "range").unwrap_or("-").to_owned())
        .collect()
}

fn chunks_of_1k() -> DownloadOptions {
    DownloadOptions::new().chunk_size(1024)
}

#[test]
fn a_file_comes_chunk_by_chunk_in_order() {
    let files = Files::of(2560, true);
    let (seen, outcome) = run(
        &config(),
        "https://files.test/r/out.txt",
        chunks_of_1k(),
        None,
        |r| Ok(files.answer(r)),
    );
    let done = outcome.unwrap();
    assert_eq!(seen.file, files.data);
    assert_eq!(done.size, 2560);
    assert_eq!(done.validator.as_deref(), Some(ETAG));
    assert_eq!(done.content_type.as_deref(), Some("text/plain"));
    assert_eq!(
        ranges(&seen),
        ["bytes=0-1023", "bytes=1024-2047", "bytes=2048-3071"]
    );
    // After the first chunk, each asks `If-Range` with the file's validator.
    let if_range: Vec<_> = seen
        .requests
        .iter()
        .map(|r| header(r.headers(), "if-range"))
        .collect();
    assert_eq!(if_range, [None, Some(ETAG), Some(ETAG)]);
    assert_eq!(
        seen.progress,
        [(1024, Some(2560)), (2048, Some(2560)), (2560, Some(2560))]
    );
}

#[test]
fn a_partial_file_resumes_where_it_stopped_unless_the_file_changed() {
    let files = Files::of(3000, true);
    let held = files.data[..1000].to_vec();
    let (seen, outcome) = run(
        &config(),
        "https://files.test/r/out.txt",
        chunks_of_1k(),
        Some((held, Some(ETAG.to_owned()))),
        |r| Ok(files.answer(r)),
    );
    outcome.unwrap();
    assert_eq!(seen.file, files.data);
    assert_eq!(ranges(&seen)[0], "bytes=1000-2023");
    assert_eq!(header(seen.requests[0].headers(), "if-range"), Some(ETAG));
    assert_eq!(seen.restarts, 0);

    // The file changed since: the server sends it whole, the partial bytes are dropped.
    let (seen, outcome) = run(
        &config(),
        "https://files.test/r/out.txt",
        chunks_of_1k(),
        Some((vec![0; 1000], Some("\"old\"".to_owned()))),
        |r| Ok(files.answer(r)),
    );
    outcome.unwrap();
    assert_eq!(seen.restarts, 1);
    assert_eq!(seen.file, files.data);

    // Resumed when it was already whole: nothing more is written.
    let (seen, outcome) = run(
        &config(),
        "https://files.test/r/out.txt",
        chunks_of_1k(),
        Some((files.data.clone(), Some(ETAG.to_owned()))),
        |r| Ok(files.answer(r)),
    );
    assert_eq!(outcome.unwrap().size, 3000);
    assert_eq!(seen.file, files.data);
    assert_eq!(seen.requests.len(), 1);
}

#[test]
fn a_server_without_ranges_sends_the_file_whole() {
    let files = Files::of(1500, false);
    let (seen, outcome) = run(
        &config(),
        "https://files.test/x",
        chunks_of_1k(),
        None,
        |r| Ok(files.answer(r)),
    );
    assert_eq!(outcome.unwrap().size, 1500);
    assert_eq!(seen.file, files.data);
    assert_eq!(seen.requests.len(), 1);
}

#[test]
fn failed_tries_are_retried_with_waits_and_other_statuses_end_it() {
    let files = &Files::of(2048, true);
    let mut count = 0;
    let (seen, outcome) = run(
        &config(),
        "https://files.test/x",
        chunks_of_1k(),
        None,
        move |r| {
            count += 1;
            match count {
                2 => Ok(crate::response(503, "")),
                3 => Err(Error::transport(
                    TransportErrorKind::Io,
                    std::io::Error::other("reset"),
                )),
                _ => Ok(files.answer(r)),
            }
        },
    );
    outcome.unwrap();
    assert_eq!(seen.file, files.data);
    assert_eq!(seen.waits, [Duration::from_secs(1), Duration::from_secs(2)]);

    let (seen, outcome) = run(
        &config(),
        "https://files.test/x",
        chunks_of_1k(),
        None,
        |_| Ok(crate::response(404, r#"{"message":"gone"}"#)),
    );
    assert!(
        matches!(&outcome, Err(Error::Api(e)) if e.status == StatusCode::NOT_FOUND),
        "{outcome:?}"
    );
    assert_eq!(seen.requests.len(), 1);

    let (seen, outcome) = run(
        &config(),
        "https://files.test/x",
        chunks_of_1k().retries(2),
        None,
        |_| Ok(crate::response(500, "")),
    );
    assert!(matches!(&outcome, Err(Error::Api(_))), "{outcome:?}");
    assert_eq!(seen.requests.len(), 2);
}

#[test]
fn a_hostile_server_cannot_splice_overfill_or_dribble_a_chunk() {
    let answers: [(&str, Vec<u8>); 4] = [
        ("bytes 5-1028/4000", vec![0; 1024]), // another range than asked
        ("bytes 0-1999/4000", vec![0; 2000]), // more than a chunk
        ("bytes 0-9/4000", vec![0; 10]),      // a request per few bytes
        ("nonsense", vec![0; 10]),
    ];
    for (range, body) in answers {
        let (seen, outcome) = run(
            &config(),
            "https://files.test/x",
            chunks_of_1k(),
            None,
            |_| {
                Ok(http::Response::builder()
                    .status(206)
                    .header("content-range", range)
                    .body(body.clone())
                    .unwrap())
            },
        );
        assert!(
            matches!(outcome, Err(Error::Protocol(_))),
            "{range}: {outcome:?}"
        );
        assert!(seen.file.is_empty(), "{range}: nothing is written");
    }
    // A file whose validator changes between two chunks is not spliced, even when the
    // server ignores `If-Range` and answers the new version's range.
    let mut count = 0;
    let (seen, outcome) = run(
        &config(),
        "https://files.test/x",
        chunks_of_1k(),
        None,
        move |r| {
            count += 1;
            let etag = if count == 1 { "\"a\"" } else { "\"b\"" };
            let (start, end) = ranges_of(r);
            Ok(http::Response::builder()
                .status(206)
                .header("content-range", format!("bytes {start}-{end}/4000"))
                .header("etag", etag)
                .body(vec![1; (end - start + 1) as usize])
                .unwrap())
        },
    );
    match &outcome {
        Err(Error::Protocol(p)) => assert!(p.message.contains("changed"), "{p:?}"),
        other => panic!("{other:?}"),
    }
    assert_eq!(
        seen.file.len(),
        1024,
        "only the first version's chunk was written"
    );
    // Without any validator, a total that changes between two chunks is two versions of
    // the file: the second chunk is refused, not spliced after the first.
    let mut count = 0;
    let (seen, outcome) = run(
        &config(),
        "https://files.test/x",
        chunks_of_1k(),
        None,
        move |r| {
            count += 1;
            let total = if count == 1 { 4000 } else { 5000 };
            let (start, end) = ranges_of(r);
            Ok(http::Response::builder()
                .status(206)
                .header("content-range", format!("bytes {start}-{end}/{total}"))
                .body(vec![1; (end - start + 1) as usize])
                .unwrap())
        },
    );
    match &outcome {
        Err(Error::Protocol(p)) => assert!(p.message.contains("size changed"), "{p:?}"),
        other => panic!("{other:?}"),
    }
    assert_eq!(seen.file.len(), 1024, "only the first chunk was written");
}

/// The range a request asks for.
fn ranges_of(request: &HttpRequest) -> (u64, u64) {
    let (a, b) = header(request.headers(), "range")
        .and_then(|r| r.strip_prefix("bytes="))
        .and_then(|r| r.split_once('-'))
        .unwrap();
    (a.parse().unwrap(), b.parse().unwrap())
}

#[test]
fn credentials_go_only_to_the_configured_origins() {
    let files = Files::of(10, true);
    let config = Config::builder()
        .api_key(crate::KEY)
        .base_url("https://api.test")
        .default_header("x-team", "research")
        .build()
        .unwrap();
    for (url, credentials) in [
        ("https://api.test/files/out.txt", true),
        ("https://storage.test/out.txt?sig=1", false),
        ("http://api.test/files/out.txt", false),
    ] {
        let (seen, outcome) = run(&config, url, chunks_of_1k(), None, |r| Ok(files.answer(r)));
        outcome.unwrap();
        let h = seen.requests[0].headers();
        assert_eq!(h.contains_key("authorization"), credentials, "{url}");
        assert_eq!(h.contains_key("x-team"), credentials, "{url}");
        assert!(h.contains_key("user-agent"), "{url}");
    }
}

#[test]
fn bad_input_and_a_cancel() {
    let now = Instant::now();
    for (url, options, field) in [
        ("ftp://x/y", DownloadOptions::new(), "url"),
        ("not a url", DownloadOptions::new(), "url"),
        (
            "https://x/y",
            DownloadOptions::new().chunk_size(10),
            "chunk_size",
        ),
        (
            "https://x/y",
            DownloadOptions::new().chunk_size(u64::MAX),
            "chunk_size",
        ),
        ("https://x/y", DownloadOptions::new().retries(0), "retries"),
    ] {
        let error = Download::new(&config(), url, &options, None, now).unwrap_err();
        assert!(
            matches!(&error, Error::InvalidInput(e) if e.field == field),
            "{url}: {error:?}"
        );
    }
    let token = CancelToken::new();
    token.cancel();
    let (seen, outcome) = run(
        &config(),
        "https://files.test/x",
        DownloadOptions::new().cancel_token(token),
        None,
        |_| unreachable!("nothing is sent"),
    );
    assert!(matches!(outcome, Err(Error::Cancelled(_))));
    assert!(seen.requests.is_empty());
}

/// The bound `max_size` sets, whatever the server says or does not say.
#[test]
fn max_size_bounds_what_a_server_can_write() {
    fn limit(outcome: &Result<Downloaded, Error>, max: u64) {
        match outcome {
            Err(Error::Limit(l)) => {
                assert_eq!((l.limit, l.max), (Limit::DownloadSize, max), "{l}");
                assert!(l.to_string().contains("max_size"), "{l}");
            }
            other => panic!("{other:?}"),
        }
    }
    let url = "https://files.test/x";
    // A known size over the bound: refused at the first answer, nothing written.
    let files = Files::of(4000, true);
    let (seen, outcome) = run(&config(), url, chunks_of_1k().max_size(3999), None, |r| {
        Ok(files.answer(r))
    });
    limit(&outcome, 3999);
    assert!(seen.file.is_empty() && seen.requests.len() == 1, "{seen:?}");
    // Exactly the bound is whole.
    let (seen, outcome) = run(&config(), url, chunks_of_1k().max_size(4000), None, |r| {
        Ok(files.answer(r))
    });
    assert_eq!(outcome.unwrap().size, 4000);
    assert_eq!(seen.file, data(4000));
    // The whole file in one answer (no ranges): the same bound.
    let whole = Files::of(4000, false);
    let (seen, outcome) = run(&config(), url, chunks_of_1k().max_size(3000), None, |r| {
        Ok(whole.answer(r))
    });
    limit(&outcome, 3000);
    assert!(seen.file.is_empty());
    // An endless file of unknown size (`bytes a-b/*`): it stops at the chunk that would
    // pass the bound, having written no more than it.
    let (seen, outcome) = run(&config(), url, chunks_of_1k().max_size(10_000), None, |r| {
        let (start, end) = ranges_of(r);
        Ok(http::Response::builder()
            .status(206)
            .header("content-range", format!("bytes {start}-{end}/*"))
            .body(vec![7; (end - start + 1) as usize])
            .unwrap())
    });
    limit(&outcome, 10_000);
    assert_eq!(seen.file.len(), 9 * 1024, "the chunks under the bound");
    assert_eq!(seen.requests.len(), 10);
    // Without the option, the same server is read past it.
    let mut answers = 0;
    let (seen, outcome) = run(&config(), url, chunks_of_1k(), None, move |r| {
        answers += 1;
        let (start, end) = ranges_of(r);
        let end = if answers == 20 { start + 9 } else { end };
        Ok(http::Response::builder()
            .status(206)
            .header("content-range", format!("bytes {start}-{end}/*"))
            .body(vec![7; (end - start + 1) as usize])
            .unwrap())
    });
    assert_eq!(outcome.unwrap().size, 19 * 1024 + 10);
    assert_eq!(seen.file.len(), 19 * 1024 + 10);
    assert_eq!(DownloadOptions::new().get_max_size(), None);
}

/// A head of `status` with these headers.
fn head_of(status: u16, headers: &[(&str, &str)]) -> http::response::Parts {
    let mut builder = http::Response::builder().status(status);
    for (name, value) in headers {
        builder = builder.header(*name, *value);
    }
    builder.body(()).unwrap().into_parts().0
}

/// A download of `https://files.test/r/out.bin` and its first request.
fn started(options: &DownloadOptions, now: Instant) -> (Download, cloud_task_core::Transmit) {
    let mut download = Download::new(
        &config(),
        "https://files.test/r/out.bin",
        options,
        None,
        now,
    )
    .unwrap();
    match download.poll_action(now) {
        DownloadAction::Send(t) => (download, t),
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_streamed_chunk_is_handed_out_in_pieces_of_body_piece() {
    let files = Files::of(2_500_000, true);
    let options = DownloadOptions::new().chunk_size(2 << 20);
    let feed = Feed::Streamed {
        piece: 1000,
        cut: None,
    };
    let (seen, outcome) = run_fed(
        feed,
        &config(),
        "https://files.test/r/out.bin",
        options,
        None,
        |r| Ok(files.answer(r)),
    );
    assert_eq!(outcome.unwrap().size, 2_500_000);
    assert!(seen.file == files.data, "the bytes differ");
    // What the machine holds is bounded by BODY_PIECE (and the piece that reaches it), not
    // by the chunk: the first chunk (2 MiB) is handed out once 1 MiB has come and at its
    // end; the last 402,848 bytes at theirs.
    assert_eq!(seen.writes.len(), 3, "{:?}", seen.writes);
    assert!(
        (BODY_PIECE..BODY_PIECE + 1000).contains(&seen.writes[0]),
        "{:?}",
        seen.writes
    );
    assert_eq!(seen.writes[0] + seen.writes[1], 2 << 20);
    assert_eq!(seen.writes[2], 402_848);
    assert_eq!(
        seen.progress.len(),
        2,
        "one report per chunk: {:?}",
        seen.progress
    );
}

#[test]
fn a_body_cut_short_keeps_its_bytes_and_the_next_try_asks_for_the_rest() {
    let files = Files::of(5000, true);
    // The second answer breaks after 150 bytes of its body.
    let feed = Feed::Streamed {
        piece: 100,
        cut: Some((1, 150)),
    };
    let (seen, outcome) = run_fed(
        feed,
        &config(),
        "https://files.test/r/out.bin",
        chunks_of_1k(),
        None,
        |r| Ok(files.answer(r)),
    );
    assert_eq!(outcome.unwrap().size, 5000);
    assert!(seen.file == files.data, "the bytes differ");
    assert_eq!(
        ranges(&seen),
        [
            "bytes=0-1023",
            "bytes=1024-2047",
            "bytes=1174-2197",
            "bytes=2198-3221",
            "bytes=3222-4245",
            "bytes=4246-5269"
        ]
    );
    assert_eq!(seen.progress[..2], [(1024, Some(5000)), (1174, Some(5000))]);
    assert_eq!(
        seen.waits.len(),
        1,
        "one wait before the retry: {:?}",
        seen.waits
    );

    // Cut on every try: the tries are bounded, and what came is kept.
    let feed = Feed::Streamed {
        piece: 100,
        cut: Some((0, 10)),
    };
    let mut answers = 0;
    let (seen, outcome) = run_fed(
        feed,
        &config(),
        "https://files.test/r/out.bin",
        chunks_of_1k().retries(1),
        None,
        |r| {
            answers += 1;
            Ok(files.answer(r))
        },
    );
    assert!(matches!(outcome, Err(Error::Transport(_))), "{outcome:?}");
    assert_eq!(answers, 1);
    assert_eq!(seen.file, files.data[..10]);
}

#[test]
fn a_head_is_checked_before_a_byte_of_its_body_is_taken() {
    let now = Instant::now();
    let options = chunks_of_1k();
    // Another range than the one asked: taken (its body is not wanted), and the end.
    let (mut download, t) = started(&options, now);
    let head = head_of(206, &[("content-range", "bytes 5-1028/5000")]);
    assert!(download.head(t.id, &head));
    download.body_piece(t.id, &[1; 1024]);
    match download.poll_action(now) {
        DownloadAction::Done(Err(Error::Protocol(p))) => {
            assert!(p.to_string().contains("another range"), "{p}");
        }
        other => panic!("{other:?}"),
    }
    // A redirect, an error, or another request's head is for handle_response.
    let (mut download, t) = started(&options, now);
    let redirect = head_of(302, &[("location", "/r/elsewhere.bin")]);
    assert!(!download.head(t.id, &redirect));
    let (_, other) = started(&options, now);
    assert!(!download.head(other.id, &head_of(206, &[])));
    assert!(!download.head(t.id, &head_of(500, &[])));
    // A whole file announced larger than the bound: refused before a byte is written.
    let bounded = chunks_of_1k().max_size(100);
    let (mut download, t) = started(&bounded, now);
    assert!(download.head(t.id, &head_of(200, &[("content-length", "5000")])));
    match download.poll_action(now) {
        DownloadAction::Done(Err(Error::Limit(limit))) => {
            assert_eq!(limit.limit, Limit::DownloadSize);
        }
        other => panic!("{other:?}"),
    }
}

/// Feeds `piece` to the body of `t`'s answer again and again, doing the writes handed out,
/// until the download ends with an error (within 10,000 pieces): the bytes written, and
/// that error.
fn feed_until_it_ends(
    download: &mut Download,
    t: &cloud_task_core::Transmit,
    piece: &[u8],
    now: Instant,
) -> (usize, Error) {
    let mut written = 0;
    for _ in 0..10_000 {
        download.body_piece(t.id, piece);
        loop {
            match download.poll_action(now) {
                DownloadAction::Write { bytes, .. } => written += bytes.len(),
                DownloadAction::Wait(_) => break,
                DownloadAction::Done(Err(error)) => return (written, error),
                other => panic!("{other:?}"),
            }
        }
    }
    panic!("the download took 10,000 pieces without ending");
}

#[test]
fn a_body_past_what_it_announced_or_the_bound_ends_the_download() {
    let now = Instant::now();
    // A 206 of 100 bytes whose body goes on: what fit is kept, then the end.
    let (mut download, t) = started(&chunks_of_1k(), now);
    let head = head_of(206, &[("content-range", "bytes 0-99/100")]);
    assert!(download.head(t.id, &head));
    let (written, error) = feed_until_it_ends(&mut download, &t, &[7; 60], now);
    assert_eq!(written, 60);
    assert!(
        error.to_string().contains("longer than it announced"),
        "{error}"
    );

    // A whole file of unknown size, past the bound: at most the bound is written.
    let bounded = chunks_of_1k().max_size(1000);
    let (mut download, t) = started(&bounded, now);
    assert!(download.head(t.id, &head_of(200, &[])));
    let (written, error) = feed_until_it_ends(&mut download, &t, &[7; 400], now);
    assert!(written <= 1000, "{written}");
    assert!(matches!(error, Error::Limit(_)), "{error:?}");

    // A whole file streamed past the configuration's largest answer: the limit of a
    // gathered answer, whatever the transport lets through.
    let small = Config::builder()
        .api_key("k")
        .max_response_body(2048)
        .build()
        .unwrap();
    let mut download =
        Download::new(&small, "https://files.test/x", &chunks_of_1k(), None, now).unwrap();
    let DownloadAction::Send(t) = download.poll_action(now) else {
        panic!("a request first");
    };
    assert!(download.head(t.id, &head_of(200, &[])));
    let (written, error) = feed_until_it_ends(&mut download, &t, &[7; 1000], now);
    assert_eq!(written, 2000, "the pieces within the limit are kept");
    match error {
        Error::Limit(limit) => assert_eq!((limit.limit, limit.max), (Limit::ResponseBody, 2048)),
        other => panic!("{other:?}"),
    }

    // A body that ends short of its Content-Range is broken (its bytes are kept).
    let (mut download, t) = started(&chunks_of_1k(), now);
    assert!(download.head(t.id, &head_of(206, &[("content-range", "bytes 0-99/100")])));
    download.body_piece(t.id, &[7; 30]);
    download.body_end(t.id, Ok(()), now);
    assert!(matches!(
        download.poll_action(now),
        DownloadAction::Write { offset: 0, ref bytes } if bytes.len() == 30
    ));
    match download.poll_action(now) {
        DownloadAction::Done(Err(Error::Protocol(p))) => {
            assert!(p.to_string().contains("shorter than it announced"), "{p}");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_body_that_stalls_is_given_up_at_its_deadline_and_tried_again() {
    let now = Instant::now();
    let (mut download, t) = started(&chunks_of_1k(), now);
    assert!(download.head(
        t.id,
        &head_of(206, &[("content-range", "bytes 0-1023/5000")])
    ));
    download.body_piece(t.id, &[7; 10]);
    let wait = match download.poll_action(now) {
        DownloadAction::Wait(wait) => wait,
        other => panic!("{other:?}"),
    };
    assert_eq!(wait, config().timeout(), "the request's deadline");
    // At the deadline: the 10 bytes are written, and the try failed.
    let late = now + wait;
    assert!(matches!(
        download.poll_action(late),
        DownloadAction::Write { offset: 0, .. }
    ));
    assert!(matches!(
        download.poll_action(late),
        DownloadAction::Progress { written: 10, .. }
    ));
    let retry = match download.poll_action(late) {
        DownloadAction::Wait(retry) => retry,
        other => panic!("{other:?}"),
    };
    // A piece of the body given up is ignored.
    download.body_piece(t.id, &[7; 10]);
    match download.poll_action(late + retry) {
        DownloadAction::Send(again) => {
            assert_eq!(
                header(again.request.headers(), "range"),
                Some("bytes=10-1033")
            );
        }
        other => panic!("{other:?}"),
    }
}
