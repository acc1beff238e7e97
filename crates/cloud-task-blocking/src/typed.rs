//! Typed blocks: `run`, `create` and `run_many_blocks` take the inputs structs that
//! `cloud-task codegen` writes ([`Block`]) and answer their typed outputs.

use cloud_task_core::typed::{Block, TypedOutcome};
use cloud_task_core::{AwaitOptions, BatchOptions, Result};
use serde::de::DeserializeOwned;

use crate::batch::BatchRun;
use crate::client::{Client, TypedTask};

impl Client {
    /// Runs block `B` with `inputs` and waits for its typed outputs: [`create_and_wait`]
    /// with the request the inputs make ([`Block::to_request`]), its `resultData` decoded
    /// as `B::Outputs` (a list's single object, or the object itself). An output that does
    /// not fit is an [`Error::Outputs`](cloud_task_core::Error::Outputs) naming the handle
    /// and the task, and keeping the data.
    ///
    /// ```no_run
    /// # use oomol_cloud_task::typed::Block;
    /// # #[derive(serde::Serialize)] struct EchoInputs { text: String }
    /// # #[derive(serde::Deserialize)] struct EchoOutputs { text: String }
    /// # impl Block for EchoInputs {
    /// #     const PACKAGE: &'static str = "@oomol/echo";
    /// #     const VERSION: &'static str = "1.0.0";
    /// #     const BLOCK: &'static str = "main";
    /// #     type Outputs = EchoOutputs;
    /// # }
    /// # fn run(client: oomol_cloud_task::blocking::Client) -> oomol_cloud_task::Result<()> {
    /// use oomol_cloud_task::AwaitOptions;
    /// // EchoInputs and EchoOutputs as `cloud-task codegen @oomol/echo 1.0.0` writes them.
    /// let done = client.run(&EchoInputs { text: "hi".into() }, AwaitOptions::new())?;
    /// println!("{}: {}", done.task_id, done.outputs.text);
    /// # Ok(()) }
    /// ```
    ///
    /// [`create_and_wait`]: Client::create_and_wait
    pub fn run<B: Block>(
        &self,
        inputs: &B,
        options: AwaitOptions,
    ) -> Result<TypedOutcome<B::Outputs>> {
        let outcome = self.create_and_wait(inputs.to_request()?, options)?;
        TypedOutcome::decode(outcome.task_id, &outcome.result)
    }

    /// Starts block `B` with `inputs` (once: never retried) and answers its task, whose
    /// `wait` answers the typed outputs.
    pub fn create<B: Block>(&self, inputs: &B) -> Result<TypedTask<B::Outputs>> {
        Ok(TypedTask::new(self.submit(inputs.to_request()?)?))
    }

    /// [`run_many`](Client::run_many) of typed inputs: each finished item's
    /// [`into_outputs`](cloud_task_core::BatchItem::into_outputs) decodes `B::Outputs`.
    /// Inputs that cannot make a request are the iterator's only item, before anything is
    /// sent.
    pub fn run_many_blocks<B: Block>(
        &self,
        inputs: impl IntoIterator<Item = B>,
        options: BatchOptions,
    ) -> BatchRun {
        let requests = inputs.into_iter().map(|b| b.to_request()).collect();
        self.run_many_requests(requests, options)
    }
}

impl<O: DeserializeOwned> TypedTask<O> {
    /// Waits for the task ([`TaskHandle::wait`](crate::TaskHandle::wait)) and decodes its
    /// outputs.
    pub fn wait(&self, options: AwaitOptions) -> Result<TypedOutcome<O>> {
        let success = crate::TaskHandle::wait(self, options)?;
        TypedOutcome::decode(self.id().to_owned(), &success)
    }
}
