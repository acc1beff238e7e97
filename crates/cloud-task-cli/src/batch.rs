//! `cloud-task batch`: a task per line of a JSON Lines file, through the SDK's crash-safe
//! `run_many`.

use std::collections::HashMap;
use std::io::{BufRead, Write};

use cloud_task_async::{
    BatchCounts, BatchEvent, BatchItem, BatchOptions, BatchOutcome, CreateTaskRequest,
};
use futures_util::StreamExt;
use serde_json::{Value, json};

use crate::args::BatchArgs;
use crate::commands::Context;
use crate::failure::Failure;
use crate::progress::batch_bar;

/// The most problems listed when inputs do not fit their blocks.
const MAX_LISTED_PROBLEMS: usize = 10;

/// The largest inputs file line, so that a file without line breaks cannot fill memory.
const MAX_LINE: usize = 16 << 20;

/// Reads the inputs: one task per non-blank line.
fn read_inputs(args: &BatchArgs) -> Result<Vec<CreateTaskRequest>, Failure> {
    let name = args.inputs.display().to_string();
    let unreadable = |e: std::io::Error| Failure::usage(format!("cannot read {name}: {e}"));
    let reader: Box<dyn BufRead> = if args.inputs.as_os_str() == "-" {
        Box::new(std::io::stdin().lock())
    } else {
        // A regular file only: a FIFO would hang the open, a device never end.
        Box::new(std::io::BufReader::new(
            cloud_task_local::open_regular(
                &args.inputs,
                "a batch inputs file",
                std::fs::OpenOptions::new().read(true),
            )
            .map_err(unreadable)?,
        ))
    };
    let mut requests = Vec::new();
    let mut reader = std::io::Read::take(reader, u64::MAX);
    let mut line = Vec::new();
    let mut number = 0;
    loop {
        line.clear();
        reader.set_limit(MAX_LINE as u64 + 1);
        let n = reader.read_until(b'\n', &mut line).map_err(unreadable)?;
        if n == 0 {
            break;
        }
        number += 1;
        if line.len() > MAX_LINE {
            return Err(Failure::usage(format!(
                "line {number} of {name} is longer than {} MiB",
                MAX_LINE >> 20
            )));
        }
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        let bad = |why: String| Failure::usage(format!("line {number} of {name}: {why}"));
        let value: Value =
            serde_json::from_slice(&line).map_err(|e| bad(format!("not JSON ({e})")))?;
        let request = match &args.block {
            Some(block) => {
                let Value::Object(inputs) = value else {
                    return Err(bad(
                        "with --block, each line is a JSON object of inputs".to_owned()
                    ));
                };
                CreateTaskRequest::new(&block[0], &block[1], &block[2]).input_values(inputs)
            }
            None => serde_json::from_value(value).map_err(|e| {
                bad(format!(
                    "not a task ({e}): each line needs packageName, packageVersion, blockName \
                     and inputValues, or give the block with --block PACKAGE VERSION BLOCK"
                ))
            })?,
        };
        requests.push(request);
    }
    if requests.is_empty() {
        return Err(Failure::usage(format!("{name} holds no input")));
    }
    Ok(requests)
}

/// The line of `--output` of an input that ended.
fn result_line(item: &BatchItem) -> Value {
    let (status, result, error) = match &item.outcome {
        BatchOutcome::Succeeded(success) => (
            "success",
            Some(json!({"resultURL": success.result_url, "resultData": success.result_data})),
            None,
        ),
        BatchOutcome::Failed(error) => ("failed", None, Some(error.exact_text())),
        BatchOutcome::NotCreated(error) => ("not_created", None, Some(error.exact_text())),
        BatchOutcome::Unknown(error) => ("unknown", None, Some(error.exact_text())),
        // Stopped (Ctrl-C): nothing was cancelled on the server, only the waiting.
        _ if item.task_id.is_some() => (
            "unfinished",
            None,
            Some("the batch stopped waiting; the task keeps running: run the same command with its journal to wait for it".to_owned()),
        ),
        _ => (
            "not_created",
            None,
            Some("the batch stopped before this input was created".to_owned()),
        ),
    };
    let mut line = json!({"index": item.index, "taskID": item.task_id, "status": status});
    if let Some(result) = result {
        line["result"] = result;
    }
    if let Some(error) = error {
        line["error"] = Value::from(error);
    }
    line
}

