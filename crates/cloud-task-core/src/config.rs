//! Client configuration shared by every operation: base URLs, credentials, headers.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use http::header::{
    AUTHORIZATION, COOKIE, HeaderMap, HeaderName, HeaderValue, PROXY_AUTHORIZATION,
};

use crate::cancel::CancelToken;
use crate::error::{Error, Result};
use crate::intercept::{Interceptor, Interceptors};
use crate::wait::AwaitOptions;

/// The default task API base URL.
pub const DEFAULT_BASE_URL: &str = "https://cloud-task.oomol.com";
/// The default upload API base URL.
pub const DEFAULT_UPLOAD_BASE_URL: &str = "https://llm.oomol.com/api/tasks/files/remote-cache";
/// The default registry base URL: where a package's description (its blocks and their
/// inputs) is read.
pub const DEFAULT_REGISTRY_URL: &str = "https://registry.oomol.com";
/// The default domain ([`ConfigBuilder::endpoint`]): every host of the official service is
/// a subdomain of it.
pub const DEFAULT_ENDPOINT: &str = "oomol.com";
/// The default account API base URL (sign-in, the user's profile).
pub const DEFAULT_API_URL: &str = "https://api.oomol.com";
/// The default `User-Agent`: `oomol-cloud-task-rust/<version>`.
pub const DEFAULT_USER_AGENT: &str = concat!("oomol-cloud-task-rust/", env!("CARGO_PKG_VERSION"));

/// The environment variable holding the API key.
pub const ENV_API_KEY: &str = "OOMOL_API_KEY";
/// The environment variable naming the domain every host is derived from
/// ([`ConfigBuilder::endpoint`]), as OOMOL's own CLI reads it.
pub const ENV_ENDPOINT: &str = "OOMOL_ENDPOINT";
/// The environment variable holding the task API base URL.
pub const ENV_BASE_URL: &str = "OOMOL_BASE_URL";
/// The environment variable holding the upload API base URL.
pub const ENV_UPLOAD_BASE_URL: &str = "OOMOL_UPLOAD_BASE_URL";

/// The environment variable holding the registry base URL.
pub const ENV_REGISTRY_URL: &str = "OOMOL_REGISTRY_URL";
/// Read when [`ENV_REGISTRY_URL`] is not set: the name the emulator prints.
pub const ENV_REGISTRY_URL_FALLBACK: &str = "CLOUD_TASK_REGISTRY_URL";

/// Read when [`ENV_BASE_URL`] is not set: the name the emulator prints.
pub const ENV_BASE_URL_FALLBACK: &str = "CLOUD_TASK_BASE_URL";
/// Read when [`ENV_UPLOAD_BASE_URL`] is not set: the name the emulator prints.
pub const ENV_UPLOAD_BASE_URL_FALLBACK: &str = "CLOUD_TASK_UPLOAD_BASE_URL";

/// The default per-request timeout: 30 s, from sending a request to the end of its
/// response body.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
/// The default connect timeout of the drivers' own transports: 10 s.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// The default largest response body: 32 MiB.
pub const DEFAULT_MAX_RESPONSE_BODY: u64 = 32 * 1024 * 1024;
/// The default most bytes of parts an upload holds at once: 64 MiB.
pub const DEFAULT_MAX_UPLOAD_BUFFER: u64 = 64 * 1024 * 1024;
/// The default most pages one walk over the task list reads: 10,000 (a million tasks at
/// 100 a page).
pub const DEFAULT_MAX_PAGES: u64 = 10_000;
/// The default most same-origin redirects one call follows: 5.
pub const DEFAULT_MAX_REDIRECTS: u32 = 5;

/// The shortest key [`ApiKey::scrub`] looks for in text: a shorter one would match ordinary
/// words (a key `k` must not turn "Task failed" into "Tas*** failed").
pub const MIN_SCRUBBED_KEY: usize = 8;

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

    /// The key as the text to look for in what a server sent back, or `None` when it is
    /// shorter than [`MIN_SCRUBBED_KEY`] (looking for it would mangle ordinary words).
    pub fn scrubbable(&self) -> Option<&str> {
        (self.0.chars().count() >= MIN_SCRUBBED_KEY).then_some(self.0.as_str())
    }

    /// `text` with every occurrence of the key replaced by `***` (unchanged, and not
    /// copied, when it holds none or the key is too short to look for): what the CLI and
    /// the MCP server do to a server's words before showing them.
    ///
    /// ```
    /// # use cloud_task_core::ApiKey;
    /// let key = ApiKey::new("sk-0123456789");
    /// assert_eq!(key.scrub("bad key sk-0123456789!"), "bad key ***!");
    /// assert_eq!(ApiKey::new("k").scrub("Task failed"), "Task failed");
    /// ```
    pub fn scrub<'t>(&self, text: &'t str) -> std::borrow::Cow<'t, str> {
        match self.scrubbable() {
            Some(key) if text.contains(key) => text.replace(key, "***").into(),
            _ => text.into(),
        }
    }

    /// Checks that `key` can be a key: not empty, and visible ASCII only (letters, digits
    /// and punctuation; no spaces, control characters or other scripts), so that it travels
    /// in a header byte for byte. The message never shows the key.
    ///
    /// ```
    /// # use cloud_task_core::ApiKey;
    /// assert!(ApiKey::check("sk-abc_123.XYZ").is_ok());
    /// let error = ApiKey::check("sk-clé").unwrap_err();
    /// assert!(!error.to_string().contains("clé"));
    /// assert!(ApiKey::check("sk abc").is_err());
    /// ```
    pub fn check(key: &str) -> Result<()> {
        if key.is_empty() {
            return Err(Error::invalid_input("api_key", "api_key must not be empty"));
        }
        if let Some((at, _)) = key.char_indices().find(|(_, c)| !c.is_ascii_graphic()) {
            let position = key[..at].chars().count() + 1;
            return Err(Error::invalid_input(
                "api_key",
                format!(
                    "api_key must be visible ASCII (letters, digits, punctuation), but its \
                     character {position} of {} is not",
                    key.chars().count()
                ),
            ));
        }
        Ok(())
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

/// The upload and registry base URLs that follow a task API base URL, when they are not
/// given: see [`derived_urls`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct DerivedUrls {
    /// The upload API base URL.
    pub upload_base_url: String,
    /// The registry base URL.
    pub registry_url: String,
    /// The account API base URL (sign-in, the user's profile).
    pub api_url: String,
}

/// Every base URL of the environment a domain names; the answer of [`endpoint_urls`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct EndpointUrls {
    /// The task API base URL.
    pub base_url: String,
    /// The upload API base URL.
    pub upload_base_url: String,
    /// The registry base URL.
    pub registry_url: String,
    /// The account API base URL (sign-in, the user's profile).
    pub api_url: String,
}

