//! Uploads: the core's requests, parts without credentials, retries and waits as `PartRetry`
//! says, bounded parallel parts read only when sent, progress, cancellation.

use cloud_task_blocking::SendLimits;
use std::io::{Cursor, Read, Seek, SeekFrom};
use std::sync::atomic::Ordering::SeqCst;
use std::sync::atomic::{AtomicU64, AtomicUsize};
use std::sync::{Arc, Condvar, Mutex};

use cloud_task_blocking::core::{HttpRequest, HttpResponse, part_retry_delay};
use cloud_task_blocking::{CancelToken, Error, HttpTransport, Result, UploadOptions};

use super::shim::{DEADLOCK, FakeTimer, InFlight, cancel_during_first_sleep, client, response};
use super::uploads::{count_path, upload_mock};
use crate::common::pseudo_random;
use crate::common::store_init;

/// A fake upload service: parts of `part_size` bytes. It records the bodies, proves with a
/// gate that `concurrency` parts are in flight at once (never more), and checks at each
/// `PUT` that the source was not read ahead of what is being sent. With `hold`, part PUTs
/// wait until [`Store::release`].
struct Store {
    part_size: u64,
    parts: u32,
    concurrency: u64,
    in_flight: InFlight,
    done: AtomicU64,
    read: Arc<AtomicU64>,
    bodies: Mutex<Vec<(u32, Vec<u8>)>>,
    authorised_parts: AtomicUsize,
    urls_asked: AtomicUsize,
    hold: Option<(Mutex<bool>, Condvar)>,
}

impl Store {
    fn new(size: u64, part_size: u64, concurrency: u64, read: Arc<AtomicU64>) -> Store {
        Store {
            part_size,
            parts: size.div_ceil(part_size) as u32,
            concurrency,
            in_flight: InFlight::gated(concurrency as usize),
            done: AtomicU64::new(0),
            read,
            bodies: Mutex::new(Vec::new()),
            authorised_parts: AtomicUsize::new(0),
            urls_asked: AtomicUsize::new(0),
            hold: None,
        }
    }

    fn holding(mut self) -> Self {
        self.hold = Some((Mutex::new(false), Condvar::new()));
        self
    }

    fn release(&self) {
        if let Some((released, condvar)) = &self.hold {
            *released.lock().unwrap() = true;
            condvar.notify_all();
        }
    }

    fn assembled(&self) -> Vec<u8> {
        let mut bodies = self.bodies.lock().unwrap().clone();
        bodies.sort_by_key(|(n, _)| *n);
        bodies.into_iter().flat_map(|(_, b)| b).collect()
    }

    fn parts_sent(&self) -> usize {
        self.bodies.lock().unwrap().len()
    }
}

impl HttpTransport for Store {
    fn send(&self, request: HttpRequest, _limits: SendLimits) -> Result<HttpResponse> {
        let path = request.uri().path().to_owned();
        if path.ends_with("/init") {
            return Ok(store_init(self.part_size, self.parts));
        }
        if path.ends_with("/url") {
            self.urls_asked.fetch_add(1, SeqCst);
            return Ok(response(200, r#"{"data":{"url":"https://files.test/u"}}"#));
        }
        let number: u32 = path.rsplit('/').next().unwrap().parse().unwrap();
        if request.headers().contains_key("authorization") {
            self.authorised_parts.fetch_add(1, SeqCst);
        }
        // Bytes read from the source never exceed the parts done plus those in flight.
        let allowed = (self.done.load(SeqCst) + self.concurrency) * self.part_size;
        assert!(
            self.read.load(SeqCst) <= allowed,
            "the source was read ahead"
        );
        self.bodies
            .lock()
            .unwrap()
            .push((number, request.body().clone()));
        self.in_flight.enter();
        if let Some((released, condvar)) = &self.hold {
            let (_released, timeout) = condvar
                .wait_timeout_while(released.lock().unwrap(), DEADLOCK, |r| !*r)
                .unwrap();
            assert!(!timeout.timed_out(), "never released");
        }
        self.in_flight.leave();
        self.done.fetch_add(1, SeqCst);
        Ok(response(200, ""))
    }
}

/// A `Read + Seek` over bytes that counts what has been read.
struct CountingReader {
    inner: Cursor<Vec<u8>>,
    read: Arc<AtomicU64>,
}

impl Read for CountingReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.read.fetch_add(n as u64, SeqCst);
        Ok(n)
    }
}

impl Seek for CountingReader {
    fn seek(&mut self, pos: SeekFrom) -> std::io::Result<u64> {
        self.inner.seek(pos)
    }
}

#[test]
fn parts_go_in_parallel_bounded_and_are_read_only_when_sent() {
    let data = pseudo_random(10_000);
    let read = Arc::new(AtomicU64::new(0));
    let store = Arc::new(Store::new(10_000, 512, 3, read.clone()));
    let reader = CountingReader {
        inner: Cursor::new(data.clone()),
        read: read.clone(),
    };
    let file = client(store.clone(), &FakeTimer::new())
        .upload_reader(reader, 10_000, "blob", UploadOptions::new().concurrency(3))
        .unwrap();
    assert_eq!(file.url, "https://files.test/u");
    assert_eq!(store.assembled(), data);
    assert_eq!(store.in_flight.max.load(SeqCst), 3);
    assert_eq!(store.authorised_parts.load(SeqCst), 0);
    assert_eq!(read.load(SeqCst), 10_000);
}