impl Context {
    /// Checks every input against its block's description (each package version read
    /// once; `latest` pinned to the version it is, as `run` does) before anything is
    /// created: the inputs that do not fit, each by index, in one usage error.
    async fn check_all(
        &self,
        client: &cloud_task_async::Client,
        requests: &mut [CreateTaskRequest],
    ) -> Result<(), Failure> {
        // Each package version is described (and pinned) once, then every input checked.
        let mut described = HashMap::new();
        let mut problems = Vec::new();
        let mut more = 0;
        for (index, request) in requests.iter_mut().enumerate() {
            let key = (
                request.package_name.clone(),
                request.package_version.clone(),
            );
            let info = match described.get(&key) {
                Some(info) => std::sync::Arc::clone(info),
                None => {
                    let info = self.describe(client, request).await?;
                    described.insert(key, std::sync::Arc::clone(&info));
                    self.pin(&info, request);
                    info
                }
            };
            info.pin(request);
            if let Err(error) = info.check(request) {
                if problems.len() < MAX_LISTED_PROBLEMS {
                    problems.push(format!(
                        "input {index}: {}",
                        crate::output::clean(&error.to_string())
                    ));
                } else {
                    more += 1;
                }
            }
        }
        if problems.is_empty() {
            return Ok(());
        }
        let mut message = format!(
            "{} of {} inputs do not fit their block; nothing was created:",
            problems.len() + more,
            requests.len()
        );
        for problem in &problems {
            message.push_str("\n  ");
            message.push_str(problem);
        }
        if more > 0 {
            message.push_str(&format!("\n  and {more} more"));
        }
        Err(Failure::usage(message).with_hint(
            "`cloud-task info PACKAGE VERSION BLOCK` lists a block's inputs; --no-check runs the batch without checking",
        ))
    }
}

fn counts_message(c: &BatchCounts) -> String {
    format!(
        "pending {} queued {} running {} done {} failed {} unknown {}",
        c.pending + c.creating,
        c.queued,
        c.running,
        c.done,
        c.failed,
        c.unknown
    )
}

impl Context {
    /// `batch`.
    pub(crate) async fn batch(&self, args: BatchArgs) -> Result<(), Failure> {
        let mut requests = read_inputs(&args)?;
        let client = self.client()?;
        if !args.no_check {
            self.check_all(&client, &mut requests).await?;
        }
        let mut options = BatchOptions::new()
            .await_options(self.await_options(&args.wait))
            .lookup_unknown(!args.no_lookup)
            .recreate_unknown(args.recreate_unknown);
        if let Some(n) = args.concurrency {
            options = options.max_active(n as usize);
        }
        if let Some(journal) = &args.journal {
            options = options.journal(journal);
        }
        let mut out: Box<dyn Write> = match &args.output {
            Some(path) => Box::new(std::io::BufWriter::new(
                std::fs::File::create(path)
                    .map_err(|e| Failure::usage(format!("cannot write {}: {e}", path.display())))?,
            )),
            None => Box::new(std::io::stdout().lock()),
        };
        let total = requests.len();
        let bar = batch_bar(&self.ui, total as u64);
        let mut stream = client.run_many(requests, options);
        let mut failure = None;
        while let Some(event) = stream.next().await {
            match event {
                Ok(BatchEvent::Finished(item)) => {
                    let line = result_line(&item);
                    if let Err(e) = writeln!(out, "{line}") {
                        failure = Some(Failure::output(e));
                        break;
                    }
                    if let Some(bar) = &bar {
                        bar.inc(1);
                    }
                }
                Ok(_) => {}
                Err(error) => {
                    failure = Some(Failure::from(error));
                    break;
                }
            }
            if let Some(bar) = &bar {
                bar.set_message(counts_message(&stream.counts()));
            }
        }
        let counts = stream.counts();
        if let Some(bar) = &bar {
            bar.finish_and_clear();
        }
        out.flush().map_err(Failure::output)?;
        drop(out);
        if let Some(failure) = failure {
            return Err(failure);
        }
        let summary = json!({
            "total": counts.total, "done": counts.done, "failed": counts.failed,
            "unknown": counts.unknown, "unfinished": counts.cancelled,
        });
        if self.ui.json && args.output.is_some() {
            self.ui.out_json(&summary)?;
        }
        self.ui.note(&format!(
            "{} inputs: {} succeeded, {} failed or not created, {} unknown, {} unfinished",
            counts.total, counts.done, counts.failed, counts.unknown, counts.cancelled
        ));
        if self.interrupt.is_cancelled() {
            let mut failure = Failure::interrupted();
            if let Some(journal) = &args.journal {
                failure = failure.with_hint(format!(
                    "created tasks keep running; run the same command again (same --journal {}) to resume",
                    journal.display()
                ));
            }
            return Err(failure);
        }
        if counts.done == counts.total {
            Ok(())
        } else {
            Err(Failure::batch_incomplete(&counts))
        }
    }
}
