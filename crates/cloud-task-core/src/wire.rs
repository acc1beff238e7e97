//! Shared request building and response parsing used by every operation.

use http::header::{CONTENT_TYPE, HeaderValue};
use http::{Method, StatusCode};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use serde::de::DeserializeOwned;

use crate::config::{Base, BaseParts, Config};
pub(crate) use crate::error::decode_error;
use crate::error::{ApiError, Error, Result};
use crate::retry::retry_after;
use crate::{HttpRequest, HttpResponse};

/// Everything but RFC 3986 unreserved characters is encoded in a path segment.
const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// The bytes a path segment keeps as they are (RFC 3986 unreserved), as a table: one load
/// per byte of a task ID.
const UNRESERVED: [bool; 256] = {
    let mut table = [false; 256];
    let mut b = 0;
    while b < 256 {
        let c = b as u8;
        table[b] = c.is_ascii_alphanumeric() || matches!(c, b'-' | b'.' | b'_' | b'~');
        b += 1;
    }
    table
};

/// Percent-encodes `s` as ONE path segment (`/` becomes `%2F`).
///
/// ```
/// # use cloud_task_core::encode_path_segment;
/// assert_eq!(encode_path_segment("a/b c?"), "a%2Fb%20c%3F");
/// assert_eq!(encode_path_segment("019234a5-b678_7.x~"), "019234a5-b678_7.x~");
/// ```
pub fn encode_path_segment(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    push_path_segment(&mut out, s);
    out
}

/// Appends `s` to `out` encoded as ONE path segment: what [`encode_path_segment`] answers,
/// without a `String` of its own. A segment of unreserved characters only (a task ID, a
/// package name's parts) is copied as it is, in one pass.
fn push_path_segment(out: &mut String, s: &str) {
    // `.` and `..` are path navigation, not names: encode them so they stay one segment.
    match s {
        "." => out.push_str("%2E"),
        ".." => out.push_str("%2E%2E"),
        _ if s.bytes().all(|b| UNRESERVED[usize::from(b)]) => out.push_str(s),
        _ => out.extend(utf8_percent_encode(s, SEGMENT)),
    }
}

/// Refuses an empty (or all-whitespace) identifier with the message `{field} must not be
/// empty`, naming `field`: the check every operation makes of its IDs before sending.
///
/// ```
/// # use cloud_task_core::check_not_empty;
/// assert!(check_not_empty("task_id", "t-1").is_ok());
/// assert_eq!(check_not_empty("task_id", " ").unwrap_err().to_string(), "task_id must not be empty");
/// ```
pub fn check_not_empty(field: &'static str, value: &str) -> Result<()> {
    // Stops at the first character that is not whitespace (`trim` looks from both ends).
    if value.chars().all(char::is_whitespace) {
        Err(Error::invalid_input(
            field,
            format!("{field} must not be empty"),
        ))
    } else {
        Ok(())
    }
}

/// The JSON content type.
pub(crate) const JSON: HeaderValue = HeaderValue::from_static("application/json");

