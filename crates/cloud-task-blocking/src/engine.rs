//! The one loop of this driver: [`Engine`] drives any core [`Machine`] on the caller's
//! thread, with the client's sender threads for requests it must be able to stop waiting
//! for.
//!
//! It is the only place where this crate sends, sleeps, races a deadline or a cancel
//! token, and runs the local work a machine asks for (through a [`Local`]). A public
//! method builds a machine, hands it to an engine and maps what comes out: a value
//! ([`Engine::run`]) or an iterator ([`Steps`]). A new machine of the core costs no loop
//! here; a step the core adds is a compile error in [`Engine::next`].

use std::collections::VecDeque;

use cloud_task_core::machine::{Machine, NoWork, Step};
use cloud_task_core::{CancelToken, Result, Transmit};

use crate::client::Client;
use crate::flights::{Event, Flights, Pause};

pub(crate) use cloud_task_local::{Local, NoLocal};

/// What the engine hands its caller: an event of the machine, or its end.
pub(crate) enum Next<E, O> {
    Event(E),
    Done(O),
}

/// Drives one machine on a client: sends its requests (on this thread when nothing can
/// interrupt the wait and the transport bounds itself, else on the sender threads, each
/// cut off at its deadline), sleeps on the client's timer, turns its cancel token into
/// [`Machine::cancel`], runs its local work, and hands out its events and its end.
pub(crate) struct Engine<M, L = NoLocal> {
    client: Client,
    machine: M,
    local: L,
    token: Option<CancelToken>,
    cancelled: bool,
    /// The requests on sender threads; made at the first request that needs one.
    flights: Option<Flights>,
    /// Requests handed out by the machine, not sent yet.
    ready: VecDeque<Transmit>,
}

impl<M> Engine<M, NoLocal>
where
    M: Machine<Work = NoWork, WorkDone = NoWork>,
{
    /// An engine for a machine that asks for no local work.
    pub(crate) fn new(client: &Client, machine: M) -> Self {
        Engine::with_local(client, machine, NoLocal)
    }
}

impl<M: Machine, L: Local<M::Work, M::WorkDone>> Engine<M, L> {
    /// An engine whose local work is done by `local`.
    pub(crate) fn with_local(client: &Client, machine: M, local: L) -> Self {
        let token = machine.cancel_token().cloned();
        Engine {
            client: client.clone(),
            machine,
            local,
            token,
            cancelled: false,
            flights: None,
            ready: VecDeque::new(),
        }
    }

    /// The machine.
    pub(crate) fn machine(&self) -> &M {
        &self.machine
    }

    /// Drives the machine to its end, handing each event to `on_event`.
    pub(crate) fn run(mut self, mut on_event: impl FnMut(&M, M::Event)) -> M::Output {
        loop {
            match self.next() {
                Next::Event(event) => on_event(&self.machine, event),
                Next::Done(output) => return output,
            }
        }
    }

    /// Drives the machine to its next event, or its end (after which it must not be
    /// called again).
    pub(crate) fn next(&mut self) -> Next<M::Event, M::Output> {
        loop {
            if !self.cancelled && self.token.as_ref().is_some_and(CancelToken::is_cancelled) {
                self.cancel();
            }
            let pause = match self.machine.poll_step(self.client.now()) {
                Step::Send(transmit) => {
                    self.ready.push_back(transmit);
                    continue;
                }
                Step::AwaitAnswer(_) if self.sends_inline() => {
                    if let Some(transmit) = self.ready.pop_front() {
                        let (id, outcome) = self.client.send_here(transmit);
                        self.feed(id, outcome);
                    }
                    continue;
                }
                Step::AwaitAnswer(bound) => {
                    self.flush();
                    Pause::Answer(bound)
                }
                Step::Sleep(duration) => {
                    self.flush();
                    Pause::Sleep(duration)
                }
                Step::Work(work) => {
                    self.flush();
                    let done = self.local.run(work);
                    self.machine.handle_work(done, self.client.now());
                    continue;
                }
                Step::Emit(event) => {
                    self.flush();
                    return Next::Event(event);
                }
                Step::Done(output) => {
                    // Requests still queued are never sent: the flights go with the engine.
                    self.ready.clear();
                    self.flights = None;
                    return Next::Done(output);
                }
            };
            self.wait(pause);
        }
    }

