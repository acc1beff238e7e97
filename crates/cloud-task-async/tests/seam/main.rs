//! Unit tests of the driver on its seams: a mockall `HttpTransport` and a fake `Timer`.
//! (The operations' requests and errors are in the seam suite both clients share,
//! `crates/cloud-task-qa/tests/seam`.)
//!
//! They check that the driver sends exactly the core's requests, maps errors as the core
//! says, and sleeps exactly what the core's state machines ask for. Nothing sleeps for real.

mod polling;
mod support;
mod upload;
