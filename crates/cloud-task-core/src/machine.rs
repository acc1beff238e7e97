//! One vocabulary for every machine of the core: the [`Machine`] trait and its [`Step`].
//!
//! Each machine ([`Call`], [`Poller`], [`PollerSet`], [`Paginator`], [`Follower`],
//! [`Download`], [`Upload`], [`Batch`]) keeps its own documented `poll_action` and
//! action enum, and implements [`Machine`] too, so that a driver needs **one loop** (an
//! engine) for all of them: ask [`Machine::poll_step`], do what the step says, feed the
//! outcome back, ask again. Matching a [`Step`] is exhaustive by design (the enum is not
//! `#[non_exhaustive]`): a step the core adds is a compile error in every engine, never a
//! silently ignored action.
//!
//! ```text
//! loop {
//!     match machine.poll_step(now()) {
//!         Step::Send(t)         => start_sending(t),          // answers come back later, by t.deadline
//!         Step::Work(work)      => machine.handle_work(do_local(work), now()),
//!         Step::Emit(event)     => hand_to_caller(event),
//!         Step::Sleep(d)        => sleep_or_until_an_answer(d), // or until cancelled: machine.cancel()
//!         Step::AwaitAnswer(d)  => wait_for_an_answer(d),      // each request cut off at its deadline
//!         Step::Done(output)    => return output,
//!     }
//! }
//! ```
//!
//! The rules every engine keeps:
//! - `Send`: start sending the request and ask again at once (a machine may hand out
//!   several requests in a row). Feed its answer with [`Machine::handle_response`] or
//!   [`Machine::handle_transport_error`] and the transmit's `id`, whenever it comes.
//! - `Work`: do the local work (read a byte range, write a chunk, append a journal record)
//!   to its end and feed its outcome with [`Machine::handle_work`] before asking again;
//!   answers may be fed meanwhile.
//! - `Sleep(d)`: nothing is due for `d` on the clock: sleep, waking early when an answer
//!   arrives or the machine's cancel token fires.
//! - `AwaitAnswer(d)`: nothing is due until a request in flight answers; the one whose
//!   deadline comes first is `d` away. Wait for an answer without sleeping on the clock
//!   (a request is cut off at its own deadline by the transport or the engine; a machine
//!   asked again after a deadline gives its request up itself).
//! - `Done`: the machine is over; asking again is a misuse.
//! - A request whose [`Transmit::streams_body`] is set may be sent so that its head comes
//!   first: feed it with [`Machine::handle_head`]. When the machine answers true, feed its
//!   body in pieces with [`Machine::handle_body_piece`] (asking again after each: the
//!   machine hands out local work as its bytes come) and its end with
//!   [`Machine::handle_body_end`]; read the next piece only when the machine waits for an
//!   answer. When it answers false, gather the body and feed the whole answer with
//!   [`Machine::handle_response`]. A driver that does not stream sends it as any other.
//!
//! The local work enums ([`DownloadWork`], [`UploadWork`], [`JournalWork`]) are exhaustive
//! too, for the same reason.
//! - When [`Machine::cancel_token`] fires, call [`Machine::cancel`] once and keep asking:
//!   the machine ends (a batch still reads the answers of its creates in flight).

use std::collections::VecDeque;
use std::convert::Infallible;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::de::DeserializeOwned;

use crate::HttpResponse;
use crate::batch::{Batch, BatchAction, BatchEvent, JournalRecord};
use crate::cancel::CancelToken;
use crate::config::Config;
use crate::download::{Download, DownloadAction, Downloaded};
use crate::error::{Error, Result};
use crate::exchange::{Call, CallAction, RequestId, Transmit};
use crate::follow::{FollowAction, Follower, TaskEvent};
use crate::intercept::RequestContext;
use crate::login::{DeviceCode, DeviceLogin, LoginAccount, LoginAction};
use crate::models::{TaskPage, TaskStatus, TaskSuccess};
use crate::outcome::WatchEvent;
use crate::paginate::{PageAction, Paginator};
use crate::poll::{PollAction, Poller};
use crate::poll_set::{PollSetAction, PollerSet};
use crate::upload::{Upload, UploadAction, UploadedFile};

/// What a machine asks of its driver next; the answer of [`Machine::poll_step`].
///
/// Not `#[non_exhaustive]`, on purpose: an engine matches every step, so a step added to
/// the core is a compile error there rather than an action silently skipped.
#[must_use]
#[derive(Debug)]
// The transmit is handed straight to the transport: boxing it would only add an allocation.
#[allow(clippy::large_enum_variant)]
pub enum Step<E, O, W = NoWork> {
    /// Send this request, then ask again at once; feed its answer (or the transport's
    /// failure) back with its `id` when it comes, by its deadline.
    Send(Transmit),
    /// Do this local work (read, write, record) to its end, feed its outcome with
    /// [`Machine::handle_work`], then ask again.
    Work(W),
    /// Hand this to the caller, then ask again.
    Emit(E),
    /// Sleep this long on the clock, waking early when an answer arrives or the cancel
    /// token fires, then ask again.
    Sleep(Duration),
    /// Wait for an answer of a request in flight (the earliest deadline is this far), not
    /// on the clock, then ask again.
    AwaitAnswer(Duration),
    /// The machine is over.
    Done(O),
}

/// The local work of a machine that asks for none: it cannot be built.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoWork {}

/// A sans-IO state machine that one driver loop (an engine) can drive, whatever it does.
///
/// Inputs are the `handle_*` methods and [`cancel`](Self::cancel), each taking `now` where
/// time matters; the output is [`poll_step`](Self::poll_step). See the
/// [module](crate::machine) for the calling order an engine keeps.
pub trait Machine {
    /// What the machine hands its caller along the way (progress, pages, log events).
    type Event;
    /// What it ends with.
    type Output;
    /// The local work it asks for ([`NoWork`] when none).
    type Work;
    /// The outcome of its local work, fed back with [`handle_work`](Self::handle_work).
    type WorkDone;

