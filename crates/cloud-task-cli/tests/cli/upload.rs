//! `upload`: the URL as the last line, a round trip, retries, a missing file.

use cloud_task_emulator::{Fault, FaultRule, Route};

use crate::support::*;

/// 5000 bytes that differ from part to part.
fn contents() -> Vec<u8> {
    (0..5000u32).map(|i| (i * 7 % 251) as u8).collect()
}

fn download(url: &str) -> Vec<u8> {
    let response = reqwest::blocking::get(url).expect("the download is answered");
    assert!(response.status().is_success(), "{}", response.status());
    response.bytes().expect("a body").to_vec()
}

#[test]
fn upload_prints_the_url_last_and_the_file_comes_back_the_same() {
    let server = Server::with(|b| b.part_size(1024));
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("report.pdf");
    std::fs::write(&path, contents()).unwrap();
    let output = server.run(&["upload", path.to_str().unwrap()]);
    assert_eq!(code(&output), 0, "{}", stderr(&output));
    let text = stdout(&output);
    let url = text.lines().last().expect("a line");
    assert!(url.starts_with("http://127.0.0.1:"), "{text}");
    assert_eq!(download(url), contents());
    assert!(stderr(&output).contains("uploaded report.pdf (5000 bytes)"));
    assert_no_drawing(&stderr(&output));
    assert_eq!(server.emulator.stats().count(Route::UploadPart), 5);
}

#[test]
fn upload_json_describes_the_file() {
    let server = Server::with(|b| b.part_size(1024));
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("data.bin");
    std::fs::write(&path, contents()).unwrap();
    let output = server.run(&[
        "upload",
        path.to_str().unwrap(),
        "--json",
        "--concurrency",
        "2",
    ]);
    assert_eq!(code(&output), 0, "{}", stderr(&output));
    let doc = json(&output);
    assert_eq!(doc["file_size"], 5000);
    assert!(
        doc["file_name"].as_str().unwrap().ends_with(".bin"),
        "{doc}"
    );
    assert_eq!(download(doc["url"].as_str().unwrap()), contents());
}

#[test]
fn failed_parts_are_retried() {
    let server = Server::with(|b| b.part_size(1024));
    server
        .emulator
        .add_fault(FaultRule::new(Route::UploadPart, Fault::ServiceUnavailable).times(1));
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("a.txt");
    std::fs::write(&path, contents()).unwrap();
    let output = server.run(&["upload", path.to_str().unwrap()]);
    assert_eq!(code(&output), 0, "{}", stderr(&output));
    let url = stdout(&output).lines().last().unwrap().to_owned();
    assert_eq!(download(&url), contents());
    assert_eq!(server.emulator.stats().count(Route::UploadPart), 6);

    server
        .emulator
        .add_fault(FaultRule::new(Route::UploadPart, Fault::ServiceUnavailable));
    let output = server.run(&["upload", path.to_str().unwrap(), "--retries", "1", "--json"]);
    assert_eq!(code(&output), 3);
    let doc = json(&output);
    assert_eq!(doc["error"]["kind"], "upload");
    assert_eq!(doc["error"]["code"], "RETRY_EXHAUSTED");
}

#[test]
fn a_missing_file_is_a_usage_error_naming_it() {
    let server = Server::start();
    let output = server.run(&["upload", "/nonexistent/file.pdf"]);
    assert_eq!(code(&output), 2);
    let err = stderr(&output);
    assert!(
        err.starts_with("error: reading /nonexistent/file.pdf failed"),
        "{err}"
    );
    assert!(output.stdout.is_empty());
    assert_eq!(server.emulator.stats().count(Route::UploadInit), 0);
}
