//! The account's queue: its dashboard, pausing and resuming it.

#![allow(unused_imports)]

use super::*;

#[tool_router(router = queue_router, vis = "pub(super)")]
impl CloudTaskServer {
    /// Who the server's API key belongs to: call it first to check access before running
    /// anything. A refused key is an error saying so.
    #[tool(annotations(read_only_hint = true, open_world_hint = true))]
    async fn whoami(&self) -> Result<Json<WhoamiInfo>, ToolError> {
        let client = self.client();
        let profile = client.whoami().await.map_err(|e| ToolError::from_sdk(&e))?;
        Ok(Json(WhoamiInfo {
            id: profile.id(),
            name: profile.name(),
            api_url: client.config().api_url().to_owned(),
            base_url: client.config().base_url().to_owned(),
        }))
    }

    /// The account's queue: its limits (concurrency, queue size), how many tasks are
    /// queued and running, and whether it is paused.
    #[tool(annotations(read_only_hint = true, open_world_hint = true))]
    async fn get_dashboard(&self) -> Result<Json<DashboardInfo>, ToolError> {
        let dashboard = self
            .client()
            .get_dashboard()
            .await
            .map_err(|e| ToolError::from_sdk(&e))?;
        Ok(Json(DashboardInfo {
            max_concurrency: dashboard.limits.max_concurrency,
            max_queue_size: dashboard.limits.max_queue_size,
            queued: dashboard.count.queued,
            scheduling: dashboard.count.scheduling,
            scheduled: dashboard.count.scheduled,
            running: dashboard.count.running,
            paused: dashboard.pause.paused,
            pause_type: dashboard.pause.pause_type.map(|t| t.to_string()),
            can_resume: dashboard.pause.can_resume,
        }))
    }

    /// Pauses the account's queue: queued tasks wait, running tasks go on.
    #[tool(annotations(
        destructive_hint = false,
        idempotent_hint = true,
        open_world_hint = true
    ))]
    async fn pause_queue(&self) -> Result<Json<PauseInfo>, ToolError> {
        let answer = self
            .client()
            .pause_user_queue()
            .await
            .map_err(|e| ToolError::from_sdk(&e))?;
        Ok(Json(PauseInfo {
            paused: true,
            pause_type: answer.pause_type.map(|t| t.to_string()),
        }))
    }

    /// Resumes the account's queue: queued tasks start again.
    #[tool(annotations(
        destructive_hint = false,
        idempotent_hint = true,
        open_world_hint = true
    ))]
    async fn resume_queue(&self) -> Result<Json<PauseInfo>, ToolError> {
        self.client()
            .resume_user_queue()
            .await
            .map_err(|e| ToolError::from_sdk(&e))?;
        Ok(Json(PauseInfo {
            paused: false,
            pause_type: None,
        }))
    }
}