/// A request to the task API or the upload API, built the way every operation of the core
/// builds its own: the configured base URL, then the path (with segments percent-encoded
/// one by one), the query form-encoded, the configuration's headers (default headers,
/// `User-Agent`, `Authorization`, which wins), and a JSON body with its `Content-Type`.
/// Start one with [`Config::api_request`] or [`Config::upload_request`].
///
/// So an endpoint of your own is one type implementing [`Operation`](crate::Operation),
/// with no plumbing copied:
///
/// ```
/// use cloud_task_core::http::Method;
/// use cloud_task_core::{Config, HttpRequest, HttpResponse, Operation, Result, check_not_empty, parse_json};
///
/// /// `GET /v3/users/me/tasks/{taskID}` as raw JSON.
/// struct RawDetail(String);
///
/// impl Operation for RawDetail {
///     type Output = serde_json::Value;
///     const NAME: &'static str = "raw_detail";
///
///     fn request(&self, config: &Config) -> Result<HttpRequest> {
///         check_not_empty("task_id", &self.0)?;
///         config.api_request(Method::GET, "/v3/users/me/tasks").segment(&self.0).build()
///     }
///
///     fn parse(&self, response: HttpResponse) -> Result<serde_json::Value> {
///         parse_json("task detail", response)
///     }
/// }
///
/// let config = Config::builder().api_key("k").build()?;
/// let request = RawDetail("a/b".into()).request(&config)?;
/// assert_eq!(request.uri(), "https://cloud-task.oomol.com/v3/users/me/tasks/a%2Fb");
/// assert_eq!(request.headers()["authorization"], "Bearer k");
/// # Ok::<(), cloud_task_core::Error>(())
/// ```
#[must_use = "a request builder does nothing until `build` is called"]
#[derive(Debug)]
pub struct RequestBuilder<'a> {
    config: &'a Config,
    /// The scheme and authority of the base URL, parsed once by the configuration: `url`
    /// is then the path alone (the base URL's own path first). Without them, `url` is the
    /// whole URL.
    origin: Option<&'a BaseParts>,
    /// The base URL (or its path), then the path as built so far: one buffer, sized once
    /// for the usual request, so that a call allocates its URL once.
    url: String,
    /// Where the base URL (or its path) ends in `url`: the request's own path follows.
    base_end: usize,
    /// The key bare in `Authorization` (the registry and the account API), not `Bearer`.
    bare_key: bool,
    method: Method,
    query: Vec<(String, String)>,
    body: Option<Result<Vec<u8>>>,
}

impl<'a> RequestBuilder<'a> {
    #[inline]
    pub(crate) fn new(config: &'a Config, base: Base, method: Method, path: &str) -> Self {
        let (base, origin) = config.base(base);
        let base = match origin {
            Some(origin) => &base[origin.path_at..],
            None => base,
        };
        // Room for a segment or two (a task ID is 36 bytes) and a short query.
        let mut url = String::with_capacity(base.len() + path.len() + 96);
        url.push_str(base);
        url.push_str(path);
        RequestBuilder {
            config,
            origin,
            url,
            base_end: base.len(),
            bare_key: false,
            method,
            query: Vec::new(),
            body: None,
        }
    }

    /// Appends `/{segment}` to the path, percent-encoded as one segment
    /// ([`encode_path_segment`]: `/` becomes `%2F`).
    #[inline]
    pub fn segment(mut self, segment: &str) -> Self {
        self.url.push('/');
        push_path_segment(&mut self.url, segment);
        self
    }

    /// Appends a literal piece to the path, as written (e.g. `/result`).
    #[inline]
    pub fn path(mut self, piece: &str) -> Self {
        self.url.push_str(piece);
        self
    }

    /// Adds the query parameter `name=value` (form-encoded).
    pub fn query(mut self, name: &str, value: impl Into<String>) -> Self {
        self.query.push((name.to_owned(), value.into()));
        self
    }

    /// Adds the query parameter `name=value` only when `value` is set and not empty, as
    /// the official SDKs send optional parameters.
    pub fn query_opt(self, name: &str, value: Option<impl Into<String>>) -> Self {
        match value.map(Into::into) {
            Some(value) if !value.is_empty() => self.query(name, value),
            _ => self,
        }
    }

    /// Sends `body` as JSON, with `Content-Type: application/json` (an encoding failure is
    /// reported by [`build`](Self::build)).
    pub fn json<T: serde::Serialize + ?Sized>(mut self, body: &T) -> Self {
        self.body = Some(to_json(body));
        self
    }

