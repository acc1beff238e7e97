//! The download machine against a storage host whose answers the input chooses, and the
//! part record read back from disk.

use std::time::{Duration, Instant};

use cloud_task_core::http::header::{CONTENT_RANGE, ETAG, IF_RANGE, RANGE};
use cloud_task_core::http::{HeaderValue, StatusCode};
use cloud_task_core::{
    Config, Download, DownloadAction, DownloadOptions, Error, HttpResponse, PartBook, Resume,
    TransportErrorKind,
};

use super::{Input, check_error_text, response};

const URL: &str = "https://files.example/r/1/out.bin?signature=s";
const CHUNK: u64 = 1024;

/// Byte `i` of version `v` of the file.
fn byte_of(v: usize, i: u64) -> u8 {
    (i.wrapping_mul(31).wrapping_add(v as u64 * 97 + 1) % 251) as u8
}

fn version(v: usize, len: u64) -> Vec<u8> {
    (0..len).map(|i| byte_of(v, i)).collect()
}

/// `bytes=s-e` of a request.
fn asked_range(value: &str) -> Option<(u64, u64)> {
    let (s, e) = value.strip_prefix("bytes=")?.split_once('-')?;
    Some((s.parse().ok()?, e.parse().ok()?))
}

/// A storage host serving two versions of a file (of different sizes, ETags `"a"` and
/// `"b"` on every answer, or none at all), switching between them and misbehaving as the
/// input says. It never sends bytes that are not those of the version it names: its lies
/// are about ranges, lengths and statuses, which the client can see.
struct Host<'a> {
    input: Input<'a>,
    files: [Vec<u8>; 2],
    current: usize,
    etags: bool,
    /// A chunk was served with neither its total nor a validator: which version its bytes
    /// are of cannot be told by the client.
    anonymous: bool,
    /// The connection of the last answer breaks after this many bytes of its body (a
    /// streamed feed only).
    cut: Option<usize>,
}

impl Host<'_> {
    fn etag(&self, v: usize) -> Option<&'static str> {
        self.etags.then_some(["\"a\"", "\"b\""][v])
    }

    fn answer(&mut self, request: &cloud_task_core::HttpRequest) -> Result<HttpResponse, Error> {
        let header = |name| {
            request
                .headers()
                .get(name)
                .and_then(|v: &HeaderValue| v.to_str().ok())
        };
        let Some((start, end)) = header(RANGE).and_then(asked_range) else {
            panic!(
                "a chunk was asked for without a valid Range: {:?}",
                request.headers()
            );
        };
        assert_eq!(
            end - start + 1,
            CHUNK,
            "a chunk of another size than the one set"
        );
        let mode = self.input.byte() % 16;
        self.cut = (mode == 15).then(|| usize::from(self.input.byte()) * 5);
        if mode == 9 {
            self.current = 1 - self.current;
        }
        let v = self.current;
        let etag = self.etag(v);
        if mode == 10 && etag.is_none() {
            self.anonymous = true;
        }
        let file = &self.files[v];
        let len = file.len() as u64;
        let answer =
            |status: u16, body: &[u8], range: Option<String>, etag: Option<&'static str>| {
                let mut response =
                    response(StatusCode::from_u16(status).unwrap_or(StatusCode::OK), body);
                if let Some(range) = range.and_then(|r| HeaderValue::from_str(&r).ok()) {
                    response.headers_mut().insert(CONTENT_RANGE, range);
                }
                if let Some(etag) = etag {
                    response
                        .headers_mut()
                        .insert(ETAG, HeaderValue::from_static(etag));
                }
                Ok(response)
            };
        // A stale If-Range: the whole file, as HTTP says.
        if let Some(if_range) = header(IF_RANGE)
            && Some(if_range) != etag
        {
            return answer(200, file, None, etag);
        }
        if mode == 6 {
            return answer(200, file, None, etag);
        }
        if start >= len {
            return answer(416, b"", Some(format!("bytes */{len}")), etag);
        }
        let last = end.min(len - 1);
        let body = &file[start as usize..=last as usize];
        match mode {
            // The range asked, with one more byte than its Content-Range says (of the other
            // version).
            5 => {
                let mut longer = body.to_vec();
                longer.push(byte_of(1 - v, last + 1).wrapping_add(1));
                answer(
                    206,
                    &longer,
                    Some(format!("bytes {start}-{last}/{len}")),
                    etag,
                )
            }
            7 => Err(Error::transport(TransportErrorKind::Io, "reset")),
            8 => answer(500, b"{\"message\":\"busy\"}", None, None),
            10 => answer(206, body, Some(format!("bytes {start}-{last}/*")), etag),
            11 => answer(
                206,
                body,
                Some(format!("bytes {}-{}/{len}", start + 1, last + 1)),
                etag,
            ),
            12 if body.len() > 1 => answer(
                206,
                &body[..body.len() - 1],
                Some(format!("bytes {start}-{last}/{len}")),
                etag,
            ),
            13 => answer(404, b"{\"message\":\"gone\"}", None, None),
            14 if (last + 1) < len => {
                let longer = &file[start as usize..=(last + 1) as usize];
                answer(
                    206,
                    longer,
                    Some(format!("bytes {start}-{}/{len}", last + 1)),
                    etag,
                )
            }
            _ => answer(206, body, Some(format!("bytes {start}-{last}/{len}")), etag),
        }
    }
}

