//! The device sign-in machine and the profile operation.

use std::time::{Duration, Instant};

use cloud_task_core::http::{self, StatusCode};
use cloud_task_core::{
    Config, DeviceLogin, Error, GetProfile, LoginAction, LoginOptions, MAX_LOGIN_POLL_FAILURES,
    MAX_LOGIN_WAIT, Operation, Transmit, TransportErrorKind,
};

use crate::KEY;

fn config() -> Config {
    Config::builder()
        .api_key(KEY)
        .endpoint("oomol.test")
        .build()
        .unwrap()
}

fn answer(status: u16, body: &str) -> http::Response<Vec<u8>> {
    http::Response::builder()
        .status(status)
        .body(body.as_bytes().to_vec())
        .unwrap()
}

fn code(expires_in: u64) -> String {
    format!(
        r#"{{"code":"WXYZ","expires_in":{expires_in},"status":"waiting","verify_code_url":"https://oomol.test/device"}}"#
    )
}

const WAITING: &str = r#"{"status":"waiting"}"#;
const VERIFIED: &str =
    r#"{"status":"verified","api_key":"sk-new","endpoint":"oomol.test","id":"u-1","name":"Ada"}"#;

fn send(login: &mut DeviceLogin, now: Instant) -> Transmit {
    match login.poll_action(now) {
        LoginAction::Send(transmit) => transmit,
        other => panic!("expected a request, got {other:?}"),
    }
}

