//! An emulator per test, and the `cloud-task` binary pointed at it.
#![allow(dead_code)] // each test module uses part of it

use std::io::{BufRead, BufReader};
use std::process::{Child, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use assert_cmd::Command;
use cloud_task_emulator::{BlockingEmulator, Emulator, EmulatorBuilder};
use serde_json::Value;

/// The emulator's key in every test: long and distinctive, so a test can assert it never
/// appears in any output.
pub const KEY: &str = "cli-test-key-5f3a9c1e";

/// A bound on anything a test waits for.
pub const DEADLINE: Duration = Duration::from_secs(20);

/// A credentials file that does not exist: where the tests' commands look for a stored key.
pub const NO_CREDENTIALS: &str = "/nonexistent/oomol-cloud-task/credentials.json";

/// The path of the binary under test.
pub const BIN: &str = env!("CARGO_BIN_EXE_cloud-task");

/// An emulator (a default task takes about 10 ms) and commands configured for it.
pub struct Server {
    pub emulator: BlockingEmulator,
}

impl Server {
    pub fn start() -> Server {
        Server::with(|builder| builder)
    }

    pub fn with(configure: impl FnOnce(EmulatorBuilder) -> EmulatorBuilder) -> Server {
        let builder = Emulator::builder().api_key(KEY).time_scale(0.01);
        let emulator = configure(builder)
            .start_blocking()
            .expect("the emulator starts");
        Server { emulator }
    }

    /// The environment that points the CLI at this emulator.
    pub fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("OOMOL_API_KEY", KEY.to_owned()),
            ("OOMOL_BASE_URL", self.emulator.base_url()),
            ("OOMOL_UPLOAD_BASE_URL", self.emulator.upload_base_url()),
            ("OOMOL_REGISTRY_URL", self.emulator.base_url()),
        ]
    }

    /// `cloud-task` with the key and URLs in its environment.
    pub fn cmd(&self) -> Command {
        let mut cmd = bare();
        cmd.envs(self.env());
        cmd
    }

    /// Runs `cloud-task args...` and answers its output.
    pub fn run(&self, args: &[&str]) -> Output {
        self.cmd().args(args).output().expect("the binary runs")
    }

    /// Creates a task with `create` and answers its ID. Its inputs are not checked
    /// (`--no-check`): these tests give the echo block any inputs, as its runs accept; the
    /// checks have tests of their own.
    pub fn create(&self, args: &[&str]) -> String {
        let mut all = vec!["create", "--no-check"];
        all.extend_from_slice(args);
        let output = self.run(&all);
        assert_eq!(code(&output), 0, "{}", stderr(&output));
        stdout(&output).trim().to_owned()
    }

    /// Runs a task to its end with `run`, its inputs not checked (as [`Server::create`]).
    pub fn run_task(&self, args: &[&str]) -> Output {
        let mut all = vec!["run"];
        all.extend_from_slice(args);
        all.extend(["--interval", "10ms", "--no-check"]);
        self.run(&all)
    }
}

/// `cloud-task` with an environment free of the caller's configuration, bounded in time.
pub fn bare() -> Command {
    let mut cmd = Command::new(BIN);
    for name in [
        "OOMOL_API_KEY",
        "OOMOL_BASE_URL",
        "OOMOL_UPLOAD_BASE_URL",
        "CLOUD_TASK_BASE_URL",
        "CLOUD_TASK_UPLOAD_BASE_URL",
        "OOMOL_REGISTRY_URL",
        "CLOUD_TASK_REGISTRY_URL",
        "NO_COLOR",
        "OOMOL_ENDPOINT",
    ] {
        cmd.env_remove(name);
    }
    // Never the key stored on this machine: a file that does not exist, unless a test
    // names its own.
    cmd.env("OOMOL_CREDENTIALS_FILE", NO_CREDENTIALS);
    cmd.timeout(DEADLINE);
    cmd
}

pub fn stdout(output: &Output) -> String {
    String::from_utf8(output.stdout.clone()).expect("stdout is UTF-8")
}

pub fn stderr(output: &Output) -> String {
    String::from_utf8(output.stderr.clone()).expect("stderr is UTF-8")
}

pub fn code(output: &Output) -> i32 {
    output.status.code().unwrap_or_else(|| {
        panic!(
            "ended by a signal ({:?}), not an exit code; stderr: {}",
            std::os::unix::process::ExitStatusExt::signal(&output.status),
            String::from_utf8_lossy(&output.stderr)
        )
    })
}

