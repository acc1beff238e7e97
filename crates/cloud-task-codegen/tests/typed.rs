//! The generated code compiles (the committed goldens, under `clippy -D warnings` in CI)
//! and runs: each block of the emulator's catalogue through both clients, typed inputs in
//! and typed outputs out, in both shapes of `resultData`; an output of the wrong shape is
//! an error naming its handle.

use std::time::Duration;

use futures_util::StreamExt;

use oomol_cloud_task::emulator::{Emulator, EmulatorClients};
use oomol_cloud_task::typed::Block;
use oomol_cloud_task::{AwaitOptions, BatchEvent, BatchOptions, Error};

#[allow(dead_code)]
mod echo {
    include!("golden/echo.rs");
}
#[allow(dead_code)]
mod fail {
    include!("golden/fail.rs");
}
#[allow(dead_code)]
mod file {
    include!("golden/file.rs");
}
#[allow(dead_code)]
mod quota {
    include!("golden/quota.rs");
}
#[allow(dead_code)]
mod slow {
    include!("golden/slow.rs");
}
#[allow(dead_code)]
mod hostile {
    include!("golden/hostile.rs");
}

fn quick() -> AwaitOptions {
    AwaitOptions::new()
        .interval(Duration::from_millis(5))
        .timeout(Duration::from_secs(30))
}

/// `result`'s data is one object keyed by output handle (`keyed`) or a list holding it.
fn assert_shape(result: oomol_cloud_task::models::TaskResult, keyed: bool) {
    let oomol_cloud_task::models::TaskResult::Success(success) = result else {
        panic!("not a success: {result:?}");
    };
    let data = success.result_data.expect("result data");
    assert_eq!(data.is_object(), keyed, "{data}");
    assert_eq!(data.is_array(), !keyed, "{data}");
}

fn echo_inputs(text: &str) -> echo::MainInputs {
    echo::MainInputs {
        text: text.to_owned(),
        count: Some(2),
        mode: Some(echo::MainMode::Thorough),
        options: Some(echo::MainOptions {
            depth: 3,
            tags: Some(vec!["a".to_owned()]),
        }),
        duration_ms: Some(0.0),
        log_lines: None,
    }
}