/// A sign-in whose code (valid `expires_in` s) has been handed out.
fn started(expires_in: u64, options: LoginOptions, now: Instant) -> DeviceLogin {
    let mut login = DeviceLogin::with_state(&config(), "st", options, now);
    let request = send(&mut login, now);
    assert_eq!(request.request.method(), "POST");
    assert_eq!(
        request.request.uri(),
        "https://api.oomol.test/v1/auth/device_login/code"
    );
    assert_eq!(request.request.body(), br#"{"stat":"st"}"#);
    // No key travels with a sign-in.
    assert!(!request.request.headers().contains_key("authorization"));
    login.handle_response(request.id, answer(200, &code(expires_in)), now);
    match login.poll_action(now) {
        LoginAction::Code(code) => assert_eq!(code.code, "WXYZ"),
        other => panic!("expected the code, got {other:?}"),
    }
    login
}

#[test]
fn a_confirmed_sign_in_answers_the_account_after_polling_every_interval() {
    let t0 = Instant::now();
    let mut login = started(300, LoginOptions::new(), t0);
    let mut now = t0;
    for _ in 0..3 {
        let poll = send(&mut login, now);
        assert_eq!(
            poll.request.uri(),
            "https://api.oomol.test/v1/auth/device_login/result?stat=st"
        );
        assert!(!poll.request.headers().contains_key("authorization"));
        login.handle_response(poll.id, answer(200, WAITING), now);
        match login.poll_action(now) {
            LoginAction::Sleep(d) => assert_eq!(d, Duration::from_secs(2)),
            other => panic!("{other:?}"),
        }
        now += Duration::from_secs(2);
    }
    let poll = send(&mut login, now);
    login.handle_response(poll.id, answer(200, VERIFIED), now);
    let LoginAction::Done(Ok(account)) = login.poll_action(now) else {
        panic!("not verified")
    };
    assert_eq!(account.api_key.expose_secret(), "sk-new");
    assert_eq!((account.id.as_str(), account.name.as_str()), ("u-1", "Ada"));
    assert_eq!(account.endpoint, "oomol.test");
    assert!(!format!("{account:?}").contains("sk-new"));
}

#[test]
fn a_code_that_is_never_confirmed_expires_and_an_expiry_of_years_is_capped() {
    for (expires_in, bound) in [
        (10, Duration::from_secs(10)),
        (10u64.pow(12), MAX_LOGIN_WAIT),
    ] {
        let t0 = Instant::now();
        let mut login = started(expires_in, LoginOptions::new(), t0);
        let mut now = t0;
        let mut polls: u32 = 0;
        let error = loop {
            match login.poll_action(now) {
                LoginAction::Send(poll) => {
                    polls += 1;
                    login.handle_response(poll.id, answer(200, WAITING), now);
                }
                LoginAction::Sleep(d) => now += d,
                LoginAction::Done(Err(error)) => break error,
                other => panic!("{other:?}"),
            }
            assert!(polls <= 1000, "an endless sign-in");
        };
        assert!(matches!(error, Error::Timeout(_)), "{error}");
        assert!(error.to_string().contains("not confirmed"), "{error}");
        assert_eq!(now - t0, bound);
        assert_eq!(u128::from(polls), bound.as_millis() / 2000);
    }
}

#[test]
fn passing_failures_are_outlasted_and_too_many_in_a_row_end_it() {
    let t0 = Instant::now();
    let mut login = started(300, LoginOptions::new(), t0);
    let mut now = t0;
    // A 503, a transport failure, then a verified answer.
    let poll = send(&mut login, now);
    login.handle_response(poll.id, answer(503, "busy"), now);
    let LoginAction::Sleep(d) = login.poll_action(now) else {
        panic!()
    };
    now += d;
    let poll = send(&mut login, now);
    login.handle_transport_error(
        poll.id,
        Error::transport(TransportErrorKind::Connect, "refused"),
        now,
    );
    let LoginAction::Sleep(d) = login.poll_action(now) else {
        panic!()
    };
    now += d;
    let poll = send(&mut login, now);
    login.handle_response(poll.id, answer(200, VERIFIED), now);
    assert!(matches!(login.poll_action(now), LoginAction::Done(Ok(_))));

    // Failures without end: the last one allowed plus one ends it with that error.
    let mut login = started(300, LoginOptions::new(), t0);
    let mut now = t0;
    let mut failures = 0;
    let error = loop {
        match login.poll_action(now) {
            LoginAction::Send(poll) => {
                failures += 1;
                login.handle_response(poll.id, answer(502, "bad gateway"), now);
            }
            LoginAction::Sleep(d) => now += d,
            LoginAction::Done(Err(error)) => break error,
            other => panic!("{other:?}"),
        }
    };
    assert_eq!(failures, MAX_LOGIN_POLL_FAILURES + 1);
    assert!(matches!(&error, Error::Api(api) if api.status == StatusCode::BAD_GATEWAY));
    // A refusal (4xx) ends it at once.
    let mut login = started(300, LoginOptions::new(), t0);
    let poll = send(&mut login, t0);
    login.handle_response(poll.id, answer(403, r#"{"message":"denied"}"#), t0);
    assert!(matches!(
        login.poll_action(t0),
        LoginAction::Done(Err(Error::Api(_)))
    ));
}

#[test]
fn a_cancelled_or_timed_out_sign_in_ends_and_stays_ended() {
    let t0 = Instant::now();
    let mut login = started(300, LoginOptions::new(), t0);
    let poll = send(&mut login, t0);
    login.cancel();
    // The late answer is ignored.
    login.handle_response(poll.id, answer(200, VERIFIED), t0);
    assert!(matches!(
        login.poll_action(t0),
        LoginAction::Done(Err(Error::Cancelled(_)))
    ));
    // The caller's timeout wins over the code's expiry.
    let mut login = started(300, LoginOptions::new().timeout(Duration::from_secs(5)), t0);
    let mut now = t0;
    let error = loop {
        match login.poll_action(now) {
            LoginAction::Send(poll) => login.handle_response(poll.id, answer(200, WAITING), now),
            LoginAction::Sleep(d) => now += d,
            LoginAction::Done(Err(error)) => break error,
            other => panic!("{other:?}"),
        }
    };
    assert!(matches!(error, Error::Timeout(_)));
    assert_eq!(now - t0, Duration::from_secs(5));
}

#[test]
fn hostile_answers_are_refused_with_a_protocol_error() {
    let t0 = Instant::now();
    for bad in [
        r#"{"code":"A","expires_in":300,"status":"waiting","verify_code_url":"https://x.test/\u001b[2J"}"#,
        r#"{"code":"A","expires_in":300,"status":"waiting","verify_code_url":"javascript:alert(1)"}"#,
        r#"{"code":"A","expires_in":300,"status":"waiting","verify_code_url":"https://x.test/a b"}"#,
        r#"{"code":"A\u001b]0;x\u0007","expires_in":300,"status":"waiting","verify_code_url":"https://x.test/"}"#,
        r#"{"code":"A","expires_in":0,"status":"waiting","verify_code_url":"https://x.test/"}"#,
        r#"{"code":"A","expires_in":300,"status":"verified","verify_code_url":"https://x.test/"}"#,
        r#"{"code":"A","status":"waiting","verify_code_url":"https://x.test/"}"#,
    ] {
        let mut login = DeviceLogin::with_state(&config(), "st", LoginOptions::new(), t0);
        let request = send(&mut login, t0);
        login.handle_response(request.id, answer(200, bad), t0);
        match login.poll_action(t0) {
            LoginAction::Done(Err(Error::Protocol(_) | Error::Decode(_))) => {}
            other => panic!("{bad}: {other:?}"),
        }
    }
    for bad in [
        r#"{"status":"verified","endpoint":"oomol.test","id":"u","name":"n"}"#,
        r#"{"status":"verified","api_key":"k\n","endpoint":"oomol.test/x","id":"u","name":"n"}"#,
        r#"{"status":"verified","api_key":"k","endpoint":"evil.test/path","id":"u","name":"n"}"#,
        r#"{"status":"verified","api_key":"k","endpoint":"oomol.test","name":"n"}"#,
        r#"{"status":"denied"}"#,
    ] {
        let mut login = started(300, LoginOptions::new(), t0);
        let poll = send(&mut login, t0);
        login.handle_response(poll.id, answer(200, bad), t0);
        match login.poll_action(t0) {
            LoginAction::Done(Err(Error::Protocol(e))) => {
                assert!(!e.to_string().contains('\n'), "{e}");
            }
            other => panic!("{bad}: {other:?}"),
        }
    }
}

#[test]
fn the_profile_goes_to_the_account_api_with_the_key_bare() {
    let request = GetProfile.request(&config()).unwrap();
    assert_eq!(request.uri(), "https://api.oomol.test/v1/users/profile");
    assert_eq!(request.headers()["authorization"], KEY);
    let profile = GetProfile
        .parse(answer(200, r#"{"id":7,"name":"Ada","plan":"pro"}"#))
        .unwrap();
    assert_eq!(profile.id().as_deref(), Some("7"));
    assert_eq!(profile.name().as_deref(), Some("Ada"));
    assert!(matches!(
        GetProfile.parse(answer(401, r#"{"message":"bad key"}"#)),
        Err(Error::Api(api)) if api.status == 401
    ));
    // No key: refused before anything is sent.
    let keyless = Config::builder().build().unwrap();
    assert!(matches!(
        GetProfile.request(&keyless),
        Err(Error::InvalidInput(_))
    ));
}

#[test]
fn each_sign_in_draws_its_own_state() {
    let states: std::collections::HashSet<String> =
        (0..100).map(|_| cloud_task_core::login_state()).collect();
    assert_eq!(states.len(), 100);
    assert!(
        states
            .iter()
            .all(|s| s.len() == 32 && s.chars().all(|c| c.is_ascii_hexdigit()))
    );
}
