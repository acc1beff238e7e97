//! The one loop of this driver: [`Engine`] drives any core [`Machine`].
//!
//! It is the only place where this crate sends, sleeps, races a deadline or a cancel
//! token, and runs the local work a machine asks for (through a [`Local`]). A public
//! method builds a machine, hands it to an engine and maps what comes out: a future
//! ([`Engine::run`]) or a stream ([`stream`]). A new machine of the core costs no loop
//! here; a step the core adds is a compile error in [`Engine::next`].

use std::collections::VecDeque;
use std::future::{Future, pending};
use std::pin::{Pin, pin};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use cloud_task_core::machine::{Drive, Driving, Machine, NoWork};
pub(crate) use cloud_task_core::machine::{Flow, Next};
use cloud_task_core::{BODY_PIECE, HttpResponse, RequestId, Result, SendLimits, Transmit};
use futures_util::stream::{FuturesUnordered, StreamExt};
use tracing::Instrument;

use crate::client::Client;
use crate::transport::{BodyStream, ResponseHead};

/// Runs the local work of a machine: reads a source, writes a sink, appends to a journal.
pub(crate) trait Local<W, D>: Send {
    /// Does `work` to its end and answers its outcome.
    fn run(&mut self, work: W) -> impl Future<Output = D> + Send;
}

impl<W: Send, D, L: Local<W, D>> Local<W, D> for &mut L {
    fn run(&mut self, work: W) -> impl Future<Output = D> + Send {
        (**self).run(work)
    }
}

/// The outcome of local work that could not be done at all (its thread of the blocking
/// pool panicked, or the runtime is shutting down).
pub(crate) trait Failed {
    fn failed(error: cloud_task_core::Error) -> Self;
}

impl<T> Failed for Result<T> {
    fn failed(error: cloud_task_core::Error) -> Self {
        Err(error)
    }
}

/// A local of the shared crate (plain `std` I/O), run on tokio's blocking pool: no file
/// operation blocks the runtime.
pub(crate) struct OnPool<L>(Option<L>);

impl<L> OnPool<L> {
    pub(crate) fn new(local: L) -> Self {
        OnPool(Some(local))
    }

    /// The local back, unless its work panicked.
    pub(crate) fn into_inner(self) -> Option<L> {
        self.0
    }
}

/// Runs `f` on tokio's blocking pool; a panic there is an I/O error naming `what`.
pub(crate) async fn on_pool<T: Send + 'static>(
    what: &'static str,
    f: impl FnOnce() -> T + Send + 'static,
) -> std::result::Result<T, cloud_task_core::Error> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| cloud_task_core::Error::io(what, std::io::Error::other(e)))
}

impl<W, D, L> Local<W, D> for OnPool<L>
where
    W: Send + 'static,
    D: Failed + Send + 'static,
    L: cloud_task_local::Local<W, D> + Send + 'static,
{
    async fn run(&mut self, work: W) -> D {
        let Some(mut local) = self.0.take() else {
            return D::failed(cloud_task_core::Error::io(
                "local work",
                std::io::Error::other("an earlier local work panicked"),
            ));
        };
        match on_pool("local work", move || {
            let done = local.run(work);
            (local, done)
        })
        .await
        {
            Ok((local, done)) => {
                self.0 = Some(local);
                done
            }
            Err(error) => D::failed(error),
        }
    }
}

/// The local side of a machine that asks for no local work.
pub(crate) struct NoLocal;

impl Local<NoWork, NoWork> for NoLocal {
    async fn run(&mut self, work: NoWork) -> NoWork {
        match work {}
    }
}

type Answer = Pin<Box<dyn Future<Output = (RequestId, Result<HttpResponse>)> + Send>>;

/// Drives one machine on a client: sends its requests (each cut off at its deadline),
/// sleeps on the client's timer, races its cancel token, runs its local work, and hands
/// out its events and its end. What needs no I/O is the core's [`Driving`].
pub(crate) struct Engine<M, L = NoLocal> {
    /// The operation's span: its requests' spans are its children.
    span: tracing::Span,
    client: Client,
    driving: Driving<M>,
    local: L,
    /// Requests sent and not answered yet (made at the first that needs it: a lone
    /// request is awaited as it is).
    in_flight: Option<FuturesUnordered<Answer>>,
    /// The body the machine takes in pieces ([`Machine::handle_head`]).
    body: Option<Box<Reading>>,
}

/// A body the machine takes in pieces: read on, into `held`, while its local work runs (a
/// piece is received while the one before is written), up to [`BODY_PIECE`] bytes.
struct Reading {
    id: RequestId,
    body: BodyStream,
    /// Pieces read and not fed yet, in order.
    held: VecDeque<Bytes>,
    held_len: usize,
    /// How the body ended, once it has (fed after the pieces held).
    ended: Option<Result<()>>,
}

impl Reading {
    /// True while more of the body may be read ahead of the machine.
    fn reads_ahead(&self) -> bool {
        self.ended.is_none() && self.held_len < BODY_PIECE
    }