    /// The request, or [`Error::InvalidInput`] when the body could not be encoded or the
    /// URL is not valid.
    pub fn build(self) -> Result<HttpRequest> {
        let body = self.body.transpose()?;
        // Written after the host, a path without its `/` would be read as part of it
        // (`https://host` + `v3/x`): another host, which would get the key.
        let own = &self.url[self.base_end..];
        if !(own.is_empty() || own.starts_with('/')) {
            return Err(Error::invalid_input(
                "path",
                "the path of a request must start with `/` (written after the host, it would \
                 be read as part of the host name)",
            ));
        }
        let mut url = self.url;
        if !self.query.is_empty() {
            url.push('?');
            let start = url.len();
            let mut serializer = form_urlencoded::Serializer::for_suffix(url, start);
            for (k, v) in &self.query {
                serializer.append_pair(k, v);
            }
            url = serializer.finish();
        }
        let mut headers = if self.bare_key {
            self.config.registry_headers()
        } else {
            self.config.headers()
        };
        if body.is_some() {
            headers.insert(CONTENT_TYPE, JSON);
        }
        let body = body.unwrap_or_default();
        match self.origin {
            Some(origin) => build_at(origin, self.method, url, headers, body),
            None => build(self.method, url, headers, body),
        }
    }
}

impl Config {
    /// A request to the task API: `{base_url}{path}` (see [`RequestBuilder`]).
    #[inline]
    pub fn api_request(&self, method: Method, path: &str) -> RequestBuilder<'_> {
        RequestBuilder::new(self, Base::Api, method, path)
    }

    /// A request to the upload API: `{upload_base_url}{path}` (see [`RequestBuilder`]).
    #[inline]
    pub fn upload_request(&self, method: Method, path: &str) -> RequestBuilder<'_> {
        RequestBuilder::new(self, Base::Upload, method, path)
    }

    /// A request to the registry: `{registry_url}{path}`, with the headers of an API
    /// request but the key bare in `Authorization` (as OOMOL's CLI sends it there).
    pub fn registry_request(&self, method: Method, path: &str) -> RequestBuilder<'_> {
        let mut builder = RequestBuilder::new(self, Base::Registry, method, path);
        builder.bare_key = true;
        builder
    }

    /// A request to the account API: `{api_url}{path}`, with the key bare in
    /// `Authorization`, as OOMOL's CLI sends it there (device sign-in, the profile).
    pub fn account_request(&self, method: Method, path: &str) -> RequestBuilder<'_> {
        let mut builder = RequestBuilder::new(self, Base::Account, method, path);
        builder.bare_key = true;
        builder
    }
}

/// Assembles an `http::Request`, mapping a bad URL to a clear error.
pub(crate) fn build(
    method: Method,
    url: String,
    headers: http::HeaderMap,
    body: Vec<u8>,
) -> Result<HttpRequest> {
    // From the `String` itself: its buffer becomes the URI's, with no copy.
    let uri = http::Uri::try_from(url).map_err(invalid_url)?;
    Ok(request_to(method, uri, headers, body))
}

/// [`build`] for a URL of a base whose scheme and authority are parsed already: `path`
/// (and query) is parsed alone.
fn build_at(
    origin: &BaseParts,
    method: Method,
    path: String,
    headers: http::HeaderMap,
    body: Vec<u8>,
) -> Result<HttpRequest> {
    let path = http::uri::PathAndQuery::try_from(path).map_err(invalid_url)?;
    let mut parts = http::uri::Parts::default();
    parts.scheme = Some(origin.scheme.clone());
    parts.authority = Some(origin.authority.clone());
    parts.path_and_query = Some(path);
    let uri = http::Uri::from_parts(parts).map_err(invalid_url)?;
    Ok(request_to(method, uri, headers, body))
}

/// The error of a request URL that does not parse. The text is not repeated: a
/// presigned URL's query is a credential.
fn invalid_url(error: impl std::fmt::Display) -> Error {
    Error::invalid_input(
        "url",
        format!("the request URL is not a valid URI: {error}"),
    )
}

