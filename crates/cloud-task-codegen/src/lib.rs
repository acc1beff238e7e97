//! Rust types for the blocks of an OOMOL package, generated from its registry description
//! (the core's [`PackageInfo`]).
//!
//! For each block: an inputs struct, one field per input handle, implementing the SDK's
//! `typed::Block` (package, exact version, block name, outputs type); an outputs struct,
//! one field per output handle; a Rust enum for each string enum, a struct for each nested
//! object a schema describes. The generated source depends only on `oomol-cloud-task` and
//! `serde` (with `derive`); it is `rustfmt`-clean and passes `clippy -D warnings`.
//!
//! ```
//! let package = cloud_task_emulator::package_info("@oomol/echo", "1.0.0").unwrap();
//! let source = cloud_task_codegen::generate(&package)?;
//! assert!(source.contains("pub struct MainInputs {"));
//! assert!(source.contains("impl oomol_cloud_task::typed::Block for MainInputs {"));
//! # Ok::<(), cloud_task_codegen::CodegenError>(())
//! ```
//!
//! Commit what it writes (`cloud-task codegen PACKAGE VERSION -o src/blocks/echo.rs`):
//! it builds offline and reviews as a diff. Its first lines name the package, the version
//! and the SHA-256 of the description it came from.
//!
//! # Checked by the compiler
//!
//! With the generated source of `@oomol/echo` (its inputs are `text`, `count`, `mode`,
//! `options`, `durationMs` and `logLines`), a run's inputs are a struct:
//!
//! ```
//! # include!(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/golden/echo.rs"));
//! # fn main() {
//! let inputs = MainInputs {
//!     text: "hi".to_owned(),
//!     count: Some(2),
//!     mode: Some(MainMode::Fast),
//!     options: None,
//!     duration_ms: None,
//!     log_lines: None,
//! };
//! # let _ = inputs;
//! # }
//! ```
//!
//! and a misspelt input (`txt`) is a compile error, not a failed task:
//!
//! ```compile_fail,E0560
//! # include!(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/golden/echo.rs"));
//! # fn main() {
//! let inputs = MainInputs {
//!     txt: "hi".to_owned(),
//!     count: Some(2),
//!     mode: Some(MainMode::Fast),
//!     options: None,
//!     duration_ms: None,
//!     log_lines: None,
//! };
//! # }
//! ```
//!
//! So is a value of the wrong type:
//!
//! ```compile_fail,E0308
//! # include!(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/golden/echo.rs"));
//! # fn main() {
//! let inputs = MainInputs {
//!     text: "hi".to_owned(),
//!     count: Some("two"),
//!     mode: None,
//!     options: None,
//!     duration_ms: None,
//!     log_lines: None,
//! };
//! # }
//! ```
//!
//! or a mode that is not one of the block's:
//!
//! ```compile_fail,E0599
//! # include!(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/golden/echo.rs"));
//! # fn main() {
//! let mode = MainMode::Quick;
//! # }
//! ```
//!
//! # The mapping
//!
//! | JSON Schema | Rust |
//! |---|---|
//! | `"type": "string"` | `String` |
//! | `"type": "integer"` / `"number"` / `"boolean"` | `i64` / `f64` / `bool` |
//! | `"enum"` of strings | an enum, each value kept by a serde rename |
//! | `"type": "array"` | `Vec<T>` of its `items` (`Vec<serde_json::Value>` without) |
//! | `"type": "object"` with `properties` | a struct (fields not in `required` are `Option`) |
//! | `"type": "object"` without | `serde_json::Map<String, serde_json::Value>` |
//! | `"type": [T, "null"]`, an `anyOf`/`oneOf` of T and `null` | `Option<T>` |
//! | anything else (`$ref`, other `anyOf`, no type, past depth 8) | `serde_json::Value` |
//!
//! An input is an `Option` (left out of the request when `None`) when it is nullable, has a
//! default value (the handle's or its schema's), or its schema admits `null`; an output
//! when it is nullable or admits `null`. OOMOL's `ui:*` hints are ignored. Docs come from
//! the descriptions (escaped, so that no description becomes a doc test or HTML).
//!
//! Names that are not Rust identifiers are mapped (`durationMs` → `duration_ms`, `type` →
//! `type_`, `2x` → `h_2x`, two handles that map to one name get `_2`) and kept by serde
//! renames. A description the mapping cannot hold (more than [`MAX_TYPES`] types, more
//! than [`MAX_FIELDS`] fields in one struct, no blocks) is refused with an error naming
//! the block and handle.

