//! The HTTP side: routes, handlers, the per-route guard (statistics, faults, auth) and the
//! accept loop.

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::body::Body;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, RawQuery, Request, State};
use axum::middleware::{Next, from_fn_with_state};
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodRouter, get, post, put};
use cloud_task_core::upload::InitUploadRequest;
use cloud_task_core::upload::{InitUploadResponse, UploadUrlResponse};
use cloud_task_core::{CreateTaskRequest, CreateTaskResponse, TaskStatus, TaskType, Workload};
use http::header::{AUTHORIZATION, CONTENT_LENGTH, CONTENT_TYPE, COOKIE, RETRY_AFTER};
use http::{HeaderMap, HeaderValue, StatusCode};
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use serde::Serialize;
use tokio::net::TcpListener;
use tokio::sync::oneshot;

use crate::catalogue;
use crate::fault::{Fault, FaultBook, Route};
use crate::scheduler::{CreateError, ListFilter, Scheduler};
use crate::stats::{StatsRecorder, lock};
use crate::uploads::{FILES_PATH, PARTS_PATH, UPLOAD_PATH, Uploads};

/// The default page size of `list_tasks`.
pub const DEFAULT_PAGE_SIZE: usize = 20;
/// The largest page size of `list_tasks`.
pub const MAX_PAGE_SIZE: usize = 100;
/// The most workload IDs one `latest` request may ask for.
pub const MAX_WORKLOAD_IDS: usize = 50;
/// The largest JSON request body accepted.
const MAX_JSON_BODY: usize = 16 << 20;
/// How long a shutdown waits for requests in flight before closing their connections.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// The state every handler shares.
pub(crate) struct Shared {
    pub(crate) api_keys: Vec<String>,
    pub(crate) base_url: String,
    /// The port it listens on (control requests must name it in their `Host`).
    pub(crate) port: u16,
    pub(crate) started: Instant,
    pub(crate) epoch_ms: i64,
    pub(crate) scheduler: Mutex<Scheduler>,
    pub(crate) faults: Mutex<FaultBook>,
    pub(crate) stats: StatsRecorder,
    pub(crate) uploads: Uploads,
    pub(crate) info: serde_json::Value,
}

impl Shared {
    /// The simulated time: real time since the start.
    pub(crate) fn now(&self) -> Duration {
        self.started.elapsed()
    }

    fn now_epoch_ms(&self) -> i64 {
        let ms = i64::try_from(self.now().as_millis()).unwrap_or(i64::MAX);
        self.epoch_ms.saturating_add(ms)
    }
}

/// The wall clock now, epoch milliseconds.
pub(crate) fn wall_clock_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// An error answer: a status and a JSON `{"message": ...}` body.
pub(crate) struct ApiError(pub(crate) StatusCode, pub(crate) String);

impl ApiError {
    pub(crate) fn bad_request(message: impl Into<String>) -> Self {
        ApiError(StatusCode::BAD_REQUEST, message.into())
    }

    fn task_not_found(id: &str) -> Self {
        ApiError(StatusCode::NOT_FOUND, format!("task {id:?} not found"))
    }
}

impl From<(StatusCode, String)> for ApiError {
    fn from((status, message): (StatusCode, String)) -> Self {
        ApiError(status, message)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        json(self.0, &serde_json::json!({ "message": self.1 }))
    }
}

type Answer = Result<Response, ApiError>;

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

fn ok<T: Serialize + ?Sized>(value: &T) -> Answer {
    Ok(json(StatusCode::OK, value))
}

/// Marks a response whose connection must be closed without answering.
#[derive(Clone, Copy)]
struct DropConnection;

/// The error that makes hyper abort a connection.
#[derive(Debug)]
pub(crate) struct ConnectionDropped;

impl std::fmt::Display for ConnectionDropped {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("connection dropped by an injected fault")
    }
}

