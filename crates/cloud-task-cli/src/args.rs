//! The command line, as clap definitions.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use cloud_task_emulator::cli::EmulatorArgs;

use crate::duration::{parse_duration, parse_size};
use crate::inputs::{InputPair, parse_input};

/// Shown after the main help.
const AFTER_HELP: &str = "\
Exit codes: 0 success, 1 the task failed, 2 usage error, 3 API or network error,
4 timeout, 130 interrupted (the task keeps running; the command to resume waiting is shown).

With --json, stdout holds exactly one JSON document per command (errors included),
except `logs --follow --json`: one JSON object per line, each with a `type`. Progress and
messages go to stderr.";

/// Run OOMOL Cloud Task blocks, wait for results, follow logs, list tasks, upload and
/// download files.
#[derive(Debug, Parser)]
#[command(name = "cloud-task", version, after_help = AFTER_HELP)]
pub struct Cli {
    /// Options every command accepts.
    #[command(flatten)]
    pub global: GlobalArgs,

    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Options every command accepts, before or after its name.
#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "Global options")]
pub struct GlobalArgs {
    /// The API key (never shown in any output) [env: OOMOL_API_KEY]. A key given here is
    /// visible to other users of this machine in the process list: prefer OOMOL_API_KEY or
    /// --api-key-file.
    // The environment is read by the client itself (`from_env`), not by clap: clap would
    // print an environment value as a given flag in its usage lines.
    #[arg(long, global = true, value_name = "KEY")]
    pub api_key: Option<String>,

    /// Read the API key from this file (its first line), or from stdin with `-`; it wins
    /// over --api-key and OOMOL_API_KEY, and never shows in the process list.
    #[arg(long, global = true, value_name = "PATH")]
    pub api_key_file: Option<PathBuf>,

