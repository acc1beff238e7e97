//! `cloud-task mcp` end to end: the official MCP client (rmcp's client side) spawns the
//! binary and talks to it over stdio, against the emulator; and the official MCP
//! Inspector's CLI mode, when it can be installed.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use cloud_task_emulator::{Fault, FaultRule, Route};
use rmcp::model::{
    CallToolRequestParams, CallToolResult, ClientRequest, ProgressNotificationParam, ProgressToken,
    Request, ServerResult,
};
use rmcp::service::{NotificationContext, PeerRequestOptions, RequestHandle, RunningService};
use rmcp::transport::TokioChildProcess;
use rmcp::{ClientHandler, RoleClient, ServiceExt};
use serde_json::{Map, Value, json};
use tokio::io::{AsyncBufReadExt, BufReader, Lines};
use tokio::process::ChildStderr;
use tokio::sync::Notify;

use crate::support::{BIN, DEADLINE, KEY, Server};

/// The tools every server offers, whatever its package.
const TOOLS: [&str; 17] = [
    "create_task",
    "download_result",
    "get_dashboard",
    "get_latest_tasks",
    "get_package_info",
    "get_task",
    "get_task_logs",
    "get_task_result",
    "list_tasks",
    "pause_queue",
    "resume_queue",
    "run_batch",
    "run_task",
    "upload_base64",
    "upload_file",
    "wait_task",
    "whoami",
];

/// The poll interval of the server under test.
const INTERVAL: Duration = Duration::from_millis(20);

/// An MCP client that records the progress notifications it receives.
#[derive(Clone, Default)]
struct Recorder {
    progress: Arc<Mutex<Vec<ProgressNotificationParam>>>,
    /// Woken at each notification.
    arrived: Arc<Notify>,
}

impl Recorder {
    fn for_token(&self, token: &ProgressToken) -> Vec<ProgressNotificationParam> {
        let progress = self.progress.lock().unwrap();
        progress
            .iter()
            .filter(|p| &p.progress_token == token)
            .cloned()
            .collect()
    }

    /// Waits (bounded) until `done` holds for the notifications of `token`: notifications
    /// are dispatched apart from responses, so they may land just after the answer.
    async fn until(
        &self,
        token: &ProgressToken,
        done: impl Fn(&[ProgressNotificationParam]) -> bool,
    ) -> Vec<ProgressNotificationParam> {
        let deadline = tokio::time::Instant::now() + DEADLINE;
        loop {
            // Armed before looking, so that a notification in between is not missed.
            let arrived = self.arrived.notified();
            tokio::pin!(arrived);
            arrived.as_mut().enable();
            let seen = self.for_token(token);
            if done(&seen) || tokio::time::timeout_at(deadline, arrived).await.is_err() {
                return seen;
            }
        }
    }
}

impl ClientHandler for Recorder {
    async fn on_progress(
        &self,
        params: ProgressNotificationParam,
        _context: NotificationContext<RoleClient>,
    ) {
        self.progress.lock().unwrap().push(params);
        self.arrived.notify_waiters();
    }
}

/// A connected client, the server's stderr and the emulator behind it.
struct Session {
    client: RunningService<RoleClient, Recorder>,
    recorder: Recorder,
    stderr: Lines<BufReader<ChildStderr>>,
}

impl Session {
    /// Spawns `cloud-task mcp` on `server` with `args` and initialises the connection.
    async fn start(server: &Server, args: &[&str]) -> Session {
        let mut command = tokio::process::Command::new(BIN);
        command.arg("mcp").arg("--interval").arg("20ms").args(args);
        command.env_clear();
        command.env("PATH", std::env::var_os("PATH").unwrap_or_default());
        for (name, value) in server.env() {
            command.env(name, value);
        }
        let (transport, stderr) = TokioChildProcess::builder(command)
            .stderr(Stdio::piped())
            .spawn()
            .expect("cloud-task mcp starts");
        let recorder = Recorder::default();
        let client = tokio::time::timeout(DEADLINE, recorder.clone().serve(transport))
            .await
            .expect("initialised in time")
            .expect("the server initialises");
        let stderr = BufReader::new(stderr.expect("stderr is piped")).lines();
        Session {
            client,
            recorder,
            stderr,
        }
    }

    async fn call(&self, tool: &str, arguments: Value) -> CallToolResult {
        let params = CallToolRequestParams::new(tool.to_owned()).with_arguments(object(arguments));
        tokio::time::timeout(DEADLINE, self.client.call_tool(params))
            .await
            .expect("answered in time")
            .expect("a tool result, not a protocol error")
    }

    /// Sends a call of `tool` without waiting for its answer (it has a progress token).
    async fn send(&self, tool: &str, arguments: Value) -> RequestHandle<RoleClient> {
        let params = CallToolRequestParams::new(tool.to_owned()).with_arguments(object(arguments));
        self.client
            .send_cancellable_request(
                ClientRequest::CallToolRequest(Request::new(params)),
                PeerRequestOptions::no_options(),
            )
            .await
            .expect("sent")
    }

