//! The upload API's handlers (`init`, the final URL), the presigned part `PUT`, and the
//! download of a stored file.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{RawQuery, Request, State};
use axum::response::Response;
use cloud_task_core::upload::{InitUploadRequest, InitUploadResponse, UploadUrlResponse};
use http::header::{AUTHORIZATION, CONTENT_LENGTH};
use http::{HeaderValue, StatusCode};

use axum::http::HeaderMap;

use super::error::{Answer, ApiError, ok};
use super::files;
use super::params::{PathParam, param, path_param, query_pairs, read_json};
use super::state::Shared;

pub(crate) async fn upload_init(State(shared): State<Arc<Shared>>, body: Body) -> Answer {
    let request: InitUploadRequest = read_json(body, "upload init").await?;
    let target = shared
        .uploads
        .init(request, &shared.base_url, shared.now_epoch_ms())
        .await?;
    ok(&InitUploadResponse::new(target))
}

pub(crate) async fn upload_url(State(shared): State<Arc<Shared>>, id: PathParam<String>) -> Answer {
    let id = path_param(id)?;
    let file = shared
        .uploads
        .final_url(&id, &shared.base_url, shared.now_epoch_ms())?;
    ok(&UploadUrlResponse::new(file))
}

fn signature(query: Option<&str>) -> Option<String> {
    let pairs = query_pairs(query);
    param(&pairs, "signature").map(str::to_owned)
}

pub(crate) async fn upload_part(
    State(shared): State<Arc<Shared>>,
    params: PathParam<(String, String)>,
    RawQuery(query): RawQuery,
    request: Request,
) -> Answer {
    let (id, number) = path_param(params)?;
    if request.headers().contains_key(AUTHORIZATION) {
        return Err(ApiError::bad_request(
            "presigned part URLs take no Authorization header: the signature in the URL is the only credential",
        ));
    }
    let number: u32 = number
        .parse()
        .map_err(|_| ApiError(StatusCode::NOT_FOUND, format!("no part {number:?}")))?;
    let content_length = request
        .headers()
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok());
    shared
        .uploads
        .put_part(
            &id,
            number,
            signature(query.as_deref()).as_deref(),
            content_length,
            request.into_body(),
            shared.now_epoch_ms(),
        )
        .await?;
    let mut response = Response::new(Body::empty());
    let etag = format!("\"{id}-{number}\"");
    if let Ok(value) = HeaderValue::from_str(&etag) {
        response.headers_mut().insert(http::header::ETAG, value);
    }
    Ok(response)
}

/// `GET` of an uploaded file's final URL, with `Range` and `If-Range` served.
pub(crate) async fn download(
    State(shared): State<Arc<Shared>>,
    params: PathParam<(String, String)>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Answer {
    let (id, _name) = path_param(params)?;
    let etag = format!("\"{id}\"");
    let mut selection = None;
    let (size, mime, body) = shared
        .uploads
        .download(
            &id,
            signature(query.as_deref()).as_deref(),
            |size| {
                let chosen = files::select(&headers, size, &etag);
                let range = match chosen {
                    files::Selection::Part(start, end) => (start, end),
                    files::Selection::Whole => (0, size),
                    files::Selection::Unsatisfiable => (0, 0),
                };
                selection = Some(chosen);
                range
            },
            shared.now_epoch_ms(),
        )
        .await?;
    let selection = selection.unwrap_or(files::Selection::Whole);
    Ok(files::answer(selection, size, &etag, mime, |_, _| body))
}
