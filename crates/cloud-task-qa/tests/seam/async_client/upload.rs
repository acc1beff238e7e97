//! Uploads: the core's requests, parts without credentials, retries and waits as `PartRetry`
//! says, bounded parallel parts read lazily, progress, cancellation.

use cloud_task_async::SendLimits;
use std::pin::Pin;
use std::sync::atomic::AtomicU64;
use std::sync::atomic::Ordering::SeqCst;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use async_trait::async_trait;
use cloud_task_async::core::{HttpRequest, HttpResponse, part_retry_delay};
use cloud_task_async::{CancelToken, Error, HttpTransport, Result, UploadOptions};
use tokio::io::{AsyncRead, ReadBuf};

use super::shim::{FakeTimer, client, response};
use crate::common::{pseudo_random, store_init};

const INIT_3_PARTS: &str = r#"{"data":{"upload_id":"up-1","part_size":4,"total_parts":3,
    "presigned_urls":{"1":"https://store.test/p/1?sig=a","2":"https://store.test/p/2?sig=b","3":"https://store.test/p/3?sig=c"}}}"#;
const URL_ANSWER: &str = r#"{"data":{"url":"https://files.test/up-1.bin","expires_at":null,"file_name":"data.bin","file_size":12,"mime_type":"application/octet-stream"}}"#;

/// A fake upload service: `parts` parts of `part_size` bytes; each part `PUT` stays in
/// flight for a few scheduler turns (or forever with `hang`). It records the bodies, the
/// largest number of parts in flight, and checks at each `PUT` that the source was not read
/// ahead of what is being sent.
struct Store {
    part_size: u64,
    parts: u32,
    concurrency: u64,
    hang: bool,
    in_flight: AtomicU64,
    max_in_flight: AtomicU64,
    done: AtomicU64,
    read: Arc<AtomicU64>,
    bodies: Mutex<Vec<(u32, Vec<u8>)>>,
    headers_ok: Mutex<bool>,
}

impl Store {
    fn new(size: u64, part_size: u64, concurrency: u64, read: Arc<AtomicU64>) -> Store {
        Store {
            part_size,
            parts: size.div_ceil(part_size) as u32,
            concurrency,
            hang: false,
            in_flight: AtomicU64::new(0),
            max_in_flight: AtomicU64::new(0),
            done: AtomicU64::new(0),
            read,
            bodies: Mutex::new(Vec::new()),
            headers_ok: Mutex::new(true),
        }
    }

    fn assembled(&self) -> Vec<u8> {
        let mut bodies = self.bodies.lock().unwrap().clone();
        bodies.sort_by_key(|(n, _)| *n);
        bodies.into_iter().flat_map(|(_, b)| b).collect()
    }
}

