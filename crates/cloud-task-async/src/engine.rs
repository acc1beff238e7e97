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

use cloud_task_core::machine::{Machine, NoWork, Step};
use cloud_task_core::{CancelToken, HttpResponse, RequestId, Result, Transmit};
use futures_util::stream::{FuturesUnordered, StreamExt};

use crate::client::Client;

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

/// What the engine hands its caller: an event of the machine, or its end.
pub(crate) enum Next<E, O> {
    Event(E),
    Done(O),
}

type Answer = Pin<Box<dyn Future<Output = (RequestId, Result<HttpResponse>)> + Send>>;

/// Drives one machine on a client: sends its requests (each cut off at its deadline),
/// sleeps on the client's timer, turns its cancel token into [`Machine::cancel`], runs its
/// local work, and hands out its events and its end.
pub(crate) struct Engine<M, L = NoLocal> {
    client: Client,
    machine: M,
    local: L,
    token: Option<CancelToken>,
    cancelled: bool,
    /// Requests sent and not answered yet.
    in_flight: FuturesUnordered<Answer>,
    /// Requests handed out by the machine, not sent yet: a single one, followed by a wait
    /// for its answer, is sent without a box.
    ready: VecDeque<Transmit>,
}

impl<M: Machine> Engine<M, NoLocal>
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
            in_flight: FuturesUnordered::new(),
            ready: VecDeque::new(),
        }
    }

    /// Drives the machine to its end, handing each event to `on_event`.
    pub(crate) async fn run(mut self, mut on_event: impl FnMut(&M, M::Event)) -> M::Output {
        loop {
            match self.next().await {
                Next::Event(event) => on_event(&self.machine, event),
                Next::Done(output) => return output,
            }
        }
    }

    /// Drives the machine to its next event, or its end (after which it must not be
    /// called again).
    pub(crate) async fn next(&mut self) -> Next<M::Event, M::Output> {
        loop {
            if !self.cancelled && self.token.as_ref().is_some_and(CancelToken::is_cancelled) {
                self.cancel();
            }
            let now = self.client.now();
            let wait = match self.machine.poll_step(now) {
                Step::Send(transmit) => {
                    self.ready.push_back(transmit);
                    continue;
                }
                Step::AwaitAnswer(_) if self.ready.len() == 1 && self.in_flight.is_empty() => {
                    self.send_alone().await;
                    continue;
                }
                Step::AwaitAnswer(bound) => {
                    self.flush();
                    if self.in_flight.is_empty() {
                        // Nothing to wait for (never so when a machine says so): a bound.
                        Wait::Sleep(bound)
                    } else {
                        Wait::Answer
                    }
                }
                Step::Sleep(duration) => {
                    self.flush();
                    Wait::Sleep(duration)
                }
                Step::Work(work) => {
                    self.flush();
                    self.work(work).await;
                    continue;
                }
                Step::Emit(event) => {
                    self.flush();
                    return Next::Event(event);
                }
                Step::Done(output) => {
                    self.ready.clear();
                    self.in_flight.clear();
                    return Next::Done(output);
                }
            };
            self.wait(wait).await;
        }
    }

    fn cancel(&mut self) {
        self.cancelled = true;
        self.machine.cancel();
    }

    /// The token to race, while it has not fired yet.
    fn live_token(&self) -> Option<CancelToken> {
        self.token.clone().filter(|_| !self.cancelled)
    }

    /// Sends every ready request.
    fn flush(&mut self) {
        while let Some(transmit) = self.ready.pop_front() {
            self.in_flight.push(Box::pin(self.client.send(transmit)));
        }
    }

    /// Sends the one ready request and waits for its answer (or the token).
    async fn send_alone(&mut self) {
        let Some(transmit) = self.ready.pop_front() else {
            return;
        };
        let send = self.client.send(transmit);
        match self.live_token() {
            None => {
                let (id, outcome) = send.await;
                self.feed(id, outcome);
            }
            Some(token) => {
                tokio::select! {
                    biased;
                    () = token.cancelled() => self.cancel(),
                    (id, outcome) = send => self.feed(id, outcome),
                }
            }
        }
    }

    fn feed(&mut self, id: RequestId, outcome: Result<HttpResponse>) {
        let now = self.client.now();
        match outcome {
            Ok(response) => self.machine.handle_response(id, response, now),
            Err(error) => self.machine.handle_transport_error(id, error, now),
        }
    }

    /// Sleeps (or waits for an answer), waking early on an answer or the token.
    async fn wait(&mut self, wait: Wait) {
        let token = self.live_token();
        let cancelled = async {
            match &token {
                Some(token) => token.cancelled().await,
                None => pending().await,
            }
        };
        let timer = Arc::clone(&self.client.inner.timer);
        let sleep = async {
            match wait {
                Wait::Sleep(duration) => timer.sleep(duration).await,
                // Each request in flight is cut off at its own deadline.
                Wait::Answer => pending().await,
            }
        };
        let in_flight = &mut self.in_flight;
        let answer = async {
            if in_flight.is_empty() {
                pending().await
            } else {
                in_flight.next().await
            }
        };
        tokio::select! {
            biased;
            () = cancelled => self.cancel(),
            Some((id, outcome)) = answer => self.feed(id, outcome),
            () = sleep => {}
        }
    }

    /// Does `work` to its end, feeding the answers that come meanwhile.
    async fn work(&mut self, work: M::Work) {
        let Engine {
            client,
            machine,
            local,
            in_flight,
            ..
        } = self;
        let mut work = pin!(local.run(work));
        let done = loop {
            tokio::select! {
                biased;
                done = &mut work => break done,
                Some((id, outcome)) = in_flight.next(), if !in_flight.is_empty() => {
                    let now = client.now();
                    match outcome {
                        Ok(response) => machine.handle_response(id, response, now),
                        Err(error) => machine.handle_transport_error(id, error, now),
                    }
                }
            }
        };
        machine.handle_work(done, client.now());
    }
}

/// How the engine waits.
#[derive(Clone, Copy)]
enum Wait {
    /// On the timer, this long.
    Sleep(std::time::Duration),
    /// For an answer only.
    Answer,
}

/// What a stream does with one thing its engine handed out.
pub(crate) enum Flow<T> {
    /// Yield it and go on.
    Yield(T),
    /// Yield it, then end.
    Last(T),
    /// End.
    End,
}

/// The engine as a stream: `map` turns each event and the end into items. A failed start
/// is the stream's one item. Nothing is sent until the stream is polled; dropping it stops.
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
    futures_util::stream::unfold(state, |state| async move {
        let (engine, mut map) = state?;
        let mut engine = match engine {
            Ok(engine) => engine,
            Err(error) => return Some((Err(error), None)),
        };
        loop {
            let next = engine.next().await;
            let ended = matches!(next, Next::Done(_));
            match map(&engine.machine, next) {
                Flow::Yield(item) if !ended => return Some((item, Some((Ok(engine), map)))),
                Flow::Yield(item) | Flow::Last(item) => return Some((item, None)),
                Flow::End => return None,
            }
        }
    })
}
