//! The whole upload as one machine: init, parts, final URL.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, VecDeque};
use std::fmt;
use std::time::{Duration, Instant};

use super::{
    GetUploadUrl, PartRetry, RetryDecision, UploadInit, UploadOptions, UploadPart, UploadPlan,
    UploadProgress, UploadedFile,
};
use crate::HttpResponse;
use crate::cancel::CancelToken;
use crate::config::Config;
use crate::error::{Error, Limit, Result};
use crate::exchange::{Flight, Landing, RequestId, Transmit};
use crate::ops::Operation;

/// What the driver must do next for an [`Upload`]; the answer of [`Upload::poll_action`].
#[must_use]
#[derive(Debug)]
// The transmit is handed straight to the transport: boxing it would only add an allocation.
#[allow(clippy::large_enum_variant)]
pub enum UploadAction {
    /// Send this (the `init` call, a part, or the final URL call), then feed its outcome
    /// to [`Upload::handle_response`] or [`Upload::handle_transport_error`] with its `id`.
    /// Ask again at once: more may be ready.
    Send(Transmit),
    /// Read the `len` bytes at `offset` of the source (part `part`), then feed them to
    /// [`Upload::handle_read`]. Ask again at once: reads may go on while parts are sent. A
    /// part is read again for each of its tries.
    Read {
        /// The part number, from 1.
        part: u32,
        /// Its first byte's offset in the source.
        offset: u64,
        /// Its length.
        len: u64,
    },
    /// Report this progress (0 to 100), then ask again. `part` is set when a part has
    /// just been uploaded: a driver keeping its bytes (a source it cannot read twice) may
    /// drop them.
    Progress {
        /// The percentage to report.
        percent: u8,
        /// The part that was just uploaded.
        part: Option<u32>,
    },
    /// A part's retry is due in this long: wait until then, or until an answer or a read
    /// arrives, then ask again.
    Wait(Duration),
    /// Nothing is due: only an answer or a read can move things on. Wait for one. The
    /// earliest deadline of the requests in flight is this long away: a driver cuts each
    /// request off at its own deadline (and feeds that as a transport error), or asks again
    /// then, and the machine gives the overdue request up itself.
    AwaitResponse(Duration),
    /// The upload is over.
    Done(Result<UploadedFile>),
}

/// A part's place in the upload.
#[derive(Debug)]
enum PartState {
    /// Never started.
    Pending,
    /// Asked to be read; its bytes have not come yet.
    Reading,
    /// Its bytes came: this request is ready to go.
    Ready(crate::HttpRequest),
    /// Its `PUT` is in flight.
    Sending(Flight),
    /// A try failed: read and send it again from this instant.
    RetryAt(Instant),
    /// Uploaded.
    Done,
}

#[derive(Debug)]
struct PartEntry {
    state: PartState,
    retry: PartRetry,
}

/// The parts phase.
#[derive(Debug)]
struct Parts {
    plan: UploadPlan,
    entries: Vec<PartEntry>,
    /// The first part never started.
    next: usize,
    /// How many parts may be held (from their read to their end) at once.
    slots: usize,
    /// How many are.
    held: usize,
    /// The part of each `PUT` in flight.
    flights: HashMap<RequestId, usize>,
    /// The deadlines of the `PUT`s in flight (entries of answered ones are skipped).
    deadlines: BinaryHeap<Reverse<(Instant, RequestId)>>,
    /// When failed parts go again.
    retries: BinaryHeap<Reverse<(Instant, usize)>>,
    /// Parts whose bytes came, in arrival order.
    ready: VecDeque<usize>,
    progress: UploadProgress,
    done: usize,
}

enum Phase {
    /// The `init` call: its request waiting to go (or a redirect of it), or in flight.
    Init(Option<Transmit>, Option<Flight>),
    Parts(Box<Parts>),
    /// The final call, as `Init`.
    Final(Option<Transmit>, Option<Flight>, UploadProgress),
    Finished(Result<UploadedFile>),
    Spent,
}

