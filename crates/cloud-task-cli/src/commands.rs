//! The commands that talk to the API: each builds its request with the core's types,
//! calls the client, and renders the answer.

use std::future::Future;
use std::path::{Path, PathBuf};

use cloud_task_async::core::DEFAULT_BASE_URL;
use cloud_task_async::core::{DEFAULT_TOOL_MAX_DOWNLOAD_SIZE, PartRecord, TaskFailedError};
use cloud_task_async::{
    AwaitOptions, BackoffStrategy, CancelToken, Client, CreateTaskRequest, DownloadOptions, Error,
    ListTasksQuery, PackageInfo, TaskEvent, TaskEvents, TaskPage, TaskResult, TaskSuccess,
    UploadOptions, Watch, WatchEvent,
};
use futures_util::StreamExt;
use serde_json::{Value, json};

use crate::args::{
    Command, DownloadArgs, GlobalArgs, ListArgs, LogsArgs, RunArgs, TaskSpec, UploadArgs, WaitArgs,
    WaitOptions,
};
use crate::duration::format_duration;
use crate::failure::Failure;
use crate::inputs::input_values;
use crate::output::{self, Ui};
use crate::progress::{TaskProgress, download_bar, upload_bar, uploaded_bytes};

/// The default of `--interval`, left out of the resume command.
const DEFAULT_INTERVAL: std::time::Duration = std::time::Duration::from_secs(3);

/// The API key of `--api-key-file`: the first line of the file (or of stdin for `-`),
/// trimmed; `None` without the option.
pub fn read_key_file(global: &GlobalArgs) -> Result<Option<String>, Failure> {
    use std::io::BufRead;
    let Some(path) = &global.api_key_file else {
        return Ok(None);
    };
    let unreadable = |e: std::io::Error| {
        Failure::usage(format!(
            "cannot read the API key from {}: {e}",
            path.display()
        ))
    };
    let mut line = String::new();
    if path.as_os_str() == "-" {
        std::io::stdin()
            .lock()
            .read_line(&mut line)
            .map_err(unreadable)?;
    } else {
        // The key file is small: a regular file (never a FIFO), its first line at most.
        let file = cloud_task_local::open_regular(
            path,
            "an API key file",
            std::fs::OpenOptions::new().read(true),
        )
        .map_err(unreadable)?;
        std::io::BufReader::new(std::io::Read::take(file, cloud_task_local::MAX_KEY_FILE))
            .read_line(&mut line)
            .map_err(unreadable)?;
    }
    let key = line.trim();
    if key.is_empty() {
        return Err(Failure::usage(format!(
            "the API key file {} is empty",
            path.display()
        )));
    }
    Ok(Some(key.to_owned()))
}

/// What every API command needs: the global options, the terminal, and the Ctrl-C tokens.
pub struct Context {
    pub(crate) global: GlobalArgs,
    pub(crate) ui: Ui,
    /// Cancelled by the first Ctrl-C.
    pub(crate) interrupt: CancelToken,
    /// Cancelled by the second Ctrl-C.
    insist: CancelToken,
}

impl Context {
    /// A context for one command.
    pub fn new(global: GlobalArgs, ui: Ui) -> Context {
        Context {
            global,
            ui,
            interrupt: CancelToken::new(),
            insist: CancelToken::new(),
        }
    }

    /// Runs an API command (not `emulator` or `completions`, which need no client).
    pub async fn run(self, command: Command) -> Result<(), Failure> {
        self.listen_for_ctrl_c();
        match command {
            Command::Run(args) => self.run_task(args).await,
            Command::Create(spec) => self.create(&spec).await,
            Command::Wait(args) => self.wait(args).await,
            Command::Result { task_id } => self.result(&task_id).await,
            Command::Get { task_id } => self.get(&task_id).await,
            Command::Info {
                package,
                version,
                block,
            } => self.info(&package, &version, block.as_deref()).await,
            Command::Codegen {
                package,
                version,
                output,
            } => self.codegen(&package, &version, output.as_deref()).await,
            Command::List(args) => self.list(args).await,
            Command::Latest { workload_ids } => self.latest(workload_ids).await,
            Command::Logs(args) => self.logs(args).await,
            Command::Dashboard => self.dashboard().await,
            Command::Pause => self.set_paused(true).await,
            Command::Resume => self.set_paused(false).await,
            Command::Upload(args) => self.upload(args).await,
            Command::Download(args) => self.download(args).await,
            Command::Batch(args) => self.batch(args).await,
            Command::Mcp(args) => self.mcp(args).await,
            Command::Login(args) => self.login(args).await,
            Command::Logout => self.logout(),
            Command::Whoami => self.whoami().await,
            Command::Emulator(_) | Command::Completions { .. } => {
                Err(Failure::usage("this command needs no API client"))
            }
        }
    }

