//! The account API: device sign-in, its confirmation and expiry, and the profile.

use std::time::Duration;

use cloud_task_emulator::{Emulator, ManualClock};
use reqwest::StatusCode;
use serde_json::json;

use crate::support::{Api, answer};

async fn code(api: &Api, state: &str) -> serde_json::Value {
    let answer = api
        .post("/v1/auth/device_login/code", json!({"stat": state}))
        .await;
    assert_eq!(answer.status, 200, "{:?}", answer.body);
    answer.body
}

async fn result(api: &Api, state: &str) -> (StatusCode, serde_json::Value) {
    let answer = api
        .get(&format!("/v1/auth/device_login/result?stat={state}"))
        .await;
    (answer.status, answer.body)
}

#[tokio::test]
async fn a_sign_in_confirms_itself_after_its_delay_answering_the_key_and_the_origin() {
    let clock = ManualClock::new();
    let api = Api::start(
        Emulator::builder()
            .manual_clock(clock.clone())
            .login_delay(Some(Duration::from_secs(3))),
    )
    .await;
    let code = code(&api, "s1").await;
    assert_eq!(code["status"], "waiting");
    assert_eq!(code["expires_in"], 300);
    assert!(
        code["verify_code_url"]
            .as_str()
            .unwrap()
            .starts_with(&api.emulator.base_url())
    );
    assert_eq!(result(&api, "s1").await.1, json!({"status": "waiting"}));
    clock.advance(Duration::from_secs(3));
    let (status, verified) = result(&api, "s1").await;
    assert_eq!(status, 200);
    assert_eq!(verified["status"], "verified");
    assert_eq!(verified["api_key"], api.key);
    assert_eq!(verified["endpoint"], api.emulator.base_url());
    // Answered once: the state is spent.
    assert_eq!(result(&api, "s1").await.0, 404);
}

#[tokio::test]
async fn without_a_delay_only_a_confirmation_does_and_codes_expire() {
    let clock = ManualClock::new();
    let api = Api::start(
        Emulator::builder()
            .manual_clock(clock.clone())
            .login_delay(None)
            .login_expiry(Duration::from_secs(60)),
    )
    .await;
    let first = code(&api, "a").await;
    clock.advance(Duration::from_secs(59));
    assert_eq!(result(&api, "a").await.1["status"], "waiting");
    // The control endpoint confirms by code; an unknown code is a 404.
    let unknown = api
        .post("/_emulator/device_login/verify", json!({"code": "nope"}))
        .await;
    assert_eq!(unknown.status, 404);
    let confirmed = api
        .post(
            "/_emulator/device_login/verify",
            json!({"code": first["code"]}),
        )
        .await;
    assert_eq!(confirmed.status, 204);
    assert_eq!(result(&api, "a").await.1["status"], "verified");
    // A code left alone expires: its result is a 404.
    let second = code(&api, "b").await;
    clock.advance(Duration::from_secs(60));
    assert_eq!(result(&api, "b").await.0, 404);
    assert!(!api.emulator.verify_login(second["code"].as_str().unwrap()));
    // The page of verify_code_url confirms, without a key, as a browser opens it.
    let third = code(&api, "c").await;
    let page = reqwest::get(third["verify_code_url"].as_str().unwrap())
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    assert_eq!(result(&api, "c").await.1["status"], "verified");
}

#[tokio::test]
async fn bad_states_are_refused_and_the_profile_needs_the_key() {
    let api = Api::start(Emulator::builder()).await;
    for body in [json!({}), json!({"stat": ""}), json!({"stat": "a b"})] {
        let answer = api.post("/v1/auth/device_login/code", body).await;
        assert_eq!(answer.status, 400);
    }
    let long = "x".repeat(129);
    assert_eq!(result(&api, &long).await.0, 400);
    // The profile: bare key or bearer; none is a 401.
    let profile = api.get("/v1/users/profile").await;
    assert_eq!(profile.status, 200);
    assert_eq!(profile.body["name"], "Emulator User");
    let bare = api
        .http
        .get(api.url("/v1/users/profile"))
        .header("authorization", &api.key)
        .send()
        .await
        .unwrap();
    assert_eq!(answer(bare).await.status, 200);
    let none = api
        .http
        .get(api.url("/v1/users/profile"))
        .send()
        .await
        .unwrap();
    assert_eq!(answer(none).await.status, 401);
    // Sign-ins need no key.
    let keyless = api
        .http
        .post(api.url("/v1/auth/device_login/code"))
        .header("content-type", "application/json")
        .body(r#"{"stat":"k"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(answer(keyless).await.status, 200);
}
