//! What a user's build pays to depend on the SDK: the same small program (create a task
//! and wait for it) written twice, on the facade and on the raw stack, each built cold in a
//! fresh target directory by this benchmark, in debug and in release.
//!
//! - async: the facade with its default features, and with its input checks too (feature
//!   `input-checks`), against reqwest + tokio + serde_json;
//! - blocking: the facade with `blocking` + `rustls` only, against ureq + serde_json
//!   (decoding into `serde_json::Value`, no procedural macro), and, for reference, against
//!   the same ureq program decoding into types of its own derived with serde (as the SDK
//!   does: `serde_derive` and `syn` are then built by both).
//!
//! For each it prints the crates each program pulls in (`cargo tree -e normal`), the cold
//! build time in debug and release (as a ratio, measured in this one run: the wall time,
//! and the CPU time of cargo and every `rustc` it ran, which the machine's other load moves
//! less), and the size of the stripped release binary. Targets: build time ≤ 1.3× the raw
//! program's, binary ≤ 1.5×. Each figure is followed by `ok` or `BELOW TARGET`.
//!
//! The programs start from the workspace's `Cargo.lock` (the same versions of every shared
//! crate) and build offline from the local cargo cache when they can (online otherwise,
//! fetched before the clock starts).
//! `QA_FOOTPRINT_KEEP=1` keeps their directory; `QA_FOOTPRINT=async` or `blocking` builds
//! that pair only.
//!
//! Run: `cargo bench -p cloud-task-qa --bench footprint` (about 25 minutes on 2 cores).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use cloud_task_qa::measure::{children_cpu_time, machine_summary};

const BUILD_TARGET: f64 = 1.3;
const SIZE_TARGET: f64 = 1.5;

/// One program: its name, its dependencies, its `main.rs`.
struct Program {
    name: &'static str,
    dependencies: String,
    main: &'static str,
}

const SDK_ASYNC: &str = r#"use oomol_cloud_task::{AwaitOptions, Client, CreateTaskRequest};

#[tokio::main]
async fn main() -> oomol_cloud_task::Result<()> {
    let client = Client::from_env()?;
    let request = CreateTaskRequest::new("@oomol/echo", "1.0.0", "main").input("text", "hi");
    let outcome = client.create_and_wait(request, AwaitOptions::new()).await?;
    println!("{} {:?}", outcome.task_id, outcome.result.result_data);
    Ok(())
}
"#;

const RAW_ASYNC: &str = r#"use std::time::Duration;

use serde_json::{Value, json};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let key = std::env::var("OOMOL_API_KEY")?;
    let base = std::env::var("OOMOL_BASE_URL").unwrap_or("https://cloud-task.oomol.com".into());
    let client = reqwest::Client::builder().timeout(Duration::from_secs(30)).build()?;
    let created: Value = client
        .post(format!("{base}/v3/users/me/tasks"))
        .header("Authorization", &key)
        .json(&json!({"type": "serverless", "packageName": "@oomol/echo",
            "packageVersion": "1.0.0", "blockName": "main", "inputValues": {"text": "hi"}}))
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    let id = created["taskID"].as_str().ok_or("no task ID")?.to_owned();
    loop {
        let result: Value = client
            .get(format!("{base}/v3/users/me/tasks/{id}/result"))
            .header("Authorization", &key)
            .send()
            .await?
            .error_for_status()?
            .json()
            .await?;
        match result["status"].as_str() {
            Some("success") => break println!("{id} {}", result["resultData"]),
            Some("failed") => return Err(format!("task {id} failed").into()),
            _ => tokio::time::sleep(Duration::from_secs(3)).await,
        }
    }
    Ok(())
}
"#;

const SDK_BLOCKING: &str = r#"use oomol_cloud_task::blocking::Client;
use oomol_cloud_task::{AwaitOptions, CreateTaskRequest};

fn main() -> oomol_cloud_task::Result<()> {
    let client = Client::from_env()?;
    let request = CreateTaskRequest::new("@oomol/echo", "1.0.0", "main").input("text", "hi");
    let outcome = client.create_and_wait(request, AwaitOptions::new())?;
    println!("{} {:?}", outcome.task_id, outcome.result.result_data);
    Ok(())
}
"#;