    /// Calls `tool` and answers its result with its progress token.
    async fn call_with_progress(
        &self,
        tool: &str,
        arguments: Value,
    ) -> (CallToolResult, ProgressToken) {
        let handle = self.send(tool, arguments).await;
        let token = handle.progress_token.clone();
        let answer = tokio::time::timeout(DEADLINE, handle.await_response())
            .await
            .expect("answered in time")
            .expect("answered");
        match answer {
            ServerResult::CallToolResult(result) => (result, token),
            other => panic!("not a tool result: {other:?}"),
        }
    }

    /// Reads the server's stderr until a line holds `needle` (bounded).
    async fn stderr_line(&mut self, needle: &str) -> String {
        let found = tokio::time::timeout(DEADLINE, async {
            while let Some(line) = self.stderr.next_line().await.expect("stderr reads") {
                if line.contains(needle) {
                    return line;
                }
            }
            panic!("stderr ended without {needle:?}");
        })
        .await;
        found.unwrap_or_else(|_| panic!("no stderr line with {needle:?} in time"))
    }

    async fn close(self) {
        let _ = tokio::time::timeout(DEADLINE, self.client.cancel()).await;
    }
}

/// The server sends each notification higher than the last, ending at 100. The client
/// dispatches notifications concurrently, so they are recorded in any order: sorted, no
/// two may be equal.
fn assert_increasing(progress: &[ProgressNotificationParam]) {
    let mut values: Vec<f64> = progress.iter().map(|p| p.progress).collect();
    values.sort_by(f64::total_cmp);
    assert!(
        values.windows(2).all(|w| w[0] < w[1]),
        "a progress value was sent twice: {values:?}"
    );
    assert_eq!(values.last().copied(), Some(100.0), "{values:?}");
}

/// The bytes behind an uploaded file's URL.
async fn fetch(url: &Value) -> Vec<u8> {
    let url = url.as_str().expect("a URL");
    let response = reqwest::get(url).await.expect("the file is served");
    assert!(response.status().is_success(), "{}", response.status());
    response.bytes().await.expect("its body").to_vec()
}

fn object(value: Value) -> Map<String, Value> {
    match value {
        Value::Object(map) => map,
        other => panic!("arguments must be an object: {other}"),
    }
}

fn text(result: &CallToolResult) -> String {
    result
        .content
        .iter()
        .filter_map(|c| c.as_text().map(|t| t.text.clone()))
        .collect::<Vec<_>>()
        .join("\n")
}

