//! The adapter: one interface over both clients, so a scenario is written once and run
//! against each. Every method is the client's own, called as is (the async client's on a
//! runtime of the adapter's own); nothing here adds behaviour.

use std::path::Path;
use std::sync::Arc;

use cloud_task_core::{
    AwaitOptions, CallOptions, Config, ConfigBuilder, CreateTaskRequest, CreateTaskResponse,
    Dashboard, DeviceCode, DownloadOptions, Downloaded, DryRun, LatestTaskItem, ListTasksQuery,
    LoginAccount, LoginOptions, PackageInfo, PauseResponse, Result, TaskDetail, TaskEvent,
    TaskListItem, TaskLogs, TaskOutcome, TaskPage, TaskResult, TaskSuccess, UploadOptions,
    UploadedFile, UserProfile, WatchEvent,
};
use oomol_cloud_task::emulator::{BlockingEmulator, EmulatorClients, VirtualTimer};
use serde::de::DeserializeOwned;

/// A client of either kind, driven through the same calls.
pub trait Driver: Sized {
    /// A client of `emulator` configured by `configure` from the emulator's own
    /// configuration (its URLs, key and scaled waits), on a virtual timer when the
    /// emulator runs on a manual clock.
    fn of_with(
        emulator: &BlockingEmulator,
        configure: impl FnOnce(ConfigBuilder) -> ConfigBuilder,
    ) -> Self;

    /// A client of `emulator` as it configures one.
    fn of(emulator: &BlockingEmulator) -> Self {
        Self::of_with(emulator, |config| config)
    }

    /// A client of the server at `url` (its task API and its upload API), configured by
    /// `configure`: for servers that are not the emulator.
    fn at(url: &str, configure: impl FnOnce(ConfigBuilder) -> ConfigBuilder) -> Self;