impl std::error::Error for ConnectionDropped {}

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
        Fault::Delay(_) => return None,
        Fault::MalformedBody => {
            let mut response = Response::new(Body::from(r#"{"status":"running","progre"#));
            response
                .headers_mut()
                .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
            response
        }
    })
}

/// Checks the API key: `Authorization: Bearer <key>` or the `oomol-token` cookie.
pub(crate) fn authorise(api_keys: &[String], headers: &HeaderMap) -> Result<(), ApiError> {
    let bearer = headers
        .get_all(AUTHORIZATION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .filter_map(|v| {
            let (scheme, key) = v.trim().split_once(' ')?;
            scheme.eq_ignore_ascii_case("bearer").then(|| key.trim())
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
async fn guard(
    State((shared, route)): State<(Arc<Shared>, Route)>,
    request: Request,
    next: Next,
) -> Response {
    shared.stats.record(route, request.headers());
    let fault = lock(&shared.faults).pick(route);
    if let Some(fault) = fault {
        if let Fault::Delay(delay) = fault {
            tokio::time::sleep(delay).await;
        } else if let Some(response) = fault_response(fault) {
            return response;
        }
    }
    if route.needs_auth()
        && let Err(e) = authorise(&shared.api_keys, request.headers())
    {
        return e.into_response();
    }
    next.run(request).await
}

/// Reads a JSON body of at most `MAX_JSON_BODY` bytes; an empty body is `{}`.
async fn read_json<T: serde::de::DeserializeOwned>(body: Body, what: &str) -> Result<T, ApiError> {
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

/// A path parameter, or why it could not be read.
type PathParam<T> = Result<Path<T>, PathRejection>;

/// The value of a path parameter; a bad one (e.g. invalid percent-encoding) is a 400.
fn path_param<T>(param: PathParam<T>) -> Result<T, ApiError> {
    param
        .map(|Path(p)| p)
        .map_err(|e| ApiError::bad_request(format!("invalid path: {e}")))
}

/// The query's parameters, decoded; empty values count as absent.
fn query_pairs(query: Option<&str>) -> Vec<(String, String)> {
    form_urlencoded::parse(query.unwrap_or("").as_bytes())
        .filter(|(_, v)| !v.is_empty())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

fn param<'a>(pairs: &'a [(String, String)], name: &str) -> Option<&'a str> {
    pairs
        .iter()
        .rev()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

/// Parses an enum parameter, refusing values the enum does not know.
fn known<T: for<'a> From<&'a str>>(
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

/// Checks a create body field by field, so the message names the field at fault.
fn create_request(body: serde_json::Value) -> Result<CreateTaskRequest, ApiError> {
    let serde_json::Value::Object(fields) = &body else {
        return Err(ApiError::bad_request(
            "the create task body must be a JSON object",
        ));
    };
    for field in ["packageName", "packageVersion", "blockName"] {
        match fields.get(field) {
            None | Some(serde_json::Value::Null) => {
                return Err(ApiError::bad_request(format!("missing field {field}")));
            }
            Some(serde_json::Value::String(s)) if s.trim().is_empty() => {
                return Err(ApiError::bad_request(format!("{field} must not be empty")));
            }
            Some(serde_json::Value::String(_)) => {}
            Some(_) => {
                return Err(ApiError::bad_request(format!("{field} must be a string")));
            }
        }
    }
    match fields.get("inputValues") {
        None | Some(serde_json::Value::Null | serde_json::Value::Object(_)) => {}
        Some(_) => {
            return Err(ApiError::bad_request("inputValues must be a JSON object"));
        }
    }
    serde_json::from_value(body)
        .map_err(|e| ApiError::bad_request(format!("invalid create task body: {e}")))
}

async fn create_task(State(shared): State<Arc<Shared>>, body: Body) -> Answer {
    let request = create_request(read_json(body, "create task").await?)?;
    let plan = catalogue::plan(&request).map_err(ApiError::bad_request)?;
    let now = shared.now();
    let created = lock(&shared.scheduler).create(request, plan, now);
    match created {
        Ok(id) => ok(&CreateTaskResponse::new(id)),
        Err(CreateError::QueueFull(max)) => Err(ApiError(
            StatusCode::TOO_MANY_REQUESTS,
            format!("queue is full: at most {max} tasks may wait; wait for some to start"),
        )),
    }
}

async fn list_tasks(State(shared): State<Arc<Shared>>, RawQuery(query): RawQuery) -> Answer {
    let pairs = query_pairs(query.as_deref());
    let size = match param(&pairs, "size") {
        None => DEFAULT_PAGE_SIZE,
        Some(s) => s
            .parse::<usize>()
            .ok()
            .filter(|s| (1..=MAX_PAGE_SIZE).contains(s))
            .ok_or_else(|| ApiError::bad_request("size must be an integer between 1 and 100"))?,
    };
    let filter = ListFilter {
        status: known::<TaskStatus>(
            &pairs,
            "status",
            &[
                "queued",
                "scheduling",
                "scheduled",
                "running",
                "success",
                "failed",
            ],
        )?,
        task_type: known::<TaskType>(&pairs, "taskType", &["user", "shared"])?,
        workload: known::<Workload>(
            &pairs,
            "workload",
            &["serverless", "applet", "api_applet", "web_task"],
        )?,
        workload_id: param(&pairs, "workloadID").map(str::to_owned),
        package_id: param(&pairs, "packageID").map(str::to_owned),
    };
    let now = shared.now();
    let mut scheduler = lock(&shared.scheduler);
    let before = match param(&pairs, "nextToken") {
        None => None,
        Some(token) => Some(scheduler.decode_token(token).ok_or_else(|| {
            ApiError::bad_request("nextToken is invalid: pass the nextToken of the previous page")
        })?),
    };
    let page = scheduler.list(&filter, size, before, now);
    drop(scheduler);
    ok(&page)
}

async fn latest_tasks(State(shared): State<Arc<Shared>>, RawQuery(query): RawQuery) -> Answer {
    let pairs = query_pairs(query.as_deref());
    let joined = param(&pairs, "workloadIDs").ok_or_else(|| {
        ApiError::bad_request("workloadIDs is required: a comma-separated list of workload IDs")
    })?;
    let ids: Vec<&str> = joined.split(',').map(str::trim).collect();
    if ids.iter().any(|id| id.is_empty()) {
        return Err(ApiError::bad_request(
            "workloadIDs must not contain empty items",
        ));
    }
    if ids.len() > MAX_WORKLOAD_IDS {
        return Err(ApiError::bad_request(format!(
            "workloadIDs cannot exceed {MAX_WORKLOAD_IDS} items, got {}",
            ids.len()
        )));
    }
    let now = shared.now();
    let items = lock(&shared.scheduler).latest(&ids, now);
    ok(&items)
}

async fn get_task(State(shared): State<Arc<Shared>>, id: PathParam<String>) -> Answer {
    let id = path_param(id)?;
    let now = shared.now();
    let detail = lock(&shared.scheduler).detail(&id, now);
    ok(&detail.ok_or_else(|| ApiError::task_not_found(&id))?)
}

async fn task_result(State(shared): State<Arc<Shared>>, id: PathParam<String>) -> Answer {
    let id = path_param(id)?;
    let now = shared.now();
    let result = lock(&shared.scheduler).result(&id, now);
    ok(&result.ok_or_else(|| ApiError::task_not_found(&id))?)
}

async fn task_logs(
    State(shared): State<Arc<Shared>>,
    id: PathParam<String>,
    RawQuery(query): RawQuery,
) -> Answer {
    let id = path_param(id)?;
    let pairs = query_pairs(query.as_deref());
    let page = match param(&pairs, "page") {
        None => 1,
        Some(p) => p
            .parse::<usize>()
            .ok()
            .filter(|p| *p >= 1)
            .ok_or_else(|| ApiError::bad_request("page must be an integer of at least 1"))?,
    };
    let now = shared.now();
    let logs = lock(&shared.scheduler).logs(&id, page, now);
    ok(&logs.ok_or_else(|| ApiError::task_not_found(&id))?)
}

async fn dashboard(State(shared): State<Arc<Shared>>) -> Answer {
    let now = shared.now();
    let dashboard = lock(&shared.scheduler).dashboard(now);
    ok(&dashboard)
}

async fn set_paused(shared: &Shared, paused: bool, body: Body) -> Answer {
    let _: serde_json::Value = read_json(body, if paused { "pause" } else { "resume" }).await?;
    let now = shared.now();
    let response = lock(&shared.scheduler).set_paused(paused, now);
    ok(&response)
}

async fn pause(State(shared): State<Arc<Shared>>, body: Body) -> Answer {
    set_paused(&shared, true, body).await
}

async fn resume(State(shared): State<Arc<Shared>>, body: Body) -> Answer {
    set_paused(&shared, false, body).await
}

async fn upload_init(State(shared): State<Arc<Shared>>, body: Body) -> Answer {
    let request: InitUploadRequest = read_json(body, "upload init").await?;
    let target = shared.uploads.init(request, &shared.base_url).await?;
    ok(&InitUploadResponse::new(target))
}

async fn upload_url(State(shared): State<Arc<Shared>>, id: PathParam<String>) -> Answer {
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

async fn upload_part(
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
        )
        .await?;
    let mut response = Response::new(Body::empty());
    let etag = format!("\"{id}-{number}\"");
    if let Ok(value) = HeaderValue::from_str(&etag) {
        response.headers_mut().insert(http::header::ETAG, value);
    }
    Ok(response)
}

async fn download(
    State(shared): State<Arc<Shared>>,
    params: PathParam<(String, String)>,
    RawQuery(query): RawQuery,
) -> Answer {
    let (id, _name) = path_param(params)?;
    let (size, mime, body) = shared
        .uploads
        .download(&id, signature(query.as_deref()).as_deref())
        .await?;
    let mut response = Response::new(body);
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static(mime));
    response
        .headers_mut()
        .insert(CONTENT_LENGTH, HeaderValue::from(size));
    Ok(response)
}

async fn not_found(request: Request) -> ApiError {
    ApiError(
        StatusCode::NOT_FOUND,
        format!(
            "no such endpoint: {} {}",
            request.method(),
            request.uri().path()
        ),
    )
}

/// Every route of the emulator.
pub(crate) fn router(shared: Arc<Shared>) -> Router {
    let guarded = |route: Route, methods: MethodRouter<Arc<Shared>>| {
        methods.route_layer(from_fn_with_state((shared.clone(), route), guard))
    };
    Router::new()
        .route(
            "/v3/users/me/tasks",
            guarded(Route::ListTasks, get(list_tasks))
                .merge(guarded(Route::CreateTask, post(create_task))),
        )
        .route(
            "/v3/users/me/tasks/latest",
            guarded(Route::LatestTasks, get(latest_tasks)),
        )
        .route(
            "/v3/users/me/tasks/{id}",
            guarded(Route::GetTask, get(get_task)),
        )
        .route(
            "/v3/users/me/tasks/{id}/result",
            guarded(Route::TaskResult, get(task_result)),
        )
        .route(
            "/v3/users/me/tasks/{id}/logs",
            guarded(Route::TaskLogs, get(task_logs)),
        )
        .route(
            "/v3/users/me/dashboard",
            guarded(Route::Dashboard, get(dashboard)),
        )
        .route("/v3/user/pause", guarded(Route::Pause, post(pause)))
        .route("/v3/user/resume", guarded(Route::Resume, post(resume)))
        .route(
            &format!("{UPLOAD_PATH}/init"),
            guarded(Route::UploadInit, post(upload_init)),
        )
        .route(
            &format!("{UPLOAD_PATH}/{{id}}/url"),
            guarded(Route::UploadUrl, get(upload_url)),
        )
        .route(
            &format!("{PARTS_PATH}/{{id}}/{{part}}"),
            guarded(Route::UploadPart, put(upload_part)),
        )
        .route(
            &format!("{FILES_PATH}/{{id}}/{{name}}"),
            guarded(Route::Download, get(download)),
        )
        .nest("/_emulator", crate::control::router(shared.clone()))
        .fallback(not_found)
        .with_state(shared)
}

/// The hyper service: the router, except that a response marked [`DropConnection`]
/// becomes an error, which makes hyper close the connection without answering.
#[derive(Clone)]
struct Service {
    router: Router,
}

impl hyper::service::Service<http::Request<Incoming>> for Service {
    type Response = Response;
    type Error = ConnectionDropped;
    type Future = Pin<Box<dyn Future<Output = Result<Response, ConnectionDropped>> + Send>>;

    fn call(&self, request: http::Request<Incoming>) -> Self::Future {
        let mut router = self.router.clone();
        Box::pin(async move {
            let response = match tower_service::Service::call(&mut router, request).await {
                Ok(response) => response,
                Err(never) => match never {},
            };
            if response.extensions().get::<DropConnection>().is_some() {
                Err(ConnectionDropped)
            } else {
                Ok(response)
            }
        })
    }
}

/// Accepts connections until `stop` fires (or its sender is dropped), then lets requests
/// in flight finish (for at most [`SHUTDOWN_GRACE`]) and closes every connection.
pub(crate) async fn serve(listener: TcpListener, router: Router, mut stop: oneshot::Receiver<()>) {
    let graceful = GracefulShutdown::new();
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new()).keep_alive(true);
    let service = Service { router };
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    let _ = stream.set_nodelay(true);
                    let connection = http.serve_connection(TokioIo::new(stream), service.clone());
                    let connection = graceful.watch(connection);
                    tokio::spawn(async move {
                        let _ = connection.await;
                    });
                }
                // Out of file descriptors or a connection reset before accept: go on.
                Err(_) => tokio::time::sleep(Duration::from_millis(5)).await,
            },
            _ = &mut stop => break,
        }
    }
    drop(listener);
    let _ = tokio::time::timeout(SHUTDOWN_GRACE, graceful.shutdown()).await;
}

