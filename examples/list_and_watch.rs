//! Stream every task page by page, then watch one task's progress change by change.
//!
//! ```sh
//! cargo run --example list_and_watch
//! ```

mod common;

use std::time::Duration;

use futures_util::StreamExt;
use oomol_cloud_task::{AwaitOptions, CreateTaskRequest, ListTasksQuery, WatchEvent};

#[tokio::main]
async fn main() -> std::process::ExitCode {
    common::exit(run().await)
}

async fn run() -> Result<(), Box<dyn std::error::Error>> {
    let (client, emulator) = common::connect().await?;

    // On the emulator, make a few tasks to list.
    if emulator.is_some() {
        for i in 0..7 {
            let request = CreateTaskRequest::new("@oomol/echo", "1.0.0", "main").input("i", i);
            client.create_task(request).await?;
        }
    }

    // Every task, newest first, three per page: the stream asks for the next page only when
    // it needs it, and keeps the filters.
    let mut tasks = client.list_all(ListTasksQuery::new().size(3));
    let mut count = 0;
    while let Some(task) = tasks.next().await {
        let task = task?;
        count += 1;
        println!(
            "{count:3}. {} {:<10} {:5.1}%",
            task.task_id, task.status, task.progress
        );
        if count >= 50 {
            println!("(stopping after 50)");
            break;
        }
    }

    // Watch one task: one event per change of status or progress, then the result.
    let created = client
        .create_task(
            CreateTaskRequest::new("@oomol/echo", "1.0.0", "main")
                .input("durationMs", 2000)
                .input("text", "watch me"),
        )
        .await?;
    println!("watching {}", created.task_id);
    let mut events = client.watch(
        &created.task_id,
        AwaitOptions::new().interval(Duration::from_millis(100)),
    );
    while let Some(event) = events.next().await {
        match event? {
            WatchEvent::Progress { status, progress } => {
                println!("  {status:<10} {progress:5.1}%")
            }
            WatchEvent::Finished(result) => {
                println!("  success: {}", serde_json::to_string(&result.result_data)?)
            }
            other => println!("  {other:?}"),
        }
    }
    Ok(())
}