    fn create_task(&self, request: CreateTaskRequest) -> Result<CreateTaskResponse>;
    fn get_task(&self, task_id: &str) -> Result<TaskDetail>;
    fn get_task_detail(&self, task_id: &str) -> Result<TaskDetail>;
    fn get_task_result(&self, task_id: &str) -> Result<TaskResult>;
    /// `get_task_result`, its data decoded with `data_as`.
    fn get_task_result_as<T: DeserializeOwned + Send + 'static>(
        &self,
        task_id: &str,
    ) -> Result<TaskResult<T>> {
        self.get_task_result(task_id)?.data_as()
    }
    fn await_result(&self, task_id: &str, options: AwaitOptions) -> Result<TaskSuccess>;
    fn create_and_wait(
        &self,
        request: CreateTaskRequest,
        options: AwaitOptions,
    ) -> Result<TaskOutcome>;
    /// `create_and_wait`, its data decoded with `data_as`.
    fn create_and_wait_as<T: DeserializeOwned + Send + 'static>(
        &self,
        request: CreateTaskRequest,
        options: AwaitOptions,
    ) -> Result<TaskOutcome<T>> {
        self.create_and_wait(request, options)?.data_as()
    }
    fn list_tasks(&self, query: ListTasksQuery) -> Result<TaskPage>;
    /// Every item of `list_all`, in order, up to and including an error.
    fn list_all(&self, query: ListTasksQuery) -> Vec<Result<TaskListItem>>;
    fn get_latest_tasks(&self, workload_ids: Vec<String>) -> Result<Vec<LatestTaskItem>>;
    fn get_dashboard(&self) -> Result<Dashboard>;
    fn set_tasks_pause(&self, paused: bool) -> Result<PauseResponse>;
    fn pause_user_queue(&self) -> Result<PauseResponse>;
    fn resume_user_queue(&self) -> Result<PauseResponse>;
    fn get_task_logs(&self, task_id: &str, page: Option<u32>) -> Result<TaskLogs>;
    /// Every item of `watch`, in order.
    fn watch(&self, task_id: &str, options: AwaitOptions) -> Vec<Result<WatchEvent>>;
    fn await_many(&self, task_ids: Vec<String>, options: AwaitOptions) -> Vec<Result<TaskSuccess>>;
    fn upload_bytes(
        &self,
        bytes: Vec<u8>,
        file_name: &str,
        options: UploadOptions,
    ) -> Result<UploadedFile>;
    fn upload_file(&self, path: &Path, options: UploadOptions) -> Result<UploadedFile>;
    /// `upload_reader` over a reader of `data` (read once, in order), announcing `len`.
    fn upload_reader(
        &self,
        data: Vec<u8>,
        len: u64,
        file_name: &str,
        options: UploadOptions,
    ) -> Result<UploadedFile>;
    /// Every item of `events`, in order.
    fn events(&self, task_id: &str, options: AwaitOptions) -> Vec<Result<TaskEvent>>;
    /// `submit`: the handle's task ID.
    fn submit(&self, request: CreateTaskRequest) -> Result<String>;
    /// The handle of `task_id`: its `wait`.
    fn handle_wait(&self, task_id: &str, options: AwaitOptions) -> Result<TaskSuccess>;
    /// The handle of `task_id`: its `logs(page)`.
    fn handle_logs(&self, task_id: &str, page: u32) -> Result<TaskLogs>;
    /// The handle of `task_id`: every item of its `events`.
    fn handle_events(&self, task_id: &str, options: AwaitOptions) -> Vec<Result<TaskEvent>>;
    fn download(&self, url: &str, path: &Path, options: DownloadOptions) -> Result<Downloaded>;
    /// `download_to_writer` into a `Vec`.
    fn download_to_vec(&self, url: &str, options: DownloadOptions)
    -> Result<(Downloaded, Vec<u8>)>;
    /// The handle of `task_id`: its `download_result(path)`.
    fn download_result(
        &self,
        task_id: &str,
        path: &Path,
        options: DownloadOptions,
    ) -> Result<Downloaded>;
    fn get_package_info(&self, name: &str, version: &str) -> Result<Arc<PackageInfo>>;
    fn check_inputs(&self, request: &CreateTaskRequest) -> Result<()>;
    fn create_task_checked(&self, request: CreateTaskRequest) -> Result<CreateTaskResponse>;
    fn create_and_wait_checked(
        &self,
        request: CreateTaskRequest,
        options: AwaitOptions,
    ) -> Result<TaskOutcome>;
    fn dry_run(&self, request: &CreateTaskRequest) -> Result<DryRun>;
    fn whoami(&self) -> Result<UserProfile>;
    /// The client's `with(options)`, its clients sharing the transport.
    fn with(&self, options: CallOptions) -> Result<Self>
    where
        Self: Sized;
    /// The client's configuration.
    fn client_config(&self) -> Config;
    fn login(
        &self,
        options: LoginOptions,
        on_code: &mut (dyn FnMut(&DeviceCode) + Send),
    ) -> Result<LoginAccount>;
    /// The client's `Debug` (plain and pretty) and its configuration's.
    fn debug(&self) -> String;
}

/// The per-request timeout of the suite's clients: far above any answer on loopback, far
/// below a hang.
const REQUEST_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// The configuration of a client of `emulator`.
fn config_of(
    emulator: &BlockingEmulator,
    configure: impl FnOnce(ConfigBuilder) -> ConfigBuilder,
) -> ConfigBuilder {
    configure(emulator.client_config().timeout(REQUEST_TIMEOUT))
}

/// The configuration of a client of the server at `url`.
fn config_at(url: &str, configure: impl FnOnce(ConfigBuilder) -> ConfigBuilder) -> ConfigBuilder {
    configure(
        ConfigBuilder::default()
            .base_url(url)
            .upload_base_url(url)
            .timeout(REQUEST_TIMEOUT),
    )
}

/// The async client, on a runtime of its own.
pub struct AsyncDriver {
    runtime: Arc<tokio::runtime::Runtime>,
    client: cloud_task_async::Client,
}

