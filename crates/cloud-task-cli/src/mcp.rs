//! `cloud-task mcp`: the Model Context Protocol server of `cloud-task-mcp` on this
//! command's client (its key, URLs and user agent).

use cloud_task_mcp::{McpOptions, ServeError};

use crate::args::McpArgs;
use crate::commands::Context;
use crate::failure::Failure;

impl Context {
    /// Serves MCP on stdin and stdout until the client closes them (exit 0) or Ctrl-C
    /// (exit 130). Nothing but the protocol goes to stdout.
    pub(crate) async fn mcp(&self, args: McpArgs) -> Result<(), Failure> {
        let client = self.client()?;
        let mut options = McpOptions::new()
            .window(args.window)
            .interval(args.interval)
            .notes(!self.global.quiet);
        if let Some(root) = args.root {
            options = options.root(root);
        }
        options = match args.package.as_deref() {
            Some([name, version]) => options.package(name, version),
            _ => options.package_from_env(),
        };
        tokio::select! {
            served = cloud_task_mcp::serve_stdio(client, options) => match served {
                Ok(()) => Ok(()),
                Err(ServeError::Start(error)) => Err(Failure::from(error)),
                Err(error) => Err(Failure::usage(error.to_string())),
            },
            () = self.interrupt.cancelled() => Err(Failure::interrupted()),
        }
    }
}
