//! Pagination as a value: from a query and each page's `nextToken`, the next request.

use std::collections::HashSet;
use std::collections::hash_map::RandomState;
use std::fmt;
use std::hash::BuildHasher;
use std::time::{Duration, Instant};

use crate::HttpResponse;
use crate::config::Config;
use crate::error::{Error, Limit, Result};
use crate::exchange::{Flight, Landing, RequestId, Transmit};
use crate::models::TaskPage;
use crate::ops::{ListTasks, ListTasksQuery, Operation};

/// What the driver must do next for a [`Paginator`]; the answer of
/// [`Paginator::poll_action`].
#[must_use]
#[derive(Debug)]
// The transmit is handed straight to the transport: boxing it would only add an allocation.
#[allow(clippy::large_enum_variant)]
pub enum PageAction {
    /// Send this page request, then feed the outcome to [`Paginator::handle_response`] or
    /// [`Paginator::handle_transport_error`] with its `id`.
    Send(Transmit),
    /// The request is in flight: wait for its answer, at most this long (its deadline).
    Wait(Duration),
    /// A page: hand its tasks out, then ask again.
    Page(TaskPage),
    /// The walk is over: `Ok` after the last page, or the error that ended it (a failed
    /// page, a page token seen before, more pages than [`Config::max_pages`]).
    Done(Result<()>),
}

enum State {
    Ready,
    InFlight(Option<Box<Transmit>>),
    Page(TaskPage),
    Done(Result<()>),
    Spent,
}

/// Walks every page of `list_tasks`, keeping the query's filters.
///
/// Inputs are `handle_*` and [`cancel`](Self::cancel); the output is
/// [`poll_action`](Self::poll_action). Calling order: loop on `poll_action`; send what it
/// says to send and feed the answer back with the transmit's `id`; hand out each
/// [`PageAction::Page`]; stop at [`PageAction::Done`].
///
/// Bounds a server cannot move: the walk ends after a page whose `nextToken` is null or
/// empty; a token seen before (the first query's included) ends it with
/// [`Error::Protocol`] naming the token, instead of looping; at most
/// [`Config::max_pages`] pages are read ([`Error::Limit`] past that); each request carries
/// the per-request deadline and the body limit. A failed page ends the walk (the position
/// is kept: a new paginator from [`query`](Self::query) resumes there).
///
/// ```
/// # use std::time::Instant;
/// # use cloud_task_core::{Config, ListTasksQuery, PageAction, Paginator, http};
/// let config = Config::default();
/// let now = Instant::now();
/// let mut pages = Paginator::new(&config, ListTasksQuery::new().size(2).status("running"))?;
/// let PageAction::Send(first) = pages.poll_action(now) else { unreachable!() };
/// assert_eq!(first.request.uri().query(), Some("size=2&status=running"));
/// pages.handle_response(first.id, http::Response::new(br#"{"tasks":[],"nextToken":"t2"}"#.to_vec()), now);
/// let PageAction::Page(page) = pages.poll_action(now) else { unreachable!() };
/// assert_eq!(page.next_token.as_deref(), Some("t2"));
/// let PageAction::Send(second) = pages.poll_action(now) else { unreachable!() };
/// assert_eq!(second.request.uri().query(), Some("size=2&nextToken=t2&status=running"));
/// // The server answers the first token again: a cycle, ended instead of followed.
/// pages.handle_response(second.id, http::Response::new(br#"{"tasks":[],"nextToken":"t2"}"#.to_vec()), now);
/// let PageAction::Page(_) = pages.poll_action(now) else { unreachable!() };
/// let PageAction::Done(Err(error)) = pages.poll_action(now) else { unreachable!() };
/// assert!(error.to_string().contains("\"t2\""));
/// # Ok::<(), cloud_task_core::Error>(())
/// ```
pub struct Paginator {
    config: Config,
    query: ListTasksQuery,
    flight: Option<Flight>,
    state: State,
    pages: u64,
    seen: HashSet<u64>,
    hasher: RandomState,
}

impl fmt::Debug for Paginator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Paginator")
            .field("query", &self.query)
            .field("pages", &self.pages)
            .field("done", &self.is_done())
            .finish_non_exhaustive()
    }
}

impl Paginator {
    /// Starts at `query`'s page (its `next_token`, if set, is the first page's). An
    /// invalid query is refused here, before anything is sent.
    pub fn new(config: &Config, query: ListTasksQuery) -> Result<Self> {
        ListTasks::new(query.clone()).request(config)?;
        let hasher = RandomState::new();
        let mut seen = HashSet::new();
        if let Some(token) = query.next_token.as_deref().filter(|t| !t.is_empty()) {
            seen.insert(hasher.hash_one(token));
        }
        Ok(Paginator {
            config: config.clone(),
            query,
            flight: None,
            state: State::Ready,
            pages: 0,
            seen,
            hasher,
        })
    }