impl Driver for AsyncDriver {
    fn of_with(
        emulator: &BlockingEmulator,
        configure: impl FnOnce(ConfigBuilder) -> ConfigBuilder,
    ) -> Self {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("a runtime");
        let mut builder =
            cloud_task_async::Client::builder().config(config_of(emulator, configure));
        if let Some(clock) = emulator.clock() {
            builder = builder.timer(VirtualTimer::new(clock));
        }
        // reqwest's client is made (and later used) within the runtime.
        let client = {
            let _entered = runtime.enter();
            builder.build().expect("a valid client")
        };
        AsyncDriver {
            runtime: Arc::new(runtime),
            client,
        }
    }

    fn at(url: &str, configure: impl FnOnce(ConfigBuilder) -> ConfigBuilder) -> Self {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("a runtime");
        let builder = cloud_task_async::Client::builder().config(config_at(url, configure));
        let client = {
            let _entered = runtime.enter();
            builder.build().expect("a valid client")
        };
        AsyncDriver {
            runtime: Arc::new(runtime),
            client,
        }
    }

    fn create_task(&self, request: CreateTaskRequest) -> Result<CreateTaskResponse> {
        self.runtime.block_on(self.client.create_task(request))
    }

    fn get_task(&self, task_id: &str) -> Result<TaskDetail> {
        self.runtime.block_on(self.client.get_task(task_id))
    }

    fn get_task_detail(&self, task_id: &str) -> Result<TaskDetail> {
        self.runtime.block_on(self.client.get_task_detail(task_id))
    }

    fn get_task_result(&self, task_id: &str) -> Result<TaskResult> {
        self.runtime.block_on(self.client.get_task_result(task_id))
    }

    fn await_result(&self, task_id: &str, options: AwaitOptions) -> Result<TaskSuccess> {
        self.runtime
            .block_on(self.client.await_result(task_id, options))
    }

    fn create_and_wait(
        &self,
        request: CreateTaskRequest,
        options: AwaitOptions,
    ) -> Result<TaskOutcome> {
        self.runtime
            .block_on(self.client.create_and_wait(request, options))
    }

    fn list_tasks(&self, query: ListTasksQuery) -> Result<TaskPage> {
        self.runtime.block_on(self.client.list_tasks(query))
    }

    fn list_all(&self, query: ListTasksQuery) -> Vec<Result<TaskListItem>> {
        use futures_util::StreamExt;
        self.runtime
            .block_on(self.client.list_all(query).collect::<Vec<_>>())
    }

    fn get_latest_tasks(&self, workload_ids: Vec<String>) -> Result<Vec<LatestTaskItem>> {
        self.runtime
            .block_on(self.client.get_latest_tasks(workload_ids))
    }

    fn get_dashboard(&self) -> Result<Dashboard> {
        self.runtime.block_on(self.client.get_dashboard())
    }

    fn set_tasks_pause(&self, paused: bool) -> Result<PauseResponse> {
        self.runtime.block_on(self.client.set_tasks_pause(paused))
    }

    fn pause_user_queue(&self) -> Result<PauseResponse> {
        self.runtime.block_on(self.client.pause_user_queue())
    }

    fn resume_user_queue(&self) -> Result<PauseResponse> {
        self.runtime.block_on(self.client.resume_user_queue())
    }

    fn get_task_logs(&self, task_id: &str, page: Option<u32>) -> Result<TaskLogs> {
        self.runtime
            .block_on(self.client.get_task_logs(task_id, page))
    }

    fn watch(&self, task_id: &str, options: AwaitOptions) -> Vec<Result<WatchEvent>> {
        use futures_util::StreamExt;
        self.runtime
            .block_on(self.client.watch(task_id, options).collect::<Vec<_>>())
    }

    fn await_many(&self, task_ids: Vec<String>, options: AwaitOptions) -> Vec<Result<TaskSuccess>> {
        self.runtime
            .block_on(self.client.await_many(task_ids, options))
    }