/// Every base URL of the environment `endpoint` names, as OOMOL's CLI derives them from
/// `OOMOL_ENDPOINT`:
///
/// - a domain, e.g. `oomol.com` (optionally with a port, `oomol.test:8443`): the hosts
///   `cloud-task.`, `llm.` (uploads), `registry.` and `api.` of it, over `https`;
/// - an origin, `http://127.0.0.1:8080` or `https://host`: every API at that one origin,
///   as the emulator serves them all. This is how a domain maps to a local server, whose
///   subdomains a loopback test cannot resolve.
///
/// Anything else is refused with [`Error::InvalidInput`] naming `endpoint`: a path, a
/// query, user information, spaces or control characters, an empty name.
///
/// ```
/// use cloud_task_core::endpoint_urls;
///
/// let urls = endpoint_urls("oomol.dev")?;
/// assert_eq!(urls.base_url, "https://cloud-task.oomol.dev");
/// assert_eq!(urls.upload_base_url, "https://llm.oomol.dev/api/tasks/files/remote-cache");
/// assert_eq!(urls.registry_url, "https://registry.oomol.dev");
/// assert_eq!(urls.api_url, "https://api.oomol.dev");
/// let local = endpoint_urls("http://127.0.0.1:8080")?;
/// assert_eq!(local.api_url, "http://127.0.0.1:8080");
/// assert!(endpoint_urls("oomol.com/evil").is_err());
/// # Ok::<(), cloud_task_core::Error>(())
/// ```
pub fn endpoint_urls(endpoint: &str) -> Result<EndpointUrls> {
    let trimmed = endpoint.trim();
    let bad = |why: &str| {
        Error::invalid_input(
            "endpoint",
            format!(
                "endpoint {trimmed:?} {why}: give a domain such as oomol.com, or an origin such as http://127.0.0.1:8080"
            ),
        )
    };
    if trimmed.is_empty() {
        return Err(bad("is empty"));
    }
    if trimmed.len() > 253 {
        return Err(bad("is longer than a domain name can be"));
    }
    let upload_path = upload_path();
    if let Some((scheme, rest)) = trimmed.split_once("://") {
        let scheme = scheme.to_ascii_lowercase();
        if scheme != "http" && scheme != "https" {
            return Err(bad("must start with http:// or https:// when it is a URL"));
        }
        let authority = rest.strip_suffix('/').unwrap_or(rest);
        check_authority(authority).map_err(bad)?;
        let origin = format!("{scheme}://{authority}");
        return Ok(EndpointUrls {
            base_url: origin.clone(),
            upload_base_url: format!("{origin}{upload_path}"),
            registry_url: origin.clone(),
            api_url: origin,
        });
    }
    check_authority(trimmed).map_err(bad)?;
    let domain = trimmed.to_ascii_lowercase();
    Ok(EndpointUrls {
        base_url: format!("https://cloud-task.{domain}"),
        upload_base_url: format!("https://llm.{domain}{upload_path}"),
        registry_url: format!("https://registry.{domain}"),
        api_url: format!("https://api.{domain}"),
    })
}

/// The path of the upload API under its host.
fn upload_path() -> &'static str {
    DEFAULT_UPLOAD_BASE_URL
        .strip_prefix("https://llm.oomol.com")
        .unwrap_or("/api/tasks/files/remote-cache")
}

/// A host with an optional port, and nothing else: `Err` says what is wrong.
fn check_authority(authority: &str) -> std::result::Result<(), &'static str> {
    if authority.is_empty() {
        return Err("names no host");
    }
    if authority.contains(['/', '?', '#']) {
        return Err("must not have a path, a query or a fragment");
    }
    if authority.contains('@') {
        return Err("must not carry user information");
    }
    if authority
        .chars()
        .any(|c| c.is_whitespace() || c.is_control())
    {
        return Err("must not hold spaces or control characters");
    }
    let (host, port) = match authority.rsplit_once(':') {
        // `[::1]:8080`, or a name with a port.
        Some((host, port)) if host.ends_with(']') || !host.contains(':') => (host, Some(port)),
        // A bare IPv6 literal, or none.
        _ => (authority, None),
    };
    if host.is_empty() || host.starts_with('.') || host.ends_with('.') || host.contains("..") {
        return Err("is not a valid host name");
    }
    if let Some(port) = port
        && port.parse::<u16>().map_or(true, |p| p == 0)
    {
        return Err("has a port that is not a number from 1 to 65535");
    }
    let uri: std::result::Result<http::Uri, _> = format!("https://{authority}/").parse();
    if uri.is_err() {
        return Err("is not a valid host name");
    }
    Ok(())
}

/// The upload and registry base URLs of the environment a task API base URL (normalised,
/// as [`normalize_base_url`] does) belongs to, so that pointing a client at another
/// environment moves every host, and the API key never goes to a host the user did not
/// name:
///
/// - the default base URL ([`DEFAULT_BASE_URL`]): the official hosts
///   ([`DEFAULT_UPLOAD_BASE_URL`], [`DEFAULT_REGISTRY_URL`]);
/// - a host `cloud-task.{domain}` (OOMOL's layout, e.g. a staging domain): `llm.{domain}`
///   for uploads, `registry.{domain}` and `api.{domain}`, with the same scheme and port;
/// - any other (a local emulator, a proxy): the same origin, as the emulator serves all
///   three APIs.
///
/// An explicit URL ([`ConfigBuilder::upload_base_url`], [`ConfigBuilder::registry_url`],
/// or their environment variables) always wins.
///
/// ```
/// use cloud_task_core::derived_urls;
///
/// let staging = derived_urls("https://cloud-task.oomol.dev");
/// assert_eq!(staging.registry_url, "https://registry.oomol.dev");
/// assert_eq!(staging.upload_base_url, "https://llm.oomol.dev/api/tasks/files/remote-cache");
/// let local = derived_urls("http://127.0.0.1:8080");
/// assert_eq!(local.registry_url, "http://127.0.0.1:8080");
/// assert_eq!(local.upload_base_url, "http://127.0.0.1:8080/api/tasks/files/remote-cache");
/// ```
pub fn derived_urls(base_url: &str) -> DerivedUrls {
    let base = normalize_base_url(base_url);
    if base == DEFAULT_BASE_URL {
        return DerivedUrls {
            upload_base_url: DEFAULT_UPLOAD_BASE_URL.to_owned(),
            registry_url: DEFAULT_REGISTRY_URL.to_owned(),
            api_url: DEFAULT_API_URL.to_owned(),
        };
    }
    let upload_path = upload_path();
    let (scheme, rest) = base.split_once("://").unwrap_or(("https", base.as_str()));
    let authority = rest.split(['/', '?', '#']).next().unwrap_or(rest);
    let (upload, registry, api) = match authority.strip_prefix("cloud-task.") {
        Some(domain) if !domain.is_empty() => (
            format!("llm.{domain}"),
            format!("registry.{domain}"),
            format!("api.{domain}"),
        ),
        _ => (
            authority.to_owned(),
            authority.to_owned(),
            authority.to_owned(),
        ),
    };
    DerivedUrls {
        upload_base_url: format!("{scheme}://{upload}{upload_path}"),
        registry_url: format!("{scheme}://{registry}"),
        api_url: format!("{scheme}://{api}"),
    }
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
    registry_url: String,
    api_url: String,
    /// The domain given ([`ConfigBuilder::endpoint`]), as given.
    endpoint: Option<String>,
    /// The hooks on every request.
    interceptors: Interceptors,
    /// The origins of the four base URLs, parsed once: where an interceptor's headers may go.
    origins: Vec<http::Uri>,
    /// The scheme and authority of each base URL (in the order of [`Base`]), parsed once:
    /// a request's URI is made of them and its path, which alone is parsed per request.
    bases: [Option<BaseParts>; 4],
    api_key: Option<ApiKey>,
    default_headers: HeaderMap,
    user_agent: HeaderValue,
    /// The merged headers of every authorised request, built once.
    request_headers: HeaderMap,
    /// The same for the registry, which takes the key bare in `Authorization`.
    registry_headers: HeaderMap,
    bounds: Bounds,
    await_defaults: AwaitOptions,
}

/// One of the four base URLs of a configuration.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Base {
    Api = 0,
    Upload = 1,
    Registry = 2,
    Account = 3,
}

/// A base URL split once: its scheme and authority, and where its path starts.
#[derive(Debug)]
pub(crate) struct BaseParts {
    pub(crate) scheme: http::uri::Scheme,
    pub(crate) authority: http::uri::Authority,
    /// The length of `{scheme}://{authority}` in the URL's text: its path follows.
    pub(crate) path_at: usize,
}