/// The three-step upload of one source as a machine: `init` (authorised), the parts
/// (`PUT` to presigned URLs, with neither `Authorization` nor any default header), then the
/// final URL (authorised).
///
/// Inputs are `handle_*` and [`cancel`](Self::cancel); the output is
/// [`poll_action`](Self::poll_action). The driver opens the source, reads the byte ranges
/// it is told to read, sends what it is told to send, sleeps what it is told to sleep and
/// reports progress; every decision is here:
///
/// - parts are read only when they can be sent, in order the first time;
/// - at most `options.concurrency` parts are held at once (from their read to their end),
///   fewer when they are large, so that their bytes stay within
///   [`Config::max_upload_buffer`]; an `init` answer asking for parts larger than that is
///   refused ([`Error::Limit`]) before any part is read;
/// - each part is tried `options.retries` times, waiting [`part_retry_delay`](super::part_retry_delay)
///   between tries, and read again for each try (a driver whose source cannot be read
///   twice keeps the bytes of a part until it is reported done);
/// - each `PUT` must be answered within `options.part_timeout`; the `init` and final
///   calls within the per-request timeout; a request not answered by its deadline is given
///   up by the machine itself, whatever the transport;
/// - cancelling (here, or through the options' token) ends the upload at once with
///   [`Error::Cancelled`]; parts in flight are abandoned and their answers ignored. Both
///   drivers do exactly this.
///
/// ```text
/// let mut upload = Upload::new(&config, file_name, size, &options, now())?;
/// loop {
///     match upload.poll_action(now()) {
///         UploadAction::Send(t) => start_sending(t),             // answers come back later
///         UploadAction::Read { part, offset, len } => upload.handle_read(part, read(offset, len), now()),
///         UploadAction::Progress { percent, .. } => options.report_progress(percent),
///         UploadAction::Wait(d) | UploadAction::AwaitResponse(d) => match wait_for_answer(d) {
///             Some((id, Ok(response))) => upload.handle_response(id, response, now()),
///             Some((id, Err(error))) => upload.handle_transport_error(id, error, now()),
///             None => {}                                    // (or cancelled: upload.cancel())
///         },
///         UploadAction::Done(outcome) => return outcome,
///     }
/// }
/// ```
pub struct Upload {
    config: Config,
    retries: u32,
    concurrency: usize,
    part_timeout: Duration,
    size: u64,
    cancel: Option<CancelToken>,
    phase: Phase,
    events: VecDeque<(u8, Option<u32>)>,
}

impl fmt::Debug for Upload {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let phase = match &self.phase {
            Phase::Init(..) => "init",
            Phase::Parts(_) => "parts",
            Phase::Final(..) => "final",
            Phase::Finished(_) | Phase::Spent => "finished",
        };
        f.debug_struct("Upload")
            .field("size", &self.size)
            .field("phase", &phase)
            .finish_non_exhaustive()
    }
}

impl Upload {
    /// The upload of `size` bytes named `file_name` (its extension is sent to `init`).
    /// Nothing is sent before the first [`poll_action`](Self::poll_action). Refuses invalid
    /// options ([`UploadOptions::validate`]).
    pub fn new(
        config: &Config,
        file_name: &str,
        size: u64,
        options: &UploadOptions,
        now: Instant,
    ) -> Result<Upload> {
        options.validate()?;
        let request = UploadInit::for_file(file_name, size).request(config)?;
        let (flight, transmit) = Flight::launch(config, UploadInit::NAME, request, now, None, true);
        Ok(Upload {
            config: config.clone(),
            retries: options.get_retries(),
            concurrency: options.get_concurrency(),
            part_timeout: options.get_part_timeout(),
            size,
            cancel: options.get_cancel_token().cloned(),
            phase: Phase::Init(Some(transmit), Some(flight)),
            events: VecDeque::new(),
        })
    }

    /// The cancel token of its options, if any.
    pub(crate) fn get_cancel_token(&self) -> Option<&CancelToken> {
        self.cancel.as_ref()
    }

    /// Hands out the report of `percent` next (after the part's release).
    pub(crate) fn requeue_progress(&mut self, percent: u8) {
        self.events.push_front((percent, None));
    }

