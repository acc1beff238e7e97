//! What runs before every handler of a route: the request is counted, a fault injected when
//! a rule says so, and the API key checked where one is needed. Also the `Host` check of
//! the control endpoints.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http::header::{AUTHORIZATION, CONTENT_TYPE, COOKIE, RETRY_AFTER};
use http::{HeaderMap, HeaderValue, StatusCode};

use super::error::{ApiError, json};
use super::serve::DropConnection;
use super::state::Shared;
use crate::fault::{Fault, Route};
use crate::util::lock;

/// The answer of an injected fault; `None` for a delay, after which the request is
/// answered normally.
fn fault_response(fault: Fault) -> Option<Response> {
    Some(match fault {
        Fault::ServiceUnavailable => json(
            StatusCode::SERVICE_UNAVAILABLE,
            &serde_json::json!({"message": "server busy"}),
        ),
        Fault::TooManyRequests { retry_after } => {
            let secs = retry_after.as_secs() + u64::from(retry_after.subsec_nanos() > 0);
            let mut response = json(
                StatusCode::TOO_MANY_REQUESTS,
                &serde_json::json!({"message": "too many requests"}),
            );
            response
                .headers_mut()
                .insert(RETRY_AFTER, HeaderValue::from(secs));
            response
        }
        Fault::DropConnection => {
            let mut response = Response::new(Body::empty());
            response.extensions_mut().insert(DropConnection);
            response
        }
        Fault::Delay(_) | Fault::CutBody { .. } | Fault::DropAnswer => return None,
        Fault::MalformedBody => {
            let mut response = Response::new(Body::from(r#"{"status":"running","progre"#));
            response
                .headers_mut()
                .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
            response
        }
    })
}

/// Checks the API key: `Authorization: Bearer <key>` or the `oomol-token` cookie; with
/// `bare`, also the key alone in `Authorization` (as OOMOL's CLI sends it to the
/// registry).
pub(crate) fn authorise(
    api_keys: &[String],
    headers: &HeaderMap,
    bare: bool,
) -> Result<(), ApiError> {
    let bearer = headers
        .get_all(AUTHORIZATION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .filter_map(move |v| match v.trim().split_once(' ') {
            Some((scheme, key)) => scheme.eq_ignore_ascii_case("bearer").then(|| key.trim()),
            None => bare.then(|| v.trim()),
        });
    let cookies = headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| {
            let (name, value) = pair.trim().split_once('=')?;
            (name.trim() == "oomol-token").then(|| value.trim())
        });
    let mut offered = false;
    for key in bearer.chain(cookies) {
        offered = true;
        if api_keys.iter().any(|k| k == key) {
            return Ok(());
        }
    }
    let message = if offered {
        "invalid API key"
    } else {
        "missing API key: send `Authorization: Bearer <key>` or the `oomol-token` cookie"
    };
    Err(ApiError(StatusCode::UNAUTHORIZED, message.to_owned()))
}

/// Runs before every handler of a route: counts the request, injects a fault if a rule
/// says so, and checks the API key where one is needed.
pub(crate) async fn guard(
    State((shared, route)): State<(Arc<Shared>, Route)>,
    request: Request,
    next: Next,
) -> Response {
    shared.stats.record(route, request.headers());
    let fault = lock(&shared.faults).pick(route);
    let cut_after = match &fault {
        Some(Fault::CutBody { after }) => Some(*after),
        _ => None,
    };
    let drop_answer = matches!(fault, Some(Fault::DropAnswer));
    if let Some(fault) = fault {
        if let Fault::Delay(delay) = fault {
            tokio::time::sleep(delay).await;
        } else if let Some(response) = fault_response(fault) {
            return response;
        }
    }
    if route.needs_auth()
        && let Err(e) = authorise(&shared.api_keys, request.headers(), route.takes_bare_key())
    {
        return e.into_response();
    }
    let mut response = next.run(request).await;
    if drop_answer {
        response.extensions_mut().insert(DropConnection);
        return response;
    }
    match cut_after {
        Some(after) => cut(response, after),
        None => response,
    }
}

/// `response` with its body cut after `after` bytes: the stream then fails, and hyper
/// closes the connection short of the announced length (once what came before is sent).
fn cut(response: Response, after: u64) -> Response {
    use futures_util::StreamExt;
    let (parts, body) = response.into_parts();
    let pieces = futures_util::stream::unfold(
        (body.into_data_stream(), after, false),
        |(mut inner, left, over)| async move {
            if over {
                return None;
            }
            if left == 0 {
                // Pending once before the error: hyper flushes what it holds (the headers
                // and the bytes so far) whenever the body is pending, so they reach the
                // client before the connection breaks, as in a network failure midway.
                tokio::task::yield_now().await;
                let cut = std::io::Error::other("the body was cut by an injected fault");
                return Some((Err(cut), (inner, 0, true)));
            }
            match inner.next().await {
                None => None,
                Some(Err(e)) => Some((Err(std::io::Error::other(e)), (inner, 0, true))),
                Some(Ok(chunk)) => {
                    let n = (chunk.len() as u64).min(left) as usize;
                    Some((Ok(chunk.slice(..n)), (inner, left - n as u64, false)))
                }
            }
        },
    );
    Response::from_parts(parts, Body::from_stream(pieces))
}

/// True when a request names this emulator in its `Host` (or HTTP/2 authority): `localhost`
/// or an IP address, with the port it listens on. Any other name may be DNS rebinding: a
/// web page's own host name pointed at 127.0.0.1 to reach the emulator from a browser.
pub(crate) fn host_allowed(request: &Request, port: u16) -> bool {
    let authority = request
        .uri()
        .authority()
        .map(|a| a.as_str().to_owned())
        .or_else(|| {
            request
                .headers()
                .get(http::header::HOST)
                .and_then(|h| h.to_str().ok())
                .map(str::to_owned)
        });
    let Some(authority) = authority else {
        return false;
    };
    let Ok(authority) = authority.parse::<http::uri::Authority>() else {
        return false;
    };
    let host = authority.host().trim_matches(['[', ']']);
    let named = host.eq_ignore_ascii_case("localhost") || host.parse::<std::net::IpAddr>().is_ok();
    named && authority.port_u16().unwrap_or(80) == port
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(*name, value.parse().unwrap());
        }
        map
    }
    #[test]
    fn bearer_and_cookie_are_accepted() {
        let keys = vec!["k1".to_owned(), "k2".to_owned()];
        let check = |pairs: &[(&'static str, &str)], bare| authorise(&keys, &headers(pairs), bare);
        assert!(check(&[("authorization", "Bearer k2")], false).is_ok());
        assert!(check(&[("authorization", "bearer  k1 ")], false).is_ok());
        assert!(check(&[("cookie", "a=b; oomol-token=k1; c=d")], false).is_ok());
        let wrong = check(&[("authorization", "Bearer nope")], false).unwrap_err();
        assert_eq!(wrong.0, StatusCode::UNAUTHORIZED);
        assert_eq!(wrong.1, "invalid API key");
        let missing = check(&[("authorization", "Basic k1")], false).unwrap_err();
        assert!(missing.1.starts_with("missing API key"));
        // The key alone, where the registry takes it, and nowhere else.
        assert!(check(&[("authorization", "k1")], true).is_ok());
        assert!(check(&[("authorization", "Bearer k1")], true).is_ok());
        assert!(check(&[("authorization", "k1")], false).is_err());
        assert!(check(&[("authorization", "nope")], true).is_err());
    }

    #[test]
    fn retry_after_is_rounded_up_to_whole_seconds() {
        for (ms, secs) in [(0, "0"), (1, "1"), (1000, "1"), (1500, "2")] {
            let response = fault_response(Fault::TooManyRequests {
                retry_after: Duration::from_millis(ms),
            })
            .unwrap();
            assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
            assert_eq!(response.headers()[RETRY_AFTER], secs);
        }
    }
}
