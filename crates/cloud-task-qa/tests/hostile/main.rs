//! One regression test per finding of the hostile-server review, for both drivers: a
//! server (or the user's own transport) that tries to make a client buffer without end,
//! wait past its deadline, loop for ever, retry what cannot succeed, lose a task ID, block
//! on a file, or hold a whole file in memory. Each test is bounded in time and sends
//! traffic to 127.0.0.1 only.

#[path = "../conformance/driver.rs"]
#[allow(dead_code)] // the hostile suite uses a part of the adapter
mod driver;
pub(crate) use driver::conformance;

mod bodies;
mod deadlines;
mod keys;
mod pages;
mod uploads;

use std::time::Duration;

/// The per-request timeout of the tests' clients unless a test says otherwise: long enough
/// never to be what ends a test that works.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(20);

/// A client of `url` (task API and upload API) through the conformance adapter, with
/// `configure` applied.
pub fn client<D: driver::Driver>(
    url: &str,
    configure: impl FnOnce(cloud_task_core::ConfigBuilder) -> cloud_task_core::ConfigBuilder,
) -> D {
    D::at(url, |c| {
        configure(c.api_key("hostile-test-key").timeout(REQUEST_TIMEOUT))
    })
}

/// An async client of `url` (task API and upload API), with `configure` applied.
pub fn async_client(
    url: &str,
    configure: impl FnOnce(cloud_task_async::ClientBuilder) -> cloud_task_async::ClientBuilder,
) -> cloud_task_async::Client {
    let builder = cloud_task_async::Client::builder()
        .api_key("hostile-test-key")
        .base_url(url)
        .upload_base_url(url)
        .timeout(REQUEST_TIMEOUT);
    configure(builder).build().expect("a valid client")
}

/// A blocking client of `url`, with `configure` applied.
pub fn blocking_client(
    url: &str,
    configure: impl FnOnce(cloud_task_blocking::ClientBuilder) -> cloud_task_blocking::ClientBuilder,
) -> cloud_task_blocking::Client {
    let builder = cloud_task_blocking::Client::builder()
        .api_key("hostile-test-key")
        .base_url(url)
        .upload_base_url(url)
        .timeout(REQUEST_TIMEOUT);
    configure(builder).build().expect("a valid client")
}

/// Asserts that `f` returned within `bound`, and answers what it returned.
#[track_caller]
pub fn within<T>(bound: Duration, f: impl FnOnce() -> T) -> T {
    let started = std::time::Instant::now();
    let out = f();
    let took = started.elapsed();
    assert!(took < bound, "took {took:?}, more than {bound:?}");
    out
}

/// A tokio runtime for the async halves of the tests.
pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a runtime")
}
