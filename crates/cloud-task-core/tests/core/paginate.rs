use cloud_task_core::{Error, ListTasksQuery, Paginator, TaskStatus};

use crate::{config, response};

fn page(ids: &[&str], next: Option<&str>) -> String {
    let tasks: Vec<String> = ids
        .iter()
        .map(|id| format!(r#"{{"taskID":"{id}","status":"queued"}}"#))
        .collect();
    let next = next.map_or("null".to_owned(), |t| format!("\"{t}\""));
    format!(r#"{{"tasks":[{}],"nextToken":{next}}}"#, tasks.join(","))
}

#[test]
fn walks_pages_keeping_filters() {
    let mut pages = Paginator::new(ListTasksQuery::new().status(TaskStatus::Success).size(2));
    let mut seen = Vec::new();
    let script = [
        page(&["a", "b"], Some("p2")),
        page(&["c", "d"], Some("p3")),
        page(&["e"], None),
    ];
    let mut queries = Vec::new();
    for body in &script {
        let request = pages.next_request(&config()).unwrap().unwrap();
        queries.push(request.uri().query().unwrap().to_owned());
        let p = pages.handle_response(response(200, body)).unwrap();
        seen.extend(p.tasks.into_iter().map(|t| t.task_id));
    }
    assert!(pages.next_request(&config()).is_none());
    assert!(pages.is_done());
    assert_eq!(pages.pages(), 3);
    assert_eq!(seen, ["a", "b", "c", "d", "e"]);
    assert_eq!(
        queries,
        [
            "size=2&status=success",
            "size=2&nextToken=p2&status=success",
            "size=2&nextToken=p3&status=success"
        ]
    );
}

#[test]
fn ends_on_an_empty_or_repeated_token() {
    let mut pages = Paginator::new(ListTasksQuery::new());
    pages
        .handle_response(response(200, &page(&[], Some(""))))
        .unwrap();
    assert!(pages.next_request(&config()).is_none());

    let mut pages = Paginator::new(ListTasksQuery::new());
    pages
        .handle_response(response(200, &page(&["a"], Some("same"))))
        .unwrap();
    assert!(!pages.is_done());
    pages
        .handle_response(response(200, &page(&["a"], Some("same"))))
        .unwrap();
    assert!(pages.is_done(), "a repeated token must not loop forever");
}

#[test]
fn an_error_keeps_the_position_and_bad_queries_are_refused() {
    let mut pages = Paginator::new(ListTasksQuery::new());
    pages
        .handle_response(response(200, &page(&["a"], Some("p2"))))
        .unwrap();
    assert!(matches!(
        pages.handle_response(response(503, "")),
        Err(Error::Api(_))
    ));
    let again = pages.next_request(&config()).unwrap().unwrap();
    assert_eq!(again.uri().query(), Some("nextToken=p2"));
    pages.stop();
    assert!(pages.next_request(&config()).is_none());

    let bad = Paginator::new(ListTasksQuery::new().size(0));
    assert!(matches!(
        bad.next_request(&config()),
        Some(Err(Error::InvalidInput(_)))
    ));
}
