//! The one loop of this driver: [`Engine`] drives any core [`Machine`] on the caller's
//! thread, with the client's sender threads for requests it must be able to stop waiting
//! for.
//!
//! It is the only place where this crate sends, sleeps, races a deadline or a cancel
//! token, and runs the local work a machine asks for (through a [`Local`]). A public
//! method builds a machine, hands it to an engine and maps what comes out: a value
//! ([`Engine::run`]) or an iterator ([`Steps`]). A new machine of the core costs no loop
//! here; a step the core adds is a compile error in [`Engine::next`].

use cloud_task_core::machine::{Drive, Driving, Machine};
pub(crate) use cloud_task_core::machine::{Flow, Next};
use cloud_task_core::{HttpResponse, RequestId, Result, Transmit, WRITE_PIECE};

use crate::client::Client;
use crate::flights::{Event, Flights, Pause};
use crate::transport::BodyReader;

pub(crate) use cloud_task_local::{Local, NoLocal};

/// Drives one machine on a client: sends its requests (on this thread when nothing can
/// interrupt the wait and the transport bounds itself, else on the sender threads, each
/// cut off at its deadline), sleeps on the client's timer, watches its cancel token, runs
/// its local work, and hands out its events and its end. What needs no I/O is the core's
/// [`Driving`].
pub(crate) struct Engine<M, L = NoLocal> {
    /// The operation's span: its requests' spans are its children.
    span: tracing::Span,
    client: Client,
    driving: Driving<M>,
    local: L,
    /// The requests on sender threads; made at the first request that needs one.
    flights: Option<Flights>,
    /// The body the machine takes in pieces ([`Machine::handle_head`]), read on this
    /// thread.
    body: Option<Box<Reading>>,
}

/// A body being read in pieces, and its request.
struct Reading {
    id: RequestId,
    body: BodyReader,
    /// Where each piece is read (one buffer for the whole body).
    buffer: Vec<u8>,
}

cloud_task_core::__engine_constructors!(flights, body);

impl<M: Machine, L: Local<M::Work, M::WorkDone>> Engine<M, L> {
    /// The machine.
    pub(crate) fn machine(&self) -> &M {
        self.driving.machine()
    }

    /// The operation's span.
    pub(crate) fn span(&self) -> &tracing::Span {
        &self.span
    }

    /// Drives the machine to its end, handing each event to `on_event`.
    pub(crate) fn run(mut self, mut on_event: impl FnMut(&M, M::Event)) -> M::Output {
        loop {
            match self.next() {
                Next::Event(event) => on_event(self.driving.machine(), event),
                Next::Done(output) => return output,
            }
        }
    }

    /// Drives the machine to its next event, or its end (after which it must not be
    /// called again), inside the operation's span.
    pub(crate) fn next(&mut self) -> Next<M::Event, M::Output> {
        let span = self.span.clone();
        let next = span.in_scope(|| self.step());
        if let Next::Done(output) = &next {
            cloud_task_core::__record_failure!(&span, M::failure(output));
        }
        next
    }

    /// [`next`](Self::next), outside the span.
    fn step(&mut self) -> Next<M::Event, M::Output> {
        loop {
            let idle = self.body.is_none() && self.flights.as_ref().is_none_or(Flights::is_idle);
            // A lone request goes on this thread when nothing can interrupt its wait and
            // the transport bounds itself.
            let alone =
                !self.driving.is_cancellable() && self.client.inner.transport.bounds_itself();
            let drive = self.driving.next(self.client.now(), idle, alone);
            if !matches!(drive, Drive::SendAlone(_)) {
                while let Some(transmit) = self.driving.take_ready() {
                    self.flights().send(transmit);
                }
            }
            match drive {
                Drive::SendAlone(transmit) if transmit.streams_body => {
                    self.send_streaming(transmit)
                }
                Drive::SendAlone(transmit) => {
                    let (id, outcome) = self.client.send_here(transmit);
                    self.driving.answer(id, outcome, self.client.now());
                }
                Drive::Work(work) => {
                    let done = self.local.run(work);
                    self.driving.work_done(done, self.client.now());
                }
                Drive::Emit(event) => return Next::Event(event),
                Drive::Sleep(duration) => self.wait(Pause::Sleep(duration)),
                // The body is read on this thread, within its request's limits.
                Drive::AwaitAnswer(_) if self.body.is_some() => self.read_piece(),
                Drive::AwaitAnswer(bound) => self.wait(Pause::Answer(bound)),
                Drive::Done(output) => {
                    // Requests still queued are never sent: the flights go with the engine.
                    self.flights = None;
                    self.body = None;
                    return Next::Done(output);
                }
            }
        }
    }

