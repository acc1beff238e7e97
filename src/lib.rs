//! OOMOL Cloud Task SDK for Rust.
//!
//! This facade re-exports the sans-IO core, [`cloud_task_core`]; the async and blocking
//! clients arrive behind the `async` and `blocking` features.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub use cloud_task_core::*;
