//! Security: the API key (and a cookie token given as a default header) never shows in the
//! `Debug` or `Display` of anything a user can print, nor in any error of either driver;
//! neither it nor any default header reaches a presigned part URL; and neither is forwarded
//! when a server redirects to another host. (Tracing output is searched in
//! `tests/trace_secrets.rs`, which needs a process-wide subscriber.)

use std::time::Duration;

use cloud_task_async::{
    AwaitOptions, CancelToken, ConfigBuilder, CreateTaskRequest, Error, ListTasksQuery,
    UploadOptions,
};
use cloud_task_emulator::{Emulator, Fault, FaultRule, Route};
use cloud_task_qa::loopback::{Received, Reply, Server};
use serde_json::json;

use crate::driver::Driver;
use crate::support::{FAST, REQUEST_TIMEOUT, conformance, echo};

/// The API key the emulator accepts.
const KEY: &str = "qa-secret-key-7f3a9c1e5b";
/// A wrong key, as secret as the right one.
const WRONG_KEY: &str = "qa-wrong-key-2d8e6b4f0a";
/// A session token sent as a default `Cookie` header (cookie authentication).
const TOKEN: &str = "qa-cookie-token-91c5e7a3";

/// Fails when `text` shows any secret.
#[track_caller]
fn assert_no_secret(what: &str, text: &str) {
    for secret in [KEY, WRONG_KEY, TOKEN] {
        assert!(!text.contains(secret), "{what} shows a secret: {text}");
    }
}

/// Every way an error can be shown: Display, Debug (plain and pretty), reason, and the
/// same for each of its causes.
fn error_texts(error: &Error) -> Vec<String> {
    let mut texts = vec![
        error.to_string(),
        format!("{error:?}"),
        format!("{error:#?}"),
        error.reason(),
    ];
    let mut source = std::error::Error::source(error);
    while let Some(s) = source {
        texts.push(s.to_string());
        texts.push(format!("{s:?}"));
        source = s.source();
    }
    texts
}

#[track_caller]
fn assert_error_clean(what: &str, error: &Error) {
    for text in error_texts(error) {
        assert_no_secret(what, &text);
    }
}

fn quick() -> AwaitOptions {
    AwaitOptions::new()
        .interval(Duration::from_millis(5))
        .timeout(Duration::from_secs(20))
}

/// A port nobody listens on.
fn closed_port_url() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    format!("http://{addr}")
}

#[test]
fn no_debug_shows_a_secret() {
    let key = cloud_task_core::ApiKey::from(KEY);
    assert_no_secret("ApiKey", &format!("{key} {key:?}"));
    let with_secrets = || {
        cloud_task_core::ConfigBuilder::default()
            .api_key(KEY)
            .default_header("Cookie", format!("oomol-token={TOKEN}"))
    };
    let builder = cloud_task_async::Client::builder().config(with_secrets());
    assert_no_secret("ClientBuilder Debug", &format!("{builder:?} {builder:#?}"));
    let builder = cloud_task_blocking::Client::builder().config(with_secrets());
    assert_no_secret("ClientBuilder Debug", &format!("{builder:?} {builder:#?}"));
}

conformance!(no_error_nor_outcome_of_a_client_shows_a_secret);