    /// What to do next, at `now`.
    fn poll_step(&mut self, now: Instant) -> Step<Self::Event, Self::Output, Self::Work>;

    /// Feeds the answer to request `id` (answers of requests given up or unknown are
    /// ignored).
    fn handle_response(&mut self, id: RequestId, response: HttpResponse, now: Instant);

    /// Feeds the transport's failure of request `id`.
    fn handle_transport_error(&mut self, id: RequestId, error: Error, now: Instant);

    /// Feeds the outcome of the local work it asked for.
    fn handle_work(&mut self, done: Self::WorkDone, now: Instant);

    /// Feeds the head (status and headers) of the answer to request `id`, sent with
    /// [`Transmit::streams_body`] set, before its body is read. True: the machine takes
    /// the body in pieces ([`handle_body_piece`](Self::handle_body_piece), then
    /// [`handle_body_end`](Self::handle_body_end)); false (the default): gather it and feed
    /// the whole answer to [`handle_response`](Self::handle_response).
    fn handle_head(&mut self, id: RequestId, head: &http::response::Parts, now: Instant) -> bool {
        let _ = (id, head, now);
        false
    }

    /// Feeds the next piece of the body of the answer to request `id`, whose head it took
    /// ([`handle_head`](Self::handle_head) answered true). Pieces come in order; ask
    /// [`poll_step`](Self::poll_step) again after each.
    fn handle_body_piece(&mut self, id: RequestId, piece: &[u8], now: Instant) {
        let _ = (id, piece, now);
    }

    /// Feeds the end of the body of the answer to request `id`: `Ok` when it was read
    /// whole, the transport's failure (or [`SendLimits::elapsed`](crate::SendLimits::elapsed))
    /// when it stopped.
    fn handle_body_end(&mut self, id: RequestId, outcome: Result<()>, now: Instant) {
        let _ = (id, outcome, now);
    }

    /// Ends the machine's work with [`Error::Cancelled`] (keeping what it already has).
    fn cancel(&mut self);

    /// The token whose firing an engine turns into [`cancel`](Self::cancel), if any.
    fn cancel_token(&self) -> Option<&CancelToken> {
        None
    }

    /// What kind of machine it is, for interceptors ([`RequestContext::machine`]): `call`,
    /// `wait`, `wait_many`, `pages`, `follow`, `download`, `upload`, `batch`, `login`.
    fn kind(&self) -> &'static str {
        "call"
    }

    /// The public operation it carries out, for tracing (the name of an engine's
    /// operation span): a call's operation (`get_task_result`), else `await_result`,
    /// `await_many`, `list_all`, `events`, `download`, `upload`, `run_many`, `login`.
    fn operation(&self) -> &'static str {
        self.kind()
    }

    /// The task it is about, when it is about one task (for tracing).
    fn task_id(&self) -> Option<&str> {
        None
    }

    /// The error `output` ended with, if it did (for tracing: an operation span's status).
    fn failure(output: &Self::Output) -> Option<&Error>
    where
        Self: Sized,
    {
        let _ = output;
        None
    }
}

/// What an engine does next for the machine it drives; the answer of [`Driving::next`].
///
/// The requests the machine handed out before this ([`Driving::take_ready`]) are sent
/// first, except for [`SendAlone`](Drive::SendAlone), which carries the only one.
#[must_use]
#[derive(Debug)]
// The transmit is handed straight to the transport: boxing it would only add an allocation.
#[allow(clippy::large_enum_variant)]
pub enum Drive<E, O, W> {
    /// Send this request and wait for its answer (or the cancel token): nothing else is in
    /// flight, and the machine waits for nothing else. A driver may send it on the caller's
    /// thread, without a task or a queue.
    SendAlone(Transmit),
    /// Do this local work, then feed its outcome with [`Driving::work_done`].
    Work(W),
    /// Hand this to the caller.
    Emit(E),
    /// Sleep this long on the clock, waking early on an answer or the cancel token.
    Sleep(Duration),
    /// Wait for an answer of a request in flight (at most this long, a bound), not on the
    /// clock.
    AwaitAnswer(Duration),
    /// The machine is over.
    Done(O),
}

/// The part of an engine that needs no I/O, the same for every driver: the machine, the
/// cancel token it watches (turned into one [`Machine::cancel`]), and the requests it
/// handed out that are not sent yet. A driver's engine asks [`next`](Self::next), sends
/// what [`take_ready`](Self::take_ready) gives, does what the [`Drive`] says, and feeds
/// the outcomes back.
#[derive(Debug)]
pub struct Driving<M> {
    machine: M,
    token: Option<CancelToken>,
    cancelled: bool,
    /// The requests handed out and not sent yet: the first one kept inline (a call hands
    /// out one: no allocation for it), the others after it.
    first: Option<Transmit>,
    more: VecDeque<Transmit>,
    /// Requests handed out so far, by operation (the attempt numbers).
    attempts: Attempts,
    /// The interceptors' bookkeeping, when the configuration has any.
    hooks: Option<Box<Hooks>>,
}

