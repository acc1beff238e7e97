//! What both clients' seam tests share: the configuration and the request and response
//! helpers (driver-independent: the core's types).

use cloud_task_core::http::{self, StatusCode};
use cloud_task_core::{Config, HttpRequest, HttpResponse};

pub const KEY: &str = "sk-seam-secret";

/// The configuration every test client uses.
pub fn config() -> Config {
    Config::builder()
        .api_key(KEY)
        .base_url("https://api.test")
        .upload_base_url("https://upload.test/files")
        .build()
        .expect("valid test configuration")
}

/// True when two requests are the same on the wire: method, URI, headers and body.
pub fn same_request(a: &HttpRequest, b: &HttpRequest) -> bool {
    a.method() == b.method()
        && a.uri() == b.uri()
        && a.headers() == b.headers()
        && a.body() == b.body()
}

/// A response with `status` and a JSON (or any) body.
pub fn response(status: u16, body: &str) -> HttpResponse {
    let mut response = http::Response::new(body.as_bytes().to_vec());
    *response.status_mut() = StatusCode::from_u16(status).expect("valid status");
    response
}

/// A response carrying a `Retry-After` header.
pub fn response_retry_after(status: u16, body: &str, seconds: u64) -> HttpResponse {
    let mut response = response(status, body);
    response
        .headers_mut()
        .insert(http::header::RETRY_AFTER, http::HeaderValue::from(seconds));
    response
}

/// `len` bytes of a fixed pseudo-random sequence (xorshift): incompressible, reproducible.
pub fn pseudo_random(len: usize) -> Vec<u8> {
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}
