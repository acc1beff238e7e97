//! Result files: `@oomol/file`'s `resultURL`, ranges, `If-Range`, and the `cut_body` fault.

use cloud_task_emulator::{Fault, FaultRule, RESULTS_PATH, Route, generated_byte};
use reqwest::StatusCode;
use serde_json::json;

use crate::support::{Api, fast};

const TASKS: &str = "/v3/users/me/tasks";

/// Creates an `@oomol/file` task with `inputs`, waits for it; answers its result URL.
async fn result_url(api: &Api, inputs: serde_json::Value) -> String {
    let id = api.create(cloud_task_emulator::FILE, inputs).await;
    let result = api.wait(&id).await;
    assert_eq!(result["status"], "success", "{result}");
    let url = result["resultURL"]
        .as_str()
        .expect("a resultURL")
        .to_owned();
    let detail = api.get(&format!("{TASKS}/{id}")).await.body;
    assert_eq!(detail["resultURL"], url.as_str());
    url
}

async fn get(
    api: &Api,
    url: &str,
    headers: &[(&str, &str)],
) -> (StatusCode, reqwest::header::HeaderMap, Vec<u8>) {
    let mut request = api.http.get(url);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = request.send().await.unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    (status, headers, response.bytes().await.unwrap().to_vec())
}

#[tokio::test]
async fn a_text_result_is_served_whole_and_in_ranges_without_a_key() {
    let api = Api::start(fast()).await;
    let url = result_url(&api, json!({"text": "hello, world"})).await;
    assert!(
        url.starts_with(&format!("{}{RESULTS_PATH}/", api.emulator.base_url())),
        "{url}"
    );
    assert!(url.contains("signature="), "{url}");

    let (status, headers, body) = get(&api, &url, &[]).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body, b"hello, world");
    assert_eq!(headers["accept-ranges"], "bytes");
    assert_eq!(headers["content-length"], "12");
    let etag = headers["etag"].to_str().unwrap().to_owned();

    let (status, headers, body) = get(&api, &url, &[("range", "bytes=7-")]).await;
    assert_eq!(status, StatusCode::PARTIAL_CONTENT);
    assert_eq!(body, b"world");
    assert_eq!(headers["content-range"], "bytes 7-11/12");

    let (status, _, body) = get(&api, &url, &[("range", "bytes=7-"), ("if-range", &etag)]).await;
    assert_eq!(
        (status, body.as_slice()),
        (StatusCode::PARTIAL_CONTENT, &b"world"[..])
    );
    // A validator of another version: the whole file again.
    let (status, _, body) = get(
        &api,
        &url,
        &[("range", "bytes=7-"), ("if-range", "\"other\"")],
    )
    .await;
    assert_eq!(
        (status, body.as_slice()),
        (StatusCode::OK, &b"hello, world"[..])
    );

    let (status, headers, body) = get(&api, &url, &[("range", "bytes=12-")]).await;
    assert_eq!(status, StatusCode::RANGE_NOT_SATISFIABLE);
    assert_eq!(headers["content-range"], "bytes */12");
    assert!(body.is_empty());
}

#[tokio::test]
async fn a_result_url_needs_its_signature_and_other_blocks_have_none() {
    let api = Api::start(fast()).await;
    let url = result_url(&api, json!({"text": "x"})).await;
    let unsigned = url.split('?').next().unwrap();
    assert_eq!(get(&api, unsigned, &[]).await.0, StatusCode::NOT_FOUND);
    let forged = format!("{unsigned}?signature=forged");
    assert_eq!(get(&api, &forged, &[]).await.0, StatusCode::NOT_FOUND);

    let echo = api.create("@oomol/echo", json!({})).await;
    assert_eq!(api.wait(&echo).await["resultURL"], serde_json::Value::Null);
}

#[tokio::test]
async fn a_generated_result_streams_its_bytes_and_any_range_of_them() {
    let api = Api::start(fast()).await;
    let size = 3 * 1024 * 1024 + 17;
    let url = result_url(&api, json!({"bytes": size})).await;
    let (status, headers, body) = get(&api, &url, &[]).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers["content-type"], "application/octet-stream");
    assert_eq!(body.len() as u64, size);
    assert!(
        body.iter()
            .enumerate()
            .all(|(i, b)| *b == generated_byte(i as u64))
    );
    let from = size - 1000;
    let (status, _, tail) = get(&api, &url, &[("range", &format!("bytes={from}-"))]).await;
    assert_eq!(status, StatusCode::PARTIAL_CONTENT);
    assert_eq!(tail, body[from as usize..]);
}

#[tokio::test]
async fn bad_file_inputs_are_refused_at_creation() {
    let api = Api::start(fast()).await;
    for inputs in [
        json!({}),
        json!({"text": 1}),
        json!({"text": "a", "bytes": 1}),
        json!({"bytes": -1}),
    ] {
        let answer = api
            .post(
                TASKS,
                json!({"type": "serverless", "packageName": "@oomol/file", "packageVersion": "1",
                       "blockName": "main", "inputValues": inputs}),
            )
            .await;
        assert_eq!(
            answer.status,
            StatusCode::BAD_REQUEST,
            "{inputs}: {answer:?}"
        );
        assert!(answer.message().contains("inputValues"), "{answer:?}");
    }
}

#[tokio::test]
async fn cut_body_keeps_the_headers_and_closes_short() {
    let api = Api::start(fast()).await;
    let url = result_url(&api, json!({"bytes": 100_000})).await;
    api.emulator
        .add_fault(FaultRule::new(Route::Download, Fault::CutBody { after: 1000 }).times(1));
    let response = api.http.get(&url).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["content-length"], "100000");
    assert!(response.bytes().await.is_err(), "the body must end short");
    // The rule was used up: the next download is whole.
    let (status, _, body) = get(&api, &url, &[]).await;
    assert_eq!((status, body.len()), (StatusCode::OK, 100_000));

    // Over the control endpoint too.
    let rule = api
        .post(
            "/_emulator/faults",
            json!({"route": "download", "fault": "cut_body", "afterBytes": 10, "times": 1}),
        )
        .await;
    assert_eq!(rule.status, StatusCode::CREATED, "{rule:?}");
    assert_eq!(rule.body["afterBytes"], 10);
    let missing = api
        .post(
            "/_emulator/faults",
            json!({"route": "download", "fault": "cut_body"}),
        )
        .await;
    assert_eq!(missing.status, StatusCode::BAD_REQUEST);
    assert!(missing.message().contains("afterBytes"), "{missing:?}");
}
