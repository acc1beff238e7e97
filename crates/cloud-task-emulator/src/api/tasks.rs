//! The task API's handlers: create, list, latest, detail, result, logs, dashboard, pause
//! and resume.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{RawQuery, State};
use cloud_task_core::ops::{MAX_PAGE_SIZE, MAX_WORKLOAD_IDS};
use cloud_task_core::{CreateTaskRequest, CreateTaskResponse, TaskStatus, TaskType, Workload};
use http::StatusCode;

use super::error::{Answer, ApiError, ok};
use super::params::{PathParam, known, param, path_param, query_pairs, read_json};
use super::state::Shared;
use crate::catalogue;
use crate::scheduler::{CreateError, ListFilter};
use crate::util::lock;

/// The default page size of `list_tasks`.
pub const DEFAULT_PAGE_SIZE: usize = 20;

/// Checks a create body field by field, so the message names the field at fault.
fn create_request(body: serde_json::Value) -> Result<CreateTaskRequest, ApiError> {
    let serde_json::Value::Object(fields) = &body else {
        return Err(ApiError::bad_request(
            "the create task body must be a JSON object",
        ));
    };
    for field in ["packageName", "packageVersion", "blockName"] {
        match fields.get(field) {
            None | Some(serde_json::Value::Null) => {
                return Err(ApiError::bad_request(format!("missing field {field}")));
            }
            Some(serde_json::Value::String(s)) if s.trim().is_empty() => {
                return Err(ApiError::bad_request(format!("{field} must not be empty")));
            }
            Some(serde_json::Value::String(_)) => {}
            Some(_) => {
                return Err(ApiError::bad_request(format!("{field} must be a string")));
            }
        }
    }
    match fields.get("inputValues") {
        None | Some(serde_json::Value::Null | serde_json::Value::Object(_)) => {}
        Some(_) => {
            return Err(ApiError::bad_request("inputValues must be a JSON object"));
        }
    }
    serde_json::from_value(body)
        .map_err(|e| ApiError::bad_request(format!("invalid create task body: {e}")))
}

pub(crate) async fn create_task(State(shared): State<Arc<Shared>>, body: Body) -> Answer {
    let request = create_request(read_json(body, "create task").await?)?;
    let plan = catalogue::plan(&request).map_err(ApiError::bad_request)?;
    let now = shared.now();
    let created = lock(&shared.scheduler).create(request, plan, now);
    match created {
        Ok(id) => ok(&CreateTaskResponse::new(id)),
        Err(CreateError::QueueFull(max)) => Err(ApiError(
            StatusCode::TOO_MANY_REQUESTS,
            format!("queue is full: at most {max} tasks may wait; wait for some to start"),
        )),
    }
}

pub(crate) async fn list_tasks(
    State(shared): State<Arc<Shared>>,
    RawQuery(query): RawQuery,
) -> Answer {
    let pairs = query_pairs(query.as_deref());
    let size = match param(&pairs, "size") {
        None => DEFAULT_PAGE_SIZE,
        Some(s) => s
            .parse::<usize>()
            .ok()
            .filter(|s| (1..=MAX_PAGE_SIZE as usize).contains(s))
            .ok_or_else(|| ApiError::bad_request("size must be an integer between 1 and 100"))?,
    };
    let filter = ListFilter {
        status: known::<TaskStatus>(&pairs, "status", TaskStatus::KNOWN)?,
        task_type: known::<TaskType>(&pairs, "taskType", TaskType::KNOWN)?,
        workload: known::<Workload>(&pairs, "workload", Workload::KNOWN)?,
        workload_id: param(&pairs, "workloadID").map(str::to_owned),
        package_id: param(&pairs, "packageID").map(str::to_owned),
    };
    let now = shared.now();
    let mut scheduler = lock(&shared.scheduler);
    let before = match param(&pairs, "nextToken") {
        None => None,
        Some(token) => Some(scheduler.decode_token(token).ok_or_else(|| {
            ApiError::bad_request("nextToken is invalid: pass the nextToken of the previous page")
        })?),
    };
    let page = scheduler.list(&filter, size, before, now);
    drop(scheduler);
    ok(&page)
}

pub(crate) async fn latest_tasks(
    State(shared): State<Arc<Shared>>,
    RawQuery(query): RawQuery,
) -> Answer {
    let pairs = query_pairs(query.as_deref());
    let joined = param(&pairs, "workloadIDs").ok_or_else(|| {
        ApiError::bad_request("workloadIDs is required: a comma-separated list of workload IDs")
    })?;
    let ids: Vec<&str> = joined.split(',').map(str::trim).collect();
    if ids.iter().any(|id| id.is_empty()) {
        return Err(ApiError::bad_request(
            "workloadIDs must not contain empty items",
        ));
    }
    if ids.len() > MAX_WORKLOAD_IDS {
        return Err(ApiError::bad_request(format!(
            "workloadIDs cannot exceed {MAX_WORKLOAD_IDS} items, got {}",
            ids.len()
        )));
    }
    let now = shared.now();
    let items = lock(&shared.scheduler).latest(&ids, now);
    ok(&items)
}

pub(crate) async fn get_task(State(shared): State<Arc<Shared>>, id: PathParam<String>) -> Answer {
    let id = path_param(id)?;
    let now = shared.now();
    let detail = lock(&shared.scheduler).detail(&id, now);
    ok(&detail.ok_or_else(|| ApiError::task_not_found(&id))?)
}

pub(crate) async fn task_result(
    State(shared): State<Arc<Shared>>,
    id: PathParam<String>,
) -> Answer {
    let id = path_param(id)?;
    let now = shared.now();
    let result = lock(&shared.scheduler).result(&id, now);
    ok(&result.ok_or_else(|| ApiError::task_not_found(&id))?)
}

pub(crate) async fn task_logs(
    State(shared): State<Arc<Shared>>,
    id: PathParam<String>,
    RawQuery(query): RawQuery,
) -> Answer {
    let id = path_param(id)?;
    let pairs = query_pairs(query.as_deref());
    let page = match param(&pairs, "page") {
        None => 1,
        Some(p) => p
            .parse::<usize>()
            .ok()
            .filter(|p| *p >= 1)
            .ok_or_else(|| ApiError::bad_request("page must be an integer of at least 1"))?,
    };
    let now = shared.now();
    let logs = lock(&shared.scheduler).logs(&id, page, now);
    ok(&logs.ok_or_else(|| ApiError::task_not_found(&id))?)
}

pub(crate) async fn dashboard(State(shared): State<Arc<Shared>>) -> Answer {
    let now = shared.now();
    let dashboard = lock(&shared.scheduler).dashboard(now);
    ok(&dashboard)
}

async fn set_paused(shared: &Shared, paused: bool, body: Body) -> Answer {
    let _: serde_json::Value = read_json(body, if paused { "pause" } else { "resume" }).await?;
    let now = shared.now();
    let response = lock(&shared.scheduler).set_paused(paused, now);
    ok(&response)
}

pub(crate) async fn pause(State(shared): State<Arc<Shared>>, body: Body) -> Answer {
    set_paused(&shared, true, body).await
}

pub(crate) async fn resume(State(shared): State<Arc<Shared>>, body: Body) -> Answer {
    set_paused(&shared, false, body).await
}