    /// The domain of every host.
    #[arg(
        long,
        global = true,
        value_name = "DOMAIN",
        help = "The domain every host is derived from: cloud-task., llm., registry. and api. of it, or one origin such as http://127.0.0.1:8080 for all [env: OOMOL_ENDPOINT] [default: oomol.com; a stored sign-in's own]"
    )]
    pub endpoint: Option<String>,

    /// The task API base URL.
    #[arg(
        long,
        global = true,
        value_name = "URL",
        help = "The task API base URL [env: OOMOL_BASE_URL, else CLOUD_TASK_BASE_URL as the emulator prints it] [default: https://cloud-task.oomol.com]"
    )]
    pub base_url: Option<String>,

    /// The upload API base URL.
    #[arg(
        long,
        global = true,
        value_name = "URL",
        help = "The upload API base URL [env: OOMOL_UPLOAD_BASE_URL, else CLOUD_TASK_UPLOAD_BASE_URL] [default: follows --base-url; https://llm.oomol.com/api/tasks/files/remote-cache for the default one]"
    )]
    pub upload_base_url: Option<String>,

    /// The registry base URL, where block descriptions are read.
    #[arg(
        long,
        global = true,
        value_name = "URL",
        help = "The registry base URL, where block descriptions are read [env: OOMOL_REGISTRY_URL, else CLOUD_TASK_REGISTRY_URL] [default: follows --base-url; https://registry.oomol.com for the default one]"
    )]
    pub registry_url: Option<String>,

    /// Print exactly one JSON document on stdout (the API's response shape).
    #[arg(long, global = true)]
    pub json: bool,

    /// No progress and no messages on stderr (errors are still printed).
    #[arg(long, short, global = true)]
    pub quiet: bool,
}

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create a task, wait for it with a progress bar, then print its result.
    Run(RunArgs),
    /// Create a task and print its ID, without waiting.
    Create(TaskSpec),
    /// Wait for a task with a progress bar, then print its result.
    Wait(WaitArgs),
    /// Show a task's result once, without waiting (exit 1 when the task failed).
    Result {
        /// The task ID.
        task_id: String,
    },
    /// Describe a package's blocks and their inputs (type, default, required).
    Info {
        /// The package, e.g. @oomol/my-package.
        package: String,
        /// The version (exact, or `latest`).
        version: String,
        /// Only this block.
        block: Option<String>,
    },
    /// Write Rust types for a package's blocks, from the registry's description: an inputs
    /// struct per block (implementing the SDK's `typed::Block`) and its outputs struct, for
    /// the clients' `run`, `create` and `run_many_blocks`. Commit the file: it builds
    /// offline and reviews as a diff.
    #[command(after_help = "Examples:\n  \
        cloud-task codegen @oomol/pdf-tools 1.2.0 -o src/blocks/pdf_tools.rs\n  \
        cloud-task codegen @oomol/echo latest > src/echo.rs\n\n\
        Then, in Rust (with serde's derive in your dependencies):\n  \
        mod pdf_tools { include!(\"blocks/pdf_tools.rs\"); }\n  \
        let done = client.run(&pdf_tools::SplitInputs { .. }, AwaitOptions::new()).await?;\n  \
        println!(\"{:?}\", done.outputs);")]
    Codegen {
        /// The package, e.g. @oomol/pdf-tools.
        package: String,
        /// The version (exact, or `latest`: the file records the exact one).
        version: String,
        /// Write it to this file (replaced whole, atomically) instead of stdout.
        #[arg(short, long, value_name = "FILE")]
        output: Option<std::path::PathBuf>,
    },
    /// Show a task's details.
    Get {
        /// The task ID.
        task_id: String,
    },
    /// List tasks, newest first, as a table.
    List(ListArgs),
    /// Show the newest task of each workload.
    Latest {
        /// Workload IDs (1 to 50).
        #[arg(required = true, value_name = "WORKLOAD_ID")]
        workload_ids: Vec<String>,
    },
    /// Show a page of a task's logs, or follow them until the task ends (--follow).
    Logs(LogsArgs),
    /// Show the limits, the queue counts and the pause state.
    Dashboard,
    /// Pause the queue: queued tasks stay queued, running tasks finish.
    Pause,
    /// Resume the queue.
    Resume,
    /// Upload a file and print its URL (the last line of stdout).
    Upload(UploadArgs),
    /// Run a task per line of a JSON Lines file, crash-safe: at most the account's limits
    /// at once, each input created once (resumable with --journal), results as JSON Lines.
    ///
    /// Each line is a whole task ({"packageName","packageVersion","blockName",
    /// "inputValues"}) or, with --block, the inputs of one task. Exit 0 when every input
    /// succeeded, 1 when any failed, was not created or has an unknown outcome, 130 on
    /// Ctrl-C (created tasks keep running; run again with the same --journal to resume).
    Batch(BatchArgs),
    /// Download a task's result file (waiting for the task), or any file URL, resuming a
    /// download cut short; prints the path (the last line of stdout).
    Download(DownloadArgs),
    /// Serve Cloud Task as tools for AI agents: a Model Context Protocol server on stdin
    /// and stdout (register it with an MCP client; it runs until the client closes it).
    ///
    /// Tools: run_task, create_task, run_batch, wait_task, get_task_result, get_task,
    /// list_tasks, get_latest_tasks, get_task_logs, get_dashboard, whoami, pause_queue,
    /// resume_queue, upload_file, upload_base64, download_result, get_package_info; with a
    /// package (--package, else OOMOL_PACKAGE_NAME and OOMOL_PACKAGE_VERSION), one
    /// block_NAME tool per block of it, whose input schema is the block's.
    Mcp(McpArgs),
    /// Run the local emulator in the foreground (the flags of `cloud-task-emulator`).
    ///
    /// Once listening it prints CLOUD_TASK_BASE_URL=..., CLOUD_TASK_UPLOAD_BASE_URL=... and
    /// OOMOL_API_KEY=... on stdout; Ctrl-C stops it.
    Emulator(EmulatorArgs),
    /// Sign in as OOMOL's CLI does: confirm a code on OOMOL's page (opened in a browser when
    /// there is a display), then keep the key, owner-only, for the commands that follow.
    ///
    /// The key is stored in the user's config directory (OOMOL_CREDENTIALS_FILE to choose
    /// the file) and never printed; its path is. OOMOL_API_KEY and --api-key still win
    /// over it. Ctrl-C stops waiting (exit 130).
    Login(LoginArgs),
    /// Remove the key stored by `login`.
    Logout,
    /// Show who the key belongs to, the domain it is used with, and where it came from
    /// (exit 3 when the server refuses it).
    Whoami,
    /// Print a shell completion script on stdout.
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
    },
}