/// Every kind of error each client can give, and an outcome, show no secret; part
/// uploads carry neither the key nor any default header.
fn no_error_nor_outcome_of_a_client_shows_a_secret<D: Driver>() {
    let emulator = Emulator::builder()
        .api_key(KEY)
        .time_scale(FAST)
        .part_size(1024)
        .start_blocking()
        .unwrap();
    let with_secrets = |config: ConfigBuilder| {
        config
            .api_key(KEY)
            .default_header("Cookie", format!("oomol-token={TOKEN}"))
            .timeout(REQUEST_TIMEOUT)
    };
    let client = D::of_with(&emulator, with_secrets);
    assert_no_secret("Client Debug", &client.debug());

    let mut errors = Vec::new();
    // A wrong key: 401.
    let wrong = D::of_with(&emulator, |c| with_secrets(c).api_key(WRONG_KEY));
    errors.push(wrong.get_dashboard().unwrap_err());
    errors.push(wrong.await_result("t-1", quick()).unwrap_err());
    // Nobody listening: a transport error.
    let nowhere = D::of_with(&emulator, |c| with_secrets(c).base_url(closed_port_url()));
    errors.push(nowhere.list_tasks(ListTasksQuery::new()).unwrap_err());
    // A task that fails, one that runs out of time, a missing task, a cancelled wait.
    let fail = CreateTaskRequest::new("@oomol/fail", "1.0.0", "main").input("message", "boom");
    errors.push(client.create_and_wait(fail, quick()).unwrap_err());
    let slow = CreateTaskRequest::new("@oomol/slow", "1.0.0", "main").input("durationMs", 60_000);
    let short = quick().timeout(Duration::from_millis(50));
    errors.push(client.create_and_wait(slow, short).unwrap_err());
    errors.push(client.get_task("no-such-task").unwrap_err());
    let token = CancelToken::new();
    token.cancel();
    errors.push(
        client
            .await_result("t-1", quick().cancel_token(token))
            .unwrap_err(),
    );
    // A broken body; a part that fails every try.
    emulator.add_fault(FaultRule::new(Route::Dashboard, Fault::MalformedBody).times(1));
    errors.push(client.get_dashboard().unwrap_err());
    emulator.add_fault(FaultRule::new(Route::UploadPart, Fault::ServiceUnavailable));
    let once = UploadOptions::new().retries(1);
    errors.push(
        client
            .upload_bytes(vec![7u8; 3000], "a.bin", once)
            .unwrap_err(),
    );
    // The upload ended at the first failed part; the parts already on the wire end in the
    // background: let them land before counting the next upload's parts.
    settle_parts(|| emulator.stats().count(Route::UploadPart), 3);
    emulator.clear_faults();
    assert_eq!(errors.len(), 9);
    for error in &errors {
        assert_error_clean("an error", error);
    }

    let outcome = client
        .create_and_wait(echo(json!({ "ok": true })), quick())
        .unwrap();
    assert_no_secret("an outcome", &format!("{outcome:?}"));
    emulator.reset_stats();
    client
        .upload_bytes(vec![1u8; 3000], "a.bin", UploadOptions::new())
        .unwrap();
    check_part_headers(&emulator.stats());
}

