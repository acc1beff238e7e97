//! Knowing a block before running it: package descriptions (read once per version), input
//! checks that create nothing, and dry runs that send nothing.

use cloud_task_core::{AwaitOptions, CreateTaskRequest, Error, ProblemKind};
use cloud_task_emulator::Route;
use serde_json::json;

use crate::driver::Driver;
use crate::{conformance, virtual_emulator};

conformance!(
    a_description_is_read_once_per_exact_version,
    a_bad_input_to_any_block_creates_nothing_and_names_the_input,
    good_inputs_are_created_and_run,
    a_dry_run_checks_and_sends_nothing,
    unknown_packages_blocks_and_versions_are_refused_before_any_create,
);

fn request(package: &str) -> CreateTaskRequest {
    CreateTaskRequest::new(package, "1.0.0", "main")
}

fn a_description_is_read_once_per_exact_version<D: Driver>() {
    let (emulator, _clock) = virtual_emulator(|b| b);
    let client = D::of(&emulator);
    let first = client.get_package_info("@oomol/echo", "1.0.0").unwrap();
    let again = client.get_package_info("@oomol/echo", "1.0.0").unwrap();
    assert!(std::sync::Arc::ptr_eq(&first, &again));
    assert_eq!(emulator.stats().count(Route::PackageInfo), 1);
    client.get_package_info("@oomol/echo", "latest").unwrap();
    client.get_package_info("@oomol/echo", "latest").unwrap();
    assert_eq!(
        emulator.stats().count(Route::PackageInfo),
        3,
        "latest is read each time"
    );
    // Checks reuse it.
    client
        .check_inputs(&request("@oomol/echo").input("text", "hi"))
        .unwrap();
    assert_eq!(emulator.stats().count(Route::PackageInfo), 3);
}

fn a_bad_input_to_any_block_creates_nothing_and_names_the_input<D: Driver>() {
    let (emulator, _clock) = virtual_emulator(|b| b);
    let client = D::of(&emulator);
    let cases = [
        (request("@oomol/echo"), "text", ProblemKind::Missing),
        (
            request("@oomol/echo").input("text", "a").input("txt", "b"),
            "txt",
            ProblemKind::Unknown,
        ),
        (
            request("@oomol/echo").input("text", 5),
            "text",
            ProblemKind::Invalid,
        ),
        (
            request("@oomol/echo")
                .input("text", "a")
                .input("mode", "slow"),
            "mode",
            ProblemKind::Invalid,
        ),
        (
            request("@oomol/echo")
                .input("text", "a")
                .input("options", json!({"tags": ["x"]})),
            "options",
            ProblemKind::Invalid,
        ),
        (
            request("@oomol/fail").input("message", json!({"x": 1})),
            "message",
            ProblemKind::Invalid,
        ),
        (
            request("@oomol/quota").input("durationMs", -1),
            "durationMs",
            ProblemKind::Invalid,
        ),
        (
            request("@oomol/slow").input("logLines", 20_000),
            "logLines",
            ProblemKind::Invalid,
        ),
        (
            request("@oomol/file").input("bytes", "many"),
            "bytes",
            ProblemKind::Invalid,
        ),
    ];
    for (request, handle, kind) in cases {
        let what = format!("{} {handle}", request.package_name);
        for outcome in [
            client.create_task_checked(request.clone()).map(|_| ()),
            client
                .create_and_wait_checked(request.clone(), AwaitOptions::new())
                .map(|_| ()),
        ] {
            match outcome {
                Err(Error::InvalidInputs(e)) => {
                    let problem = e
                        .problems
                        .iter()
                        .find(|p| p.handle == handle)
                        .unwrap_or_else(|| panic!("{what}: {e}"));
                    assert_eq!(problem.kind, kind, "{what}: {e}");
                    assert!(
                        e.to_string().contains(&format!("input \"{handle}\"")),
                        "{e}"
                    );
                }
                other => panic!("{what}: {other:?}"),
            }
        }
    }
    assert_eq!(
        emulator.stats().count(Route::CreateTask),
        0,
        "nothing was created"
    );
    // Where in a nested value, as a JSON pointer.
    let nested = request("@oomol/echo")
        .input("text", "a")
        .input("options", json!({"depth": 2, "tags": ["ok", 7]}));
    match client.check_inputs(&nested) {
        Err(Error::InvalidInputs(e)) => assert_eq!(e.problems[0].pointer, "/tags/1"),
        other => panic!("{other:?}"),
    }
}

