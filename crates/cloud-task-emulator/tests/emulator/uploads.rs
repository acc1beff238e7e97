//! The upload API: init, presigned part PUTs, the final URL and the download.

use std::collections::BTreeMap;

use cloud_task_core::UploadPlan;
use cloud_task_core::upload::UploadUrlResponse;
use cloud_task_emulator::Route;
use reqwest::StatusCode;
use serde_json::json;

use crate::support::{Api, answer, fast};

/// Deterministic test bytes.
fn bytes(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u32).wrapping_mul(2_654_435_761).to_le_bytes()[1] ^ seed)
        .collect()
}

#[tokio::test]
async fn multi_part_round_trip_returns_the_exact_bytes() {
    let api = Api::start(fast().part_size(1024)).await;
    let data = bytes(5000, 7);
    let target = api.target(".pdf", data.len() as u64).await;
    assert_eq!(target.part_size, 1024);
    assert_eq!(target.total_parts, 5);
    let plan = UploadPlan::new(&target, data.len() as u64).unwrap();
    for part in plan.parts() {
        assert!(
            part.url.starts_with(&api.emulator.base_url()),
            "{}",
            part.url
        );
        assert!(!part.url.contains(&api.key));
    }
    // Parts in any order, concurrently.
    let puts = plan.parts().iter().rev().map(|part| {
        let body = data[part.offset as usize..(part.offset + part.len) as usize].to_vec();
        api.put_part(&part.url, body)
    });
    for put in futures_util::future::join_all(puts).await {
        assert_eq!(put.status, StatusCode::OK, "{put:?}");
    }
    let answer = api.final_url(&target.upload_id).await;
    assert_eq!(answer.status, StatusCode::OK, "{answer:?}");
    let file = serde_json::from_value::<UploadUrlResponse>(answer.body.clone())
        .unwrap()
        .data;
    assert_eq!(file.file_size, Some(5000));
    assert_eq!(file.mime_type.as_deref(), Some("application/pdf"));
    assert_eq!(
        file.file_name.as_deref(),
        Some(format!("{}.pdf", target.upload_id).as_str())
    );
    assert!(file.expires_at.as_deref().unwrap().ends_with('Z'));
    let (status, headers, downloaded) = api.download(&file.url).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers["content-type"], "application/pdf");
    assert_eq!(headers["content-length"], "5000");
    assert!(downloaded == data, "the downloaded bytes differ");
    // The part PUTs were recorded, none with an Authorization header.
    let stats = api.emulator.stats();
    assert_eq!(stats.count(Route::UploadInit), 1);
    assert_eq!(stats.count(Route::UploadPart), 5);
    assert_eq!(stats.count(Route::UploadUrl), 1);
    assert_eq!(stats.count(Route::Download), 1);
    assert_eq!(stats.part_upload_headers().len(), 5);
    for headers in stats.part_upload_headers() {
        assert!(!headers.contains_key("authorization"));
        assert_eq!(headers["content-type"], "application/octet-stream");
    }
}

#[tokio::test]
async fn a_zero_byte_file_works() {
    let api = Api::start(fast()).await;
    let target = api.target(".", 0).await;
    assert_eq!(target.total_parts, 1);
    let plan = UploadPlan::new(&target, 0).unwrap();
    assert_eq!(plan.parts()[0].len, 0);
    let put = api.put_part(&plan.parts()[0].url, Vec::new()).await;
    assert_eq!(put.status, StatusCode::OK, "{put:?}");
    let file = api.final_url(&target.upload_id).await;
    assert_eq!(file.status, StatusCode::OK);
    assert_eq!(file.body["data"]["file_size"], 0);
    assert_eq!(file.body["data"]["file_name"], target.upload_id);
    assert_eq!(file.body["data"]["mime_type"], "application/octet-stream");
    let (status, _, downloaded) = api
        .download(file.body["data"]["url"].as_str().unwrap())
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(downloaded.is_empty());
}