use std::collections::HashSet;
use std::fmt::Write as _;

use cloud_task_core::{BlockInfo, HandleDef, PackageInfo};
use serde_json::Value;

/// How deep nested schemas become types; deeper ones are `serde_json::Value`.
pub const MAX_DEPTH: usize = 8;
/// The most types (structs and enums) one package may generate.
pub const MAX_TYPES: usize = 2_000;
/// The most fields (handles, or properties of one object) one struct may have.
pub const MAX_FIELDS: usize = 1_000;
/// The most variants one enum may have.
pub const MAX_VARIANTS: usize = 1_000;

/// Why a description could not be turned into code.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CodegenError {
    /// The package describes no block.
    #[error("package {package} describes no block")]
    NoBlocks {
        /// The package.
        package: String,
    },
    /// A handle (or the block, when `handle` is `None`) that the mapping cannot hold.
    #[error("block {block:?}{}: {reason}", handle.as_ref().map(|h| format!(", handle {h:?}")).unwrap_or_default())]
    Refused {
        /// The block.
        block: String,
        /// The handle, when one is at fault.
        handle: Option<String>,
        /// Why.
        reason: String,
    },
}

/// The Rust source of the types of every block of `package` (see the [crate] docs).
pub fn generate(package: &PackageInfo) -> Result<String, CodegenError> {
    if package.blocks.is_empty() {
        return Err(CodegenError::NoBlocks {
            package: package.package_name.clone(),
        });
    }
    let mut out = String::new();
    let _ = writeln!(
        out,
        "// Generated by `cloud-task codegen` from {} {}. Do not edit: generate it again.",
        one_line(&package.package_name),
        one_line(&package.package_version)
    );
    let _ = writeln!(out, "// Description SHA-256: {}", description_hash(package));
    let mut names = Names::default();
    for block in &package.blocks {
        let prefix = names.type_name(&pascal(&block.block_name));
        let mut generator = Generator {
            package,
            block,
            names: &mut names,
            items: Vec::new(),
            handle: None,
        };
        generator.block(&prefix)?;
        for item in generator.items {
            out.push('\n');
            out.push_str(&item);
        }
    }
    Ok(out)
}

/// The SHA-256 (hex) of the description as JSON: what a generated file records.
pub fn description_hash(package: &PackageInfo) -> String {
    let json = serde_json::to_vec(package).unwrap_or_default();
    hmac_sha256::Hash::hash(&json)
        .iter()
        .fold(String::with_capacity(64), |mut hex, byte| {
            let _ = write!(hex, "{byte:02x}");
            hex
        })
}

/// The names used in the file (types) or in one struct or enum (fields, variants).
#[derive(Default)]
struct Names {
    used: HashSet<String>,
}

impl Names {
    /// `wanted`, or `wanted2`, `wanted3`, ... when it is taken.
    fn type_name(&mut self, wanted: &str) -> String {
        self.unique(wanted, "")
    }

    fn unique(&mut self, wanted: &str, separator: &str) -> String {
        let mut name = wanted.to_owned();
        let mut n = 1;
        while !self.used.insert(name.clone()) {
            n += 1;
            name = format!("{wanted}{separator}{n}");
        }
        name
    }
}

/// A Rust type of a schema, and whether it admits `null` itself.
struct Mapped {
    rust: String,
    nullable: bool,
}

