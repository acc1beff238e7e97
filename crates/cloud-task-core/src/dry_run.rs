//! [`DryRun`]: the exact request an operation would send, to show rather than send.

use std::fmt;
use std::ops::Deref;

use crate::config::shown_header_value;
use crate::seam::HttpRequest;

/// The exact request a call would send (method, URL, headers, body), built and checked but
/// not sent: what `dry_run` answers.
///
/// It dereferences to the [`HttpRequest`], so `method()`, `uri()`, `headers()` and `body()`
/// read it; [`into_request`](DryRun::into_request) gives it whole, to send it yourself.
/// Printed, it is readable and safe to log: `Display` shows the request line, the headers
/// (a credential's value as `***`: `Authorization` and any header
/// [`is_secret_header_name`](crate::is_secret_header_name) names, or one marked sensitive)
/// and the body as text; `Debug` shows the same fields, the body as text too.
///
/// ```
/// # use cloud_task_core::{Config, CreateTask, CreateTaskRequest, DryRun, Operation};
/// let config = Config::builder().api_key("sk-secret").build()?;
/// let request = CreateTaskRequest::new("@oomol/echo", "1.0.0", "main").input("text", "hi");
/// let dry = DryRun::new(CreateTask::new(request).request(&config)?);
/// let shown = dry.to_string();
/// assert!(shown.starts_with("POST https://cloud-task.oomol.com/v3/users/me/tasks\n"));
/// assert!(shown.contains("authorization: ***"));
/// assert!(!shown.contains("sk-secret") && !format!("{dry:?}").contains("sk-secret"));
/// assert_eq!(dry.body_json()?["inputValues"]["text"], "hi");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct DryRun {
    request: HttpRequest,
}

impl DryRun {
    /// Wraps a built request.
    pub fn new(request: HttpRequest) -> Self {
        DryRun { request }
    }

    /// The request, to send it yourself.
    pub fn into_request(self) -> HttpRequest {
        self.request
    }

    /// The body as text (lossy for bytes that are not UTF-8; a JSON body always is).
    pub fn body_text(&self) -> std::borrow::Cow<'_, str> {
        String::from_utf8_lossy(self.request.body())
    }

    /// The body parsed as JSON.
    ///
    /// # Errors
    /// When the body is not JSON (every request a `dry_run` builds has a JSON body).
    pub fn body_json(&self) -> Result<serde_json::Value, serde_json::Error> {
        serde_json::from_slice(self.request.body())
    }

    /// The headers as `(name, shown value)`, a credential's value as `***`.
    fn shown_headers(&self) -> impl Iterator<Item = (&str, &str)> {
        self.request
            .headers()
            .iter()
            .map(|(name, value)| (name.as_str(), shown_header_value(name, value)))
    }
}

impl Deref for DryRun {
    type Target = HttpRequest;

    fn deref(&self) -> &HttpRequest {
        &self.request
    }
}

impl From<DryRun> for HttpRequest {
    fn from(dry: DryRun) -> HttpRequest {
        dry.request
    }
}

/// `METHOD URL`, one `name: value` line per header (credentials as `***`), a blank line,
/// then the body as text.
impl fmt::Display for DryRun {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "{} {}", self.request.method(), self.request.uri())?;
        for (name, value) in self.shown_headers() {
            writeln!(f, "{name}: {value}")?;
        }
        write!(f, "\n{}", self.body_text())
    }
}

impl fmt::Debug for DryRun {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let headers: Vec<_> = self.shown_headers().collect();
        f.debug_struct("DryRun")
            .field("method", self.request.method())
            .field("uri", self.request.uri())
            .field("headers", &headers)
            .field("body", &self.body_text())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::header::{AUTHORIZATION, CONTENT_TYPE, HeaderValue};

    fn request(body: &[u8]) -> HttpRequest {
        let mut request = http::Request::post("http://127.0.0.1:1/v3/users/me/tasks")
            .header(CONTENT_TYPE, "application/json")
            .header("x-trace", "abc")
            .header("x-api-token", "t0ken")
            .body(body.to_vec())
            .unwrap();
        let mut key = HeaderValue::from_static("Bearer k3y");
        key.set_sensitive(true);
        request.headers_mut().insert(AUTHORIZATION, key);
        request
    }

    #[test]
    fn credentials_are_hidden_and_the_body_is_text() {
        let dry = DryRun::new(request(br#"{"a":1}"#));
        let shown = dry.to_string();
        assert_eq!(
            shown,
            "POST http://127.0.0.1:1/v3/users/me/tasks\ncontent-type: application/json\n\
             x-trace: abc\nx-api-token: ***\nauthorization: ***\n\n{\"a\":1}"
        );
        let debug = format!("{dry:?}");
        assert!(debug.contains(r#"body: "{\"a\":1}""#), "{debug}");
        assert!(
            !debug.contains("k3y") && !debug.contains("t0ken"),
            "{debug}"
        );
        assert!(!shown.contains("k3y") && !shown.contains("t0ken"));
        // The request itself is untouched: its key is there to send.
        assert_eq!(dry.headers()[AUTHORIZATION], "Bearer k3y");
        assert_eq!(dry.body_json().unwrap()["a"], 1);
    }

    #[test]
    fn a_body_that_is_not_utf8_is_shown_lossily_and_not_json() {
        let dry = DryRun::new(request(&[0xff, b'x']));
        assert!(dry.to_string().ends_with("\n\n\u{fffd}x"));
        assert!(dry.body_json().is_err());
        assert_eq!(HttpRequest::from(dry).body(), &[0xff, b'x']);
    }
}
