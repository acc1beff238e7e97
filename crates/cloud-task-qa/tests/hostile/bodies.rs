//! Bodies: an endless or huge body ends the call at the configured limit while it is being
//! read (never after buffering it; a `Content-Length` over the limit is refused before the
//! body is read), whatever the transport; and errors keep only a prefix of a bad body.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use cloud_task_core::{Error, Limit, MAX_ERROR_BODY};
use cloud_task_qa::hostile::{Hostile, Mode};

use crate::driver::Driver;
use crate::{conformance, within};

const LIMIT: u64 = 1 << 20;

#[track_caller]
fn assert_body_limit(error: Error, operation: &str) {
    match error {
        Error::Limit(l) => {
            assert_eq!(
                (l.limit, l.max, l.operation),
                (Limit::ResponseBody, LIMIT, operation)
            );
        }
        other => panic!("expected the body limit, got {other:?}"),
    }
}

/// What the server managed to write when the client stopped reading: the limit, plus what
/// loopback socket buffers hold.
const MOST_SENT: u64 = 64 << 20;

/// A stack of the user's own that bounds nothing: each answer has `status`, no
/// `Content-Length`, and a body of 64 MiB (64 times the limit; it ends, so that a client
/// that read it all fails the test instead of filling the memory).
struct Endless {
    status: u16,
    /// Bytes of bodies handed to the client so far.
    served: Arc<AtomicU64>,
}

impl Endless {
    fn head(&self) -> cloud_task_core::http::response::Parts {
        let response = cloud_task_core::http::Response::builder().status(self.status);
        response.body(()).unwrap().into_parts().0
    }
}

#[cloud_task_async::async_trait]
impl cloud_task_async::HttpTransport for Endless {
    async fn send(
        &self,
        _request: cloud_task_core::HttpRequest,
        _limits: cloud_task_core::SendLimits,
    ) -> cloud_task_core::Result<cloud_task_core::HttpResponse> {
        panic!("a download's chunks are asked for streamed")
    }

    async fn send_streaming(
        &self,
        _request: cloud_task_core::HttpRequest,
        _limits: cloud_task_core::SendLimits,
    ) -> cloud_task_core::Result<(cloud_task_async::ResponseHead, cloud_task_async::BodyStream)>
    {
        let served = Arc::clone(&self.served);
        let piece = move || {
            served.fetch_add(64 * 1024, Ordering::Relaxed);
            Ok(bytes::Bytes::from_static(&[b' '; 64 * 1024]))
        };
        Ok((
            self.head(),
            Box::pin(futures_util::StreamExt::take(
                futures_util::stream::repeat_with(piece),
                1024,
            )),
        ))
    }
}

impl cloud_task_blocking::HttpTransport for Endless {
    fn send(
        &self,
        _request: cloud_task_core::HttpRequest,
        _limits: cloud_task_core::SendLimits,
    ) -> cloud_task_core::Result<cloud_task_core::HttpResponse> {
        panic!("a download's chunks are asked for streamed")
    }

    fn bounds_itself(&self) -> bool {
        true
    }

    fn send_streaming(
        &self,
        _request: cloud_task_core::HttpRequest,
        _limits: cloud_task_core::SendLimits,
    ) -> cloud_task_core::Result<(
        cloud_task_blocking::ResponseHead,
        cloud_task_blocking::BodyReader,
    )> {
        let served = Arc::clone(&self.served);
        Ok((
            self.head(),
            Box::new(Spaces {
                left: 64 << 20,
                served,
            }),
        ))
    }
}

/// A body of `left` spaces.
struct Spaces {
    left: usize,
    served: Arc<AtomicU64>,
}