struct Generator<'a> {
    package: &'a PackageInfo,
    block: &'a BlockInfo,
    names: &'a mut Names,
    /// The items written so far (structs, enums, the impl), each ending with a newline.
    items: Vec<String>,
    /// The handle being mapped, for errors.
    handle: Option<String>,
}

impl Generator<'_> {
    fn refuse(&self, reason: impl Into<String>) -> CodegenError {
        CodegenError::Refused {
            block: self.block.block_name.clone(),
            handle: self.handle.clone(),
            reason: reason.into(),
        }
    }

    fn block(&mut self, prefix: &str) -> Result<(), CodegenError> {
        let inputs = self.names.type_name(&format!("{prefix}Inputs"));
        let outputs = self.names.type_name(&format!("{prefix}Outputs"));
        let block = self.block;
        let mut doc = Vec::new();
        for text in [&block.title, &block.description] {
            let text = escape_doc(text);
            if !text.trim().is_empty() && !doc.contains(&text) {
                doc.push(text);
            }
        }
        doc.push(format!(
            "The inputs of block `{}` of `{}` {}.",
            code_span(&block.block_name),
            code_span(&self.package.package_name),
            escape_doc(&self.package.package_version)
        ));
        let struct_inputs = self.handles_struct(&inputs, prefix, &doc, &block.inputs, true)?;
        let doc = vec![format!(
            "The outputs of block `{}` ([`{inputs}`]).",
            code_span(&block.block_name)
        )];
        let output_prefix = format!("{prefix}Output");
        let struct_outputs =
            self.handles_struct(&outputs, &output_prefix, &doc, &block.outputs, false)?;
        self.items.insert(0, struct_outputs);
        self.items.insert(0, struct_inputs);
        let mut item = String::new();
        let _ = writeln!(item, "impl oomol_cloud_task::typed::Block for {inputs} {{");
        let _ = writeln!(
            item,
            "    const PACKAGE: &'static str = {};",
            literal(&self.package.package_name)
        );
        let _ = writeln!(
            item,
            "    const VERSION: &'static str = {};",
            literal(&self.package.package_version)
        );
        let _ = writeln!(
            item,
            "    const BLOCK: &'static str = {};",
            literal(&block.block_name)
        );
        let _ = writeln!(item, "    type Outputs = {outputs};");
        item.push_str("}\n");
        self.items.insert(2, item);
        Ok(())
    }

    /// The struct of a block's input (`inputs`) or output handles.
    fn handles_struct(
        &mut self,
        name: &str,
        prefix: &str,
        doc: &[String],
        handles: &[HandleDef],
        inputs: bool,
    ) -> Result<String, CodegenError> {
        self.handle = None;
        if handles.len() > MAX_FIELDS {
            return Err(self.refuse(format!("{} handles, more than {MAX_FIELDS}", handles.len())));
        }
        let mut fields = Names::default();
        let mut body = String::new();
        for def in handles {
            self.handle = Some(def.handle.clone());
            let hint = format!("{prefix}{}", pascal(&def.handle));
            let mapped = self.map(&def.json_schema, &hint, 0)?;
            let defaulted = def.value.is_some() || def.json_schema.get("default").is_some();
            let optional = def.nullable == Some(true) || mapped.nullable || (inputs && defaulted);
            let field = Field {
                name: fields.unique(&snake(&def.handle), "_"),
                original: &def.handle,
                doc: escape_doc(&def.description),
                rust: mapped.rust,
                optional,
                skip_none: optional && inputs,
            };
            field.write(&mut body);
        }
        self.handle = None;
        let mut item = String::new();
        write_doc(&mut item, "", doc);
        item.push_str("#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]\n");
        if body.is_empty() {
            let _ = writeln!(item, "pub struct {name} {{}}");
        } else {
            let _ = writeln!(item, "pub struct {name} {{");
            item.push_str(&body);
            item.push_str("}\n");
        }
        Ok(item)
    }

    /// The Rust type of `schema`; new types are named from `hint`.
    fn map(&mut self, schema: &Value, hint: &str, depth: usize) -> Result<Mapped, CodegenError> {
        let value = || Mapped {
            rust: "serde_json::Value".to_owned(),
            nullable: false,
        };
        let Some(object) = schema.as_object() else {
            return Ok(value());
        };
        if depth > MAX_DEPTH || object.contains_key("$ref") {
            return Ok(value());
        }
        for key in ["anyOf", "oneOf"] {
            if let Some(Value::Array(choices)) = object.get(key) {
                let (nulls, others): (Vec<&Value>, Vec<&Value>) = choices
                    .iter()
                    .partition(|c| c.get("type") == Some(&"null".into()));
                return match (nulls.len(), others.as_slice()) {
                    (1.., [one]) => {
                        let mapped = self.map(one, hint, depth + 1)?;
                        Ok(Mapped {
                            rust: mapped.rust,
                            nullable: true,
                        })
                    }
                    _ => Ok(value()),
                };
            }
        }
        if let Some(Value::Array(values)) = object.get("enum") {
            let strings: Vec<&str> = values.iter().filter_map(Value::as_str).collect();
            let null = values.iter().any(Value::is_null);
            if strings.is_empty() || strings.len() + usize::from(null) != values.len() {
                return Ok(value());
            }
            return Ok(Mapped {
                rust: self.enumeration(hint, &strings)?,
                nullable: null,
            });
        }
        let (kind, nullable) = match object.get("type") {
            Some(Value::String(kind)) => (Some(kind.as_str()), false),
            Some(Value::Array(kinds)) => {
                let null = kinds.iter().any(|k| k == "null");
                let others: Vec<&str> = kinds
                    .iter()
                    .filter_map(Value::as_str)
                    .filter(|k| *k != "null")
                    .collect();
                match others.as_slice() {
                    [one] => (Some(*one), null),
                    [] if null => return Ok(value()),
                    _ => (None, null),
                }
            }
            _ => (None, false),
        };
        let rust = match kind {
            Some("string") => "String".to_owned(),
            Some("integer") => "i64".to_owned(),
            Some("number") => "f64".to_owned(),
            Some("boolean") => "bool".to_owned(),
            Some("array") => match object.get("items") {
                Some(items) => format!("Vec<{}>", self.map(items, hint, depth + 1)?.rust),
                None => "Vec<serde_json::Value>".to_owned(),
            },
            Some("object") => match object.get("properties") {
                Some(Value::Object(properties)) if !properties.is_empty() => {
                    let required: Vec<&str> = object
                        .get("required")
                        .and_then(Value::as_array)
                        .map(|r| r.iter().filter_map(Value::as_str).collect())
                        .unwrap_or_default();
                    self.object(hint, properties, &required, depth)?
                }
                _ => "serde_json::Map<String, serde_json::Value>".to_owned(),
            },
            _ => "serde_json::Value".to_owned(),
        };
        Ok(Mapped { rust, nullable })
    }

    /// A struct of an object's properties.
    fn object(
        &mut self,
        hint: &str,
        properties: &serde_json::Map<String, Value>,
        required: &[&str],
        depth: usize,
    ) -> Result<String, CodegenError> {
        if properties.len() > MAX_FIELDS {
            return Err(self.refuse(format!(
                "an object of {} properties, more than {MAX_FIELDS}",
                properties.len()
            )));
        }
        let name = self.new_type(hint)?;
        let mut fields = Names::default();
        let mut body = String::new();
        for (property, schema) in properties {
            let mapped = self.map(schema, &format!("{name}{}", pascal(property)), depth + 1)?;
            let optional = mapped.nullable || !required.contains(&property.as_str());
            let description = schema.get("description").and_then(Value::as_str);
            let field = Field {
                name: fields.unique(&snake(property), "_"),
                original: property,
                doc: escape_doc(description.unwrap_or_default()),
                rust: mapped.rust,
                optional,
                skip_none: optional,
            };
            field.write(&mut body);
        }
        let mut item = String::new();
        let _ = writeln!(item, "/// A value of `{}`.", code_span(&self.handle_name()));
        item.push_str("#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]\n");
        let _ = writeln!(item, "pub struct {name} {{");
        item.push_str(&body);
        item.push_str("}\n");
        self.items.push(item);
        Ok(name)
    }

    /// An enum of string values.
    fn enumeration(&mut self, hint: &str, values: &[&str]) -> Result<String, CodegenError> {
        if values.len() > MAX_VARIANTS {
            return Err(self.refuse(format!(
                "an enum of {} values, more than {MAX_VARIANTS}",
                values.len()
            )));
        }
        let name = self.new_type(hint)?;
        let mut variants = Names::default();
        let mut item = String::new();
        let _ = writeln!(
            item,
            "/// The values of `{}`.",
            code_span(&self.handle_name())
        );
        item.push_str(
            "#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]\n",
        );
        // The values are the server's: they may share a prefix or a suffix.
        item.push_str("#[allow(clippy::enum_variant_names)]\n");
        let _ = writeln!(item, "pub enum {name} {{");
        let mut seen = HashSet::new();
        for value in values {
            if !seen.insert(*value) {
                continue;
            }
            let mut variant = pascal(value);
            if variant == "Self" {
                variant.push_str("Value");
            }
            let variant = variants.unique(&variant, "");
            let _ = writeln!(item, "    #[serde(rename = {})]", literal(value));
            let _ = writeln!(item, "    {variant},");
        }
        item.push_str("}\n");
        self.items.push(item);
        Ok(name)
    }

    fn new_type(&mut self, hint: &str) -> Result<String, CodegenError> {
        if self.names.used.len() >= MAX_TYPES {
            return Err(self.refuse(format!("more than {MAX_TYPES} types")));
        }
        Ok(self.names.type_name(hint))
    }

    fn handle_name(&self) -> String {
        self.handle.clone().unwrap_or_default()
    }
}

