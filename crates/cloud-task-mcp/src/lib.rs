//! OOMOL Cloud Task as tools for AI agents: a [Model Context Protocol] server on the SDK's
//! async client, run as `cloud-task mcp`.
//!
//! It speaks MCP over stdio through the official Rust SDK ([`rmcp`]) and offers one tool
//! per operation: run a block and wait with progress notifications (the client's
//! cancellation ends the wait, never the task), create, run a block over many inputs (each
//! created once, resumable from a journal), wait for a bounded window, read a
//! result, a detail, the task list, the latest tasks of workloads, a task's logs and the
//! dashboard, pause and resume the queue, upload a file (from a path, or base64 for agents
//! on another machine), download a result file and describe a package. With a package
//! configured, each of its blocks is a tool of its own whose input schema is the block's.
//! Every tool's input schema is derived from its typed parameters and it declares an
//! output schema; failures are tool errors that tell the agent what to do next. The API
//! key is replaced by `***` in every answer, wherever a server echoed it.
//!
//! ```no_run
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! use cloud_task_mcp::{McpOptions, serve_stdio};
//! let client = cloud_task_async::Client::from_env()?;
//! let options = McpOptions::new().package("@oomol/echo", "1.0.0");
//! serve_stdio(client, options).await?;
//! # Ok(()) }
//! ```
//!
//! [Model Context Protocol]: https://modelcontextprotocol.io
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod convert;
mod errors;
mod lines;
mod params;
mod root;
mod server;
pub mod types;

use std::path::PathBuf;
use std::time::Duration;

use cloud_task_async::{Client, Error};
use rmcp::ServiceExt;

pub use crate::errors::ToolError;
pub use crate::lines::MAX_REQUEST_LINE;
pub use crate::server::{CloudTaskServer, MAX_BASE64_UPLOAD, block_tool_name};

/// The environment variable naming the package whose blocks become tools.
pub const ENV_PACKAGE_NAME: &str = "OOMOL_PACKAGE_NAME";
/// The environment variable naming that package's version (default `latest`).
pub const ENV_PACKAGE_VERSION: &str = "OOMOL_PACKAGE_VERSION";

/// How the server behaves.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct McpOptions {
    /// The package (name, version) whose blocks become tools, and the default package of
    /// `run_task` and `create_task`.
    pub package: Option<(String, String)>,
    /// How long `run_task`, `wait_task` and the block tools wait when the call does not
    /// say: 50 s by default, under the 60 s request timeout of common MCP clients.
    pub window: Duration,
    /// The time between polls of a task being waited for (3 s by default).
    pub interval: Duration,
    /// Write a line to stderr when a task is created, a wait is cancelled, a file is
    /// uploaded or saved (stdout carries the protocol alone).
    pub notes: bool,
    /// The directory the file tools are confined to (`upload_file`, `download_result`,
    /// `run_batch`'s journal), as the MCP filesystem server has roots: a relative path is
    /// taken from it, and a path out of it (absolute, through `..` or a symbolic link) is
    /// refused. `None` (the default): paths are the agent's, relative to the server's
    /// working directory.
    pub root: Option<PathBuf>,
}

impl Default for McpOptions {
    fn default() -> Self {
        McpOptions {
            package: None,
            window: Duration::from_secs(50),
            interval: Duration::from_secs(3),
            notes: true,
            root: None,
        }
    }
}

impl McpOptions {
    /// The defaults.
    pub fn new() -> Self {
        McpOptions::default()
    }

    /// The package whose blocks become tools.
    pub fn package(mut self, name: impl Into<String>, version: impl Into<String>) -> Self {
        self.package = Some((name.into(), version.into()));
        self
    }

    /// The package named by `OOMOL_PACKAGE_NAME` and `OOMOL_PACKAGE_VERSION` (`latest`
    /// when the version is not set), when the name is set and not blank.
    pub fn package_from_env(self) -> Self {
        let read = |name| {
            std::env::var(name)
                .ok()
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
        };
        match read(ENV_PACKAGE_NAME) {
            Some(name) => {
                let version = read(ENV_PACKAGE_VERSION).unwrap_or_else(|| "latest".to_owned());
                self.package(name, version)
            }
            None => self,
        }
    }

