//! The live view of a task: its progress, typed log events and result in one stream; a
//! task handle re-attached by ID; and its result file downloaded to disk, resumable.
//!
//! ```sh
//! cargo run --example live_view                       # against an embedded emulator
//! cargo run --example live_view -- @you/pkg 1.0.0 main '{"x":1}'   # with OOMOL_API_KEY
//! ```

mod common;

use futures_util::StreamExt;
use oomol_cloud_task::models::LogEvent;
use oomol_cloud_task::{AwaitOptions, CreateTaskRequest, DownloadOptions, TaskEvent};

#[tokio::main]
async fn main() -> std::process::ExitCode {
    common::exit(run().await)
}

async fn run() -> Result<(), Box<dyn std::error::Error>> {
    let (client, emulator) = common::connect().await?;
    let args: Vec<String> = std::env::args().skip(1).collect();
    let request = match (&args[..], &emulator) {
        ([package, version, block, rest @ ..], _) => {
            let mut request = CreateTaskRequest::new(package, version, block);
            if let Some(inputs) = rest.first() {
                request = request.input_values(serde_json::from_str(inputs)?);
            }
            request
        }
        // The emulator's `@oomol/file` writes a few log lines and stores a result file.
        (_, Some(_)) => CreateTaskRequest::new("@oomol/file", "1.0.0", "main")
            .input("text", "hello from a result file\n")
            .input("logLines", 5)
            .input("durationMs", 2000),
        (_, None) => {
            return Err(
                "with OOMOL_API_KEY set, name a block: PACKAGE VERSION BLOCK ['{inputs}']".into(),
            );
        }
    };

    let task = client.submit(request).await?;
    println!("task {} (re-attach later with client.task(id))", task.id());

    // One stream: progress, each log entry once, in order, then the result.
    let mut events = task.events(AwaitOptions::new());
    let mut result_url = None;
    while let Some(event) = events.next().await {
        match event? {
            TaskEvent::Progress { status, progress } => println!("  {status:<10} {progress:5.1}%"),
            TaskEvent::Log {
                event: LogEvent::BlockLog { log, stdio, .. },
                ..
            } => {
                let stream = if stdio.as_deref() == Some("stderr") {
                    "!"
                } else {
                    "|"
                };
                println!("  {stream} {log}");
            }
            TaskEvent::Log {
                event: LogEvent::BlockOutput { handle, output, .. },
                ..
            } => {
                println!("  output {handle} = {output}");
            }
            TaskEvent::Log { event: other, .. } => println!("  {}", other.type_name()),
            TaskEvent::Finished(result) => {
                println!("  success: {}", serde_json::to_string(&result.result_data)?);
                result_url = result.result_url;
            }
            _ => {}
        }
    }

    if result_url.is_none() {
        println!("no result file: its outputs are above");
        return Ok(());
    }
    // The handle waits for the result (done already), then downloads its file.
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("result");
    let options = DownloadOptions::new().on_progress(|done, total| match total {
        Some(total) => println!("  downloaded {done} of {total} bytes"),
        None => println!("  downloaded {done} bytes"),
    });
    let file = client
        .task(task.id())
        .download_result(&path, options)
        .await?;
    println!(
        "result file: {} bytes, {}",
        file.size,
        file.content_type.as_deref().unwrap_or("no type")
    );
    let head = std::fs::read(&path)?;
    println!(
        "{}",
        String::from_utf8_lossy(&head[..head.len().min(200)]).trim_end()
    );
    Ok(())
}
