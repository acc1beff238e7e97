//! A hostile (or broken) server on loopback: each [`Mode`] is one way a server can try to
//! make a client buffer without end, wait past its deadline, loop, or leak a secret.
//!
//! Every mode answers every request the same way (paths matter only where a mode says
//! so), one request per connection. The server only ever listens on `127.0.0.1`, and
//! everything it does is bounded so that it stops by itself: an endless body stops when
//! the client hangs up, when the server is dropped, after [`MAX_STREAM`] bytes or after
//! [`MAX_CONNECTION_TIME`]; a hung answer ends when the server is dropped or after
//! [`MAX_CONNECTION_TIME`].
//!
//! ```
//! use cloud_task_qa::hostile::{Hostile, Mode};
//! let server = Hostile::start(Mode::Status(422))?;
//! let (status, _) = cloud_task_qa::loopback::get(server.addr(), "/v3/users/me/dashboard")?;
//! assert_eq!(status, 422);
//! assert_eq!(server.requests(), 1);
//! # Ok::<(), std::io::Error>(())
//! ```

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// The most bytes one endless or huge body streams: 16 GiB.
pub const MAX_STREAM: u64 = 16 << 30;
/// The longest one connection is served (streamed or held): 2 minutes.
pub const MAX_CONNECTION_TIME: Duration = Duration::from_secs(120);

/// How the server misbehaves.
#[derive(Debug, Clone)]
pub enum Mode {
    /// `200`, chunked, a JSON body that never ends (`{"limits":` and then spaces).
    EndlessBody,
    /// `200` announcing `Content-Length: len` and streaming that many bytes (a JSON
    /// prefix, then spaces): a body too large to hold.
    HugeBody {
        /// The body's length.
        len: u64,
        /// When true, no `Content-Length`: the body is chunked, so only reading tells.
        chunked: bool,
    },
    /// `200` with a complete body of `len` bytes that is not JSON (for decode errors).
    Garbage {
        /// The body's length.
        len: usize,
    },
    /// Reads the request and never answers (until the server is dropped).
    Hang,
    /// Sends the status line and headers of a `200`, then never the body.
    HangAfterHead,
    /// Every request answered with this status and `{"message": "hostile <status>"}`.
    Status(u16),
    /// The task list: each page's `nextToken` is the next of `tokens`, going round
    /// (a -> b -> a); each page holds one task unless `empty`.
    TokenCycle {
        /// The tokens, in order; after the last comes the first again.
        tokens: Vec<String>,
        /// Pages hold no task.
        empty: bool,
    },
    /// The task list: every page empty, with a token never seen before.
    EndlessPages,
    /// Every request redirected with `status` to the same path on `to` (another origin).
    Redirect {
        /// 301, 302, 303, 307 or 308.
        status: u16,
        /// The other origin, e.g. `http://localhost:1234`.
        to: String,
    },
    /// The upload API asking for one part as large as the file (`size` bytes): `init`
    /// answers one presigned URL on this server, a `PUT` there is drained and answered
    /// `200`, the final URL call answers a file.
    OnePartUpload {
        /// The file size the client will announce.
        size: u64,
    },
    /// The result of every task: `running` for `polls` answers, then `success`.
    RunningThenSuccess {
        /// How many answers say `running`.
        polls: u64,
    },
}

/// A request as the server saw it (its body is not kept).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Seen {
    /// `GET`, `PUT`, ...
    pub method: String,
    /// Path and query.
    pub target: String,
    /// Every header, names lower-cased.
    pub headers: Vec<(String, String)>,
    /// How many body bytes it carried.
    pub body_len: u64,
}

impl Seen {
    /// The first value of header `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.as_str())
    }
}

#[derive(Default)]
struct Shared {
    requests: AtomicU64,
    bytes_sent: AtomicU64,
    seen: Mutex<Vec<Seen>>,
    answers: AtomicU64,
    stop: AtomicBool,
}

/// A hostile server on `127.0.0.1` and a free port; it stops when dropped.
pub struct Hostile {
    addr: SocketAddr,
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
}

