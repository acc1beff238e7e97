//! Client configuration shared by every operation: base URLs, credentials, headers.

use std::fmt;
use std::sync::Arc;

use http::header::{
    AUTHORIZATION, COOKIE, HeaderMap, HeaderName, HeaderValue, PROXY_AUTHORIZATION,
};

use crate::error::{Error, Result};

/// The default task API base URL.
pub const DEFAULT_BASE_URL: &str = "https://cloud-task.oomol.com";
/// The default upload API base URL.
pub const DEFAULT_UPLOAD_BASE_URL: &str = "https://llm.oomol.com/api/tasks/files/remote-cache";
/// The default `User-Agent`: `oomol-cloud-task-rust/<version>`.
pub const DEFAULT_USER_AGENT: &str = concat!("oomol-cloud-task-rust/", env!("CARGO_PKG_VERSION"));

/// The environment variable holding the API key.
pub const ENV_API_KEY: &str = "OOMOL_API_KEY";
/// The environment variable holding the task API base URL.
pub const ENV_BASE_URL: &str = "OOMOL_BASE_URL";
/// The environment variable holding the upload API base URL.
pub const ENV_UPLOAD_BASE_URL: &str = "OOMOL_UPLOAD_BASE_URL";

/// Read when [`ENV_BASE_URL`] is not set: the name the emulator prints.
pub const ENV_BASE_URL_FALLBACK: &str = "CLOUD_TASK_BASE_URL";
/// Read when [`ENV_UPLOAD_BASE_URL`] is not set: the name the emulator prints.
pub const ENV_UPLOAD_BASE_URL_FALLBACK: &str = "CLOUD_TASK_UPLOAD_BASE_URL";

/// An API key. Its `Debug` and `Display` never show the key.
///
/// ```
/// # use cloud_task_core::ApiKey;
/// let key = ApiKey::new("sk-very-secret");
/// assert_eq!(format!("{key:?}"), "ApiKey(***)");
/// assert_eq!(key.to_string(), "***");
/// assert_eq!(key.expose_secret(), "sk-very-secret");
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct ApiKey(String);

impl ApiKey {
    /// Wraps a key.
    pub fn new(key: impl Into<String>) -> Self {
        ApiKey(key.into())
    }

    /// The key itself. Call this only to put it on the wire.
    pub fn expose_secret(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ApiKey(***)")
    }
}

impl fmt::Display for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

impl From<String> for ApiKey {
    fn from(s: String) -> Self {
        ApiKey(s)
    }
}

impl From<&str> for ApiKey {
    fn from(s: &str) -> Self {
        ApiKey(s.to_owned())
    }
}

/// Normalises a task API base URL as the official SDKs do: strip trailing `/`, then strip
/// one trailing `/v1` or `/v3`.
///
/// ```
/// # use cloud_task_core::normalize_base_url;
/// assert_eq!(normalize_base_url("https://x/v3/"), "https://x");
/// assert_eq!(normalize_base_url("https://x/v1"), "https://x");
/// assert_eq!(normalize_base_url("https://x/api/"), "https://x/api");
/// ```
pub fn normalize_base_url(url: &str) -> String {
    let trimmed = url.trim().trim_end_matches('/');
    let stripped = trimmed
        .strip_suffix("/v1")
        .or_else(|| trimmed.strip_suffix("/v3"))
        .unwrap_or(trimmed);
    stripped.to_owned()
}

/// Everything an operation needs to build its request.
///
/// Cheap to clone (shared inside). Build one with [`Config::builder`], or take the defaults
/// with [`Config::default`] (official base URLs, no API key).
///
/// Headers: the configured default headers go on every task-API and upload-API request;
/// the SDK's own `Authorization` and `Content-Type` win over them. Presigned part uploads
/// carry neither the `Authorization` header nor any default header.
#[derive(Clone)]
pub struct Config {
    inner: Arc<Inner>,
}

struct Inner {
    base_url: String,
    upload_base_url: String,
    api_key: Option<ApiKey>,
    default_headers: HeaderMap,
    user_agent: HeaderValue,
    /// The merged headers of every authorised request, built once.
    request_headers: HeaderMap,
}

impl Default for Config {
    fn default() -> Self {
        ConfigBuilder::default()
            .build()
            .expect("the default configuration is valid")
    }
}

impl Config {
    /// A builder starting from the defaults.
    pub fn builder() -> ConfigBuilder {
        ConfigBuilder::default()
    }

    /// A builder starting from this configuration.
    pub fn to_builder(&self) -> ConfigBuilder {
        ConfigBuilder {
            base_url: self.inner.base_url.clone(),
            upload_base_url: self.inner.upload_base_url.clone(),
            api_key: self.inner.api_key.clone(),
            default_headers: self.inner.default_headers.clone(),
            pending_headers: Vec::new(),
            user_agent: self
                .inner
                .user_agent
                .to_str()
                .unwrap_or(DEFAULT_USER_AGENT)
                .to_owned(),
        }
    }