/// A request to a URI already parsed.
#[inline]
pub(crate) fn request_to(
    method: Method,
    uri: http::Uri,
    headers: http::HeaderMap,
    body: Vec<u8>,
) -> HttpRequest {
    let mut request = http::Request::new(body);
    *request.method_mut() = method;
    *request.uri_mut() = uri;
    *request.headers_mut() = headers;
    request
}

/// Serialises a request body.
pub(crate) fn to_json<T: serde::Serialize + ?Sized>(value: &T) -> Result<Vec<u8>> {
    serde_json::to_vec(value).map_err(|e| {
        Error::invalid_input(
            "body",
            format!("the request body could not be encoded as JSON: {e}"),
        )
    })
}

/// The longest `message` or `code` an [`ApiError`] keeps, in bytes.
const MAX_ERROR_TEXT: usize = 8 * 1024;

/// Turns a non-2xx response into an [`ApiError`]: message from the body's `message`,
/// else `Request failed: {status}`.
///
/// What it keeps is bounded whatever the body: the message and code are cut to 8 KiB, and
/// the parsed body is kept only when the raw body is at most
/// [`MAX_ERROR_BODY`](crate::MAX_ERROR_BODY) bytes.
pub fn api_error(response: HttpResponse) -> ApiError {
    let retry_after = retry_after(&response);
    let status = response.status();
    let raw = response.body();
    let body: Option<serde_json::Value> = if raw.is_empty() {
        None
    } else {
        serde_json::from_slice(raw).ok()
    };
    let text = |key: &str| {
        body.as_ref()
            .and_then(|b| b.get(key))
            .and_then(|m| m.as_str())
            .filter(|m| !m.is_empty())
            .map(|m| cut(m, MAX_ERROR_TEXT).to_owned())
    };
    let message = text("message").unwrap_or_else(|| format!("Request failed: {}", status.as_u16()));
    let code = text("code");
    let body = body.filter(|_| raw.len() <= crate::error::MAX_ERROR_BODY);
    ApiError {
        status,
        message,
        body,
        code,
        retry_after,
    }
}

