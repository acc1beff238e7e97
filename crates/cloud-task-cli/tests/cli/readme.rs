//! The shell examples of the READMEs, run as written.
//!
//! - Every `sh` block of the READMEs carries a `<!-- ci: ... -->` line above it saying
//!   where it runs (`runs in the CLI's README test`: here, against an emulator, with
//!   `cloud-task` on the `PATH`, in a directory holding two PDF files for the blocks that
//!   upload the user's files; `... in .ci/run`), or why it cannot (`not run: ...`, e.g. it
//!   needs a real key). A block without one fails the test.
//! - Every `text` block of the CLI's README that shows a session (`$ cloud-task ...` lines)
//!   is replayed in order on one emulator: each command runs in `bash`, and its output
//!   (stdout and stderr together) must be the lines shown. Task IDs, times and page tokens
//!   vary: an ID shown in an output is bound to the real one and substituted in the
//!   commands after it, so that `get`, `list` and `logs` are checked against the tasks the
//!   session created. The session runs in a directory holding `report.pdf`. A session
//!   marked `not run: ...` (one with a Ctrl-C) is left to the test its marker names.
//!   Progress lines (`task ID: running 56%`) depend on timing and are
//!   left out on both sides.

use std::collections::HashMap;
use std::path::Path;

use assert_cmd::Command;
use regex::Regex;

use crate::support::{DEADLINE, Server, code, stderr, stdout};

/// The READMEs whose shell blocks must say where they run, by path from the workspace.
const READMES: [&str; 4] = [
    "README.md",
    "crates/cloud-task-cli/README.md",
    "crates/cloud-task-emulator/README.md",
    "crates/cloud-task-mcp/README.md",
];

const RUN_HERE: &str = "<!-- ci: runs in the CLI's README test -->";
const NOT_RUN: &str = "<!-- ci: not run: ";
const NO_KEY: &str = "<!-- ci: a session without a key -->";

/// The user's file the examples upload (5 bytes, as they show).
const PDF: &[u8] = b"%PDF-";

const UUID: &str = "[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}";

/// A fenced block of a README: its language, the line above it, its lines, where it starts.
struct Block {
    lang: String,
    marker: String,
    lines: Vec<String>,
    line: usize,
}

fn workspace() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .and_then(Path::parent)
        .expect("the workspace holds the crate")
}

fn blocks(readme: &str) -> Vec<Block> {
    let text = std::fs::read_to_string(workspace().join(readme))
        .unwrap_or_else(|e| panic!("{readme}: {e}"));
    let mut blocks = Vec::new();
    let mut above = String::new();
    let mut open: Option<Block> = None;
    for (index, line) in text.lines().enumerate() {
        match (&mut open, line.trim_start().strip_prefix("```")) {
            (None, Some(lang)) => {
                open = Some(Block {
                    lang: lang.trim().to_owned(),
                    marker: above.clone(),
                    lines: Vec::new(),
                    line: index + 1,
                })
            }
            (Some(_), Some(_)) => blocks.extend(open.take()),
            (Some(block), None) => block.lines.push(line.to_owned()),
            (None, None) => {
                if !line.trim().is_empty() {
                    above = line.trim().to_owned();
                }
            }
        }
    }
    blocks
}

/// `bash -c script` in `dir`, with the environment of `server` (or none of a key) and the
/// binary under test first on the `PATH`.
fn bash(server: &Server, dir: &Path, script: &str, with_key: bool) -> Command {
    let bin = Path::new(crate::support::BIN)
        .parent()
        .expect("the binary is in a directory");
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let mut cmd = Command::new("bash");
    cmd.arg("-c").arg(script).current_dir(dir).env("PATH", path);
    for name in [
        "OOMOL_API_KEY",
        "OOMOL_BASE_URL",
        "OOMOL_UPLOAD_BASE_URL",
        "OOMOL_REGISTRY_URL",
        "CLOUD_TASK_BASE_URL",
        "CLOUD_TASK_UPLOAD_BASE_URL",
        "CLOUD_TASK_REGISTRY_URL",
        "NO_COLOR",
        "OOMOL_ENDPOINT",
    ] {
        cmd.env_remove(name);
    }
    // The sign-in of a block is kept in its own directory, never in this machine's.
    cmd.env(
        "OOMOL_CREDENTIALS_FILE",
        dir.join("oomol-cloud-task").join("credentials.json"),
    );
    if with_key {
        cmd.envs(server.env());
        // As `cloud-task emulator --detach` exports it, for the emulator's own routes.
        cmd.env("CLOUD_TASK_BASE_URL", server.emulator.base_url());
    } else {
        cmd.env("OOMOL_BASE_URL", server.emulator.base_url());
    }
    cmd.timeout(DEADLINE * 3);
    cmd
}

