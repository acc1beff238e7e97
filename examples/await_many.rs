//! Start 50 tasks and wait for all of them, with a bounded number of polls in flight.
//!
//! ```sh
//! cargo run --example await_many
//! ```

mod common;

use std::time::{Duration, Instant};

use oomol_cloud_task::{AwaitOptions, CreateTaskRequest};

#[tokio::main]
async fn main() -> std::process::ExitCode {
    common::exit(run().await)
}

async fn run() -> Result<(), Box<dyn std::error::Error>> {
    let (client, _emulator) = common::connect().await?;

    let started = Instant::now();
    let mut ids = Vec::new();
    for i in 0..50 {
        let request = CreateTaskRequest::new("@oomol/echo", "1.0.0", "main").input("n", i);
        ids.push(client.create_task(request).await?.task_id);
    }
    println!("created {} tasks in {:?}", ids.len(), started.elapsed());

    // At most 8 polls in flight; the per-task callback says which task moved.
    let options = AwaitOptions::new()
        .interval(Duration::from_millis(250))
        .timeout(Duration::from_secs(10 * 60))
        .max_in_flight(8)
        .on_task_progress(|id, progress, status| {
            if progress >= 50.0 {
                println!("  {id}: {status} {progress:.0}%");
            }
        });
    let results = client.await_many(&ids, options).await;

    let mut ok = 0;
    for (id, result) in ids.iter().zip(&results) {
        match result {
            Ok(success) => {
                ok += 1;
                let n = success
                    .result_data
                    .as_ref()
                    .and_then(|d| d.get(0))
                    .and_then(|o| o.get("n"));
                println!(
                    "{id}: success (n = {})",
                    n.map_or("?".to_owned(), |n| n.to_string())
                );
            }
            Err(e) => println!("{id}: {e}"),
        }
    }
    println!("{ok}/{} succeeded in {:?}", ids.len(), started.elapsed());
    if ok != ids.len() {
        return Err("some tasks did not succeed".into());
    }
    Ok(())
}
