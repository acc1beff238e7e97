use std::time::{Duration, Instant};

use cloud_task_core::{
    Config, Error, HttpResponse, Limit, ListTasksQuery, PageAction, Paginator, TaskStatus,
};

use crate::{config, response};

fn page(ids: &[&str], next: Option<&str>) -> String {
    let tasks: Vec<String> = ids
        .iter()
        .map(|id| format!(r#"{{"taskID":"{id}","status":"queued"}}"#))
        .collect();
    let next = next.map_or("null".to_owned(), |t| format!("\"{t}\""));
    format!(r#"{{"tasks":[{}],"nextToken":{next}}}"#, tasks.join(","))
}

/// What a walk saw: the queries sent, the task IDs handed out, and how it ended.
struct Walk {
    queries: Vec<String>,
    tasks: Vec<String>,
    end: Result<(), Error>,
}

/// Walks with each request answered by the next of `answers`; panics past the last.
fn walk(config: &Config, query: ListTasksQuery, answers: Vec<HttpResponse>) -> Walk {
    let now = Instant::now();
    let mut pages = Paginator::new(config, query).unwrap();
    let mut answers = answers.into_iter();
    let mut walk = Walk {
        queries: Vec::new(),
        tasks: Vec::new(),
        end: Ok(()),
    };
    loop {
        match pages.poll_action(now) {
            PageAction::Send(t) => {
                walk.queries
                    .push(t.request.uri().query().unwrap_or_default().to_owned());
                let answer = answers.next().expect("asked for more pages than scripted");
                pages.handle_response(t.id, answer, now);
            }
            PageAction::Page(page) => walk.tasks.extend(page.tasks.into_iter().map(|t| t.task_id)),
            PageAction::Wait(_) => panic!("nothing is in flight"),
            PageAction::Done(end) => {
                assert!(pages.is_done());
                walk.end = end;
                return walk;
            }
        }
    }
}

#[test]
fn walks_pages_keeping_filters() {
    let w = walk(
        &config(),
        ListTasksQuery::new().status(TaskStatus::Success).size(2),
        vec![
            response(200, &page(&["a", "b"], Some("p2"))),
            response(200, &page(&["c", "d"], Some("p3"))),
            response(200, &page(&["e"], None)),
        ],
    );
    assert!(w.end.is_ok());
    assert_eq!(w.tasks, ["a", "b", "c", "d", "e"]);
    assert_eq!(
        w.queries,
        [
            "size=2&status=success",
            "size=2&nextToken=p2&status=success",
            "size=2&nextToken=p3&status=success"
        ]
    );
}

#[test]
fn ends_on_an_empty_token() {
    let w = walk(
        &config(),
        ListTasksQuery::new(),
        vec![response(200, &page(&["a"], Some("")))],
    );
    assert!(w.end.is_ok());
    assert_eq!(w.tasks, ["a"]);
}

#[test]
fn a_token_cycle_ends_the_walk_naming_the_token() {
    // a -> b -> a: the tasks of every page read are handed out, then the walk ends.
    let w = walk(
        &config(),
        ListTasksQuery::new(),
        vec![
            response(200, &page(&["1"], Some("tok-a"))),
            response(200, &page(&["2"], Some("tok-b"))),
            response(200, &page(&["3"], Some("tok-a"))),
        ],
    );
    assert_eq!(w.tasks, ["1", "2", "3"]);
    assert_eq!(w.queries.len(), 3);
    match w.end {
        Err(Error::Protocol(p)) => {
            assert_eq!(p.operation, "list_tasks");
            assert!(p.message.contains("\"tok-a\""), "{}", p.message);
            assert!(p.message.contains("after page 3"), "{}", p.message);
        }
        other => panic!("{other:?}"),
    }
    // The token the walk started from counts as seen.
    let w = walk(
        &config(),
        ListTasksQuery::new().next_token("start"),
        vec![response(200, &page(&[], Some("start")))],
    );
    assert!(matches!(w.end, Err(Error::Protocol(_))));
}

#[test]
fn at_most_max_pages_are_read() {
    let config = Config::builder().max_pages(3).build().unwrap();
    let answers = (0..10)
        .map(|i| response(200, &page(&[], Some(&format!("t{i}")))))
        .collect();
    let w = walk(&config, ListTasksQuery::new(), answers);
    assert_eq!(w.queries.len(), 3);
    match w.end {
        Err(Error::Limit(l)) => {
            assert_eq!(
                (l.limit, l.max, l.operation),
                (Limit::Pages, 3, "list_tasks")
            );
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_failed_page_ends_the_walk_and_keeps_the_position() {
    let now = Instant::now();
    let mut pages = Paginator::new(&config(), ListTasksQuery::new()).unwrap();
    let PageAction::Send(t) = pages.poll_action(now) else {
        panic!()
    };
    pages.handle_response(t.id, response(200, &page(&["a"], Some("p2"))), now);
    let PageAction::Page(_) = pages.poll_action(now) else {
        panic!()
    };
    let PageAction::Send(t) = pages.poll_action(now) else {
        panic!()
    };
    pages.handle_response(t.id, response(503, ""), now);
    assert!(matches!(
        pages.poll_action(now),
        PageAction::Done(Err(Error::Api(_)))
    ));
    // A new walk from the query resumes at the page that failed.
    assert_eq!(pages.query().next_token.as_deref(), Some("p2"));
}

#[test]
fn a_page_never_answered_ends_at_its_deadline() {
    let config = Config::builder()
        .timeout(Duration::from_secs(2))
        .build()
        .unwrap();
    let now = Instant::now();
    let mut pages = Paginator::new(&config, ListTasksQuery::new()).unwrap();
    let PageAction::Send(t) = pages.poll_action(now) else {
        panic!()
    };
    assert_eq!(t.deadline, now + Duration::from_secs(2));
    let PageAction::Wait(d) = pages.poll_action(now + Duration::from_secs(1)) else {
        panic!()
    };
    assert_eq!(d, Duration::from_secs(1));
    match pages.poll_action(t.deadline) {
        PageAction::Done(Err(Error::Transport(e))) => {
            assert_eq!(e.kind, cloud_task_core::TransportErrorKind::Timeout);
        }
        other => panic!("{other:?}"),
    }
    // Its late answer is ignored.
    pages.handle_response(t.id, response(200, &page(&["a"], None)), t.deadline);
    assert!(matches!(
        pages.poll_action(t.deadline),
        PageAction::Done(Err(Error::Misuse(_)))
    ));
}

#[test]
fn cancel_and_stop_end_the_walk_and_bad_queries_are_refused() {
    let now = Instant::now();
    let mut pages = Paginator::new(&config(), ListTasksQuery::new()).unwrap();
    let PageAction::Send(t) = pages.poll_action(now) else {
        panic!()
    };
    pages.cancel();
    pages.handle_response(t.id, response(200, &page(&["a"], Some("x"))), now);
    assert!(matches!(
        pages.poll_action(now),
        PageAction::Done(Err(Error::Cancelled(_)))
    ));

    let mut pages = Paginator::new(&config(), ListTasksQuery::new()).unwrap();
    pages.stop();
    assert!(matches!(pages.poll_action(now), PageAction::Done(Ok(()))));

    let bad = Paginator::new(&config(), ListTasksQuery::new().size(0)).unwrap_err();
    assert!(matches!(bad, Error::InvalidInput(_)));
}