#[tokio::test]
async fn a_part_of_the_wrong_size_is_refused_and_can_be_sent_again() {
    let api = Api::start(fast().part_size(100)).await;
    let target = api.target(".bin", 150).await;
    let plan = UploadPlan::new(&target, 150).unwrap();
    let (first, last) = (&plan.parts()[0], &plan.parts()[1]);
    for wrong in [99, 101, 0] {
        let put = api.put_part(&first.url, vec![1; wrong]).await;
        assert_eq!(put.status, StatusCode::BAD_REQUEST, "{wrong} bytes");
        assert!(
            put.message().contains("part 1 must be 100 bytes"),
            "{put:?}"
        );
    }
    // A body longer than announced is refused too (chunked: no Content-Length).
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> = vec![Ok(vec![2; 30]), Ok(vec![2; 30])];
    let streamed = api
        .http
        .put(&last.url)
        .body(reqwest::Body::wrap_stream(futures_util::stream::iter(
            chunks,
        )))
        .send()
        .await
        .unwrap();
    let streamed = answer(streamed).await;
    assert_eq!(streamed.status, StatusCode::BAD_REQUEST, "{streamed:?}");
    assert!(
        streamed.message().contains("part 2 must be 50 bytes"),
        "{streamed:?}"
    );
    // Incomplete: the final URL names the missing parts.
    let incomplete = api.final_url(&target.upload_id).await;
    assert_eq!(incomplete.status, StatusCode::BAD_REQUEST);
    assert!(incomplete.message().contains("1, 2"), "{incomplete:?}");
    assert_eq!(
        api.put_part(&first.url, vec![1; 100]).await.status,
        StatusCode::OK
    );
    assert_eq!(
        api.put_part(&last.url, vec![2; 50]).await.status,
        StatusCode::OK
    );
    let file = api.final_url(&target.upload_id).await;
    assert_eq!(file.status, StatusCode::OK, "{file:?}");
    let (_, _, downloaded) = api
        .download(file.body["data"]["url"].as_str().unwrap())
        .await;
    assert_eq!(downloaded, [vec![1; 100], vec![2; 50]].concat());
}

#[tokio::test]
async fn presigned_urls_need_their_signature_and_refuse_an_api_key() {
    let api = Api::start(fast().part_size(10)).await;
    let target = api.target(".txt", 10).await;
    let url = &target.presigned_urls[&1];
    let unsigned = url.split('?').next().unwrap();
    let put = api.put_part(unsigned, vec![0; 10]).await;
    assert_eq!(put.status, StatusCode::FORBIDDEN);
    let forged = format!("{unsigned}?signature=00000000000000000000000000000000");
    assert_eq!(
        api.put_part(&forged, vec![0; 10]).await.status,
        StatusCode::FORBIDDEN
    );
    let with_key = api
        .http
        .put(url)
        .bearer_auth(&api.key)
        .body(vec![0; 10])
        .send()
        .await
        .unwrap();
    let with_key = answer(with_key).await;
    assert_eq!(with_key.status, StatusCode::BAD_REQUEST);
    assert!(with_key.message().contains("Authorization"), "{with_key:?}");
    // Another upload's part number, or a part that does not exist.
    let wrong_part = url.replace("/1?", "/2?");
    assert_eq!(
        api.put_part(&wrong_part, vec![0; 10]).await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(api.put_part(url, vec![0; 10]).await.status, StatusCode::OK);
    let file = api.final_url(&target.upload_id).await.body;
    let download = file["data"]["url"].as_str().unwrap();
    let unsigned = download.split('?').next().unwrap();
    assert_eq!(api.download(unsigned).await.0, StatusCode::FORBIDDEN);
    // Once complete, parts can no longer change.
    assert_eq!(
        api.put_part(url, vec![9; 10]).await.status,
        StatusCode::CONFLICT
    );
    // Each presigned URL is different and unguessable.
    let other = api.target(".txt", 10).await;
    assert_ne!(other.presigned_urls[&1], *url);
}

#[tokio::test]
async fn init_and_url_need_the_api_key_and_validate() {
    let api = Api::start(fast().part_size(1)).await;
    let init = format!("{}/init", api.emulator.upload_base_url());
    let anonymous = api
        .http
        .post(&init)
        .json_body(json!({"file_extension": ".pdf", "size": 1}))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);
    let url = format!("{}/whatever/url", api.emulator.upload_base_url());
    assert_eq!(
        api.http.get(&url).send().await.unwrap().status(),
        StatusCode::UNAUTHORIZED
    );
    let unknown = api.get(&url).await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
    assert!(unknown.message().contains("whatever"));
    for (extension, size, expected) in [
        ("pdf", 1, "file_extension"),
        ("./../x", 1, "file_extension"),
        (".pdf", 10_001, "at most 10000 parts"),
    ] {
        let answer = api.init(extension, size).await;
        assert_eq!(answer.status, StatusCode::BAD_REQUEST, "{extension} {size}");
        assert!(answer.message().contains(expected), "{answer:?}");
    }
    let missing = api
        .send(
            reqwest::Method::POST,
            &init,
            Some(json!({"file_extension": ".pdf"})),
        )
        .await;
    assert_eq!(missing.status, StatusCode::BAD_REQUEST);
    assert!(missing.message().contains("size"), "{missing:?}");
    let ok = api.init(".pdf", 10_000).await;
    assert_eq!(ok.status, StatusCode::OK);
    // The URL map has string keys "1".."10000" on the wire.
    let urls: BTreeMap<String, String> =
        serde_json::from_value(ok.body["data"]["presigned_urls"].clone()).unwrap();
    assert_eq!(urls.len(), 10_000);
}