/// `login`.
#[derive(Debug, Clone, Args)]
pub struct LoginArgs {
    /// Print the page to open instead of opening a browser.
    #[arg(long)]
    pub no_browser: bool,
    /// How often to ask whether the code was confirmed.
    #[arg(
        long,
        value_name = "DURATION",
        value_parser = parse_duration,
        default_value = "2s",
        allow_hyphen_values = true
    )]
    pub interval: Duration,
    /// Give up after this long (default: when the code expires, at most 30m).
    #[arg(long, value_name = "DURATION", value_parser = parse_duration, allow_hyphen_values = true)]
    pub timeout: Option<Duration>,
}

/// `mcp`.
#[derive(Debug, Clone, Args)]
pub struct McpArgs {
    /// The package whose blocks become tools, and the default package of run_task and
    /// create_task [env: OOMOL_PACKAGE_NAME, OOMOL_PACKAGE_VERSION (default latest)].
    #[arg(long, num_args = 2, value_names = ["NAME", "VERSION"])]
    pub package: Option<Vec<String>>,
    /// How long run_task, wait_task and the block tools wait when the call does not say
    /// (1s to 1h); the task keeps running after it.
    #[arg(
        long,
        value_name = "DURATION",
        value_parser = parse_duration,
        default_value = "50s",
        allow_hyphen_values = true
    )]
    pub window: Duration,
    /// The time between polls of a task being waited for.
    #[arg(
        long,
        value_name = "DURATION",
        value_parser = parse_duration,
        default_value = "3s",
        allow_hyphen_values = true
    )]
    pub interval: Duration,
    /// Confine the file tools (upload_file, download_result, run_batch's journal) to this
    /// directory: relative paths are taken from it, paths out of it are refused.
    #[arg(long, value_name = "DIR")]
    pub root: Option<std::path::PathBuf>,
}

/// What to run: a block of a package, and its inputs.
#[derive(Debug, Clone, Args)]
pub struct TaskSpec {
    /// The package, e.g. @oomol/my-package.
    pub package: String,
    /// The package version, e.g. 1.0.0.
    pub version: String,
    /// The block, e.g. main.
    pub block: String,
    /// One input, KEY=VALUE (repeatable). The value is parsed as JSON when it can be
    /// (n=3 is a number, flag=true a boolean, o={"a":1} an object), else taken as a
    /// string (write s='"3"' for the string "3"). Applied on top of --inputs.
    #[arg(long = "input", short = 'i', value_name = "KEY=VALUE", value_parser = parse_input)]
    pub input: Vec<InputPair>,
    /// All inputs as a JSON object, or @FILE to read it from a file (@- reads stdin).
    #[arg(long, value_name = "JSON|@FILE")]
    pub inputs: Option<String>,
    /// Do not check the inputs against the block's description before creating the task
    /// (by default they are: an unknown, missing or invalid input is a usage error, and
    /// nothing is created).
    #[arg(long)]
    pub no_check: bool,
    /// Check the inputs and print the request body that would be sent; send nothing.
    #[arg(long)]
    pub dry_run: bool,
}

/// How to wait for a task.
#[derive(Debug, Clone, Args)]
pub struct WaitOptions {
    /// The time between polls (500ms, 2s, 10m, 1h).
    // `allow_hyphen_values`: `-5s` reaches the parser, which says why it is refused.
    #[arg(
        long,
        value_name = "DURATION",
        value_parser = parse_duration,
        default_value = "3s",
        allow_hyphen_values = true
    )]
    pub interval: Duration,
    /// Give up waiting after this long (exit 4); the task keeps running [default: never].
    #[arg(
        long,
        value_name = "DURATION",
        value_parser = parse_duration,
        allow_hyphen_values = true
    )]
    pub timeout: Option<Duration>,
}

