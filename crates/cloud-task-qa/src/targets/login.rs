//! Fuzz target: a device sign-in against a server answering as the input says.

use std::time::{Duration, Instant};

use cloud_task_core::http::header::AUTHORIZATION;
use cloud_task_core::{
    ApiKey, Config, DeviceLogin, GetProfile, LoginAction, LoginOptions, MAX_LOGIN_POLL_FAILURES,
    MAX_LOGIN_WAIT, Operation, endpoint_urls,
};

use super::{Input, check_error_text, response};

/// The bodies a result request is answered with, besides arbitrary bytes.
const ANSWERS: [&str; 6] = [
    r#"{"status":"waiting"}"#,
    r#"{"status":"verified","api_key":"sk-fuzz","endpoint":"oomol.test","id":"u","name":"n"}"#,
    r#"{"status":"verified","api_key":"sk fuzz","endpoint":"oomol.test","id":"u","name":"n"}"#,
    r#"{"status":"verified","api_key":"k","endpoint":"a/b","id":7,"name":"\u001b[2J"}"#,
    r#"{"status":"expired"}"#,
    r#"{"status":"waiting","extra":[1,2,3]}"#,
];

/// Fuzz target: a sign-in whose code answer (its `expires_in`, its page, its code) and
/// each result answer (status, body, a transport failure) come from the input. The
/// sign-in never panics; it sends no key; it hands the code out at most once, before any
/// result request; it ends within the code's expiry capped at `MAX_LOGIN_WAIT`, after at
/// most one result request per interval; a verified account has a key that can be sent
/// and an endpoint that is a domain or an origin; errors are one line. The profile's
/// `parse` is driven with the same bytes. Answers whether the sign-in succeeded.
pub fn login(data: &[u8]) -> bool {
    let mut input = Input::new(data);
    let config = Config::builder()
        .api_key("sk-config-key")
        .endpoint("oomol.test")
        .build()
        .expect("a valid config");
    let t0 = Instant::now();
    let interval = Duration::from_millis(100 + u64::from(input.byte()) * 10);
    let mut login =
        DeviceLogin::with_state(&config, "state", LoginOptions::new().interval(interval), t0);
    let expires_in = match input.byte() % 4 {
        0 => u64::from(input.byte()),
        1 => input.u64(),
        2 => 30,
        _ => 1,
    };
    let url = match input.byte() % 4 {
        0 => "https://oomol.test/device".to_owned(),
        1 => "https://oomol.test/\u{1b}]0;x\u{7}".to_owned(),
        2 => String::from_utf8_lossy(input.take(24)).into_owned(),
        _ => "javascript:alert(1)".to_owned(),
    };
    let code_len = usize::from(input.byte() % 12);
    let code_body = serde_json::json!({
        "code": String::from_utf8_lossy(input.take(code_len)),
        "expires_in": expires_in,
        "status": if input.byte().is_multiple_of(8) { "verified" } else { "waiting" },
        "verify_code_url": url,
    })
    .to_string();
    let mut now = t0;
    let mut codes = 0;
    let mut results = 0u64;
    let mut first_result = None;
    let mut steps = 0u64;
    let bound = MAX_LOGIN_WAIT.as_millis() as u64 / interval.as_millis() as u64
        + u64::from(MAX_LOGIN_POLL_FAILURES)
        + 8;
    let outcome = loop {
        steps += 1;
        assert!(steps < 4 * bound + 16, "the sign-in does not end");
        match login.poll_action(now) {
            LoginAction::Send(transmit) => {
                assert!(
                    !transmit.request.headers().contains_key(AUTHORIZATION),
                    "a key travelled with a sign-in"
                );
                let is_code = transmit.request.method() == "POST";
                if is_code {
                    login.handle_response(
                        transmit.id,
                        response(200.try_into().unwrap(), code_body.as_bytes()),
                        now,
                    );
                    continue;
                }
                assert!(codes == 1, "a result request before the code was shown");
                results += 1;
                first_result.get_or_insert(now);
                match input.byte() % 8 {
                    0 => login.handle_transport_error(
                        transmit.id,
                        cloud_task_core::Error::transport(
                            cloud_task_core::TransportErrorKind::Connect,
                            "refused",
                        ),
                        now,
                    ),
                    1 => {
                        let status = input.status();
                        let len = usize::from(input.byte() % 32);
                        login.handle_response(transmit.id, response(status, input.take(len)), now);
                    }
                    n => {
                        let body = ANSWERS[usize::from(n) % ANSWERS.len()];
                        login.handle_response(
                            transmit.id,
                            response(200.try_into().unwrap(), body.as_bytes()),
                            now,
                        );
                    }
                }
            }
            LoginAction::Code(code) => {
                codes += 1;
                assert_eq!(codes, 1, "the code was handed out twice");
                assert!(
                    !code
                        .verify_code_url
                        .chars()
                        .any(|c| c.is_control() || c.is_whitespace()),
                    "a page a terminal would act on: {:?}",
                    code.verify_code_url
                );
                assert!(!code.code.chars().any(char::is_control));
            }
            LoginAction::Wait(d) | LoginAction::Sleep(d) => {
                assert!(d > Duration::ZERO || results == 0);
                now += d.max(Duration::from_millis(1));
            }
            LoginAction::Done(outcome) => break outcome,
        }
    };
    if let Some(first) = first_result {
        let waited = now.saturating_duration_since(first);
        assert!(
            waited <= MAX_LOGIN_WAIT.min(Duration::from_secs(expires_in)) + interval,
            "waited {waited:?} past the code's expiry"
        );
        assert!(
            results <= waited.as_millis() as u64 / interval.as_millis() as u64 + 1,
            "{results} result requests in {waited:?}: more than one per interval"
        );
    }
    // The profile's parse, from the same bytes.
    let _ = GetProfile.parse(response(200.try_into().unwrap(), data));
    match outcome {
        Ok(account) => {
            assert!(ApiKey::check(account.api_key.expose_secret()).is_ok());
            assert!(endpoint_urls(&account.endpoint).is_ok());
            assert!(!account.name.chars().any(char::is_control));
            assert!(!format!("{account:?}").contains(account.api_key.expose_secret()));
            true
        }
        Err(error) => {
            check_error_text(&error);
            false
        }
    }
}

/// Fuzz target: arbitrary bytes as a stored credentials file. Reading never panics; a file
/// read back has a key that can be sent and an endpoint that is a domain or an origin; an
/// error never quotes the file. Answers whether it was read.
pub fn credentials(data: &[u8]) -> bool {
    let dir = std::env::temp_dir().join(format!("qa-credentials-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("a directory");
    let path = dir.join(format!("{:?}.json", std::thread::current().id()).replace(['(', ')'], ""));
    std::fs::write(&path, data).expect("a file");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))
            .expect("permissions");
    }
    let outcome = cloud_task_local::credentials::load_credentials(&path);
    let _ = std::fs::remove_file(&path);
    match outcome {
        Ok(Some(account)) => {
            assert!(ApiKey::check(account.api_key.expose_secret()).is_ok());
            assert!(endpoint_urls(&account.endpoint).is_ok());
            true
        }
        Ok(None) => panic!("a file that exists read as none"),
        Err(error) => {
            let text = error.to_string();
            assert!(!text.contains('\n'), "{text}");
            if let Ok(value) = serde_json::from_slice::<serde_json::Value>(data)
                && let Some(key) = value.get("api_key").and_then(|k| k.as_str())
                && key.len() >= 8
            {
                assert!(!text.contains(key), "the error quotes the key: {text}");
            }
            false
        }
    }
}