    /// Turns Ctrl-C into a cancellation of `self.interrupt`. Registered before anything is
    /// sent, so that from then on Ctrl-C never kills the process halfway.
    /// The first cancels `self.interrupt`, the second `self.insist`.
    fn listen_for_ctrl_c(&self) {
        let first = self.interrupt.clone();
        let second = self.insist.clone();
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            if let Ok(mut interrupts) = signal(SignalKind::interrupt()) {
                tokio::spawn(async move {
                    if interrupts.recv().await.is_some() {
                        first.cancel();
                    }
                    if interrupts.recv().await.is_some() {
                        second.cancel();
                    }
                });
            }
        }
        #[cfg(not(unix))]
        tokio::spawn(async move {
            if tokio::signal::ctrl_c().await.is_ok() {
                first.cancel();
            }
            if tokio::signal::ctrl_c().await.is_ok() {
                second.cancel();
            }
        });
    }

    /// The configuration of the environment, then of the options (`--endpoint`, the URLs,
    /// `--api-key`); answers whether a key was given as an option.
    fn config_builder(&self) -> (cloud_task_async::core::ConfigBuilder, bool) {
        let nonblank = |value: &Option<String>| {
            value
                .as_deref()
                .map(str::trim)
                .filter(|v| !v.is_empty())
                .map(str::to_owned)
        };
        let mut builder = cloud_task_async::core::ConfigBuilder::from_env()
            .user_agent(concat!("cloud-task-cli/", env!("CARGO_PKG_VERSION")));
        if let Some(domain) = nonblank(&self.global.endpoint) {
            builder = builder.endpoint(domain);
        }
        if let Some(url) = nonblank(&self.global.base_url) {
            builder = builder.base_url(url);
        }
        if let Some(url) = nonblank(&self.global.upload_base_url) {
            builder = builder.upload_base_url(url);
        }
        if let Some(url) = nonblank(&self.global.registry_url) {
            builder = builder.registry_url(url);
        }
        let explicit = nonblank(&self.global.api_key);
        let given = explicit.is_some();
        if let Some(key) = explicit {
            builder = builder.api_key(key);
        }
        (builder, given)
    }

    /// The client, configured from the environment, then from the options, with a key
    /// found in order: `--api-key` (or `--api-key-file`), `OOMOL_API_KEY`, the key stored
    /// by `login`. Refuses to go on without one, naming where it looked.
    pub(crate) fn client(&self) -> Result<Client, Failure> {
        self.client_and_source().map(|(client, _)| client)
    }

    /// [`client`](Self::client), and where its key came from.
    pub(crate) fn client_and_source(
        &self,
    ) -> Result<(Client, cloud_task_local::credentials::KeySource), Failure> {
        let (builder, given) = self.config_builder();
        let stored = cloud_task_local::credentials::default_credentials_path();
        let (config, source) =
            cloud_task_local::credentials::with_stored_key(builder, given, stored.as_deref())
                .map_err(|error| match error {
                    cloud_task_async::core::Error::InvalidInput(e) if e.field == "api_key" => {
                        Failure::missing_api_key(
                            &cloud_task_local::credentials::missing_key_sources(stored.as_deref()),
                        )
                    }
                    other => Failure::from(other),
                })?;
        let client = cloud_task_async::ClientBuilder::default()
            .config(config)
            .build()
            .map_err(Failure::from)?;
        Ok((client, source))
    }

    /// A client that needs no key (to sign in): the configuration of the environment and
    /// the options, the key left out.
    pub(crate) fn client_without_key(&self) -> Result<Client, Failure> {
        let (builder, _) = self.config_builder();
        cloud_task_async::ClientBuilder::default()
            .config(builder.api_key_opt(None))
            .build()
            .map_err(Failure::from)
    }

    /// Runs `future` unless Ctrl-C comes first.
    pub(crate) async fn interruptible<T>(
        &self,
        future: impl Future<Output = cloud_task_async::Result<T>>,
    ) -> Result<T, Failure> {
        tokio::select! {
            biased;
            () = self.interrupt.cancelled() => Err(Failure::interrupted()),
            outcome = future => outcome.map_err(Failure::from),
        }
    }

    /// The create request of a task spec; bad inputs are refused here.
    fn request(spec: &TaskSpec) -> Result<CreateTaskRequest, Failure> {
        let mut request = CreateTaskRequest::new(&spec.package, &spec.version, &spec.block);
        if let Some(values) = input_values(spec.inputs.as_deref(), &spec.input)? {
            request = request.input_values(values);
        }
        Ok(request)
    }

    /// Creates the task. A first Ctrl-C does not cut the creation short (its ID would be
    /// lost): it is acted upon once the ID is known (the creation ends within the request
    /// timeout). A second Ctrl-C exits at once, saying that the task may exist and how to
    /// find it.
    async fn create_task(&self, client: &Client, spec: &TaskSpec) -> Result<String, Failure> {
        let mut request = Self::request(spec)?;
        if !spec.no_check {
            self.check(client, &mut request).await?;
        }
        let create = client.create_task(request);
        tokio::pin!(create);
        let created = tokio::select! {
            biased;
            created = &mut create => created,
            () = self.interrupt.cancelled() => {
                self.ui.note("waiting for the task ID; press Ctrl-C again to exit now");
                tokio::select! {
                    biased;
                    created = &mut create => created,
                    () = self.insist.cancelled() => return Err(Failure::interrupted_creation()),
                }
            }
        };
        Ok(created.map_err(Failure::from)?.task_id)
    }

    /// Checks `request` against its block's description (the registry's, read once), and
    /// pins its version to the one described: `latest` (or any tag the registry resolves)
    /// becomes the exact version checked, and a note says which, as the MCP server does.
    pub(crate) async fn check(
        &self,
        client: &Client,
        request: &mut CreateTaskRequest,
    ) -> Result<(), Failure> {
        let info = self.describe(client, request).await?;
        self.pin(&info, request);
        info.check(request).map_err(Failure::from)
    }

    /// The description of `request`'s package version, read from the registry once per
    /// client; a failure says which registry, and how to go without the check.
    pub(crate) async fn describe(
        &self,
        client: &Client,
        request: &CreateTaskRequest,
    ) -> Result<std::sync::Arc<PackageInfo>, Failure> {
        let described = self
            .interruptible(client.get_package_info(&request.package_name, &request.package_version))
            .await;
        described.map_err(|failure| {
            if failure.kind() == "network" {
                // The registry is another host than the task API's: say which, and how
                // to go without it.
                failure.with_hint(format!(
                    "the input check reads the block's description from the registry at {}: set --registry-url (or OOMOL_REGISTRY_URL), or pass --no-check to create the task without checking",
                    output::clean(client.config().registry_url())
                ))
            } else if failure.status() == Some(404) {
                failure.with_hint(format!(
                    "the registry does not know {}@{}: check the name and version, or pass --no-check to create the task without checking",
                    output::clean(&request.package_name),
                    output::clean(&request.package_version)
                ))
            } else {
                failure
            }
        })
    }

    /// Pins `request` to the version `info` is of ([`PackageInfo::pin`]), saying so when
    /// it changed (`@oomol/echo@latest is 1.0.0`).
    pub(crate) fn pin(&self, info: &PackageInfo, request: &mut CreateTaskRequest) {
        if let Some(named) = info.pin(request) {
            self.ui.note(&format!(
                "{}@{} is {}: that version is checked and run",
                output::clean(&request.package_name),
                output::clean(&named),
                output::clean(&request.package_version)
            ));
        }
    }

    /// `--dry-run`: the checked (unless `--no-check`) request body, on stdout; nothing sent.
    async fn dry_run(&self, spec: &TaskSpec) -> Result<(), Failure> {
        let client = self.client()?;
        let mut request = Self::request(spec)?;
        let http = if spec.no_check {
            use cloud_task_async::Operation;
            cloud_task_async::core::CreateTask::new(request.clone())
                .request(client.config())
                .map_err(Failure::from)?
        } else {
            self.check(&client, &mut request).await?;
            self.interruptible(client.dry_run(&request))
                .await?
                .into_request()
        };
        let body: Value = serde_json::from_slice(http.body())
            .map_err(|e| Failure::unexpected(format!("the request body is not JSON: {e}")))?;
        self.ui.note(&format!(
            "dry run: {} {} would be sent{}",
            http.method(),
            http.uri(),
            if spec.no_check {
                ""
            } else {
                " (inputs checked)"
            }
        ));
        if self.ui.json {
            self.ui.out_json(&body)
        } else {
            self.ui.out(&output::clean_lines(&output::pretty(&body)))
        }
    }

    /// `info`: a package's blocks and their inputs.
    /// The registry's description of `package` at `version`, a failure with a hint.
    async fn package_info(
        &self,
        package: &str,
        version: &str,
    ) -> Result<std::sync::Arc<cloud_task_async::PackageInfo>, Failure> {
        let client = self.client()?;
        self.interruptible(client.get_package_info(package, version))
            .await
            .map_err(|failure| {
                if failure.kind() == "network" {
                    failure.with_hint(format!(
                        "package descriptions are read from the registry at {}: check your network, or set --registry-url (or OOMOL_REGISTRY_URL)",
                        output::clean(client.config().registry_url())
                    ))
                } else if failure.status() == Some(404) {
                    failure.with_hint("check the package name and version")
                } else {
                    failure
                }
            })
    }

    async fn codegen(
        &self,
        package: &str,
        version: &str,
        output: Option<&std::path::Path>,
    ) -> Result<(), Failure> {
        let info = self.package_info(package, version).await?;
        let source = cloud_task_codegen::generate(&info)
            .map_err(|error| Failure::usage(output::clean(&error.to_string())))?;
        let Some(path) = output else {
            print!("{source}");
            return Ok(());
        };
        cloud_task_local::replace_file(path, source.as_bytes(), "the output", None).map_err(
            |e| {
                Failure::from(cloud_task_async::Error::io(
                    format!("writing {}", path.display()),
                    e,
                ))
            },
        )?;
        if !self.global.quiet {
            eprintln!(
                "wrote {} ({} block(s) of {}@{})",
                output::clean(&path.display().to_string()),
                info.blocks.len(),
                output::clean(&info.package_name),
                output::clean(&info.package_version)
            );
        }
        Ok(())
    }

    async fn info(&self, package: &str, version: &str, block: Option<&str>) -> Result<(), Failure> {
        let info = self.package_info(package, version).await?;
        let blocks: Vec<_> = match block {
            Some(name) => match info.block(name) {
                Some(block) => vec![block.clone()],
                None => {
                    let names: Vec<&str> =
                        info.blocks.iter().map(|b| b.block_name.as_str()).collect();
                    return Err(Failure::usage(format!(
                        "{}@{} has no block {:?}; its blocks: {}",
                        output::clean(&info.package_name),
                        output::clean(&info.package_version),
                        output::clean(name),
                        output::clean(&names.join(", "))
                    )));
                }
            },
            None => info.blocks.clone(),
        };
        if self.ui.json {
            let mut doc = serde_json::to_value(&*info)
                .map_err(|e| Failure::output(std::io::Error::other(e)))?;
            doc["blocks"] = serde_json::to_value(&blocks)
                .map_err(|e| Failure::output(std::io::Error::other(e)))?;
            return self.ui.out_json(&doc);
        }
        self.ui.out(&output::package_info(&info, &blocks))
    }

    /// `create` and `run --no-wait`: the task ID (`{"taskID": ...}` with `--json`).
    async fn create(&self, spec: &TaskSpec) -> Result<(), Failure> {
        if spec.dry_run {
            return self.dry_run(spec).await;
        }
        let client = self.client()?;
        let task_id = self.create_task(&client, spec).await?;
        if self.interrupt.is_cancelled() {
            return Err(Failure::interrupted().with_task(&task_id));
        }
        if self.ui.json {
            self.ui.out_json(&json!({ "taskID": task_id }))
        } else {
            self.ui.out(&output::clean(&task_id))
        }
    }

    /// `run`: create, wait, print the result (`{"taskID", "result"}` with `--json`).
    async fn run_task(&self, args: RunArgs) -> Result<(), Failure> {
        if args.no_wait || args.spec.dry_run {
            return self.create(&args.spec).await;
        }
        let client = self.client()?;
        // Options the wait would refuse are refused before the task is created.
        self.await_options(&args.wait)
            .validate()
            .map_err(Failure::from)?;
        let task_id = self.create_task(&client, &args.spec).await?;
        self.ui.note(&format!("created task {task_id}"));
        let result = self
            .wait_for(&client, &task_id, &args.wait, args.logs)
            .await?;
        if self.ui.json {
            let outcome = cloud_task_async::TaskOutcome::new(task_id, result);
            self.ui.out_json(&outcome)
        } else {
            self.print_success(&result)
        }
    }

    /// `wait`: the final result as the result endpoint answers it.
    async fn wait(&self, args: WaitArgs) -> Result<(), Failure> {
        let client = self.client()?;
        let result = self
            .wait_for(&client, &args.task_id, &args.wait, args.logs)
            .await?;
        if self.ui.json {
            self.ui.out_json(&TaskResult::Success(result))
        } else {
            self.print_success(&result)
        }
    }

    /// Waits for `task_id` with a progress display; the SDK polls, retries failed polls
    /// and times out. Ctrl-C ends the wait (never the task) with the command that
    /// resumes it.
    /// The SDK's options for `--interval` and `--timeout` (fixed interval, Ctrl-C as the
    /// cancel token).
    pub(crate) fn await_options(&self, wait: &WaitOptions) -> AwaitOptions {
        let mut options = AwaitOptions::new()
            .interval(wait.interval)
            .strategy(BackoffStrategy::Fixed)
            .cancel_token(self.interrupt.clone());
        if let Some(timeout) = wait.timeout {
            options = options.timeout(timeout);
        }
        options
    }

    /// Waits for `task_id` with a progress display; with `logs`, its log lines go to
    /// stderr above the bar as they come.
    async fn wait_for(
        &self,
        client: &Client,
        task_id: &str,
        wait: &WaitOptions,
        logs: bool,
    ) -> Result<TaskSuccess, Failure> {
        let mut progress = TaskProgress::new(&self.ui, task_id);
        let options = self.await_options(wait).on_retry(progress.retry_notifier());
        let mut events = if logs {
            Events::Logs(client.events(task_id, options))
        } else {
            Events::Progress(client.watch(task_id, options))
        };
        let outcome = loop {
            match events.next().await {
                Some(Ok(TaskEvent::Progress {
                    status,
                    progress: p,
                })) => progress.update(&status, p),
                Some(Ok(TaskEvent::Log { event, time })) => {
                    progress.above(|| self.ui.note(&output::timed_event_line(&event, time)));
                }
                Some(Ok(TaskEvent::Finished(success))) => break Ok(success),
                Some(Ok(_)) => {}
                Some(Err(error)) => break Err(Failure::from(error)),
                None => break Err(Failure::unexpected("the wait ended without a result")),
            }
        };
        progress.finish();
        match outcome {
            Ok(success) => {
                self.ui.note(&format!("task {task_id} succeeded"));
                Ok(success)
            }
            Err(failure) => Err(failure
                .with_task(task_id)
                .with_resume(self.resume_command(client, task_id, wait, "wait"))),
        }
    }

    /// The exact command that resumes waiting for `task_id` (without the key, and without
    /// the timeout that may have ended the wait).
    fn resume_command(
        &self,
        client: &Client,
        task_id: &str,
        wait: &WaitOptions,
        command: &str,
    ) -> String {
        let mut words = vec!["cloud-task".to_owned()];
        let base_url = client.config().base_url();
        if base_url != DEFAULT_BASE_URL {
            words.extend(["--base-url".to_owned(), shell_quote(base_url)]);
        }
        if self.ui.json {
            words.push("--json".to_owned());
        }
        words.extend([command.to_owned(), shell_quote(task_id)]);
        if command == "logs" {
            words.push("--follow".to_owned());
        }
        if wait.interval != DEFAULT_INTERVAL {
            words.extend(["--interval".to_owned(), format_duration(wait.interval)]);
        }
        // No --timeout: the wait that ended had it, and the same bound again would end the
        // resumed wait as soon (add one to the command if wanted).
        words.join(" ")
    }

    /// A successful result for people: its data as indented JSON on stdout.
    fn print_success(&self, result: &TaskSuccess) -> Result<(), Failure> {
        if let Some(url) = &result.result_url {
            self.ui.note(&format!("result URL: {url}"));
        }
        let data = result.result_data.clone().unwrap_or(Value::Null);
        self.ui.out(&output::clean_lines(&output::pretty(&data)))
    }

    /// `result`: one look at the result; exit 1 when the task failed.
    async fn result(&self, task_id: &str) -> Result<(), Failure> {
        let client = self.client()?;
        let result = self.interruptible(client.get_task_result(task_id)).await?;
        if self.ui.json {
            self.ui.out_json(&result)?;
        }
        match result {
            TaskResult::Failed { error } => {
                let failed = TaskFailedError::new(task_id, error.as_deref(), None);
                let failure = Failure::from(Error::TaskFailed(Box::new(failed)));
                Err(if self.ui.json {
                    failure.already_printed()
                } else {
                    failure
                })
            }
            _ if self.ui.json => Ok(()),
            TaskResult::Success(success) => self.print_success(&success),
            TaskResult::InProgress { status, progress } => self.ui.out(&format!(
                "{} {}",
                self.ui.status(&status, 0),
                output::percent(progress)
            )),
            _ => self.ui.out(&output::clean(&result.status().to_string())),
        }
    }

    /// `get`.
    async fn get(&self, task_id: &str) -> Result<(), Failure> {
        let client = self.client()?;
        let detail = self.interruptible(client.get_task(task_id)).await?;
        if self.ui.json {
            self.ui.out_json(&detail)
        } else {
            self.ui.out(&output::detail(&self.ui, &detail))
        }
    }

    /// `list`: one page, or every page with `--all` (rows streamed as pages arrive).
    async fn list(&self, args: ListArgs) -> Result<(), Failure> {
        let mut query = ListTasksQuery::new();
        if let Some(size) = args.size {
            query = query.size(size);
        }
        if let Some(status) = args.status {
            query = query.status(status.as_str());
        }
        if let Some(id) = args.package_id {
            query = query.package_id(id);
        }
        if let Some(id) = args.workload_id {
            query = query.workload_id(id);
        }
        if let Some(kind) = args.task_type {
            query = query.task_type(kind.as_str());
        }
        if let Some(token) = args.next_token {
            query = query.next_token(token);
        }
        let client = self.client()?;
        if !args.all {
            let page = self.interruptible(client.list_tasks(query)).await?;
            return self.print_page(&page);
        }
        let mut tasks = client.list_all(query);
        if self.ui.json {
            return self.stream_json(&mut tasks).await;
        }
        let mut header = false;
        while let Some(task) = self
            .interruptible(async { tasks.next().await.transpose() })
            .await?
        {
            if !header {
                self.ui.out(&output::task_header())?;
                header = true;
            }
            self.ui.out(&output::task_row(&self.ui, &task))?;
        }
        if !header {
            self.ui.note("no tasks");
        }
        Ok(())
    }

    /// `list --all --json`: one document, `{"tasks": [...], "nextToken": null}`, written
    /// as the pages come (memory holds one page, whatever the number of tasks). When a page
    /// fails, the document still closes, with an `"error"` member saying why.
    async fn stream_json(&self, tasks: &mut cloud_task_async::TaskList) -> Result<(), Failure> {
        let mut first = true;
        self.ui.out_raw(r#"{"tasks":["#)?;
        let end = loop {
            match self
                .interruptible(async { tasks.next().await.transpose() })
                .await
            {
                Ok(Some(task)) => {
                    let item = serde_json::to_string(&task)
                        .map_err(|e| Failure::output(std::io::Error::other(e)))?;
                    self.ui.out_raw(if first { "" } else { "," })?;
                    self.ui.out_raw(&item)?;
                    first = false;
                }
                Ok(None) => break None,
                Err(failure) => break Some(failure),
            }
        };
        match end {
            None => self.ui.out(r#"],"nextToken":null}"#),
            Some(failure) => {
                let error = serde_json::to_string(&failure.to_json(&self.ui)["error"])
                    .map_err(|e| Failure::output(std::io::Error::other(e)))?;
                self.ui
                    .out(&format!(r#"],"nextToken":null,"error":{error}}}"#))?;
                Err(failure.already_printed())
            }
        }
    }

    /// One page of tasks: its JSON, or a table and how to get the next page.
    fn print_page(&self, page: &TaskPage) -> Result<(), Failure> {
        if self.ui.json {
            return self.ui.out_json(page);
        }
        if page.tasks.is_empty() {
            self.ui.note("no tasks");
        } else {
            let mut lines = vec![output::task_header()];
            lines.extend(page.tasks.iter().map(|t| output::task_row(&self.ui, t)));
            self.ui.out(&lines.join("\n"))?;
        }
        if let Some(token) = &page.next_token {
            self.ui.note(&format!(
                "more tasks: add --next-token {} (or list them all with --all)",
                shell_quote(token)
            ));
        }
        Ok(())
    }

    /// `latest`.
    async fn latest(&self, workload_ids: Vec<String>) -> Result<(), Failure> {
        let client = self.client()?;
        let items = self
            .interruptible(client.get_latest_tasks(workload_ids))
            .await?;
        if self.ui.json {
            self.ui.out_json(&items)
        } else if items.is_empty() {
            self.ui.note("no tasks for these workloads");
            Ok(())
        } else {
            self.ui.out(&output::latest_table(&self.ui, &items))
        }
    }

    /// `logs`: one page, or `--follow`.
    async fn logs(&self, args: LogsArgs) -> Result<(), Failure> {
        if args.follow {
            return self.follow(&args.task_id, &args.wait).await;
        }
        let client = self.client()?;
        let logs = self
            .interruptible(client.get_task_logs(&args.task_id, args.page))
            .await?;
        if self.ui.json {
            self.ui.out_json(&logs)
        } else if logs.logs.is_empty() {
            self.ui.note("no log entries on this page");
            Ok(())
        } else {
            let lines: Vec<String> = logs.logs.iter().map(output::log_line).collect();
            self.ui.out(&lines.join("\n"))
        }
    }

    /// `logs --follow`: every entry once, as it comes, until the task ends; the progress
    /// on stderr. With `--json`, one object per line (the failure too, as
    /// `{"type": "Error", "error": {...}}`).
    async fn follow(&self, task_id: &str, wait: &WaitOptions) -> Result<(), Failure> {
        let client = self.client()?;
        let options = self.await_options(wait);
        options.validate().map_err(Failure::from)?;
        let mut progress = TaskProgress::new(&self.ui, task_id);
        let mut events = client.events(task_id, options);
        let outcome = loop {
            let event = match events.next().await {
                Some(Ok(event)) => event,
                Some(Err(error)) => break Err(Failure::from(error)),
                None => break Ok(()),
            };
            if self.ui.json {
                progress.above(|| self.ui.out_json(&event))?;
            }
            match event {
                TaskEvent::Progress {
                    status,
                    progress: p,
                } => progress.update(&status, p),
                TaskEvent::Log { event, time } if !self.ui.json => {
                    progress.above(|| self.ui.out(&output::timed_event_line(&event, time)))?;
                }
                TaskEvent::Finished(_) => break Ok(()),
                _ => {}
            }
        };
        progress.finish();
        let failure = match outcome {
            Ok(()) => {
                self.ui.note(&format!("task {task_id} succeeded"));
                return Ok(());
            }
            Err(failure) => failure
                .with_task(task_id)
                .with_resume(self.resume_command(&client, task_id, wait, "logs")),
        };
        if !self.ui.json {
            return Err(failure);
        }
        let mut line = failure.to_json(&self.ui);
        if let Some(object) = line.as_object_mut() {
            object.insert("type".into(), "Error".into());
        }
        self.ui.out_json(&line)?;
        Err(failure.already_printed())
    }

    /// `dashboard`.
    async fn dashboard(&self) -> Result<(), Failure> {
        let client = self.client()?;
        let dashboard = self.interruptible(client.get_dashboard()).await?;
        if self.ui.json {
            self.ui.out_json(&dashboard)
        } else {
            self.ui.out(&output::dashboard(&dashboard))
        }
    }

    /// `pause` and `resume`.
    async fn set_paused(&self, paused: bool) -> Result<(), Failure> {
        let client = self.client()?;
        let response = self.interruptible(client.set_tasks_pause(paused)).await?;
        if self.ui.json {
            self.ui.out_json(&response)
        } else {
            self.ui.out(&output::pause_state(&response))
        }
    }

    /// `upload`: a bar of bytes, then the URL as the last line of stdout.
    async fn upload(&self, args: UploadArgs) -> Result<(), Failure> {
        let client = self.client()?;
        let path: &Path = &args.file;
        let name = path.file_name().map_or_else(
            || path.display().to_string(),
            |n| n.to_string_lossy().into_owned(),
        );
        let mut options = UploadOptions::new().cancel_token(self.interrupt.clone());
        if let Some(retries) = args.retries {
            options = options.retries(retries);
        }
        if let Some(concurrency) = args.concurrency {
            options = options.concurrency(concurrency);
        }
        // The size is the SDK's to check; it is only needed here to draw the bar.
        let size = std::fs::metadata(path).map(|m| m.len()).ok();
        let bar = size.and_then(|size| upload_bar(&self.ui, &name, size).map(|bar| (bar, size)));
        if let Some((bar, size)) = &bar {
            let (bar, size) = (bar.clone(), *size);
            options =
                options.on_progress(move |percent| bar.set_position(uploaded_bytes(size, percent)));
        }
        let outcome = client.upload_file(path, options).await;
        if let Some((bar, _)) = &bar {
            bar.finish_and_clear();
        }
        let file = outcome.map_err(Failure::upload)?;
        if self.ui.json {
            return self.ui.out_json(&file);
        }
        let size = file
            .file_size
            .or(size)
            .map_or_else(String::new, |s| format!(" ({s} bytes)"));
        self.ui.note(&format!("uploaded {name}{size}"));
        self.ui.out(&output::clean(&file.url))
    }

    /// `download`: a task's result file (after waiting for the task) or a URL, to a path
    /// (resumable) or stdout; a bar of bytes; the path as the last line of stdout.
    async fn download(&self, args: DownloadArgs) -> Result<(), Failure> {
        let client = self.client()?;
        let target = args.target.trim();
        let is_url = target.starts_with("http://") || target.starts_with("https://");
        let url = if is_url {
            target.to_owned()
        } else {
            let success = self.wait_for(&client, target, &args.wait, false).await?;
            success
                .require_result_url(target)
                .map_err(Failure::from)?
                .to_owned()
        };
        let mut options = DownloadOptions::new()
            .cancel_token(self.interrupt.clone())
            .max_size(args.max_size.unwrap_or(DEFAULT_TOOL_MAX_DOWNLOAD_SIZE));
        if let Some(retries) = args.retries {
            options = options.retries(retries);
        }
        let to_stdout = args.output.as_deref() == Some(Path::new("-"));
        let path = match args.output {
            Some(path) => path,
            None => {
                let path = PathBuf::from(file_name_of(&url));
                let resuming = PartRecord::part_path(&path).exists();
                if path.exists() && !resuming {
                    return Err(Failure::usage(format!(
                        "{} already exists: choose another path with -o (an explicit path is replaced)",
                        path.display()
                    )));
                }
                path
            }
        };
        let name = if to_stdout {
            "stdout".to_owned()
        } else {
            path.display().to_string()
        };
        let bar = download_bar(&self.ui, &name);
        if let Some(bar) = &bar {
            let bar = bar.clone();
            options = options.on_progress(move |done, total| {
                if let Some(total) = total {
                    bar.set_length(total);
                }
                bar.set_position(done);
            });
        }
        let outcome = if to_stdout {
            let mut stdout = tokio::io::stdout();
            client.download_to_writer(&url, &mut stdout, options).await
        } else {
            client.download(&url, &path, options).await
        };
        if let Some(bar) = &bar {
            bar.finish_and_clear();
        }
        let downloaded = outcome.map_err(|error| {
            let kept = !to_stdout && PartRecord::record_path(&path).exists();
            let failure = Failure::from(error);
            if kept {
                failure.with_hint(format!(
                    "the bytes so far are kept in {}: run the same command again to resume",
                    PartRecord::part_path(&path).display()
                ))
            } else {
                failure
            }
        })?;
        if to_stdout {
            return Ok(());
        }
        if self.ui.json {
            return self.ui.out_json(&json!({
                "path": name,
                "size": downloaded.size,
                "contentType": downloaded.content_type,
            }));
        }
        self.ui
            .note(&format!("downloaded {} bytes to {name}", downloaded.size));
        self.ui.out(&output::clean(&name))
    }
}

/// What a wait reads: progress only (`watch`), or progress and logs (`events`).
enum Events {
    Progress(Watch),
    Logs(TaskEvents),
}

impl Events {
    /// The next event, progress changes and the result as [`TaskEvent`]s.
    async fn next(&mut self) -> Option<cloud_task_async::Result<TaskEvent>> {
        match self {
            Events::Logs(events) => events.next().await,
            Events::Progress(watch) => loop {
                return Some(match watch.next().await? {
                    Ok(WatchEvent::Progress { status, progress }) => {
                        Ok(TaskEvent::Progress { status, progress })
                    }
                    Ok(WatchEvent::Finished(success)) => Ok(TaskEvent::Finished(success)),
                    Ok(_) => continue,
                    Err(error) => Err(error),
                });
            },
        }
    }
}

/// The file name a download is saved under by default: the last segment of the URL's
/// path, made of plain characters only (anything else becomes `_`), without leading dots
/// and at most [`MAX_DEFAULT_NAME`] bytes, else `download`.
fn file_name_of(url: &str) -> String {
    let path = url.split(['?', '#']).next().unwrap_or_default();
    let path = path.split_once("://").map_or(path, |(_, rest)| rest);
    let segment = path.split_once('/').map_or("", |(_, p)| p);
    let last = segment.rsplit('/').next().unwrap_or_default();
    let name: String = last
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "._-".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect();
    // Never a hidden file (`.bashrc`, `.git`), never `..`, never longer than a file
    // system's name (255 bytes): the server does not choose a dotfile in the directory.
    let name = name.trim_start_matches('.');
    let name = &name[..name.len().min(MAX_DEFAULT_NAME)];
    if name.trim_matches('.').is_empty() {
        "download".to_owned()
    } else {
        name.to_owned()
    }
}

/// The longest default file name of a download, in bytes (ASCII only, see [`file_name_of`]).
const MAX_DEFAULT_NAME: usize = 200;

/// A word as the shell reads it: as is when it is plain, else in single quotes.
fn shell_quote(word: &str) -> String {
    let plain = !word.is_empty()
        && word
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./:=@%+,".contains(c));
    if plain {
        word.to_owned()
    } else {
        format!("'{}'", word.replace('\'', r"'\''"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_default_file_name_is_plain_visible_and_in_the_directory() {
        for (url, name) in [
            ("https://files.test/r/1/result.txt?sig=x", "result.txt"),
            ("https://files.test/r/1/.bashrc", "bashrc"),
            ("https://files.test/r/1/..npmrc#frag", "npmrc"),
            ("https://files.test/r/1/.git", "git"),
            ("https://files.test/r/1/..", "download"),
            ("https://files.test/r/1/...", "download"),
            ("https://files.test/r/1/", "download"),
            ("https://files.test", "download"),
            (
                "https://files.test/r/%2e%2e%2fetc%2fpasswd",
                "_2e_2e_2fetc_2fpasswd",
            ),
            ("https://files.test/r/a\\b c", "a_b_c"),
        ] {
            assert_eq!(file_name_of(url), name, "{url}");
        }
        let long = format!("https://files.test/{}", "x".repeat(1000));
        assert_eq!(file_name_of(&long).len(), MAX_DEFAULT_NAME);
    }

    #[test]
    fn words_are_quoted_only_when_needed() {
        assert_eq!(shell_quote("0190f2a4-0000-7000"), "0190f2a4-0000-7000");
        assert_eq!(
            shell_quote("http://127.0.0.1:80/x"),
            "http://127.0.0.1:80/x"
        );
        assert_eq!(shell_quote("a b"), "'a b'");
        assert_eq!(shell_quote("it's"), r"'it'\''s'");
        assert_eq!(shell_quote(""), "''");
    }

    #[test]
    fn downloads_are_named_after_the_url_safely() {
        let name = file_name_of;
        assert_eq!(
            name("http://h:1/storage/results/t/result.bin?signature=s"),
            "result.bin"
        );
        assert_eq!(name("https://h/a/b%2F..%2Fetc"), "b_2F.._2Fetc");
        assert_eq!(name("https://h/a/.."), "download");
        assert_eq!(name("https://h/"), "download");
        assert_eq!(name("https://h"), "download");
        assert_eq!(name("https://h/dir/"), "download");
        assert_eq!(name("https://h/résumé 1.pdf"), "r_sum__1.pdf");
    }
}
