//! Pages: a page-token cycle (even of empty pages) ends `list_all` with an error naming the
//! token, and endless pages stop at `max_pages`.

use cloud_task_core::{Error, Limit, ListTasksQuery};
use cloud_task_qa::hostile::{Hostile, Mode};

use crate::conformance;
use crate::driver::Driver;

/// Walks every page with a client of `server`: the items it had, and how it ended.
fn walk<D: Driver>(server: &Hostile, max_pages: u64) -> (usize, Error) {
    let client: D = crate::client(&server.url(), |c| c.max_pages(max_pages));
    let mut items = client.list_all(ListTasksQuery::new());
    let end = items
        .pop()
        .expect("the walk ended")
        .expect_err("the walk ended with an error");
    assert!(items.iter().all(Result::is_ok));
    (items.len(), end)
}

conformance!(
    a_page_token_cycle_ends_list_all_naming_the_token,
    endless_pages_stop_at_max_pages,
);

fn a_page_token_cycle_ends_list_all_naming_the_token<D: Driver>() {
    for empty in [false, true] {
        let server = Hostile::start(Mode::TokenCycle {
            tokens: vec!["tok-a".into(), "tok-b".into()],
            empty,
        })
        .unwrap();
        let (items, error) = walk::<D>(&server, 10_000);
        // Pages: start -> a, a -> b, b -> a (seen): three pages read.
        assert_eq!(items, if empty { 0 } else { 3 });
        match error {
            Error::Protocol(p) => assert!(p.message.contains("\"tok-a\""), "{}", p.message),
            other => panic!("{other:?}"),
        }
        assert_eq!(server.requests(), 3, "three pages, no spinning");
    }
}

fn endless_pages_stop_at_max_pages<D: Driver>() {
    let server = Hostile::start(Mode::EndlessPages).unwrap();
    let (items, error) = walk::<D>(&server, 25);
    assert_eq!(items, 0);
    match error {
        Error::Limit(l) => assert_eq!((l.limit, l.max), (Limit::Pages, 25)),
        other => panic!("{other:?}"),
    }
    assert_eq!(server.requests(), 25);
}
