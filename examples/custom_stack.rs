//! `cloud-task-core` alone, driven by an HTTP/1.1 client written right here on
//! `std::net::TcpStream`: no reqwest, no ureq, no async runtime in the client. The core
//! builds every request, parses every response, and decides every wait, deadline, limit and
//! redirect; this file only moves bytes within the limits each request carries, and sleeps.
//! Any other stack (hyper, a WASM fetch, a proxy) plugs in the same way.
//!
//! ```sh
//! cargo run --example custom_stack
//! ```
//!
//! It talks to an emulator started in this process (plain `http://` on loopback).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use oomol_cloud_task::emulator::Emulator;
use oomol_cloud_task::error::TransportErrorKind;
use oomol_cloud_task::sans_io::{
    Call, CallAction, CreateTask, HttpRequest, HttpResponse, Operation, PageAction, Paginator,
    PollAction, Poller, SendLimits,
};
use oomol_cloud_task::{AwaitOptions, Config, CreateTaskRequest, Error, ListTasksQuery, http};

/// Sends one request over a fresh TCP connection (`Connection: close`) and reads the
/// whole response, within `limits`: each read waits at most the time left, and the body is
/// read up to the largest allowed. Only `http://` URLs: enough for a loopback server.
fn send(request: HttpRequest, limits: SendLimits) -> Result<HttpResponse, Error> {
    let transport = |kind, e: std::io::Error| Error::transport(kind, e);
    let uri = request.uri().clone();
    if uri.scheme_str() != Some("http") {
        return Err(Error::transport(
            TransportErrorKind::Other,
            format!("this small client speaks plain http only, not {uri}"),
        ));
    }
    let host = uri.host().unwrap_or("127.0.0.1");
    let port = uri.port_u16().unwrap_or(80);
    let mut stream =
        TcpStream::connect((host, port)).map_err(|e| transport(TransportErrorKind::Connect, e))?;
    stream
        .set_read_timeout(Some(limits.timeout.max(Duration::from_millis(1))))
        .map_err(|e| transport(TransportErrorKind::Io, e))?;

    let path = uri.path_and_query().map_or("/", |p| p.as_str());
    let mut head = format!(
        "{} {path} HTTP/1.1\r\nHost: {host}:{port}\r\n",
        request.method()
    );
    for (name, value) in request.headers() {
        let value = value
            .to_str()
            .map_err(|e| Error::transport(TransportErrorKind::Other, e))?;
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str(&format!(
        "Content-Length: {}\r\nConnection: close\r\n\r\n",
        request.body().len()
    ));
    stream
        .write_all(head.as_bytes())
        .and_then(|()| stream.write_all(request.body()))
        .map_err(|e| transport(TransportErrorKind::Io, e))?;

    // Never more than the largest body allowed (and its framing) is read.
    let mut reader = BufReader::new(stream.take(limits.max_response_body + 64 * 1024));
    let mut line = String::new();
    reader
        .read_line(&mut line)
        .map_err(|e| transport(TransportErrorKind::Io, e))?;
    let status: u16 = line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| {
            Error::transport(TransportErrorKind::Io, format!("bad status line {line:?}"))
        })?;
    let mut builder = http::Response::builder().status(status);
    let mut chunked = false;
    loop {
        line.clear();
        reader
            .read_line(&mut line)
            .map_err(|e| transport(TransportErrorKind::Io, e))?;
        let header = line.trim_end();
        if header.is_empty() {
            break;
        }
        if let Some((name, value)) = header.split_once(':') {
            let value = value.trim();
            if name.eq_ignore_ascii_case("transfer-encoding") && value.contains("chunked") {
                chunked = true;
            }
            builder = builder.header(name, value);
        }
    }
    let mut body = Vec::new();
    if chunked {
        loop {
            line.clear();
            reader
                .read_line(&mut line)
                .map_err(|e| transport(TransportErrorKind::Io, e))?;
            let size = usize::from_str_radix(line.trim().split(';').next().unwrap_or(""), 16)
                .map_err(|e| Error::transport(TransportErrorKind::Io, e))?;
            if size == 0 {
                break;
            }
            let start = body.len();
            if (start + size) as u64 > limits.max_response_body {
                return Err(limits.body_too_large());
            }
            body.resize(start + size + 2, 0);
            reader
                .read_exact(&mut body[start..])
                .map_err(|e| transport(TransportErrorKind::Io, e))?;
            body.truncate(start + size); // drop the chunk's CRLF
        }
    } else {
        reader
            .read_to_end(&mut body)
            .map_err(|e| transport(TransportErrorKind::Io, e))?;
    }
    if body.len() as u64 > limits.max_response_body {
        return Err(limits.body_too_large());
    }
    builder
        .body(body)
        .map_err(|e| Error::transport(TransportErrorKind::Other, e))
}