    fn upload_bytes(
        &self,
        bytes: Vec<u8>,
        file_name: &str,
        options: UploadOptions,
    ) -> Result<UploadedFile> {
        self.runtime
            .block_on(self.client.upload_bytes(bytes, file_name, options))
    }

    fn upload_file(&self, path: &Path, options: UploadOptions) -> Result<UploadedFile> {
        self.runtime
            .block_on(self.client.upload_file(path, options))
    }

    fn upload_reader(
        &self,
        data: Vec<u8>,
        len: u64,
        file_name: &str,
        options: UploadOptions,
    ) -> Result<UploadedFile> {
        self.runtime.block_on(self.client.upload_reader(
            std::io::Cursor::new(data),
            len,
            file_name,
            options,
        ))
    }

    fn events(&self, task_id: &str, options: AwaitOptions) -> Vec<Result<TaskEvent>> {
        use futures_util::StreamExt;
        self.runtime
            .block_on(self.client.events(task_id, options).collect::<Vec<_>>())
    }

    fn submit(&self, request: CreateTaskRequest) -> Result<String> {
        let handle = self.runtime.block_on(self.client.submit(request))?;
        Ok(handle.id().to_owned())
    }

    fn handle_wait(&self, task_id: &str, options: AwaitOptions) -> Result<TaskSuccess> {
        self.runtime
            .block_on(self.client.task(task_id).wait(options))
    }

    fn handle_logs(&self, task_id: &str, page: u32) -> Result<TaskLogs> {
        self.runtime.block_on(self.client.task(task_id).logs(page))
    }

    fn handle_events(&self, task_id: &str, options: AwaitOptions) -> Vec<Result<TaskEvent>> {
        use futures_util::StreamExt;
        let events = self.client.task(task_id).events(options);
        // Spawned: the stream is Send and 'static.
        let task = self.runtime.spawn(events.collect::<Vec<_>>());
        self.runtime.block_on(task).expect("the events task ends")
    }

    fn download(&self, url: &str, path: &Path, options: DownloadOptions) -> Result<Downloaded> {
        let client = self.client.clone();
        let (url, path) = (url.to_owned(), path.to_owned());
        // Spawned: the download's future is Send.
        let task = self
            .runtime
            .spawn(async move { client.download(&url, &path, options).await });
        self.runtime.block_on(task).expect("the download task ends")
    }

    fn download_to_vec(
        &self,
        url: &str,
        options: DownloadOptions,
    ) -> Result<(Downloaded, Vec<u8>)> {
        let mut bytes = Vec::new();
        let downloaded = self
            .runtime
            .block_on(self.client.download_to_writer(url, &mut bytes, options))?;
        Ok((downloaded, bytes))
    }

    fn download_result(
        &self,
        task_id: &str,
        path: &Path,
        options: DownloadOptions,
    ) -> Result<Downloaded> {
        self.runtime
            .block_on(self.client.task(task_id).download_result(path, options))
    }

    fn get_package_info(&self, name: &str, version: &str) -> Result<Arc<PackageInfo>> {
        self.runtime
            .block_on(self.client.get_package_info(name, version))
    }

    fn check_inputs(&self, request: &CreateTaskRequest) -> Result<()> {
        self.runtime.block_on(self.client.check_inputs(request))
    }

    fn create_task_checked(&self, request: CreateTaskRequest) -> Result<CreateTaskResponse> {
        self.runtime
            .block_on(self.client.create_task_checked(request))
    }

    fn create_and_wait_checked(
        &self,
        request: CreateTaskRequest,
        options: AwaitOptions,
    ) -> Result<TaskOutcome> {
        self.runtime
            .block_on(self.client.create_and_wait_checked(request, options))
    }

    fn dry_run(&self, request: &CreateTaskRequest) -> Result<DryRun> {
        self.runtime.block_on(self.client.dry_run(request))
    }

    fn whoami(&self) -> Result<UserProfile> {
        self.runtime.block_on(self.client.whoami())
    }