/// How many requests of each operation a machine has handed out: the first operation
/// inline (most machines send one kind of request: no allocation), the others after it.
#[derive(Debug, Default)]
struct Attempts {
    first: Option<(&'static str, u32)>,
    more: Vec<(&'static str, u32)>,
}

impl Attempts {
    /// Counts one more request of `operation` and answers its number, from 1.
    fn count(&mut self, operation: &'static str) -> u32 {
        let slot = match &mut self.first {
            None => {
                self.first = Some((operation, 1));
                return 1;
            }
            Some(first) if first.0 == operation => first,
            Some(_) => match self.more.iter_mut().find(|(op, _)| *op == operation) {
                Some(slot) => slot,
                None => {
                    self.more.push((operation, 1));
                    return 1;
                }
            },
        };
        slot.1 = slot.1.saturating_add(1);
        slot.1
    }
}

/// What [`Driving`] keeps to call the interceptors of a configuration.
#[derive(Debug)]
struct Hooks {
    config: Config,
    /// The requests handed out and not answered yet.
    pending: Vec<Sent>,
}

/// What an answer's hook needs of its request.
#[derive(Debug)]
struct Sent {
    id: RequestId,
    operation: &'static str,
    attempt: u32,
    task_id: Option<Arc<str>>,
    method: http::Method,
    uri: http::Uri,
    configured_origin: bool,
    bytes: u64,
}

impl Sent {
    fn context(&self, machine: &'static str) -> RequestContext<'_> {
        RequestContext {
            id: self.id,
            operation: self.operation,
            attempt: self.attempt,
            machine,
            task_id: self.task_id.as_deref(),
            method: &self.method,
            uri: &self.uri,
            configured_origin: self.configured_origin,
        }
    }
}

impl Hooks {
    /// Runs every `before_send` on `transmit`, keeping header changes for a configured
    /// origin only, and notes it for its answer.
    fn before_send(&mut self, transmit: &mut Transmit) {
        let sent = Sent {
            id: transmit.id,
            operation: transmit.name,
            attempt: transmit.attempt,
            task_id: transmit.task_id.clone(),
            method: transmit.request.method().clone(),
            uri: transmit.request.uri().clone(),
            configured_origin: self.config.is_configured_origin(transmit.request.uri()),
            bytes: transmit.request.body().len() as u64,
        };
        let context = sent.context(transmit.machine);
        // For a configured origin the hooks change the request's own headers; for any
        // other, a copy that is dropped.
        let mut copy;
        let headers = if sent.configured_origin {
            transmit.request.headers_mut()
        } else {
            copy = transmit.request.headers().clone();
            &mut copy
        };
        for interceptor in self.config.interceptors().iter() {
            interceptor.before_send(&context, headers);
        }
        self.pending.push(sent);
    }

    /// Runs every `after_answer` for request `id`.
    fn after_answer(
        &mut self,
        machine: &'static str,
        id: RequestId,
        outcome: Result<&HttpResponse, &Error>,
    ) {
        let Some(at) = self.pending.iter().position(|sent| sent.id == id) else {
            return;
        };
        let sent = self.pending.swap_remove(at);
        let context = sent.context(machine);
        for interceptor in self.config.interceptors().iter() {
            interceptor.after_answer(&context, sent.bytes, outcome);
        }
    }
}

impl<M: Machine> Driving<M> {
    /// Drives `machine`, watching its own cancel token.
    #[inline]
    pub fn new(machine: M) -> Self {
        let token = machine.cancel_token().cloned();
        Driving {
            machine,
            token,
            cancelled: false,
            first: None,
            more: VecDeque::new(),
            attempts: Attempts::default(),
            hooks: None,
        }
    }

    /// Runs the interceptors of `config` ([`Config::interceptors`]) on every request the
    /// machine hands out and on its answer (nothing when there are none).
    #[inline]
    pub fn intercepted(mut self, config: &Config) -> Self {
        if !config.interceptors().is_empty() {
            self.hooks = Some(Box::new(Hooks {
                config: config.clone(),
                pending: Vec::new(),
            }));
        }
        self
    }

    /// The machine.
    pub fn machine(&self) -> &M {
        &self.machine
    }

    /// The cancel token to race with a wait, until it has fired and been fed.
    pub fn live_token(&self) -> Option<&CancelToken> {
        self.token.as_ref().filter(|_| !self.cancelled)
    }

    /// True when a wait must be interruptible (a token is watched, and has not fired yet).
    pub fn is_cancellable(&self) -> bool {
        self.live_token().is_some()
    }

    /// The token fired: the machine is cancelled, once.
    pub fn cancel(&mut self) {
        if !self.cancelled {
            self.cancelled = true;
            self.machine.cancel();
        }
    }

    /// What to do next, at `now`. `idle`: no request of the driver's is in flight;
    /// `alone`: the driver may send a lone request and wait for it without its queue.
    pub fn next(
        &mut self,
        now: Instant,
        idle: bool,
        alone: bool,
    ) -> Drive<M::Event, M::Output, M::Work> {
        if self.token.as_ref().is_some_and(CancelToken::is_cancelled) {
            self.cancel();
        }
        loop {
            return match self.machine.poll_step(now) {
                Step::Send(mut transmit) => {
                    transmit.attempt = self.attempts.count(transmit.name);
                    transmit.machine = self.machine.kind();
                    if let Some(hooks) = &mut self.hooks {
                        hooks.before_send(&mut transmit);
                    }
                    match self.first {
                        None if self.more.is_empty() => self.first = Some(transmit),
                        _ => self.more.push_back(transmit),
                    }
                    continue;
                }
                Step::AwaitAnswer(bound) => match self.first.take() {
                    Some(transmit) if alone && idle && self.more.is_empty() => {
                        Drive::SendAlone(transmit)
                    }
                    first => {
                        self.first = first;
                        Drive::AwaitAnswer(bound)
                    }
                },
                Step::Sleep(duration) => Drive::Sleep(duration),
                Step::Work(work) => Drive::Work(work),
                Step::Emit(event) => Drive::Emit(event),
                Step::Done(output) => {
                    // What was not sent never will be.
                    self.first = None;
                    self.more.clear();
                    Drive::Done(output)
                }
            };
        }
    }

    /// The next request to send (before doing what [`next`](Self::next) said).
    pub fn take_ready(&mut self) -> Option<Transmit> {
        self.first.take().or_else(|| self.more.pop_front())
    }

    /// Feeds the answer (or the transport's failure) of request `id`.
    pub fn answer(&mut self, id: RequestId, outcome: Result<HttpResponse>, now: Instant) {
        if let Some(hooks) = &mut self.hooks {
            hooks.after_answer(self.machine.kind(), id, outcome.as_ref());
        }
        match outcome {
            Ok(response) => self.machine.handle_response(id, response, now),
            Err(error) => self.machine.handle_transport_error(id, error, now),
        }
    }

    /// Feeds the head of the answer to request `id` ([`Machine::handle_head`]); true when
    /// the machine takes its body in pieces. Never so when interceptors are configured:
    /// they are handed whole answers, so such an answer is gathered.
    pub fn head(&mut self, id: RequestId, head: &http::response::Parts, now: Instant) -> bool {
        self.hooks.is_none() && self.machine.handle_head(id, head, now)
    }

    /// Feeds the next piece of a body the machine takes in pieces
    /// ([`Machine::handle_body_piece`]).
    pub fn body_piece(&mut self, id: RequestId, piece: &[u8], now: Instant) {
        self.machine.handle_body_piece(id, piece, now);
    }

    /// Feeds the end of a body the machine takes in pieces ([`Machine::handle_body_end`]).
    pub fn body_end(&mut self, id: RequestId, outcome: Result<()>, now: Instant) {
        self.machine.handle_body_end(id, outcome, now);
    }

    /// Feeds the outcome of the local work it asked for.
    pub fn work_done(&mut self, done: M::WorkDone, now: Instant) {
        self.machine.handle_work(done, now);
    }
}

/// What a driver's engine hands its caller at each step: an event of the machine, or its
/// end (after which it is not driven again).
#[derive(Debug, Clone, PartialEq)]
pub enum Next<E, O> {
    /// An event ([`Step::Emit`]).
    Event(E),
    /// The machine's output ([`Step::Done`]).
    Done(O),
}

/// What a stream or iterator over an engine does with one thing the engine handed out:
/// the mapping of each machine is written once, here, and both clients use it.
#[derive(Debug, Clone, PartialEq)]
pub enum Flow<T> {
    /// Yield it and go on.
    Yield(T),
    /// Yield it, then end.
    Last(T),
    /// End.
    End,
}

impl<T> Flow<Result<T>> {
    /// The flow of a machine that ends with `Result<()>` (a walk of pages, a live view, a
    /// batch): each event, mapped by `map`, yielded; a clean end, the end; a failure, the
    /// last item.
    ///
    /// ```
    /// use cloud_task_core::Error;
    /// use cloud_task_core::machine::{Flow, Next};
    /// assert!(matches!(Flow::of_events(Next::Event(2), |n: u32| n * 10), Flow::Yield(Ok(20))));
    /// assert!(matches!(Flow::of_events(Next::<u32, _>::Done(Ok(())), |n| n), Flow::End));
    /// let failed = Flow::of_events(Next::<u32, _>::Done(Err(Error::cancelled())), |n| n);
    /// assert!(matches!(failed, Flow::Last(Err(Error::Cancelled(_)))));
    /// ```
    pub fn of_events<E>(next: Next<E, Result<()>>, map: impl FnOnce(E) -> T) -> Self {
        match next {
            Next::Event(event) => Flow::Yield(Ok(map(event))),
            Next::Done(Ok(())) => Flow::End,
            Next::Done(Err(error)) => Flow::Last(Err(error)),
        }
    }
}

impl<T> Poller<T> {
    /// Hands a progress report to the options' callbacks.
    pub fn report(&self, progress: &Progress) {
        self.options()
            .report_progress(self.task_id(), progress.progress, &progress.status);
    }

    /// The flow of a watch: each progress change reported and yielded, the result last.
    pub fn watch_flow(
        &self,
        next: Next<Progress, Result<TaskSuccess<T>>>,
    ) -> Flow<Result<WatchEvent<T>>> {
        match next {
            Next::Event(progress) => {
                self.report(&progress);
                Flow::Yield(Ok(WatchEvent::Progress {
                    status: progress.status,
                    progress: progress.progress,
                }))
            }
            Next::Done(Ok(success)) => Flow::Last(Ok(WatchEvent::Finished(success))),
            Next::Done(Err(error)) => Flow::Last(Err(error)),
        }
    }
}

impl<T: DeserializeOwned> PollerSet<T> {
    /// Hands the progress report of the set's task `index` to the options' callbacks.
    pub fn report(&self, index: usize, progress: &Progress) {
        self.options().report_progress(
            self.task_id(index).unwrap_or_default(),
            progress.progress,
            &progress.status,
        );
    }
}

impl<T> Follower<T> {
    /// The flow of a live view: each event reported to the callbacks and yielded.
    pub fn event_flow(&self, next: Next<TaskEvent<T>, Result<()>>) -> Flow<Result<TaskEvent<T>>> {
        Flow::of_events(next, |event| {
            self.report(&event);
            event
        })
    }
}

/// The progress of one task, as a poll read it.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Progress {
    /// Progress, 0 to 100.
    pub progress: f64,
    /// The in-progress status.
    pub status: TaskStatus,
}

/// The inputs every machine takes as its own inherent methods do.
macro_rules! delegate_answers {
    ($machine:ident) => {
        #[inline]
        fn handle_response(&mut self, id: RequestId, response: HttpResponse, now: Instant) {
            $machine::handle_response(self, id, response, now);
        }

        #[inline]
        fn handle_transport_error(&mut self, id: RequestId, error: Error, now: Instant) {
            $machine::handle_transport_error(self, id, error, now);
        }
    };
}

/// [`Machine::cancel`] as the machine's own `cancel`.
macro_rules! delegate_cancel {
    ($machine:ident) => {
        fn cancel(&mut self) {
            $machine::cancel(self);
        }
    };
}

/// [`Machine::failure`] of a machine that ends with a `Result`.
macro_rules! failure_of_result {
    () => {
        fn failure(output: &Self::Output) -> Option<&Error> {
            output.as_ref().err()
        }
    };
}

/// [`Machine::handle_work`] of a machine that asks for no local work.
macro_rules! no_work {
    () => {
        fn handle_work(&mut self, done: NoWork, _now: Instant) {
            match done {}
        }
    };
}

impl Machine for Call {
    type Event = Infallible;
    type Output = Result<HttpResponse>;
    type Work = NoWork;
    type WorkDone = NoWork;

    #[inline]
    fn poll_step(&mut self, now: Instant) -> Step<Infallible, Self::Output> {
        match self.poll_action(now) {
            CallAction::Send(mut transmit) => {
                transmit.task_id = self.task_arc();
                Step::Send(transmit)
            }
            // A call only waits for its one request in flight.
            CallAction::Wait(wait) => Step::AwaitAnswer(wait),
            CallAction::Done(outcome) => Step::Done(outcome),
        }
    }

    fn operation(&self) -> &'static str {
        self.name()
    }

    fn task_id(&self) -> Option<&str> {
        Call::task_id(self)
    }

    failure_of_result!();

    delegate_answers!(Call);

    no_work!();

    delegate_cancel!(Call);
}

impl Machine for DeviceLogin {
    fn kind(&self) -> &'static str {
        "login"
    }