    /// The normalised task API base URL (no trailing `/`, no `/v1` or `/v3`).
    pub fn base_url(&self) -> &str {
        &self.inner.base_url
    }

    /// The upload API base URL (no trailing `/`).
    pub fn upload_base_url(&self) -> &str {
        &self.inner.upload_base_url
    }

    /// The API key, if one is configured.
    pub fn api_key(&self) -> Option<&ApiKey> {
        self.inner.api_key.as_ref()
    }

    /// The default headers sent on every authorised request.
    pub fn default_headers(&self) -> &HeaderMap {
        &self.inner.default_headers
    }

    /// The `User-Agent` sent on every authorised request.
    pub fn user_agent(&self) -> &HeaderValue {
        &self.inner.user_agent
    }

    /// The headers of a task-API or upload-API request, in precedence order: default
    /// headers, then `User-Agent` (unless a default header sets it), then `Authorization`
    /// (which wins). The caller adds `Content-Type` last.
    pub(crate) fn headers(&self) -> HeaderMap {
        self.inner.request_headers.clone()
    }
}

impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let headers: Vec<_> = self
            .inner
            .default_headers
            .iter()
            .map(|(name, value)| {
                let shown = if value.is_sensitive() || is_secret_header(name) {
                    "***"
                } else {
                    value.to_str().unwrap_or("<binary>")
                };
                (name.as_str(), shown)
            })
            .collect();
        f.debug_struct("Config")
            .field("base_url", &self.inner.base_url)
            .field("upload_base_url", &self.inner.upload_base_url)
            .field("api_key", &self.inner.api_key)
            .field("default_headers", &headers)
            .field("user_agent", &self.inner.user_agent)
            .finish()
    }
}

fn is_secret_header(name: &HeaderName) -> bool {
    name == AUTHORIZATION
        || name == COOKIE
        || name == PROXY_AUTHORIZATION
        || name.as_str().contains("token")
        || name.as_str().contains("key")
        || name.as_str().contains("secret")
}

/// Builds a [`Config`], validating URLs and headers in [`ConfigBuilder::build`].
#[derive(Clone)]
pub struct ConfigBuilder {
    base_url: String,
    upload_base_url: String,
    api_key: Option<ApiKey>,
    default_headers: HeaderMap,
    pending_headers: Vec<(String, String)>,
    user_agent: String,
}

impl Default for ConfigBuilder {
    fn default() -> Self {
        ConfigBuilder {
            base_url: DEFAULT_BASE_URL.to_owned(),
            upload_base_url: DEFAULT_UPLOAD_BASE_URL.to_owned(),
            api_key: None,
            default_headers: HeaderMap::new(),
            pending_headers: Vec::new(),
            user_agent: DEFAULT_USER_AGENT.to_owned(),
        }
    }
}

impl fmt::Debug for ConfigBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ConfigBuilder")
            .field("base_url", &self.base_url)
            .field("upload_base_url", &self.upload_base_url)
            .field("api_key", &self.api_key)
            .field(
                "default_headers",
                &self
                    .default_headers
                    .keys()
                    .map(HeaderName::as_str)
                    .chain(self.pending_headers.iter().map(|(n, _)| n.as_str()))
                    .collect::<Vec<_>>(),
            )
            .field("user_agent", &self.user_agent)
            .finish()
    }
}

impl ConfigBuilder {
    /// A builder from the process environment: [`ENV_API_KEY`], [`ENV_BASE_URL`] and
    /// [`ENV_UPLOAD_BASE_URL`], each used when set and not blank. The base URLs fall back to
    /// [`ENV_BASE_URL_FALLBACK`] and [`ENV_UPLOAD_BASE_URL_FALLBACK`], the names the
    /// emulator prints, so `eval "$(cloud-task-emulator ...)"` configures a client.
    pub fn from_env() -> Self {
        Self::default().with_env(|name| std::env::var(name).ok())
    }

    /// Applies the variables [`ENV_API_KEY`], [`ENV_BASE_URL`] (or
    /// [`ENV_BASE_URL_FALLBACK`]) and [`ENV_UPLOAD_BASE_URL`] (or
    /// [`ENV_UPLOAD_BASE_URL_FALLBACK`]) as answered by `lookup` (for tests, or another
    /// source than the process environment). Blank values are ignored.
    pub fn with_env(mut self, lookup: impl Fn(&str) -> Option<String>) -> Self {
        let get = |name: &str| lookup(name).filter(|v| !v.trim().is_empty());
        if let Some(key) = get(ENV_API_KEY) {
            self.api_key = Some(ApiKey::new(key.trim()));
        }
        if let Some(url) = get(ENV_BASE_URL).or_else(|| get(ENV_BASE_URL_FALLBACK)) {
            self.base_url = url;
        }
        if let Some(url) = get(ENV_UPLOAD_BASE_URL).or_else(|| get(ENV_UPLOAD_BASE_URL_FALLBACK)) {
            self.upload_base_url = url;
        }
        self
    }