    /// What to do next, at `now`.
    pub fn poll_action(&mut self, now: Instant) -> UploadAction {
        if self.cancel.as_ref().is_some_and(CancelToken::is_cancelled) {
            self.cancel();
        }
        if let Some((percent, part)) = self.events.pop_front() {
            return UploadAction::Progress { percent, part };
        }
        match std::mem::replace(&mut self.phase, Phase::Spent) {
            Phase::Init(pending, flight) => {
                let (action, flight) = single(pending, flight, now);
                self.phase = match (&action, flight) {
                    (UploadAction::Done(_), _) => Phase::Spent,
                    (_, flight) => Phase::Init(None, flight),
                };
                action
            }
            Phase::Final(pending, flight, progress) => {
                let (action, flight) = single(pending, flight, now);
                self.phase = match (&action, flight) {
                    (UploadAction::Done(_), _) => Phase::Spent,
                    (_, flight) => Phase::Final(None, flight, progress),
                };
                action
            }
            Phase::Parts(mut parts) => {
                let (action, keep) = self.parts_action(&mut parts, now);
                if keep {
                    self.phase = Phase::Parts(parts);
                }
                action
            }
            Phase::Finished(outcome) => UploadAction::Done(outcome),
            Phase::Spent => UploadAction::Done(Err(Error::misuse(
                "upload",
                "poll_action was called again after the upload was over",
            ))),
        }
    }

    /// The next action of the parts phase, and whether the machine stays in it (else it
    /// has moved on to the final call, `self.phase`, or ended).
    fn parts_action(&mut self, parts: &mut Parts, now: Instant) -> (UploadAction, bool) {
        // Requests not answered by their deadline are failed tries.
        while let Some(Reverse((at, id))) = parts.deadlines.peek().copied() {
            if at > now {
                break;
            }
            parts.deadlines.pop();
            let Some(index) = parts.flights.remove(&id) else {
                continue;
            };
            let entry = &mut parts.entries[index];
            if let PartState::Sending(flight) =
                std::mem::replace(&mut entry.state, PartState::Pending)
            {
                if let Err(error) = fail_try(entry, flight.elapsed(), now) {
                    return (UploadAction::Done(Err(error)), false);
                }
                if let PartState::RetryAt(at) = entry.state {
                    parts.retries.push(Reverse((at, index)));
                }
            }
        }
        // Parts whose wait is over are read again.
        if let Some(Reverse((at, index))) = parts.retries.peek().copied()
            && at <= now
        {
            parts.retries.pop();
            let part = &parts.plan.parts()[index];
            parts.entries[index].state = PartState::Reading;
            let read = UploadAction::Read {
                part: part.number,
                offset: part.offset,
                len: part.len,
            };
            return (read, true);
        }
        // Parts whose bytes came go out.
        if let Some(index) = parts.ready.pop_front() {
            let entry = &mut parts.entries[index];
            if let PartState::Ready(request) =
                std::mem::replace(&mut entry.state, PartState::Pending)
            {
                let (flight, transmit) = Flight::launch_for(
                    &self.config,
                    "upload_part",
                    request,
                    now,
                    self.part_timeout,
                    None,
                    false,
                );
                parts.flights.insert(flight.id, index);
                parts.deadlines.push(Reverse((flight.deadline, flight.id)));
                entry.state = PartState::Sending(flight);
                return (UploadAction::Send(transmit), true);
            }
        }
        // New parts start while there is room.
        if parts.held < parts.slots && parts.next < parts.entries.len() {
            let index = parts.next;
            parts.next += 1;
            parts.held += 1;
            parts.entries[index].state = PartState::Reading;
            let part = &parts.plan.parts()[index];
            let read = UploadAction::Read {
                part: part.number,
                offset: part.offset,
                len: part.len,
            };
            return (read, true);
        }
        if parts.done == parts.entries.len() {
            return (self.start_final(parts, now), false);
        }
        let retry = parts.retries.peek().map(|Reverse((at, _))| *at);
        let deadline = parts.deadlines.peek().map(|Reverse((at, _))| *at);
        let action = match (retry, deadline) {
            (Some(retry), Some(deadline)) if deadline < retry => {
                UploadAction::AwaitResponse(deadline.saturating_duration_since(now))
            }
            (Some(retry), _) => UploadAction::Wait(retry.saturating_duration_since(now)),
            (None, Some(deadline)) => {
                UploadAction::AwaitResponse(deadline.saturating_duration_since(now))
            }
            // Only reads are outstanding: they end by themselves.
            (None, None) => UploadAction::AwaitResponse(self.part_timeout),
        };
        (action, true)
    }

    fn start_final(&mut self, parts: &Parts, now: Instant) -> UploadAction {
        let request = match parts.plan.final_url().request(&self.config) {
            Ok(request) => request,
            Err(error) => return UploadAction::Done(Err(error)),
        };
        let (flight, transmit) =
            Flight::launch(&self.config, GetUploadUrl::NAME, request, now, None, true);
        self.phase = Phase::Final(None, Some(flight), parts.progress);
        UploadAction::Send(transmit)
    }