impl BaseParts {
    /// The parts of `url` (parsed as `uri`), when it is an absolute URL with no query whose
    /// text starts with exactly `{scheme}://{authority}` (every base URL a configuration
    /// accepts).
    fn of(url: &str, uri: &http::Uri) -> Option<BaseParts> {
        let scheme = uri.scheme()?.clone();
        let authority = uri.authority()?.clone();
        let path_at = scheme.as_str().len() + "://".len() + authority.as_str().len();
        let head = url.get(..path_at)?;
        let exact = head.eq_ignore_ascii_case(&format!("{scheme}://{authority}"));
        (exact && uri.query().is_none()).then_some(BaseParts {
            scheme,
            authority,
            path_at,
        })
    }
}

/// The timeouts and limits of a configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Bounds {
    timeout: Duration,
    connect_timeout: Duration,
    max_response_body: u64,
    max_upload_buffer: u64,
    max_pages: u64,
    max_redirects: u32,
}

impl Default for Bounds {
    fn default() -> Self {
        Bounds {
            timeout: DEFAULT_TIMEOUT,
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            max_response_body: DEFAULT_MAX_RESPONSE_BODY,
            max_upload_buffer: DEFAULT_MAX_UPLOAD_BUFFER,
            max_pages: DEFAULT_MAX_PAGES,
            max_redirects: DEFAULT_MAX_REDIRECTS,
        }
    }
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

    /// A builder starting from this configuration. An upload or registry URL that is the
    /// one [derived](derived_urls) from the base URL stays derived: it follows a new base
    /// URL given to the builder.
    pub fn to_builder(&self) -> ConfigBuilder {
        let inner = &self.inner;
        let from_endpoint = inner
            .endpoint
            .as_deref()
            .and_then(|e| endpoint_urls(e).ok());
        let derived = match &from_endpoint {
            Some(urls) => DerivedUrls {
                upload_base_url: urls.upload_base_url.clone(),
                registry_url: urls.registry_url.clone(),
                api_url: urls.api_url.clone(),
            },
            None => derived_urls(&inner.base_url),
        };
        let given = |url: &String, derived: String| (*url != derived).then(|| url.clone());
        let default_base =
            from_endpoint.map_or_else(|| DEFAULT_BASE_URL.to_owned(), |u| u.base_url);
        ConfigBuilder {
            base_url: given(&inner.base_url, default_base),
            endpoint: inner.endpoint.clone(),
            interceptors: inner.interceptors.clone(),
            api_url: given(&inner.api_url, derived.api_url),
            upload_base_url: given(&self.inner.upload_base_url, derived.upload_base_url),
            registry_url: given(&self.inner.registry_url, derived.registry_url),
            api_key: self.inner.api_key.clone(),
            default_headers: self.inner.default_headers.clone(),
            pending_headers: Vec::new(),
            user_agent: self
                .inner
                .user_agent
                .to_str()
                .unwrap_or(DEFAULT_USER_AGENT)
                .to_owned(),
            bounds: self.inner.bounds,
            await_defaults: self.inner.await_defaults.clone(),
            require_api_key: false,
        }
    }

    /// The default options of every wait (`await_result`, `create_and_wait`, `watch`,
    /// `await_many`): a wait's own options win setting by setting ([`AwaitOptions::or`]).
    /// Empty unless set with [`ConfigBuilder::await_options`].
    pub fn await_defaults(&self) -> &AwaitOptions {
        &self.inner.await_defaults
    }

    /// How long one request may take, from sending it to the end of its response body
    /// (default [`DEFAULT_TIMEOUT`]). Every request a machine of the core hands out carries
    /// a deadline no later than this after it is handed out (sooner when a wait's timeout
    /// ends first).
    pub fn timeout(&self) -> Duration {
        self.inner.bounds.timeout
    }

    /// How long the drivers' own transports may take to connect (default
    /// [`DEFAULT_CONNECT_TIMEOUT`]).
    pub fn connect_timeout(&self) -> Duration {
        self.inner.bounds.connect_timeout
    }

    /// The largest response body a client reads (default [`DEFAULT_MAX_RESPONSE_BODY`]);
    /// a larger one ends the call with [`Error::Limit`] while it is being read.
    pub fn max_response_body(&self) -> u64 {
        self.inner.bounds.max_response_body
    }

    /// The most bytes of parts an upload holds at once (default
    /// [`DEFAULT_MAX_UPLOAD_BUFFER`]): parts in flight are fewer when they are large, and an
    /// upload server asking for parts larger than this is refused before any part is sent.
    pub fn max_upload_buffer(&self) -> u64 {
        self.inner.bounds.max_upload_buffer
    }

    /// The most pages one walk over the task list reads (default [`DEFAULT_MAX_PAGES`]).
    pub fn max_pages(&self) -> u64 {
        self.inner.bounds.max_pages
    }

    /// The most redirects one call follows, all within the configured origin (default
    /// [`DEFAULT_MAX_REDIRECTS`]).
    pub fn max_redirects(&self) -> u32 {
        self.inner.bounds.max_redirects
    }

    /// The normalised task API base URL (no trailing `/`, no `/v1` or `/v3`).
    pub fn base_url(&self) -> &str {
        &self.inner.base_url
    }

    /// Base URL `base`, with its scheme and authority parsed once (when they parse).
    pub(crate) fn base(&self, base: Base) -> (&str, Option<&BaseParts>) {
        let url = match base {
            Base::Api => &self.inner.base_url,
            Base::Upload => &self.inner.upload_base_url,
            Base::Registry => &self.inner.registry_url,
            Base::Account => &self.inner.api_url,
        };
        (url, self.inner.bases[base as usize].as_ref())
    }

    /// The upload API base URL (no trailing `/`).
    pub fn upload_base_url(&self) -> &str {
        &self.inner.upload_base_url
    }

    /// The registry base URL (no trailing `/`), where package descriptions are read
    /// (default [`DEFAULT_REGISTRY_URL`]).
    pub fn registry_url(&self) -> &str {
        &self.inner.registry_url
    }

    /// The account API base URL (no trailing `/`): device sign-in and the user's profile
    /// (default [`DEFAULT_API_URL`]; it follows the endpoint or the base URL, see
    /// [`ConfigBuilder::endpoint`]).
    pub fn api_url(&self) -> &str {
        &self.inner.api_url
    }

    /// The interceptors, in the order they were added ([`ConfigBuilder::interceptor`]).
    pub fn interceptors(&self) -> &Interceptors {
        &self.inner.interceptors
    }

    /// True when `uri` has the scheme, host and port of one of the configured base URLs
    /// (the task API, uploads, the registry, the account API).
    pub fn is_configured_origin(&self, uri: &http::Uri) -> bool {
        self.inner.origins.iter().any(|o| same_origin(o, uri))
    }