/// The one JSON document on stdout (fails when there are none or several).
pub fn json(output: &Output) -> Value {
    let documents: Vec<Value> = serde_json::Deserializer::from_slice(&output.stdout)
        .into_iter::<Value>()
        .collect::<Result<_, _>>()
        .unwrap_or_else(|e| panic!("stdout is not JSON ({e}): {}", stdout(output)));
    assert_eq!(documents.len(), 1, "stdout: {}", stdout(output));
    documents.into_iter().next().unwrap_or_default()
}

/// Asserts the key appears nowhere in the output.
pub fn assert_no_key(output: &Output) {
    for (name, text) in [("stdout", stdout(output)), ("stderr", stderr(output))] {
        assert!(!text.contains(KEY), "the key leaked on {name}: {text}");
    }
}

/// Asserts nothing was drawn: no carriage return, no escape sequence.
pub fn assert_no_drawing(text: &str) {
    assert!(!text.contains('\r'), "a carriage return: {text:?}");
    assert!(!text.contains('\x1b'), "an escape sequence: {text:?}");
}

/// A child whose stderr lines are read as they come.
pub struct Running {
    pub child: Child,
    lines: mpsc::Receiver<String>,
    pub seen: Vec<String>,
}

impl Running {
    /// Starts `cloud-task args...` with `env`, stdout piped.
    pub fn spawn(env: &[(&'static str, String)], args: &[&str]) -> Running {
        let mut command = std::process::Command::new(BIN);
        for name in [
            "OOMOL_API_KEY",
            "OOMOL_BASE_URL",
            "OOMOL_UPLOAD_BASE_URL",
            "NO_COLOR",
            "OOMOL_ENDPOINT",
        ] {
            command.env_remove(name);
        }
        command.env("OOMOL_CREDENTIALS_FILE", NO_CREDENTIALS);
        command.envs(env.iter().map(|(k, v)| (k, v)));
        let mut child = command
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("the binary starts");
        let stderr = child.stderr.take().expect("stderr is piped");
        let (send, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { return };
                if send.send(line).is_err() {
                    return;
                }
            }
        });
        Running {
            child,
            lines,
            seen: Vec::new(),
        }
    }

    /// Waits for a stderr line containing `needle`, and answers it.
    pub fn wait_for_line(&mut self, needle: &str) -> String {
        let deadline = Instant::now() + DEADLINE;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    self.seen.push(line.clone());
                    if line.contains(needle) {
                        return line;
                    }
                }
                Err(_) => panic!("no line with {needle:?}; saw {:?}", self.seen),
            }
        }
    }

    /// Sends SIGINT, as Ctrl-C does.
    pub fn interrupt(&self) {
        let status = std::process::Command::new("kill")
            .args(["-INT", &self.child.id().to_string()])
            .status()
            .expect("kill runs");
        assert!(status.success());
    }

    /// Waits for the exit (bounded), then answers the exit code, stdout and the rest of
    /// stderr.
    pub fn finish(mut self) -> (i32, String, String) {
        let deadline = Instant::now() + DEADLINE;
        let status = loop {
            if let Some(status) = self.child.try_wait().expect("the child can be waited for") {
                break status;
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                panic!("the command did not exit; stderr so far: {:?}", self.seen);
            }
            std::thread::sleep(Duration::from_millis(10));
        };
        let mut out = String::new();
        if let Some(mut stdout) = self.child.stdout.take() {
            std::io::Read::read_to_string(&mut stdout, &mut out).expect("stdout is UTF-8");
        }
        // The reader thread ends at EOF, once the child is gone.
        let mut rest = self.seen.join("\n");
        while let Ok(line) = self.lines.recv_timeout(Duration::from_secs(2)) {
            rest.push('\n');
            rest.push_str(&line);
        }
        (status.code().expect("an exit code"), out, rest)
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// True where util-linux `script` can make a pseudo-terminal (else the test says it is
/// skipped).
pub fn terminals_available() -> bool {
    let available = cfg!(target_os = "linux")
        && std::process::Command::new("script")
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success());
    if !available {
        eprintln!("skipped: util-linux `script` is not installed");
    }
    available
}

/// Runs `cloud-task <args>` in a pseudo-terminal made by util-linux `script` (stdout and
/// stderr are both the terminal) and answers what it wrote.
pub fn in_terminal(server: &Server, args: &str, env: &[(&str, &str)]) -> String {
    let output = std::process::Command::new("script")
        .args(["-qfec", &format!("{BIN} {args}"), "/dev/null"])
        .env_remove("NO_COLOR")
        .envs(server.env())
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .output()
        .expect("script runs");
    String::from_utf8_lossy(&output.stdout).into_owned()
}