    /// What to do next, at `now`.
    pub fn poll_action(&mut self, now: Instant) -> PageAction {
        match std::mem::replace(&mut self.state, State::Spent) {
            State::Ready => match ListTasks::new(self.query.clone()).request(&self.config) {
                Ok(request) => {
                    let (flight, transmit) =
                        Flight::launch(&self.config, ListTasks::NAME, request, now, None, true);
                    self.flight = Some(flight);
                    self.state = State::InFlight(None);
                    PageAction::Send(transmit)
                }
                Err(error) => PageAction::Done(Err(error)),
            },
            State::InFlight(Some(redirect)) => {
                self.state = State::InFlight(None);
                PageAction::Send(*redirect)
            }
            State::InFlight(None) => match self.flight.take() {
                Some(flight) if flight.is_overdue(now) => PageAction::Done(Err(flight.elapsed())),
                Some(flight) => {
                    let wait = flight.deadline - now;
                    self.flight = Some(flight);
                    self.state = State::InFlight(None);
                    PageAction::Wait(wait)
                }
                None => PageAction::Done(Err(spent())),
            },
            State::Page(page) => {
                self.state = self.after_page(&page);
                PageAction::Page(page)
            }
            State::Done(outcome) => PageAction::Done(outcome),
            State::Spent => PageAction::Done(Err(spent())),
        }
    }

    /// Where the walk goes after `page`: the next page, or the end.
    fn after_page(&mut self, page: &TaskPage) -> State {
        let Some(token) = page.next_token.as_deref().filter(|t| !t.is_empty()) else {
            return State::Done(Ok(()));
        };
        if !self.seen.insert(self.hasher.hash_one(token)) {
            return State::Done(Err(Error::protocol(
                ListTasks::NAME,
                format!(
                    "the server sent the page token {:?} a second time (after page {}); the \
                     walk stops rather than loop",
                    crate::wire::cut(token, 200),
                    self.pages
                ),
            )));
        }
        if self.pages >= self.config.max_pages() {
            return State::Done(Err(Error::limit(
                ListTasks::NAME,
                Limit::Pages,
                self.config.max_pages(),
            )));
        }
        self.query.next_token = Some(token.to_owned());
        State::Ready
    }

    /// True when request `id` is the one awaited.
    fn awaits(&self, id: RequestId) -> bool {
        matches!(self.state, State::InFlight(None))
            && self.flight.as_ref().is_some_and(|f| f.id == id)
    }

    /// Feeds the response to request `id` (any other `id` is ignored).
    pub fn handle_response(&mut self, id: RequestId, response: HttpResponse, _now: Instant) {
        if !self.awaits(id) {
            return;
        }
        let Some(flight) = self.flight.as_mut() else {
            return;
        };
        self.state = match flight.land(&self.config, response) {
            Landing::Response(response) => match ListTasks::default().parse(response) {
                Ok(page) => {
                    self.pages += 1;
                    State::Page(page)
                }
                Err(error) => State::Done(Err(error)),
            },
            Landing::Follow(transmit) => {
                self.state = State::InFlight(Some(Box::new(transmit)));
                return;
            }
            Landing::Failed(error) => State::Done(Err(error)),
        };
        self.flight = None;
    }

    /// Feeds the transport's failure of request `id`: the walk ends with it.
    pub fn handle_transport_error(&mut self, id: RequestId, error: Error, _now: Instant) {
        if self.awaits(id)
            && let Some(flight) = self.flight.take()
        {
            let error = flight.name_error(error);
            self.flight = None;
            self.state = State::Done(Err(error));
        }
    }

    /// Ends the walk with [`Error::Cancelled`] (unless it is over already).
    pub fn cancel(&mut self) {
        if matches!(self.state, State::Ready | State::InFlight(_)) {
            self.flight = None;
            self.state = State::Done(Err(Error::cancelled()));
        }
    }

    /// Ends the walk quietly: the next action is `Done(Ok(()))`.
    pub fn stop(&mut self) {
        if !matches!(self.state, State::Spent) {
            self.flight = None;
            self.state = State::Done(Ok(()));
        }
    }

    /// True once the walk is over.
    pub fn is_done(&self) -> bool {
        matches!(self.state, State::Done(_) | State::Spent)
    }

    /// Pages read so far.
    pub fn pages(&self) -> u64 {
        self.pages
    }

    /// The query of the next page.
    pub fn query(&self) -> &ListTasksQuery {
        &self.query
    }
}

fn spent() -> Error {
    Error::misuse(
        "paginator",
        "poll_action was called again after the walk was over",
    )
}