const RAW_BLOCKING: &str = r#"use std::time::Duration;

use serde_json::{Value, json};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let key = std::env::var("OOMOL_API_KEY")?;
    let base = std::env::var("OOMOL_BASE_URL").unwrap_or("https://cloud-task.oomol.com".into());
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(Duration::from_secs(30)))
        .build()
        .into();
    let created: Value = agent
        .post(format!("{base}/v3/users/me/tasks"))
        .header("Authorization", &key)
        .send_json(json!({"type": "serverless", "packageName": "@oomol/echo",
            "packageVersion": "1.0.0", "blockName": "main", "inputValues": {"text": "hi"}}))?
        .body_mut()
        .read_json()?;
    let id = created["taskID"].as_str().ok_or("no task ID")?.to_owned();
    loop {
        let result: Value = agent
            .get(format!("{base}/v3/users/me/tasks/{id}/result"))
            .header("Authorization", &key)
            .call()?
            .body_mut()
            .read_json()?;
        match result["status"].as_str() {
            Some("success") => break println!("{id} {}", result["resultData"]),
            Some("failed") => return Err(format!("task {id} failed").into()),
            _ => std::thread::sleep(Duration::from_secs(3)),
        }
    }
    Ok(())
}
"#;

/// [`RAW_BLOCKING`] with types of its own, derived with serde, as a user who wants named
/// fields would write it: the baseline that builds the same procedural macros as the SDK.
const RAW_BLOCKING_TYPED: &str = r#"use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Create {
    r#type: &'static str,
    package_name: &'static str,
    package_version: &'static str,
    block_name: &'static str,
    input_values: Value,
}

#[derive(Deserialize)]
struct Created {
    #[serde(rename = "taskID")]
    task_id: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct TaskResult {
    status: String,
    result_data: Option<Value>,
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let key = std::env::var("OOMOL_API_KEY")?;
    let base = std::env::var("OOMOL_BASE_URL").unwrap_or("https://cloud-task.oomol.com".into());
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(Duration::from_secs(30)))
        .build()
        .into();
    let create = Create {
        r#type: "serverless",
        package_name: "@oomol/echo",
        package_version: "1.0.0",
        block_name: "main",
        input_values: json!({"text": "hi"}),
    };
    let created: Created = agent
        .post(format!("{base}/v3/users/me/tasks"))
        .header("Authorization", &key)
        .send_json(&create)?
        .body_mut()
        .read_json()?;
    let id = created.task_id;
    loop {
        let result: TaskResult = agent
            .get(format!("{base}/v3/users/me/tasks/{id}/result"))
            .header("Authorization", &key)
            .call()?
            .body_mut()
            .read_json()?;
        match result.status.as_str() {
            "success" => break println!("{id} {:?}", result.result_data),
            "failed" => return Err(format!("task {id} failed").into()),
            _ => std::thread::sleep(Duration::from_secs(3)),
        }
    }
    Ok(())
}
"#;

fn programs(root: &Path) -> [Program; 6] {
    let facade = root.display().to_string();
    [
        Program {
            name: "sdk-async",
            dependencies: format!(
                "oomol-cloud-task = {{ path = {facade:?} }}\n\
                 tokio = {{ version = \"1\", features = [\"macros\", \"rt-multi-thread\"] }}\n"
            ),
            main: SDK_ASYNC,
        },
        Program {
            name: "sdk-async-checks",
            dependencies: format!(
                "oomol-cloud-task = {{ path = {facade:?}, features = [\"input-checks\"] }}\n\
                 tokio = {{ version = \"1\", features = [\"macros\", \"rt-multi-thread\"] }}\n"
            ),
            main: SDK_ASYNC,
        },
        Program {
            name: "raw-async",
            dependencies: "reqwest = { version = \"0.13\", features = [\"json\"] }\n\
                 tokio = { version = \"1\", features = [\"macros\", \"rt-multi-thread\"] }\n\
                 serde_json = \"1\"\n"
                .to_owned(),
            main: RAW_ASYNC,
        },
        Program {
            name: "sdk-blocking",
            dependencies: format!(
                "oomol-cloud-task = {{ path = {facade:?}, default-features = false, features = [\"blocking\", \"rustls\"] }}\n"
            ),
            main: SDK_BLOCKING,
        },
        Program {
            name: "raw-blocking",
            dependencies: "ureq = { version = \"3\", features = [\"json\"] }\nserde_json = \"1\"\n"
                .to_owned(),
            main: RAW_BLOCKING,
        },
        Program {
            name: "raw-blocking-typed",
            dependencies: "ureq = { version = \"3\", features = [\"json\"] }\n\
                 serde = { version = \"1\", features = [\"derive\"] }\n\
                 serde_json = \"1\"\n"
                .to_owned(),
            main: RAW_BLOCKING_TYPED,
        },
    ]
}