    /// The domain this configuration was built from ([`ConfigBuilder::endpoint`]), when
    /// one was given.
    pub fn endpoint(&self) -> Option<&str> {
        self.inner.endpoint.as_deref()
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

    /// The headers of a registry request: those of [`headers`](Self::headers), with the
    /// key bare in `Authorization`, as OOMOL's CLI sends it to the registry.
    pub(crate) fn registry_headers(&self) -> HeaderMap {
        self.inner.registry_headers.clone()
    }

    /// True when `headers` are exactly those of [`headers`](Self::headers), plus at most a
    /// `Content-Type`: what every request built by the core carries.
    pub(crate) fn are_request_headers(&self, headers: &HeaderMap) -> bool {
        let own = &self.inner.request_headers;
        // The usual case first, without hashing a name: a map cloned from the
        // configuration's iterates in its order, a `Content-Type` inserted after them last.
        let mut theirs = headers.iter();
        if headers.len() <= own.len() + 1 && own.iter().all(|pair| theirs.next() == Some(pair)) {
            match theirs.next() {
                None => return true,
                Some((name, _))
                    if name == http::header::CONTENT_TYPE
                        && !own.contains_key(http::header::CONTENT_TYPE) =>
                {
                    return true;
                }
                Some(_) => {}
            }
        }
        let extra = usize::from(
            headers.contains_key(http::header::CONTENT_TYPE)
                && !own.contains_key(http::header::CONTENT_TYPE),
        );
        headers.len() == own.len() + extra
            && own
                .iter()
                .all(|(name, value)| headers.get(name) == Some(value))
    }
}

impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let headers: Vec<_> = self
            .inner
            .default_headers
            .iter()
            .map(|(name, value)| (name.as_str(), shown_header_value(name, value)))
            .collect();
        f.debug_struct("Config")
            .field("base_url", &self.inner.base_url)
            .field("upload_base_url", &self.inner.upload_base_url)
            .field("registry_url", &self.inner.registry_url)
            .field("api_url", &self.inner.api_url)
            .field("endpoint", &self.inner.endpoint)
            .field("interceptors", &self.inner.interceptors)
            .field("api_key", &self.inner.api_key)
            .field("default_headers", &headers)
            .field("user_agent", &self.inner.user_agent)
            .field("timeout", &self.inner.bounds.timeout)
            .field("connect_timeout", &self.inner.bounds.connect_timeout)
            .field("max_response_body", &self.inner.bounds.max_response_body)
            .field("max_upload_buffer", &self.inner.bounds.max_upload_buffer)
            .field("max_pages", &self.inner.bounds.max_pages)
            .field("max_redirects", &self.inner.bounds.max_redirects)
            .field("await_defaults", &self.inner.await_defaults)
            .finish()
    }
}

/// True for a header whose value is a credential: `Authorization`, `Cookie`,
/// `Proxy-Authorization`, and any name holding `token`, `key`, `secret`, `auth`, `session`
/// or `password`. Their values are hidden in `Debug` and marked sensitive.
pub fn is_secret_header_name(name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    ["authorization", "cookie"].contains(&name.as_str())
        || ["token", "key", "secret", "auth", "session", "password"]
            .iter()
            .any(|word| name.contains(word))
}

/// A header's value as `Debug` and printed requests show it: `***` for a credential (a
/// secret name, or a value marked sensitive), `<binary>` for bytes that are not text.
pub(crate) fn shown_header_value<'a>(name: &HeaderName, value: &'a HeaderValue) -> &'a str {
    if value.is_sensitive() || is_secret_header(name) {
        "***"
    } else {
        value.to_str().unwrap_or("<binary>")
    }
}

fn is_secret_header(name: &HeaderName) -> bool {
    name == AUTHORIZATION
        || name == COOKIE
        || name == PROXY_AUTHORIZATION
        || is_secret_header_name(name.as_str())
}

/// The port of `uri`, with the scheme's default.
pub(crate) fn port_of(uri: &http::Uri) -> Option<u16> {
    uri.port_u16().or(match uri.scheme_str() {
        Some(s) if s.eq_ignore_ascii_case("https") => Some(443),
        Some(s) if s.eq_ignore_ascii_case("http") => Some(80),
        _ => None,
    })
}

/// True when `a` and `b` have the same scheme, host and port (compared without case, a
/// missing port as the scheme's default). Nothing is allocated.
pub fn same_origin(a: &http::Uri, b: &http::Uri) -> bool {
    let same = |x: Option<&str>, y: Option<&str>| match (x, y) {
        (Some(x), Some(y)) => x.eq_ignore_ascii_case(y),
        _ => false,
    };
    same(a.scheme_str(), b.scheme_str()) && same(a.host(), b.host()) && port_of(a) == port_of(b)
}

/// Settings for a few calls, without building a new client: what a client's `with` takes
/// (it answers a client sharing the transport, so the connection pool, and the timer).
///
/// ```
/// # use std::time::Duration;
/// # use cloud_task_core::{CallOptions, Config};
/// let config = Config::builder().api_key("k").default_header("x-team", "a").build()?;
/// let quick = CallOptions::new()
///     .timeout(Duration::from_secs(2))
///     .header("x-team", "b")
///     .header("x-request-id", "42")
///     .apply(&config)?;
/// assert_eq!(quick.timeout(), Duration::from_secs(2));
/// assert_eq!(quick.default_headers()["x-team"], "b");
/// assert_eq!(quick.default_headers().get_all("x-team").iter().count(), 1);
/// assert_eq!(config.default_headers()["x-team"], "a");
/// # Ok::<(), cloud_task_core::Error>(())
/// ```
#[derive(Clone, Default)]
#[non_exhaustive]
pub struct CallOptions {
    timeout: Option<Duration>,
    headers: Vec<(String, String)>,
}

impl CallOptions {
    /// No change.
    pub fn new() -> Self {
        Self::default()
    }

    /// The per-request timeout of these calls.
    pub fn timeout(mut self, per_request: Duration) -> Self {
        self.timeout = Some(per_request);
        self
    }

    /// A header on every API request of these calls; it replaces a default header of the
    /// same name (checked when applied; a secret's value is hidden in `Debug` as the
    /// default headers' are).
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// `config` with these settings.
    ///
    /// # Errors
    /// [`Error::InvalidInput`] naming a header that is not valid, or a zero timeout.
    pub fn apply(&self, config: &Config) -> Result<Config> {
        let mut builder = config.to_builder();
        if let Some(timeout) = self.timeout {
            builder = builder.timeout(timeout);
        }
        for (name, value) in &self.headers {
            let header = HeaderName::from_bytes(name.trim().as_bytes()).map_err(|_| {
                Error::invalid_input(
                    "headers",
                    format!("header name {name:?} is not a valid HTTP header name"),
                )
            })?;
            builder.default_headers.remove(&header);
            builder = builder.default_header(header.as_str(), value.clone());
        }
        builder.build()
    }
}

impl fmt::Debug for CallOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let headers: Vec<(&str, &str)> = self
            .headers
            .iter()
            .map(|(n, v)| {
                (
                    n.as_str(),
                    if is_secret_header_name(n) {
                        "***"
                    } else {
                        v.as_str()
                    },
                )
            })
            .collect();
        f.debug_struct("CallOptions")
            .field("timeout", &self.timeout)
            .field("headers", &headers)
            .finish()
    }
}

/// Builds a [`Config`], validating URLs and headers in [`ConfigBuilder::build`].
#[derive(Clone)]
pub struct ConfigBuilder {
    /// `None`: the endpoint's, or [`DEFAULT_BASE_URL`].
    base_url: Option<String>,
    /// The domain every URL not given is derived from.
    endpoint: Option<String>,
    interceptors: Interceptors,
    /// `None`: derived in `build`.
    api_url: Option<String>,
    /// `None`: derived from the base URL in `build`.
    upload_base_url: Option<String>,
    /// `None`: derived from the base URL in `build`.
    registry_url: Option<String>,
    api_key: Option<ApiKey>,
    default_headers: HeaderMap,
    pending_headers: Vec<(String, String)>,
    user_agent: String,
    bounds: Bounds,
    await_defaults: AwaitOptions,
    require_api_key: bool,
}

impl Default for ConfigBuilder {
    fn default() -> Self {
        ConfigBuilder {
            base_url: None,
            endpoint: None,
            interceptors: Interceptors::default(),
            api_url: None,
            upload_base_url: None,
            registry_url: None,
            api_key: None,
            default_headers: HeaderMap::new(),
            pending_headers: Vec::new(),
            user_agent: DEFAULT_USER_AGENT.to_owned(),
            bounds: Bounds::default(),
            await_defaults: AwaitOptions::default(),
            require_api_key: false,
        }
    }
}

