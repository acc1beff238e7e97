//! Serving stored files as a storage service does: `Range` (one range), `If-Range`
//! against an `ETag`, `Accept-Ranges`; uploaded files from disk, result files generated.

use std::convert::Infallible;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::{RawQuery, State};
use axum::http::HeaderMap;
use axum::response::Response;
use bytes::Bytes;
use http::header::{
    ACCEPT_RANGES, CONTENT_LENGTH, CONTENT_RANGE, CONTENT_TYPE, ETAG, IF_RANGE, RANGE,
};
use http::{HeaderValue, StatusCode};

use super::error::{Answer, ApiError};
use super::params::{PathParam, param, path_param, query_pairs};
use super::state::Shared;
use crate::catalogue::ResultFile;

/// The size of the pieces a generated file is streamed in.
const PIECE: u64 = 256 * 1024;

/// What part of a file an answer carries.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Selection {
    /// The whole file (no `Range`, one this server does not serve, or an `If-Range` that
    /// does not match).
    Whole,
    /// Bytes `start..end` (end exclusive).
    Part(u64, u64),
    /// A range past the end.
    Unsatisfiable,
}

/// The part of a file of `total` bytes, tagged `etag`, that `headers` ask for.
pub(crate) fn select(headers: &HeaderMap, total: u64, etag: &str) -> Selection {
    let Some(range) = headers.get(RANGE).and_then(|v| v.to_str().ok()) else {
        return Selection::Whole;
    };
    if let Some(validator) = headers.get(IF_RANGE).and_then(|v| v.to_str().ok())
        && validator != etag
    {
        return Selection::Whole;
    }
    let Some((start, end)) = range
        .trim()
        .strip_prefix("bytes=")
        .filter(|r| !r.contains(','))
        .and_then(|r| r.split_once('-'))
    else {
        return Selection::Whole;
    };
    let Ok(start) = start.trim().parse::<u64>() else {
        return Selection::Whole;
    };
    let end = match end.trim() {
        "" => total,
        end => match end.parse::<u64>() {
            Ok(end) if end >= start => end.saturating_add(1).min(total),
            _ => return Selection::Whole,
        },
    };
    if start >= total {
        return Selection::Unsatisfiable;
    }
    Selection::Part(start, end)
}

/// The answer for `selection` of a file: 200, 206 with `Content-Range`, or 416; `body`
/// gives the bytes `start..end`.
pub(crate) fn answer(
    selection: Selection,
    total: u64,
    etag: &str,
    mime: &'static str,
    body: impl FnOnce(u64, u64) -> Body,
) -> Response {
    let (status, start, end) = match selection {
        Selection::Whole => (StatusCode::OK, 0, total),
        Selection::Part(start, end) => (StatusCode::PARTIAL_CONTENT, start, end),
        Selection::Unsatisfiable => {
            let mut response = Response::new(Body::empty());
            *response.status_mut() = StatusCode::RANGE_NOT_SATISFIABLE;
            if let Ok(value) = HeaderValue::from_str(&format!("bytes */{total}")) {
                response.headers_mut().insert(CONTENT_RANGE, value);
            }
            return response;
        }
    };
    let mut response = Response::new(body(start, end));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static(mime));
    headers.insert(CONTENT_LENGTH, HeaderValue::from(end - start));
    headers.insert(ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    if let Ok(value) = HeaderValue::from_str(etag) {
        headers.insert(ETAG, value);
    }
    if status == StatusCode::PARTIAL_CONTENT
        && let Ok(value) =
            HeaderValue::from_str(&format!("bytes {start}-{}/{total}", end.saturating_sub(1)))
    {
        headers.insert(CONTENT_RANGE, value);
    }
    response
}

/// The bytes `start..end` of a result file, streamed in pieces (a generated file is never
/// held whole).
fn stream(file: ResultFile, start: u64, end: u64) -> Body {
    let pieces = futures_util::stream::unfold(start, move |at| {
        let file = file.clone();
        async move {
            if at >= end {
                return None;
            }
            let until = end.min(at + PIECE);
            let mut piece = Vec::with_capacity((until - at) as usize);
            file.fill(at, until, &mut piece);
            Some((Ok::<_, Infallible>(Bytes::from(piece)), until))
        }
    });
    Body::from_stream(pieces)
}

/// `GET {RESULTS_PATH}/{taskID}/{name}?signature=...`: a task's result file.
pub(crate) async fn result_file(
    State(shared): State<Arc<Shared>>,
    params: PathParam<(String, String)>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Answer {
    let (id, _name) = path_param(params)?;
    let pairs = query_pairs(query.as_deref());
    let now = shared.now();
    let file = crate::util::lock(&shared.scheduler)
        .result_file(&id, param(&pairs, "signature"), now)
        .ok_or_else(|| {
            ApiError(
                StatusCode::NOT_FOUND,
                format!("no result file of task {id:?} at this URL"),
            )
        })?;
    let total = file.len();
    let etag = format!("\"{id}\"");
    let mime = file.mime();
    let selection = select(&headers, total, &etag);
    Ok(answer(selection, total, &etag, mime, |start, end| {
        stream(file, start, end)
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.insert(*name, value.parse().unwrap());
        }
        map
    }

    #[test]
    fn ranges_are_selected_as_a_storage_service_does() {
        let e = "\"v\"";
        assert_eq!(select(&headers(&[]), 10, e), Selection::Whole);
        assert_eq!(
            select(&headers(&[("range", "bytes=2-5")]), 10, e),
            Selection::Part(2, 6)
        );
        assert_eq!(
            select(&headers(&[("range", "bytes=2-")]), 10, e),
            Selection::Part(2, 10)
        );
        assert_eq!(
            select(&headers(&[("range", "bytes=8-99")]), 10, e),
            Selection::Part(8, 10)
        );
        assert_eq!(
            select(&headers(&[("range", "bytes=10-")]), 10, e),
            Selection::Unsatisfiable
        );
        assert_eq!(
            select(&headers(&[("range", "bytes=0-1,4-5")]), 10, e),
            Selection::Whole
        );
        assert_eq!(
            select(
                &headers(&[("range", "bytes=2-5"), ("if-range", "\"old\"")]),
                10,
                e
            ),
            Selection::Whole
        );
        assert_eq!(
            select(&headers(&[("range", "bytes=2-5"), ("if-range", e)]), 10, e),
            Selection::Part(2, 6)
        );
    }
}
