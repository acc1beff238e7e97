//! The fuzz targets (`fuzz/`, run by hand with cargo-fuzz) as property tests that run in
//! CI: the same bodies from `cloud_task_qa::targets`, fed by proptest with raw bytes and
//! with inputs shaped like the service's answers (JSON with the fields the parsers read,
//! whole or cut short), so the checks reach past the first brace.

use cloud_task_qa::targets;
use proptest::prelude::*;
use serde_json::{Map, Value, json};

/// The field names the core's parsers read.
const KEYS: [&str; 24] = [
    "taskID",
    "status",
    "progress",
    "resultURL",
    "resultData",
    "error",
    "message",
    "tasks",
    "nextToken",
    "data",
    "upload_id",
    "part_size",
    "total_parts",
    "presigned_urls",
    "url",
    "limits",
    "count",
    "pause",
    "logs",
    "pauseType",
    "taskType",
    "workloadID",
    "createdAt",
    "code",
];

/// Status words, known and unknown.
const STATUSES: [&str; 8] = [
    "queued",
    "scheduling",
    "scheduled",
    "running",
    "success",
    "failed",
    "paused",
    "",
];

fn leaf() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        (0u64..100).prop_map(Value::from),
        any::<f64>()
            .prop_map(|f| serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)),
        prop::sample::select(&STATUSES[..]).prop_map(Value::from),
        "\\PC{0,12}".prop_map(Value::from),
        Just(Value::from("http://store.test/p/1")),
    ]
}

/// JSON values whose objects use the parsers' field names.
fn json() -> impl Strategy<Value = Value> {
    leaf().prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::vec(
                (
                    prop_oneof![
                        prop::sample::select(&KEYS[..]).prop_map(str::to_owned),
                        "[0-9]{1,2}",
                    ],
                    inner
                ),
                0..8
            )
            .prop_map(|fields| Value::Object(fields.into_iter().collect::<Map<_, _>>())),
        ]
    })
}

/// A JSON body, whole or cut at some point.
fn body() -> impl Strategy<Value = Vec<u8>> {
    (json(), any::<prop::sample::Index>(), any::<bool>()).prop_map(|(value, cut, whole)| {
        let bytes = serde_json::to_vec(&value).unwrap_or_default();
        if whole || bytes.is_empty() {
            bytes
        } else {
            bytes[..cut.index(bytes.len())].to_vec()
        }
    })
}

/// A result-poll answer's body: mostly shaped like the real ones.
fn result_body() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        (
            prop::sample::select(&STATUSES[..]),
            any::<Option<f64>>(),
            proptest::option::of(json())
        )
            .prop_map(|(status, progress, data)| {
                let mut object = Map::new();
                object.insert("status".into(), status.into());
                if let Some(p) = progress.and_then(serde_json::Number::from_f64) {
                    object.insert("progress".into(), Value::Number(p));
                }
                if let Some(data) = data {
                    object.insert("resultData".into(), data);
                }
                serde_json::to_vec(&Value::Object(object)).unwrap_or_default()
            }),
        body(),
    ]
}

