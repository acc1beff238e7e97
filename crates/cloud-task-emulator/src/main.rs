//! `cloud-task-emulator`: a local OOMOL Cloud Task server.
//!
//! Prints `CLOUD_TASK_BASE_URL=...`, `CLOUD_TASK_UPLOAD_BASE_URL=...` and
//! `OOMOL_API_KEY=...` on stdout once listening, then serves until Ctrl-C.
#![forbid(unsafe_code)]

use std::io::Write;
use std::net::SocketAddr;
use std::process::ExitCode;

use clap::Parser;
use cloud_task_emulator::{
    DEFAULT_MAX_CONCURRENCY, DEFAULT_MAX_QUEUE_SIZE, DEFAULT_PART_SIZE, Emulator,
};

/// A local OOMOL Cloud Task server (task API v3 and upload API) for tests and development.
///
/// Once listening, it prints three lines on stdout and flushes:
/// CLOUD_TASK_BASE_URL=..., CLOUD_TASK_UPLOAD_BASE_URL=... and OOMOL_API_KEY=...
/// so that `eval "$(cloud-task-emulator ... | head -3)"` style scripts work. Stop it with
/// Ctrl-C.
#[derive(Debug, Parser)]
#[command(name = "cloud-task-emulator", version)]
struct Args {
    /// The address to listen on; `127.0.0.1:0` picks a free port.
    #[arg(long, default_value = "127.0.0.1:8080")]
    addr: SocketAddr,

    /// An API key to accept (repeatable). When none is given, one is generated and printed.
    #[arg(long = "api-key", value_name = "KEY")]
    api_keys: Vec<String>,

    /// Multiplies every simulated duration: 0.01 makes tasks 100 times faster.
    #[arg(long, default_value_t = 1.0)]
    time_scale: f64,

    /// How many tasks may be in flight at once.
    #[arg(long, default_value_t = DEFAULT_MAX_CONCURRENCY)]
    max_concurrency: u64,

    /// How many tasks may wait in the queue before creations are refused with 429.
    #[arg(long, default_value_t = DEFAULT_MAX_QUEUE_SIZE)]
    max_queue_size: u64,

    /// The upload part size in bytes.
    #[arg(long, default_value_t = DEFAULT_PART_SIZE)]
    part_size: u64,

    /// Seeds the draws of probabilistic faults.
    #[arg(long, default_value_t = 0)]
    seed: u64,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("cloud-task-emulator: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(run(args))
}

async fn run(args: Args) -> ExitCode {
    let mut builder = Emulator::builder()
        .addr(args.addr)
        .time_scale(args.time_scale)
        .max_concurrency(args.max_concurrency)
        .max_queue_size(args.max_queue_size)
        .part_size(args.part_size)
        .seed(args.seed);
    for key in args.api_keys {
        builder = builder.api_key(key);
    }
    let emulator = match builder.start().await {
        Ok(emulator) => emulator,
        Err(e) => {
            eprintln!("cloud-task-emulator: cannot start on {}: {e}", args.addr);
            return ExitCode::FAILURE;
        }
    };
    let lines = format!(
        "CLOUD_TASK_BASE_URL={}\nCLOUD_TASK_UPLOAD_BASE_URL={}\nOOMOL_API_KEY={}\n",
        emulator.base_url(),
        emulator.upload_base_url(),
        emulator.api_key()
    );
    let mut stdout = std::io::stdout().lock();
    if stdout
        .write_all(lines.as_bytes())
        .and_then(|()| stdout.flush())
        .is_err()
    {
        // Nobody reads stdout (e.g. a closed pipe): keep serving anyway.
    }
    drop(stdout);
    eprintln!(
        "cloud-task-emulator: serving on {} (time scale {}); Ctrl-C to stop",
        emulator.base_url(),
        args.time_scale
    );
    wait_for_signal().await;
    eprintln!("cloud-task-emulator: shutting down");
    emulator.shutdown().await;
    ExitCode::SUCCESS
}

/// Waits for Ctrl-C (SIGINT) or, on Unix, SIGTERM.
async fn wait_for_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
