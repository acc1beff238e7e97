//! The Rust SDK for OOMOL Cloud Task.
#![forbid(unsafe_code)]
#![deny(missing_docs)]
#![cfg_attr(docsrs, feature(doc_cfg))]

pub use cloud_task_core::*;

/// The async client (tokio + reqwest).
#[cfg(feature = "async")]
pub mod r#async {
    pub use cloud_task_async::{
        Client, ClientBuilder, DEFAULT_CONNECT_TIMEOUT, DEFAULT_TIMEOUT, HttpTransport,
        ReqwestTransport, TaskListStream, Timer, TokioTimer, WatchStream,
    };
}

#[cfg(feature = "async")]
pub use r#async::{Client, ClientBuilder};

/// The local emulator: a Cloud Task server on loopback for your tests.
#[cfg(feature = "emulator")]
pub mod emulator {
    pub use cloud_task_emulator::*;
}
