//! Run a task and export the client's spans through OpenTelemetry: one span per operation
//! (`create_and_wait`, holding `create_task` and `await_result`), one per HTTP request
//! inside it, with OpenTelemetry's HTTP client attributes (`http.request.method`,
//! `server.address`, `url.full`, `http.response.status_code`, `error.type`) and the SDK's
//! own (`oomol.operation`, `oomol.attempt`, `oomol.task.id`).
//!
//! ```sh
//! cargo run --example opentelemetry        # against a local emulator
//! ```
//!
//! Each span is printed as it ends, by OpenTelemetry's stdout exporter: its name, its
//! parent, its attributes and its status. With `OOMOL_API_KEY` set it talks to the real
//! service and runs the block named by the arguments (package, version, block, JSON
//! inputs), as `quickstart` does.
//!
//! To send the spans to a collector (Jaeger, Tempo, Honeycomb, ...) instead, replace the
//! stdout exporter with OTLP's:
//!
//! ```toml
//! opentelemetry-otlp = { version = "0.33", features = ["grpc-tonic"] }
//! ```
//!
//! ```ignore
//! let exporter = opentelemetry_otlp::SpanExporter::builder().with_tonic().build()?;
//! let provider = SdkTracerProvider::builder().with_batch_exporter(exporter).build();
//! ```
//!
//! It sends to `OTEL_EXPORTER_OTLP_ENDPOINT` (default `http://localhost:4317`).

mod common;

use oomol_cloud_task::{AwaitOptions, CreateTaskRequest};
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing::level_filters::LevelFilter;
use tracing_subscriber::filter::Targets;
use tracing_subscriber::prelude::*;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    common::exit(run().await)
}

async fn run() -> Result<(), Box<dyn std::error::Error>> {
    // Each span is exported when it ends (a batch exporter is the choice for a service).
    let provider = SdkTracerProvider::builder()
        .with_simple_exporter(opentelemetry_stdout::SpanExporter::default())
        .build();
    let tracer = provider.tracer("oomol-cloud-task-example");
    // The SDK's spans have the target `oomol_cloud_task`: operations at INFO, requests at
    // DEBUG. Other crates' spans (the HTTP stack, the emulator) are left out.
    let sdk_spans = Targets::new().with_target("oomol_cloud_task", LevelFilter::DEBUG);
    tracing_subscriber::registry()
        .with(
            tracing_opentelemetry::layer()
                .with_tracer(tracer)
                .with_filter(sdk_spans),
        )
        .init();

    let (client, _emulator) = common::connect().await?;
    let args: Vec<String> = std::env::args().skip(1).collect();
    let arg = |i: usize, default: &str| args.get(i).cloned().unwrap_or_else(|| default.to_owned());
    let inputs: serde_json::Value = serde_json::from_str(&arg(3, r#"{"text": "traced"}"#))?;
    let request = CreateTaskRequest::new(arg(0, "@oomol/echo"), arg(1, "1.0.0"), arg(2, "main"))
        .inputs(&inputs)?;
    let outcome = client.create_and_wait(request, AwaitOptions::new()).await?;
    println!("task {}: success", outcome.task_id);

    // Exports what is left and stops the exporter.
    provider.shutdown()?;
    Ok(())
}