#[test]
fn every_shell_block_says_where_it_runs_and_those_marked_here_pass() {
    let server = Server::start();
    let mut ran = 0;
    for readme in READMES {
        for block in blocks(readme) {
            if !matches!(block.lang.as_str(), "sh" | "bash" | "console" | "shell") {
                continue;
            }
            let at = format!("{readme}:{}", block.line);
            if block.marker == RUN_HERE {
                let dir = tempfile::tempdir().expect("a directory");
                // The files a block names as the user's own.
                for name in ["report.pdf", "scan.pdf"] {
                    std::fs::write(dir.path().join(name), PDF).expect("a file");
                }
                let script = format!("set -euo pipefail\n{}", block.lines.join("\n"));
                let output = bash(&server, dir.path(), &script, true)
                    .output()
                    .expect("bash runs");
                assert_eq!(
                    code(&output),
                    0,
                    "the block at {at} failed:\n{script}\nstdout:\n{}\nstderr:\n{}",
                    stdout(&output),
                    stderr(&output)
                );
                ran += 1;
            } else {
                assert!(
                    (block.marker.starts_with("<!-- ci: ")
                        && block.marker.contains(" in .ci/run -->"))
                        || (block.marker.starts_with(NOT_RUN) && block.marker.len() > 20),
                    "the shell block at {at} does not say where it runs: put `{RUN_HERE}` \
                     (or `{NOT_RUN}REASON -->`) on the line above it"
                );
            }
        }
    }
    assert!(ran >= 3, "only {ran} blocks ran");
}

/// One line of a shown output as a pattern: task IDs bound (or to bind), times and page
/// tokens of any value, `...` anything.
fn pattern(expected: &str, bound: &HashMap<String, String>) -> (Regex, Vec<String>) {
    let pieces = Regex::new(&format!(
        r"({UUID})|\d{{4}}-\d\d-\d\dT\d\d:\d\d:\d\dZ|ct1\.[0-9a-f]+|\d{{13}}|\.\.\."
    ))
    .expect("a regex");
    let mut source = String::from("^");
    let mut to_bind = Vec::new();
    let mut last = 0;
    for captures in pieces.captures_iter(expected) {
        let found = captures.get(0).expect("the whole match");
        source.push_str(&regex::escape(&expected[last..found.start()]));
        let text = found.as_str();
        if captures.get(1).is_some() {
            match bound.get(text) {
                Some(real) => source.push_str(&regex::escape(real)),
                None => {
                    source.push_str(&format!("({UUID})"));
                    to_bind.push(text.to_owned());
                }
            }
        } else if text.ends_with('Z') {
            source.push_str(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ");
        } else if text.starts_with("ct1.") {
            source.push_str(r"ct1\.[0-9a-f]+");
        } else if text == "..." {
            source.push_str(".*?");
        } else {
            source.push_str(r"\d{13}");
        }
        last = found.end();
    }
    source.push_str(&regex::escape(&expected[last..]));
    source.push('$');
    (Regex::new(&source).expect("a pattern"), to_bind)
}

#[test]
fn the_cli_readme_sessions_show_what_the_commands_print() {
    let server = Server::start();
    let dir = tempfile::tempdir().expect("a directory");
    std::fs::write(dir.path().join("report.pdf"), PDF).expect("a file");
    let progress = Regex::new(r"^task \S+: [a-z]+ \d+%$").unwrap();
    let uuid = Regex::new(UUID).unwrap();
    let mut bound: HashMap<String, String> = HashMap::new();
    let mut commands = 0;
    for block in blocks("crates/cloud-task-cli/README.md") {
        if block.lang != "text" || !block.lines.iter().any(|l| l.starts_with("$ ")) {
            continue;
        }
        if block.marker.starts_with(NOT_RUN) {
            continue;
        }
        let with_key = block.marker != NO_KEY;
        let mut lines = block.lines.iter().peekable();
        while let Some(line) = lines.next() {
            let command = line
                .strip_prefix("$ ")
                .unwrap_or_else(|| panic!("line {}: output before a command", block.line));
            let mut shown = Vec::new();
            while let Some(next) = lines.next_if(|l| !l.starts_with("$ ")) {
                if !progress.is_match(next) {
                    shown.push(next.as_str());
                }
            }
            let mut command = command.to_owned();
            for id in uuid.find_iter(&command.clone()) {
                let real = bound.get(id.as_str()).unwrap_or_else(|| {
                    panic!(
                        "`{command}` uses {} before an output showed it",
                        id.as_str()
                    )
                });
                command = command.replace(id.as_str(), real);
            }
            let output = bash(
                &server,
                dir.path(),
                &format!("{{ {command}\n}} 2>&1"),
                with_key,
            )
            .output()
            .expect("bash runs");
            let printed = stdout(&output);
            let printed: Vec<&str> = printed.lines().filter(|l| !progress.is_match(l)).collect();
            assert_eq!(
                printed.len(),
                shown.len(),
                "`{command}` (README line {}) printed:\n{}\nthe README shows:\n{}",
                block.line,
                printed.join("\n"),
                shown.join("\n")
            );
            for (real, expected) in printed.iter().zip(&shown) {
                let (pattern, to_bind) = pattern(expected, &bound);
                let captures = pattern.captures(real).unwrap_or_else(|| {
                    panic!("`{command}` printed\n  {real}\nwhere the README shows\n  {expected}")
                });
                for (index, readme_id) in to_bind.into_iter().enumerate() {
                    bound.insert(readme_id, captures[index + 1].to_owned());
                }
            }
            commands += 1;
        }
    }
    assert!(commands >= 8, "only {commands} commands were replayed");
}
