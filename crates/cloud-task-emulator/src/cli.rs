//! The command line of the `cloud-task-emulator` binary, public so that other programs
//! (the `cloud-task emulator` command) run the emulator with the same flags and output.
//!
//! ```no_run
//! use clap::Parser;
//! use cloud_task_emulator::cli::{self, EmulatorArgs};
//!
//! #[derive(Parser)]
//! struct MyTool {
//!     #[command(flatten)]
//!     emulator: EmulatorArgs,
//! }
//!
//! fn main() -> std::process::ExitCode {
//!     cli::run(MyTool::parse().emulator, "my-tool")
//! }
//! ```

use std::io::Write;
use std::net::SocketAddr;
use std::process::ExitCode;

use crate::{
    DEFAULT_MAX_CONCURRENCY, DEFAULT_MAX_QUEUE_SIZE, DEFAULT_PART_SIZE, Emulator, EmulatorBuilder,
};

/// The emulator's flags (`--addr`, `--api-key`, `--time-scale`, `--max-concurrency`,
/// `--max-queue-size`, `--part-size`, `--seed`), to flatten into a clap command.
#[derive(Debug, Clone, clap::Args)]
#[non_exhaustive]
pub struct EmulatorArgs {
    /// The address to listen on; `127.0.0.1:0` picks a free port.
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub addr: SocketAddr,

    /// An API key to accept (repeatable). When none is given, one is generated and printed.
    // The id is `api_key`: a command that has a global `--api-key` of its own (the
    // `cloud-task` CLI) then lets this flag take its place here instead of clashing.
    #[arg(long = "api-key", id = "api_key", value_name = "KEY")]
    pub api_keys: Vec<String>,

    /// Multiplies every simulated duration: 0.01 makes tasks 100 times faster.
    #[arg(long, default_value_t = 1.0)]
    pub time_scale: f64,

    /// How many tasks may be in flight at once.
    #[arg(long, default_value_t = DEFAULT_MAX_CONCURRENCY)]
    pub max_concurrency: u64,

    /// How many tasks may wait in the queue before creations are refused with 429.
    #[arg(long, default_value_t = DEFAULT_MAX_QUEUE_SIZE)]
    pub max_queue_size: u64,

    /// The upload part size in bytes.
    #[arg(long, default_value_t = DEFAULT_PART_SIZE)]
    pub part_size: u64,

    /// Seeds the draws of probabilistic faults.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
}

impl EmulatorArgs {
    /// An emulator builder configured with these flags.
    pub fn builder(&self) -> EmulatorBuilder {
        let mut builder = Emulator::builder()
            .addr(self.addr)
            .time_scale(self.time_scale)
            .max_concurrency(self.max_concurrency)
            .max_queue_size(self.max_queue_size)
            .part_size(self.part_size)
            .seed(self.seed);
        for key in &self.api_keys {
            builder = builder.api_key(key.clone());
        }
        builder
    }
}

/// The three lines the emulator prints once listening, each ending with `\n`:
/// `CLOUD_TASK_BASE_URL=...`, `CLOUD_TASK_UPLOAD_BASE_URL=...` and `OOMOL_API_KEY=...`.
pub fn env_lines(base_url: &str, upload_base_url: &str, api_key: &str) -> String {
    format!(
        "CLOUD_TASK_BASE_URL={base_url}\nCLOUD_TASK_UPLOAD_BASE_URL={upload_base_url}\nOOMOL_API_KEY={api_key}\n"
    )
}

/// Runs the emulator in the foreground as the binary does, on a runtime of its own (call
/// it outside any runtime): see [`serve`].
pub fn run(args: EmulatorArgs, name: &str) -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("{name}: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(serve(args, name))
}

/// Starts the emulator, prints the [`env_lines`] on stdout (then flushes), a note on
/// stderr prefixed with `name`, and serves until Ctrl-C (or SIGTERM on Unix), which it
/// listens for from before the lines are printed; then stops cleanly. Fails (with a message on stderr) when it cannot listen or a flag is invalid.
pub async fn serve(args: EmulatorArgs, name: &str) -> ExitCode {
    let emulator = match args.builder().start().await {
        Ok(emulator) => emulator,
        Err(e) => {
            eprintln!("{name}: cannot start on {}: {e}", args.addr);
            return ExitCode::FAILURE;
        }
    };
    // Listening before the lines are printed: a script that stops the emulator as soon
    // as it has read them stops it cleanly.
    let signals = listen_for_signals();
    let lines = env_lines(
        &emulator.base_url(),
        &emulator.upload_base_url(),
        &emulator.api_key(),
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
        "{name}: serving on {} (time scale {}); Ctrl-C to stop",
        emulator.base_url(),
        args.time_scale
    );
    signals.await;
    eprintln!("{name}: shutting down");
    emulator.shutdown().await;
    ExitCode::SUCCESS
}

/// Listens for Ctrl-C (SIGINT) and, on Unix, SIGTERM from now on (the handlers are
/// installed before this returns); the future completes when one arrives.
fn listen_for_signals() -> impl Future<Output = ()> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let interrupt = signal(SignalKind::interrupt());
        let terminate = signal(SignalKind::terminate());
        async move {
            match (interrupt, terminate) {
                (Ok(mut interrupt), Ok(mut terminate)) => {
                    tokio::select! {
                        _ = interrupt.recv() => {}
                        _ = terminate.recv() => {}
                    }
                }
                (Ok(mut interrupt), Err(_)) => {
                    interrupt.recv().await;
                }
                (Err(_), _) => {
                    let _ = tokio::signal::ctrl_c().await;
                }
            }
        }
    }
    #[cfg(windows)]
    {
        let ctrl_c = tokio::signal::windows::ctrl_c();
        async move {
            match ctrl_c {
                Ok(mut ctrl_c) => {
                    ctrl_c.recv().await;
                }
                Err(_) => {
                    let _ = tokio::signal::ctrl_c().await;
                }
            }
        }
    }
    #[cfg(not(any(unix, windows)))]
    async {
        let _ = tokio::signal::ctrl_c().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Tool {
        #[command(flatten)]
        args: EmulatorArgs,
    }

    #[test]
    fn flags_parse_with_the_binary_defaults() {
        let tool = Tool::try_parse_from(["t"]).unwrap();
        assert_eq!(tool.args.addr, "127.0.0.1:8080".parse().unwrap());
        assert!(tool.args.api_keys.is_empty());
        assert_eq!(tool.args.time_scale, 1.0);
        assert_eq!(tool.args.part_size, DEFAULT_PART_SIZE);
        let tool =
            Tool::try_parse_from(["t", "--api-key", "a", "--api-key", "b", "--seed", "7"]).unwrap();
        assert_eq!(tool.args.api_keys, ["a", "b"]);
        assert_eq!(tool.args.seed, 7);
    }

    #[test]
    fn env_lines_are_three_key_value_lines() {
        assert_eq!(
            env_lines("http://b", "http://u", "k"),
            "CLOUD_TASK_BASE_URL=http://b\nCLOUD_TASK_UPLOAD_BASE_URL=http://u\nOOMOL_API_KEY=k\n"
        );
    }
}
