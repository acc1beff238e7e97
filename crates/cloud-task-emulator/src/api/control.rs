//! The control endpoints under `/_emulator`: faults and statistics as JSON, for tests
//! written in any language and for the command line. They are not counted in the
//! statistics, and since they can steer the emulator they are guarded against a web page
//! reaching them from a browser: each needs an API key the emulator accepts (which a page
//! cannot send across origins without a preflight), a body must be JSON
//! (`Content-Type: application/json`, which a cross-origin "simple" request cannot be), and
//! the `Host` must be `localhost` or an IP address with the emulator's port (no DNS
//! rebinding).

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::middleware::{Next, from_fn_with_state};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use http::{HeaderMap, StatusCode};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use super::error::{ApiError, json};
use super::guard::{authorise, host_allowed};
use super::state::Shared;
use crate::fault::{Fault, FaultRule, Route};
use crate::stats::Stats;
use crate::util::lock;

/// A fault rule as JSON, e.g.
/// `{"route":"task_result","fault":"too_many_requests","retryAfterMs":1500,"times":2}`.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct FaultRuleJson {
    route: String,
    fault: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    retry_after_ms: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    delay_ms: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    after_bytes: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    times: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    probability: Option<f64>,
    #[serde(default, skip_serializing_if = "is_zero")]
    skip: u64,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

const FAULT_NAMES: &str = "service_unavailable, too_many_requests, delay, drop_connection, drop_answer, malformed_body, cut_body";

impl FaultRuleJson {
    fn into_rule(self) -> Result<FaultRule, ApiError> {
        let route: Route = self
            .route
            .parse()
            .map_err(|e: crate::fault::UnknownRoute| ApiError::bad_request(e.to_string()))?;
        let fault = match self.fault.as_str() {
            "service_unavailable" => Fault::ServiceUnavailable,
            "too_many_requests" => Fault::TooManyRequests {
                retry_after: Duration::from_millis(self.retry_after_ms.unwrap_or(1000)),
            },
            "delay" => Fault::Delay(Duration::from_millis(self.delay_ms.ok_or_else(|| {
                ApiError::bad_request("delayMs is required by the delay fault")
            })?)),
            "drop_connection" => Fault::DropConnection,
            "drop_answer" => Fault::DropAnswer,
            "malformed_body" => Fault::MalformedBody,
            "cut_body" => Fault::CutBody {
                after: self.after_bytes.ok_or_else(|| {
                    ApiError::bad_request("afterBytes is required by the cut_body fault")
                })?,
            },
            other => {
                return Err(ApiError::bad_request(format!(
                    "unknown fault {other:?}; expected one of: {FAULT_NAMES}"
                )));
            }
        };
        let mut rule = FaultRule::new(route, fault).skip(self.skip);
        if let Some(times) = self.times {
            rule = rule.times(times);
        }
        if let Some(p) = self.probability {
            if !(0.0..=1.0).contains(&p) {
                return Err(ApiError::bad_request(
                    "probability must be a number from 0 to 1",
                ));
            }
            rule = rule.probability(p);
        }
        Ok(rule)
    }