    /// Sends the one request whose head comes first, on this thread. A machine that takes
    /// its body in pieces is fed them by [`read_piece`](Self::read_piece); otherwise the
    /// body is read whole (refused past the request's limit) and the whole answer fed.
    fn send_streaming(&mut self, transmit: Transmit) {
        let limits = transmit.limits(self.client.now());
        let (id, outcome) = self.client.send_head_here(transmit);
        let (head, mut body) = match outcome {
            Ok(answer) => answer,
            Err(error) => return self.driving.answer(id, Err(error), self.client.now()),
        };
        if self.driving.head(id, &head, self.client.now()) {
            let buffer = vec![0; WRITE_PIECE];
            self.body = Some(Box::new(Reading { id, body, buffer }));
            return;
        }
        let mut all = Vec::new();
        let mut buffer = [0; 16 * 1024];
        let outcome = loop {
            match body.read(&mut buffer) {
                Ok(0) => break Ok(HttpResponse::from_parts(head, all)),
                // Refused past the limit, whatever the transport does.
                Ok(n) if limits.refuses_length(Some((all.len() + n) as u64)) => {
                    break Err(limits.body_too_large());
                }
                Ok(n) => all.extend_from_slice(&buffer[..n.min(buffer.len())]),
                Err(error) => break Err(error),
            }
        };
        self.driving.answer(id, outcome, self.client.now());
    }

    /// Reads the next piece of the body the machine takes, and feeds it (or the body's end).
    fn read_piece(&mut self) {
        let Some(reading) = &mut self.body else {
            return;
        };
        let id = reading.id;
        match reading.body.read(&mut reading.buffer) {
            Ok(0) => {
                self.body = None;
                self.driving.body_end(id, Ok(()), self.client.now());
            }
            Ok(n) => {
                let piece = &reading.buffer[..n.min(reading.buffer.len())];
                self.driving.body_piece(id, piece, self.client.now());
            }
            Err(error) => {
                self.body = None;
                self.driving.body_end(id, Err(error), self.client.now());
            }
        }
    }

    fn flights(&mut self) -> &mut Flights {
        let (client, token) = (&self.client, self.driving.live_token());
        self.flights
            .get_or_insert_with(|| Flights::new(client, token))
    }

    /// Sleeps (or waits for an answer), waking early on an answer or the token.
    fn wait(&mut self, pause: Pause) {
        match self.flights().next(pause) {
            Some(Event::Answer(id, outcome)) => self.driving.answer(id, outcome, self.client.now()),
            Some(Event::Cancelled) => self.driving.cancel(),
            None => {}
        }
    }
}

/// Defines the iterator type of a task's machine on its [`Steps`]: `Iterator`, fused, and
/// a `Debug` naming the task while it runs.
macro_rules! task_iter {
    ($(#[$meta:meta])* $name:ident($machine:ident) => $item:ty) => {
        $(#[$meta])*
        pub struct $name {
            steps: crate::engine::Steps<$machine, crate::engine::NoLocal, $item>,
        }

        impl Iterator for $name {
            type Item = cloud_task_core::Result<$item>;

            fn next(&mut self) -> Option<Self::Item> {
                self.steps.next()
            }
        }

        impl std::iter::FusedIterator for $name {}

        impl std::fmt::Debug for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.debug_struct(stringify!($name))
                    .field("task_id", &self.steps.machine().map($machine::task_id))
                    .field("ended", &self.steps.is_ended())
                    .finish()
            }
        }
    };
}
pub(crate) use task_iter;

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
                match (self.map)(engine.driving.machine(), next) {
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

#[cfg(test)]
#[path = "engine_tests.rs"]
mod tests;
