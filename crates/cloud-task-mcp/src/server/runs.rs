//! Running blocks: a task (waited for with progress), a batch, or a task created now and waited for later.

#![allow(unused_imports)]

use super::*;

#[tool_router(router = runs_router, vis = "pub(super)")]
impl CloudTaskServer {
    /// Runs a block as a task and waits for its result: creates the task, reports its
    /// progress, and answers its outputs. A wait window that ends first answers the task
    /// ID (the task keeps running; wait_task continues). Cancelling this call ends the
    /// wait, never the task.
    #[tool(annotations(destructive_hint = false, open_world_hint = true))]
    async fn run_task(
        &self,
        Parameters(params): Parameters<RunParams>,
        context: RequestContext<RoleServer>,
    ) -> Result<Json<TaskOutcome>, ToolError> {
        let (spec, window) = params.split();
        self.run(spec, window, &context).await.map(Json)
    }

    /// Runs one block over many inputs (up to 1000), a task each, within the account's
    /// limits, and answers how each ended, by index. Inputs are checked before anything is
    /// created; each input is created at most once (with a journal, also across calls: the
    /// same inputs and journal resume). Progress counts the inputs that ended. When the
    /// window ends first, no more tasks are created and those created keep running.
    #[tool(annotations(destructive_hint = false, open_world_hint = true))]
    async fn run_batch(
        &self,
        Parameters(params): Parameters<BatchParams>,
        context: RequestContext<RoleServer>,
    ) -> Result<Json<BatchResult>, ToolError> {
        let window = self.window(params.wait_seconds)?;
        let requests = self.batch_requests(&params).await?;
        if context.ct.is_cancelled() {
            self.note(
                "the client cancelled a call before its tasks were created: nothing was created",
            );
            return Err(ToolError::new(
                "The call was cancelled before any task was created: nothing was created.",
            ));
        }
        let total = requests.len();
        let stop = call_token(&context);
        let mut options = BatchOptions::new().await_options(
            AwaitOptions::new()
                .interval(self.inner.options.interval)
                .cancel_token(stop.clone()),
        );
        if let Some(journal) = &params.journal {
            options = options.journal(self.local_path(journal)?);
        }
        if let Some(concurrency) = params.concurrency {
            options = options.max_active(concurrency);
        }
        let mut batch = self.client().run_many(requests, options);
        let deadline = tokio::time::sleep(Duration::from_secs(window));
        tokio::pin!(deadline);
        let mut task_ids: Vec<Option<String>> = vec![None; total];
        let mut entries: Vec<Option<BatchEntry>> = vec![None; total];
        let mut ended = 0usize;
        let mut progress = Progress::new(&context);
        let mut started = false;
        loop {
            // The window ends the batch as a cancellation does: no more creates.
            let event = tokio::select! {
                () = &mut deadline, if !stop.is_cancelled() => {
                    stop.cancel();
                    continue;
                }
                event = batch.next() => event,
            };
            match event {
                None => break,
                Some(Ok(BatchEvent::Created { index, task_id })) => {
                    if !started {
                        started = true;
                        progress
                            .report(0.0, &format!("batch: 0 of {total} ended"))
                            .await;
                    }
                    if let Some(slot) = task_ids.get_mut(index) {
                        *slot = Some(task_id);
                    }
                }
                Some(Ok(BatchEvent::Finished(item))) => {
                    let index = item.index;
                    let known = task_ids.get(index).cloned().flatten();
                    if let Some(slot) = entries.get_mut(index) {
                        *slot = Some(batch_entry(item, known));
                        ended += 1;
                        let at = ended as f64 * 100.0 / total as f64;
                        progress
                            .report(at, &format!("batch: {ended} of {total} ended"))
                            .await;
                    }
                }
                Some(Ok(_)) => {}
                Some(Err(error)) => {
                    let created: Vec<&str> =
                        task_ids.iter().flatten().map(String::as_str).collect();
                    let mut message = ToolError::from_sdk(&error).message().to_owned();
                    if !created.is_empty() {
                        message.push_str(&format!(
                            "\nTasks created before it stopped (they keep running): {}",
                            created.join(", ")
                        ));
                    }
                    return Err(ToolError::new(message));
                }
            }
        }
        if context.ct.is_cancelled() {
            self.note(
                "the client cancelled a batch: no more tasks were created; those created keep \
                 running",
            );
        }
        let items: Vec<BatchEntry> = entries
            .into_iter()
            .enumerate()
            .map(|(index, entry)| {
                entry.unwrap_or_else(|| BatchEntry {
                    index,
                    task_id: task_ids[index].clone(),
                    status: "unfinished".to_owned(),
                    result_url: None,
                    result_data: None,
                    error: None,
                })
            })
            .collect();
        Ok(Json(batch_result(items, params.journal.is_some())))
    }

    /// Creates a task without waiting for it, and answers its ID (then wait_task,
    /// get_task_result, get_task_logs or download_result). Inputs are checked against the
    /// block's input schema first unless checkInputs is false.
    #[tool(annotations(destructive_hint = false, open_world_hint = true))]
    async fn create_task(
        &self,
        Parameters(spec): Parameters<TaskSpec>,
        context: RequestContext<RoleServer>,
    ) -> Result<Json<CreatedTask>, ToolError> {
        let request = self.request(spec).await?;
        let task_id = self.create(request, &context).await?;
        Ok(Json(CreatedTask {
            task_id,
            status: TaskStatus::Queued.to_string(),
        }))
    }

    /// Waits for a task for a bounded window, reporting its progress, and answers its
    /// result. A window that ends first is an error naming the task's status (the task
    /// keeps running; call again to keep waiting). Never creates anything.
    #[tool(annotations(read_only_hint = true, open_world_hint = true))]
    async fn wait_task(
        &self,
        Parameters(params): Parameters<WaitParams>,
        context: RequestContext<RoleServer>,
    ) -> Result<Json<TaskOutcome>, ToolError> {
        let window = self.window(params.wait_seconds)?;
        check_task_id(&params.task_id)?;
        self.follow(&params.task_id, window, &call_token(&context), &context)
            .await
            .map(Json)
    }
}
