//! The views a tool answers with, made from the SDK's types: what an agent reads.

use cloud_task_async::{BatchItem, BatchOutcome, PackageInfo, TaskDetail, TaskListItem};
use serde_json::Value;

use crate::types::*;

/// One input of a batch as the agent reads it; `known` is its task when the batch had
/// reported one.
pub(crate) fn batch_entry(item: BatchItem, known: Option<String>) -> BatchEntry {
    let task_id = item.task_id.or(known);
    let (status, result_url, result_data, error) = match item.outcome {
        BatchOutcome::Succeeded(success) => {
            ("success", success.result_url, success.result_data, None)
        }
        BatchOutcome::Failed(error) => ("failed", None, None, Some(error.exact_text())),
        BatchOutcome::NotCreated(error) => ("not_created", None, None, Some(error.exact_text())),
        BatchOutcome::Unknown(error) => ("unknown", None, None, Some(error.exact_text())),
        _ => ("unfinished", None, None, None),
    };
    BatchEntry {
        index: item.index,
        task_id,
        status: status.to_owned(),
        result_url,
        result_data,
        error,
    }
}

/// The answer of `run_batch`: the counts, and what to do when it is not complete.
pub(crate) fn batch_result(items: Vec<BatchEntry>, journal: bool) -> BatchResult {
    let count = |status: &str| items.iter().filter(|i| i.status == status).count();
    let unfinished = count("unfinished");
    let unknown = count("unknown");
    let mut next = Vec::new();
    if unfinished > 0 {
        next.push(if journal {
            "Call run_batch again with the same inputs and journal to continue: the tasks \
             created are waited for, never created again."
        } else {
            "Unfinished inputs with a taskId keep running: wait_task each. Those without one \
             were never created; do not run the batch again as it is (the created tasks would \
             run twice): pass a journal next time to resume safely."
        });
    }
    if unknown > 0 {
        next.push(
            "Inputs with status unknown may have a task: list_tasks shows whether it exists; \
             do not run them again blindly.",
        );
    }
    BatchResult {
        complete: unfinished == 0,
        total: items.len(),
        succeeded: count("success"),
        failed: count("failed"),
        not_created: count("not_created"),
        unknown,
        unfinished,
        next: (!next.is_empty()).then(|| next.join(" ")),
        items,
    }
}

pub(crate) fn uploaded_info(uploaded: cloud_task_async::UploadedFile) -> UploadedInfo {
    UploadedInfo {
        url: uploaded.url,
        file_name: uploaded.file_name,
        file_size: uploaded.file_size,
        mime_type: uploaded.mime_type,
        expires_at: uploaded.expires_at,
    }
}

pub(crate) fn package_summary(info: &PackageInfo) -> PackageSummary {
    PackageSummary {
        package_name: info.package_name.clone(),
        package_version: info.package_version.clone(),
        title: info.title.clone(),
        description: info.description.clone(),
        blocks: info
            .blocks
            .iter()
            .map(|block| BlockSummary {
                block_name: block.block_name.clone(),
                title: block.title.clone(),
                description: block.description.clone(),
                input_schema: block.input_schema(),
                outputs: block
                    .outputs
                    .iter()
                    .map(|h| (h.handle.clone(), Value::from(h.description.clone())))
                    .collect(),
            })
            .collect(),
    }
}

pub(crate) fn list_item_info(item: &TaskListItem) -> TaskInfo {
    TaskInfo {
        task_id: item.task_id.clone(),
        status: item.status.to_string(),
        progress: item.progress,
        task_type: Some(item.task_type.to_string()),
        package_id: item.package_id.clone(),
        block_name: item.block_name.clone(),
        workload: Some(item.workload.to_string()),
        workload_id: Some(item.workload_id.clone()),
        input_values: item.input_values().cloned(),
        created_at: Some(item.created_at),
        start_time: item.start_time,
        end_time: item.end_time,
        result_url: item.result_url.clone(),
        failed_message: item.failed_message.clone(),
    }
}

pub(crate) fn detail_info(detail: &TaskDetail) -> TaskInfo {
    let mut info = TaskInfo {
        task_type: Some(detail.task_type().to_string()),
        block_name: detail.scheduled_block().map(str::to_owned),
        input_values: detail.input_values().cloned(),
        ..TaskInfo::new(
            detail.task_id().to_owned(),
            detail.status(),
            detail.progress(),
        )
    };
    match detail {
        TaskDetail::User(d) => {
            info.workload = Some(d.workload.to_string());
            info.workload_id = Some(d.workload_id.clone());
            info.created_at = Some(d.created_at);
            info.start_time = d.start_time;
            info.end_time = d.end_time;
            info.result_url = d.result_url.clone();
            info.failed_message = d.failed_message.clone();
        }
        TaskDetail::Shared(d) => {
            info.package_id = d.package_id.clone();
            info.created_at = Some(d.created_at);
            info.start_time = d.start_time;
            info.end_time = d.end_time;
            info.result_url = d.result_url.clone();
            info.failed_message = d.failed_message.clone();
        }
        _ => {}
    }
    info
}
