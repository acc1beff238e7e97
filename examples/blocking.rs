//! The quickstart with the blocking client: no async runtime anywhere in this program's
//! own code (the emulator, when used, runs on its own background thread).
//!
//! ```sh
//! cargo run --example blocking
//! ```
//!
//! With `OOMOL_API_KEY` set it talks to the real service (pass package, version, block and
//! optional JSON inputs as arguments); without it, it starts the emulator in this process.

mod common;

use std::time::Duration;

use oomol_cloud_task::blocking::Client;
use oomol_cloud_task::emulator::{BlockingEmulator, Emulator, EmulatorClients};
use oomol_cloud_task::{AwaitOptions, CreateTaskRequest};

fn connect() -> Result<(Client, Option<BlockingEmulator>), Box<dyn std::error::Error>> {
    if std::env::var("OOMOL_API_KEY").is_ok_and(|k| !k.trim().is_empty()) {
        let client = Client::from_env()?;
        println!(
            "OOMOL_API_KEY is set: talking to {}",
            client.config().base_url()
        );
        return Ok((client, None));
    }
    let emulator = Emulator::builder().start_blocking()?;
    println!(
        "OOMOL_API_KEY is not set: running against a local emulator at {}",
        emulator.base_url()
    );
    Ok((emulator.blocking_client()?, Some(emulator)))
}

fn main() -> std::process::ExitCode {
    common::exit(run())
}

fn run() -> Result<(), Box<dyn std::error::Error>> {
    let (client, _emulator) = connect()?;

    let args: Vec<String> = std::env::args().skip(1).collect();
    let arg = |i: usize, default: &str| args.get(i).cloned().unwrap_or_else(|| default.to_owned());
    let inputs: serde_json::Value =
        serde_json::from_str(&arg(3, r#"{"text": "hello from blocking Rust"}"#))?;
    let request = CreateTaskRequest::new(arg(0, "@oomol/echo"), arg(1, "1.0.0"), arg(2, "main"))
        .inputs(&inputs)?;

    println!(
        "running {}@{} {} ...",
        request.package_name, request.package_version, request.block_name
    );
    let options = AwaitOptions::new()
        .interval(Duration::from_millis(150))
        .max_interval(Duration::from_secs(2))
        .timeout(Duration::from_secs(10 * 60))
        .on_progress(|progress, status| println!("  {status:<10} {progress:5.1}%"));
    let outcome = client.create_and_wait(request, options)?;

    println!("task {}: success", outcome.task_id);
    println!(
        "result data: {}",
        serde_json::to_string_pretty(&outcome.result.result_data)?
    );
    Ok(())
}