fn good_inputs_are_created_and_run<D: Driver>() {
    let (emulator, _clock) = virtual_emulator(|b| b);
    let client = D::of(&emulator);
    let outcome = client
        .create_and_wait_checked(
            request("@oomol/echo")
                .input("text", "hi")
                .input("mode", "thorough")
                .input("options", json!({"depth": 1, "tags": ["a"]})),
            AwaitOptions::new(),
        )
        .unwrap();
    assert_eq!(outcome.result.result_data.unwrap()[0]["mode"], "thorough");
    client
        .create_task_checked(request("@oomol/file").input("text", "x"))
        .unwrap();
    assert_eq!(emulator.stats().count(Route::CreateTask), 2);
}

fn a_dry_run_checks_and_sends_nothing<D: Driver>() {
    let (emulator, _clock) = virtual_emulator(|b| b);
    let client = D::of(&emulator);
    let good = request("@oomol/echo").input("text", "hi").input("count", 2);
    let http = client.dry_run(&good).unwrap();
    assert_eq!(http.method(), "POST");
    assert_eq!(
        http.uri().to_string(),
        format!("{}/v3/users/me/tasks", emulator.base_url())
    );
    let body: serde_json::Value = serde_json::from_slice(http.body()).unwrap();
    assert_eq!(
        body,
        json!({"type": "serverless", "packageName": "@oomol/echo", "packageVersion": "1.0.0",
               "blockName": "main", "inputValues": {"text": "hi", "count": 2}})
    );
    assert!(http.headers()["authorization"].is_sensitive());
    // Printed, it reads as a request and keeps the key out.
    let key = http.headers()["authorization"].to_str().unwrap();
    let key = key.trim_start_matches("Bearer ");
    for shown in [http.to_string(), format!("{http:?}")] {
        assert!(!shown.contains(key), "{shown}");
        assert!(shown.contains("inputValues"), "{shown}");
    }
    assert!(http.to_string().contains("\nauthorization: ***\n"));
    assert!(matches!(
        client.dry_run(&request("@oomol/echo")),
        Err(Error::InvalidInputs(_))
    ));
    assert_eq!(emulator.stats().count(Route::CreateTask), 0);
}

fn unknown_packages_blocks_and_versions_are_refused_before_any_create<D: Driver>() {
    let (emulator, _clock) = virtual_emulator(|b| b);
    let client = D::of(&emulator);
    let unknown = client.create_task_checked(request("@acme/nothing"));
    assert_eq!(unknown.unwrap_err().status().map(|s| s.as_u16()), Some(404));
    match client.create_task_checked(CreateTaskRequest::new("@oomol/echo", "1.0.0", "other")) {
        Err(Error::InvalidInput(e)) => assert!(e.message.contains("its blocks: main"), "{e}"),
        other => panic!("{other:?}"),
    }
    match client.create_task_checked(
        CreateTaskRequest::new("@oomol/echo", "latest", "main").input("text", "x"),
    ) {
        Err(Error::InvalidInput(e)) => assert_eq!(e.field, "package_version"),
        other => panic!("{other:?}"),
    }
    assert_eq!(emulator.stats().count(Route::CreateTask), 0);
    // The unknown package and echo 1.0.0 were read; `latest` was refused before reading.
    assert_eq!(emulator.stats().count(Route::PackageInfo), 2);
}
