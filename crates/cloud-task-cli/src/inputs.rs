//! A task's inputs from `--input KEY=VALUE` and `--inputs JSON|@FILE`.

use std::io::Read;

use serde_json::{Map, Value};

use crate::failure::Failure;

/// One `--input KEY=VALUE`.
#[derive(Debug, Clone, PartialEq)]
pub struct InputPair {
    /// The input's name.
    pub key: String,
    /// Its value: JSON when the text was JSON, else the text as a string.
    pub value: Value,
}

/// Parses `KEY=VALUE` (clap's value parser of `--input`).
pub fn parse_input(text: &str) -> Result<InputPair, String> {
    let (key, raw) = text
        .split_once('=')
        .ok_or_else(|| format!("`{text}` is not KEY=VALUE"))?;
    let key = key.trim();
    if key.is_empty() {
        return Err(format!("`{text}` has an empty key"));
    }
    Ok(InputPair {
        key: key.to_owned(),
        value: parse_value(raw),
    })
}

/// The value of `--input`: JSON when it parses as JSON (`3`, `true`, `null`, `"3"`,
/// `{"a":1}`), else the text itself. An integer too large for 64 bits stays text rather
/// than becoming an inexact float.
pub fn parse_value(raw: &str) -> Value {
    match serde_json::from_str::<Value>(raw) {
        Ok(Value::Number(n)) if n.is_f64() && !raw.contains(['.', 'e', 'E']) => {
            Value::String(raw.to_owned())
        }
        Ok(value) => value,
        Err(_) => Value::String(raw.to_owned()),
    }
}

/// The input values of a task: the `--inputs` object (read from its file when it starts
/// with `@`, from stdin for `@-`), then each `--input` on top (an `--input` wins over the
/// same key of `--inputs`; a later `--input` over an earlier one). `None` when neither
/// was given.
pub fn input_values(
    inputs: Option<&str>,
    pairs: &[InputPair],
) -> Result<Option<Map<String, Value>>, Failure> {
    let mut values = match inputs {
        None => None,
        Some(arg) => Some(match arg.strip_prefix('@') {
            Some(path) => {
                let source = if path == "-" {
                    "stdin".to_owned()
                } else {
                    path.to_owned()
                };
                let text = read_source(path).map_err(|e| {
                    Failure::usage(format!("--inputs @{path}: cannot read {source}: {e}"))
                })?;
                parse_object(&text).map_err(|e| Failure::usage(format!("--inputs @{path}: {e}")))?
            }
            None => parse_object(arg).map_err(|e| Failure::usage(format!("--inputs: {e}")))?,
        }),
    };
    for pair in pairs {
        values
            .get_or_insert_with(Map::new)
            .insert(pair.key.clone(), pair.value.clone());
    }
    Ok(values)
}

/// Reads a file, or stdin for `-`.
fn read_source(path: &str) -> std::io::Result<String> {
    if path == "-" {
        let mut text = String::new();
        std::io::stdin().read_to_string(&mut text)?;
        Ok(text)
    } else {
        std::fs::read_to_string(path)
    }
}

/// Parses a JSON object, saying what is wrong otherwise.
fn parse_object(text: &str) -> Result<Map<String, Value>, String> {
    match serde_json::from_str::<Value>(text) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(other) => Err(format!(
            "expected a JSON object of inputs, got {}",
            kind(&other)
        )),
        Err(e) => Err(format!("not valid JSON: {e}")),
    }
}

/// What kind of JSON value this is, for messages.
fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pair(text: &str) -> InputPair {
        parse_input(text).unwrap()
    }

    #[test]
    fn values_are_json_when_they_can_be() {
        for (text, expected) in [
            ("n=3", json!(3)),
            ("x=-1.5", json!(-1.5)),
            ("flag=true", json!(true)),
            ("nothing=null", Value::Null),
            (r#"o={"a":1}"#, json!({"a": 1})),
            ("l=[1,\"b\"]", json!([1, "b"])),
            (r#"s="3""#, json!("3")),
            ("s=hello world", json!("hello world")),
            ("s=", json!("")),
            ("s=007", json!("007")),
            ("s={oops", json!("{oops")),
            ("url=https://x/y?a=b", json!("https://x/y?a=b")),
            (
                "big=123456789012345678901234567890",
                json!("123456789012345678901234567890"),
            ),
        ] {
            assert_eq!(pair(text).value, expected, "{text}");
        }
        assert_eq!(pair(" k =1").key, "k");
    }

    #[test]
    fn a_pair_needs_a_key_and_an_equals_sign() {
        assert!(
            parse_input("novalue")
                .unwrap_err()
                .contains("not KEY=VALUE")
        );
        assert!(parse_input("=3").unwrap_err().contains("empty key"));
    }

    #[test]
    fn input_wins_over_inputs_and_later_over_earlier() {
        let values = input_values(
            Some(r#"{"a": 1, "b": 2}"#),
            &[pair("b=20"), pair("c=x"), pair("c=y")],
        )
        .unwrap()
        .unwrap();
        assert_eq!(Value::Object(values), json!({"a": 1, "b": 20, "c": "y"}));
        assert_eq!(input_values(None, &[]).unwrap(), None);
        assert_eq!(
            input_values(Some("{}"), &[]).unwrap(),
            Some(Map::new()),
            "an empty object is sent as given"
        );
    }

    #[test]
    fn inputs_are_read_from_a_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("in.json");
        std::fs::write(&path, r#"{"text": "from file"}"#).unwrap();
        let arg = format!("@{}", path.display());
        let values = input_values(Some(&arg), &[]).unwrap().unwrap();
        assert_eq!(values["text"], "from file");
    }

    #[test]
    fn bad_inputs_are_usage_errors_naming_the_problem() {
        for (arg, expected) in [
            (
                "{not json",
                "--inputs: not valid JSON: key must be a string at line 1 column 2",
            ),
            (
                "[1, 2]",
                "--inputs: expected a JSON object of inputs, got an array",
            ),
            (
                "\"text\"",
                "--inputs: expected a JSON object of inputs, got a string",
            ),
            (
                "@/nonexistent/in.json",
                "--inputs @/nonexistent/in.json: cannot read /nonexistent/in.json",
            ),
        ] {
            let failure = input_values(Some(arg), &[]).unwrap_err();
            assert_eq!(failure.exit(), crate::failure::Exit::Usage);
            assert!(
                failure.message().starts_with(expected),
                "{arg}: {}",
                failure.message()
            );
        }
    }
}
