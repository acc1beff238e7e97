//! The blocking client needs no async runtime: none may appear in its normal dependency
//! tree, with the default features or with all of them.

use std::process::Command;

/// Crates that are (or bring) an async runtime or an async HTTP stack.
const FORBIDDEN: &[&str] = &[
    "tokio",
    "reqwest",
    "hyper",
    "hyper-util",
    "async-std",
    "smol",
    "async-executor",
    "futures-executor",
    "actix-rt",
];

/// The crate names of `cargo tree -p cloud-task-blocking -e normal` with `extra` flags.
///
/// Read offline first. `--all-features` needs crates that `cargo test --workspace` never
/// downloads (ureq's `native-tls` side): on a machine whose cargo cache lacks them, the
/// tree is read again with cargo allowed to fetch them from the registry this workspace
/// builds from (`--locked`: the versions of `Cargo.lock`, nothing newer).
fn normal_dependencies(extra: &[&str]) -> Vec<String> {
    let offline = tree(extra, "--offline");
    let output = if !offline.status.success()
        && String::from_utf8_lossy(&offline.stderr).contains("failed to download")
    {
        tree(extra, "--locked")
    } else {
        offline
    };
    assert!(
        output.status.success(),
        "cargo tree failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout)
        .expect("cargo tree prints UTF-8")
        .lines()
        .filter_map(|line| line.split_whitespace().next())
        .map(str::to_owned)
        .collect()
}

fn tree(extra: &[&str], mode: &str) -> std::process::Output {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let manifest = concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.toml");
    Command::new(cargo)
        .args(["tree", mode, "--manifest-path", manifest])
        .args([
            "-p",
            "cloud-task-blocking",
            "-e",
            "normal",
            "--prefix",
            "none",
        ])
        .args(extra)
        .output()
        .expect("cargo runs")
}

#[test]
fn no_async_runtime_in_the_dependency_tree() {
    for features in [&[][..], &["--all-features"][..]] {
        let crates = normal_dependencies(features);
        assert!(
            crates.iter().any(|c| c == "ureq"),
            "the tree was not read: {crates:?}"
        );
        let found: Vec<_> = crates
            .iter()
            .filter(|c| FORBIDDEN.contains(&c.as_str()))
            .collect();
        assert!(found.is_empty(), "{features:?}: {found:?}");
    }
}