/// Uploads `size` bytes whose every byte is its part number, each part streamed in
/// chunks of 64 KiB, then streams the download back and checks every byte.
async fn streamed_round_trip(api: &Api, size: u64) {
    let target = api.target(".bin", size).await;
    let part_size = target.part_size;
    let plan = UploadPlan::new(&target, size).unwrap();
    for part in plan.parts() {
        let (number, part_len) = (part.number as u8, part.len);
        let chunks = (0..part_len.div_ceil(65_536)).map(move |i| {
            let len = (part_len - i * 65_536).min(65_536) as usize;
            Ok::<_, std::io::Error>(vec![number; len])
        });
        let put = api
            .http
            .put(&part.url)
            .header("content-length", part.len)
            .body(reqwest::Body::wrap_stream(futures_util::stream::iter(
                chunks,
            )))
            .send()
            .await
            .unwrap();
        assert_eq!(put.status(), StatusCode::OK);
    }
    let file = api.final_url(&target.upload_id).await.body;
    let mut response = api
        .http
        .get(file["data"]["url"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(response.content_length(), Some(size));
    let mut offset = 0u64;
    while let Some(chunk) = response.chunk().await.unwrap() {
        for (i, byte) in chunk.iter().enumerate() {
            let at = offset + i as u64;
            assert_eq!(*byte, (at / part_size + 1) as u8, "byte {at}");
        }
        offset += chunk.len() as u64;
    }
    assert_eq!(offset, size);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_large_upload_streams_through_disk() {
    // 24 MiB plus a bit, in parts of 8 MiB.
    let api = Api::start(fast().part_size(8 << 20)).await;
    streamed_round_trip(&api, (24 << 20) + 1000).await;
}

/// A 1 GiB upload and download in parts of 5 MiB: run with
/// `cargo test -p cloud-task-emulator --release -- --ignored one_gib`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "writes 1 GiB to the temporary directory"]
async fn one_gib_upload_round_trip() {
    let api = Api::start(fast()).await;
    streamed_round_trip(&api, 1 << 30).await;
}

trait JsonBody {
    fn json_body(self, value: serde_json::Value) -> Self;
}

impl JsonBody for reqwest::RequestBuilder {
    fn json_body(self, value: serde_json::Value) -> Self {
        self.header("content-type", "application/json")
            .body(value.to_string())
    }
}