impl fmt::Debug for ConfigBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ConfigBuilder")
            .field("base_url", &self.base_url)
            .field("endpoint", &self.endpoint)
            .field("interceptors", &self.interceptors)
            .field("api_url", &self.api_url)
            .field("upload_base_url", &self.upload_base_url)
            .field("registry_url", &self.registry_url)
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
            .field("bounds", &self.bounds)
            .field("await_defaults", &self.await_defaults)
            .field("require_api_key", &self.require_api_key)
            .finish()
    }
}

impl ConfigBuilder {
    /// A builder from the process environment. This is the one list of the variables
    /// every client, the CLI and the MCP server read; each is used when set and not blank:
    ///
    /// | variable | or else | sets |
    /// |---|---|---|
    /// | [`OOMOL_API_KEY`](ENV_API_KEY) | | the API key |
    /// | [`OOMOL_ENDPOINT`](ENV_ENDPOINT) | | the domain of every host ([`endpoint`](Self::endpoint)) |
    /// | [`OOMOL_BASE_URL`](ENV_BASE_URL) | [`CLOUD_TASK_BASE_URL`](ENV_BASE_URL_FALLBACK) | the task API ([`base_url`](Self::base_url)) |
    /// | [`OOMOL_UPLOAD_BASE_URL`](ENV_UPLOAD_BASE_URL) | [`CLOUD_TASK_UPLOAD_BASE_URL`](ENV_UPLOAD_BASE_URL_FALLBACK) | the upload API ([`upload_base_url`](Self::upload_base_url)) |
    /// | [`OOMOL_REGISTRY_URL`](ENV_REGISTRY_URL) | [`CLOUD_TASK_REGISTRY_URL`](ENV_REGISTRY_URL_FALLBACK) | the registry ([`registry_url`](Self::registry_url)) |
    ///
    /// The `CLOUD_TASK_*` names are those the emulator prints, so that
    /// `eval "$(cloud-task-emulator --detach ...)"` configures a client. An upload or
    /// registry URL that is not set follows the base URL ([`derived_urls`]). Proxies come
    /// from `HTTPS_PROXY`, `HTTP_PROXY`, `ALL_PROXY` and `NO_PROXY` (the default transports).
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
        if let Some(endpoint) = get(ENV_ENDPOINT) {
            self.endpoint = Some(endpoint);
        }
        if let Some(url) = get(ENV_BASE_URL).or_else(|| get(ENV_BASE_URL_FALLBACK)) {
            self.base_url = Some(url);
        }
        if let Some(url) = get(ENV_UPLOAD_BASE_URL).or_else(|| get(ENV_UPLOAD_BASE_URL_FALLBACK)) {
            self.upload_base_url = Some(url);
        }
        if let Some(url) = get(ENV_REGISTRY_URL).or_else(|| get(ENV_REGISTRY_URL_FALLBACK)) {
            self.registry_url = Some(url);
        }
        self
    }

    /// The task API base URL (default: the endpoint's, else [`DEFAULT_BASE_URL`]);
    /// normalised by [`normalize_base_url`].
    pub fn base_url(mut self, url: impl Into<String>) -> Self {
        self.base_url = Some(url.into());
        self
    }

    /// The API key given so far (set, or found by [`from_env`](Self::from_env)).
    pub fn get_api_key(&self) -> Option<&ApiKey> {
        self.api_key.as_ref()
    }

    /// The endpoint given so far, if any.
    pub fn get_endpoint(&self) -> Option<&str> {
        self.endpoint.as_deref()
    }

    /// The task API base URL given so far, if any.
    pub fn get_base_url(&self) -> Option<&str> {
        self.base_url.as_deref()
    }

    /// The domain of the environment (default [`DEFAULT_ENDPOINT`], or
    /// [`OOMOL_ENDPOINT`](ENV_ENDPOINT) with [`from_env`](Self::from_env)): every base URL
    /// not given explicitly is derived from it ([`endpoint_urls`]): `cloud-task.`, `llm.`,
    /// `registry.` and `api.` of a domain, or one origin (`http://127.0.0.1:8080`) for all.
    /// An explicit URL still wins for its own host. Checked in [`build`](Self::build).
    ///
    /// ```
    /// # use cloud_task_core::Config;
    /// let config = Config::builder().endpoint("oomol.dev").build()?;
    /// assert_eq!(config.base_url(), "https://cloud-task.oomol.dev");
    /// assert_eq!(config.api_url(), "https://api.oomol.dev");
    /// let mixed = Config::builder().endpoint("oomol.dev").base_url("http://127.0.0.1:9").build()?;
    /// assert_eq!(mixed.base_url(), "http://127.0.0.1:9");
    /// assert_eq!(mixed.registry_url(), "https://registry.oomol.dev");
    /// # Ok::<(), cloud_task_core::Error>(())
    /// ```
    pub fn endpoint(mut self, domain: impl Into<String>) -> Self {
        self.endpoint = Some(domain.into());
        self
    }

    /// The account API base URL (device sign-in, the user's profile). When not given, it
    /// follows the endpoint, else the base URL ([`derived_urls`]).
    pub fn api_url(mut self, url: impl Into<String>) -> Self {
        self.api_url = Some(url.into());
        self
    }

    /// Adds an interceptor: hooks on every request every machine sends, and on its answer
    /// (see [`Interceptor`]); they run in the order added.
    pub fn interceptor(mut self, interceptor: impl Interceptor + 'static) -> Self {
        self.interceptors = self.interceptors.with(Arc::new(interceptor));
        self
    }

    /// The upload API base URL. When not given, it follows the base URL (see
    /// [`derived_urls`]): [`DEFAULT_UPLOAD_BASE_URL`] for the default base URL.
    pub fn upload_base_url(mut self, url: impl Into<String>) -> Self {
        self.upload_base_url = Some(url.into());
        self
    }

    /// The registry base URL, where package descriptions are read (`GetPackageInfo`,
    /// the input checks). When not given, it follows the base URL (see
    /// [`derived_urls`]): [`DEFAULT_REGISTRY_URL`] for the default base URL.
    pub fn registry_url(mut self, url: impl Into<String>) -> Self {
        self.registry_url = Some(url.into());
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

    /// How long one request may take, from sending it to the end of its response body
    /// (default 30 s). It bounds every request whatever transport sends it: the drivers
    /// stop waiting for an answer at its deadline.
    pub fn timeout(mut self, per_request: Duration) -> Self {
        self.bounds.timeout = per_request;
        self
    }

    /// How long the drivers' own transports may take to connect (default 10 s).
    pub fn connect_timeout(mut self, connect: Duration) -> Self {
        self.bounds.connect_timeout = connect;
        self
    }

    /// The largest response body read (default 32 MiB, at least 1 KiB); a larger body ends
    /// the call with [`Error::Limit`] as soon as it is known to be too large.
    pub fn max_response_body(mut self, bytes: u64) -> Self {
        self.bounds.max_response_body = bytes;
        self
    }

    /// The most bytes of parts an upload holds at once (default 64 MiB, at least 1 KiB).
    /// Large parts go fewer at a time; an upload server asking for parts larger than this
    /// is refused before any part is sent.
    pub fn max_upload_buffer(mut self, bytes: u64) -> Self {
        self.bounds.max_upload_buffer = bytes;
        self
    }

    /// The most pages one walk over the task list reads (default 10,000, at least 1).
    pub fn max_pages(mut self, pages: u64) -> Self {
        self.bounds.max_pages = pages;
        self
    }

    /// The most same-origin redirects one call follows (default 5; 0 follows none).
    /// Redirects to another origin are never followed.
    pub fn max_redirects(mut self, redirects: u32) -> Self {
        self.bounds.max_redirects = redirects;
        self
    }

    /// The default options of every wait made with this configuration: each setting a
    /// wait leaves unset (interval, max interval, strategy, timeout, jitter, callbacks,
    /// cancel token) is taken from here ([`AwaitOptions::or`]). Checked in
    /// [`build`](Self::build).
    ///
    /// ```
    /// # use cloud_task_core::{AwaitOptions, Config};
    /// # use std::time::Duration;
    /// let config = Config::builder()
    ///     .await_options(AwaitOptions::new().interval(Duration::from_millis(30)))
    ///     .build()?;
    /// assert_eq!(AwaitOptions::new().or(config.await_defaults()).get_interval(), Duration::from_millis(30));
    /// # Ok::<(), cloud_task_core::Error>(())
    /// ```
    pub fn await_options(mut self, defaults: AwaitOptions) -> Self {
        self.await_defaults = defaults;
        self
    }

    /// Makes [`build`](Self::build) fail when no API key was given (neither set nor found
    /// in the environment), naming [`ENV_API_KEY`].
    pub fn require_api_key(mut self, required: bool) -> Self {
        self.require_api_key = required;
        self
    }

    /// Validates and builds the configuration.
    ///
    /// Fails with [`Error::InvalidInput`] naming the field when a URL is not an absolute
    /// `http`/`https` URL, when a header name or value is invalid, when the API key is
    /// empty or not visible ASCII ([`ApiKey::check`]; surrounding whitespace is trimmed),
    /// when a timeout is zero or a limit too small, or when an API key is required and
    /// none was given.
    pub fn build(self) -> Result<Config> {
        self.check_bounds()?;
        self.await_defaults.validate()?;
        let from_endpoint = self.endpoint.as_deref().map(endpoint_urls).transpose()?;
        let base_url = match (&self.base_url, &from_endpoint) {
            (Some(url), _) => normalize_base_url(url),
            (None, Some(urls)) => urls.base_url.clone(),
            (None, None) => DEFAULT_BASE_URL.to_owned(),
        };
        let base_url = validate_url("base_url", &base_url)?;
        let derived = match from_endpoint {
            Some(urls) => DerivedUrls {
                upload_base_url: urls.upload_base_url,
                registry_url: urls.registry_url,
                api_url: urls.api_url,
            },
            None => derived_urls(&base_url),
        };
        let api_url = validate_url(
            "api_url",
            self.api_url
                .as_deref()
                .unwrap_or(&derived.api_url)
                .trim()
                .trim_end_matches('/'),
        )?;
        let upload_base_url = validate_url(
            "upload_base_url",
            self.upload_base_url
                .as_deref()
                .unwrap_or(&derived.upload_base_url)
                .trim()
                .trim_end_matches('/'),
        )?;
        let registry_url = validate_url(
            "registry_url",
            self.registry_url
                .as_deref()
                .unwrap_or(&derived.registry_url)
                .trim()
                .trim_end_matches('/'),
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
        let api_key = self
            .api_key
            .as_ref()
            .map(|key| ApiKey::new(key.expose_secret().trim()));
        let auth_value = match &api_key {
            None if self.require_api_key => {
                return Err(Error::invalid_input(
                    "api_key",
                    format!("no API key: set the environment variable {ENV_API_KEY} or pass one"),
                ));
            }
            None => None,
            Some(key) => {
                ApiKey::check(key.expose_secret())?;
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
        // After the key's check: a key it refuses is never put in a header.
        let bare_key = match &api_key {
            Some(key) => {
                let mut value = HeaderValue::from_str(key.expose_secret()).map_err(|_| {
                    Error::invalid_input(
                        "api_key",
                        "api_key contains characters that cannot be sent in an HTTP header",
                    )
                })?;
                value.set_sensitive(true);
                Some(value)
            }
            None => None,
        };
        let user_agent = HeaderValue::from_str(&self.user_agent).map_err(|_| {
            Error::invalid_input("user_agent", "user_agent is not a valid HTTP header value")
        })?;
        let mut request_headers = default_headers.clone();
        if !request_headers.contains_key(http::header::USER_AGENT) {
            request_headers.insert(http::header::USER_AGENT, user_agent.clone());
        }
        let mut registry_headers = request_headers.clone();
        if let Some(auth) = &auth_value {
            request_headers.insert(AUTHORIZATION, auth.clone());
        }
        if let Some(bare) = bare_key {
            registry_headers.insert(AUTHORIZATION, bare);
        }
        // The four base URLs parsed once: their origins (for interceptors) and the parts
        // every request is made of.
        let urls = [&base_url, &upload_base_url, &registry_url, &api_url];
        let parsed = urls.map(|url| url.parse::<http::Uri>().ok());
        let origins = parsed.iter().flatten().cloned().collect();
        let bases = std::array::from_fn(|i| {
            let uri = parsed[i].as_ref()?;
            BaseParts::of(urls[i], uri)
        });
        Ok(Config {
            inner: Arc::new(Inner {
                base_url,
                upload_base_url,
                registry_url,
                origins,
                bases,
                api_url,
                endpoint: self.endpoint.map(|e| e.trim().to_owned()),
                interceptors: self.interceptors,
                registry_headers,
                api_key,
                default_headers,
                user_agent,
                request_headers,
                bounds: self.bounds,
                await_defaults: self.await_defaults,
            }),
        })
    }

    fn check_bounds(&self) -> Result<()> {
        let b = &self.bounds;
        for (field, value) in [
            ("timeout", b.timeout),
            ("connect_timeout", b.connect_timeout),
        ] {
            if value.is_zero() {
                return Err(Error::invalid_input(
                    field,
                    format!("{field} must be greater than zero"),
                ));
            }
        }
        for (field, value, min) in [
            ("max_response_body", b.max_response_body, 1024),
            ("max_upload_buffer", b.max_upload_buffer, 1024),
            ("max_pages", b.max_pages, 1),
        ] {
            if value < min {
                return Err(Error::invalid_input(
                    field,
                    format!("{field} must be at least {min}, got {value}"),
                ));
            }
        }
        Ok(())
    }
}

/// Defines a driver's client builder: the struct (a [`ConfigBuilder`], an optional
/// transport and an optional timer), its `Debug` (which shows no secret), the setters of the
/// configuration, `transport` and `timer`, and `into_parts` for the driver's own `build`.
/// The builder lives once, here in the core; each driver writes only `build`.
#[doc(hidden)]
#[macro_export]
macro_rules! __client_builder {
    (
        $(#[$meta:meta])*
        transport: $transport:path, default $default_transport:literal;
        timer: $timer:path, default $default_timer:literal;
    ) => {
        $(#[$meta])*
        #[derive(Clone, Default)]
        pub struct ClientBuilder {
            config: $crate::ConfigBuilder,
            transport: ::std::option::Option<::std::sync::Arc<dyn $transport>>,
            timer: ::std::option::Option<::std::sync::Arc<dyn $timer>>,
        }

        impl ::std::fmt::Debug for ClientBuilder {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.debug_struct("ClientBuilder")
                    .field("config", &self.config)
                    .field("custom_transport", &self.transport.is_some())
                    .field("custom_timer", &self.timer.is_some())
                    .finish()
            }
        }

        impl ClientBuilder {
            $crate::__config_builder_setters!();

            #[doc = concat!(
                "Sends through this transport instead of ", $default_transport,
                ". The client still bounds every request (its deadline and its body limit), ",
                "whatever the transport does."
            )]
            pub fn transport(mut self, transport: impl $transport) -> Self {
                self.transport = Some(::std::sync::Arc::new(transport));
                self
            }

            #[doc = concat!(
                "Uses this clock and sleeper instead of ", $default_timer, " (for tests)."
            )]
            pub fn timer(mut self, timer: impl $timer) -> Self {
                self.timer = Some(::std::sync::Arc::new(timer));
                self
            }

            /// The configuration (validated), and the transport and timer when set.
            fn into_parts(
                self,
            ) -> $crate::Result<(
                $crate::Config,
                ::std::option::Option<::std::sync::Arc<dyn $transport>>,
                ::std::option::Option<::std::sync::Arc<dyn $timer>>,
            )> {
                Ok((self.config.build()?, self.transport, self.timer))
            }
        }
    };
}