    type Event = DeviceCode;
    type Output = Result<LoginAccount>;
    type Work = NoWork;
    type WorkDone = NoWork;

    fn poll_step(&mut self, now: Instant) -> Step<DeviceCode, Self::Output> {
        match self.poll_action(now) {
            LoginAction::Send(transmit) => Step::Send(transmit),
            LoginAction::Code(code) => Step::Emit(code),
            LoginAction::Wait(wait) => Step::AwaitAnswer(wait),
            LoginAction::Sleep(wait) => Step::Sleep(wait),
            LoginAction::Done(outcome) => Step::Done(outcome),
        }
    }

    failure_of_result!();

    delegate_answers!(DeviceLogin);

    no_work!();

    delegate_cancel!(DeviceLogin);

    fn cancel_token(&self) -> Option<&CancelToken> {
        DeviceLogin::cancel_token(self)
    }
}

impl<T: DeserializeOwned> Machine for Poller<T> {
    fn kind(&self) -> &'static str {
        "wait"
    }

    type Event = Progress;
    type Output = Result<TaskSuccess<T>>;
    type Work = NoWork;
    type WorkDone = NoWork;

    fn poll_step(&mut self, now: Instant) -> Step<Progress, Self::Output> {
        match self.poll_action(now) {
            PollAction::Send(transmit) => Step::Send(transmit.for_task(Some(self.task_arc()))),
            PollAction::Progress { progress, status } => Step::Emit(Progress { progress, status }),
            PollAction::Wait(wait) if self.in_flight().is_some() => Step::AwaitAnswer(wait),
            PollAction::Wait(wait) => Step::Sleep(wait),
            PollAction::Done(outcome) => Step::Done(outcome),
        }
    }

    fn operation(&self) -> &'static str {
        "await_result"
    }

    fn task_id(&self) -> Option<&str> {
        Some(Poller::task_id(self))
    }

    failure_of_result!();

    delegate_answers!(Poller);

    no_work!();

    delegate_cancel!(Poller);

    fn cancel_token(&self) -> Option<&CancelToken> {
        self.options().get_cancel_token()
    }
}

