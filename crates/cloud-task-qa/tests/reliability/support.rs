//! What the tests share: emulators, clients of both drivers, requests.

use std::time::Duration;

pub(crate) use crate::driver::conformance;

use cloud_task_async::CreateTaskRequest;
use cloud_task_emulator::{BlockingEmulator, EmulatorHandle};
use serde_json::Value;

/// Simulated durations 100x faster: a default task runs for about 10 ms.
pub const FAST: f64 = 0.01;

/// The per-request timeout of the tests' clients: far above any answer on loopback, far
/// below a hang.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// An async client of `emulator` with `key`.
pub fn async_client(emulator: &EmulatorHandle, key: &str) -> cloud_task_async::Client {
    cloud_task_async::Client::builder()
        .api_key(key)
        .base_url(emulator.base_url())
        .upload_base_url(emulator.upload_base_url())
        .timeout(REQUEST_TIMEOUT)
        .build()
        .expect("a valid client")
}

/// A blocking client of `emulator` with `key`.
pub fn blocking_client(emulator: &BlockingEmulator, key: &str) -> cloud_task_blocking::Client {
    cloud_task_blocking::Client::builder()
        .api_key(key)
        .base_url(emulator.base_url())
        .upload_base_url(emulator.upload_base_url())
        .timeout(REQUEST_TIMEOUT)
        .build()
        .expect("a valid client")
}

/// An `@oomol/echo` task with these inputs (an object): its result is `[inputs]`.
pub fn echo(inputs: Value) -> CreateTaskRequest {
    let Value::Object(map) = inputs else {
        panic!("inputs must be an object")
    };
    CreateTaskRequest::new("@oomol/echo", "1.0.0", "main").input_values(map)
}