/// One field of a generated struct.
struct Field<'a> {
    /// Its Rust name.
    name: String,
    /// Its name on the wire (a serde rename when it differs).
    original: &'a str,
    /// Its doc, escaped.
    doc: String,
    /// Its type, without the `Option`.
    rust: String,
    optional: bool,
    /// Left out of the JSON when `None`.
    skip_none: bool,
}

impl Field<'_> {
    fn write(self, body: &mut String) {
        write_doc(body, "    ", &[self.doc]);
        if self.name != self.original {
            let _ = writeln!(body, "    #[serde(rename = {})]", literal(self.original));
        }
        if self.skip_none {
            body.push_str("    #[serde(skip_serializing_if = \"Option::is_none\")]\n");
        }
        let rust = if self.optional {
            format!("Option<{}>", self.rust)
        } else {
            self.rust
        };
        let _ = writeln!(body, "    pub {}: {rust},", self.name);
    }
}

/// Writes `paragraphs` (escaped already) as doc comments (empty ones left out; a blank
/// doc line between them).
fn write_doc(out: &mut String, indent: &str, paragraphs: &[String]) {
    let mut first = true;
    for text in paragraphs {
        if text.trim().is_empty() {
            continue;
        }
        if !first {
            let _ = writeln!(out, "{indent}///");
        }
        first = false;
        for line in text.lines() {
            let line = line.trim();
            if line.is_empty() {
                let _ = writeln!(out, "{indent}///");
            } else {
                let _ = writeln!(out, "{indent}/// {line}");
            }
        }
    }
}

