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
/// `--max-queue-size`, `--part-size`, `--seed`, `--detach`), to flatten into a clap
/// command.
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

    /// Start in the background and return once listening: print the four variables as
    /// `export` lines, and CLOUD_TASK_EMULATOR_PID, for `eval "$(...)"`; stop it with
    /// `kill "$CLOUD_TASK_EMULATOR_PID"`.
    #[arg(long)]
    pub detach: bool,

    /// The process that `--detach` starts: reports a failure to start on stdout and writes
    /// nothing to stderr.
    #[arg(long, hide = true)]
    pub detached_child: bool,
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

/// The four lines the emulator prints once listening, each ending with `\n`:
/// `CLOUD_TASK_BASE_URL=...`, `CLOUD_TASK_UPLOAD_BASE_URL=...`,
/// `CLOUD_TASK_REGISTRY_URL=...` (the emulator itself also serves package descriptions)
/// and `OOMOL_API_KEY=...`.
pub fn env_lines(base_url: &str, upload_base_url: &str, api_key: &str) -> String {
    format!(
        "CLOUD_TASK_BASE_URL={base_url}\nCLOUD_TASK_UPLOAD_BASE_URL={upload_base_url}\nCLOUD_TASK_REGISTRY_URL={base_url}\nOOMOL_API_KEY={api_key}\n"
    )
}

/// How many lines [`env_lines`] prints.
const ENV_LINES: usize = 4;

/// The name of the variable holding a detached emulator's process ID.
pub const ENV_PID: &str = "CLOUD_TASK_EMULATOR_PID";

/// Runs the emulator as the binary does, on a runtime of its own (call it outside any
/// runtime): in the foreground ([`serve`]), or with `--detach` in a process of its own,
/// returning once it listens ([`detach`]).
pub fn run(args: EmulatorArgs, name: &str) -> ExitCode {
    if args.detach && !args.detached_child {
        return detach(name);
    }
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
    // A detached child has no stderr: it reports a failure to start on stdout, to the
    // process that started it, and says nothing afterwards.
    let quiet = args.detached_child;
    let emulator = match args.builder().start().await {
        Ok(emulator) => emulator,
        Err(e) if quiet => {
            println!("error: cannot start on {}: {e}", args.addr);
            return ExitCode::FAILURE;
        }
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
    if !quiet {
        eprintln!(
            "{name}: serving on {} (time scale {}); Ctrl-C to stop",
            emulator.base_url(),
            args.time_scale
        );
    }
    signals.await;
    if !quiet {
        eprintln!("{name}: shutting down");
    }
    emulator.shutdown().await;
    ExitCode::SUCCESS
}

/// `--detach`: starts this same program again with the same arguments, in a process of
/// its own (its own process group on Unix, so that a Ctrl-C in this terminal does not stop
/// it; stdin and stderr closed), waits until it listens, prints its variables as `export`
/// lines followed by `export CLOUD_TASK_EMULATOR_PID=...`, and returns. A failure to start
/// is printed on stderr with a failed exit status.
///
/// ```sh
/// eval "$(cloud-task-emulator --detach --addr 127.0.0.1:0)"
/// kill "$CLOUD_TASK_EMULATOR_PID"
/// ```
pub fn detach(name: &str) -> ExitCode {
    use std::io::BufRead;
    use std::process::{Command, Stdio};

    let fail = |message: String| {
        eprintln!("{name}: {message}");
        ExitCode::FAILURE
    };
    let program = match std::env::current_exe() {
        Ok(program) => program,
        Err(e) => return fail(format!("cannot find this program to start it again: {e}")),
    };
    let args = std::env::args_os().skip(1).map(|arg| {
        if arg == "--detach" {
            "--detached-child".into()
        } else {
            arg
        }
    });
    let mut command = Command::new(program);
    command
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    #[cfg(unix)]
    std::os::unix::process::CommandExt::process_group(&mut command, 0);
    let mut child = match command.spawn() {
        Ok(child) => child,
        Err(e) => return fail(format!("cannot start the emulator: {e}")),
    };
    let Some(stdout) = child.stdout.take() else {
        return fail("cannot read the emulator's output".to_owned());
    };
    let mut exports = String::new();
    // The child prints its four lines once listening (or one error line) and then nothing:
    // this ends when it has said them, or when it exits.
    for line in std::io::BufReader::new(stdout).lines().take(ENV_LINES) {
        let line = match line {
            Ok(line) => line,
            Err(e) => return fail(format!("cannot read the emulator's output: {e}")),
        };
        if let Some(error) = line.strip_prefix("error: ") {
            let _ = child.wait();
            return fail(error.to_owned());
        }
        let Some((key, value)) = line.split_once('=') else {
            let _ = child.kill();
            return fail(format!("unexpected output from the emulator: {line:?}"));
        };
        exports.push_str(&format!("export {key}={}\n", shell_quote(value)));
    }
    if exports.lines().count() < ENV_LINES {
        let status = child.wait();
        return fail(format!(
            "the emulator stopped before it listened ({})",
            status.map_or_else(|e| e.to_string(), |s| s.to_string())
        ));
    }
    exports.push_str(&format!("export {ENV_PID}={}\n", child.id()));
    let mut stdout = std::io::stdout().lock();
    if stdout
        .write_all(exports.as_bytes())
        .and_then(|()| stdout.flush())
        .is_err()
    {
        // Nobody will know where it runs: do not leave it behind.
        let _ = child.kill();
        let _ = child.wait();
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}

/// A value as the shell reads it back: as is when plain, else in single quotes.
fn shell_quote(value: &str) -> String {
    let plain = !value.is_empty()
        && value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./:@%+,".contains(c));
    if plain {
        value.to_owned()
    } else {
        format!("'{}'", value.replace('\'', r"'\''"))
    }
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
    fn values_are_quoted_for_the_shell_only_when_needed() {
        assert_eq!(
            shell_quote("http://127.0.0.1:80/x"),
            "http://127.0.0.1:80/x"
        );
        assert_eq!(shell_quote("k$y"), "'k$y'");
        assert_eq!(shell_quote("it's"), r"'it'\''s'");
    }

    #[test]
    fn env_lines_are_four_key_value_lines() {
        let lines = env_lines("http://b", "http://u", "k");
        assert_eq!(
            lines,
            "CLOUD_TASK_BASE_URL=http://b\nCLOUD_TASK_UPLOAD_BASE_URL=http://u\nCLOUD_TASK_REGISTRY_URL=http://b\nOOMOL_API_KEY=k\n"
        );
        assert_eq!(lines.lines().count(), ENV_LINES);
    }
}