fn structured(result: &CallToolResult) -> Value {
    assert_ne!(
        result.is_error,
        Some(true),
        "a tool error: {}",
        text(result)
    );
    result
        .structured_content
        .clone()
        .expect("structured content")
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

#[test]
fn every_tool_is_listed_with_its_input_and_output_schemas() {
    let server = Server::start();
    runtime().block_on(async {
        let session = Session::start(&server, &["--package", "@oomol/echo", "1.0.0"]).await;
        let info = session
            .client
            .peer_info()
            .expect("the server introduced itself");
        assert_eq!(
            info.server_info.as_ref().map(|s| s.name.as_str()),
            Some("cloud-task-mcp")
        );
        assert!(info.capabilities.tools.is_some());
        assert!(
            info.instructions
                .as_deref()
                .is_some_and(|i| i.contains("@oomol/echo@1.0.0")),
            "{:?}",
            info.instructions
        );

        let tools = session.client.list_all_tools().await.expect("tools/list");
        let names: BTreeSet<&str> = tools.iter().map(|t| t.name.as_ref()).collect();
        let mut expected: BTreeSet<&str> = TOOLS.into_iter().collect();
        expected.insert("block_main");
        assert_eq!(names, expected);
        for tool in &tools {
            assert_eq!(tool.input_schema["type"], "object", "{}", tool.name);
            let output = tool
                .output_schema
                .as_ref()
                .unwrap_or_else(|| panic!("{}", tool.name));
            assert_eq!(output["type"], "object", "{}", tool.name);
            assert!(
                tool.description.as_deref().is_some_and(|d| d.len() > 20),
                "{} has no description",
                tool.name
            );
        }
        let tool = |name: &str| tools.iter().find(|t| t.name == name).unwrap();

        // Typed parameters: names, types and what is required.
        let run = Value::Object((*tool("run_task").input_schema).clone());
        assert_eq!(run["required"], json!(["blockName"]));
        assert!(
            run["properties"]["waitSeconds"]["type"]
                .to_string()
                .contains("integer")
        );
        assert_eq!(run["additionalProperties"], json!(false));
        let wait = Value::Object((*tool("wait_task").input_schema).clone());
        assert_eq!(wait["required"], json!(["taskId"]));
        let outcome = Value::Object((*tool("run_task").output_schema.clone().unwrap()).clone());
        assert!(outcome["properties"]["taskId"].is_object());
        assert!(
            outcome["properties"]["resultData"].is_object()
                || outcome["properties"]["resultData"] == json!(true)
        );

        // The block's tool has the block's own inputs.
        let block = Value::Object((*tool("block_main").input_schema).clone());
        assert_eq!(block["required"], json!(["text"]));
        assert_eq!(block["properties"]["text"]["type"], "string");
        assert_eq!(block["properties"]["count"]["minimum"], 0);
        assert_eq!(
            block["properties"]["mode"]["enum"],
            json!(["fast", "thorough"])
        );
        assert!(block["properties"]["mode"].get("ui:widget").is_none());
        assert_eq!(block["additionalProperties"], json!(false));

        // Read-only tools say so.
        for name in [
            "get_task_result",
            "list_tasks",
            "get_dashboard",
            "get_package_info",
            "whoami",
        ] {
            let annotations = tool(name).annotations.clone().unwrap();
            assert_eq!(annotations.read_only_hint, Some(true), "{name}");
        }
        session.close().await;
    });
}

#[test]
fn a_block_runs_end_to_end_with_progress_notifications() {
    let server = Server::start();
    runtime().block_on(async {
        let session = Session::start(&server, &["--package", "@oomol/echo", "1.0.0"]).await;
        // 100 s of the emulator's time: about a second here, many polls.
        let (result, token) = session
            .call_with_progress("block_main", json!({"text": "hello", "durationMs": 100000}))
            .await;
        let outcome = structured(&result);
        assert_eq!(outcome["status"], "success");
        let task_id = outcome["taskId"].as_str().unwrap().to_owned();
        assert_eq!(outcome["resultData"][0]["text"], "hello");

        let progress = session
            .recorder
            .until(&token, |seen| seen.iter().any(|p| p.progress >= 100.0))
            .await;
        assert!(progress.len() >= 3, "{progress:?}");
        assert_increasing(&progress);
        assert!(progress.iter().all(|p| p.total == Some(100.0)));
        assert!(
            progress
                .iter()
                .all(|p| p.message.as_deref().is_some_and(|m| m.contains(&task_id)))
        );

        // run_task with a package of its own, then the other tools on its task.
        let run = session
            .call(
                "run_task",
                json!({"packageName": "@oomol/echo", "blockName": "main",
                       "inputValues": {"text": "again"}}),
            )
            .await;
        let run = structured(&run);
        assert_eq!(run["resultData"][0]["text"], "again");
        let again = run["taskId"].as_str().unwrap();
        let result = structured(
            &session
                .call("get_task_result", json!({"taskId": again}))
                .await,
        );
        assert_eq!(result["status"], "success");
        let detail = structured(&session.call("get_task", json!({"taskId": again})).await);
        assert_eq!(detail["taskId"], again);
        assert_eq!(detail["inputValues"]["text"], "again");
        let list = structured(&session.call("list_tasks", json!({"size": 10})).await);
        let listed: Vec<&str> = list["tasks"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["taskId"].as_str().unwrap())
            .collect();
        assert!(
            listed.contains(&again) && listed.contains(&task_id.as_str()),
            "{listed:?}"
        );
        let dashboard = structured(&session.call("get_dashboard", json!({})).await);
        assert!(dashboard["maxConcurrency"].as_u64().unwrap() > 0);
        let me = structured(&session.call("whoami", json!({})).await);
        assert_eq!(me["name"], "Emulator User");
        assert!(
            me["apiUrl"]
                .as_str()
                .unwrap()
                .starts_with("http://127.0.0.1:")
        );
        let info = structured(
            &session
                .call("get_package_info", json!({"packageName": "@oomol/fail"}))
                .await,
        );
        assert_eq!(info["blocks"][0]["blockName"], "main");
        assert!(info["blocks"][0]["inputSchema"]["properties"]["message"].is_object());
        // One create per run: nothing was sent twice.
        assert_eq!(server.emulator.stats().count(Route::CreateTask), 2);
        session.close().await;
    });
}

#[test]
fn cancelling_a_wait_ends_the_wait_and_leaves_the_task_running() {
    let server = Server::start();
    runtime().block_on(async {
        let mut session = Session::start(&server, &[]).await;
        // 300 s of the emulator's time: about 3 s here.
        let created = structured(
            &session
                .call(
                    "create_task",
                    json!({"packageName": "@oomol/echo", "packageVersion": "1.0.0",
                           "blockName": "main",
                           "inputValues": {"text": "long", "durationMs": 300000}}),
                )
                .await,
        );
        assert_eq!(created["status"], "queued");
        let task_id = created["taskId"].as_str().unwrap().to_owned();

        let handle = session
            .send("wait_task", json!({"taskId": task_id, "waitSeconds": 600}))
            .await;
        let token = handle.progress_token.clone();
        // The wait is under way once a progress notification came.
        let seen = session
            .recorder
            .until(&token, |seen| !seen.is_empty())
            .await;
        assert!(!seen.is_empty(), "no progress before the cancellation");
        handle
            .cancel(Some("the agent moved on".into()))
            .await
            .expect("the cancellation is sent");

        let line = session.stderr_line("cancelled the wait").await;
        assert!(line.contains(&task_id), "{line}");
        // The server polls no more for it (a poll sent just before the cancellation may
        // still land: counted after a moment)...
        tokio::time::sleep(INTERVAL * 5).await;
        let polls = server.emulator.stats().count(Route::TaskResult);
        tokio::time::sleep(INTERVAL * 10).await;
        assert_eq!(server.emulator.stats().count(Route::TaskResult), polls);
        // ...and the task kept running: a new wait gets its result, nothing re-created.
        let done = structured(
            &session
                .call("wait_task", json!({"taskId": task_id, "waitSeconds": 20}))
                .await,
        );
        assert_eq!(done["status"], "success");
        assert_eq!(done["resultData"][0]["text"], "long");
        assert_eq!(server.emulator.stats().count(Route::CreateTask), 1);
        session.close().await;
    });
}

#[test]
fn a_batch_runs_each_input_once_with_progress_and_resumes_from_its_journal() {
    let server = Server::start();
    let dir = tempfile::tempdir().unwrap();
    let journal = dir.path().join("batch.journal");
    runtime().block_on(async {
        let session = Session::start(&server, &["--package", "@oomol/echo", "1.0.0"]).await;
        let inputs: Vec<Value> = (0..5).map(|i| json!({"text": format!("n{i}")})).collect();
        let (result, token) = session
            .call_with_progress("run_batch", json!({"blockName": "main", "inputs": inputs}))
            .await;
        let result = structured(&result);
        assert_eq!(result["complete"], true, "{result}");
        assert_eq!(result["succeeded"], 5);
        for (i, item) in result["items"].as_array().unwrap().iter().enumerate() {
            assert_eq!(item["index"], i);
            assert_eq!(item["status"], "success");
            assert_eq!(item["resultData"][0]["text"], format!("n{i}"));
        }
        let progress = session
            .recorder
            .until(&token, |seen| seen.iter().any(|p| p.progress >= 100.0))
            .await;
        assert!(progress.len() >= 5, "{progress:?}");
        assert_increasing(&progress);
        assert_eq!(server.emulator.stats().count(Route::CreateTask), 5);

        // A bad input: named by its index, nothing created.
        let inputs = json!([{"text": "a"}, {"text": "b"}, {"txt": "c"}]);
        let bad = session
            .call("run_batch", json!({"blockName": "main", "inputs": inputs}))
            .await;
        assert_eq!(bad.is_error, Some(true));
        let message = text(&bad);
        assert!(
            message.contains("inputs[2]: ") && message.contains("\"txt\""),
            "{message}"
        );
        assert_eq!(server.emulator.stats().count(Route::CreateTask), 5);

        // A window that ends first: one task at a time, each about a second here.
        let slow: Vec<Value> = (0..3)
            .map(|i| json!({"text": format!("s{i}"), "durationMs": 100000}))
            .collect();
        let arguments = json!({"blockName": "main", "inputs": slow, "concurrency": 1,
                               "journal": journal.to_str().unwrap(), "waitSeconds": 1});
        let partial = structured(&session.call("run_batch", arguments.clone()).await);
        assert_eq!(partial["complete"], false, "{partial}");
        assert!(partial["unfinished"].as_u64().unwrap() >= 1, "{partial}");
        assert!(
            partial["next"]
                .as_str()
                .unwrap()
                .contains("same inputs and journal")
        );
        // The same inputs and journal resume: every input once, nothing created twice.
        let mut resumed = arguments;
        resumed["waitSeconds"] = json!(60);
        let done = structured(&session.call("run_batch", resumed).await);
        assert_eq!(done["complete"], true, "{done}");
        assert_eq!(done["succeeded"], 3);
        assert_eq!(server.emulator.stats().count(Route::CreateTask), 5 + 3);
        session.close().await;
    });
}

#[test]
fn a_call_cancelled_before_its_create_creates_nothing() {
    let server = Server::start();
    // The block's description comes after half a second: the call is cancelled meanwhile.
    server.emulator.add_fault(FaultRule::new(
        Route::PackageInfo,
        Fault::Delay(Duration::from_millis(500)),
    ));
    runtime().block_on(async {
        let mut session = Session::start(&server, &[]).await;
        let handle = session
            .send(
                "run_task",
                json!({"packageName": "@oomol/echo", "packageVersion": "1.0.0",
                       "blockName": "main", "inputValues": {"text": "never"}}),
            )
            .await;
        let start = Instant::now();
        while server.emulator.stats().count(Route::PackageInfo) == 0 {
            assert!(start.elapsed() < DEADLINE, "the description was never read");
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        handle.cancel(None).await.expect("the cancellation is sent");
        session.stderr_line("nothing was created").await;
        assert_eq!(server.emulator.stats().count(Route::CreateTask), 0);
        session.close().await;
    });
}

#[test]
fn a_create_whose_answer_is_lost_is_reported_unknown_and_not_sent_again() {
    let server = Server::start();
    server
        .emulator
        .add_fault(FaultRule::new(Route::CreateTask, Fault::DropAnswer).times(1));
    runtime().block_on(async {
        let session = Session::start(&server, &[]).await;
        let lost = session
            .call(
                "run_task",
                json!({"packageName": "@oomol/echo", "packageVersion": "1.0.0",
                       "blockName": "main", "inputValues": {"text": "lost"}}),
            )
            .await;
        assert_eq!(lost.is_error, Some(true));
        let message = text(&lost);
        assert!(message.contains("created is unknown"), "{message}");
        assert!(message.contains("list_tasks"), "{message}");
        // Sent once, never again: the task the server did create is the only one.
        assert_eq!(server.emulator.stats().count(Route::CreateTask), 1);
        let listed = structured(&session.call("list_tasks", json!({})).await);
        assert_eq!(listed["tasks"].as_array().unwrap().len(), 1);
        session.close().await;
    });
}

#[test]
fn failures_are_tool_errors_an_agent_can_act_on() {
    let server = Server::start();
    runtime().block_on(async {
        let session = Session::start(&server, &["--package", "@oomol/echo", "1.0.0"]).await;

        // A block that fails: its message, its task ID.
        let failed = session
            .call(
                "run_task",
                json!({"packageName": "@oomol/fail", "packageVersion": "1.0.0",
                       "blockName": "main", "inputValues": {"message": "the disk is full"}}),
            )
            .await;
        assert_eq!(failed.is_error, Some(true));
        let message = text(&failed);
        assert!(message.contains("failed: the disk is full"), "{message}");
        assert!(message.contains("not retried"), "{message}");

        // Bad inputs to the block's tool: every handle named, nothing created.
        let creates = server.emulator.stats().count(Route::CreateTask);
        let bad = session
            .call("block_main", json!({"txt": "a", "count": -1}))
            .await;
        assert_eq!(bad.is_error, Some(true));
        let message = text(&bad);
        assert!(
            message.contains("input \"txt\"") && message.contains("no such input"),
            "{message}"
        );
        assert!(
            message.contains("input \"text\"") && message.contains("required"),
            "{message}"
        );
        assert!(message.contains("input \"count\""), "{message}");
        assert!(message.contains("nothing was created"), "{message}");
        assert_eq!(server.emulator.stats().count(Route::CreateTask), creates);

        // Parameters of the wrong type: a tool error naming the parameter, not a protocol
        // error.
        let typed = session
            .call("wait_task", json!({"taskId": "x", "waitSeconds": "soon"}))
            .await;
        assert_eq!(typed.is_error, Some(true));
        assert!(
            text(&typed).contains("waitSeconds: invalid type"),
            "{}",
            text(&typed)
        );

        // A window that ends first: the ID, the status, how to continue.
        let slow = session
            .call(
                "run_task",
                json!({"blockName": "main", "waitSeconds": 1,
                       "inputValues": {"text": "t", "durationMs": 3000000}}),
            )
            .await;
        assert_eq!(slow.is_error, Some(true));
        let message = text(&slow);
        assert!(
            message.contains("still") && message.contains("wait_task"),
            "{message}"
        );
        let id = message
            .split_whitespace()
            .nth(1)
            .expect("Task <id> ...")
            .to_owned();
        let now = structured(&session.call("get_task_result", json!({"taskId": id})).await);
        assert_ne!(now["status"], "success");

        // Quota: what to do about it.
        let quota = session
            .call(
                "run_task",
                json!({"packageName": "@oomol/quota", "packageVersion": "1.0.0",
                       "blockName": "main"}),
            )
            .await;
        assert_eq!(quota.is_error, Some(true));
        let message = text(&quota);
        assert!(
            message.contains("quota or credit is exhausted"),
            "{message}"
        );
        assert!(message.contains("Add credit"), "{message}");

        // An unknown task.
        let missing = session
            .call("get_task_result", json!({"taskId": "no-such-task"}))
            .await;
        assert_eq!(missing.is_error, Some(true));
        assert!(
            text(&missing).contains("no-such-task"),
            "{}",
            text(&missing)
        );
        session.close().await;
    });
}

#[test]
fn the_api_key_never_reaches_the_agent_even_when_a_server_echoes_it() {
    // Three ways a server can send the key back: a block's failure message, a result, and
    // an error naming what it was asked for. Each answer must say `***` instead.
    let server = Server::start();
    runtime().block_on(async {
        let session = Session::start(&server, &[]).await;
        let answers = [
            session
                .call(
                    "run_task",
                    json!({"packageName": "@oomol/fail", "packageVersion": "1.0.0",
                           "blockName": "main", "inputValues": {"message": format!("bad key {KEY}")}}),
                )
                .await,
            session
                .call(
                    "run_task",
                    json!({"packageName": "@oomol/echo", "packageVersion": "1.0.0",
                           "blockName": "main", "inputValues": {"text": KEY}}),
                )
                .await,
            session
                .call("get_task_result", json!({"taskId": KEY}))
                .await,
        ];
        for (n, answer) in answers.iter().enumerate() {
            let whole = serde_json::to_string(answer).unwrap();
            assert!(!whole.contains(KEY), "answer {n} holds the key: {whole}");
            assert!(whole.contains("***"), "answer {n} was not what the test meant: {whole}");
        }
        // Everything else of the answers is kept: the failure is still one, the echo
        // still a success.
        assert_eq!(answers[0].is_error, Some(true));
        assert!(text(&answers[0]).contains("failed: bad key ***"), "{}", text(&answers[0]));
        assert_ne!(answers[1].is_error, Some(true));
        assert_eq!(answers[2].is_error, Some(true));
        session.close().await;
    });
}

#[test]
fn files_go_up_from_a_path_or_base64_and_results_come_down() {
    let server = Server::start();
    let dir = tempfile::tempdir().unwrap();
    let local = dir.path().join("notes.txt");
    std::fs::write(&local, b"hello from a file").unwrap();
    runtime().block_on(async {
        let session = Session::start(&server, &[]).await;
        let uploaded = structured(
            &session
                .call("upload_file", json!({"path": local.to_str().unwrap()}))
                .await,
        );
        assert_eq!(uploaded["fileSize"], 17);
        assert_eq!(fetch(&uploaded["url"]).await, b"hello from a file");

        let encoded = structured(
            &session
                .call(
                    "upload_base64",
                    json!({"fileName": "b.bin", "dataBase64": "AAECAw=="}),
                )
                .await,
        );
        assert_eq!(encoded["fileSize"], 4);
        assert_eq!(fetch(&encoded["url"]).await, [0, 1, 2, 3]);
        let bad = session
            .call(
                "upload_base64",
                json!({"fileName": "b.bin", "dataBase64": "%%%"}),
            )
            .await;
        assert_eq!(bad.is_error, Some(true));
        assert!(text(&bad).contains("base64"), "{}", text(&bad));

        // A block that stores a result file; it is saved where asked.
        let run = structured(
            &session
                .call(
                    "run_task",
                    json!({"packageName": "@oomol/file", "packageVersion": "1.0.0",
                           "blockName": "main", "inputValues": {"text": "file body"}}),
                )
                .await,
        );
        let target: PathBuf = dir.path().join("result.txt");
        let saved = structured(
            &session
                .call(
                    "download_result",
                    json!({"taskId": run["taskId"], "path": target.to_str().unwrap()}),
                )
                .await,
        );
        assert_eq!(std::fs::read_to_string(&target).unwrap(), "file body");
        assert_eq!(saved["size"], 9);
        session.close().await;
    });
}

#[test]
fn a_cancelled_upload_stops_sending() {
    let server = Server::start();
    // Each part is answered after ten seconds: the call is cancelled meanwhile.
    server.emulator.add_fault(FaultRule::new(
        Route::UploadPart,
        Fault::Delay(Duration::from_secs(10)),
    ));
    let dir = tempfile::tempdir().unwrap();
    let local = dir.path().join("big.bin");
    std::fs::write(&local, vec![7u8; 64 * 1024]).unwrap();
    runtime().block_on(async {
        let mut session = Session::start(&server, &[]).await;
        let handle = session
            .send("upload_file", json!({"path": local.to_str().unwrap()}))
            .await;
        let start = Instant::now();
        while server.emulator.stats().count(Route::UploadPart) == 0 {
            assert!(start.elapsed() < DEADLINE, "no part was sent");
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        handle.cancel(None).await.expect("the cancellation is sent");
        // Ended at once, not after the part's ten seconds; the file was never completed.
        let ended = tokio::time::timeout(
            Duration::from_secs(5),
            session.stderr_line("cancelled an upload"),
        )
        .await;
        assert!(ended.is_ok(), "the upload went on after the cancellation");
        assert_eq!(server.emulator.stats().count(Route::UploadUrl), 0);
        session.close().await;
    });
}

/// The official MCP Inspector in CLI mode lists the tools and runs the block, when npm
/// can install it (once per target directory); skipped with a note when it cannot.
#[test]
fn the_mcp_inspector_cli_lists_the_tools_and_runs_a_block() {
    let Some(inspector) = inspector() else {
        return;
    };
    let server = Server::start();
    let run = |extra: &[&str]| {
        let mut command = std::process::Command::new(&inspector);
        command.arg("--cli");
        for (name, value) in server.env() {
            command.arg("-e").arg(format!("{name}={value}"));
        }
        command
            .args([
                BIN,
                "mcp",
                "--interval",
                "20ms",
                "--package",
                "@oomol/echo",
                "1.0.0",
            ])
            .args(extra);
        let output = run_bounded(command, Duration::from_secs(60));
        assert!(
            output.status.success(),
            "the inspector failed: {}\n{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
        assert!(!stderr.contains("unknown format"), "{stderr}");
        serde_json::from_slice::<Value>(&output.stdout).expect("the inspector prints JSON")
    };
    let listed = run(&["--method", "tools/list"]);
    let names: BTreeSet<&str> = listed["tools"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert!(
        names.contains("block_main") && names.contains("run_task"),
        "{names:?}"
    );
    let called = run(&[
        "--method",
        "tools/call",
        "--tool-name",
        "block_main",
        "--tool-arg",
        "text=inspected",
    ]);
    assert_eq!(called["isError"], false, "{called}");
    assert_eq!(
        called["structuredContent"]["resultData"][0]["text"],
        "inspected"
    );
}

/// The inspector's binary, installed with npm under the target directory on first use
/// (about 150 MB, ten seconds);
/// `None` (with a note) when npm is missing or cannot install it.
fn inspector() -> Option<PathBuf> {
    let target = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("mcp-inspector");
    let bin = target.join("node_modules/.bin/mcp-inspector");
    if bin.exists() {
        return Some(bin);
    }
    let mut install = std::process::Command::new("npm");
    install.args([
        "install",
        "--no-audit",
        "--no-fund",
        "--loglevel=error",
        "--prefix",
    ]);
    // The release the README names (it runs on Node.js 20; later ones may need 22).
    install
        .arg(&target)
        .arg("@modelcontextprotocol/inspector@0.15.0");
    let installed = match install
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
    {
        Ok(child) => wait_bounded(child, Duration::from_secs(300)),
        Err(e) => {
            eprintln!("note: the MCP Inspector test is skipped: npm cannot run ({e})");
            return None;
        }
    };
    match installed {
        Some(output) if output.status.success() && bin.exists() => Some(bin),
        Some(output) => {
            eprintln!(
                "note: the MCP Inspector test is skipped: npm could not install it: {}",
                String::from_utf8_lossy(&output.stderr).trim()
            );
            None
        }
        None => {
            eprintln!("note: the MCP Inspector test is skipped: npm took over 5 minutes");
            None
        }
    }
}

fn run_bounded(mut command: std::process::Command, limit: Duration) -> std::process::Output {
    let child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the inspector starts");
    wait_bounded(child, limit).expect("the inspector ends in time")
}

/// Waits for `child` at most `limit`, killing it after; `None` when it was killed.
fn wait_bounded(child: std::process::Child, limit: Duration) -> Option<std::process::Output> {
    let id = child.id();
    let (send, receive) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = send.send(child.wait_with_output());
    });
    match receive.recv_timeout(limit) {
        Ok(output) => output.ok(),
        Err(_) => {
            let _ = std::process::Command::new("kill")
                .arg("-9")
                .arg(id.to_string())
                .status();
            None
        }
    }
}

#[test]
fn requests_up_to_the_documented_size_are_read_and_larger_ones_get_an_error() {
    use base64::Engine as _;
    let server = Server::start();
    runtime().block_on(async {
        let session = Session::start(&server, &[]).await;
        // 20 MiB decoded: a 27 MiB line, past rmcp's own 16 MiB limit, within the
        // documented 32 MiB of upload_base64.
        let bytes: Vec<u8> = (0..20 * 1024 * 1024u32).map(|i| (i % 251) as u8).collect();
        let encoded = base64::engine::general_purpose::STANDARD.encode(&bytes);
        let uploaded = structured(
            &session
                .call(
                    "upload_base64",
                    json!({"fileName": "big.bin", "dataBase64": encoded}),
                )
                .await,
        );
        assert_eq!(uploaded["fileSize"], bytes.len());
        drop(encoded);

        // A line past MAX_REQUEST_LINE: a JSON-RPC error that says so, in time.
        let too_big = "A".repeat(cloud_task_mcp::MAX_REQUEST_LINE + 1024);
        let params = CallToolRequestParams::new("upload_base64")
            .with_arguments(object(json!({"fileName": "x.bin", "dataBase64": too_big})));
        let refused = tokio::time::timeout(DEADLINE, session.client.call_tool(params))
            .await
            .expect("answered in time");
        let error = match refused {
            Err(rmcp::ServiceError::McpError(error)) => error,
            other => panic!("not a JSON-RPC error: {other:?}"),
        };
        assert_eq!(error.code, rmcp::model::ErrorCode::INVALID_REQUEST);
        assert!(error.message.contains("over the"), "{}", error.message);
        assert!(error.message.contains("32 MiB"), "{}", error.message);
        // The connection goes on.
        let dashboard = structured(&session.call("get_dashboard", json!({})).await);
        assert!(dashboard.is_object(), "{dashboard}");
        assert_eq!(server.emulator.stats().count(Route::UploadInit), 1);
        session.close().await;
    });
}

#[cfg(unix)]
#[test]
fn a_fifo_named_as_a_journal_or_a_file_is_refused_and_other_calls_go_on() {
    let server = Server::start();
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("pipe");
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .expect("mkfifo runs");
    assert!(made.success());
    let fifo = fifo.to_str().unwrap().to_owned();
    runtime().block_on(async {
        let session = Session::start(&server, &[]).await;
        // Sent together: neither may hold the others up (no writer ever opens the FIFO).
        let batch = session.call(
            "run_batch",
            json!({"packageName": "@oomol/echo", "packageVersion": "1.0.0",
                   "blockName": "main", "inputs": [{"text": "a"}],
                   "journal": fifo, "waitSeconds": 1}),
        );
        let upload = session.call("upload_file", json!({"path": fifo}));
        let dashboard = session.call("get_dashboard", json!({}));
        let (batch, upload, dashboard) = tokio::join!(batch, upload, dashboard);
        assert_eq!(batch.is_error, Some(true));
        assert!(
            text(&batch).contains("not a regular file"),
            "{}",
            text(&batch)
        );
        assert_eq!(upload.is_error, Some(true));
        assert!(text(&upload).contains("regular file"), "{}", text(&upload));
        assert!(structured(&dashboard).is_object());
        assert_eq!(server.emulator.stats().count(Route::CreateTask), 0);
        session.close().await;
    });
}

#[test]
fn with_a_root_the_file_tools_stay_under_it() {
    let server = Server::start();
    let dir = tempfile::tempdir().unwrap();
    let outside = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("notes.txt"), b"inside").unwrap();
    std::fs::write(outside.path().join("secret.txt"), b"outside").unwrap();
    let root = dir.path().to_str().unwrap().to_owned();
    runtime().block_on(async {
        let session = Session::start(&server, &["--root", &root]).await;
        // A relative path is taken from the root.
        let uploaded = structured(
            &session
                .call("upload_file", json!({"path": "notes.txt"}))
                .await,
        );
        assert_eq!(fetch(&uploaded["url"]).await, b"inside");
        let secret = outside.path().join("secret.txt");
        for path in [secret.to_str().unwrap(), "../secret.txt"] {
            let refused = session.call("upload_file", json!({"path": path})).await;
            assert_eq!(refused.is_error, Some(true));
            assert!(
                text(&refused).contains("outside the directory"),
                "{}",
                text(&refused)
            );
        }
        let run = structured(
            &session
                .call(
                    "run_task",
                    json!({"packageName": "@oomol/file", "packageVersion": "1.0.0",
                           "blockName": "main", "inputValues": {"text": "file body"}}),
                )
                .await,
        );
        let escape = outside.path().join("result.txt");
        let refused = session
            .call(
                "download_result",
                json!({"taskId": run["taskId"], "path": escape.to_str().unwrap()}),
            )
            .await;
        assert_eq!(refused.is_error, Some(true));
        assert!(!escape.exists());
        let saved = structured(
            &session
                .call(
                    "download_result",
                    json!({"taskId": run["taskId"], "path": "result.txt"}),
                )
                .await,
        );
        assert_eq!(saved["size"], 9);
        // Answered as an absolute path, under the root.
        let answered = std::path::PathBuf::from(saved["path"].as_str().unwrap());
        assert!(answered.is_absolute(), "{saved}");
        assert_eq!(std::fs::read(&answered).unwrap(), b"file body");
        assert_eq!(
            std::fs::read(dir.path().join("result.txt")).unwrap(),
            b"file body"
        );
        let creates = server.emulator.stats().count(Route::CreateTask);
        let batch = session
            .call(
                "run_batch",
                json!({"packageName": "@oomol/echo", "packageVersion": "1.0.0",
                       "blockName": "main", "inputs": [{"text": "a"}],
                       "journal": "../batch.journal", "waitSeconds": 1}),
            )
            .await;
        assert_eq!(batch.is_error, Some(true));
        assert!(
            text(&batch).contains("outside the directory"),
            "{}",
            text(&batch)
        );
        assert_eq!(server.emulator.stats().count(Route::CreateTask), creates);
        session.close().await;
    });
}