    /// The default wait window (1 s to 1 hour).
    pub fn window(mut self, window: Duration) -> Self {
        self.window = window;
        self
    }

    /// The time between polls.
    pub fn interval(mut self, interval: Duration) -> Self {
        self.interval = interval;
        self
    }

    /// Confines the file tools to `dir` (see [`root`](Self::root)).
    pub fn root(mut self, dir: impl Into<PathBuf>) -> Self {
        self.root = Some(dir.into());
        self
    }

    /// Whether to write notes to stderr.
    pub fn notes(mut self, notes: bool) -> Self {
        self.notes = notes;
        self
    }

    /// Checks the options: a window of 1 s to 1 hour, a poll interval the SDK accepts, a
    /// package with a name and a version.
    pub fn validate(&self) -> Result<(), Error> {
        let max = Duration::from_secs(types::MAX_WAIT_SECONDS);
        if self.window < Duration::from_secs(1) || self.window > max {
            return Err(Error::invalid_input(
                "window",
                format!(
                    "the wait window must be 1 s to 1 hour, not {:?}",
                    self.window
                ),
            ));
        }
        cloud_task_async::AwaitOptions::new()
            .interval(self.interval)
            .validate()?;
        if let Some((name, version)) = &self.package {
            if name.trim().is_empty() {
                return Err(Error::invalid_input("package", "the package name is empty"));
            }
            if version.trim().is_empty() {
                return Err(Error::invalid_input(
                    "package",
                    "the package version is empty",
                ));
            }
        }
        Ok(())
    }
}

/// Serves MCP on this process's stdin and stdout until the client closes them. Reads the
/// configured package's description first (an error when it cannot be read).
pub async fn serve_stdio(client: Client, options: McpOptions) -> Result<(), ServeError> {
    let server = CloudTaskServer::new(client, options)
        .await
        .map_err(ServeError::Start)?;
    serve_lines(server, tokio::io::stdin(), tokio::io::stdout()).await
}

/// Serves MCP on `read` and `write` (newline-delimited JSON-RPC, as on stdio), with the
/// bound on one request line: [`MAX_REQUEST_LINE`] bytes, and a JSON-RPC error for a
/// request past it.
async fn serve_lines<R, W>(server: CloudTaskServer, read: R, write: W) -> Result<(), ServeError>
where
    R: tokio::io::AsyncRead + Send + Unpin + 'static,
    W: tokio::io::AsyncWrite + Send + Unpin + 'static,
{
    let guarded = lines::LineGuard::new(read, MAX_REQUEST_LINE);
    // rmcp's own limit is never reached: the guard cuts a line at MAX_REQUEST_LINE.
    let transport =
        rmcp::transport::async_rw::AsyncRwTransport::<rmcp::RoleServer, _, _>::new(guarded, write)
            .with_max_line_length(MAX_REQUEST_LINE + 2);
    let running = server
        .serve(transport)
        .await
        .map_err(|e| ServeError::Protocol(e.to_string()))?;
    running
        .waiting()
        .await
        .map_err(|e| ServeError::Protocol(e.to_string()))?;
    Ok(())
}

/// Why the server stopped before its client closed the connection.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServeError {
    /// It could not start: bad options, or the package's description could not be read.
    #[error("cannot start the MCP server: {0}")]
    Start(#[source] Error),
    /// The connection failed (the client did not initialise, or the stream broke).
    #[error("the MCP connection failed: {0}")]
    Protocol(String),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_are_checked_before_serving() {
        assert!(McpOptions::new().validate().is_ok());
        let short = McpOptions::new()
            .window(Duration::from_millis(10))
            .validate();
        assert!(short.unwrap_err().to_string().contains("1 s to 1 hour"));
        let long = McpOptions::new()
            .window(Duration::from_secs(3601))
            .validate();
        assert!(long.is_err());
        let unnamed = McpOptions::new().package(" ", "1.0.0").validate();
        assert!(unnamed.unwrap_err().to_string().contains("package name"));
        let unversioned = McpOptions::new().package("@a/b", "").validate();
        assert!(unversioned.unwrap_err().to_string().contains("version"));
    }
}