/// Runs one operation through the core's [`Call`] machine: it hands out each request with
/// its bounds (and a redirect's, when one within the origin comes back), and ends the call.
fn execute<O: Operation>(op: &O, config: &Config) -> Result<O::Output, Error> {
    let mut call = Call::for_operation(op, config, Instant::now())?;
    let response = loop {
        match call.poll_action(Instant::now()) {
            CallAction::Send(t) => {
                let (id, request, limits) = t.split(Instant::now());
                match send(request, limits) {
                    Ok(response) => call.handle_response(id, response, Instant::now()),
                    Err(error) => call.handle_transport_error(id, error, Instant::now()),
                }
            }
            CallAction::Wait(duration) => std::thread::sleep(duration),
            CallAction::Done(outcome) => break outcome?,
        }
    };
    op.parse(response)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let emulator = Emulator::builder().time_scale(0.5).start_blocking()?;
    println!("emulator at {}", emulator.base_url());
    let config = Config::builder()
        .api_key(emulator.api_key())
        .base_url(emulator.base_url())
        .upload_base_url(emulator.upload_base_url())
        .build()?;

    // 1. Create: built and bounded by the core, sent by our stack, parsed by the core.
    let create = CreateTask::new(
        CreateTaskRequest::new("@oomol/echo", "1.0.0", "main").input("text", "hand-rolled HTTP"),
    );
    let task_id = execute(&create, &config)?.task_id;
    println!("created {task_id}");

    // 2. Wait: the core's poller says what to do; we only send and sleep.
    let options = AwaitOptions::new()
        .interval(Duration::from_millis(100))
        .timeout(Duration::from_secs(60));
    let mut poller = Poller::new(&config, &task_id, &options, Instant::now())?;
    let result = loop {
        match poller.poll_action(Instant::now()) {
            PollAction::Send(t) => {
                let (id, request, limits) = t.split(Instant::now());
                match send(request, limits) {
                    Ok(response) => poller.handle_response(id, response, Instant::now()),
                    Err(error) => poller.handle_transport_error(id, error, Instant::now()),
                }
            }
            PollAction::Progress { progress, status } => println!("  {status:<10} {progress:5.1}%"),
            PollAction::Wait(duration) => std::thread::sleep(duration),
            PollAction::Done(outcome) => break outcome?,
        }
    };
    println!("success: {}", serde_json::to_string(&result.result_data)?);

    // 3. Page through the task list with the core's paginator.
    let mut pages = Paginator::new(&config, ListTasksQuery::new().size(1))?;
    loop {
        match pages.poll_action(Instant::now()) {
            PageAction::Send(t) => {
                let (id, request, limits) = t.split(Instant::now());
                match send(request, limits) {
                    Ok(response) => pages.handle_response(id, response, Instant::now()),
                    Err(error) => pages.handle_transport_error(id, error, Instant::now()),
                }
            }
            PageAction::Page(page) => {
                for task in page.tasks {
                    println!("listed {} ({})", task.task_id, task.status);
                }
            }
            PageAction::Wait(duration) => std::thread::sleep(duration),
            PageAction::Done(end) => break end?,
        }
    }
    Ok(())
}