impl cloud_task_blocking::BodyRead for Spaces {
    fn read(&mut self, buf: &mut [u8]) -> cloud_task_core::Result<usize> {
        let n = buf.len().min(self.left);
        buf[..n].fill(b' ');
        self.left -= n;
        self.served.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

/// A download through a stack that bounds nothing still ends at the largest body, having
/// read little past it: the body of a chunk taken in pieces (a 200) and that of an answer
/// gathered (a 500) alike.
#[test]
fn a_download_through_a_stack_that_bounds_nothing_ends_at_the_limit() {
    let url = "http://127.0.0.1:9/r/file.bin";
    let options = || cloud_task_core::DownloadOptions::new().chunk_size(64 * 1024);
    // The limit, what a client reads ahead of its writes, and one piece of the stack's.
    let most_read = LIMIT + cloud_task_core::BODY_PIECE as u64 + 64 * 1024;
    for status in [200, 500] {
        let served = Arc::new(AtomicU64::new(0));
        let endless = || Endless {
            status,
            served: Arc::clone(&served),
        };
        let blocking =
            crate::blocking_client(url, |b| b.max_response_body(LIMIT).transport(endless()));
        within(Duration::from_secs(10), || {
            let error = blocking
                .download_to_writer(url, &mut std::io::sink(), options())
                .unwrap_err();
            assert_body_limit(error, "download");
        });
        let read = served.swap(0, Ordering::Relaxed);
        assert!(read <= most_read, "blocking, {status}: {read} bytes read");
        let client = crate::async_client(url, |b| b.max_response_body(LIMIT).transport(endless()));
        within(Duration::from_secs(10), || {
            let mut sink = Vec::new();
            let error = crate::runtime()
                .block_on(client.download_to_writer(url, &mut sink, options()))
                .unwrap_err();
            assert_body_limit(error, "download");
            assert!(sink.len() as u64 <= LIMIT, "{} bytes written", sink.len());
        });
        let read = served.load(Ordering::Relaxed);
        assert!(read <= most_read, "async, {status}: {read} bytes read");
    }
}

conformance!(
    an_endless_body_ends_the_call_at_the_limit,
    an_endless_body_on_a_poll_ends_the_wait,
    a_huge_body_is_refused_at_the_limit_announced_or_chunked,
    a_bad_body_is_kept_only_as_a_prefix_in_errors_and_timeouts,
);

fn an_endless_body_ends_the_call_at_the_limit<D: Driver>() {
    let server = Hostile::start(Mode::EndlessBody).unwrap();
    let client: D = crate::client(&server.url(), |c| c.max_response_body(LIMIT));
    let error = within(Duration::from_secs(10), || {
        client.get_dashboard().unwrap_err()
    });
    assert_body_limit(error, "get_dashboard");
    std::thread::sleep(Duration::from_millis(100));
    assert!(
        server.bytes_sent() < MOST_SENT,
        "{} bytes sent",
        server.bytes_sent()
    );
}

fn an_endless_body_on_a_poll_ends_the_wait<D: Driver>() {
    let server = Hostile::start(Mode::EndlessBody).unwrap();
    let options = cloud_task_core::AwaitOptions::new().interval(Duration::from_millis(10));
    let client: D = crate::client(&server.url(), |c| c.max_response_body(LIMIT));
    let error = within(Duration::from_secs(10), || {
        client.await_result("t-1", options).unwrap_err()
    });
    assert_body_limit(error, "get_task_result");
    assert_eq!(server.requests(), 1, "a body over the limit is not retried");
}

fn a_huge_body_is_refused_at_the_limit_announced_or_chunked<D: Driver>() {
    for chunked in [false, true] {
        let server = Hostile::start(Mode::HugeBody {
            len: 1 << 30,
            chunked,
        })
        .unwrap();
        let client: D = crate::client(&server.url(), |c| c.max_response_body(LIMIT));
        assert_body_limit(client.get_dashboard().unwrap_err(), "get_dashboard");
        std::thread::sleep(Duration::from_millis(100));
        assert!(
            server.bytes_sent() < MOST_SENT,
            "{} bytes sent",
            server.bytes_sent()
        );
    }
}

#[track_caller]
fn assert_prefix_kept(error: Error, len: usize) {
    match error {
        Error::Decode(d) => {
            assert_eq!(d.body.len(), MAX_ERROR_BODY);
            assert_eq!(d.body_len, len);
        }
        other => panic!("expected a decode error, got {other:?}"),
    }
}

fn a_bad_body_is_kept_only_as_a_prefix_in_errors_and_timeouts<D: Driver>() {
    let len = 8 << 20;
    let server = Hostile::start(Mode::Garbage { len }).unwrap();
    let client: D = crate::client(&server.url(), |c| c);
    assert_prefix_kept(client.get_dashboard().unwrap_err(), len);
    // A wait that times out keeps the last failed poll, bounded the same way.
    let len = 256 << 10;
    let server = Hostile::start(Mode::Garbage { len }).unwrap();
    let client: D = crate::client(&server.url(), |c| c);
    let options = cloud_task_core::AwaitOptions::new()
        .interval(Duration::from_millis(200))
        .timeout(Duration::from_secs(2));
    match client.await_result("t-1", options).unwrap_err() {
        Error::Timeout(t) => assert_prefix_kept(t.last_error.expect("the last failed poll"), len),
        other => panic!("{other:?}"),
    }
}