/// Text for a doc comment: no control character (a line break stays), nothing rustdoc
/// would read as a code block, a link or HTML.
fn escape_doc(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '\n' => out.push('\n'),
            c if c.is_control() => {}
            '`' => out.push('\''),
            '[' | ']' | '<' | '>' | '*' | '_' | '#' | '\\' => {
                out.push('\\');
                out.push(c);
            }
            c => out.push(c),
        }
    }
    out
}

/// Text inside a code span of a doc comment: on one line, without a backtick or a control
/// character (markdown escapes do not work there).
fn code_span(text: &str) -> String {
    if text.is_empty() {
        return "\"\"".to_owned();
    }
    text.chars()
        .filter(|c| !c.is_control())
        .map(|c| if c == '`' { '\'' } else { c })
        .collect()
}

/// A value on one line, without control characters (for the header comments).
fn one_line(text: &str) -> String {
    text.chars().filter(|c| !c.is_control()).collect()
}

/// A Rust string literal of `text` (Rust's own escapes: control characters included).
fn literal(text: &str) -> String {
    format!("{text:?}")
}

/// The words of a name: split at every character that is not ASCII alphanumeric and
/// before an upper-case letter that follows a lower-case one or a digit.
fn words(name: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut current = String::new();
    let mut previous: Option<char> = None;
    for c in name.chars() {
        if !c.is_ascii_alphanumeric() {
            if !current.is_empty() {
                words.push(std::mem::take(&mut current));
            }
            previous = None;
            continue;
        }
        if c.is_ascii_uppercase()
            && previous.is_some_and(|p| p.is_ascii_lowercase() || p.is_ascii_digit())
            && !current.is_empty()
        {
            words.push(std::mem::take(&mut current));
        }
        current.push(c);
        previous = Some(c);
    }
    if !current.is_empty() {
        words.push(current);
    }
    words
}