impl<T: DeserializeOwned> Machine for PollerSet<T> {
    fn kind(&self) -> &'static str {
        "wait_many"
    }

    /// The index of the task, and its progress.
    type Event = (usize, Progress);
    /// One outcome per task, in input order.
    type Output = Vec<Result<TaskSuccess<T>>>;
    type Work = NoWork;
    type WorkDone = NoWork;

    fn poll_step(&mut self, now: Instant) -> Step<Self::Event, Self::Output> {
        match self.poll_action(now) {
            PollSetAction::Send { index, transmit } => {
                Step::Send(transmit.for_task(self.task_arc(index)))
            }
            PollSetAction::Progress {
                index,
                progress,
                status,
            } => Step::Emit((index, Progress { progress, status })),
            PollSetAction::Wait(wait) => Step::Sleep(wait),
            PollSetAction::AwaitResponse(wait) => Step::AwaitAnswer(wait),
            PollSetAction::Finished => Step::Done(self.take_outcomes()),
        }
    }

    fn operation(&self) -> &'static str {
        "await_many"
    }

    delegate_answers!(PollerSet);

    no_work!();

    delegate_cancel!(PollerSet);

    fn cancel_token(&self) -> Option<&CancelToken> {
        self.options().get_cancel_token()
    }
}

impl Machine for Paginator {
    fn kind(&self) -> &'static str {
        "pages"
    }

    type Event = TaskPage;
    type Output = Result<()>;
    type Work = NoWork;
    type WorkDone = NoWork;

    fn poll_step(&mut self, now: Instant) -> Step<TaskPage, Result<()>> {
        match self.poll_action(now) {
            PageAction::Send(transmit) => Step::Send(transmit),
            // A walk only waits for its one page in flight.
            PageAction::Wait(wait) => Step::AwaitAnswer(wait),
            PageAction::Page(page) => Step::Emit(page),
            PageAction::Done(outcome) => Step::Done(outcome),
        }
    }

    fn operation(&self) -> &'static str {
        "list_all"
    }

    failure_of_result!();

    delegate_answers!(Paginator);

    no_work!();

    delegate_cancel!(Paginator);
}

