//! Shared by the examples: connect to the real service when `OOMOL_API_KEY` is set, or to an
//! emulator started in this process otherwise.

#![allow(dead_code)]

use oomol_cloud_task::Client;
use oomol_cloud_task::emulator::{Emulator, EmulatorHandle};

/// A client, and the emulator it talks to when no API key is set (keep it alive).
pub async fn connect() -> Result<(Client, Option<EmulatorHandle>), Box<dyn std::error::Error>> {
    if std::env::var("OOMOL_API_KEY").is_ok_and(|k| !k.trim().is_empty()) {
        println!("OOMOL_API_KEY is set: talking to the real Cloud Task service");
        return Ok((Client::from_env()?, None));
    }
    // Real-life pace: a task takes about a second.
    let emulator = Emulator::builder().start().await?;
    println!(
        "OOMOL_API_KEY is not set: running against a local emulator at {}",
        emulator.base_url()
    );
    let client = Client::builder()
        .api_key(emulator.api_key())
        .base_url(emulator.base_url())
        .upload_base_url(emulator.upload_base_url())
        .build()?;
    Ok((client, Some(emulator)))
}