/// The address clients should use: an unspecified bind address becomes loopback.
pub(crate) fn public_addr(bound: SocketAddr) -> SocketAddr {
    let mut addr = bound;
    if addr.ip().is_unspecified() {
        addr.set_ip(match addr {
            SocketAddr::V4(_) => std::net::Ipv4Addr::LOCALHOST.into(),
            SocketAddr::V6(_) => std::net::Ipv6Addr::LOCALHOST.into(),
        });
    }
    addr
}

#[cfg(test)]
mod tests {
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
        assert!(authorise(&keys, &headers(&[("authorization", "Bearer k2")])).is_ok());
        assert!(authorise(&keys, &headers(&[("authorization", "bearer  k1 ")])).is_ok());
        assert!(authorise(&keys, &headers(&[("cookie", "a=b; oomol-token=k1; c=d")])).is_ok());
        let wrong = authorise(&keys, &headers(&[("authorization", "Bearer nope")])).unwrap_err();
        assert_eq!(wrong.0, StatusCode::UNAUTHORIZED);
        assert_eq!(wrong.1, "invalid API key");
        let missing = authorise(&keys, &headers(&[("authorization", "Basic k1")])).unwrap_err();
        assert!(missing.1.starts_with("missing API key"));
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

    #[test]
    fn public_addr_replaces_unspecified_ips() {
        let a: SocketAddr = "0.0.0.0:80".parse().unwrap();
        assert_eq!(public_addr(a).to_string(), "127.0.0.1:80");
        let b: SocketAddr = "[::]:80".parse().unwrap();
        assert_eq!(public_addr(b).to_string(), "[::1]:80");
        let c: SocketAddr = "10.1.2.3:80".parse().unwrap();
        assert_eq!(public_addr(c), c);
    }
}