    /// True when the one ready request can be sent on this thread: nothing else is in
    /// flight, no token can interrupt the wait, and the transport bounds itself.
    fn sends_inline(&self) -> bool {
        self.ready.len() == 1
            && self.flights.as_ref().is_none_or(Flights::is_idle)
            && (self.cancelled || self.token.is_none())
            && self.client.inner.transport.bounds_itself()
    }

    fn cancel(&mut self) {
        self.cancelled = true;
        self.machine.cancel();
    }

    fn flights(&mut self) -> &mut Flights {
        let (client, token) = (&self.client, self.token.as_ref());
        self.flights
            .get_or_insert_with(|| Flights::new(client, token))
    }

    /// Sends every ready request on the sender threads.
    fn flush(&mut self) {
        while let Some(transmit) = self.ready.pop_front() {
            self.flights().send(transmit);
        }
    }

    fn feed(
        &mut self,
        id: cloud_task_core::RequestId,
        outcome: Result<cloud_task_core::HttpResponse>,
    ) {
        let now = self.client.now();
        match outcome {
            Ok(response) => self.machine.handle_response(id, response, now),
            Err(error) => self.machine.handle_transport_error(id, error, now),
        }
    }

    /// Sleeps (or waits for an answer), waking early on an answer or the token.
    fn wait(&mut self, pause: Pause) {
        match self.flights().next(pause) {
            Some(Event::Answer(id, outcome)) => self.feed(id, outcome),
            Some(Event::Cancelled) if !self.cancelled => self.cancel(),
            Some(Event::Cancelled) | None => {}
        }
    }
}

/// What an iterator does with one thing its engine handed out.
pub(crate) enum Flow<T> {
    /// Yield it and go on.
    Yield(T),
    /// Yield it, then end.
    Last(T),
    /// End.
    End,
}

/// How an iterator maps what its engine hands out.
pub(crate) type MapFn<M, T> =
    fn(&M, Next<<M as Machine>::Event, <M as Machine>::Output>) -> Flow<Result<T>>;

/// An engine as an iterator: a failed start is its one item; each `next()` drives the
/// machine to its next item; after its last, `None`.
pub(crate) struct Steps<M: Machine, L, T> {
    state: StepsState<M, L>,
    map: MapFn<M, T>,
}

enum StepsState<M, L> {
    Running(Box<Engine<M, L>>),
    Failed(cloud_task_core::Error),
    Ended,
}

impl<M: Machine, L: Local<M::Work, M::WorkDone>, T> Steps<M, L, T> {
    /// The iterator of `engine`, its output mapped by `map`.
    pub(crate) fn new(engine: Result<Engine<M, L>>, map: MapFn<M, T>) -> Self {
        let state = match engine {
            Ok(engine) => StepsState::Running(Box::new(engine)),
            Err(error) => StepsState::Failed(error),
        };
        Steps { state, map }
    }

    /// The machine, while it runs.
    pub(crate) fn machine(&self) -> Option<&M> {
        match &self.state {
            StepsState::Running(engine) => Some(engine.machine()),
            _ => None,
        }
    }

    /// True once the last item was handed out.
    pub(crate) fn is_ended(&self) -> bool {
        matches!(self.state, StepsState::Ended)
    }
}

impl<M: Machine, L: Local<M::Work, M::WorkDone>, T> Iterator for Steps<M, L, T> {
    type Item = Result<T>;

    fn next(&mut self) -> Option<Result<T>> {
        match std::mem::replace(&mut self.state, StepsState::Ended) {
            StepsState::Ended => None,
            StepsState::Failed(error) => Some(Err(error)),
            StepsState::Running(mut engine) => {
                let next = engine.next();
                let ended = matches!(next, Next::Done(_));
                match (self.map)(&engine.machine, next) {
                    Flow::Yield(item) if !ended => {
                        self.state = StepsState::Running(engine);
                        Some(item)
                    }
                    Flow::Yield(item) | Flow::Last(item) => Some(item),
                    Flow::End => None,
                }
            }
        }
    }
}
