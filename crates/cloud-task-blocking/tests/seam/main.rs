//! Unit tests of the blocking client on its seams: a mockall [`HttpTransport`] and a fake
//! [`Timer`]. Requests must equal the core's, sleeps the core's schedule; nothing sleeps
//! for real.
//!
//! [`HttpTransport`]: cloud_task_blocking::HttpTransport
//! [`Timer`]: cloud_task_blocking::Timer

#[path = "../common/mod.rs"]
mod common;
mod ops;
mod polling;
mod support;
mod upload;