/// `run`.
#[derive(Debug, Clone, Args)]
pub struct RunArgs {
    /// The block and its inputs.
    #[command(flatten)]
    pub spec: TaskSpec,
    /// How to wait.
    #[command(flatten)]
    pub wait: WaitOptions,
    /// Print the task ID right after creating it, as `create` does.
    #[arg(long, conflicts_with_all = ["timeout", "logs"])]
    pub no_wait: bool,
    /// Print the task's log lines on stderr as they come, above the progress bar.
    #[arg(long)]
    pub logs: bool,
}

/// `batch`.
#[derive(Debug, Clone, Args)]
pub struct BatchArgs {
    /// The inputs, JSON Lines (`-` reads stdin). Blank lines are skipped; an input's
    /// index counts the other lines from 0.
    pub inputs: PathBuf,
    /// Run this block for every line, each line holding its inputs.
    #[arg(long, num_args = 3, value_names = ["PACKAGE", "VERSION", "BLOCK"])]
    pub block: Option<Vec<String>>,
    /// The journal: every task created is recorded here as soon as it is, and each
    /// result; when the file holds records, the batch resumes from it (tasks it holds are
    /// waited for, never created again).
    #[arg(long, value_name = "FILE")]
    pub journal: Option<PathBuf>,
    /// At most N of the batch's tasks queued or running at once (on top of the account's
    /// own limits, which are always kept).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub concurrency: Option<u32>,
    /// Write one JSON line per input here (index, taskID, status, result or error)
    /// instead of stdout.
    #[arg(long, short, value_name = "RESULTS.jsonl")]
    pub output: Option<PathBuf>,
    /// Create again the inputs whose create had an unknown outcome and that were not found
    /// among the account's tasks (they may run twice if the lookup missed them).
    #[arg(long)]
    pub recreate_unknown: bool,
    /// Do not look unknown creates up among the account's tasks.
    #[arg(long)]
    pub no_lookup: bool,
    /// Do not check each input against its block's description before the batch starts
    /// (by default every line is: one that does not fit is a usage error, and nothing is
    /// created).
    #[arg(long)]
    pub no_check: bool,
    /// How to wait.
    #[command(flatten)]
    pub wait: WaitOptions,
}

/// `wait`.
#[derive(Debug, Clone, Args)]
pub struct WaitArgs {
    /// The task ID.
    pub task_id: String,
    /// How to wait.
    #[command(flatten)]
    pub wait: WaitOptions,
    /// Print the task's log lines on stderr as they come, above the progress bar.
    #[arg(long)]
    pub logs: bool,
}

/// `logs`.
#[derive(Debug, Clone, Args)]
pub struct LogsArgs {
    /// The task ID.
    pub task_id: String,
    /// The page, from 1 [default: the server's first page].
    #[arg(long, value_name = "N", conflicts_with = "follow")]
    pub page: Option<u32>,
    /// Follow the logs from the first entry until the task ends, each entry once, with
    /// the progress on stderr; with --json, one JSON object per line, each with a `type`
    /// (exit 1 when the task fails, after its logs).
    #[arg(long, short)]
    pub follow: bool,
    /// How to wait (with --follow).
    #[command(flatten)]
    pub wait: WaitOptions,
}

/// `download`.
#[derive(Debug, Clone, Args)]
pub struct DownloadArgs {
    /// A task ID (its result file, once it has succeeded), or a file URL (http:// or
    /// https://).
    #[arg(value_name = "TASK_ID|URL")]
    pub target: String,
    /// Where to write it, `-` for stdout [default: the URL's file name, in the current
    /// directory, never replacing a file there].
    #[arg(long, short, value_name = "PATH")]
    pub output: Option<PathBuf>,
    /// Tries per chunk [default: 3].
    #[arg(long, value_name = "N")]
    pub retries: Option<u32>,
    /// The largest file written, e.g. `512MiB`: a larger one is refused before it fills
    /// the disk [default: 16GiB].
    #[arg(long, value_name = "SIZE", value_parser = parse_size)]
    pub max_size: Option<u64>,
    /// How to wait for the task.
    #[command(flatten)]
    pub wait: WaitOptions,
}