/// Waits (at most 5 s) until `count()` reaches `parts`.
fn settle_parts(count: impl Fn() -> u64, parts: u64) {
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while count() < parts && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Three parts arrived, each with no credential and no default header.
fn check_part_headers(stats: &cloud_task_emulator::Stats) {
    let parts = stats.part_upload_headers();
    assert_eq!(parts.len(), 3, "3000 bytes in parts of 1024");
    for headers in parts {
        for name in ["authorization", "cookie", "proxy-authorization"] {
            assert!(
                headers.get(name).is_none(),
                "a part carried {name}: {headers:?}"
            );
        }
        for value in headers.values() {
            assert_no_secret("a part header", &String::from_utf8_lossy(value.as_bytes()));
        }
    }
}

/// A result body the redirect target answers with.
const RESULT: &str = r#"{"status":"success","resultURL":null,"resultData":[{"redirected":true}]}"#;

/// Two servers: the API on `127.0.0.1`, which redirects every request with `status` to the
/// same path on another server named `localhost` (another host and port).
struct Redirect {
    api: Server,
    other: Server,
}

impl Redirect {
    fn start(status: u16) -> Redirect {
        let other = Server::start(|request: &Received| {
            if request.method == "POST" {
                Reply::json(200, r#"{"taskID":"t-redirected"}"#)
            } else {
                Reply::json(200, RESULT)
            }
        })
        .unwrap();
        let to = other.url("localhost");
        let api = Server::start(move |request: &Received| {
            Reply::redirect(status, format!("{to}{}", request.target))
        })
        .unwrap();
        Redirect { api, other }
    }

    /// The API saw the credentials; the other host, if it was reached at all, saw none.
    /// Answers how many requests reached the other host.
    fn check(&self) -> usize {
        let api = self.api.received();
        assert!(!api.is_empty(), "the API was not called");
        for request in &api {
            assert_eq!(
                request.header("authorization"),
                Some(format!("Bearer {KEY}").as_str())
            );
        }
        let other = self.other.received();
        for request in &other {
            for name in ["authorization", "cookie", "proxy-authorization"] {
                assert!(
                    request.header(name).is_none(),
                    "{name} was forwarded to another host: {request:?}"
                );
            }
            for (name, value) in &request.headers {
                assert_no_secret(name, value);
            }
        }
        other.len()
    }
}

/// The redirects tried: GET with 302 and 307; POST with 307 and 308 (which keep the body).
const REDIRECTS: [(u16, bool); 4] = [(302, false), (307, false), (307, true), (308, true)];

/// What a refused redirect must look like: an `Error::Redirect` naming the other origin
/// (`http://localhost:<port>`), and no request at all on the other host.
#[track_caller]
fn assert_refused(status: u16, outcome: Result<(), Error>, servers: &Redirect) {
    match &outcome {
        Err(error @ Error::Redirect(redirect)) => {
            assert_error_clean("a refused redirect", error);
            assert_eq!(redirect.status.as_u16(), status);
            let origin = format!("http://localhost:{}", servers.other.addr().port());
            assert_eq!(redirect.target_origin.as_deref(), Some(origin.as_str()));
        }
        other => panic!("HTTP {status}: expected a refused redirect, got {other:?}"),
    }
    assert_eq!(
        servers.check(),
        0,
        "HTTP {status}: the other host was reached"
    );
}

conformance!(a_client_never_follows_a_redirect_to_another_host);

fn a_client_never_follows_a_redirect_to_another_host<D: Driver>() {
    let emulator = Emulator::builder().api_key(KEY).start_blocking().unwrap();
    for (status, post) in REDIRECTS {
        let servers = Redirect::start(status);
        let client = D::of_with(&emulator, |config| {
            config
                .api_key(KEY)
                .default_header("Cookie", format!("oomol-token={TOKEN}"))
                .default_header("X-Api-Key", TOKEN)
                .default_header("X-Oomol-Token", TOKEN)
                .base_url(servers.api.url("127.0.0.1"))
                .timeout(REQUEST_TIMEOUT)
        });
        let outcome = if post {
            client.create_task(echo(json!({}))).map(drop)
        } else {
            client.get_task_result("t-1").map(drop)
        };
        assert_refused(status, outcome, &servers);
    }
}

/// A user's own ureq agent follows redirects by default (`max_redirects` 10), and the
/// transport sets its own settings per request only on an agent that does not already
/// have them: such an agent must not follow a redirect to another host either.
#[test]
fn a_user_s_own_ureq_agent_never_follows_a_redirect_to_another_host() {
    let agent = ureq::Agent::new_with_defaults();
    assert!(agent.config().max_redirects() > 0, "ureq's default follows");
    for (status, post) in REDIRECTS {
        let servers = Redirect::start(status);
        let client = cloud_task_blocking::Client::builder()
            .api_key(KEY)
            .default_header("Cookie", format!("oomol-token={TOKEN}"))
            .base_url(servers.api.url("127.0.0.1"))
            .timeout(REQUEST_TIMEOUT)
            .transport(cloud_task_blocking::UreqTransport::from(agent.clone()))
            .build()
            .unwrap();
        let outcome = if post {
            client.create_task(echo(json!({}))).map(drop)
        } else {
            client.get_task_result("t-1").map(drop)
        };
        assert_refused(status, outcome, &servers);
    }
}