/// Defines, inside an `impl` block of a driver's client builder holding a
/// [`ConfigBuilder`] in a field named `config`, the setters that forward to it. The setters
/// and their documentation live once, here in the core; each driver adds only its transport
/// and timer.
#[doc(hidden)]
#[macro_export]
macro_rules! __config_builder_setters {
    () => {
        /// The API key, sent as `Authorization: Bearer <key>` (never logged or shown). It
        /// must be visible ASCII; surrounding whitespace is trimmed.
        pub fn api_key(mut self, key: impl Into<$crate::ApiKey>) -> Self {
            self.config = self.config.api_key(key);
            self
        }

        /// The task API base URL (default `https://cloud-task.oomol.com`; a trailing `/v1`
        /// or `/v3` is stripped).
        pub fn base_url(mut self, url: impl Into<String>) -> Self {
            self.config = self.config.base_url(url);
            self
        }

        /// The domain of the environment (default `oomol.com`, or `OOMOL_ENDPOINT`): every
        /// base URL not given is derived from it: `cloud-task.`, `llm.`, `registry.` and
        /// `api.` of a domain, or one origin such as `http://127.0.0.1:8080` for all (see
        /// [`endpoint_urls`]($crate::endpoint_urls)). An explicit URL wins for its host.
        pub fn endpoint(mut self, domain: impl Into<String>) -> Self {
            self.config = self.config.endpoint(domain);
            self
        }

        /// The account API base URL: device sign-in and the profile (default: the
        /// endpoint's `api.` host, or the base URL's origin for a local server).
        pub fn api_url(mut self, url: impl Into<String>) -> Self {
            self.config = self.config.api_url(url);
            self
        }

        /// Adds an interceptor: hooks on every request of every call, wait, upload,
        /// download, batch and live view of this client, and on its answer (see
        /// [`Interceptor`]($crate::Interceptor)); they run in the order added.
        pub fn interceptor(mut self, interceptor: impl $crate::Interceptor + 'static) -> Self {
            self.config = self.config.interceptor(interceptor);
            self
        }

        /// The upload API base URL (default
        /// `https://llm.oomol.com/api/tasks/files/remote-cache`).
        pub fn upload_base_url(mut self, url: impl Into<String>) -> Self {
            self.config = self.config.upload_base_url(url);
            self
        }

        /// The registry base URL, where package descriptions are read (default
        /// `https://registry.oomol.com`).
        pub fn registry_url(mut self, url: impl Into<String>) -> Self {
            self.config = self.config.registry_url(url);
            self
        }

        /// A header sent on every API request (never on presigned part uploads, never to
        /// another origin). For cookie authentication:
        /// `.default_header("Cookie", "oomol-token=...")`.
        pub fn default_header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
            self.config = self.config.default_header(name, value);
            self
        }

        /// The `User-Agent` of API requests (default `oomol-cloud-task-rust/<version>`).
        pub fn user_agent(mut self, user_agent: impl Into<String>) -> Self {
            self.config = self.config.user_agent(user_agent);
            self
        }

        /// How long one request may take, from sending it to the end of its response body
        /// (default 30 s). It bounds every request, whatever transport sends it.
        pub fn timeout(mut self, per_request: ::std::time::Duration) -> Self {
            self.config = self.config.timeout(per_request);
            self
        }

        /// How long the default transport may take to connect (default 10 s).
        pub fn connect_timeout(mut self, connect: ::std::time::Duration) -> Self {
            self.config = self.config.connect_timeout(connect);
            self
        }

        /// The largest response body read (default 32 MiB); a larger one ends the call
        /// with `Error::Limit` while it is being read.
        pub fn max_response_body(mut self, bytes: u64) -> Self {
            self.config = self.config.max_response_body(bytes);
            self
        }

        /// The most bytes of parts an upload holds at once (default 64 MiB).
        pub fn max_upload_buffer(mut self, bytes: u64) -> Self {
            self.config = self.config.max_upload_buffer(bytes);
            self
        }

        /// The most pages one `list_all` reads (default 10,000).
        pub fn max_pages(mut self, pages: u64) -> Self {
            self.config = self.config.max_pages(pages);
            self
        }

        /// The most same-origin redirects one call follows (default 5). Redirects to
        /// another origin are never followed.
        pub fn max_redirects(mut self, redirects: u32) -> Self {
            self.config = self.config.max_redirects(redirects);
            self
        }

        /// The default options of every wait of this client (`await_result`,
        /// `create_and_wait`, `watch`, `await_many`): a wait's own options win setting by
        /// setting. For example, a client of a fast emulator polls every 30 ms by default.
        pub fn await_options(mut self, defaults: $crate::AwaitOptions) -> Self {
            self.config = self.config.await_options(defaults);
            self
        }

        /// A builder from the process environment: the variables of
        /// [`ConfigBuilder::from_env`](cloud_task_core::ConfigBuilder::from_env), which lists
        /// them all (the key, the three URLs and their emulator fallbacks). Unlike
        /// `Client::from_env`, a missing key is not an error here.
        pub fn from_env() -> Self {
            Self::default().config($crate::ConfigBuilder::from_env())
        }

        /// Applies the same variables as [`from_env`](Self::from_env), as answered by
        /// `lookup` (for tests, or another source of settings), as
        /// [`ConfigBuilder::with_env`](cloud_task_core::ConfigBuilder::with_env) does.
        pub fn with_env(mut self, lookup: impl Fn(&str) -> Option<String>) -> Self {
            self.config = self.config.with_env(lookup);
            self
        }

        /// Replaces the whole configuration (URLs, key, headers, timeouts, limits) with
        /// `config`.
        pub fn config(mut self, config: $crate::ConfigBuilder) -> Self {
            self.config = config;
            self
        }
    };
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

