//! Many requests in flight at once for one caller (`await_many`, uploads): each runs on a
//! sender thread, and the caller's thread runs the core's machine, waiting for answers,
//! for the sleeps the machine asks for, and for the user's cancel token.

use std::collections::HashMap;
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender, TryRecvError};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use cloud_task_core::{CancelGuard, CancelToken, HttpResponse, RequestId, Result, Transmit};

use crate::client::Client;
use crate::senders::Job;

/// How a machine asked to wait: until a time (a poll or a retry is due), or for an answer
/// (the earliest deadline of the requests in flight is that far).
#[derive(Debug, Clone, Copy)]
pub(crate) enum Pause {
    /// Sleep this long on the client's timer, or less when an answer arrives.
    Sleep(Duration),
    /// Wait for an answer; each request in flight is cut off at its own deadline. With
    /// nothing in flight (never the case when the machine says so, but a bound all the
    /// same), sleep this long instead.
    Answer(Duration),
}

/// What the caller's thread is woken by.
pub(crate) enum Event {
    /// The answer (or the transport's error) of a request.
    Answer(RequestId, Result<HttpResponse>),
    /// The user's cancel token fired.
    Cancelled,
}

/// Wakes the caller from a sleep when an event arrives, and only then: it counts the
/// events sent and not yet read, so that a wake can never end a later sleep for an event
/// already read.
#[derive(Default)]
struct Wakeup {
    state: Mutex<WakeState>,
}

#[derive(Default)]
struct WakeState {
    /// Events sent and not yet read.
    unread: usize,
    /// The token of the sleep in progress, if any.
    sleeping: Option<CancelToken>,
}

impl Wakeup {
    fn lock(&self) -> std::sync::MutexGuard<'_, WakeState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Sends an event (with `send`) and ends the sleep in progress, as one step.
    fn notify(&self, send: impl FnOnce()) {
        let mut state = self.lock();
        send();
        state.unread += 1;
        if let Some(token) = state.sleeping.take() {
            token.cancel();
        }
    }

    /// An event was read.
    fn read(&self) {
        let mut state = self.lock();
        state.unread = state.unread.saturating_sub(1);
    }

    /// The token for a sleep, or `None` when an event is waiting (no sleep then).
    fn arm(&self) -> Option<CancelToken> {
        let mut state = self.lock();
        if state.unread > 0 {
            return None;
        }
        let token = CancelToken::new();
        state.sleeping = Some(token.clone());
        Some(token)
    }

    /// The sleep is over.
    fn disarm(&self) {
        self.lock().sleeping = None;
    }
}

/// A request in flight: when its caller stops waiting, and how long it was given.
struct Pending {
    deadline: Instant,
    span: tracing::Span,
    limits: cloud_task_core::SendLimits,
}

/// The requests in flight of one caller.
pub(crate) struct Flights {
    client: Client,
    events: Sender<Event>,
    received: Receiver<Event>,
    /// Held while the caller waits: once it is gone, queued requests are never sent.
    caller: Arc<()>,
    wakeup: Arc<Wakeup>,
    pending: HashMap<RequestId, Pending>,
    _on_cancel: Option<CancelGuard>,
}

impl Flights {
    /// Requests of `client`, their waits ended early by `cancel`.
    pub(crate) fn new(client: &Client, cancel: Option<&CancelToken>) -> Self {
        let (events, received) = mpsc::channel();
        let wakeup = Arc::new(Wakeup::default());
        let on_cancel = cancel.map(|token| {
            let events = events.clone();
            let wakeup = Arc::clone(&wakeup);
            token.on_cancel(move || {
                wakeup.notify(|| {
                    let _ = events.send(Event::Cancelled);
                });
            })
        });
        Flights {
            client: client.clone(),
            events,
            received,
            caller: Arc::new(()),
            wakeup,
            pending: HashMap::new(),
            _on_cancel: on_cancel,
        }
    }

    /// True when no request is in flight.
    pub(crate) fn is_idle(&self) -> bool {
        self.pending.is_empty()
    }

    /// Sends `transmit` on a sender thread.
    pub(crate) fn send(&mut self, transmit: Transmit) {
        let inner = &self.client.inner;
        let id = transmit.id;
        let limits = transmit.limits(self.client.now());
        let deadline = Instant::now() + limits.timeout;
        let span = cloud_task_core::__request_span!(&transmit, inner.config);
        let events = self.events.clone();
        let wakeup = Arc::clone(&self.wakeup);
        inner.senders.submit(Job {
            transport: Arc::clone(&inner.transport),
            request: transmit.request,
            limits,
            deadline,
            caller: Arc::downgrade(&self.caller),
            span: span.clone(),
            reply: Box::new(move |outcome| {
                wakeup.notify(|| {
                    let _ = events.send(Event::Answer(id, outcome));
                });
            }),
        });
        self.pending.insert(
            id,
            Pending {
                deadline,
                span,
                limits,
            },
        );
    }

    /// The next event: at once when one is waiting; else, for [`Pause::Sleep`], after at
    /// most that long on the client's timer (`None` when it passed without one); for
    /// [`Pause::Answer`], the next answer, or the cut-off of the request whose deadline
    /// comes first (as a timeout of that request).
    pub(crate) fn next(&mut self, pause: Pause) -> Option<Event> {
        if let Some(event) = self.try_next() {
            return Some(event);
        }
        let sleep = match pause {
            Pause::Sleep(duration) => duration,
            Pause::Answer(duration) if self.pending.is_empty() => duration,
            Pause::Answer(_) => return self.next_answer(),
        };
        let Some(wake) = self.wakeup.arm() else {
            return self.try_next();
        };
        // Ended early by an answer or a cancellation: both are read next.
        let _ = self.client.timer().sleep(sleep, Some(&wake));
        self.wakeup.disarm();
        self.try_next()
    }

    /// The next answer, or the cut-off of the request whose deadline comes first.
    fn next_answer(&mut self) -> Option<Event> {
        let (&id, first) = self.pending.iter().min_by_key(|(_, p)| p.deadline)?;
        let wait = first.deadline.saturating_duration_since(Instant::now());
        match self.received.recv_timeout(wait) {
            Ok(event) => Some(self.landed(event)),
            Err(RecvTimeoutError::Timeout) => {
                let gone = self.pending.remove(&id)?;
                let outcome = Err(gone.limits.elapsed());
                cloud_task_core::__record_answer!(&gone.span, &outcome);
                Some(Event::Answer(id, outcome))
            }
            Err(RecvTimeoutError::Disconnected) => None,
        }
    }

    fn try_next(&mut self) -> Option<Event> {
        match self.received.try_recv() {
            Ok(event) => Some(self.landed(event)),
            Err(TryRecvError::Empty | TryRecvError::Disconnected) => None,
        }
    }

    /// Bookkeeping of an event read: an answered request is no longer in flight.
    fn landed(&mut self, event: Event) -> Event {
        self.wakeup.read();
        if let Event::Answer(id, outcome) = &event
            && let Some(gone) = self.pending.remove(id)
        {
            cloud_task_core::__record_answer!(&gone.span, outcome);
        }
        event
    }
}