impl<T: DeserializeOwned> Machine for Follower<T> {
    fn kind(&self) -> &'static str {
        "follow"
    }

    type Event = TaskEvent<T>;
    type Output = Result<()>;
    type Work = NoWork;
    type WorkDone = NoWork;

    fn poll_step(&mut self, now: Instant) -> Step<TaskEvent<T>, Result<()>> {
        match self.poll_action(now) {
            FollowAction::Send(transmit) => Step::Send(transmit.for_task(Some(self.task_arc()))),
            FollowAction::Event(event) => Step::Emit(event),
            FollowAction::Wait(wait) if self.awaits_answer() => Step::AwaitAnswer(wait),
            FollowAction::Wait(wait) => Step::Sleep(wait),
            FollowAction::Done(outcome) => Step::Done(outcome),
        }
    }

    fn operation(&self) -> &'static str {
        "events"
    }

    fn task_id(&self) -> Option<&str> {
        Some(Follower::task_id(self))
    }

    failure_of_result!();

    delegate_answers!(Follower);

    no_work!();

    delegate_cancel!(Follower);

    fn cancel_token(&self) -> Option<&CancelToken> {
        self.options().get_cancel_token()
    }
}

/// The local work of a [`Download`].
#[derive(Debug)]
pub enum DownloadWork {
    /// Write `bytes` at `offset` of the destination (chunks come in order), and, for a
    /// destination that can be resumed, remember the validator and size they were read
    /// under.
    Write {
        /// Where they go.
        offset: u64,
        /// The bytes.
        bytes: Vec<u8>,
        /// The validator of the bytes (`ETag`, else `Last-Modified`), when the server gave one.
        validator: Option<String>,
        /// The file's size, when the server said.
        total: Option<u64>,
    },
    /// The server sends the whole file again: empty the destination.
    Restart,
}

/// A download's progress: bytes written from the start of the file, and its size when
/// known.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct DownloadProgress {
    /// Bytes written from the start of the file.
    pub written: u64,
    /// The file's size, when the server said.
    pub total: Option<u64>,
}

impl Machine for Download {
    fn kind(&self) -> &'static str {
        "download"
    }

    type Event = DownloadProgress;
    type Output = Result<Downloaded>;
    type Work = DownloadWork;
    /// `Err` ends the download with that error.
    type WorkDone = Result<()>;

    fn poll_step(&mut self, now: Instant) -> Step<DownloadProgress, Self::Output, DownloadWork> {
        match self.poll_action(now) {
            DownloadAction::Send(transmit) => Step::Send(transmit),
            DownloadAction::Write { offset, bytes } => Step::Work(DownloadWork::Write {
                offset,
                bytes,
                validator: self.validator().map(str::to_owned),
                total: self.total(),
            }),
            DownloadAction::Restart => Step::Work(DownloadWork::Restart),
            DownloadAction::Progress { written, total } => {
                Step::Emit(DownloadProgress { written, total })
            }
            DownloadAction::Wait(wait) if self.is_in_flight() => Step::AwaitAnswer(wait),
            DownloadAction::Wait(wait) => Step::Sleep(wait),
            DownloadAction::Done(outcome) => Step::Done(outcome),
        }
    }

    failure_of_result!();

    delegate_answers!(Download);

    fn handle_head(&mut self, id: RequestId, head: &http::response::Parts, _now: Instant) -> bool {
        self.head(id, head)
    }

    fn handle_body_piece(&mut self, id: RequestId, piece: &[u8], _now: Instant) {
        self.body_piece(id, piece);
    }

    fn handle_body_end(&mut self, id: RequestId, outcome: Result<()>, now: Instant) {
        self.body_end(id, outcome, now);
    }

    fn handle_work(&mut self, done: Result<()>, _now: Instant) {
        if let Err(error) = done {
            self.fail(error);
        }
    }

    delegate_cancel!(Download);

    fn cancel_token(&self) -> Option<&CancelToken> {
        self.get_cancel_token()
    }
}

/// The local work of an [`Upload`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UploadWork {
    /// Read the `len` bytes at `offset` of the source (part `part`) and feed them back
    /// with [`UploadWorkDone::Read`].
    Read {
        /// The part number, from 1.
        part: u32,
        /// Its first byte's offset in the source.
        offset: u64,
        /// Its length.
        len: u64,
    },
    /// Part `part` is uploaded: a source that keeps the bytes of its parts (one it cannot
    /// read twice) may drop them. Feed back [`UploadWorkDone::Released`].
    Release(u32),
}

/// The outcome of an [`UploadWork`].
#[derive(Debug)]
pub enum UploadWorkDone {
    /// The bytes of part `part`, or why they could not be read.
    Read {
        /// The part number.
        part: u32,
        /// Its bytes.
        bytes: Result<Vec<u8>>,
    },
    /// A part's kept bytes were dropped.
    Released,
}

impl Machine for Upload {
    fn kind(&self) -> &'static str {
        "upload"
    }

    /// The percentage uploaded.
    type Event = u8;
    type Output = Result<UploadedFile>;
    type Work = UploadWork;
    type WorkDone = UploadWorkDone;

    fn poll_step(&mut self, now: Instant) -> Step<u8, Self::Output, UploadWork> {
        match self.poll_action(now) {
            UploadAction::Send(transmit) => Step::Send(transmit),
            UploadAction::Read { part, offset, len } => {
                Step::Work(UploadWork::Read { part, offset, len })
            }
            UploadAction::Progress {
                percent,
                part: Some(part),
            } => {
                // The release first, the report next.
                self.requeue_progress(percent);
                Step::Work(UploadWork::Release(part))
            }
            UploadAction::Progress {
                percent,
                part: None,
            } => Step::Emit(percent),
            UploadAction::Wait(wait) => Step::Sleep(wait),
            UploadAction::AwaitResponse(wait) => Step::AwaitAnswer(wait),
            UploadAction::Done(outcome) => Step::Done(outcome),
        }
    }

    failure_of_result!();

    delegate_answers!(Upload);

    fn handle_work(&mut self, done: UploadWorkDone, now: Instant) {
        if let UploadWorkDone::Read { part, bytes } = done {
            self.handle_read(part, bytes, now);
        }
    }

    delegate_cancel!(Upload);

    fn cancel_token(&self) -> Option<&CancelToken> {
        self.get_cancel_token()
    }
}