/// Fuzz target: a download of a file the host keeps in two versions, resumed or not, fed
/// the host's answers (ranges served, the whole file again, a version switch, a total
/// unknown, ranges and lengths that lie, a body longer than its range, errors, no
/// validator), whole or streamed (the
/// head first, then the body in pieces of a size the input chooses, some cut midway). The
/// machine writes its chunks in order, from where the file ends; it ends within a bound of
/// requests; and it never reports success for a file that is not one whole version, byte
/// for byte, unless the host sent a chunk with neither its size nor a validator (nothing
/// tells versions apart then). Also reads the input's tail as a part record kept on disk:
/// a resume is only ever after bytes held, under a validator, of the same URL. Answers
/// whether it succeeded.
pub fn download(data: &[u8]) -> bool {
    let mut input = Input::new(data);
    let len_a = u64::from(input.byte()) * 37 % (6 * CHUNK);
    let len_b = len_a + 1 + u64::from(input.byte()) * 23 % (3 * CHUNK);
    let etags = !input.byte().is_multiple_of(4);
    let held = if etags {
        u64::from(input.byte()) * 29 % (len_a + 1)
    } else {
        0
    };
    let tries = input.byte();
    let retries = 1 + u32::from(tries % 4);
    // The high bit of the record's length byte streams the answers, in pieces of a size
    // taken from the tries byte.
    let record_byte = input.byte();
    let record_len = usize::from(record_byte % 128);
    let piece = (record_byte >= 128).then_some(1 + usize::from(tries / 4) * 11);
    let record = input.take(record_len).to_vec();
    part_record(&record, u64::from(input.byte()));
    let config = Config::default();
    let options = DownloadOptions::new().chunk_size(CHUNK).retries(retries);
    let resume = (held > 0).then(|| Resume::new(held, Some("\"a\"".to_owned())));
    let start = Instant::now();
    let mut download = match Download::new(&config, URL, &options, resume, start) {
        Ok(download) => download,
        Err(error) => panic!("a valid download was refused: {error:?}"),
    };
    let mut host = Host {
        input,
        files: [version(0, len_a), version(1, len_b)],
        current: 0,
        etags,
        anonymous: false,
        cut: None,
    };
    // The file on disk: the bytes held from version a.
    let mut file = host.files[0][..held as usize].to_vec();
    let mut now = start;
    let mut sends = 0u64;
    // Every answer either moves the file on by a chunk, restarts it whole, or counts as a
    // failed try (at most `retries` in a row).
    let most = (len_b / CHUNK + 2) * u64::from(retries + 1) * 4 + 8;
    // The end, when a streamed answer's feed met it.
    let mut over = None;
    loop {
        let action = over.take().unwrap_or_else(|| download.poll_action(now));
        match action {
            DownloadAction::Send(transmit) => {
                sends += 1;
                assert!(sends <= most, "more than {most} requests");
                assert!(transmit.request.headers().get("authorization").is_none());
                match (host.answer(&transmit.request), piece) {
                    (Ok(answer), None) => download.handle_response(transmit.id, answer, now),
                    (Ok(answer), Some(piece)) => {
                        let (head, body) = answer.into_parts();
                        if download.head(transmit.id, &head) {
                            let cut = host.cut.take();
                            let id = transmit.id;
                            over = stream(&mut download, &mut file, id, &body, piece, cut, now);
                        } else {
                            let answer = HttpResponse::from_parts(head, body);
                            download.handle_response(transmit.id, answer, now);
                        }
                    }
                    (Err(error), _) => download.handle_transport_error(transmit.id, error, now),
                }
            }
            DownloadAction::Write { offset, bytes } => {
                assert_eq!(offset, file.len() as u64, "a chunk written out of order");
                file.extend_from_slice(&bytes);
            }
            DownloadAction::Restart => file.clear(),
            DownloadAction::Progress { written, total } => {
                assert_eq!(written, file.len() as u64);
                assert!(total.is_none_or(|t| written <= t));
            }
            DownloadAction::Wait(wait) => {
                assert!(!wait.is_zero(), "a zero wait would spin");
                assert!(wait <= Duration::from_secs(60));
                now += wait;
            }
            DownloadAction::Done(Ok(done)) => {
                assert_eq!(done.size, file.len() as u64);
                if !host.anonymous {
                    assert!(
                        file == host.files[0] || file == host.files[1],
                        "success with a file that is not one version of it ({} bytes; versions of {len_a} and {len_b})",
                        file.len()
                    );
                }
                return true;
            }
            DownloadAction::Done(Err(error)) => {
                check_error_text(&error);
                assert!(
                    matches!(
                        error,
                        Error::Protocol(_) | Error::Api(_) | Error::Transport(_)
                    ),
                    "{error:?}"
                );
                return false;
            }
        }
    }
}