impl Hostile {
    /// Starts serving `mode`.
    pub fn start(mode: Mode) -> io::Result<Hostile> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared::default());
        let thread = {
            let shared = Arc::clone(&shared);
            std::thread::Builder::new()
                .name(format!("hostile-{}", addr.port()))
                .spawn(move || accept(&listener, addr, &mode, &shared))?
        };
        Ok(Hostile {
            addr,
            shared,
            thread: Some(thread),
        })
    }

    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// How many requests arrived (their heads were read).
    pub fn requests(&self) -> u64 {
        self.shared.requests.load(Ordering::SeqCst)
    }

    /// How many body bytes the server managed to write, in all.
    pub fn bytes_sent(&self) -> u64 {
        self.shared.bytes_sent.load(Ordering::SeqCst)
    }

    /// Every request seen so far, in order.
    pub fn seen(&self) -> Vec<Seen> {
        self.shared
            .seen
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

impl Drop for Hostile {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_secs(1));
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn accept(listener: &TcpListener, addr: SocketAddr, mode: &Mode, shared: &Arc<Shared>) {
    for stream in listener.incoming() {
        if shared.stop.load(Ordering::SeqCst) {
            return;
        }
        let Ok(stream) = stream else { continue };
        let shared = Arc::clone(shared);
        let mode = mode.clone();
        let _ = std::thread::Builder::new().spawn(move || {
            let _ = serve(stream, addr, &mode, &shared);
        });
    }
}

/// True while a connection may go on.
fn alive(shared: &Shared, started: Instant) -> bool {
    !shared.stop.load(Ordering::SeqCst) && started.elapsed() < MAX_CONNECTION_TIME
}

fn serve(stream: TcpStream, addr: SocketAddr, mode: &Mode, shared: &Shared) -> io::Result<()> {
    let started = Instant::now();
    stream.set_read_timeout(Some(Duration::from_millis(200)))?;
    let mut reader = BufReader::new(stream.try_clone()?);
    let Some(seen) = read_request(&mut reader, shared, started)? else {
        return Ok(());
    };
    shared.requests.fetch_add(1, Ordering::SeqCst);
    shared
        .seen
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .push(seen.clone());
    let mut stream = stream;
    stream.set_nodelay(true)?;
    match mode {
        Mode::EndlessBody => {
            head(&mut stream, 200, &[("Transfer-Encoding", "chunked")])?;
            stream_body(&mut stream, shared, started, MAX_STREAM, true)
        }
        Mode::HugeBody { len, chunked } => {
            if *chunked {
                head(&mut stream, 200, &[("Transfer-Encoding", "chunked")])?;
            } else {
                head(&mut stream, 200, &[("Content-Length", &len.to_string())])?;
            }
            stream_body(
                &mut stream,
                shared,
                started,
                (*len).min(MAX_STREAM),
                *chunked,
            )
        }
        Mode::Garbage { len } => {
            let body = vec![b'#'; *len];
            reply(&mut stream, shared, 200, &[], &body)
        }
        Mode::Hang => {
            hold(shared, started);
            Ok(())
        }
        Mode::HangAfterHead => {
            head(&mut stream, 200, &[("Content-Length", "100")])?;
            hold(shared, started);
            Ok(())
        }
        Mode::Status(status) => {
            let body = format!(r#"{{"message":"hostile {status}"}}"#);
            reply(&mut stream, shared, *status, &[], body.as_bytes())
        }
        Mode::TokenCycle { tokens, empty } => {
            let current = query_value(&seen.target, "nextToken");
            let at = current
                .and_then(|t| tokens.iter().position(|k| *k == t))
                .map_or(0, |i| (i + 1) % tokens.len().max(1));
            let n = shared.answers.fetch_add(1, Ordering::SeqCst);
            let tasks = if *empty {
                String::new()
            } else {
                format!(r#"{{"taskID":"task-{n}","status":"queued"}}"#)
            };
            let next = tokens
                .get(at)
                .map_or("null".to_owned(), |t| format!("{t:?}"));
            let body = format!(r#"{{"tasks":[{tasks}],"nextToken":{next}}}"#);
            reply(&mut stream, shared, 200, &[], body.as_bytes())
        }
        Mode::EndlessPages => {
            let n = shared.answers.fetch_add(1, Ordering::SeqCst);
            let body = format!(r#"{{"tasks":[],"nextToken":"page-{n}"}}"#);
            reply(&mut stream, shared, 200, &[], body.as_bytes())
        }
        Mode::Redirect { status, to } => {
            let location = format!("{to}{}", seen.target);
            reply(
                &mut stream,
                shared,
                *status,
                &[("Location", &location)],
                b"",
            )
        }
        Mode::OnePartUpload { size } => {
            let body = if seen.target.ends_with("/init") {
                format!(
                    r#"{{"data":{{"upload_id":"big","part_size":{size},"total_parts":1,"presigned_urls":{{"1":"http://{addr}/part/1"}}}}}}"#
                )
            } else if seen.target.ends_with("/url") {
                r#"{"data":{"url":"http://files.test/big.bin"}}"#.to_owned()
            } else {
                "{}".to_owned()
            };
            reply(&mut stream, shared, 200, &[], body.as_bytes())
        }
        Mode::RunningThenSuccess { polls } => {
            let n = shared.answers.fetch_add(1, Ordering::SeqCst);
            let body = if n < *polls {
                r#"{"status":"running","progress":50}"#
            } else {
                r#"{"status":"success","resultURL":null,"resultData":[{"done":true}]}"#
            };
            reply(&mut stream, shared, 200, &[], body.as_bytes())
        }
    }
}

/// Waits until the server stops (or the connection's time is up), answering nothing.
fn hold(shared: &Shared, started: Instant) {
    while alive(shared, started) {
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn head(stream: &mut TcpStream, status: u16, headers: &[(&str, &str)]) -> io::Result<()> {
    let mut head = format!("HTTP/1.1 {status} Hostile\r\nContent-Type: application/json\r\n");
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("Connection: close\r\n\r\n");
    stream.write_all(head.as_bytes())
}

fn reply(
    stream: &mut TcpStream,
    shared: &Shared,
    status: u16,
    headers: &[(&str, &str)],
    body: &[u8],
) -> io::Result<()> {
    let len = body.len().to_string();
    let mut all: Vec<(&str, &str)> = headers.to_vec();
    all.push(("Content-Length", &len));
    head(stream, status, &all)?;
    stream.write_all(body)?;
    shared
        .bytes_sent
        .fetch_add(body.len() as u64, Ordering::SeqCst);
    stream.flush()
}

/// Streams `len` bytes of a body (`{"limits":` then spaces), chunked or not, until the
/// client hangs up or the connection's time is up.
fn stream_body(
    stream: &mut TcpStream,
    shared: &Shared,
    started: Instant,
    len: u64,
    chunked: bool,
) -> io::Result<()> {
    const PIECE: usize = 64 * 1024;
    let mut piece = vec![b' '; PIECE];
    piece[..10].copy_from_slice(b"{\"limits\":");
    let mut sent = 0u64;
    let mut first = true;
    while sent < len && alive(shared, started) {
        let n = (len - sent).min(PIECE as u64) as usize;
        let bytes = if first {
            &piece[..n]
        } else {
            &piece[10..10 + n.min(PIECE - 10)]
        };
        let n = bytes.len();
        first = false;
        let written = if chunked {
            stream
                .write_all(format!("{n:x}\r\n").as_bytes())
                .and_then(|()| stream.write_all(bytes))
                .and_then(|()| stream.write_all(b"\r\n"))
        } else {
            stream.write_all(bytes)
        };
        if written.is_err() {
            // The client hung up: what it did not read was never sent.
            return Ok(());
        }
        sent += n as u64;
        shared.bytes_sent.fetch_add(n as u64, Ordering::SeqCst);
    }
    if chunked && sent >= len {
        let _ = stream.write_all(b"0\r\n\r\n");
    }
    Ok(())
}

/// The value of `name` in a request target's query, percent-decoding nothing (the
/// tokens used here need none).
fn query_value<'a>(target: &'a str, name: &str) -> Option<&'a str> {
    let (_, query) = target.split_once('?')?;
    query
        .split('&')
        .filter_map(|pair| pair.split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

/// Reads one request head and drains its body; `None` when the client sent nothing
/// before the server stopped.
fn read_request(
    reader: &mut BufReader<TcpStream>,
    shared: &Shared,
    started: Instant,
) -> io::Result<Option<Seen>> {
    let mut lines = Vec::new();
    let mut total = 0usize;
    loop {
        let mut line = String::new();
        match reader.read_line(&mut line) {
            Ok(0) => return Ok(None),
            Ok(n) => total += n,
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) =>
            {
                if !alive(shared, started) {
                    return Ok(None);
                }
                continue;
            }
            Err(e) => return Err(e),
        }
        if total > 64 * 1024 {
            return Ok(None);
        }
        let line = line.trim_end_matches(['\r', '\n']).to_owned();
        if line.is_empty() {
            break;
        }
        lines.push(line);
    }
    let (method, target, headers) = crate::loopback::parse_head(lines);
    let mut seen = Seen {
        method,
        target,
        headers,
        body_len: 0,
    };
    let len: u64 = seen
        .header("content-length")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    // Drain the body without keeping it.
    let mut left = len;
    let mut buffer = vec![0u8; 64 * 1024];
    while left > 0 && alive(shared, started) {
        let want = left.min(buffer.len() as u64) as usize;
        match reader.read(&mut buffer[..want]) {
            Ok(0) => break,
            Ok(n) => left -= n as u64,
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) => {}
            Err(e) => return Err(e),
        }
    }
    seen.body_len = len - left;
    Ok(Some(seen))
}
