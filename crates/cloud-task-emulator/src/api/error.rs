//! The one error form of the emulator's API: a status and a JSON `{"message": ...}` body.

use axum::body::Body;
use axum::response::{IntoResponse, Response};
use http::header::CONTENT_TYPE;
use http::{HeaderValue, StatusCode};
use serde::Serialize;

/// An error answer: a status and a JSON `{"message": ...}` body.
#[derive(Debug)]
pub(crate) struct ApiError(pub(crate) StatusCode, pub(crate) String);

impl ApiError {
    pub(crate) fn bad_request(message: impl Into<String>) -> Self {
        ApiError(StatusCode::BAD_REQUEST, message.into())
    }

    pub(crate) fn task_not_found(id: &str) -> Self {
        ApiError(StatusCode::NOT_FOUND, format!("task {id:?} not found"))
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        json(self.0, &serde_json::json!({ "message": self.1 }))
    }
}

/// What a handler answers.
pub(crate) type Answer = Result<Response, ApiError>;

/// A JSON response.
pub(crate) fn json<T: Serialize + ?Sized>(status: StatusCode, value: &T) -> Response {
    match serde_json::to_vec(value) {
        Ok(body) => {
            let mut response = Response::new(Body::from(body));
            *response.status_mut() = status;
            response
                .headers_mut()
                .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
            response
        }
        Err(e) => {
            let mut response = Response::new(Body::from(format!("encoding failed: {e}")));
            *response.status_mut() = StatusCode::INTERNAL_SERVER_ERROR;
            response
        }
    }
}

/// A 200 JSON answer.
pub(crate) fn ok<T: Serialize + ?Sized>(value: &T) -> Answer {
    Ok(json(StatusCode::OK, value))
}
