use cloud_task_core::{Config, CreateTaskRequest, Error, GetPackageInfo, Operation, ProblemKind};
use serde_json::json;

use crate::{KEY, assert_invalid, config, header, response};

#[test]
fn the_request_goes_to_the_registry_with_the_key_bare() {
    let request = GetPackageInfo::new("@oomol/pdf tools", "1.0.0")
        .lang("zh-CN")
        .request(&config())
        .unwrap();
    assert_eq!(
        request.uri().to_string(),
        "https://registry.oomol.com/-/oomol/package-info/%40oomol%2Fpdf%20tools/1.0.0?lang=zh-CN"
    );
    let h = request.headers();
    assert_eq!(header(h, "authorization"), Some(KEY));
    assert_eq!(header(h, "x-client"), Some("tests"));
    assert!(h.get("authorization").unwrap().is_sensitive());
    // Another registry, from the builder or the environment.
    let config = Config::builder()
        .registry_url("http://127.0.0.1:9/")
        .build()
        .unwrap();
    let request = GetPackageInfo::new("p", "latest").request(&config).unwrap();
    assert_eq!(
        request.uri().to_string(),
        "http://127.0.0.1:9/-/oomol/package-info/p/latest"
    );
    let env = Config::builder()
        .with_env(|name| (name == "CLOUD_TASK_REGISTRY_URL").then(|| "http://r:1".to_owned()))
        .build()
        .unwrap();
    assert_eq!(env.registry_url(), "http://r:1");
    assert_invalid(
        GetPackageInfo::new("", "1").request(&config).unwrap_err(),
        "name",
        "name must not be empty",
    );
    assert!(Config::builder().registry_url("not a url").build().is_err());
}

#[test]
fn a_description_is_read_leniently_and_checked_strictly() {
    let body = json!({
        "packageName": "@a/b", "packageVersion": "1.2.3", "unknown": {"x": 1},
        "blocks": [{"blockName": "main", "extra": true, "inputHandleDefs": [
            {"handle": "", "json_schema": {"type": "string"}},
            {"handle": "text", "json_schema": {"type": "string"}, "nullable": true, "value": null},
            {"handle": "n", "json_schema": {"type": "integer", "ui:widget": "slider"}, "value": 2}
        ]}]
    });
    let info = GetPackageInfo::new("@a/b", "1.2.3")
        .parse(response(200, &body.to_string()))
        .unwrap();
    let block = info.block("main").unwrap();
    assert_eq!(block.inputs.len(), 2, "a handle without a name is dropped");
    assert!(block.inputs.iter().all(|h| h.is_optional()));
    assert_eq!(block.input("n").unwrap().type_name(), "integer");
    assert_eq!(block.input("text").unwrap().type_name(), "string | null");

    let request = CreateTaskRequest::new("@a/b", "1.2.3", "main").input("n", "two");
    match info.check(&request) {
        Err(Error::InvalidInputs(e)) => {
            assert_eq!(e.problems.len(), 1);
            assert_eq!(e.problems[0].kind, ProblemKind::Invalid);
            assert!(e.to_string().contains("input \"n\""), "{e}");
        }
        other => panic!("{other:?}"),
    }
    let other_block = CreateTaskRequest::new("@a/b", "1.2.3", "nope");
    match info.check(&other_block) {
        Err(Error::InvalidInput(e)) => assert!(e.message.contains("its blocks: main"), "{e}"),
        other => panic!("{other:?}"),
    }
    let latest = CreateTaskRequest::new("@a/b", "latest", "main");
    assert!(matches!(info.check(&latest), Err(Error::InvalidInput(_))));
}

#[test]
fn hostile_descriptions_are_errors_not_panics() {
    let op = GetPackageInfo::new("p", "1");
    for body in [
        "",
        "[]",
        "null",
        r#"{"packageName": "", "packageVersion": "1"}"#,
        r#"{"packageVersion": "1"}"#,
        r#"{"packageName": "p", "packageVersion": "1", "blocks": {"main": {}}}"#,
        r#"{"packageName": "p", "packageVersion": "1", "blocks": [{"inputHandleDefs": [{"handle": 5}]}]}"#,
        r#"{"packageName": "p", "packageVersion": "1", "blocks": [{"blockName": "m", "inputHandleDefs": [{"handle": "h", "nullable": "yes"}]}]}"#,
    ] {
        let outcome = op.parse(response(200, body));
        assert!(
            matches!(outcome, Err(Error::Decode(_) | Error::Protocol(_))),
            "{body}: {outcome:?}"
        );
    }
    assert!(matches!(
        op.parse(response(404, r#"{"message":"not found"}"#)),
        Err(Error::Api(_))
    ));
    // A schema nested as deep as JSON allows, and one with a pathological pattern: checked,
    // not a panic or a hang.
    let deep = format!("{}{{}}{}", "{\"items\":".repeat(100), "}".repeat(100));
    let body = format!(
        r#"{{"packageName":"p","packageVersion":"1","blocks":[{{"blockName":"m","inputHandleDefs":[
            {{"handle":"deep","json_schema":{deep}}},
            {{"handle":"re","json_schema":{{"type":"string","pattern":"^(a+)+$"}}}}]}}]}}"#
    );
    let info = op.parse(response(200, &body)).unwrap();
    let request = CreateTaskRequest::new("p", "1", "m")
        .input("deep", json!([[[1]]]))
        .input("re", format!("{}!", "a".repeat(64)));
    match info.check(&request) {
        Err(Error::InvalidInputs(e)) => {
            assert_eq!(e.problems.len(), 1, "{e}");
            assert_eq!(e.problems[0].handle, "re");
        }
        other => panic!("{other:?}"),
    }
}