/// Writes `program` as a standalone package under `dir`, with the workspace's lock file.
fn write(program: &Program, dir: &Path, lock: &Path) -> PathBuf {
    let package = dir.join(program.name);
    std::fs::create_dir_all(package.join("src")).unwrap();
    std::fs::write(
        package.join("Cargo.toml"),
        format!(
            "[package]\nname = {:?}\nversion = \"0.0.0\"\nedition = \"2024\"\npublish = false\n\n\
             [dependencies]\n{}\n[profile.release]\nstrip = true\n\n[workspace]\n",
            program.name, program.dependencies
        ),
    )
    .unwrap();
    std::fs::write(package.join("src/main.rs"), program.main).unwrap();
    std::fs::copy(lock, package.join("Cargo.lock")).unwrap();
    package
}

/// What one `cargo` run took: wall time, and the CPU time of it and every `rustc` it ran.
#[derive(Debug, Default, Clone, Copy)]
struct Took {
    wall: Duration,
    cpu: Duration,
}

/// `cargo` in `package`, offline first (the local cache), online when that fails.
fn cargo(package: &Path, args: &[&str], target: &Path) -> (bool, Took, String) {
    let mut last = String::new();
    // Online, cargo adds what the lock file lacks and keeps every version it holds.
    for network in [Some("--offline"), None] {
        let cpu_before = children_cpu_time().unwrap_or_default();
        let started = Instant::now();
        let out = Command::new(env!("CARGO"))
            .args(args)
            .args(network)
            .current_dir(package)
            .env("CARGO_TARGET_DIR", target)
            .env_remove("RUSTFLAGS")
            .output()
            .expect("cargo runs");
        let took = Took {
            wall: started.elapsed(),
            cpu: children_cpu_time()
                .unwrap_or_default()
                .saturating_sub(cpu_before),
        };
        last = String::from_utf8_lossy(&out.stderr).into_owned();
        if out.status.success() {
            return (
                true,
                took,
                String::from_utf8_lossy(&out.stdout).into_owned(),
            );
        }
    }
    eprintln!("{}: cargo {args:?} failed:\n{last}", package.display());
    (false, Took::default(), String::new())
}

/// Figures of one program.
#[derive(Debug, Default, Clone, Copy)]
struct Figures {
    crates: usize,
    debug: Took,
    release: Took,
    binary: u64,
}

fn measure(package: &Path, name: &str, targets: &Path) -> Option<Figures> {
    let (ok, _, tree) = cargo(
        package,
        &["tree", "-e", "normal", "--prefix", "none"],
        &targets.join(format!("{name}-tree")),
    );
    if !ok {
        return None;
    }
    let mut crates: Vec<&str> = tree
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .filter(|c| *c != name)
        .collect();
    crates.sort_unstable();
    crates.dedup();
    // Fetch everything first (when online is needed), so that no build time counts a
    // download.
    let _ = cargo(package, &["fetch"], &targets.join(format!("{name}-fetch")));
    let (ok, debug, _) = cargo(package, &["build"], &targets.join(format!("{name}-debug")));
    if !ok {
        return None;
    }
    let release_dir = targets.join(format!("{name}-release"));
    let (ok, release, _) = cargo(package, &["build", "--release"], &release_dir);
    if !ok {
        return None;
    }
    let binary = std::fs::metadata(release_dir.join("release").join(name))
        .map(|m| m.len())
        .unwrap_or(0);
    // The target directories are large: gone as soon as measured.
    for kind in ["tree", "fetch", "debug", "release"] {
        let _ = std::fs::remove_dir_all(targets.join(format!("{name}-{kind}")));
    }
    Some(Figures {
        crates: crates.len(),
        debug,
        release,
        binary,
    })
}