    fn with(&self, options: CallOptions) -> Result<Self> {
        Ok(AsyncDriver {
            runtime: Arc::clone(&self.runtime),
            client: self.client.with(options)?,
        })
    }

    fn client_config(&self) -> Config {
        self.client.config().clone()
    }

    fn login(
        &self,
        options: LoginOptions,
        on_code: &mut (dyn FnMut(&DeviceCode) + Send),
    ) -> Result<LoginAccount> {
        self.runtime
            .block_on(self.client.login(options, |code| on_code(code)))
    }

    fn debug(&self) -> String {
        let client = &self.client;
        format!("{client:?} {client:#?} {:?}", client.config())
    }
}

/// The blocking client.
pub struct BlockingDriver {
    client: cloud_task_blocking::Client,
}

impl Driver for BlockingDriver {
    fn of_with(
        emulator: &BlockingEmulator,
        configure: impl FnOnce(ConfigBuilder) -> ConfigBuilder,
    ) -> Self {
        let mut builder =
            cloud_task_blocking::Client::builder().config(config_of(emulator, configure));
        if let Some(clock) = emulator.clock() {
            builder = builder.timer(VirtualTimer::new(clock));
        }
        BlockingDriver {
            client: builder.build().expect("a valid client"),
        }
    }

    fn at(url: &str, configure: impl FnOnce(ConfigBuilder) -> ConfigBuilder) -> Self {
        let builder = cloud_task_blocking::Client::builder().config(config_at(url, configure));
        BlockingDriver {
            client: builder.build().expect("a valid client"),
        }
    }

    fn create_task(&self, request: CreateTaskRequest) -> Result<CreateTaskResponse> {
        self.client.create_task(request)
    }

    fn get_task(&self, task_id: &str) -> Result<TaskDetail> {
        self.client.get_task(task_id)
    }

    fn get_task_detail(&self, task_id: &str) -> Result<TaskDetail> {
        self.client.get_task_detail(task_id)
    }

    fn get_task_result(&self, task_id: &str) -> Result<TaskResult> {
        self.client.get_task_result(task_id)
    }

    fn await_result(&self, task_id: &str, options: AwaitOptions) -> Result<TaskSuccess> {
        self.client.await_result(task_id, options)
    }

    fn create_and_wait(
        &self,
        request: CreateTaskRequest,
        options: AwaitOptions,
    ) -> Result<TaskOutcome> {
        self.client.create_and_wait(request, options)
    }

    fn list_tasks(&self, query: ListTasksQuery) -> Result<TaskPage> {
        self.client.list_tasks(query)
    }

    fn list_all(&self, query: ListTasksQuery) -> Vec<Result<TaskListItem>> {
        self.client.list_all(query).collect()
    }

    fn get_latest_tasks(&self, workload_ids: Vec<String>) -> Result<Vec<LatestTaskItem>> {
        self.client.get_latest_tasks(workload_ids)
    }

    fn get_dashboard(&self) -> Result<Dashboard> {
        self.client.get_dashboard()
    }

    fn set_tasks_pause(&self, paused: bool) -> Result<PauseResponse> {
        self.client.set_tasks_pause(paused)
    }

    fn pause_user_queue(&self) -> Result<PauseResponse> {
        self.client.pause_user_queue()
    }

    fn resume_user_queue(&self) -> Result<PauseResponse> {
        self.client.resume_user_queue()
    }

    fn get_task_logs(&self, task_id: &str, page: Option<u32>) -> Result<TaskLogs> {
        self.client.get_task_logs(task_id, page)
    }

    fn watch(&self, task_id: &str, options: AwaitOptions) -> Vec<Result<WatchEvent>> {
        self.client.watch(task_id, options).collect()
    }

    fn await_many(&self, task_ids: Vec<String>, options: AwaitOptions) -> Vec<Result<TaskSuccess>> {
        self.client.await_many(task_ids, options)
    }

    fn upload_bytes(
        &self,
        bytes: Vec<u8>,
        file_name: &str,
        options: UploadOptions,
    ) -> Result<UploadedFile> {
        self.client.upload_bytes(bytes, file_name, options)
    }

