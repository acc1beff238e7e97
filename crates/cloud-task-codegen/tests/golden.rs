//! Golden tests: the source generated for each package of the emulator's catalogue, and
//! for a hostile description, is the one committed under `tests/golden/`, so that a change
//! in generation shows as a diff. `UPDATE_GOLDEN=1 cargo test -p cloud-task-codegen --test
//! golden` writes them again. Each is `rustfmt`-clean (checked when `rustfmt` is on the
//! PATH); `tests/typed.rs` compiles them (under `clippy -D warnings` in CI) and runs them.

use std::path::PathBuf;
use std::process::Command;

use cloud_task_codegen::{CodegenError, MAX_FIELDS, generate};
use cloud_task_core::PackageInfo;
use cloud_task_emulator::{ECHO, FAIL, FILE, QUOTA, SLOW, package_info};
use serde_json::json;

fn golden(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/golden")
        .join(format!("{name}.rs"))
}

/// Compares `source` with the committed `name.rs` (or writes it, with `UPDATE_GOLDEN`).
fn check(name: &str, source: &str) {
    let path = golden(name);
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::write(&path, source).unwrap();
    }
    let committed = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e} (UPDATE_GOLDEN=1 writes it)", path.display()));
    if committed != source {
        let at = committed
            .lines()
            .zip(source.lines())
            .position(|(a, b)| a != b)
            .unwrap_or_else(|| committed.lines().count().min(source.lines().count()));
        panic!(
            "{} differs from what is generated now, from line {}:\n  committed: {:?}\n  generated: {:?}\n(UPDATE_GOLDEN=1 writes it again; review the diff)",
            path.display(),
            at + 1,
            committed.lines().nth(at),
            source.lines().nth(at),
        );
    }
    match Command::new("rustfmt")
        .args(["--edition", "2024", "--check"])
        .arg(&path)
        .output()
    {
        Ok(out) => assert!(
            out.status.success(),
            "{} is not rustfmt-clean:\n{}",
            path.display(),
            String::from_utf8_lossy(&out.stdout)
        ),
        Err(_) => eprintln!("rustfmt is not on the PATH: formatting not checked"),
    }
}

#[test]
fn the_catalogues_packages_generate_their_committed_source() {
    for (name, package) in [
        ("echo", ECHO),
        ("fail", FAIL),
        ("quota", QUOTA),
        ("slow", SLOW),
        ("file", FILE),
    ] {
        let info = package_info(package, "1.0.0").unwrap();
        check(name, &generate(&info).unwrap());
    }
}

/// A description written to break a generator: names that are keywords, that are not
/// identifiers, that collide once mapped, that hold terminal escapes and quotes; a `$ref`,
/// a recursive-looking schema, deep nesting, an enum with awkward values, docs that would
/// be code blocks, links or HTML, and two blocks whose names collide.
fn hostile() -> PackageInfo {
    let mut deep = json!({"type": "string"});
    for level in 0..12 {
        deep = json!({"type": "object", "properties": {format!("level{level}"): deep}, "required": [format!("level{level}")]});
    }
    serde_json::from_value(json!({
        "packageName": "@evil/\u{1b}[31mpkg\"",
        "packageVersion": "1.0.0",
        "blocks": [
            {
                "blockName": "split-pages",
                "description": "Splits.\n    indented() // would be a doc test\n```rust\npanic!()\n```\n<script>[link]</script>",
                "inputHandleDefs": [
                    {"handle": "type", "json_schema": {"type": "string"}},
                    {"handle": "self", "json_schema": {"type": "integer"}},
                    {"handle": "fooBar", "json_schema": {"type": "boolean"}},
                    {"handle": "foo_bar", "json_schema": {"type": "boolean"}},
                    {"handle": "2x", "json_schema": {"type": "number"}},
                    {"handle": "", "json_schema": {}},
                    {"handle": "\u{1b}[2Jclear\"quote\\", "description": "Escapes \u{1b}[31m in docs", "json_schema": {"type": ["string", "null"]}},
                    {"handle": "ref", "json_schema": {"$ref": "#/definitions/node"}},
                    {"handle": "tree", "json_schema": {"type": "object", "properties": {"children": {"type": "array", "items": {"$ref": "#"}}}}},
                    {"handle": "deep", "json_schema": deep},
                    {"handle": "choice", "json_schema": {"enum": ["a-b", "A_B", "", "self", "Self", "9", "a-b", null]}},
                    {"handle": "mixed", "json_schema": {"enum": ["a", 1]}},
                    {"handle": "maybe", "json_schema": {"anyOf": [{"type": "integer"}, {"type": "null"}]}},
                    {"handle": "either", "json_schema": {"oneOf": [{"type": "integer"}, {"type": "string"}]}},
                    {"handle": "list", "json_schema": {"type": "array"}},
                    {"handle": "map", "json_schema": {"type": "object"}},
                    {"handle": "withDefault", "json_schema": {"type": "string", "default": "x"}},
                    {"handle": "nullable", "nullable": true, "json_schema": {"type": "string", "ui:widget": "text"}}
                ],
                "outputHandleDefs": [
                    {"handle": "type", "json_schema": {"type": "string"}},
                    {"handle": "choice", "json_schema": {"enum": ["x", "y"]}}
                ]
            },
            {"blockName": "split_pages", "inputHandleDefs": [], "outputHandleDefs": []},
            {"blockName": "", "inputHandleDefs": [], "outputHandleDefs": []}
        ]
    }))
    .unwrap()
}

#[test]
fn a_hostile_description_generates_code_that_compiles() {
    // Compiled by tests/typed.rs.
    check("hostile", &generate(&hostile()).unwrap());
}

#[test]
fn what_the_mapping_cannot_hold_is_refused_naming_the_block_and_handle() {
    let properties: serde_json::Map<String, serde_json::Value> = (0..=MAX_FIELDS)
        .map(|n| (format!("p{n}"), json!({"type": "string"})))
        .collect();
    let huge: PackageInfo = serde_json::from_value(json!({
        "packageName": "@evil/huge",
        "packageVersion": "1.0.0",
        "blocks": [{"blockName": "main", "inputHandleDefs": [
            {"handle": "wide\u{1b}", "json_schema": {"type": "object", "properties": properties}}
        ]}]
    }))
    .unwrap();
    let error = generate(&huge).unwrap_err();
    assert!(
        matches!(&error, CodegenError::Refused { block, handle: Some(handle), .. }
            if block == "main" && handle == "wide\u{1b}"),
        "{error:?}"
    );
    // Shown escaped.
    assert!(error.to_string().contains("\"wide\\u{1b}\""), "{error}");

    let empty: PackageInfo = serde_json::from_value(json!({
        "packageName": "@evil/empty", "packageVersion": "1.0.0", "blocks": []
    }))
    .unwrap();
    assert_eq!(
        generate(&empty).unwrap_err().to_string(),
        "package @evil/empty describes no block"
    );
}

#[test]
fn the_header_records_the_version_and_the_descriptions_hash() {
    let info = package_info(ECHO, "1.0.0").unwrap();
    let source = generate(&info).unwrap();
    let hash = cloud_task_codegen::description_hash(&info);
    assert_eq!(hash.len(), 64);
    assert!(source.starts_with(&format!(
        "// Generated by `cloud-task codegen` from @oomol/echo 1.0.0. Do not edit: generate it again.\n// Description SHA-256: {hash}\n"
    )));
    // Another description, another hash.
    let mut changed = info.clone();
    changed.blocks[0].inputs[0].description.push('!');
    assert_ne!(cloud_task_codegen::description_hash(&changed), hash);
}