fn verdict(ratio: f64, target: f64) -> &'static str {
    if ratio <= target {
        "ok"
    } else {
        "BELOW TARGET"
    }
}

fn compare(title: &str, sdk: Figures, raw: Figures) {
    println!("{title}:");
    println!(
        "  crates (normal dependencies): SDK {} / raw {}",
        sdk.crates, raw.crates
    );
    for (what, s, r) in [
        ("cold debug build", sdk.debug, raw.debug),
        ("cold release build", sdk.release, raw.release),
    ] {
        let ratio = s.wall.as_secs_f64() / r.wall.as_secs_f64();
        println!(
            "  {what}: SDK {:.1} s / raw {:.1} s = {ratio:.2}x  (target <= {BUILD_TARGET}: {})",
            s.wall.as_secs_f64(),
            r.wall.as_secs_f64(),
            verdict(ratio, BUILD_TARGET)
        );
        // The CPU time moves less with the machine's other load than the wall time (both
        // builds keep every core busy, so on an idle machine the two ratios agree).
        let ratio = s.cpu.as_secs_f64() / r.cpu.as_secs_f64();
        println!(
            "  {what}, CPU time: SDK {:.1} s / raw {:.1} s = {ratio:.2}x  (target <= {BUILD_TARGET}: {})",
            s.cpu.as_secs_f64(),
            r.cpu.as_secs_f64(),
            verdict(ratio, BUILD_TARGET)
        );
    }
    let ratio = sdk.binary as f64 / raw.binary as f64;
    println!(
        "  stripped release binary: SDK {:.2} MiB / raw {:.2} MiB = {ratio:.2}x  (target <= {SIZE_TARGET}: {})",
        sdk.binary as f64 / 1048576.0,
        raw.binary as f64 / 1048576.0,
        verdict(ratio, SIZE_TARGET)
    );
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        println!("footprint: bench");
        return;
    }
    println!("{}", machine_summary());
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap();
    let dir = std::env::temp_dir().join(format!("cloud-task-footprint-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let lock = root.join("Cargo.lock");
    // `QA_FOOTPRINT=async` or `blocking`: that pair only.
    let only = std::env::var("QA_FOOTPRINT").ok();
    let wanted = |name: &str| {
        only.as_deref()
            .is_none_or(|pair| name.ends_with(pair) || name.contains(&format!("{pair}-")))
    };
    let mut figures = vec![None; 6];
    for (at, program) in programs(&root).into_iter().enumerate() {
        if !wanted(program.name) {
            continue;
        }
        let package = write(&program, &dir, &lock);
        println!("building {} cold (debug, then release) ...", program.name);
        match measure(&package, program.name, &dir.join("targets")) {
            Some(f) => figures[at] = Some(f),
            None => {
                println!("{}: could not be built; no figures", program.name);
                return;
            }
        }
    }
    for (title, sdk, raw) in [
        (
            "async (the facade, default features) against reqwest + tokio + serde_json",
            0,
            2,
        ),
        (
            "async with the input checks (default + input-checks) against reqwest + tokio + serde_json",
            1,
            2,
        ),
        (
            "blocking (the facade, blocking + rustls) against ureq + serde_json",
            3,
            4,
        ),
        (
            "blocking (the facade, blocking + rustls) against ureq + serde_json + serde's derives (for reference)",
            3,
            5,
        ),
    ] {
        if let (Some(sdk), Some(raw)) = (figures[sdk], figures[raw]) {
            compare(title, sdk, raw);
        }
    }
    if std::env::var_os("QA_FOOTPRINT_KEEP").is_none() {
        let _ = std::fs::remove_dir_all(&dir);
    }
}
