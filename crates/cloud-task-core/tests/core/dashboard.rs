use cloud_task_core::{GetDashboard, Operation, PauseType, http::Method};

use crate::{assert_authorised, config, response};

#[test]
fn request_and_parse() {
    let request = GetDashboard.request(&config()).unwrap();
    assert_eq!(request.method(), Method::GET);
    assert_eq!(
        request.uri(),
        "https://cloud-task.oomol.com/v3/users/me/dashboard"
    );
    assert_authorised(&request);

    let body = r#"{"limits":{"maxConcurrency":5,"maxQueueSize":100},
        "count":{"queued":1,"scheduling":2,"scheduled":3,"running":4},
        "pause":{"paused":true,"type":"billing","canResume":false}}"#;
    let d = GetDashboard.parse(response(200, body)).unwrap();
    assert_eq!(d.limits.max_concurrency, 5);
    assert_eq!(d.limits.max_queue_size, 100);
    assert_eq!(
        (
            d.count.queued,
            d.count.scheduling,
            d.count.scheduled,
            d.count.running
        ),
        (1, 2, 3, 4)
    );
    assert!(d.pause.paused);
    assert_eq!(d.pause.pause_type, Some(PauseType::Billing));
    assert!(!d.pause.can_resume);
}

#[test]
fn error_and_bad_body() {
    assert!(GetDashboard.parse(response(500, "")).is_err());
    let err = GetDashboard
        .parse(response(200, r#"{"limits":5}"#))
        .unwrap_err();
    assert!(matches!(err, cloud_task_core::Error::Decode(_)));
}
