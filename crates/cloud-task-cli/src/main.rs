//! `cloud-task`: the command line of OOMOL Cloud Task, built on the SDK's async client.
//!
//! Run published OOMOL blocks and wait for their results with a progress bar, inspect and
//! list tasks, manage the queue, upload files and run the local emulator; with one JSON
//! document on stdout per command (`--json`) and stable exit codes for scripts and agents.
//! The crate README documents every command.
//!
//! The code is a shell around [`cloud_task_async::Client`]: it parses arguments, builds
//! requests with the core's types, calls the client and renders what it answers. Waiting,
//! retries of failed polls, paging and uploads are the SDK's.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod account;
mod args;
mod batch;
mod commands;
mod duration;
mod failure;
mod inputs;
mod mcp;
mod output;
mod progress;

use std::process::ExitCode;

use clap::{CommandFactory, FromArgMatches};

use crate::args::{Cli, Command};
use crate::commands::Context;
use crate::output::Ui;

fn main() -> ExitCode {
    let matches = Cli::command().get_matches();
    let cli = Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.exit());
    match cli.command {
        // The emulator's `--api-key` (keys it accepts) takes the place of the global one;
        // the client's key in the environment is never read for it.
        Command::Emulator(args) => cloud_task_emulator::cli::run(args, "cloud-task emulator"),
        Command::Completions { shell } => {
            let mut command = Cli::command();
            clap_complete::generate(shell, &mut command, "cloud-task", &mut std::io::stdout());
            ExitCode::SUCCESS
        }
        command => {
            let mut global = cli.global;
            // The key from the environment: the client reads it itself (after the
            // options, so that it can say where its key came from); the terminal output
            // scrubs it.
            let env_key = std::env::var(cloud_task_async::core::ENV_API_KEY)
                .ok()
                .filter(|key| !key.trim().is_empty());
            let key_file = match commands::read_key_file(&global) {
                Ok(key) => key,
                Err(failure) => {
                    let secret = global.api_key.clone().or(env_key);
                    let ui = Ui::new(global.json, global.quiet, secret);
                    failure.report(&ui);
                    return ExitCode::from(failure.exit_status());
                }
            };
            if key_file.is_some() {
                global.api_key = key_file;
            }
            // Else the stored key, which the client may use: scrubbed as well.
            let secret = global.api_key.clone().or(env_key).or_else(|| {
                let path = cloud_task_local::credentials::default_credentials_path()?;
                let account = cloud_task_local::credentials::load_credentials(&path).ok()??;
                Some(account.api_key.expose_secret().to_owned())
            });
            let ui = Ui::new(global.json, global.quiet, secret);
            let runtime = match tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                Ok(runtime) => runtime,
                Err(e) => {
                    ui.error_line(&format!("cannot start the async runtime: {e}"), None);
                    return ExitCode::from(failure::Exit::Api as u8);
                }
            };
            let outcome = runtime.block_on(async {
                let context = Context::new(global, ui.clone());
                context.run(command).await
            });
            match outcome {
                Ok(()) => ExitCode::SUCCESS,
                Err(failure) => {
                    failure.report(&ui);
                    ExitCode::from(failure.exit_status())
                }
            }
        }
    }
}
