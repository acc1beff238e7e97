//! The core is layered: models <- operations <- machines, with no import cycle. Every
//! `crate::` path in its sources must point at a module of the same layer or one below;
//! within a layer, the references must not form a cycle. A new module must be given a
//! layer here.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The layers, bottom first. A module may use the modules of its own layer (without a
/// cycle) and of the layers below.
const LAYERS: &[&[&str]] = &[
    // Leaves: cancellation, time stamps, the retry policy.
    &["cancel", "timestamp", "retry"],
    // The one error type (with the error of inputs that do not fit).
    &["error"],
    // The wire models and the HTTP seam.
    &["models", "seam"],
    // Hooks on every request (they see the seam's requests and answers).
    &["intercept"],
    // The options of a wait, then the configuration that carries a client's defaults.
    &["wait"],
    &["config"],
    // Building requests and reading answers (and showing one unsent), then one type per
    // operation.
    &["wire", "dry_run"],
    &["ops"],
    // One request and its redirects; the input checks against a block's description.
    &["exchange", "inputs"],
    // The machines.
    &[
        "poll", "paginate", "download", "upload", "outcome", "login", "typed",
    ],
    &["poll_set", "follow"],
    &["batch"],
    // The one trait every machine implements.
    &["machine"],
    // What the drivers' engines put in their spans (about machines and their requests).
    &["trace"],
];

fn layer_of(module: &str) -> Option<usize> {
    LAYERS.iter().position(|layer| layer.contains(&module))
}

/// Every `.rs` file under `dir`.
fn sources(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("the core's sources are readable") {
        let path = entry.expect("a directory entry").path();
        if path.is_dir() {
            sources(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The top-level module a source file belongs to (`None` for the crate root).
fn module_of(src: &Path, file: &Path) -> Option<String> {
    let relative = file.strip_prefix(src).expect("under src");
    let first = relative.components().next()?.as_os_str().to_str()?;
    let name = first.strip_suffix(".rs").unwrap_or(first);
    (name != "lib").then(|| name.to_owned())
}

/// The code of a source, its comments left out (line by line, so line numbers hold).
fn code_of(text: &str) -> String {
    text.lines()
        .map(|line| line.split("//").next().unwrap_or_default())
        .collect::<Vec<_>>()
        .join("\n")
}

/// The top-level modules that `code` names with `crate::`, each with its line number (a
/// `crate::{a, b::{c, d}}` group, over several lines or not, names each of its members).
fn referenced(code: &str) -> Vec<(usize, String)> {
    let mut found = Vec::new();
    let mut at = 0;
    while let Some(offset) = code[at..].find("crate::") {
        let start = at + offset + "crate::".len();
        let line = code[..start].matches('\n').count() + 1;
        let after = &code[start..];
        if after.starts_with('{') {
            // The members of the group at its first level of braces.
            let mut depth = 0;
            let mut member = String::new();
            let mut members = Vec::new();
            for c in after.chars() {
                match c {
                    '{' => {
                        depth += 1;
                        if depth > 1 {
                            member.push(c);
                        }
                    }
                    '}' => {
                        depth -= 1;
                        if depth == 0 {
                            members.push(std::mem::take(&mut member));
                            break;
                        }
                        member.push(c);
                    }
                    ',' if depth == 1 => members.push(std::mem::take(&mut member)),
                    _ => member.push(c),
                }
            }
            for member in members {
                found.push((line, first_segment(member.trim())));
            }
        } else {
            found.push((line, first_segment(after)));
        }
        at = start;
    }
    found.retain(|(_, name)| !name.is_empty());
    found
}

fn first_segment(path: &str) -> String {
    path.chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
        .collect()
}

/// True when `name` is an item of the crate root (a re-export, the seam's aliases, a
/// macro), not a module.
fn is_root_item(name: &str) -> bool {
    name.starts_with(|c: char| c.is_ascii_uppercase()) || name.starts_with("__") || name == "http"
}

#[test]
fn no_module_uses_a_layer_above_its_own_and_there_is_no_cycle() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    sources(&src, &mut files);
    assert!(files.len() > 20, "the sources were not found: {files:?}");

    let mut edges: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut upward = Vec::new();
    for file in &files {
        let Some(module) = module_of(&src, file) else {
            continue;
        };
        let Some(own) = layer_of(&module) else {
            panic!("module `{module}` has no layer: add it to LAYERS in tests/core/layers.rs");
        };
        let text = std::fs::read_to_string(file).expect("a source file");
        for (line, target) in referenced(&code_of(&text)) {
            if target == module || is_root_item(&target) {
                continue;
            }
            let theirs = layer_of(&target).unwrap_or_else(|| {
                panic!(
                    "{}:{line}: `crate::{target}` names no layered module",
                    file.display()
                )
            });
            if theirs > own {
                upward.push(format!(
                    "{}:{line}: `{module}` (layer {own}) uses `{target}` (layer {theirs})",
                    file.strip_prefix(&src).unwrap().display(),
                ));
            }
            edges.entry(module.clone()).or_default().insert(target);
        }
    }
    assert!(
        upward.is_empty(),
        "uses of a layer above:\n{}",
        upward.join("\n")
    );

    // No cycle (within a layer, where the rule above allows references both ways).
    let modules: BTreeSet<&String> = edges.keys().collect();
    let mut state: BTreeMap<&str, u8> = BTreeMap::new(); // 1: on the path, 2: done
    fn visit<'a>(
        module: &'a str,
        edges: &'a BTreeMap<String, BTreeSet<String>>,
        state: &mut BTreeMap<&'a str, u8>,
        path: &mut Vec<&'a str>,
    ) {
        match state.get(module) {
            Some(2) => return,
            Some(1) => panic!("an import cycle: {} -> {module}", path.join(" -> ")),
            _ => {}
        }
        state.insert(module, 1);
        path.push(module);
        for next in edges.get(module).into_iter().flatten() {
            visit(next, edges, state, path);
        }
        path.pop();
        state.insert(module, 2);
    }
    for module in modules {
        visit(module, &edges, &mut state, &mut Vec::new());
    }
}

#[test]
fn the_rule_reads_grouped_paths_and_skips_comments() {
    let names = |text: &str| -> Vec<String> {
        referenced(&code_of(text))
            .into_iter()
            .map(|(_, n)| n)
            .collect()
    };
    assert_eq!(
        names("use crate::{\n    config::Config,\n    error::{Error, Result},\n};"),
        ["config", "error"]
    );
    assert_eq!(names("use crate::wire; // crate::batch"), ["wire"]);
    assert!(names("/// see [`crate::ops`]").is_empty());
    assert_eq!(referenced(&code_of("\n\nx = crate::ops::A;"))[0].0, 3);
    assert!(layer_of("machine") > layer_of("batch"));
    assert!(layer_of("ops") > layer_of("models"));
}