#[test]
fn upload_reader_reads_len_bytes_from_where_the_reader_is_and_no_further() {
    let data = pseudo_random(3_000);
    let mut reader = Cursor::new(data.clone());
    reader.seek(SeekFrom::Start(1_000)).unwrap();
    let store = Arc::new(Store::new(1_500, 700, 1, Arc::new(AtomicU64::new(0))));
    client(store.clone(), &FakeTimer::new())
        .upload_reader(
            &mut reader,
            1_500,
            "tail.bin",
            UploadOptions::new().concurrency(1),
        )
        .unwrap();
    assert_eq!(store.assembled(), &data[1_000..2_500]);
    assert_eq!(reader.position(), 2_500);
}

#[test]
fn a_reader_shorter_than_announced_fails_with_an_io_error() {
    let store = Arc::new(Store::new(2_000, 1_000, 4, Arc::new(AtomicU64::new(0))));
    let error = client(store, &FakeTimer::new())
        .upload_reader(&[1u8; 1_500][..], 2_000, "short.bin", UploadOptions::new())
        .unwrap_err();
    assert!(matches!(&error, Error::Io(_)), "{error:?}");
}

#[test]
fn upload_file_reads_the_file() {
    let data = pseudo_random(3_000);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("input.bin");
    std::fs::write(&path, &data).unwrap();
    let store = Arc::new(Store::new(3_000, 1_000, 3, Arc::new(AtomicU64::new(0))));
    let client = client(store.clone(), &FakeTimer::new());
    client.upload_file(&path, UploadOptions::new()).unwrap();
    assert_eq!(store.assembled(), data);

    let error = client
        .upload_file(dir.path().join("missing.bin"), UploadOptions::new())
        .unwrap_err();
    assert!(
        matches!(&error, Error::Io(e) if e.context.contains("missing.bin")),
        "{error:?}"
    );
    let error = client
        .upload_file(dir.path(), UploadOptions::new())
        .unwrap_err();
    assert!(
        matches!(&error, Error::InvalidInput(e) if e.field == "path"),
        "{error:?}"
    );
}

/// A source that fails to read from `fail_from` on.
struct Failing {
    inner: Cursor<Vec<u8>>,
    fail_from: u64,
}

impl Read for Failing {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.inner.position() >= self.fail_from {
            return Err(std::io::Error::other("disk on fire"));
        }
        self.inner.read(buf)
    }
}

impl Seek for Failing {
    fn seek(&mut self, pos: SeekFrom) -> std::io::Result<u64> {
        self.inner.seek(pos)
    }
}

#[test]
fn a_read_failure_ends_the_upload_without_retrying() {
    let store = Arc::new(Store::new(3_000, 1_000, 1, Arc::new(AtomicU64::new(0))));
    let timer = FakeTimer::new();
    let source = Failing {
        inner: Cursor::new(vec![7; 3_000]),
        fail_from: 1_000,
    };
    let error = client(store.clone(), &timer)
        .upload_reader(source, 3_000, "x.bin", UploadOptions::new().concurrency(1))
        .unwrap_err();
    assert!(
        matches!(&error, Error::Io(e) if e.context == "reading the upload source"),
        "{error:?}"
    );
    assert!(timer.sleeps().is_empty(), "a local failure is not retried");
    assert_eq!(store.parts_sent(), 1);
    assert_eq!(store.urls_asked.load(SeqCst), 0);
}

#[test]
fn cancelling_from_another_thread_ends_a_retry_wait_at_once() {
    let parts = Arc::new(Mutex::new(Vec::new()));
    let timer = FakeTimer::blocking();
    let token = CancelToken::new();
    let client = client(upload_mock(u64::MAX, parts.clone()), &timer);
    let options = UploadOptions::new()
        .concurrency(1)
        .cancel_token(token.clone());
    let outcome = cancel_during_first_sleep(&timer, &token, || {
        client.upload_bytes(b"aaaabbbbcc12", "data.bin", options)
    });
    assert!(matches!(outcome, Err(Error::Cancelled(_))), "{outcome:?}");
    assert_eq!(timer.sleeps(), [part_retry_delay(1)]);
    assert_eq!(count_path(&parts, "/p/2"), 1);
    assert_eq!(count_path(&parts, "/p/3"), 0);
}

#[test]
fn cancelling_with_parts_in_flight_starts_no_new_part() {
    let store = Arc::new(Store::new(8_000, 1_000, 2, Arc::new(AtomicU64::new(0))).holding());
    let token = CancelToken::new();
    let client = client(store.clone(), &FakeTimer::new());
    let options = UploadOptions::new()
        .concurrency(2)
        .cancel_token(token.clone());
    let outcome = std::thread::scope(|scope| {
        let upload = scope.spawn(|| client.upload_bytes(vec![0u8; 8_000], "x.bin", options));
        // Two parts are on the wire: cancel, then let them finish.
        while store.parts_sent() < 2 {
            std::thread::yield_now();
        }
        token.cancel();
        store.release();
        upload.join().unwrap()
    });
    assert!(matches!(outcome, Err(Error::Cancelled(_))), "{outcome:?}");
    assert_eq!(store.parts_sent(), 2);
    assert_eq!(store.urls_asked.load(SeqCst), 0);
}
