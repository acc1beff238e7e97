//! Files: uploads (from a path, or base64) and downloads of result files.

#![allow(unused_imports)]

use super::*;

#[tool_router(router = files_router, vis = "pub(super)")]
impl CloudTaskServer {
    /// Uploads a file from the machine that runs this server, and answers its URL: the
    /// value to give a block input that takes a file.
    #[tool(annotations(
        read_only_hint = false,
        destructive_hint = false,
        open_world_hint = true
    ))]
    async fn upload_file(
        &self,
        Parameters(params): Parameters<UploadFileParams>,
        context: RequestContext<RoleServer>,
    ) -> Result<Json<UploadedInfo>, ToolError> {
        let path = self.local_path(&params.path)?;
        let options = UploadOptions::new().cancel_token(call_token(&context));
        let uploaded = self
            .client()
            .upload_file(&path, options)
            .await
            .map_err(|e| self.upload_failed(&e))?;
        self.note(&format!("uploaded {}", params.path));
        Ok(Json(uploaded_info(uploaded)))
    }

    /// Uploads a file given as base64 (for an agent on another machine than this server;
    /// at most 32 MiB), and answers its URL: the value to give a block input that takes a
    /// file.
    #[tool(annotations(
        read_only_hint = false,
        destructive_hint = false,
        open_world_hint = true
    ))]
    async fn upload_base64(
        &self,
        Parameters(params): Parameters<UploadBase64Params>,
        context: RequestContext<RoleServer>,
    ) -> Result<Json<UploadedInfo>, ToolError> {
        let bytes = decode_base64(&params.data_base64)?;
        let options = UploadOptions::new().cancel_token(call_token(&context));
        let uploaded = self
            .client()
            .upload_bytes(&bytes, &params.file_name, options)
            .await
            .map_err(|e| self.upload_failed(&e))?;
        Ok(Json(uploaded_info(uploaded)))
    }

    /// Saves a succeeded task's result file on the machine that runs this server
    /// (resumable: an interrupted download to the same path continues).
    #[tool(annotations(
        read_only_hint = false,
        destructive_hint = true,
        open_world_hint = true
    ))]
    async fn download_result(
        &self,
        Parameters(params): Parameters<DownloadParams>,
        context: RequestContext<RoleServer>,
    ) -> Result<Json<DownloadedInfo>, ToolError> {
        check_task_id(&params.task_id)?;
        // Absolute, so that the agent learns where the file is whatever this server's
        // working directory.
        let path = self.local_path(&params.path)?;
        let path = std::path::absolute(&path).unwrap_or(path);
        let task_id = params.task_id;
        let result = self
            .client()
            .get_task_result(&task_id)
            .await
            .map_err(|e| ToolError::while_waiting(&e, &task_id, &[]))?;
        let success = match result {
            TaskResult::Success(success) => success,
            TaskResult::Failed { error } => {
                return Err(ToolError::new(format!(
                    "Task {task_id} failed ({}): it has no result file.",
                    error.as_deref().unwrap_or("Unknown error")
                )));
            }
            other => {
                return Err(ToolError::new(format!(
                    "Task {task_id} is still {}: call wait_task with {{\"taskId\": \
                     \"{task_id}\"}} first.",
                    other.status()
                )));
            }
        };
        let url = success
            .require_result_url(&task_id)
            .map_err(|e| ToolError::from_sdk(&e))?
            .to_owned();
        let options = DownloadOptions::new()
            .cancel_token(call_token(&context))
            .max_size(cloud_task_async::core::DEFAULT_TOOL_MAX_DOWNLOAD_SIZE);
        let downloaded = match self.client().download(&url, &path, options).await {
            Ok(downloaded) => downloaded,
            Err(Error::Cancelled(_)) => {
                return Err(ToolError::new(format!(
                    "The download of task {task_id}'s result was cancelled; what was fetched \
                     is kept, and calling again resumes it."
                )));
            }
            Err(error) => return Err(ToolError::from_sdk(&error)),
        };
        self.note(&format!(
            "saved task {task_id}'s result to {}",
            path.display()
        ));
        Ok(Json(DownloadedInfo {
            task_id,
            path: path.display().to_string(),
            size: downloaded.size,
            content_type: downloaded.content_type,
        }))
    }
}