    fn upload_file(&self, path: &Path, options: UploadOptions) -> Result<UploadedFile> {
        self.client.upload_file(path, options)
    }

    fn upload_reader(
        &self,
        data: Vec<u8>,
        len: u64,
        file_name: &str,
        options: UploadOptions,
    ) -> Result<UploadedFile> {
        self.client
            .upload_reader(std::io::Cursor::new(data), len, file_name, options)
    }

    fn events(&self, task_id: &str, options: AwaitOptions) -> Vec<Result<TaskEvent>> {
        self.client.events(task_id, options).collect()
    }

    fn submit(&self, request: CreateTaskRequest) -> Result<String> {
        Ok(self.client.submit(request)?.id().to_owned())
    }

    fn handle_wait(&self, task_id: &str, options: AwaitOptions) -> Result<TaskSuccess> {
        self.client.task(task_id).wait(options)
    }

    fn handle_logs(&self, task_id: &str, page: u32) -> Result<TaskLogs> {
        self.client.task(task_id).logs(page)
    }

    fn handle_events(&self, task_id: &str, options: AwaitOptions) -> Vec<Result<TaskEvent>> {
        self.client.task(task_id).events(options).collect()
    }

    fn download(&self, url: &str, path: &Path, options: DownloadOptions) -> Result<Downloaded> {
        self.client.download(url, path, options)
    }

    fn download_to_vec(
        &self,
        url: &str,
        options: DownloadOptions,
    ) -> Result<(Downloaded, Vec<u8>)> {
        let mut bytes = Vec::new();
        let downloaded = self.client.download_to_writer(url, &mut bytes, options)?;
        Ok((downloaded, bytes))
    }

    fn download_result(
        &self,
        task_id: &str,
        path: &Path,
        options: DownloadOptions,
    ) -> Result<Downloaded> {
        self.client.task(task_id).download_result(path, options)
    }

    fn get_package_info(&self, name: &str, version: &str) -> Result<Arc<PackageInfo>> {
        self.client.get_package_info(name, version)
    }

    fn check_inputs(&self, request: &CreateTaskRequest) -> Result<()> {
        self.client.check_inputs(request)
    }

    fn create_task_checked(&self, request: CreateTaskRequest) -> Result<CreateTaskResponse> {
        self.client.create_task_checked(request)
    }

    fn create_and_wait_checked(
        &self,
        request: CreateTaskRequest,
        options: AwaitOptions,
    ) -> Result<TaskOutcome> {
        self.client.create_and_wait_checked(request, options)
    }

    fn dry_run(&self, request: &CreateTaskRequest) -> Result<DryRun> {
        self.client.dry_run(request)
    }

    fn whoami(&self) -> Result<UserProfile> {
        self.client.whoami()
    }

    fn with(&self, options: CallOptions) -> Result<Self> {
        Ok(BlockingDriver {
            client: self.client.with(options)?,
        })
    }

    fn client_config(&self) -> Config {
        self.client.config().clone()
    }

    fn login(
        &self,
        options: LoginOptions,
        on_code: &mut (dyn FnMut(&DeviceCode) + Send),
    ) -> Result<LoginAccount> {
        self.client.login(options, |code| on_code(code))
    }

    fn debug(&self) -> String {
        let client = &self.client;
        format!("{client:?} {client:#?} {:?}", client.config())
    }
}

/// Generates, for each scenario `name<D: Driver>()`, the tests `name::async_client` and
/// `name::blocking_client`. Every test binary that mounts this module as `crate::driver`
/// uses it.
macro_rules! conformance {
    ($($name:ident),+ $(,)?) => {
        $(
            mod $name {
                #[test]
                fn async_client() {
                    super::$name::<crate::driver::AsyncDriver>();
                }

                #[test]
                fn blocking_client() {
                    super::$name::<crate::driver::BlockingDriver>();
                }
            }
        )+
    };
}
pub(crate) use conformance;