/// `list`.
#[derive(Debug, Clone, Args)]
pub struct ListArgs {
    /// Only tasks with this status.
    #[arg(long, value_parser = [
        "queued", "scheduling", "scheduled", "running", "success", "failed"
    ])]
    pub status: Option<String>,
    /// Tasks per page, 1 to 100 [default: the server's, 20].
    #[arg(long, value_name = "N")]
    pub size: Option<u32>,
    /// Every page, streamed one after another.
    #[arg(long)]
    pub all: bool,
    /// Only tasks of this package.
    #[arg(long, value_name = "ID")]
    pub package_id: Option<String>,
    /// Only tasks of this workload.
    #[arg(long, value_name = "ID")]
    pub workload_id: Option<String>,
    /// Only tasks of this type.
    #[arg(long, value_name = "TYPE", value_parser = ["user", "shared"])]
    pub task_type: Option<String>,
    /// The page after the one that gave this token.
    #[arg(long, value_name = "TOKEN", conflicts_with = "all")]
    pub next_token: Option<String>,
}

/// `upload`.
#[derive(Debug, Clone, Args)]
pub struct UploadArgs {
    /// The file to upload.
    pub file: PathBuf,
    /// Tries per part [default: 3].
    #[arg(long, value_name = "N")]
    pub retries: Option<u32>,
    /// Parts sent at once [default: 4].
    #[arg(long, value_name = "N")]
    pub concurrency: Option<usize>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_command_line_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn global_options_go_anywhere_and_the_emulator_keeps_its_own_api_key() {
        let cli = Cli::try_parse_from(["cloud-task", "list", "--json", "--api-key", "k"]).unwrap();
        assert!(cli.global.json);
        assert_eq!(cli.global.api_key.as_deref(), Some("k"));
        let cli = Cli::try_parse_from([
            "cloud-task",
            "emulator",
            "--api-key",
            "a",
            "--api-key",
            "b",
            "--addr",
            "127.0.0.1:0",
        ])
        .unwrap();
        match cli.command {
            Command::Emulator(args) => assert_eq!(args.api_keys, ["a", "b"]),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn run_takes_inputs_and_wait_options() {
        let cli = Cli::try_parse_from([
            "cloud-task",
            "run",
            "@oomol/echo",
            "1.0.0",
            "main",
            "--input",
            "n=3",
            "-i",
            "s=x",
            "--interval",
            "500ms",
            "--timeout",
            "10m",
        ])
        .unwrap();
        let Command::Run(run) = cli.command else {
            panic!("not run")
        };
        assert_eq!(run.spec.input.len(), 2);
        assert_eq!(run.wait.interval, Duration::from_millis(500));
        assert_eq!(run.wait.timeout, Some(Duration::from_secs(600)));
        assert!(!run.no_wait);
        assert!(!run.logs);
        assert!(
            Cli::try_parse_from(["cloud-task", "run", "p", "1", "b", "--no-wait", "--logs"])
                .is_err()
        );
        assert!(
            Cli::try_parse_from(["cloud-task", "logs", "t", "--follow", "--page", "2"]).is_err()
        );
        let cli = Cli::try_parse_from(["cloud-task", "download", "t-1", "-o", "-"]).unwrap();
        let Command::Download(download) = cli.command else {
            panic!("not download")
        };
        assert_eq!(download.output.as_deref(), Some(std::path::Path::new("-")));
        assert!(
            Cli::try_parse_from([
                "cloud-task",
                "run",
                "p",
                "1",
                "b",
                "--no-wait",
                "--timeout",
                "1s"
            ])
            .is_err()
        );
    }
}
