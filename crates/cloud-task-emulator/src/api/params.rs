//! Reading a request: its JSON body (bounded), its path parameters and its query.

use axum::body::Body;
use axum::extract::Path;
use axum::extract::rejection::PathRejection;
use http::StatusCode;

use super::error::ApiError;

/// The largest JSON request body accepted.
const MAX_JSON_BODY: usize = 16 << 20;

/// Reads a JSON body of at most `MAX_JSON_BODY` bytes; an empty body is `{}`.
pub(crate) async fn read_json<T: serde::de::DeserializeOwned>(
    body: Body,
    what: &str,
) -> Result<T, ApiError> {
    let bytes = axum::body::to_bytes(body, MAX_JSON_BODY)
        .await
        .map_err(|_| {
            ApiError(
                StatusCode::PAYLOAD_TOO_LARGE,
                format!("the {what} body is larger than {MAX_JSON_BODY} bytes or unreadable"),
            )
        })?;
    let bytes: &[u8] = if bytes.iter().all(u8::is_ascii_whitespace) {
        b"{}"
    } else {
        &bytes
    };
    serde_json::from_slice(bytes)
        .map_err(|e| ApiError::bad_request(format!("invalid {what} body: {e}")))
}

/// A path parameter, or why it could not be read.
pub(crate) type PathParam<T> = Result<Path<T>, PathRejection>;

/// The value of a path parameter; a bad one (e.g. invalid percent-encoding) is a 400.
pub(crate) fn path_param<T>(param: PathParam<T>) -> Result<T, ApiError> {
    param
        .map(|Path(p)| p)
        .map_err(|e| ApiError::bad_request(format!("invalid path: {e}")))
}

/// The query's parameters, decoded; empty values count as absent.
pub(crate) fn query_pairs(query: Option<&str>) -> Vec<(String, String)> {
    form_urlencoded::parse(query.unwrap_or("").as_bytes())
        .filter(|(_, v)| !v.is_empty())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

pub(crate) fn param<'a>(pairs: &'a [(String, String)], name: &str) -> Option<&'a str> {
    pairs
        .iter()
        .rev()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

/// Parses an enum parameter, refusing values the enum does not know.
pub(crate) fn known<T: for<'a> From<&'a str>>(
    pairs: &[(String, String)],
    name: &str,
    allowed: &[&str],
) -> Result<Option<T>, ApiError> {
    match param(pairs, name) {
        None => Ok(None),
        Some(v) if allowed.contains(&v) => Ok(Some(T::from(v))),
        Some(v) => Err(ApiError::bad_request(format!(
            "{name} must be one of {}, not {v:?}",
            allowed.join(", ")
        ))),
    }
}

/// The first non-empty value of the query parameter `name`, if any.
pub(crate) fn query_value(query: Option<&str>, name: &str) -> Option<String> {
    query_pairs(query)
        .into_iter()
        .find(|(key, _)| key == name)
        .map(|(_, value)| value)
}
