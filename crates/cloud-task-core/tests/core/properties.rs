//! Property tests: parsers never panic, builders always give a valid request or a clear error.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use cloud_task_core::{
    AwaitOptions, Config, CreateTask, CreateTaskRequest, Error, GetDashboard, GetLatestTasks,
    GetTask, GetTaskLogs, GetTaskResult, GetUploadUrl, HttpResponse, ListTasks, ListTasksQuery,
    Operation, PollAction, Poller, SetTasksPause, UploadInit, UploadPlan, UploadTarget,
};
use percent_encoding::percent_decode_str;
use proptest::prelude::*;
use serde_json::Value;

fn resp(status: u16, body: Vec<u8>) -> HttpResponse {
    cloud_task_core::http::Response::builder()
        .status(status)
        .body(body)
        .unwrap()
}

/// A parse outcome is fine when it is Ok, or an error that keeps the raw body.
fn check<T>(status: u16, body: &[u8], outcome: Result<T, Error>) {
    match outcome {
        Ok(_) => assert!((200..300).contains(&status)),
        Err(Error::Api(api)) => assert_eq!(api.status.as_u16(), status),
        Err(Error::Decode(d)) => assert_eq!(d.body, body),
        Err(Error::Upload(_)) => {}
        Err(other) => panic!("unexpected {other:?}"),
    }
}

fn bodies() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        proptest::collection::vec(any::<u8>(), 0..200),
        "\\PC{0,200}".prop_map(String::into_bytes),
        // Near-valid JSON: a real shape, truncated at a random point.
        (0usize..200).prop_map(|cut| {
            let s = r#"{"status":"success","resultURL":null,"resultData":[{"a":1}],"tasks":[{"taskID":"t","status":"queued"}],"nextToken":null,"taskID":"x","limits":{"maxConcurrency":1,"maxQueueSize":1},"count":{},"pause":{"paused":false},"logs":[{"k":"v"}],"data":{"upload_id":"u","part_size":1,"total_parts":1,"presigned_urls":{"1":"http://h/1"},"url":"http://u"}}"#;
            s.as_bytes()[..cut.min(s.len())].to_vec()
        }),
    ]
}

