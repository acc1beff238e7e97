//! The registry's package descriptions: every catalogue block, real schemas, the key bare
//! or as a bearer, 404 for other packages.

use cloud_task_core::{CreateTaskRequest, Error, GetPackageInfo, Operation, PackageInfo};
use reqwest::StatusCode;
use serde_json::json;

use crate::support::{Api, fast};

const INFO: &str = "/-/oomol/package-info";

#[tokio::test]
async fn every_catalogue_package_is_described_with_its_inputs() {
    let api = Api::start(fast()).await;
    for package in [
        "@oomol/echo",
        "@oomol/fail",
        "@oomol/quota",
        "@oomol/slow",
        "@oomol/file",
    ] {
        let path = format!("{INFO}/{}/2.3.4?lang=en", package.replace('/', "%2F"));
        let answer = api
            .http
            .get(api.url(&path))
            .header("authorization", api.key.as_str())
            .send()
            .await
            .unwrap();
        assert_eq!(answer.status(), StatusCode::OK, "{package}");
        let info: PackageInfo = answer.json().await.unwrap();
        assert_eq!(info.package_name, package);
        assert_eq!(info.package_version, "2.3.4");
        let block = info.block("main").expect("a main block");
        for run_input in ["durationMs", "logLines"] {
            let def = block.input(run_input).expect(run_input);
            assert!(def.is_optional(), "{package} {run_input}");
        }
        assert_eq!(
            cloud_task_emulator::package_info(package, "2.3.4").as_ref(),
            Some(&info)
        );
    }
    let echo = cloud_task_emulator::package_info("@oomol/echo", "latest").unwrap();
    assert_eq!(echo.package_version, cloud_task_emulator::LATEST_VERSION);
    let block = echo.block("main").unwrap();
    assert!(
        !block.input("text").unwrap().is_optional(),
        "text is required"
    );
    assert_eq!(block.input("mode").unwrap().type_name(), "enum");
    assert_eq!(block.input("options").unwrap().type_name(), "object | null");
}

#[tokio::test]
async fn unknown_packages_and_versions_are_404_and_the_key_is_required() {
    let api = Api::start(fast()).await;
    for path in [
        format!("{INFO}/%40acme%2Fnothing/1.0.0"),
        format!("{INFO}/%40oomol%2Fecho/%5E1.0"),
    ] {
        let answer = api.get(&path).await;
        assert_eq!(answer.status, StatusCode::NOT_FOUND, "{path}");
        assert!(answer.message().contains("not found"), "{answer:?}");
    }
    let anonymous = api
        .http
        .get(api.url(&format!("{INFO}/%40oomol%2Fecho/1.0.0")))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);
    // The key alone is the registry's form only.
    let bare_elsewhere = api
        .http
        .get(api.url("/v3/users/me/dashboard"))
        .header("authorization", api.key.as_str())
        .send()
        .await
        .unwrap();
    assert_eq!(bare_elsewhere.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn the_descriptions_agree_with_what_the_blocks_accept() {
    // The core's check against the emulator's own description, and the emulator's
    // execution rules: a value the schema refuses is refused at creation too, and the
    // defaults the schema states are accepted.
    let api = Api::start(fast()).await;
    let config = api.emulator.config().build().unwrap();
    let op = GetPackageInfo::new("@oomol/file", "1.0.0");
    let request = op.request(&config).unwrap();
    assert_eq!(
        request.uri().host(),
        Some("127.0.0.1"),
        "the emulator is its own registry"
    );
    let info = cloud_task_emulator::package_info("@oomol/file", "1.0.0").unwrap();
    let block = info.block("main").unwrap();
    for (handle, bad) in [
        ("durationMs", json!(-1)),
        ("logLines", json!(1.5)),
        ("bytes", json!(-3)),
    ] {
        let request = CreateTaskRequest::new("@oomol/file", "1.0.0", "main")
            .input("text", "x")
            .input(handle, bad.clone());
        assert!(
            matches!(info.check(&request), Err(Error::InvalidInputs(_))),
            "{handle}"
        );
        let created = api
            .post(
                "/v3/users/me/tasks",
                json!({"type": "serverless", "packageName": "@oomol/file", "packageVersion": "1.0.0",
                       "blockName": "main", "inputValues": {"text": "x", handle: bad}}),
            )
            .await;
        assert_eq!(
            created.status,
            StatusCode::BAD_REQUEST,
            "{handle}: {created:?}"
        );
    }
    let defaults: serde_json::Map<String, serde_json::Value> = block
        .inputs
        .iter()
        .filter_map(|h| Some((h.handle.clone(), h.default_value()?.clone())))
        .filter(|(_, v)| !v.is_null())
        .chain([("text".to_owned(), json!("x"))])
        .collect();
    let request =
        CreateTaskRequest::new("@oomol/file", "1.0.0", "main").input_values(defaults.clone());
    assert!(info.check(&request).is_ok());
    let created = api
        .post(
            "/v3/users/me/tasks",
            json!({"type": "serverless", "packageName": "@oomol/file", "packageVersion": "1.0.0",
                   "blockName": "main", "inputValues": defaults}),
        )
        .await;
    assert_eq!(created.status, StatusCode::OK, "{created:?}");
}