impl AwaitOptions {
    /// What `create_and_wait` checks before it creates anything: the options, with the
    /// client's defaults from `config` ([`or`](Self::or)), are valid
    /// ([`validate`](Self::validate)), and the cancel token, if any, has not fired
    /// ([`Error::Cancelled`]). Both drivers call it, so a wait that cannot start never
    /// leaves a task behind.
    pub fn check_before_create(&self, config: &Config) -> Result<(), Error> {
        let options = self.or(config.await_defaults());
        options.validate()?;
        if options
            .cancel
            .as_ref()
            .is_some_and(CancelToken::is_cancelled)
        {
            return Err(Error::cancelled());
        }
        Ok(())
    }
}

/// Defines a driver's `Client` (a handle on its shared `Inner`, cheap to clone) with its
/// constructors (`new`, `builder`, `from_env`) and `config`, and its `TaskHandle` (a task
/// found again by its ID) with `Client::task` and the handle's accessors: written once for
/// both drivers. The driver defines `Inner` (with a `config: Config` field),
/// `ClientBuilder::build`, and every method that sends.
#[doc(hidden)]
#[macro_export]
macro_rules! __client {
    (
        $(#[$client_meta:meta])*
        client;
        $(#[$handle_meta:meta])*
        handle;
        transport: $transport:path;
        timer: $timer:path;
        $($field:ident: $ty:ty,)*
    ) => {
        $(#[$client_meta])*
        #[derive(Clone)]
        pub struct Client {
            pub(crate) inner: ::std::sync::Arc<Inner>,
        }

        /// What the clones of a client share.
        pub(crate) struct Inner {
            pub(crate) config: $crate::Config,
            pub(crate) transport: ::std::sync::Arc<dyn $transport>,
            pub(crate) timer: ::std::sync::Arc<dyn $timer>,
            /// The package descriptions read so far.
            pub(crate) packages: $crate::PackageCache,
            $(pub(crate) $field: $ty,)*
        }

        impl ::std::fmt::Debug for Client {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.debug_struct("Client")
                    .field("config", &self.inner.config)
                    .finish_non_exhaustive()
            }
        }

        impl Client {
            /// A client for the official service with this API key.
            ///
            /// Fails with [`Error::InvalidInput`]($crate::Error::InvalidInput) when the key
            /// is empty or cannot be sent in a header.
            pub fn new(api_key: impl Into<$crate::ApiKey>) -> $crate::Result<Client> {
                Client::builder().api_key(api_key).build()
            }

            /// A builder with the defaults: official base URLs, no API key, 30 s per
            /// request.
            pub fn builder() -> ClientBuilder {
                ClientBuilder::default()
            }

            /// A client configured from the environment
            /// ([`ConfigBuilder::from_env`]($crate::ConfigBuilder::from_env) lists every
            /// variable read), with a key found in order: `OOMOL_API_KEY`, else the profile
            /// stored by a sign-in (`cloud-task login`, or `login` and
            /// `cloud_task_local::credentials::save_credentials`), with its domain unless
            /// the environment names one or a base URL. When none has a key, the error names
            /// every source tried.
            pub fn from_env() -> $crate::Result<Client> {
                let (config, _source) = ::cloud_task_local::credentials::config_from_env()?;
                Client::builder().config(config).build()
            }

            /// The configuration (base URLs, headers; its `Debug` hides the key).
            pub fn config(&self) -> &$crate::Config {
                &self.inner.config
            }

            /// A client for a few calls with other settings ([`CallOptions`]($crate::CallOptions):
            /// a timeout, headers), sharing this one's transport (its connection pool), timer,
            /// key and interceptors. Its default headers are this client's, those of `options`
            /// replacing any of the same name.
            ///
            /// # Errors
            /// [`Error::InvalidInput`]($crate::Error::InvalidInput) naming a bad header or
            /// a zero timeout.
            pub fn with(&self, options: $crate::CallOptions) -> $crate::Result<Client> {
                let config = options.apply(&self.inner.config)?;
                Ok(Client {
                    inner: ::std::sync::Arc::new(Inner {
                        config,
                        transport: ::std::sync::Arc::clone(&self.inner.transport),
                        timer: ::std::sync::Arc::clone(&self.inner.timer),
                        packages: $crate::PackageCache::new(),
                        $($field: ::std::default::Default::default(),)*
                    }),
                })
            }

            /// The handle of task `id` (nothing is sent; a bad ID is reported by the first
            /// call that uses it).
            pub fn task(&self, id: impl Into<String>) -> TaskHandle {
                TaskHandle {
                    client: self.clone(),
                    id: id.into(),
                }
            }
        }

        /// One task of the user's, by its ID: what [`Client::submit`] answers, and what
        /// [`Client::task`] makes of an ID kept from earlier (another run, another process),
        /// to re-attach to a task that is still running.
        ///
        /// It holds the client (cheap to clone) and the ID, nothing else: every method asks
        /// the server. Waiting on it never cancels the task; an error of a wait names the
        /// task ([`Error::task_id`]($crate::Error::task_id)).
        ///
        $(#[$handle_meta])*
        #[derive(Clone)]
        pub struct TaskHandle {
            pub(crate) client: Client,
            pub(crate) id: String,
        }

        impl ::std::fmt::Debug for TaskHandle {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.debug_struct("TaskHandle").field("id", &self.id).finish()
            }
        }

        impl TaskHandle {
            /// The task's ID.
            pub fn id(&self) -> &str {
                &self.id
            }

            /// The client it asks through.
            pub fn client(&self) -> &Client {
                &self.client
            }
        }

        /// A task of a typed block ([`Block`]($crate::typed::Block)): what
        /// [`Client::create`] answers. Its `wait` answers the block's typed outputs; every
        /// other method of the task is its [`TaskHandle`]'s (it derefs to it).
        pub struct TypedTask<O> {
            handle: TaskHandle,
            outputs: ::std::marker::PhantomData<fn() -> O>,
        }

        impl<O> Clone for TypedTask<O> {
            fn clone(&self) -> Self {
                TypedTask::new(self.handle.clone())
            }
        }

        impl<O> ::std::fmt::Debug for TypedTask<O> {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.debug_struct("TypedTask").field("id", &self.handle.id).finish()
            }
        }

        impl<O> ::std::ops::Deref for TypedTask<O> {
            type Target = TaskHandle;

            fn deref(&self) -> &TaskHandle {
                &self.handle
            }
        }

        impl<O> TypedTask<O> {
            /// The task `handle`, whose outputs are typed `O`.
            pub fn new(handle: TaskHandle) -> Self {
                TypedTask {
                    handle,
                    outputs: ::std::marker::PhantomData,
                }
            }

            /// Its untyped handle.
            pub fn into_handle(self) -> TaskHandle {
                self.handle
            }
        }
    };
}

#[cfg(test)]
mod tests {
    use http::header::{CONTENT_TYPE, HeaderValue};

    use super::*;

    fn config(content_type: bool) -> Config {
        let mut builder = Config::builder().api_key("k").default_header("x-team", "a");
        if content_type {
            builder = builder.default_header("content-type", "text/plain");
        }
        builder.build().unwrap()
    }

    #[test]
    fn request_headers_are_recognised_in_any_order_with_at_most_one_content_type() {
        let json = HeaderValue::from_static("application/json");
        for with_content_type in [false, true] {
            let config = config(with_content_type);
            let own = config.headers();
            assert!(config.are_request_headers(&own));

            // In another order: the same headers (the slow path).
            let mut reordered = HeaderMap::new();
            let pairs: Vec<_> = own.iter().collect();
            for (name, value) in pairs.into_iter().rev() {
                reordered.append(name, value.clone());
            }
            assert!(config.are_request_headers(&reordered));

            // A `Content-Type` added is one of them; one that replaces the
            // configuration's own is not (the headers are then copied as they are).
            let mut typed = own.clone();
            typed.insert(CONTENT_TYPE, json.clone());
            assert_eq!(config.are_request_headers(&typed), !with_content_type);

            // Another header, another value, a header missing, or a second
            // `Content-Type`: not the configuration's.
            let mut more = own.clone();
            more.insert("x-other", HeaderValue::from_static("1"));
            assert!(!config.are_request_headers(&more));
            let mut changed = own.clone();
            changed.insert("x-team", HeaderValue::from_static("b"));
            assert!(!config.are_request_headers(&changed));
            let mut fewer = own.clone();
            fewer.remove("x-team");
            assert!(!config.are_request_headers(&fewer));
            let mut two = typed.clone();
            two.append(CONTENT_TYPE, HeaderValue::from_static("text/csv"));
            assert!(!config.are_request_headers(&two), "{with_content_type}");
            let mut doubled = own.clone();
            doubled.append(CONTENT_TYPE, json.clone());
            assert_eq!(config.are_request_headers(&doubled), !with_content_type);
        }
    }
}