    /// The task API base URL (default [`DEFAULT_BASE_URL`]); normalised by
    /// [`normalize_base_url`].
    pub fn base_url(mut self, url: impl Into<String>) -> Self {
        self.base_url = url.into();
        self
    }

    /// The upload API base URL (default [`DEFAULT_UPLOAD_BASE_URL`]).
    pub fn upload_base_url(mut self, url: impl Into<String>) -> Self {
        self.upload_base_url = url.into();
        self
    }

    /// The API key, sent as `Authorization: Bearer <key>`.
    pub fn api_key(mut self, key: impl Into<ApiKey>) -> Self {
        self.api_key = Some(key.into());
        self
    }

    /// Sets or clears the API key.
    pub fn api_key_opt(mut self, key: Option<ApiKey>) -> Self {
        self.api_key = key;
        self
    }

    /// Adds a default header (validated in [`build`](Self::build)). For cookie
    /// authentication, add `Cookie: oomol-token=<token>`.
    pub fn default_header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.pending_headers.push((name.into(), value.into()));
        self
    }

    /// Adds already-validated default headers.
    pub fn default_headers(mut self, headers: HeaderMap) -> Self {
        for (name, value) in headers.iter() {
            self.default_headers.append(name.clone(), value.clone());
        }
        self
    }

    /// The `User-Agent` (default [`DEFAULT_USER_AGENT`]).
    pub fn user_agent(mut self, user_agent: impl Into<String>) -> Self {
        self.user_agent = user_agent.into();
        self
    }

    /// Validates and builds the configuration.
    ///
    /// Fails with [`Error::InvalidInput`] naming the field when a URL is not an absolute
    /// `http`/`https` URL, when a header name or value is invalid, or when the API key is
    /// empty or holds characters a header cannot carry.
    pub fn build(self) -> Result<Config> {
        let base_url = validate_url("base_url", &normalize_base_url(&self.base_url))?;
        let upload_base_url = validate_url(
            "upload_base_url",
            self.upload_base_url.trim().trim_end_matches('/'),
        )?;
        let mut default_headers = self.default_headers;
        for (name, value) in self.pending_headers {
            let header_name = HeaderName::from_bytes(name.trim().as_bytes()).map_err(|_| {
                Error::invalid_input(
                    "default_headers",
                    format!("default header name {name:?} is not a valid HTTP header name"),
                )
            })?;
            let mut header_value = HeaderValue::from_str(&value).map_err(|_| {
                Error::invalid_input(
                    "default_headers",
                    format!("default header {header_name} has a value that is not a valid HTTP header value"),
                )
            })?;
            if is_secret_header(&header_name) {
                header_value.set_sensitive(true);
            }
            default_headers.append(header_name, header_value);
        }
        for (name, value) in default_headers.iter_mut() {
            if is_secret_header(name) {
                value.set_sensitive(true);
            }
        }
        let auth_value = match &self.api_key {
            None => None,
            Some(key) => {
                if key.expose_secret().trim().is_empty() {
                    return Err(Error::invalid_input("api_key", "api_key must not be empty"));
                }
                let mut value = HeaderValue::from_str(&format!("Bearer {}", key.expose_secret()))
                    .map_err(|_| {
                    Error::invalid_input(
                        "api_key",
                        "api_key contains characters that cannot be sent in an HTTP header",
                    )
                })?;
                value.set_sensitive(true);
                Some(value)
            }
        };
        let user_agent = HeaderValue::from_str(&self.user_agent).map_err(|_| {
            Error::invalid_input("user_agent", "user_agent is not a valid HTTP header value")
        })?;
        let mut request_headers = default_headers.clone();
        if !request_headers.contains_key(http::header::USER_AGENT) {
            request_headers.insert(http::header::USER_AGENT, user_agent.clone());
        }
        if let Some(auth) = &auth_value {
            request_headers.insert(AUTHORIZATION, auth.clone());
        }
        Ok(Config {
            inner: Arc::new(Inner {
                base_url,
                upload_base_url,
                api_key: self.api_key,
                default_headers,
                user_agent,
                request_headers,
            }),
        })
    }
}

fn validate_url(field: &'static str, url: &str) -> Result<String> {
    let bad = |why: &str| Error::invalid_input(field, format!("{field} {url:?} {why}"));
    let uri: http::Uri = url.parse().map_err(|_| bad("is not a valid URL"))?;
    match uri.scheme_str() {
        Some("http") | Some("https") => {}
        _ => return Err(bad("must start with http:// or https://")),
    }
    if uri.authority().is_none_or(|a| a.host().is_empty()) {
        return Err(bad("has no host"));
    }
    if uri.query().is_some() || url.contains('#') {
        return Err(bad("must not have a query or fragment"));
    }
    Ok(url.to_owned())
}
