//! `cloud-task-core` alone, driven by an HTTP/1.1 client written right here on
//! `std::net::TcpStream`: no reqwest, no ureq, no async runtime in the client. The core
//! builds every request, parses every response, and decides every wait; this file only
//! moves bytes and sleeps. Any other stack (hyper, a WASM fetch, a proxy) plugs in the same
//! way.
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
use oomol_cloud_task::{
    AwaitOptions, Config, CreateTask, CreateTaskRequest, Error, HttpRequest, HttpResponse,
    ListTasksQuery, Operation, Paginator, PollAction, Poller, TransportErrorKind, http,
};

/// Sends one request over a fresh TCP connection (`Connection: close`) and reads the
/// whole response. Only `http://` URLs: enough for a loopback server.
fn send(request: HttpRequest) -> Result<HttpResponse, Error> {
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
        .set_read_timeout(Some(Duration::from_secs(30)))
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

    let mut reader = BufReader::new(stream);
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
    builder
        .body(body)
        .map_err(|e| Error::transport(TransportErrorKind::Other, e))
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let emulator = Emulator::builder().time_scale(0.5).start_blocking()?;
    println!("emulator at {}", emulator.base_url());
    let config = Config::builder()
        .api_key(emulator.api_key())
        .base_url(emulator.base_url())
        .upload_base_url(emulator.upload_base_url())
        .build()?;

    // 1. Create: build with the core, send with our stack, parse with the core.
    let create = CreateTask::new(
        CreateTaskRequest::new("@oomol/echo", "1.0.0", "main").input("text", "hand-rolled HTTP"),
    );
    let task_id = create.parse(send(create.request(&config)?)?)?.task_id;
    println!("created {task_id}");

    // 2. Wait: the core's poller says what to do; we only send and sleep.
    let options = AwaitOptions::new()
        .interval(Duration::from_millis(100))
        .timeout(Duration::from_secs(60));
    let mut poller = Poller::<serde_json::Value>::new(&config, &task_id, &options, Instant::now())?;
    let result = loop {
        match poller.poll_action(Instant::now()) {
            PollAction::Send(request) => match send(request) {
                Ok(response) => poller.handle_response(response, Instant::now()),
                Err(error) => poller.handle_transport_error(error, Instant::now()),
            },
            PollAction::Progress { progress, status } => println!("  {status:<10} {progress:5.1}%"),
            PollAction::Wait(duration) => std::thread::sleep(duration),
            PollAction::Done(outcome) => break outcome?,
        }
    };
    println!("success: {}", serde_json::to_string(&result.result_data)?);

    // 3. Page through the task list with the core's paginator.
    let mut pages = Paginator::new(ListTasksQuery::new().size(1));
    while let Some(request) = pages.next_request(&config) {
        let page = pages.handle_response(send(request?)?)?;
        for task in page.tasks {
            println!("listed {} ({})", task.task_id, task.status);
        }
    }
    Ok(())
}