/// A field name: snake case, never a keyword (`type_`), never starting with a digit.
fn snake(name: &str) -> String {
    let mut out = words(name)
        .iter()
        .map(|w| w.to_ascii_lowercase())
        .collect::<Vec<_>>()
        .join("_");
    if out.is_empty() {
        out = "field".to_owned();
    }
    if out.starts_with(|c: char| c.is_ascii_digit()) {
        out.insert_str(0, "h_");
    }
    if KEYWORDS.contains(&out.as_str()) {
        out.push('_');
    }
    out
}

/// A type name: Pascal case, never starting with a digit.
fn pascal(name: &str) -> String {
    let mut out: String = words(name)
        .iter()
        .map(|w| {
            let mut chars = w.chars();
            // `HTTP` → `Http`: clippy's `upper_case_acronyms` would refuse `HTTP`.
            let first = chars.next().map(|c| c.to_ascii_uppercase());
            first
                .into_iter()
                .chain(chars.map(|c| c.to_ascii_lowercase()))
                .collect::<String>()
        })
        .collect();
    if out.is_empty() {
        out = "Value".to_owned();
    }
    if out.starts_with(|c: char| c.is_ascii_digit()) {
        out.insert(0, 'V');
    }
    out
}

/// Rust's keywords, strict and reserved (every edition), in lower case.
const KEYWORDS: &[&str] = &[
    "as", "async", "await", "break", "const", "continue", "crate", "dyn", "else", "enum", "extern",
    "false", "fn", "for", "gen", "if", "impl", "in", "let", "loop", "match", "mod", "move", "mut",
    "pub", "ref", "return", "self", "static", "struct", "super", "trait", "true", "try", "type",
    "unsafe", "use", "where", "while", "abstract", "become", "box", "do", "final", "macro",
    "override", "priv", "typeof", "unsized", "virtual", "yield", "union",
];

#[cfg(test)]
mod tests {
    use super::{pascal, snake};

    #[test]
    fn names_map_to_identifiers() {
        assert_eq!(snake("durationMs"), "duration_ms");
        assert_eq!(snake("type"), "type_");
        assert_eq!(snake("self"), "self_");
        assert_eq!(snake("2x"), "h_2x");
        assert_eq!(snake("\u{1b}[31mred"), "31mred".replace("31", "h_31"));
        assert_eq!(snake(""), "field");
        assert_eq!(snake("HTTPServer"), "httpserver");
        assert_eq!(pascal("split-pages"), "SplitPages");
        assert_eq!(pascal("main"), "Main");
        assert_eq!(pascal("9"), "V9");
        assert_eq!(pascal("Self"), "Self");
    }
}
