//! A task's inputs from `--input KEY=VALUE` and `--inputs JSON|@FILE`.

use cloud_task_local::{MAX_INPUTS_FILE, read_bounded, read_small};

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
    let value = parse_value(raw).map_err(|why| format!("`{text}`: {why}"))?;
    Ok(InputPair {
        key: key.to_owned(),
        value,
    })
}

/// The value of `--input`: JSON when it parses as JSON (`3`, `true`, `null`, `"3"`,
/// `{"a":1}`), else the text itself. A JSON number that cannot be sent as written is
/// refused, saying why, rather than silently sent as text: one out of the range of a
/// 64-bit float (`1e400`), or an integer too large to stay exact.
pub fn parse_value(raw: &str) -> Result<Value, String> {
    let quote_it = format!("to send it as text, quote it: '\"{raw}\"'");
    match serde_json::from_str::<Value>(raw) {
        Ok(Value::Number(n)) if n.is_f64() && !raw.contains(['.', 'e', 'E']) => Err(format!(
            "{raw} is an integer too large to be sent exactly (the largest is {}); {quote_it}",
            u64::MAX
        )),
        Ok(value) => Ok(value),
        Err(_) if is_json_number(raw.trim()) => Err(format!(
            "{raw} is out of the range of a JSON number (a 64-bit float); {quote_it}"
        )),
        Err(_) => Ok(Value::String(raw.to_owned())),
    }
}

/// True when `text` is written as a JSON number: `-?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?`.
fn is_json_number(text: &str) -> bool {
    fn digits(s: &str) -> (&str, usize) {
        let n = s.bytes().take_while(u8::is_ascii_digit).count();
        (&s[n..], n)
    }
    let s = text.strip_prefix('-').unwrap_or(text);
    let (s, whole) = digits(s);
    if whole == 0 || (whole > 1 && text.trim_start_matches('-').starts_with('0')) {
        return false;
    }
    let s = match s.strip_prefix('.') {
        Some(rest) => match digits(rest) {
            (rest, n) if n > 0 => rest,
            _ => return false,
        },
        None => s,
    };
    let s = match s.strip_prefix(['e', 'E']) {
        Some(rest) => match digits(rest.strip_prefix(['+', '-']).unwrap_or(rest)) {
            (rest, n) if n > 0 => rest,
            _ => return false,
        },
        None => s,
    };
    s.is_empty()
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

/// Reads a regular file, or stdin for `-`, of at most [`MAX_INPUTS_FILE`] bytes.
fn read_source(path: &str) -> std::io::Result<String> {
    let bytes = if path == "-" {
        read_bounded(std::io::stdin().lock(), MAX_INPUTS_FILE, "it")?
    } else {
        read_small(
            std::path::Path::new(path),
            MAX_INPUTS_FILE,
            "an inputs file",
        )?
    };
    String::from_utf8(bytes)
        .map_err(|_| std::io::Error::new(std::io::ErrorKind::InvalidData, "it is not UTF-8 text"))
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
            ("e=1e300", json!(1e300)),
            ("v=1.2.3", json!("1.2.3")),
            ("n=-", json!("-")),
            (
                r#"big="123456789012345678901234567890""#,
                json!("123456789012345678901234567890"),
            ),
        ] {
            assert_eq!(pair(text).value, expected, "{text}");
        }
        assert_eq!(pair(" k =1").key, "k");
    }

    #[test]
    fn numbers_that_cannot_be_sent_as_written_are_refused_saying_why() {
        let error = parse_input("f=1e400").unwrap_err();
        assert_eq!(
            error,
            r#"`f=1e400`: 1e400 is out of the range of a JSON number (a 64-bit float); to send it as text, quote it: '"1e400"'"#
        );
        let error = parse_input("n=-2E+999").unwrap_err();
        assert!(error.contains("out of the range"), "{error}");
        let error = parse_input("big=123456789012345678901234567890").unwrap_err();
        assert!(
            error.contains("integer too large to be sent exactly"),
            "{error}"
        );
        for text in ["1", "-0.5", "0", "1e5", "2E-3", "-12.5e+7"] {
            assert!(is_json_number(text), "{text}");
        }
        for text in ["007", "1.", ".5", "1e", "--1", "1e+", "0x10", "1_000", ""] {
            assert!(!is_json_number(text), "{text}");
        }
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