/// The longest prefix of `s` of at most `max` bytes that ends on a character boundary.
pub(crate) fn cut(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// Parses a 2xx JSON response as `T`, as every operation of the core does: a non-2xx
/// response becomes [`Error::Api`] (its message as the official SDKs build it), a body that
/// does not decode becomes [`Error::Decode`] naming `what` and keeping the raw bytes.
pub fn parse_json<T: DeserializeOwned>(what: &'static str, response: HttpResponse) -> Result<T> {
    if !response.status().is_success() {
        return Err(Error::Api(Box::new(api_error(response))));
    }
    decode(what, response.status(), response.into_body())
}

/// Decodes `body` as `T`, keeping the raw body in the error.
pub(crate) fn decode<T: DeserializeOwned>(
    what: &'static str,
    status: StatusCode,
    body: Vec<u8>,
) -> Result<T> {
    match serde_json::from_slice(&body) {
        Ok(value) => Ok(value),
        Err(source) => Err(decode_error(what, status, body, source)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_of_unreserved_bytes_agrees_with_the_encoding_set() {
        for b in 0u8..=127 {
            let text = format!("a{}a", char::from(b));
            let kept = utf8_percent_encode(&text, SEGMENT).to_string() == text;
            assert_eq!(UNRESERVED[usize::from(b)], kept, "byte {b:#04x}");
            assert_eq!(encode_path_segment(&text) == text, kept, "byte {b:#04x}");
        }
        assert!(UNRESERVED[128..].iter().all(|kept| !kept));
        assert_eq!(encode_path_segment("é"), "%C3%A9");
    }

    #[test]
    fn a_request_made_of_its_base_parts_is_the_one_its_whole_url_parses_to() {
        for base in [
            "https://cloud-task.oomol.com",
            "HTTPS://Cloud-Task.oomol.com/api/prefix",
            "http://127.0.0.1:18080/api/tasks/files/remote-cache",
            "http://[::1]:8080",
        ] {
            let config = Config::builder()
                .api_key("k")
                .base_url(base)
                .upload_base_url(base)
                .build()
                .unwrap();
            for base in [Base::Api, Base::Upload] {
                let (text, parts) = config.base(base);
                assert!(parts.is_some(), "{text}");
                let built = RequestBuilder::new(&config, base, Method::GET, "/v3/x")
                    .segment("a/b")
                    .query("size", "1")
                    .build()
                    .unwrap();
                let whole: http::Uri = format!("{text}/v3/x/a%2Fb?size=1").parse().unwrap();
                assert_eq!(built.uri(), &whole, "{text}");
                assert_eq!(built.uri().to_string(), whole.to_string(), "{text}");
            }
        }
    }

    #[test]
    fn a_path_without_its_slash_is_refused_not_sent_to_another_host() {
        let refused = |request: RequestBuilder<'_>| {
            let error = request.build().unwrap_err();
            assert!(
                matches!(&error, Error::InvalidInput(e) if e.field == "path"),
                "{error:?}"
            );
            assert!(error.to_string().contains("must start with `/`"), "{error}");
        };
        for base in ["https://cloud-task.oomol.com", "https://proxy.test/api"] {
            let config = Config::builder()
                .api_key("k")
                .base_url(base)
                .build()
                .unwrap();
            // Given to the builder, or appended to an empty path.
            refused(config.api_request(Method::GET, "v3/users"));
            refused(config.api_request(Method::GET, "").path("v3"));
            // With its `/`, the path follows the base URL's own.
            let request = config
                .api_request(Method::GET, "/v3/users")
                .build()
                .unwrap();
            assert_eq!(request.uri(), &*format!("{base}/v3/users"));
            // An empty path is the base URL itself; a query may follow it.
            let request = config
                .api_request(Method::GET, "")
                .query("size", "1")
                .build()
                .unwrap();
            assert_eq!(request.uri().query(), Some("size=1"));
        }
        // Without parts parsed once (the whole URL parsed per request), the same.
        let config = Config::builder().api_key("k").build().unwrap();
        let mut request = config.api_request(Method::GET, "v3/users");
        request.origin = None;
        request.url = format!("{}v3/users", config.base_url());
        request.base_end = config.base_url().len();
        refused(request);
    }

    #[test]
    fn each_kind_of_request_goes_to_its_own_base_url() {
        // The parts parsed once are kept by position: a mix-up would send a request (and
        // the key) to another of the four hosts.
        let config = Config::builder()
            .api_key("k")
            .base_url("https://api.test/a")
            .upload_base_url("https://upload.test:8443/u")
            .registry_url("http://registry.test")
            .api_url("https://account.test/x")
            .build()
            .unwrap();
        let requests: [(RequestBuilder<'_>, &str); 4] = [
            (
                config.api_request(Method::GET, "/p"),
                "https://api.test/a/p",
            ),
            (
                config.upload_request(Method::GET, "/p"),
                "https://upload.test:8443/u/p",
            ),
            (
                config.registry_request(Method::GET, "/p"),
                "http://registry.test/p",
            ),
            (
                config.account_request(Method::GET, "/p"),
                "https://account.test/x/p",
            ),
        ];
        for (request, expected) in requests {
            assert_eq!(request.build().unwrap().uri().to_string(), expected);
        }
    }

    #[test]
    fn a_bad_path_is_refused_without_repeating_the_url() {
        let config = Config::builder().api_key("k").build().unwrap();
        let error = config
            .api_request(Method::GET, "/v3/bad path?signature=secret")
            .build()
            .unwrap_err();
        let text = error.to_string();
        assert!(
            text.contains("the request URL is not a valid URI"),
            "{text}"
        );
        assert!(!text.contains("secret"), "{text}");
    }
}
