//! Micro-benchmarks of the sans-IO core: the CPU cost the SDK adds to each call, without
//! any network.
//!
//! - `create_request`: validate a create request and build its `http::Request` (JSON body,
//!   headers, URL);
//! - `parse_result`: parse a successful `get_task_result` response (a small JSON result);
//! - `parse_list_page_100`: parse a `list_tasks` page of 100 tasks.
//!
//! Run: `cargo bench -p cloud-task-core --bench core`.

use std::hint::black_box;

use cloud_task_core::{
    Config, CreateTask, CreateTaskRequest, GetTaskResult, HttpResponse, ListTasks, ListTasksQuery,
    Operation, TaskListItem, TaskPage, TaskStatus,
};
use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use serde_json::json;

fn config() -> Config {
    Config::builder()
        .api_key("bench-api-key-0123456789")
        .default_header("X-Team", "research")
        .build()
        .expect("a valid configuration")
}

/// A finished task's result, as the service answers it.
fn result_body() -> Vec<u8> {
    serde_json::to_vec(&json!({
        "status": "success",
        "resultURL": null,
        "resultData": [{"text": "hello", "count": 3, "scores": [0.5, 0.25, 0.125]}],
        "progress": 100,
    }))
    .expect("JSON")
}

/// A page of 100 tasks, as the service answers `list_tasks?size=100`.
fn page_body() -> Vec<u8> {
    let tasks = (0..100)
        .map(|i| {
            let mut item = TaskListItem::new(
                format!("0192f0c4-7a1e-7c3b-9d2e-{i:012x}"),
                TaskStatus::Success,
            );
            item.owner_id = "user-0123456789".to_owned();
            item.package_id = Some("@oomol/pdf-tools-1.2.3".to_owned());
            item.block_name = Some("extract".to_owned());
            item.progress = 100.0;
            item.workload_id = format!("wl-{i:04}");
            item.result_url = Some(format!("https://results.test/{i}.json"));
            item.created_at = 1_730_000_000_000 + i;
            item.updated_at = 1_730_000_005_000 + i;
            item.start_time = Some(1_730_000_001_000 + i);
            item.end_time = Some(1_730_000_004_000 + i);
            item
        })
        .collect();
    let page = TaskPage::new(tasks, Some("next-token-abcdef".to_owned()));
    serde_json::to_vec(&page).expect("JSON")
}

fn benches(c: &mut Criterion) {
    let config = config();

    c.bench_function("create_request", |b| {
        b.iter_batched(
            || {
                CreateTask::new(
                    CreateTaskRequest::new("@oomol/pdf-tools", "1.2.3", "extract")
                        .input("file", "https://files.test/report.pdf")
                        .input("pages", json!([1, 2, 3]))
                        .input("language", "en"),
                )
            },
            |op| op.request(black_box(&config)).expect("a valid request"),
            BatchSize::SmallInput,
        )
    });

    let body = result_body();
    let mut group = c.benchmark_group("parse_result");
    group.throughput(Throughput::Bytes(body.len() as u64));
    let op = GetTaskResult::new("t-1");
    group.bench_function("success", |b| {
        b.iter_batched(
            || HttpResponse::new(body.clone()),
            |response| op.parse(response).expect("a result"),
            BatchSize::SmallInput,
        )
    });
    group.finish();

    let body = page_body();
    let mut group = c.benchmark_group("parse_list_page_100");
    group.throughput(Throughput::Bytes(body.len() as u64));
    let op = ListTasks::new(ListTasksQuery::new().size(100));
    group.bench_function("tasks", |b| {
        b.iter_batched(
            || HttpResponse::new(body.clone()),
            |response| {
                let page = op.parse(response).expect("a page");
                assert_eq!(page.tasks.len(), 100);
                page
            },
            BatchSize::SmallInput,
        )
    });
    group.finish();
}

criterion_group!(core, benches);
criterion_main!(core);
