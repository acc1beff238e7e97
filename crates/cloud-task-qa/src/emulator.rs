//! The emulator as a separate process, so that a benchmark measures the client alone (its
//! CPU and its memory) while the server runs elsewhere.

use std::io::{self, BufRead, BufReader};
use std::net::{SocketAddr, ToSocketAddrs};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use serde_json::Value;

use crate::loopback;

/// The environment variable that names an emulator binary to use instead of building one.
pub const ENV_EMULATOR_BIN: &str = "CLOUD_TASK_EMULATOR_BIN";

/// Finds the `cloud-task-emulator` binary: [`ENV_EMULATOR_BIN`] when set, else builds it
/// with cargo in release mode (in the current `CARGO_TARGET_DIR`; a no-op when it is up
/// to date) and answers the path cargo reports.
pub fn emulator_binary() -> io::Result<PathBuf> {
    if let Some(path) = std::env::var_os(ENV_EMULATOR_BIN) {
        return Ok(PathBuf::from(path));
    }
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let output = Command::new(cargo)
        .args([
            "build",
            "--release",
            "--quiet",
            "-p",
            "cloud-task-emulator",
            "--bin",
            "cloud-task-emulator",
            "--message-format=json",
        ])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .stderr(Stdio::inherit())
        .output()?;
    if !output.status.success() {
        return Err(io::Error::other(
            "cargo build -p cloud-task-emulator failed",
        ));
    }
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .filter(|m| {
            m["reason"] == "compiler-artifact" && m["target"]["name"] == "cloud-task-emulator"
        })
        .find_map(|m| m["executable"].as_str().map(PathBuf::from))
        .ok_or_else(|| io::Error::other("cargo reported no cloud-task-emulator executable"))
}

/// A running `cloud-task-emulator` process; killed when dropped.
pub struct EmulatorProcess {
    child: Child,
    base_url: String,
    upload_base_url: String,
    api_key: String,
    addr: SocketAddr,
}

impl EmulatorProcess {
    /// Starts `binary` on a free loopback port with these extra flags (e.g.
    /// `["--time-scale", "0.01"]`) and waits for the four lines it prints once listening.
    pub fn start(binary: &Path, flags: &[&str]) -> io::Result<Self> {
        let mut child = Command::new(binary)
            .args(["--addr", "127.0.0.1:0"])
            .args(flags)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()?;
        let stdout = child
            .stdout
            .take()
            .ok_or_else(|| io::Error::other("no stdout"))?;
        let mut lines = BufReader::new(stdout).lines();
        let mut value = |name: &str| -> io::Result<String> {
            let line = lines
                .next()
                .ok_or_else(|| io::Error::other("the emulator ended before listening"))??;
            line.strip_prefix(name)
                .and_then(|rest| rest.strip_prefix('='))
                .map(str::to_owned)
                .ok_or_else(|| io::Error::other(format!("expected {name}=..., got {line:?}")))
        };
        let base_url = value("CLOUD_TASK_BASE_URL")?;
        let upload_base_url = value("CLOUD_TASK_UPLOAD_BASE_URL")?;
        let _registry_url = value("CLOUD_TASK_REGISTRY_URL")?;
        let api_key = value("OOMOL_API_KEY")?;
        let addr = base_url
            .trim_start_matches("http://")
            .to_socket_addrs()?
            .next()
            .ok_or_else(|| io::Error::other("the base URL has no address"))?;
        Ok(EmulatorProcess {
            child,
            base_url,
            upload_base_url,
            api_key,
            addr,
        })
    }

    /// The task API base URL.
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// The upload API base URL.
    pub fn upload_base_url(&self) -> &str {
        &self.upload_base_url
    }

    /// The accepted API key.
    pub fn api_key(&self) -> &str {
        &self.api_key
    }

    /// The process ID.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The statistics (`GET /_emulator/stats`): `{"total": n, "routes": {"task_result": n, ...}}`.
    pub fn stats(&self) -> io::Result<Value> {
        let auth = format!("Authorization: Bearer {}\r\n", self.api_key);
        let (status, body) = loopback::request(self.addr, "GET", "/_emulator/stats", &auth, &[])?;
        if status != 200 {
            return Err(io::Error::other(format!("stats answered {status}")));
        }
        serde_json::from_slice(&body).map_err(io::Error::other)
    }

    /// Resets the statistics (`DELETE /_emulator/stats`).
    pub fn reset_stats(&self) -> io::Result<()> {
        let auth = format!("Authorization: Bearer {}\r\n", self.api_key);
        let (status, _) = loopback::request(self.addr, "DELETE", "/_emulator/stats", &auth, &[])?;
        match status {
            200..=299 => Ok(()),
            other => Err(io::Error::other(format!("reset answered {other}"))),
        }
    }
}

impl Drop for EmulatorProcess {
    /// Asks the emulator to stop (SIGTERM on Unix, so that it removes its uploads' files),
    /// waits up to ten seconds, then kills it.
    fn drop(&mut self) {
        #[cfg(unix)]
        {
            use std::time::{Duration, Instant};
            let asked = Command::new("kill")
                .args(["-TERM", &self.child.id().to_string()])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| s.success());
            if asked {
                let deadline = Instant::now() + Duration::from_secs(10);
                while Instant::now() < deadline {
                    if let Ok(Some(_)) = self.child.try_wait() {
                        return;
                    }
                    std::thread::sleep(Duration::from_millis(20));
                }
            }
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