/// The input layout of [`targets::poller`]: settings, then for each answer a flag (0 mod 8
/// is a transport error), a status byte, a length and the body.
fn poller_input() -> impl Strategy<Value = Vec<u8>> {
    (
        any::<[u8; 3]>(),
        prop::collection::vec((any::<u8>(), any::<u8>(), result_body()), 0..12),
    )
        .prop_map(|(settings, answers)| {
            let mut data = settings.to_vec();
            for (flag, status, mut body) in answers {
                body.truncate(255);
                data.push(flag);
                data.push(status % 12);
                data.push(body.len() as u8);
                data.extend(body);
            }
            data
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn responses_from_raw_bytes(data in prop::collection::vec(any::<u8>(), 0..300)) {
        targets::responses(&data);
    }

    #[test]
    fn responses_shaped_like_the_service(which in any::<u8>(), status in 0u8..12, body in body()) {
        let mut data = vec![which, status];
        data.extend(body);
        targets::responses(&data);
    }

    #[test]
    fn poller_from_raw_bytes(data in prop::collection::vec(any::<u8>(), 0..300)) {
        targets::poller(&data);
    }

    #[test]
    fn poller_fed_result_answers(data in poller_input()) {
        targets::poller(&data);
    }

    #[test]
    fn upload_plan_from_raw_bytes(data in prop::collection::vec(any::<u8>(), 0..200)) {
        targets::upload_plan(&data);
    }

    #[test]
    fn upload_plan_from_init_answers(size in any::<[u8; 10]>(), status in 0u8..12, body in body()) {
        // Mode 1 (odd): the rest of the input is the `init` answer's status and body.
        let mut data = vec![1];
        data.extend(size);
        data.push(status);
        data.extend(body);
        targets::upload_plan(&data);
    }

    #[test]
    fn codegen_from_raw_bytes(data in prop::collection::vec(any::<u8>(), 0..300)) {
        targets::codegen(&data);
    }

    #[test]
    fn codegen_of_hostile_names_and_schemas(
        handles in prop::collection::vec((0usize..10, 0usize..9), 0..12),
        block in 0usize..10,
    ) {
        let names = ["type", "self", "Self", "2x", "", "a {", "\u{1b}[31m", "fooBar", "foo_bar", "é"];
        let schemas = [
            json!({"type": "string"}), json!({"type": ["integer", "null"]}),
            json!({"enum": ["a", "A", "", "self", "Self"]}), json!({"$ref": "#"}),
            json!({"type": "array", "items": {"type": "object", "properties": {"x": {"type": "number"}}}}),
            json!({"anyOf": [{"type": "boolean"}, {"type": "null"}]}),
            json!({"type": "object", "properties": {"type": {"enum": ["x"]}, "self": {}}}),
            json!({"type": "object"}), json!(true),
        ];
        let defs: Vec<_> = handles.iter().map(|(n, s)| json!({
            "handle": names[*n], "description": names[*n], "json_schema": schemas[*s],
        })).collect();
        let description = json!({"packageName": names[block], "packageVersion": "1.0.0",
            "blocks": [{"blockName": names[block], "inputHandleDefs": defs, "outputHandleDefs": defs},
                       {"blockName": names[(block + 1) % names.len()]}]});
        prop_assert!(targets::codegen(description.to_string().as_bytes()));
    }

    #[test]
    fn outputs_from_raw_bytes(data in prop::collection::vec(any::<u8>(), 0..200)) {
        targets::outputs(&data);
    }

    #[test]
    fn outputs_shaped_like_results(
        fields in prop::collection::vec((0usize..6, 0usize..9), 0..6),
        shape in 0usize..4,
    ) {
        // Output objects with the handles right, wrong, missing or unknown, in each shape a
        // server sends (the single object of a list, the keyed object, another list, null).
        let names = ["text", "count", "modes", "nested", "other", "a\u{1b}[31m"];
        let values = [
            json!("hi"), json!(3), json!(-1.5), json!(["fast", "slow"]), json!(["FAST"]),
            json!({"a-b": 1.0, "list": [null, "x"]}), json!({"a_b": 1}), json!(null), json!([[]]),
        ];
        let object: serde_json::Map<_, _> =
            fields.iter().map(|(n, v)| (names[*n].to_owned(), values[*v].clone())).collect();
        let data = match shape {
            0 => json!([object]),
            1 => json!(object),
            2 => json!([object, object]),
            _ => json!(null),
        };
        let ok = targets::outputs(data.to_string().as_bytes());
        // A well-formed object with a text decodes.
        if shape < 2 && fields.len() == 1 && fields[0] == (0, 0) {
            prop_assert!(ok);
        }
    }

    #[test]
    fn package_info_from_raw_bytes(data in prop::collection::vec(any::<u8>(), 0..300)) {
        targets::package_info(&data);
    }

    #[test]
    fn package_info_shaped_like_the_registry(
        kinds in prop::collection::vec(0usize..6, 0..6),
        given in prop::collection::vec((0usize..8, 0usize..6), 0..8),
    ) {
        let types = ["string", "integer", "number", "boolean", "array", "object"];
        let values = [json!("x"), json!(1), json!(1.5), json!(true), json!([1]), json!({"a": 1})];
        let defs: Vec<_> = kinds.iter().enumerate().map(|(i, k)| json!({
            "handle": format!("h{i}"), "json_schema": {"type": types[*k]},
        })).collect();
        let description = json!({"packageName": "p", "packageVersion": "1.0.0",
            "blocks": [{"blockName": "main", "inputHandleDefs": defs}]}).to_string();
        let inputs: Map<String, Value> = given
            .iter()
            .map(|(h, v)| (format!("h{h}"), values[*v].clone()))
            .collect();
        prop_assume!(description.len() <= 255 * 4);
        let mut data = vec![description.len().div_ceil(4) as u8];
        data.extend(description.as_bytes());
        data.extend(std::iter::repeat_n(b' ', description.len().div_ceil(4) * 4 - description.len()));
        data.extend(Value::Object(inputs).to_string().as_bytes());
        prop_assert!(targets::package_info(&data));
    }

    #[test]
    fn retry_after_header_from_raw_bytes(data in prop::collection::vec(any::<u8>(), 0..100)) {
        targets::retry_after_header(&data);
    }

    #[test]
    fn retry_after_header_values(value in "[0-9 .eE+-]{0,12}|\\PC{0,12}", status in 0u8..12, body in body()) {
        let value = &value.as_bytes()[..value.len().min(31)];
        let mut data = vec![value.len() as u8];
        data.extend(value);
        data.push(status);
        data.extend(body);
        targets::retry_after_header(&data);
    }
}

proptest! {
    // Each case drives a whole batch (twice), a download or a follower: fewer cases.
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn batch_journal_crashed_anywhere_and_resumed(data in prop::collection::vec(any::<u8>(), 0..400)) {
        let mut data = data;
        if let Some(mode) = data.first_mut() {
            *mode &= 0x7f;
        }
        targets::batch_journal(&data);
    }

    #[test]
    fn batch_journal_from_raw_bytes(data in prop::collection::vec(any::<u8>(), 0..400)) {
        let mut data = data;
        if let Some(mode) = data.first_mut() {
            *mode |= 0x80;
        }
        targets::batch_journal(&data);
    }

    #[test]
    fn batch_journal_from_journal_like_lines(
        n in 1u8..7,
        lines in prop::collection::vec((0usize..5, 0u64..8, "[a-z0-9-]{0,6}"), 0..12),
        torn in 0usize..40,
    ) {
        // Records as a batch writes them, of the inputs the target resumes (some of
        // other inputs, or past them): the replay and the resume's deep paths.
        let identity = |i: u64| {
            cloud_task_core::input_identity(
                &cloud_task_core::CreateTaskRequest::new("@oomol/echo", "1.0.0", "main").input("i", i),
            )
        };
        let mut text = format!("{}\n", json!({"t": "batch", "v": 1, "inputs": n, "at": 1}));
        for (kind, i, task) in &lines {
            let input = if *i == 7 { "another".to_owned() } else { identity(*i) };
            let record = match kind {
                0 => json!({"t": "sending", "i": i, "input": input, "at": 1}),
                1 => json!({"t": "created", "i": i, "input": input, "task": task}),
                2 => json!({"t": "not_created", "i": i, "input": input, "error": "refused"}),
                3 => json!({"t": "unknown", "i": i, "input": input, "error": "reset"}),
                _ => json!({"t": "done", "i": i, "input": input, "task": task, "status": "success"}),
            };
            text.push_str(&format!("{record}\n"));
        }
        let cut = text.len() - torn.min(text.len());
        // Mode: raw journal; the input count; the options byte; then the journal.
        let mut data = vec![0x80, n - 1, 0];
        data.extend_from_slice(&text.as_bytes()[..cut]);
        targets::batch_journal(&data);
    }

    #[test]
    fn download_against_a_misbehaving_host(data in prop::collection::vec(any::<u8>(), 0..300)) {
        targets::download(&data);
    }

    #[test]
    fn download_streamed_in_pieces_some_cut(mut data in prop::collection::vec(any::<u8>(), 6..300)) {
        // With ETags (byte 2 not a multiple of 4), the record's length byte is byte 5: its
        // high bit streams every answer, in pieces sized by byte 4.
        data[2] |= 1;
        data[5] |= 0x80;
        targets::download(&data);
    }

    #[test]
    fn download_part_records(url in prop::sample::select(vec![
        "https://files.example/r/1/out.bin", "https://files.example/r/2/out.bin", "",
    ]), validator in "\\PC{0,6}", total in prop::option::of(0u64..5000), held in any::<u8>()) {
        let record = json!({"url": url, "validator": validator, "total": total}).to_string();
        prop_assume!(record.len() < 128);
        // Versions of 0 bytes, no ETags (no resume), one try; then the record and its held length.
        let mut data = vec![0, 0, 0, 0, record.len() as u8];
        data.extend(record.as_bytes());
        data.push(held);
        targets::download(&data);
    }

    #[test]
    fn follower_against_a_task_server(data in prop::collection::vec(any::<u8>(), 0..400)) {
        targets::follower(&data);
    }

    #[test]
    fn login_from_raw_bytes(data in prop::collection::vec(any::<u8>(), 0..200)) {
        targets::login(&data);
    }

    #[test]
    fn credentials_from_raw_bytes(data in prop::collection::vec(any::<u8>(), 0..200)) {
        targets::credentials(&data);
    }

    #[test]
    fn credentials_from_profiles(
        key in "[ -~]{0,20}",
        endpoint in "[a-z.:/0-9]{0,20}",
        format in prop::sample::select(vec!["oomol-cloud-task-credentials/1", "other"]),
    ) {
        let text = serde_json::json!({"format": format, "api_key": key, "endpoint": endpoint,
            "id": "u", "name": "n"}).to_string();
        targets::credentials(text.as_bytes());
    }

    #[test]
    fn log_event_from_raw_bytes(data in prop::collection::vec(any::<u8>(), 0..200)) {
        targets::log_event(&data);
    }

    #[test]
    fn log_event_from_entries(entry in json()) {
        targets::log_event(entry.to_string().as_bytes());
    }
}

/// The targets reach their deep paths: a valid init answer is planned and checked part by
/// part, a valid answer of each operation is accepted, a poller fed a success succeeds.
#[test]
fn valid_inputs_reach_the_targets_deep_paths() {
    let body = br#"{"data":{"upload_id":"u","part_size":4,"total_parts":3,"presigned_urls":{"1":"http://s/1","2":"http://s/2","3":"http://s/3"}}}"#;
    // Mode 1, size class 0 (one byte: 10), status byte 0 (200), then the body.
    let mut data = vec![1, 0, 10, 0];
    data.extend_from_slice(body);
    assert_eq!(targets::upload_plan(&data), Some(3));
    // Mode 0: size 10, part size 4, 3 parts, every URL present (selector bytes 2).
    assert_eq!(
        targets::upload_plan(&[0, 0, 10, 0, 4, 3, 2, 2, 2, 2, 2]),
        Some(3)
    );
    // Operation 0 (create), status byte 0 (200), a valid body.
    assert!(targets::responses(b"\x00\x00{\"taskID\":\"t-1\"}"));
    assert!(targets::responses(
        b"\x04\x00{\"status\":\"running\",\"progress\":5}"
    ));
    // Interval, timeout, strategy; then one answer: flag 1, status 200, a success body.
    let success = br#"{"status":"success","resultURL":null,"resultData":[1]}"#;
    let mut data = vec![0, 10, 0, 1, 0, success.len() as u8];
    data.extend_from_slice(success);
    assert!(targets::poller(&data));
}

/// Every input a fuzzer once failed on, kept under `fuzz/regressions/<target>/`, replayed
/// through the same target: a crash found once stays fixed.
/// Every cargo-fuzz target is declared, has its file, calls the checks of the same name in
/// `cloud_task_qa::targets` (so that proptest runs them in CI) and is described in the
/// fuzz README's table; no target file is left undeclared.
#[test]
fn every_fuzz_target_is_declared_checked_here_and_described() {
    let fuzz = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz");
    let manifest = std::fs::read_to_string(fuzz.join("Cargo.toml")).unwrap();
    let readme = std::fs::read_to_string(fuzz.join("README.md")).unwrap();
    let names: Vec<&str> = manifest
        .lines()
        .filter_map(|l| l.strip_prefix("name = \""))
        .filter_map(|l| l.strip_suffix('"'))
        .filter(|name| *name != "cloud-task-fuzz")
        .collect();
    assert!(names.len() >= 13, "{names:?}");
    for name in &names {
        let source =
            std::fs::read_to_string(fuzz.join("fuzz_targets").join(format!("{name}.rs"))).unwrap();
        assert!(
            source.contains("cloud_task_qa::targets::"),
            "fuzz target {name} does not call the shared checks"
        );
        assert!(
            readme.contains(&format!("| `{name}` |")),
            "fuzz target {name} is not in fuzz/README.md"
        );
    }
    for file in std::fs::read_dir(fuzz.join("fuzz_targets")).unwrap() {
        let file = file.unwrap().file_name().to_string_lossy().into_owned();
        let name = file.strip_suffix(".rs").unwrap_or(&file);
        assert!(names.contains(&name), "fuzz_targets/{file} is not declared");
    }
}

#[test]
fn the_fuzz_regressions_replay() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/regressions");
    let mut replayed = 0;
    for target in std::fs::read_dir(&root).expect("fuzz/regressions is readable") {
        let target = target.unwrap().path();
        let name = target.file_name().unwrap().to_string_lossy().into_owned();
        for input in std::fs::read_dir(&target).unwrap() {
            let data = std::fs::read(input.unwrap().path()).unwrap();
            match name.as_str() {
                "responses" => drop(targets::responses(&data)),
                "poller" => drop(targets::poller(&data)),
                "upload_plan" => drop(targets::upload_plan(&data)),
                "retry_after" => targets::retry_after_header(&data),
                "package_info" => drop(targets::package_info(&data)),
                "batch_journal" => drop(targets::batch_journal(&data)),
                "download" => drop(targets::download(&data)),
                "follower" => drop(targets::follower(&data)),
                "log_event" => drop(targets::log_event(&data)),
                "login" => drop(targets::login(&data)),
                "credentials" => drop(targets::credentials(&data)),
                "codegen" => drop(targets::codegen(&data)),
                "outputs" => drop(targets::outputs(&data)),
                other => panic!("fuzz/regressions/{other}: no such target"),
            }
            replayed += 1;
        }
    }
    assert!(
        replayed >= 1,
        "no regression input under {}",
        root.display()
    );
}