    /// Reads the next piece into `held`, or the end.
    async fn read(&mut self) {
        match self.body.next().await {
            Some(Ok(piece)) => {
                self.held_len += piece.len();
                self.held.push_back(piece);
            }
            Some(Err(error)) => self.ended = Some(Err(error)),
            None => self.ended = Some(Ok(())),
        }
    }
}

cloud_task_core::__engine_constructors!(in_flight, body);

impl<M: Machine, L: Local<M::Work, M::WorkDone>> Engine<M, L> {
    /// The operation's span.
    pub(crate) fn span(&self) -> &tracing::Span {
        &self.span
    }

    /// Drives the machine to its end, handing each event to `on_event`.
    #[expect(
        clippy::manual_async_fn,
        reason = "an async fn would hold the engine twice"
    )]
    pub(crate) fn run(
        mut self,
        mut on_event: impl FnMut(&M, M::Event),
    ) -> impl Future<Output = M::Output> {
        // A block, not an `async fn`: the future holds the engine once (an `async fn` keeps
        // its argument and the local it is moved into, twice its size in every future
        // around it).
        async move {
            loop {
                match self.next().await {
                    Next::Event(event) => on_event(self.driving.machine(), event),
                    Next::Done(output) => return output,
                }
            }
        }
    }

    /// Drives the machine to its next event, or its end (after which it must not be
    /// called again), inside the operation's span.
    pub(crate) async fn next(&mut self) -> Next<M::Event, M::Output> {
        let span = self.span.clone();
        let next = self.step().instrument(span).await;
        if let Next::Done(output) = &next {
            cloud_task_core::__record_failure!(&self.span, M::failure(output));
        }
        next
    }

    /// [`next`](Self::next), outside the span.
    async fn step(&mut self) -> Next<M::Event, M::Output> {
        loop {
            let idle = self.idle();
            let drive = self.driving.next(self.client.now(), idle, true);
            if !matches!(drive, Drive::SendAlone(_)) {
                while let Some(transmit) = self.driving.take_ready() {
                    let send = Box::pin(self.client.send(transmit));
                    self.in_flight
                        .get_or_insert_with(FuturesUnordered::new)
                        .push(send);
                }
            }
            match drive {
                // Boxed: a body taken in pieces (a download) is rare, and its future is
                // large; inline, every call's future would carry its room.
                Drive::SendAlone(transmit) if transmit.streams_body => {
                    Box::pin(self.send_streaming(transmit)).await;
                }
                Drive::SendAlone(transmit) => self.send_alone(transmit).await,
                Drive::Work(work) => self.work(work).await,
                Drive::Emit(event) => return Next::Event(event),
                Drive::Sleep(duration) => self.wait(Some(duration)).await,
                // Nothing in flight to wait for (never so when a machine says so): a bound.
                Drive::AwaitAnswer(bound) if self.idle() => {
                    self.wait(Some(bound)).await;
                }
                // Each request in flight (a body being read too) is cut off at its own
                // deadline.
                Drive::AwaitAnswer(_) => self.wait(None).await,
                Drive::Done(output) => {
                    self.in_flight = None;
                    self.body = None;
                    return Next::Done(output);
                }
            }
        }
    }

    /// True when no request is in flight, and no body is being read.
    fn idle(&self) -> bool {
        self.body.is_none()
            && self
                .in_flight
                .as_ref()
                .is_none_or(FuturesUnordered::is_empty)
    }

    /// Sends the one request and waits for its answer (or the token).
    async fn send_alone(&mut self, transmit: Transmit) {
        let send = self.client.send(transmit);
        let (id, outcome) = match self.driving.live_token().cloned() {
            None => send.await,
            Some(token) => tokio::select! {
                biased;
                () = token.cancelled() => return self.driving.cancel(),
                answer = send => answer,
            },
        };
        self.driving.answer(id, outcome, self.client.now());
    }

    /// Sends the one request whose head comes first, and waits for its head (or the
    /// token). A machine that takes its body in pieces is fed them by [`wait`](Self::wait);
    /// otherwise the body is gathered (the body ends at the request's deadline and its size
    /// limit: see [`Client::send_head`]) and the whole answer fed.
    async fn send_streaming(&mut self, transmit: Transmit) {
        let limits = transmit.limits(self.client.now());
        let send = self.client.send_head(transmit);
        let token = self.driving.live_token().cloned();
        let (id, outcome) = match &token {
            None => send.await,
            Some(token) => tokio::select! {
                biased;
                () = token.cancelled() => return self.driving.cancel(),
                answer = send => answer,
            },
        };
        let (head, body) = match outcome {
            Ok(answer) => answer,
            Err(error) => return self.driving.answer(id, Err(error), self.client.now()),
        };
        if self.driving.head(id, &head, self.client.now()) {
            self.body = Some(Box::new(Reading {
                id,
                body,
                held: VecDeque::new(),
                held_len: 0,
                ended: None,
            }));
            return;
        }
        let cancelled = async {
            match &token {
                Some(token) => token.cancelled().await,
                None => pending().await,
            }
        };
        let outcome = tokio::select! {
            biased;
            () = cancelled => return self.driving.cancel(),
            gathered = gather(head, body, limits) => gathered,
        };
        self.driving.answer(id, outcome, self.client.now());
    }

    /// Sleeps `duration` on the timer (`None`: no sleep), waking early on an answer, a
    /// piece of the body the machine takes, or the token.
    async fn wait(&mut self, duration: Option<Duration>) {
        if self.feed_held() {
            return;
        }
        let token = self.driving.live_token().cloned();
        let cancelled = async {
            match &token {
                Some(token) => token.cancelled().await,
                None => pending().await,
            }
        };
        let timer = Arc::clone(&self.client.inner.timer);
        let sleep = async {
            match duration {
                Some(duration) => timer.sleep(duration).await,
                None => pending().await,
            }
        };
        let in_flight = self.in_flight.as_mut().filter(|f| !f.is_empty());
        let answer = async {
            match in_flight {
                Some(in_flight) => in_flight.next().await,
                None => pending().await,
            }
        };
        let piece = async {
            match &mut self.body {
                Some(reading) => reading.read().await,
                None => pending().await,
            }
        };
        tokio::select! {
            biased;
            () = cancelled => self.driving.cancel(),
            Some((id, outcome)) = answer => self.driving.answer(id, outcome, self.client.now()),
            () = piece => {
                self.feed_held();
            }
            () = sleep => {}
        }
    }

    /// Feeds the machine the next piece of its body read ahead, or the body's end: false
    /// when there is nothing to feed.
    fn feed_held(&mut self) -> bool {
        let Some(reading) = &mut self.body else {
            return false;
        };
        let now = self.client.now();
        if let Some(piece) = reading.held.pop_front() {
            reading.held_len -= piece.len();
            self.driving.body_piece(reading.id, &piece, now);
            return true;
        }
        let Some(end) = reading.ended.take() else {
            return false;
        };
        let id = reading.id;
        self.body = None;
        self.driving.body_end(id, end, now);
        true
    }

    /// Does `work` to its end, feeding the answers that come meanwhile.
    async fn work(&mut self, work: M::Work) {
        let Engine {
            client,
            driving,
            local,
            in_flight,
            body,
            ..
        } = self;
        let mut work = pin!(local.run(work));
        let done = match (in_flight.as_mut(), body.as_mut()) {
            (None, None) => work.await,
            (mut in_flight, mut body) => loop {
                let answer = async {
                    match in_flight.as_mut().filter(|f| !f.is_empty()) {
                        Some(in_flight) => in_flight.next().await,
                        None => pending().await,
                    }
                };
                // The body is read on while its last piece is written, up to a bound.
                let read_ahead = async {
                    match body.as_mut().filter(|r| r.reads_ahead()) {
                        Some(reading) => reading.read().await,
                        None => pending().await,
                    }
                };
                tokio::select! {
                    biased;
                    done = &mut work => break done,
                    Some((id, outcome)) = answer => driving.answer(id, outcome, client.now()),
                    () = read_ahead => {}
                }
            },
        };
        driving.work_done(done, client.now());
    }
}