    /// Feeds the bytes of part `part` (or the error of reading them). Bytes of a part
    /// that was not asked for, or that arrive after the upload ended, are dropped.
    pub fn handle_read(&mut self, part: u32, bytes: Result<Vec<u8>>, _now: Instant) {
        let Phase::Parts(parts) = &mut self.phase else {
            return;
        };
        let Some(index) = (part as usize).checked_sub(1) else {
            return;
        };
        let Some(entry) = parts.entries.get_mut(index) else {
            return;
        };
        if !matches!(entry.state, PartState::Reading) {
            return;
        }
        let failed = match bytes.and_then(|bytes| parts.plan.parts()[index].request(bytes)) {
            Ok(request) => {
                entry.state = PartState::Ready(request);
                parts.ready.push_back(index);
                None
            }
            // A local read failure is final: retrying reads the same source.
            Err(error) => Some(error),
        };
        if let Some(error) = failed {
            self.phase = Phase::Finished(Err(error));
        }
    }

    /// Feeds the answer to request `id` (answers of requests given up or unknown are
    /// ignored).
    pub fn handle_response(&mut self, id: RequestId, response: HttpResponse, now: Instant) {
        self.answer(id, Ok(response), now);
    }

    /// Feeds the transport's failure of request `id`: for a part, a failed try (retried);
    /// for the `init` or final call, the end of the upload.
    pub fn handle_transport_error(&mut self, id: RequestId, error: Error, now: Instant) {
        self.answer(id, Err(error), now);
    }

    fn answer(&mut self, id: RequestId, outcome: Result<HttpResponse>, now: Instant) {
        match std::mem::replace(&mut self.phase, Phase::Spent) {
            Phase::Init(pending, Some(mut flight)) if pending.is_none() && flight.id == id => {
                self.phase = match land(&self.config, &mut flight, outcome) {
                    Ok(Landed::Follow(transmit)) => Phase::Init(Some(transmit), Some(flight)),
                    Ok(Landed::Response(response)) => {
                        self.planned(UploadInit::for_file("", self.size).parse(response))
                    }
                    Err(error) => Phase::Finished(Err(error)),
                };
            }
            Phase::Final(pending, Some(mut flight), mut progress)
                if pending.is_none() && flight.id == id =>
            {
                self.phase = match land(&self.config, &mut flight, outcome) {
                    Ok(Landed::Follow(transmit)) => {
                        Phase::Final(Some(transmit), Some(flight), progress)
                    }
                    Ok(Landed::Response(response)) => {
                        match GetUploadUrl::new(String::new()).parse(response) {
                            Ok(file) => {
                                self.events.push_back((progress.on_complete(), None));
                                Phase::Finished(Ok(file))
                            }
                            Err(error) => Phase::Finished(Err(error)),
                        }
                    }
                    Err(error) => Phase::Finished(Err(error)),
                };
            }
            Phase::Parts(mut parts) => {
                if let Err(error) = self.part_answer(&mut parts, id, outcome, now) {
                    self.phase = Phase::Finished(Err(error));
                } else {
                    self.phase = Phase::Parts(parts);
                }
            }
            other => self.phase = other,
        }
    }

    /// The parts phase from the `init` answer, or the end when it is unusable.
    fn planned(&self, target: Result<super::UploadTarget>) -> Phase {
        let plan = match target.and_then(|target| UploadPlan::new(&target, self.size)) {
            Ok(plan) => plan,
            Err(error) => return Phase::Finished(Err(error)),
        };
        let largest = plan.parts().iter().map(|p| p.len).max().unwrap_or(0);
        let budget = self.config.max_upload_buffer();
        if largest > budget {
            return Phase::Finished(Err(Error::limit(
                UploadInit::NAME,
                Limit::UploadBuffer,
                budget,
            )));
        }
        let fit = usize::try_from(budget / largest.max(1)).unwrap_or(usize::MAX);
        let slots = self.concurrency.min(fit).max(1);
        let entries = plan
            .parts()
            .iter()
            .map(|part| PartEntry {
                state: PartState::Pending,
                retry: part.retry(self.retries),
            })
            .collect();
        Phase::Parts(Box::new(Parts {
            progress: plan.progress(),
            plan,
            entries,
            next: 0,
            slots,
            held: 0,
            flights: HashMap::new(),
            deadlines: BinaryHeap::new(),
            retries: BinaryHeap::new(),
            ready: VecDeque::new(),
            done: 0,
        }))
    }