#[async_trait]
impl HttpTransport for Store {
    async fn send(&self, request: HttpRequest, _limits: SendLimits) -> Result<HttpResponse> {
        let path = request.uri().path().to_owned();
        if path.ends_with("/init") {
            return Ok(store_init(self.part_size, self.parts));
        }
        if path.ends_with("/url") {
            return Ok(response(200, r#"{"data":{"url":"https://files.test/u"}}"#));
        }
        let number: u32 = path.rsplit('/').next().unwrap().parse().unwrap();
        if request.headers().contains_key("authorization") {
            *self.headers_ok.lock().unwrap() = false;
        }
        let now = self.in_flight.fetch_add(1, SeqCst) + 1;
        self.max_in_flight.fetch_max(now, SeqCst);
        // Bytes read from the source never exceed the parts done plus those in flight.
        let allowed = (self.done.load(SeqCst) + self.concurrency) * self.part_size;
        assert!(
            self.read.load(SeqCst) <= allowed,
            "the source was read ahead"
        );
        if self.hang {
            std::future::pending::<()>().await;
        }
        for _ in 0..5 {
            tokio::task::yield_now().await;
        }
        self.bodies
            .lock()
            .unwrap()
            .push((number, request.body().clone()));
        self.in_flight.fetch_sub(1, SeqCst);
        self.done.fetch_add(1, SeqCst);
        Ok(response(200, ""))
    }
}

/// An `AsyncRead` over bytes that counts what has been read.
struct CountingReader {
    data: Vec<u8>,
    position: usize,
    read: Arc<AtomicU64>,
}

impl AsyncRead for CountingReader {
    fn poll_read(
        mut self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let n = buf.remaining().min(self.data.len() - self.position);
        let start = self.position;
        buf.put_slice(&self.data[start..start + n]);
        self.position += n;
        self.read.fetch_add(n as u64, SeqCst);
        Poll::Ready(Ok(()))
    }
}

#[tokio::test]
async fn parts_go_in_parallel_bounded_and_are_read_only_when_sent() {
    let data = pseudo_random(10_000);
    let read = Arc::new(AtomicU64::new(0));
    let store = Arc::new(Store::new(10_000, 512, 3, read.clone()));
    let reader = CountingReader {
        data: data.clone(),
        position: 0,
        read: read.clone(),
    };
    let file = client(store.clone(), &FakeTimer::new())
        .upload_reader(reader, 10_000, "blob", UploadOptions::new().concurrency(3))
        .await
        .unwrap();
    assert_eq!(file.url, "https://files.test/u");
    assert_eq!(store.assembled(), data);
    assert_eq!(store.max_in_flight.load(SeqCst), 3);
    assert!(*store.headers_ok.lock().unwrap());
    assert_eq!(read.load(SeqCst), 10_000);
}

#[tokio::test]
async fn upload_file_reads_the_file() {
    let data = pseudo_random(3_000);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("input.bin");
    std::fs::write(&path, &data).unwrap();
    let store = Arc::new(Store::new(3_000, 1_000, 4, Arc::new(AtomicU64::new(0))));
    let client = client(store.clone(), &FakeTimer::new());
    client
        .upload_file(&path, UploadOptions::new())
        .await
        .unwrap();
    assert_eq!(store.assembled(), data);

    let error = client
        .upload_file(dir.path().join("missing.bin"), UploadOptions::new())
        .await
        .unwrap_err();
    assert!(
        matches!(&error, Error::Io(e) if e.context.contains("missing.bin")),
        "{error:?}"
    );
    let error = client
        .upload_file(dir.path(), UploadOptions::new())
        .await
        .unwrap_err();
    assert!(
        matches!(&error, Error::InvalidInput(e) if e.field == "path"),
        "{error:?}"
    );
}

#[tokio::test]
async fn a_reader_shorter_than_announced_fails_with_an_io_error() {
    let read = Arc::new(AtomicU64::new(0));
    let store = Arc::new(Store::new(2_000, 1_000, 4, read.clone()));
    let reader = CountingReader {
        data: vec![1; 1_500],
        position: 0,
        read,
    };
    let error = client(store, &FakeTimer::new())
        .upload_reader(reader, 2_000, "short.bin", UploadOptions::new())
        .await
        .unwrap_err();
    assert!(matches!(&error, Error::Io(_)), "{error:?}");
}

#[tokio::test]
async fn cancelling_ends_an_upload_with_parts_in_flight() {
    let mut store = Store::new(4_000, 1_000, 4, Arc::new(AtomicU64::new(0)));
    store.hang = true;
    let store = Arc::new(store);
    let token = CancelToken::new();
    let client = client(store.clone(), &FakeTimer::new());
    let options = UploadOptions::new().cancel_token(token.clone());
    let upload = tokio::spawn(async move {
        client
            .upload_bytes(vec![0u8; 4_000], "x.bin", options)
            .await
    });
    while store.max_in_flight.load(SeqCst) < 4 {
        tokio::task::yield_now().await;
    }
    token.cancel();
    let outcome = upload.await.unwrap();
    assert!(matches!(outcome, Err(Error::Cancelled(_))), "{outcome:?}");
}

/// Fails the first try of part 2 and, while answering it, rewrites the file under that
/// part: the retry must carry the new bytes, which proves it read the file again instead of
/// sending a copy kept in memory.
struct RewritesPart2 {
    path: std::path::PathBuf,
    tries: Mutex<Vec<(u32, Vec<u8>)>>,
}

#[async_trait]
impl HttpTransport for RewritesPart2 {
    async fn send(&self, request: HttpRequest, _limits: SendLimits) -> Result<HttpResponse> {
        let path = request.uri().path().to_owned();
        if path.ends_with("/init") {
            return Ok(response(200, INIT_3_PARTS));
        }
        if path.ends_with("/url") {
            return Ok(response(200, URL_ANSWER));
        }
        let number: u32 = path.rsplit('/').next().unwrap().parse().unwrap();
        let mut tries = self.tries.lock().unwrap();
        let first = !tries.iter().any(|(n, _)| *n == 2);
        tries.push((number, request.body().clone()));
        if number == 2 && first {
            let mut data = std::fs::read(&self.path).unwrap();
            data[4..8].copy_from_slice(b"BBBB");
            std::fs::write(&self.path, data).unwrap();
            return Ok(response(500, ""));
        }
        Ok(response(200, ""))
    }
}

#[tokio::test]
async fn a_retried_part_of_a_file_is_read_again_from_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("data.bin");
    std::fs::write(&path, b"aaaabbbbcc12").unwrap();
    let transport = Arc::new(RewritesPart2 {
        path: path.clone(),
        tries: Mutex::new(Vec::new()),
    });
    let timer = FakeTimer::new();
    let client = client(transport.clone(), &timer);
    // Spawned: the upload future is `Send`.
    let upload = tokio::spawn(async move {
        client
            .upload_file(&path, UploadOptions::new().concurrency(1))
            .await
    });
    upload.await.unwrap().unwrap();
    assert_eq!(timer.sleeps(), [part_retry_delay(1)]);
    let tries = transport.tries.lock().unwrap();
    let part2: Vec<&[u8]> = tries
        .iter()
        .filter(|(n, _)| *n == 2)
        .map(|(_, b)| b.as_slice())
        .collect();
    assert_eq!(part2, [&b"bbbb"[..], &b"BBBB"[..]]);
}
