//! Knowing a block before running it: its package's description, checked inputs, dry runs.

use std::borrow::Borrow;
use std::sync::Arc;

use cloud_task_core::{
    AwaitOptions, CreateTask, CreateTaskRequest, CreateTaskResponse, DryRun, GetPackageInfo,
    Operation, PackageInfo, Result, TaskOutcome, check_exact_version,
};

use crate::client::Client;

impl Client {
    /// The registry's description of package `name` at `version`: its blocks, their inputs
    /// and outputs with their JSON Schemas. Read once per exact version and kept by the
    /// client (and its clones): a published version never changes. `latest` is read each
    /// time.
    ///
    /// ```no_run
    /// # async fn run(client: oomol_cloud_task::Client) -> oomol_cloud_task::Result<()> {
    /// let info = client.get_package_info("@oomol/pdf-tools", "1.2.0").await?;
    /// for block in &info.blocks {
    ///     for input in &block.inputs {
    ///         let required = if input.is_optional() { "" } else { " (required)" };
    ///         println!("{} {}: {}{required}", block.block_name, input.handle, input.type_name());
    ///     }
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn get_package_info(&self, name: &str, version: &str) -> Result<Arc<PackageInfo>> {
        let packages = &self.inner.packages;
        if let Some(info) = packages.get(name, version) {
            return Ok(info);
        }
        let info = Arc::new(self.execute(&GetPackageInfo::new(name, version)).await?);
        packages.insert(name, version, Arc::clone(&info));
        Ok(info)
    }

    /// Checks `request` against its block's description ([`PackageInfo::check`]): an
    /// exact version, a block the package has, no unknown input, every required input,
    /// and each value valid against its JSON Schema. Every problem at once, as
    /// [`Error::InvalidInputs`](cloud_task_core::Error::InvalidInputs); nothing is
    /// created.
    pub async fn check_inputs(&self, request: &CreateTaskRequest) -> Result<()> {
        check_exact_version(&request.package_version)?;
        let info = self
            .get_package_info(&request.package_name, &request.package_version)
            .await?;
        info.check(request)
    }

    /// [`check_inputs`](Self::check_inputs), then [`create_task`](Self::create_task):
    /// a bad input creates nothing.
    pub async fn create_task_checked(
        &self,
        request: CreateTaskRequest,
    ) -> Result<CreateTaskResponse> {
        self.check_inputs(&request).await?;
        self.create_task(request).await
    }

    /// [`check_inputs`](Self::check_inputs), then [`create_and_wait`](Self::create_and_wait):
    /// bad options or a bad input create nothing.
    pub async fn create_and_wait_checked(
        &self,
        request: CreateTaskRequest,
        options: AwaitOptions,
    ) -> Result<TaskOutcome> {
        options.check_before_create(self.config())?;
        self.check_inputs(&request).await?;
        self.create_and_wait(request, options).await
    }

    /// Checks `request` ([`check_inputs`](Self::check_inputs)) and answers the exact
    /// request [`create_task`](Self::create_task) would send (method, URL, headers, JSON
    /// body), sending nothing but the read of the package's description.
    ///
    /// `request` is taken by reference or by value, like `create_task` takes it. The
    /// [`DryRun`] prints safely (the key as `***`, the body as text) and dereferences to
    /// the `http::Request`.
    ///
    /// ```no_run
    /// # async fn run(client: oomol_cloud_task::Client) -> Result<(), Box<dyn std::error::Error>> {
    /// use oomol_cloud_task::CreateTaskRequest;
    /// let request = CreateTaskRequest::new("@oomol/pdf-tools", "1.2.0", "extract").input("pages", 3);
    /// let dry = client.dry_run(&request).await?;
    /// println!("{dry}"); // POST https://cloud-task.oomol.com/v3/users/me/tasks, headers, body
    /// assert_eq!(dry.body_json()?["inputValues"]["pages"], 3);
    /// let _task = client.create_task(request).await?; // the same request, sent
    /// # Ok(()) }
    /// ```
    pub async fn dry_run(&self, request: impl Borrow<CreateTaskRequest> + Send) -> Result<DryRun> {
        let request = request.borrow();
        self.check_inputs(request).await?;
        let http = CreateTask::new(request.clone()).request(self.config())?;
        Ok(DryRun::new(http))
    }
}
