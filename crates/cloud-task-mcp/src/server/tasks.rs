//! Reading tasks: a result, a record, pages of the list, the latest of each workload, the logs.

#![allow(unused_imports)]

use super::*;

#[tool_router(router = tasks_router, vis = "pub(super)")]
impl CloudTaskServer {
    /// A task's result as it is now, without waiting: its status and progress, and once
    /// it is over, its outputs or its error.
    #[tool(annotations(read_only_hint = true, open_world_hint = true))]
    async fn get_task_result(
        &self,
        Parameters(params): Parameters<TaskIdParams>,
    ) -> Result<Json<ResultNow>, ToolError> {
        check_task_id(&params.task_id)?;
        let result = self
            .client()
            .get_task_result(&params.task_id)
            .await
            .map_err(|e| ToolError::while_waiting(&e, &params.task_id, &[]))?;
        let task_id = params.task_id;
        Ok(Json(match result {
            TaskResult::InProgress { status, progress } => ResultNow {
                task_id,
                status: status.to_string(),
                progress,
                result_url: None,
                result_data: None,
                error: None,
            },
            TaskResult::Success(success) => ResultNow {
                task_id,
                status: TaskStatus::Success.to_string(),
                progress: 100.0,
                result_url: success.result_url,
                result_data: success.result_data,
                error: None,
            },
            TaskResult::Failed { error } => ResultNow {
                task_id,
                status: TaskStatus::Failed.to_string(),
                progress: 100.0,
                result_url: None,
                result_data: None,
                error: Some(error.unwrap_or_else(|| "Unknown error".to_owned())),
            },
            other => ResultNow {
                task_id,
                status: other.status().to_string(),
                progress: 0.0,
                result_url: None,
                result_data: None,
                error: None,
            },
        }))
    }

    /// A task's detail: its block, inputs, status, times and result URL or failure.
    #[tool(annotations(read_only_hint = true, open_world_hint = true))]
    async fn get_task(
        &self,
        Parameters(params): Parameters<TaskIdParams>,
    ) -> Result<Json<TaskInfo>, ToolError> {
        check_task_id(&params.task_id)?;
        let detail = self
            .client()
            .get_task_detail(&params.task_id)
            .await
            .map_err(|e| ToolError::while_waiting(&e, &params.task_id, &[]))?;
        Ok(Json(detail_info(&detail)))
    }

    /// A page of the account's tasks, newest first, optionally filtered by status,
    /// package or workload; pass nextToken to read the next page.
    #[tool(annotations(read_only_hint = true, open_world_hint = true))]
    async fn list_tasks(
        &self,
        Parameters(params): Parameters<ListParams>,
    ) -> Result<Json<TaskList>, ToolError> {
        let mut query = ListTasksQuery::new();
        query.size = params.size;
        query.next_token = params.next_token;
        query.status = params.status.map(|s| TaskStatus::from(s.as_str()));
        query.package_id = params.package_id;
        query.workload_id = params.workload_id;
        let page = self
            .client()
            .list_tasks(query)
            .await
            .map_err(|e| ToolError::from_sdk(&e))?;
        Ok(Json(TaskList {
            tasks: page.tasks.iter().map(list_item_info).collect(),
            next_token: page.next_token,
        }))
    }

    /// The latest task of each of the given workloads (such as the blocks of a flow).
    #[tool(annotations(read_only_hint = true, open_world_hint = true))]
    async fn get_latest_tasks(
        &self,
        Parameters(params): Parameters<LatestParams>,
    ) -> Result<Json<LatestTasks>, ToolError> {
        let items = self
            .client()
            .get_latest_tasks(params.workload_ids.as_slice())
            .await
            .map_err(|e| ToolError::from_sdk(&e))?;
        Ok(Json(LatestTasks {
            tasks: items
                .into_iter()
                .map(|item| TaskInfo {
                    workload_id: Some(item.workload_id),
                    created_at: Some(item.created_at),
                    start_time: item.start_time,
                    end_time: item.end_time,
                    ..TaskInfo::new(item.task_id, &item.status, item.progress)
                })
                .collect(),
        }))
    }

    /// A page of a task's logs (100 entries a page): the lines its blocks wrote, their
    /// outputs and errors.
    #[tool(annotations(read_only_hint = true, open_world_hint = true))]
    async fn get_task_logs(
        &self,
        Parameters(params): Parameters<LogsParams>,
    ) -> Result<Json<LogsPage>, ToolError> {
        check_task_id(&params.task_id)?;
        let page = params.page.unwrap_or(1);
        let logs = self
            .client()
            .get_task_logs(&params.task_id, Some(page))
            .await
            .map_err(|e| ToolError::while_waiting(&e, &params.task_id, &[]))?;
        let more = logs.logs.len() >= LOG_PAGE_SIZE;
        Ok(Json(LogsPage {
            task_id: params.task_id,
            page,
            logs: logs
                .logs
                .into_iter()
                .map(|entry| Value::Object(entry.0))
                .collect(),
            more,
        }))
    }
}
