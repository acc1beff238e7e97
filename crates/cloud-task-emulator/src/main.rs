//! `cloud-task-emulator`: a local OOMOL Cloud Task server.
//!
//! Prints `CLOUD_TASK_BASE_URL=...`, `CLOUD_TASK_UPLOAD_BASE_URL=...` and
//! `OOMOL_API_KEY=...` on stdout once listening, then serves until Ctrl-C.
#![forbid(unsafe_code)]

use std::process::ExitCode;

use clap::Parser;
use cloud_task_emulator::cli::{self, EmulatorArgs};

/// A local OOMOL Cloud Task server (task API v3 and upload API) for tests and development.
///
/// Once listening, it prints four lines on stdout and flushes:
/// CLOUD_TASK_BASE_URL=..., CLOUD_TASK_UPLOAD_BASE_URL=..., CLOUD_TASK_REGISTRY_URL=...
/// and OOMOL_API_KEY=..., so that `eval "$(cloud-task-emulator ... | head -4)"` style
/// scripts work. Stop it with
/// Ctrl-C.
#[derive(Debug, Parser)]
#[command(name = "cloud-task-emulator", version)]
struct Args {
    #[command(flatten)]
    emulator: EmulatorArgs,
}

fn main() -> ExitCode {
    cli::run(Args::parse().emulator, "cloud-task-emulator")
}