/// The whole answer of `head` and `body`, refused past the largest body `limits` allow
/// whatever the transport does.
async fn gather(
    head: ResponseHead,
    mut body: BodyStream,
    limits: SendLimits,
) -> Result<HttpResponse> {
    let mut all = Vec::new();
    while let Some(piece) = body.next().await {
        let piece = piece?;
        if limits.refuses_length(Some((all.len() + piece.len()) as u64)) {
            return Err(limits.body_too_large());
        }
        all.extend_from_slice(&piece);
    }
    Ok(HttpResponse::from_parts(head, all))
}

/// The engine as a stream: `map` turns each event and the end into items. A failed start
/// is the stream's one item. Nothing is sent until the stream is polled; dropping it stops.
/// Fused: polled again after its end, it answers `None` again.
pub(crate) fn stream<M, L, T>(
    engine: Result<Engine<M, L>>,
    map: impl FnMut(&M, Next<M::Event, M::Output>) -> Flow<Result<T>> + Send + 'static,
) -> impl futures_core::Stream<Item = Result<T>> + Send + 'static
where
    M: Machine + Send + 'static,
    M::Event: Send,
    M::Output: Send,
    M::Work: Send,
    M::WorkDone: Send,
    L: Local<M::Work, M::WorkDone> + 'static,
    T: Send + 'static,
{
    let state = Some((engine, map));
    let stream = futures_util::stream::unfold(state, |state| async move {
        let (engine, mut map) = state?;
        let mut engine = match engine {
            Ok(engine) => engine,
            Err(error) => return Some((Err(error), None)),
        };
        let next = engine.next().await;
        let ended = matches!(next, Next::Done(_));
        match map(engine.driving.machine(), next) {
            Flow::Yield(item) if !ended => Some((item, Some((Ok(engine), map)))),
            Flow::Yield(item) | Flow::Last(item) => Some((item, None)),
            Flow::End => None,
        }
    });
    futures_util::StreamExt::fuse(stream)
}

#[cfg(test)]
#[path = "engine_tests.rs"]
mod tests;
