//! Pages: a page-token cycle (even of empty pages) ends `list_all` with an error naming the
//! token, and endless pages stop at `max_pages`.

use cloud_task_core::{Error, Limit, ListTasksQuery};
use cloud_task_qa::hostile::{Hostile, Mode};
use futures_util::StreamExt;

use crate::{async_client, blocking_client, runtime};

/// Walks every page with both drivers, answering the items of each and how it ended.
fn walk_both(server: &Hostile, max_pages: u64) -> [(usize, Error); 2] {
    let blocking = blocking_client(&server.url(), |b| b.max_pages(max_pages));
    let mut items = 0;
    let mut end = None;
    for item in blocking.list_all(ListTasksQuery::new()) {
        match item {
            Ok(_) => items += 1,
            Err(error) => end = Some(error),
        }
    }
    let first = (items, end.expect("the walk ended with an error"));
    let client = async_client(&server.url(), |b| b.max_pages(max_pages));
    let second = runtime().block_on(async {
        let mut items = 0;
        let mut stream = client.list_all(ListTasksQuery::new());
        while let Some(item) = stream.next().await {
            match item {
                Ok(_) => items += 1,
                Err(error) => return (items, error),
            }
        }
        panic!("the walk ended without an error");
    });
    [first, second]
}

#[test]
fn a_page_token_cycle_ends_list_all_naming_the_token() {
    for empty in [false, true] {
        let server = Hostile::start(Mode::TokenCycle {
            tokens: vec!["tok-a".into(), "tok-b".into()],
            empty,
        })
        .unwrap();
        for (items, error) in walk_both(&server, 10_000) {
            // Pages: start -> a, a -> b, b -> a (seen): three pages read.
            assert_eq!(items, if empty { 0 } else { 3 });
            match error {
                Error::Protocol(p) => assert!(p.message.contains("\"tok-a\""), "{}", p.message),
                other => panic!("{other:?}"),
            }
        }
        assert_eq!(server.requests(), 6, "three pages per driver, no spinning");
    }
}

#[test]
fn endless_pages_stop_at_max_pages() {
    let server = Hostile::start(Mode::EndlessPages).unwrap();
    for (items, error) in walk_both(&server, 25) {
        assert_eq!(items, 0);
        match error {
            Error::Limit(l) => assert_eq!((l.limit, l.max), (Limit::Pages, 25)),
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(server.requests(), 50);
}