    /// An answer to a part's `PUT`: done, or a failed try (retried, or the upload's end).
    fn part_answer(
        &mut self,
        parts: &mut Parts,
        id: RequestId,
        outcome: Result<HttpResponse>,
        now: Instant,
    ) -> Result<()> {
        let Some(index) = parts.flights.remove(&id) else {
            return Ok(());
        };
        let entry = &mut parts.entries[index];
        let PartState::Sending(mut flight) =
            std::mem::replace(&mut entry.state, PartState::Pending)
        else {
            return Ok(());
        };
        let part: &UploadPart = &parts.plan.parts()[index];
        let outcome = match land(&self.config, &mut flight, outcome) {
            Ok(Landed::Response(response)) => part.parse(response),
            Ok(Landed::Follow(_)) => Ok(()), // parts follow no redirect: never reached
            Err(error) => Err(error),
        };
        match outcome {
            Ok(()) => {
                entry.state = PartState::Done;
                parts.held -= 1;
                parts.done += 1;
                let percent = parts.progress.on_part_done(part.len);
                self.events.push_back((percent, Some(part.number)));
                Ok(())
            }
            Err(error) => {
                fail_try(entry, error, now)?;
                if let PartState::RetryAt(at) = entry.state {
                    parts.retries.push(Reverse((at, index)));
                }
                Ok(())
            }
        }
    }

    /// Ends the upload with [`Error::Cancelled`] (unless it is over already). Requests in
    /// flight are abandoned: their answers are ignored.
    pub fn cancel(&mut self) {
        if !matches!(self.phase, Phase::Finished(_) | Phase::Spent) {
            self.events.clear();
            self.phase = Phase::Finished(Err(Error::cancelled()));
        }
    }

    /// The size being uploaded.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// The plan, once the `init` call has answered (and until the final call).
    pub fn plan(&self) -> Option<&UploadPlan> {
        match &self.phase {
            Phase::Parts(parts) => Some(&parts.plan),
            _ => None,
        }
    }

    /// How many parts may be held at once (known once the `init` call has answered).
    pub fn parallel_parts(&self) -> Option<usize> {
        match &self.phase {
            Phase::Parts(parts) => Some(parts.slots),
            _ => None,
        }
    }
}

/// What an answer to a single call amounts to.
enum Landed {
    Response(HttpResponse),
    Follow(Transmit),
}

fn land(config: &Config, flight: &mut Flight, outcome: Result<HttpResponse>) -> Result<Landed> {
    match outcome {
        Ok(response) => match flight.land(config, response) {
            Landing::Response(response) => Ok(Landed::Response(response)),
            Landing::Follow(transmit) => Ok(Landed::Follow(transmit)),
            Landing::Failed(error) => Err(error),
        },
        Err(error) => Err(flight.name_error(error)),
    }
}

/// The next action of the `init` or final call, and what remains in flight.
fn single(
    pending: Option<Transmit>,
    flight: Option<Flight>,
    now: Instant,
) -> (UploadAction, Option<Flight>) {
    match (pending, flight) {
        (Some(transmit), flight) => (UploadAction::Send(transmit), flight),
        (None, Some(flight)) if flight.is_overdue(now) => {
            (UploadAction::Done(Err(flight.elapsed())), None)
        }
        (None, Some(flight)) => {
            let wait = flight.deadline - now;
            (UploadAction::AwaitResponse(wait), Some(flight))
        }
        (None, None) => (
            UploadAction::Done(Err(Error::misuse(
                "upload",
                "poll_action was called while no request was in flight",
            ))),
            None,
        ),
    }
}

/// Counts a failed try of a part: schedules its retry, or answers the error that ends
/// the upload.
fn fail_try(entry: &mut PartEntry, error: Error, now: Instant) -> Result<()> {
    match entry.retry.on_failure(error) {
        RetryDecision::RetryAfter(wait) => {
            let at = now
                .checked_add(wait)
                .unwrap_or_else(|| crate::exchange::far_future(now));
            entry.state = PartState::RetryAt(at);
            Ok(())
        }
        RetryDecision::GiveUp(error) => Err(error),
    }
}