/// The local work of a [`Batch`]: its journal.
#[derive(Debug)]
pub enum JournalWork {
    /// Append this record to the journal, when there is one.
    Append(JournalRecord),
    /// Make the records appended so far durable (flush and sync the journal).
    Sync,
}

impl Machine for Batch {
    fn kind(&self) -> &'static str {
        "batch"
    }

    type Event = BatchEvent;
    /// `Ok` once every input has ended; `Err` when the journal could not be written.
    type Output = Result<()>;
    type Work = JournalWork;
    /// `Err` ends the batch with that error.
    type WorkDone = Result<()>;

    fn poll_step(&mut self, now: Instant) -> Step<BatchEvent, Result<()>, JournalWork> {
        if let Some(error) = self.take_local_error() {
            return Step::Done(Err(error));
        }
        match self.poll_action(now) {
            BatchAction::Record(record) => Step::Work(JournalWork::Append(record)),
            BatchAction::Sync => Step::Work(JournalWork::Sync),
            BatchAction::Send { index, transmit } => {
                let task = index.and_then(|i| self.task_id(i)).map(Arc::from);
                Step::Send(transmit.for_task(task))
            }
            BatchAction::Created { index, task_id } => {
                Step::Emit(BatchEvent::Created { index, task_id })
            }
            BatchAction::Progress {
                index,
                progress,
                status,
            } => Step::Emit(BatchEvent::Progress {
                index,
                progress,
                status,
            }),
            BatchAction::Item(item) => Step::Emit(BatchEvent::Finished(item)),
            BatchAction::Wait(wait) => Step::Sleep(wait),
            BatchAction::Finished => Step::Done(Ok(())),
        }
    }

    fn operation(&self) -> &'static str {
        "run_many"
    }

    failure_of_result!();

    delegate_answers!(Batch);

    fn handle_work(&mut self, done: Result<()>, _now: Instant) {
        if let Err(error) = done {
            self.fail_local(error);
        }
    }

    delegate_cancel!(Batch);

    fn cancel_token(&self) -> Option<&CancelToken> {
        self.options().get_await_options().get_cancel_token()
    }
}

/// Defines a driver's engine constructors: `Engine::new` for a machine that asks for no
/// local work, `Engine::with_local` otherwise, both starting with nothing in flight (`$io`,
/// the driver's own `Option` of requests in flight) and with the operation's span
/// ([`trace`](crate::trace)). Written once for both drivers: each
/// defines `Engine`, `Client`, `Local` and `NoLocal`.
#[doc(hidden)]
#[macro_export]
macro_rules! __engine_constructors {
    ($($io:ident),+) => {
        impl<M> Engine<M, NoLocal>
        where
            M: $crate::machine::Machine<
                    Work = $crate::machine::NoWork,
                    WorkDone = $crate::machine::NoWork,
                >,
        {
            /// An engine for a machine that asks for no local work.
            pub(crate) fn new(client: &Client, machine: M) -> Self {
                Engine::with_local(client, machine, NoLocal)
            }
        }

        impl<M: $crate::machine::Machine, L: Local<M::Work, M::WorkDone>> Engine<M, L> {
            /// An engine whose local work is done by `local`.
            pub(crate) fn with_local(client: &Client, machine: M, local: L) -> Self {
                Engine {
                    span: $crate::__operation_span!(&machine),
                    client: client.clone(),
                    driving: $crate::machine::Driving::new(machine).intercepted(client.config()),
                    local,
                    $($io: None,)+
                }
            }
        }
    };
}

/// A scripted machine, to test an engine (feature `test-util`): it hands out the steps of
/// its script in order and records everything it is fed.
#[cfg(feature = "test-util")]
pub mod testing {
    use std::collections::VecDeque;
    use std::sync::{Arc, Mutex, PoisonError};
    use std::time::{Duration, Instant};

    use super::{Machine, Step};
    use crate::cancel::CancelToken;
    use crate::config::Config;
    use crate::error::Error;
    use crate::exchange::{Call, CallAction};
    use crate::seam::{HttpResponse, RequestId};

