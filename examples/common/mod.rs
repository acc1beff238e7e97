//! Shared by the examples: connect to the service named by the environment when
//! `OOMOL_API_KEY` is set, or to an emulator started in this process otherwise.

#![allow(dead_code)]

use oomol_cloud_task::Client;
use oomol_cloud_task::emulator::{Emulator, EmulatorClients, EmulatorHandle};

/// A client, and the emulator it talks to when no API key is set (keep it alive).
pub async fn connect() -> Result<(Client, Option<EmulatorHandle>), Box<dyn std::error::Error>> {
    if std::env::var("OOMOL_API_KEY").is_ok_and(|k| !k.trim().is_empty()) {
        // OOMOL_BASE_URL (or CLOUD_TASK_BASE_URL) may point anywhere: say where.
        let client = Client::from_env()?;
        println!(
            "OOMOL_API_KEY is set: talking to {}",
            client.config().base_url()
        );
        return Ok((client, None));
    }
    // Real-life pace: a task takes about a second.
    let emulator = Emulator::builder().start().await?;
    println!(
        "OOMOL_API_KEY is not set: running against a local emulator at {}",
        emulator.base_url()
    );
    Ok((emulator.client()?, Some(emulator)))
}

/// Ends an example: its error, if any, as one line per cause on stderr (not a `Debug`
/// dump), and a failed exit status.
pub fn exit(outcome: Result<(), Box<dyn std::error::Error>>) -> std::process::ExitCode {
    let Err(error) = outcome else {
        return std::process::ExitCode::SUCCESS;
    };
    eprintln!("error: {error}");
    let mut source = error.source();
    while let Some(cause) = source {
        eprintln!("  caused by: {cause}");
        source = cause.source();
    }
    std::process::ExitCode::FAILURE
}
