//! The account API: device sign-in and the user's profile, as `api.{domain}` serves them
//! (here at the emulator's one origin).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use axum::body::{Body, to_bytes};
use axum::extract::{RawQuery, State};
use axum::response::{IntoResponse, Response};
use http::StatusCode;
use serde::Deserialize;
use serde_json::json;

use super::error::{Answer, ApiError, ok};
use super::params::query_value;
use super::state::Shared;
use crate::util::lock;

/// The most sign-ins kept at once; past it, the oldest is forgotten.
pub(crate) const MAX_LOGINS: usize = 1_000;
/// The page a sign-in's user opens (`verify_code_url`): opening it confirms the code.
pub(crate) const CONFIRM_PATH: &str = "/device-login";
/// The user every sign-in and profile names.
pub(crate) const USER_ID: &str = "emulator-user";
/// Its name.
pub(crate) const USER_NAME: &str = "Emulator User";

/// How sign-ins behave.
#[derive(Debug, Clone, Copy)]
pub(crate) struct LoginSettings {
    /// Confirmed by themselves this long after the code was asked for; `None`: only
    /// through `POST /_emulator/device_login/verify`.
    pub(crate) delay: Option<Duration>,
    /// How long a code is valid (its `expires_in`).
    pub(crate) expiry: Duration,
}

/// One sign-in under way.
struct Login {
    code: String,
    /// When its code was asked for, on the emulator's clock.
    started: Duration,
    verified: bool,
}

/// The sign-ins under way, by state.
pub(crate) struct Logins {
    settings: LoginSettings,
    by_state: HashMap<String, Login>,
    next_code: u64,
}

impl Logins {
    pub(crate) fn new(settings: LoginSettings) -> Self {
        Logins {
            settings,
            by_state: HashMap::new(),
            next_code: 1,
        }
    }

    /// Forgets the expired sign-ins, then the oldest ones past [`MAX_LOGINS`].
    fn prune(&mut self, now: Duration) {
        let expiry = self.settings.expiry;
        self.by_state
            .retain(|_, login| now.saturating_sub(login.started) < expiry);
        while self.by_state.len() >= MAX_LOGINS {
            let oldest = self
                .by_state
                .iter()
                .min_by_key(|(_, login)| login.started)
                .map(|(state, _)| state.clone());
            match oldest {
                Some(state) => self.by_state.remove(&state),
                None => break,
            };
        }
    }

    /// Confirms the sign-in showing `code`; false when none does.
    pub(crate) fn verify(&mut self, code: &str, now: Duration) -> bool {
        self.prune(now);
        match self.by_state.values_mut().find(|login| login.code == code) {
            Some(login) => {
                login.verified = true;
                true
            }
            None => false,
        }
    }
}

#[derive(Deserialize)]
pub(crate) struct CodeBody {
    stat: Option<String>,
}

/// A state as the clients send it: 1 to 128 visible ASCII characters.
fn check_state(state: Option<&str>) -> Result<&str, ApiError> {
    match state {
        Some(s) if !s.is_empty() && s.len() <= 128 && s.bytes().all(|b| b.is_ascii_graphic()) => {
            Ok(s)
        }
        _ => Err(ApiError(
            StatusCode::BAD_REQUEST,
            "stat must be 1 to 128 visible ASCII characters".to_owned(),
        )),
    }
}

/// `POST /v1/auth/device_login/code` with `{"stat": ...}`: a code and where to confirm it.
pub(crate) async fn device_login_code(State(shared): State<Arc<Shared>>, body: Body) -> Answer {
    let body: CodeBody = read_json(body).await?;
    let state = check_state(body.stat.as_deref())?.to_owned();
    let now = shared.now();
    let mut logins = lock(&shared.logins);
    logins.prune(now);
    let code = format!("EMU-{:04}", logins.next_code % 10_000);
    logins.next_code += 1;
    let expires_in = logins.settings.expiry.as_secs().max(1);
    logins.by_state.insert(
        state,
        Login {
            code: code.clone(),
            started: now,
            verified: false,
        },
    );
    ok(&json!({
        "code": code,
        "expires_in": expires_in,
        "status": "waiting",
        "verify_code_url": format!("{}{CONFIRM_PATH}?code={code}", shared.base_url),
    }))
}

/// A small JSON body.
async fn read_json<T: serde::de::DeserializeOwned>(body: Body) -> Result<T, ApiError> {
    let bytes = to_bytes(body, 16 * 1024)
        .await
        .map_err(|_| ApiError::bad_request("the body is unreadable or too large"))?;
    serde_json::from_slice(&bytes).map_err(|e| ApiError::bad_request(format!("invalid body: {e}")))
}

/// `GET /v1/auth/device_login/result?stat=...`: `waiting`, then `verified` with the key.
pub(crate) async fn device_login_result(
    State(shared): State<Arc<Shared>>,
    RawQuery(query): RawQuery,
) -> Answer {
    let stat = query_value(query.as_deref(), "stat");
    let state = check_state(stat.as_deref())?;
    let now = shared.now();
    let mut logins = lock(&shared.logins);
    logins.prune(now);
    let delay = logins.settings.delay;
    let Some(login) = logins.by_state.get(state) else {
        return Err(ApiError(
            StatusCode::NOT_FOUND,
            "no sign-in under way with this stat (or its code expired)".to_owned(),
        ));
    };
    let confirmed = login.verified || delay.is_some_and(|d| now.saturating_sub(login.started) >= d);
    if !confirmed {
        return ok(&json!({"status": "waiting"}));
    }
    logins.by_state.remove(state);
    let key = shared.api_keys.first().cloned().unwrap_or_default();
    ok(&json!({
        "status": "verified",
        "api_key": key,
        "endpoint": shared.base_url,
        "id": USER_ID,
        "name": USER_NAME,
    }))
}

/// `GET /v1/users/profile`: the user (the key is checked by the route's guard).
pub(crate) async fn profile() -> Answer {
    ok(&json!({"id": USER_ID, "name": USER_NAME}))
}

#[derive(Deserialize)]
pub(crate) struct VerifyBody {
    code: String,
}

/// `POST /_emulator/device_login/verify` with `{"code": ...}`: confirms that sign-in, as
/// the user would on the page (204; 404 when no sign-in shows that code).
pub(crate) async fn verify(State(shared): State<Arc<Shared>>, body: Body) -> Response {
    let body: VerifyBody = match read_json(body).await {
        Ok(body) => body,
        Err(error) => return error.into_response(),
    };
    let now = shared.now();
    if lock(&shared.logins).verify(&body.code, now) {
        StatusCode::NO_CONTENT.into_response()
    } else {
        ApiError(
            StatusCode::NOT_FOUND,
            format!("no sign-in under way shows the code {:?}", body.code),
        )
        .into_response()
    }
}

/// `GET /device-login?code=...`: the page of `verify_code_url`. Opening it confirms the
/// sign-in, as signing in on OOMOL's page would (plain text; 404 for an unknown code).
pub(crate) async fn confirm_page(
    State(shared): State<Arc<Shared>>,
    RawQuery(query): RawQuery,
) -> Response {
    let code = query_value(query.as_deref(), "code").unwrap_or_default();
    let now = shared.now();
    if lock(&shared.logins).verify(&code, now) {
        "Signed in to the OOMOL Cloud Task emulator. You can close this page.\n".into_response()
    } else {
        (
            StatusCode::NOT_FOUND,
            "No sign-in under way shows this code (it may have expired).\n",
        )
            .into_response()
    }
}