fn statuses() -> impl Strategy<Value = u16> {
    prop_oneof![
        Just(200u16),
        Just(201),
        Just(400),
        Just(404),
        Just(429),
        Just(503),
        100u16..600
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn parsers_never_panic(status in statuses(), body in bodies()) {
        check(status, &body, CreateTask::new(CreateTaskRequest::new("p", "1", "b")).parse(resp(status, body.clone())));
        check(status, &body, ListTasks::default().parse(resp(status, body.clone())));
        check(status, &body, GetLatestTasks::new("w").parse(resp(status, body.clone())));
        check(status, &body, GetTask::new("t").parse(resp(status, body.clone())));
        check(status, &body, GetTaskResult::new("t").parse(resp(status, body.clone())));
        check(status, &body, GetTaskResult::new_as::<Vec<String>>("t").parse(resp(status, body.clone())));
        check(status, &body, GetDashboard.parse(resp(status, body.clone())));
        check(status, &body, SetTasksPause::pause().parse(resp(status, body.clone())));
        check(status, &body, GetTaskLogs::new("t").parse(resp(status, body.clone())));
        check(status, &body, UploadInit::for_file("a", 1).parse(resp(status, body.clone())));
        check(status, &body, GetUploadUrl::new("u").parse(resp(status, body.clone())));
    }

    #[test]
    fn a_segment_is_encoded_as_percent_encoding_does(
        s in prop_oneof!["[A-Za-z0-9._~-]{0,40}", "[A-Za-z0-9._~/ %?#-]{0,40}", "\\PC{0,40}", Just(".".to_owned()), Just("..".to_owned())]
    ) {
        // The reference: every byte but RFC 3986's unreserved ones encoded, and the two
        // navigation segments spelled out (the fast path for plain IDs must agree).
        const UNRESERVED: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
            .remove(b'-')
            .remove(b'.')
            .remove(b'_')
            .remove(b'~');
        let reference = match s.as_str() {
            "." => "%2E".to_owned(),
            ".." => "%2E%2E".to_owned(),
            _ => percent_encoding::utf8_percent_encode(&s, UNRESERVED).to_string(),
        };
        prop_assert_eq!(cloud_task_core::encode_path_segment(&s), reference);
    }

    #[test]
    fn any_task_id_is_one_decodable_segment(id in "\\PC{0,40}") {
        match GetTask::new(id.clone()).request(&Config::default()) {
            Ok(request) => {
                let path = request.uri().path();
                let segment = path.strip_prefix("/v3/users/me/tasks/").unwrap();
                prop_assert!(!segment.contains('/'));
                prop_assert_eq!(percent_decode_str(segment).decode_utf8().unwrap(), id.as_str());
                // The URI survives a round trip through its text.
                let again: cloud_task_core::http::Uri = request.uri().to_string().parse().unwrap();
                prop_assert_eq!(&again, request.uri());
            }
            Err(Error::InvalidInput(e)) => {
                prop_assert!(id.trim().is_empty());
                prop_assert_eq!(e.field, "task_id");
            }
            Err(other) => prop_assert!(false, "{other:?}"),
        }
        // The other task-ID operations agree.
        prop_assert_eq!(
            GetTaskResult::new(id.clone()).request(&Config::default()).is_ok(),
            GetTaskLogs::new(id.clone()).request(&Config::default()).is_ok()
        );
    }

    #[test]
    fn create_bodies_round_trip(pkg in "\\PC{0,20}", ver in "\\PC{0,10}", block in "\\PC{0,10}", key in "\\PC{0,10}", value in "\\PC{0,20}") {
        let req = CreateTaskRequest::new(pkg.clone(), ver.clone(), block.clone()).input(key.clone(), value.clone());
        match CreateTask::new(req).request(&Config::default()) {
            Ok(request) => {
                let body: Value = serde_json::from_slice(request.body()).unwrap();
                prop_assert_eq!(&body["packageName"], &Value::String(pkg));
                prop_assert_eq!(&body["packageVersion"], &Value::String(ver));
                prop_assert_eq!(&body["blockName"], &Value::String(block));
                prop_assert_eq!(&body["inputValues"][key.as_str()], &Value::String(value));
                prop_assert_eq!(&body["type"], "serverless");
            }
            Err(Error::InvalidInput(_)) => {
                prop_assert!(pkg.trim().is_empty() || ver.trim().is_empty() || block.trim().is_empty());
            }
            Err(other) => prop_assert!(false, "{other:?}"),
        }
    }

    #[test]
    fn list_queries_round_trip(token in "\\PC{0,30}", workload_id in "\\PC{0,30}", status in "\\PC{0,10}") {
        let query = ListTasksQuery::new().next_token(token.clone()).workload_id(workload_id.clone()).status(status.as_str());
        let request = ListTasks::new(query).request(&Config::default()).unwrap();
        let decoded: BTreeMap<String, String> = form_urlencoded::parse(request.uri().query().unwrap_or("").as_bytes()).into_owned().collect();
        prop_assert_eq!(decoded.get("nextToken").cloned(), (!token.is_empty()).then_some(token));
        prop_assert_eq!(decoded.get("workloadID").cloned(), (!workload_id.is_empty()).then_some(workload_id));
        prop_assert_eq!(decoded.get("status").cloned(), (!status.is_empty()).then_some(status));
    }

    #[test]
    fn latest_ids_never_panic(ids in proptest::collection::vec("\\PC{0,8}", 0..60)) {
        match GetLatestTasks::new(ids.clone()).request(&Config::default()) {
            Ok(request) => {
                let decoded: Vec<(String, String)> = form_urlencoded::parse(request.uri().query().unwrap().as_bytes()).into_owned().collect();
                let trimmed: Vec<&str> = ids.iter().map(|s| s.trim()).collect();
                prop_assert_eq!(&decoded[0].1, &trimmed.join(","));
            }
            Err(Error::InvalidInput(_)) => prop_assert!(ids.is_empty() || ids.len() > 50 || ids.iter().any(|s| s.trim().is_empty())),
            Err(other) => prop_assert!(false, "{other:?}"),
        }
    }

    #[test]
    fn any_base_url_builds_or_is_refused(url in "\\PC{0,40}", key in "\\PC{0,20}") {
        match Config::builder().base_url(url).api_key(key).build() {
            Ok(config) => {
                let request = GetDashboard.request(&config).unwrap();
                prop_assert!(request.uri().scheme().is_some());
            }
            Err(Error::InvalidInput(e)) => prop_assert!(["base_url", "api_key"].contains(&e.field)),
            Err(other) => prop_assert!(false, "{other:?}"),
        }
    }

    #[test]
    fn upload_plans_cover_the_file_or_fail_cleanly(size in prop_oneof![0u64..100, any::<u64>()], part_size in prop_oneof![0u64..40, any::<u64>()], total in 0u32..12, missing in proptest::option::of(1u32..12)) {
        let urls = (1..=total).filter(|k| Some(*k) != missing).map(|k| (k, format!("http://h/{k}"))).collect();
        match UploadPlan::new(&UploadTarget::new("u", part_size, total, urls), size) {
            Ok(plan) => {
                let mut next = 0u64;
                for part in plan.parts() {
                    prop_assert_eq!(part.offset, next);
                    next += part.len;
                    prop_assert!(part.len <= part_size || size == 0);
                }
                prop_assert_eq!(next, size);
                let mut progress = plan.progress();
                let mut last = 0;
                for part in plan.parts() {
                    let p = progress.on_part_done(part.len);
                    prop_assert!(p >= last && p <= 99);
                    last = p;
                }
                prop_assert_eq!(progress.on_complete(), 100);
            }
            Err(Error::Upload(_)) => {}
            Err(other) => prop_assert!(false, "{other:?}"),
        }
    }

    #[test]
    fn the_poller_always_ends(replies in proptest::collection::vec((statuses(), bodies()), 1..30), timeout_ms in 1u64..100_000) {
        let start = Instant::now();
        let mut now = start;
        let options = AwaitOptions::new().interval(Duration::from_millis(100)).timeout(Duration::from_millis(timeout_ms));
        let mut poller = Poller::new(&Config::default(), "t", &options, now).unwrap();
        let mut replies = replies.into_iter();
        let deadline = start + Duration::from_millis(timeout_ms);
        let mut steps = 0;
        loop {
            steps += 1;
            prop_assert!(steps < 10_000);
            match poller.poll_action(now) {
                PollAction::Send(t) => {
                    prop_assert!(t.deadline <= deadline, "a poll was given past the deadline");
                    match replies.next() {
                        Some((status, body)) => poller.handle_response(t.id, resp(status, body), now),
                        None => poller.handle_response(t.id, resp(200, br#"{"status":"running"}"#.to_vec()), now),
                    }
                }
                PollAction::Progress { .. } => {}
                PollAction::Wait(d) => {
                    now += d;
                    prop_assert!(now <= deadline, "waited past the deadline");
                }
                PollAction::Done(_) => break,
            }
        }
    }
}

/// A request in flight in a scripted run: its ID, its answer (none: never answered) and
/// its deadline.
type Pending = (
    cloud_task_core::RequestId,
    Option<Result<HttpResponse, Error>>,
    Instant,
);

/// A scripted answer to a machine's request.
#[derive(Debug, Clone)]
enum Answer {
    Status(u16),
    Redirect(u16, String),
    Transport,
    Never,
}

fn answers() -> impl Strategy<Value = Answer> {
    prop_oneof![
        4 => prop_oneof![Just(200u16), Just(201), Just(400), Just(404), Just(429), Just(500), Just(503)].prop_map(Answer::Status),
        2 => (prop_oneof![Just(301u16), Just(302), Just(303), Just(307), Just(308)],
              prop_oneof![Just("/same/path".to_owned()), Just("https://evil.test/x".to_owned()), Just("//other.test/y".to_owned()), Just("relative".to_owned()), Just(String::new())])
            .prop_map(|(s, l)| Answer::Redirect(s, l)),
        1 => Just(Answer::Transport),
        1 => Just(Answer::Never),
    ]
}

fn answer_response(answer: &Answer, body: &[u8]) -> Option<Result<HttpResponse, Error>> {
    match answer {
        Answer::Status(status) => Some(Ok(resp(*status, body.to_vec()))),
        Answer::Redirect(status, location) => Some(Ok(cloud_task_core::http::Response::builder()
            .status(*status)
            .header("location", location.as_str())
            .body(Vec::new())
            .unwrap())),
        Answer::Transport => Some(Err(Error::transport(
            cloud_task_core::TransportErrorKind::Io,
            "reset",
        ))),
        Answer::Never => None,
    }
}

proptest! {
    #[test]
    fn a_call_ends_within_its_redirect_bound_and_stays_in_its_origin(script in proptest::collection::vec(answers(), 1..20)) {
        use cloud_task_core::{Call, CallAction};
        let config = Config::builder().api_key("k").base_url("https://api.test").max_redirects(3).build().unwrap();
        let start = Instant::now();
        let mut now = start;
        let mut call = Call::for_operation(&GetDashboard, &config, start).unwrap();
        let mut script = script.into_iter();
        let mut sends = 0;
        loop {
            match call.poll_action(now) {
                CallAction::Send(t) => {
                    sends += 1;
                    prop_assert!(sends <= 4, "more sends than one call and 3 redirects");
                    prop_assert_eq!(t.request.uri().host(), Some("api.test"));
                    prop_assert!(t.deadline <= start + config.timeout());
                    match script.next().and_then(|a| answer_response(&a, b"{}")) {
                        Some(Ok(r)) => call.handle_response(t.id, r, now),
                        Some(Err(e)) => call.handle_transport_error(t.id, e, now),
                        None => now = t.deadline,
                    }
                }
                CallAction::Wait(d) => now += d,
                CallAction::Done(_) => break,
            }
        }
    }

    #[test]
    fn a_walk_ends_within_max_pages_whatever_the_tokens(tokens in proptest::collection::vec(prop_oneof![Just(None), (0u8..6).prop_map(Some)], 1..60)) {
        use cloud_task_core::{PageAction, Paginator};
        let config = Config::builder().max_pages(20).build().unwrap();
        let now = Instant::now();
        let mut pages = Paginator::new(&config, ListTasksQuery::new()).unwrap();
        let mut tokens = tokens.into_iter();
        let mut sends = 0;
        loop {
            match pages.poll_action(now) {
                PageAction::Send(t) => {
                    sends += 1;
                    // Six distinct tokens at most: a cycle is caught by the seventh page.
                    prop_assert!(sends <= 7, "{} pages", sends);
                    let next = match tokens.next().flatten() {
                        Some(n) => format!("\"t{n}\""),
                        None => "null".to_owned(),
                    };
                    let body = format!(r#"{{"tasks":[],"nextToken":{next}}}"#);
                    pages.handle_response(t.id, resp(200, body.into_bytes()), now);
                }
                PageAction::Page(_) => {}
                PageAction::Wait(_) => prop_assert!(false, "nothing is left in flight"),
                PageAction::Done(_) => break,
            }
        }
    }

    #[test]
    fn an_upload_ends_holds_at_most_its_slots_and_reads_only_the_file(
        size in 0u64..20_000,
        part_size in 1u64..8_000,
        concurrency in 1usize..6,
        buffer in 1024u64..20_000,
        script in proptest::collection::vec(answers(), 0..40),
    ) {
        use cloud_task_core::{Upload, UploadAction, UploadOptions};
        let config = Config::builder().max_upload_buffer(buffer).build().unwrap();
        let options = UploadOptions::new().concurrency(concurrency).retries(2);
        let start = Instant::now();
        let mut now = start;
        let mut upload = Upload::new(&config, "f.bin", size, &options, now).unwrap();
        let mut script = script.into_iter();
        let mut pending: Vec<Pending> = Vec::new();
        let mut held = std::collections::HashSet::new();
        let total = size.div_ceil(part_size).max(1);
        let mut steps = 0;
        loop {
            steps += 1;
            prop_assert!(steps < 100_000, "the upload never ended");
            match upload.poll_action(now) {
                UploadAction::Send(t) => {
                    let path = t.request.uri().path().to_owned();
                    let answer = if path.ends_with("/init") {
                        let urls: Vec<String> = (1..=total).map(|k| format!(r#""{k}":"https://s3.test/{k}""#)).collect();
                        Some(Ok(resp(200, format!(r#"{{"data":{{"upload_id":"u","part_size":{part_size},"total_parts":{total},"presigned_urls":{{{}}}}}}}"#, urls.join(",")).into_bytes())))
                    } else if path.ends_with("/url") {
                        Some(Ok(resp(200, br#"{"data":{"url":"https://f.test/u"}}"#.to_vec())))
                    } else {
                        prop_assert!(t.request.headers().get("authorization").is_none());
                        script.next().map_or(Some(Ok(resp(200, Vec::new()))), |a| answer_response(&a, b""))
                    };
                    pending.push((t.id, answer, t.deadline));
                }
                UploadAction::Read { part, offset, len } => {
                    prop_assert!(offset + len <= size, "a read past the end");
                    held.insert(part);
                    let slots = upload.parallel_parts().unwrap_or(1);
                    prop_assert!(held.len() <= slots, "{} parts held, {} slots", held.len(), slots);
                    // The bytes of the parts held at once stay within the buffer (one part at
                    // least is always allowed).
                    let largest = part_size.min(size);
                    prop_assert!(slots as u64 * largest <= buffer.max(largest));
                    upload.handle_read(part, Ok(vec![0; len as usize]), now);
                }
                UploadAction::Progress { percent, part } => {
                    prop_assert!(percent <= 100);
                    if let Some(part) = part {
                        held.remove(&part);
                    }
                }
                UploadAction::Wait(d) | UploadAction::AwaitResponse(d) => {
                    if pending.is_empty() {
                        now += d.max(Duration::from_millis(1));
                    }
                    for (id, answer, deadline) in pending.drain(..) {
                        match answer {
                            Some(Ok(r)) => upload.handle_response(id, r, now),
                            Some(Err(e)) => upload.handle_transport_error(id, e, now),
                            None => now = now.max(deadline),
                        }
                    }
                }
                UploadAction::Done(_) => break,
            }
        }
    }
}