    /// One step of a script.
    #[derive(Debug, Clone)]
    pub enum Scene {
        /// Hand out a `GET` of this path of the configuration's base URL (its deadline is
        /// the configuration's timeout from now).
        Send(&'static str),
        /// Ask for this local work.
        Work(u32),
        /// Hand this event out.
        Emit(u32),
        /// Ask to sleep this long.
        Sleep(Duration),
        /// Ask to wait for an answer (at most this long).
        AwaitAnswer(Duration),
        /// End with this output.
        Done(&'static str),
    }

    /// What a scripted machine was fed, in order.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub enum Fed {
        /// The answer to request `path` (the path it was sent to), with its status.
        Answer(&'static str, u16),
        /// The transport's failure of request `path`, with the error's text.
        Failed(&'static str, String),
        /// The outcome of local work.
        Work(u32),
        /// A cancellation.
        Cancel,
    }

    /// A machine that plays a script (see [`Scene`]) and records what it is fed
    /// ([`Fed`]). Once cancelled, or once its script is played, it ends: with `"cancelled"`
    /// or `"end"`.
    #[derive(Debug)]
    pub struct Scripted {
        config: Config,
        script: VecDeque<Scene>,
        sent: Vec<(RequestId, &'static str)>,
        fed: Arc<Mutex<Vec<Fed>>>,
        token: Option<CancelToken>,
        cancelled: bool,
    }

    impl Scripted {
        /// A machine playing `script`, sending to `config`'s base URL.
        pub fn new(config: &Config, script: impl IntoIterator<Item = Scene>) -> Self {
            Scripted {
                config: config.clone(),
                script: script.into_iter().collect(),
                sent: Vec::new(),
                fed: Arc::default(),
                token: None,
                cancelled: false,
            }
        }

        /// Watches `token` (an engine turns its firing into [`Machine::cancel`]).
        pub fn cancel_token(mut self, token: CancelToken) -> Self {
            self.token = Some(token);
            self
        }

        /// What it was fed so far (shared: read it after the machine moved into an engine).
        pub fn fed(&self) -> Arc<Mutex<Vec<Fed>>> {
            Arc::clone(&self.fed)
        }

        fn log(&self, fed: Fed) {
            self.fed
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .push(fed);
        }

        fn path_of(&self, id: RequestId) -> &'static str {
            self.sent
                .iter()
                .find(|(sent, _)| *sent == id)
                .map_or("?", |(_, path)| path)
        }
    }

    impl Machine for Scripted {
        type Event = u32;
        type Output = &'static str;
        type Work = u32;
        type WorkDone = u32;

        fn poll_step(&mut self, now: Instant) -> Step<u32, &'static str, u32> {
            if self.cancelled {
                return Step::Done("cancelled");
            }
            match self.script.pop_front() {
                None => Step::Done("end"),
                Some(Scene::Send(path)) => {
                    let url = format!("{}{path}", self.config.base_url());
                    let request = http::Request::get(url)
                        .body(Vec::new())
                        .expect("a scripted request");
                    let mut call = Call::new(&self.config, "scripted", request, now);
                    match call.poll_action(now) {
                        CallAction::Send(transmit) => {
                            self.sent.push((transmit.id, path));
                            Step::Send(transmit)
                        }
                        _ => Step::Done("a call that sends nothing"),
                    }
                }
                Some(Scene::Work(n)) => Step::Work(n),
                Some(Scene::Emit(n)) => Step::Emit(n),
                Some(Scene::Sleep(d)) => Step::Sleep(d),
                Some(Scene::AwaitAnswer(d)) => Step::AwaitAnswer(d),
                Some(Scene::Done(output)) => Step::Done(output),
            }
        }

        fn handle_response(&mut self, id: RequestId, response: HttpResponse, _now: Instant) {
            self.log(Fed::Answer(self.path_of(id), response.status().as_u16()));
        }

        fn handle_transport_error(&mut self, id: RequestId, error: Error, _now: Instant) {
            self.log(Fed::Failed(self.path_of(id), error.to_string()));
        }

        fn handle_work(&mut self, done: u32, _now: Instant) {
            self.log(Fed::Work(done));
        }

        fn cancel(&mut self) {
            self.log(Fed::Cancel);
            self.cancelled = true;
        }

        fn cancel_token(&self) -> Option<&CancelToken> {
            self.token.as_ref()
        }
    }

    /// A fake clock for an engine's timer under test: it reads its start plus the time
    /// its completed sleeps add, and records every sleep asked for. Shared by its clones.
    /// (It reads the real clock once, for its start.)
    #[derive(Debug, Clone)]
    pub struct FakeClock {
        start: Instant,
        state: Arc<Mutex<(Duration, Vec<Duration>)>>,
    }

    impl FakeClock {
        /// A clock at `start`.
        pub fn starting_at(start: Instant) -> Self {
            FakeClock {
                start,
                state: Arc::default(),
            }
        }

        /// Its instant.
        pub fn now(&self) -> Instant {
            self.start + self.state.lock().unwrap_or_else(PoisonError::into_inner).0
        }

        /// A sleep of `duration` was asked for.
        pub fn asked(&self, duration: Duration) {
            self.state
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .1
                .push(duration);
        }

        /// Time passes: a sleep of `duration` completed.
        pub fn advance(&self, duration: Duration) {
            self.state.lock().unwrap_or_else(PoisonError::into_inner).0 += duration;
        }

        /// Every sleep asked for, in order.
        pub fn sleeps(&self) -> Vec<Duration> {
            self.state
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .1
                .clone()
        }
    }

    /// The configuration of an engine under test: the base URL `http://engine.test`, and
    /// `timeout` per request (the deadline of every request a [`Scripted`] hands out).
    pub fn engine_config(timeout: Duration) -> crate::config::ConfigBuilder {
        Config::builder()
            .base_url("http://engine.test")
            .timeout(timeout)
    }

    /// The local work of a [`Scripted`] machine, recorded in order: each work answers its
    /// own number. An engine's test implements its driver's local-work trait on it.
    #[derive(Debug, Default)]
    pub struct WorkLog(pub Vec<u32>);

    impl WorkLog {
        /// Records `work` and answers its outcome.
        pub fn record(&mut self, work: u32) -> u32 {
            self.0.push(work);
            work
        }
    }

    /// A script of three requests handed out at once (`/a`, `/b`, `/c`), then a wait for
    /// each answer: every engine must send all three before waiting, and feed each answer.
    pub fn three_requests() -> Vec<Scene> {
        let wait = Scene::AwaitAnswer(Duration::from_secs(3600));
        vec![
            Scene::Send("/a"),
            Scene::Send("/b"),
            Scene::Send("/c"),
            wait.clone(),
            wait.clone(),
            wait,
        ]
    }
}
