//! Every dependency of each published crate is justified in its `Cargo.toml`: the line
//! above it is a comment saying why (issue "at the physical limit": what a user's build
//! pays for, each crate named and defended).

use std::path::Path;

/// The manifests of the published crates, from the workspace's root.
const PUBLISHED: &[&str] = &[
    "Cargo.toml",
    "crates/cloud-task-core/Cargo.toml",
    "crates/cloud-task-async/Cargo.toml",
    "crates/cloud-task-blocking/Cargo.toml",
    "crates/cloud-task-local/Cargo.toml",
    "crates/cloud-task-emulator/Cargo.toml",
    "crates/cloud-task-codegen/Cargo.toml",
    "crates/cloud-task-mcp/Cargo.toml",
    "crates/cloud-task-cli/Cargo.toml",
];

/// The dependencies (of `[dependencies]` and `[target.….dependencies]`) whose line is not
/// right under a comment, as `manifest: line`.
fn unjustified(manifest: &str, text: &str) -> Vec<String> {
    let mut missing = Vec::new();
    let mut in_dependencies = false;
    let mut previous = "";
    for line in text.lines() {
        let trimmed = line.trim();
        if trimmed.starts_with('[') {
            in_dependencies = trimmed == "[dependencies]"
                || (trimmed.starts_with("[target.") && trimmed.ends_with(".dependencies]"));
        } else if in_dependencies
            && !trimmed.is_empty()
            && !trimmed.starts_with('#')
            && !previous.starts_with('#')
        {
            missing.push(format!("{manifest}: {trimmed}"));
        }
        previous = trimmed;
    }
    missing
}

#[test]
fn every_dependency_of_a_published_crate_says_why() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let mut missing = Vec::new();
    for manifest in PUBLISHED {
        let text = std::fs::read_to_string(root.join(manifest)).unwrap();
        assert!(
            text.contains("[dependencies]"),
            "{manifest} has no dependencies?"
        );
        missing.extend(unjustified(manifest, &text));
    }
    assert!(
        missing.is_empty(),
        "dependencies without a comment line above them:\n{}",
        missing.join("\n")
    );
}

#[test]
fn the_rule_sees_a_dependency_without_a_comment() {
    let text = "[dependencies]\n# why\nhttp = \"1\"\nserde = \"1\"\n\n[target.'cfg(unix)'.dependencies]\nlibc = \"0.2\"\n[dev-dependencies]\nx = \"1\"\n";
    assert_eq!(
        unjustified("m", text),
        ["m: serde = \"1\"", "m: libc = \"0.2\""]
    );
}
