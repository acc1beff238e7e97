//! Create a task, wait for it with progress printed, then print its result.
//!
//! ```sh
//! cargo run --example quickstart                      # against a local emulator
//! OOMOL_API_KEY=... cargo run --example quickstart -- @your/package 1.0.0 main '{"text":"hi"}'
//! ```
//!
//! With `OOMOL_API_KEY` set it talks to the real service (name a block you can run as the
//! arguments: package, version, block and optional JSON inputs); without it, it starts the
//! emulator in this process and runs its `@oomol/echo` block.

mod common;

use std::time::Duration;

use oomol_cloud_task::{AwaitOptions, CreateTaskRequest};

#[tokio::main]
async fn main() -> std::process::ExitCode {
    common::exit(run().await)
}

async fn run() -> Result<(), Box<dyn std::error::Error>> {
    let (client, _emulator) = common::connect().await?;

    let args: Vec<String> = std::env::args().skip(1).collect();
    let arg = |i: usize, default: &str| args.get(i).cloned().unwrap_or_else(|| default.to_owned());
    let inputs: serde_json::Value =
        serde_json::from_str(&arg(3, r#"{"text": "hello from Rust"}"#))?;
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
    let outcome = client.create_and_wait(request, options).await?;

    println!("task {}: success", outcome.task_id);
    if let Some(url) = &outcome.result.result_url {
        println!("result URL: {url}");
    }
    println!(
        "result data: {}",
        serde_json::to_string_pretty(&outcome.result.result_data)?
    );
    Ok(())
}