    fn from_rule(rule: &FaultRule) -> Self {
        let (retry_after_ms, delay_ms) = match rule.fault() {
            Fault::TooManyRequests { retry_after } => (Some(millis(*retry_after)), None),
            Fault::Delay(delay) => (None, Some(millis(*delay))),
            _ => (None, None),
        };
        let after_bytes = match rule.fault() {
            Fault::CutBody { after } => Some(*after),
            _ => None,
        };
        FaultRuleJson {
            route: rule.route().as_str().to_owned(),
            fault: rule.fault().name().to_owned(),
            retry_after_ms,
            delay_ms,
            after_bytes,
            times: rule.remaining(),
            probability: rule.get_probability(),
            skip: rule.skipping(),
        }
    }
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

fn headers_json(headers: &HeaderMap) -> Value {
    let mut map = Map::new();
    for name in headers.keys() {
        let values: Vec<String> = headers
            .get_all(name)
            .iter()
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
            .collect();
        map.insert(name.as_str().to_owned(), values.join(", ").into());
    }
    Value::Object(map)
}

/// The statistics as JSON.
pub(crate) fn stats_json(stats: &Stats) -> Value {
    let routes: Map<String, Value> = Route::ALL
        .iter()
        .map(|r| (r.as_str().to_owned(), stats.count(*r).into()))
        .collect();
    json!({
        "total": stats.total(),
        "routes": routes,
        "partUploadHeaders": stats.part_upload_headers().iter().map(headers_json).collect::<Vec<_>>(),
    })
}

async fn info(State(shared): State<Arc<Shared>>) -> Response {
    json(StatusCode::OK, &shared.info)
}

async fn get_stats(State(shared): State<Arc<Shared>>) -> Response {
    json(StatusCode::OK, &stats_json(&shared.stats.snapshot()))
}

async fn reset_stats(State(shared): State<Arc<Shared>>) -> Response {
    shared.stats.reset();
    StatusCode::NO_CONTENT.into_response()
}

fn faults_json(shared: &Shared) -> Value {
    let faults: Vec<FaultRuleJson> = lock(&shared.faults)
        .rules()
        .iter()
        .map(FaultRuleJson::from_rule)
        .collect();
    json!({ "faults": faults })
}

async fn get_faults(State(shared): State<Arc<Shared>>) -> Response {
    json(StatusCode::OK, &faults_json(&shared))
}

async fn add_fault(State(shared): State<Arc<Shared>>, body: Body) -> Response {
    let added = async {
        let bytes = axum::body::to_bytes(body, 64 * 1024)
            .await
            .map_err(|_| ApiError::bad_request("the fault body is unreadable or too large"))?;
        let rule: FaultRuleJson = serde_json::from_slice(&bytes)
            .map_err(|e| ApiError::bad_request(format!("invalid fault rule: {e}")))?;
        let rule = rule.into_rule()?;
        let answer = FaultRuleJson::from_rule(&rule);
        lock(&shared.faults).add(rule);
        Ok::<_, ApiError>(answer)
    };
    match added.await {
        Ok(rule) => json(StatusCode::CREATED, &rule),
        Err(e) => e.into_response(),
    }
}

async fn clear_faults(State(shared): State<Arc<Shared>>) -> Response {
    lock(&shared.faults).clear();
    StatusCode::NO_CONTENT.into_response()
}

/// Runs before every control handler: the `Host`, the API key, and JSON bodies.
async fn guard(State(shared): State<Arc<Shared>>, request: Request, next: Next) -> Response {
    if !host_allowed(&request, shared.port) {
        return ApiError(
            StatusCode::MISDIRECTED_REQUEST,
            format!(
                "control requests must be sent to localhost or an IP address on port {}",
                shared.port
            ),
        )
        .into_response();
    }
    if let Err(e) = authorise(&shared.api_keys, request.headers(), false) {
        return e.into_response();
    }
    let has_body = request.method() == http::Method::POST;
    let json_body = request
        .headers()
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("application/json"));
    if has_body && !json_body {
        return ApiError(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "control request bodies must be JSON (Content-Type: application/json)".to_owned(),
        )
        .into_response();
    }
    next.run(request).await
}

/// The routes under `/_emulator`.
pub(crate) fn router(shared: Arc<Shared>) -> Router<Arc<Shared>> {
    Router::new()
        .route("/info", get(info))
        .route(
            "/device_login/verify",
            axum::routing::post(super::account::verify),
        )
        .route("/stats", get(get_stats).delete(reset_stats))
        .route(
            "/faults",
            get(get_faults).post(add_fault).delete(clear_faults),
        )
        .route_layer(from_fn_with_state(shared, guard))
}
