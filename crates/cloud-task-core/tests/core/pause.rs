use cloud_task_core::{Operation, PauseType, SetTasksPause, http::Method};

use crate::{assert_authorised, config, header, response};

#[test]
fn pause_and_resume_paths_and_empty_object_body() {
    for (op, path) in [
        (SetTasksPause::pause(), "/v3/user/pause"),
        (SetTasksPause::resume(), "/v3/user/resume"),
        (SetTasksPause::new(true), "/v3/user/pause"),
        (SetTasksPause::new(false), "/v3/user/resume"),
    ] {
        let request = op.request(&config()).unwrap();
        assert_eq!(request.method(), Method::POST);
        assert_eq!(request.uri().path(), path);
        assert_eq!(request.body(), b"{}");
        assert_eq!(
            header(request.headers(), "content-type"),
            Some("application/json")
        );
        assert_authorised(&request);
    }
}

#[test]
fn parses_pause_types() {
    let parse = |b: &str| {
        SetTasksPause::pause()
            .parse(response(200, b))
            .unwrap()
            .pause_type
    };
    assert_eq!(parse(r#"{"pauseType":"user"}"#), Some(PauseType::User));
    assert_eq!(parse(r#"{"pauseType":"system"}"#), Some(PauseType::System));
    assert_eq!(parse(r#"{"pauseType":null}"#), None);
    assert_eq!(parse(r#"{}"#), None);
    assert_eq!(
        parse(r#"{"pauseType":"maintenance"}"#),
        Some(PauseType::Unknown("maintenance".into()))
    );
}
