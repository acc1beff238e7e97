//! Signing in (device login) and the signed-in user (whoami), on both clients.

use std::time::Duration;

use cloud_task_core::{CancelToken, Error, LoginOptions};
use cloud_task_emulator::Route;

use crate::driver::Driver;
use crate::{conformance, virtual_emulator};

conformance!(
    a_confirmed_sign_in_answers_a_key_that_works,
    a_sign_in_never_confirmed_expires_with_the_code,
    a_cancelled_sign_in_stops_at_once,
    whoami_names_the_user_and_a_refused_key_is_an_api_error,
);

fn a_confirmed_sign_in_answers_a_key_that_works<D: Driver>() {
    let (emulator, clock) = virtual_emulator(|b| b.login_delay(Some(Duration::from_secs(3))));
    // A client with no key signs in; none is sent.
    let client = D::of_with(&emulator, |c| c.api_key_opt(None));
    let started = clock.elapsed();
    let mut codes = Vec::new();
    let account = client
        .login(LoginOptions::new(), &mut |code| codes.push(code.clone()))
        .unwrap();
    assert_eq!(codes.len(), 1, "the code is shown once");
    assert!(codes[0].verify_code_url.starts_with(&emulator.base_url()));
    assert_eq!(account.api_key.expose_secret(), emulator.api_key());
    assert_eq!(account.endpoint, emulator.base_url());
    assert_eq!(account.name, "Emulator User");
    // Every 2 s from the code: at 0, 2 and 4 s (confirmed at 3 s).
    assert_eq!(emulator.stats().count(Route::DeviceLoginCode), 1);
    assert_eq!(emulator.stats().count(Route::DeviceLoginResult), 3);
    assert_eq!(clock.elapsed() - started, Duration::from_secs(4));
    // The account's endpoint and key make a working client.
    let signed_in = D::of_with(&emulator, |c| {
        c.endpoint(&account.endpoint)
            .api_key(account.api_key.clone())
    });
    assert_eq!(
        signed_in.whoami().unwrap().name().as_deref(),
        Some("Emulator User")
    );
}

fn a_sign_in_never_confirmed_expires_with_the_code<D: Driver>() {
    let (emulator, clock) =
        virtual_emulator(|b| b.login_delay(None).login_expiry(Duration::from_secs(10)));
    let client = D::of(&emulator);
    let started = clock.elapsed();
    let error = client.login(LoginOptions::new(), &mut |_| {}).unwrap_err();
    assert!(matches!(error, Error::Timeout(_)), "{error}");
    assert!(
        error.to_string().contains("not confirmed within 10 s"),
        "{error}"
    );
    assert_eq!(clock.elapsed() - started, Duration::from_secs(10));
    assert_eq!(emulator.stats().count(Route::DeviceLoginResult), 5);
    // A timeout of the caller's own ends it sooner.
    let (emulator, clock) = virtual_emulator(|b| b.login_delay(None));
    let client = D::of(&emulator);
    let started = clock.elapsed();
    let error = client
        .login(
            LoginOptions::new().timeout(Duration::from_secs(5)),
            &mut |_| {},
        )
        .unwrap_err();
    assert!(matches!(error, Error::Timeout(_)), "{error}");
    assert_eq!(clock.elapsed() - started, Duration::from_secs(5));
}

fn a_cancelled_sign_in_stops_at_once<D: Driver>() {
    let (emulator, _clock) = virtual_emulator(|b| b.login_delay(None));
    let client = D::of(&emulator);
    let token = CancelToken::new();
    let cancel = token.clone();
    let error = client
        .login(LoginOptions::new().cancel_token(token), &mut |_| {
            cancel.cancel()
        })
        .unwrap_err();
    assert!(matches!(error, Error::Cancelled(_)), "{error}");
    assert!(emulator.stats().count(Route::DeviceLoginResult) <= 1);
}

fn whoami_names_the_user_and_a_refused_key_is_an_api_error<D: Driver>() {
    let (emulator, _clock) = virtual_emulator(|b| b);
    let client = D::of(&emulator);
    let profile = client.whoami().unwrap();
    assert_eq!(profile.id().as_deref(), Some("emulator-user"));
    let refused = D::of_with(&emulator, |c| c.api_key("not-the-key"));
    match refused.whoami() {
        Err(Error::Api(api)) => assert_eq!(api.status, 401),
        other => panic!("{other:?}"),
    }
    // No key: refused before anything is sent.
    let keyless = D::of_with(&emulator, |c| c.api_key_opt(None));
    assert!(matches!(keyless.whoami(), Err(Error::InvalidInput(_))));
    assert_eq!(emulator.stats().count(Route::Profile), 2);
}