#[test]
fn typed_inputs_make_the_request_the_block_expects() {
    let request = echo_inputs("hi").to_request().unwrap();
    assert_eq!(
        (
            request.package_name.as_str(),
            request.package_version.as_str(),
            request.block_name.as_str()
        ),
        ("@oomol/echo", "1.0.0", "main")
    );
    // Renamed fields keep the handle's name; `None` is left out.
    assert_eq!(
        serde_json::Value::Object(request.input_values.unwrap()),
        serde_json::json!({
            "text": "hi", "count": 2, "mode": "thorough",
            "options": {"depth": 3, "tags": ["a"]}, "durationMs": 0.0
        })
    );
    // The hostile block's keyword and escaped handles too.
    let inputs = hostile::SplitPagesInputs {
        type_: "t".into(),
        self_: 1,
        foo_bar: true,
        foo_bar_2: false,
        h_2x: 0.5,
        field: serde_json::json!(null),
        h_2_jclear_quote: Some("q".into()),
        ref_: serde_json::json!({}),
        tree: hostile::SplitPagesTree { children: None },
        deep: serde_json::from_value(serde_json::json!({"level11": {"level10": {"level9":
            {"level8": {"level7": {"level6": {"level5": {"level4": {"level3": {"level2":
            {"level1": {"level0": "x"}}}}}}}}}}}}))
        .unwrap(),
        choice: Some(hostile::SplitPagesChoice::SelfValue2),
        mixed: serde_json::json!(1),
        maybe: None,
        either: serde_json::json!("e"),
        list: vec![],
        map: serde_json::Map::new(),
        with_default: None,
        nullable: None,
    };
    let values = inputs.to_request().unwrap().input_values.unwrap();
    assert_eq!(values["type"], "t");
    assert_eq!(values["self"], 1);
    assert_eq!(values["fooBar"], true);
    assert_eq!(values["foo_bar"], false);
    assert_eq!(values["\u{1b}[2Jclear\"quote\\"], "q");
    assert_eq!(values["choice"], "Self");
    assert_eq!(
        <hostile::SplitPagesInputs as Block>::PACKAGE,
        "@evil/\u{1b}[31mpkg\""
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_block_runs_through_the_async_client_in_both_shapes() {
    for keyed in [false, true] {
        let emulator = Emulator::builder()
            .time_scale(0.01)
            .keyed_outputs(keyed)
            .start()
            .await
            .unwrap();
        let client = emulator.client().unwrap();

        let done = client.run(&echo_inputs("hello"), quick()).await.unwrap();
        assert_eq!(
            done.outputs,
            echo::MainOutputs {
                text: "hello".into()
            }
        );
        // The emulator answered in the shape asked for: both shapes are decoded.
        let raw = client.get_task_result(&done.task_id).await.unwrap();
        assert_shape(raw, keyed);

        let file = file::MainInputs {
            text: Some("content".into()),
            bytes: None,
            duration_ms: None,
            log_lines: None,
        };
        let task = client.create(&file).await.unwrap();
        let done = task.wait(quick()).await.unwrap();
        assert_eq!(Some(&done.outputs.file), done.result_url.as_ref());
        assert_eq!(done.task_id, task.id());

        let fail = fail::MainInputs {
            message: Some("typed boom".into()),
            duration_ms: None,
            log_lines: None,
        };
        let error = client.run(&fail, quick()).await.unwrap_err();
        assert!(matches!(error, Error::TaskFailed(_)), "{error}");
        let quota = quota::MainInputs {
            duration_ms: None,
            log_lines: None,
        };
        assert!(client.run(&quota, quick()).await.is_err());

        // `@oomol/slow` answers its `text` input as its output: `null` does not fit the
        // output's `String`, and the error names the handle and keeps the data.
        let slow = slow::MainInputs {
            text: None,
            duration_ms: Some(0.0),
            log_lines: None,
        };
        let Err(Error::Outputs(error)) = client.run(&slow, quick()).await else {
            panic!("a missing text output decoded");
        };
        assert_eq!(error.handle.as_deref(), Some("text"), "{error}");
        assert!(
            error.to_string().starts_with("output `text` does not fit"),
            "{error}"
        );
        assert!(error.task_id.is_some());
        assert!(!error.data.is_null());

        // A batch of typed inputs gives typed results.
        let mut run = client.run_many_blocks(
            [echo_inputs("one"), echo_inputs("two")],
            BatchOptions::new().await_options(quick()),
        );
        let mut texts = Vec::new();
        while let Some(event) = run.next().await {
            if let BatchEvent::Finished(item) = event.unwrap() {
                let outputs = item.into_outputs::<echo::MainOutputs>().unwrap();
                texts.push(outputs.text);
            }
        }
        texts.sort();
        assert_eq!(texts, ["one", "two"]);
    }
}

#[test]
fn each_block_runs_through_the_blocking_client_in_both_shapes() {
    for keyed in [false, true] {
        let emulator = Emulator::builder()
            .time_scale(0.01)
            .keyed_outputs(keyed)
            .start_blocking()
            .unwrap();
        let client = emulator.blocking_client().unwrap();

        let done = client.run(&echo_inputs("hello"), quick()).unwrap();
        assert_eq!(done.outputs.text, "hello");
        assert_shape(client.get_task_result(&done.task_id).unwrap(), keyed);

        let file = file::MainInputs {
            text: Some("content".into()),
            bytes: None,
            duration_ms: None,
            log_lines: None,
        };
        let task = client.create(&file).unwrap();
        let done = task.wait(quick()).unwrap();
        assert_eq!(Some(&done.outputs.file), done.result_url.as_ref());

        let slow = slow::MainInputs {
            text: None,
            duration_ms: Some(0.0),
            log_lines: None,
        };
        let Err(Error::Outputs(error)) = client.run(&slow, quick()) else {
            panic!("a missing text output decoded");
        };
        assert_eq!(error.handle.as_deref(), Some("text"), "{error}");

        let run = client.run_many_blocks(
            [echo_inputs("one"), echo_inputs("two")],
            BatchOptions::new().await_options(quick()),
        );
        let mut texts = Vec::new();
        for event in run {
            if let BatchEvent::Finished(item) = event.unwrap() {
                texts.push(item.into_outputs::<echo::MainOutputs>().unwrap().text);
            }
        }
        texts.sort();
        assert_eq!(texts, ["one", "two"]);
    }
}