/// Feeds `body` to `download` in pieces of `piece` bytes (broken after `cut` bytes when
/// set), doing the writes it hands out meanwhile, as an engine does. Answers the end when
/// the download met it meanwhile (no more of the body is wanted then).
fn stream(
    download: &mut Download,
    file: &mut Vec<u8>,
    id: cloud_task_core::RequestId,
    body: &[u8],
    piece: usize,
    cut: Option<usize>,
    now: Instant,
) -> Option<DownloadAction> {
    let body = &body[..cut.unwrap_or(body.len()).min(body.len())];
    let mut pieces = body.chunks(piece);
    loop {
        // What the machine hands out between two pieces: writes and progress, in order.
        loop {
            match download.poll_action(now) {
                DownloadAction::Write { offset, bytes } => {
                    assert_eq!(offset, file.len() as u64, "a piece written out of order");
                    file.extend_from_slice(&bytes);
                }
                DownloadAction::Restart => file.clear(),
                DownloadAction::Progress { written, total } => {
                    assert_eq!(written, file.len() as u64);
                    assert!(total.is_none_or(|t| written <= t));
                }
                DownloadAction::Wait(_) => break,
                done @ DownloadAction::Done(_) => return Some(done),
                DownloadAction::Send(_) => panic!("a request while a body comes"),
            }
        }
        match pieces.next() {
            Some(piece) => download.body_piece(id, piece),
            None => {
                let end = match cut {
                    Some(_) => Err(Error::transport(TransportErrorKind::Io, "reset midway")),
                    None => Ok(()),
                };
                download.body_end(id, end, now);
                return None;
            }
        }
    }
}

/// A part record read back from `bytes`, for a partial file of `held` bytes: a resume only
/// of this URL (its query aside), after exactly the bytes held, under a validator.
fn part_record(bytes: &[u8], held: u64) {
    let (mut book, resume) = PartBook::open(URL, Some(bytes), Some(held));
    if let Some(resume) = resume {
        assert_eq!(resume.offset, held);
        assert!(held > 0);
        assert!(resume.validator.as_deref().is_some_and(|v| !v.is_empty()));
        let record: serde_json::Value = serde_json::from_slice(bytes).unwrap_or_default();
        assert_eq!(record["url"], "https://files.example/r/1/out.bin");
        assert!(book.keeps_part());
    } else {
        assert!(!book.keeps_part());
    }
    // What it writes back never holds the URL's signature.
    if let Some(json) = book.written(Some("\"v\""), Some(held)) {
        assert!(!String::from_utf8_lossy(&json).contains("signature"));
    }
}
