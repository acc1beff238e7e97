//! Running one block over many inputs, as a value: the machine behind `run_many`, and the
//! journal that lets a batch survive a crash.

use std::collections::{HashMap, HashSet, VecDeque};
use std::fmt;
use std::time::{Duration, Instant};

use crate::config::Config;
use crate::error::{Error, TransportErrorKind};
use crate::exchange::{Call, CallAction, Flight, Landing, RequestId};
use crate::models::TaskStatus;
use crate::ops::{CreateTask, CreateTaskRequest, GetDashboard, Operation};
use crate::poll_set::{PollSetAction, PollerSet};
use crate::{HttpResponse, wire};

/// The longest a refusal holds the creates back, whatever its `Retry-After` says.
pub const MAX_HOLD: Duration = Duration::from_secs(60);
/// The shortest a refusal holds the creates back (a `Retry-After: 0` included).
const MIN_HOLD: Duration = Duration::from_millis(100);
/// How often the dashboard is read again while inputs are left to create.
const DASHBOARD_EVERY: Duration = Duration::from_secs(5);
/// How long after an unknown create the lookup waits, so that a create the server is still
/// processing can be found.
const LOOKUP_DELAY: Duration = Duration::from_secs(2);
/// How far before the first unknown create the lookup reads the task list (clock skew
/// between this machine and the server).
const LOOKUP_SKEW_MS: i64 = 5 * 60 * 1000;

mod events;
mod journal;
mod lookup;
mod options;

pub use events::{BatchAction, BatchCounts, BatchEvent, BatchItem, BatchOutcome};
pub use journal::{JournalRecord, JournalReplay, MAX_JOURNAL_LINE, input_identity};
pub use options::{BatchOptions, DEFAULT_CREATES_IN_FLIGHT, DEFAULT_MAX_REFUSALS};

use journal::{JOURNAL_VERSION, Known, Record};
use lookup::Lookup;

/// Where one input stands.
#[derive(Debug)]
enum Item {
    Pending { refusals: u32 },
    Creating { refusals: u32, sent_ms: u64 },
    Active { slot: usize },
    Unknown { refusals: u32, error: Error },
    Ended,
}

/// A batch of creates and waits under one scheduler: bounded creates in flight, the
/// account's limits kept, refusals backed off, unknown outcomes settled, results handed out
/// as they finish.
///
/// # What a batch guarantees
///
/// - **At most one task per input.** A create is never sent twice unless its first
///   sending was definitely refused: a `429`, `408` or `425` answer, or a connection that
///   could not be opened (nothing reached the server). A create whose outcome is unknown (a
///   connection dropped after sending, a timeout, a `5xx`, an unreadable `2xx`) is not sent
///   again: it is looked up among the account's tasks (see below) and, when not found,
///   handed out as [`BatchOutcome::Unknown`] with its input's index.
/// - **The account's limits are kept.** Before creating, the batch reads the dashboard's
///   `maxConcurrency` and `maxQueueSize` and keeps its own queued-plus-running tasks within
///   what the account's other tasks leave free (re-read every few seconds while inputs are
///   left, and after a refusal). When the dashboard shows no room and none of the batch's
///   tasks is in flight, one create goes out all the same, so that the server's answer,
///   not the dashboard, decides: a dashboard cannot hold a batch for ever. A `429` holds
///   every create back for its `Retry-After` (at most [`MAX_HOLD`]).
/// - **Nothing obtained is lost.** With a journal, each input's task ID is recorded as
///   soon as its create answers, before any waiting, and each result when it is obtained.
///   Resuming from the journal ([`JournalReplay`], [`Batch::resume`]) re-attaches to the
///   tasks it holds and creates only the inputs that were never created.
///
/// # Looking up unknown outcomes
///
/// A task's listing carries the inputs it was created with (`schedulerPayload`), so an
/// unknown create can be settled: once no create is left to send, the batch walks the
/// account's task list from the newest, back to a few minutes before the first unknown
/// create was sent, and matches each task not already known by package, version, block
/// and inputs. A match is attached to its input (recorded as created and waited for);
/// inputs without a match are [`BatchOutcome::Unknown`], and created again only with
/// [`BatchOptions::recreate_unknown`]. Identical inputs are interchangeable: a match is
/// given to the first of them. (Another client creating the very same inputs in that
/// window could be mistaken for ours: turn the lookup off with
/// [`BatchOptions::lookup_unknown`] if that can happen.)
///
/// # The journal
///
/// JSON Lines, one record per line, appended. The first line is a header
/// (`{"t":"batch","v":1,...}`); then, per input `i`: `sending` (written and synced before
/// its create is sent), `created` (with the task ID), `not_created` (a definite refusal,
/// or a lookup that found nothing), `unknown`, and `done` (the result: status, result URL
/// and data, or the failure message). Every record about an input carries that input's
/// identity (`input`): the first 128 bits of the SHA-256 of its canonical JSON (package,
/// version, block and inputs, object keys sorted), so a resume against a changed input file
/// is refused, naming the first input that differs.
///
/// The machine says when to make the journal durable ([`BatchAction::Sync`]): before a
/// create is sent, and before any wait. Records between two syncs are synced together, so
/// a batch of ten thousand inputs costs a few thousand syncs, not tens of thousands.
///
/// # Driving it
///
/// Calling order: loop on [`poll_action`](Self::poll_action) and do what it says:
/// append [`BatchAction::Record`]s to the journal and sync it on [`BatchAction::Sync`];
/// send what it says to send and feed each answer back with its `id`; hand out
/// [`BatchAction::Item`]s; sleep on [`BatchAction::Wait`] (waking on an answer); stop at
/// [`BatchAction::Finished`]. Every request carries its deadline; a create whose answer is
/// overdue is given up by the batch itself (as unknown).
///
/// ```
/// use std::time::{Duration, Instant};
/// use cloud_task_core::{Batch, BatchAction, BatchOptions, BatchOutcome, Config, CreateTaskRequest, http};
///
/// let config = Config::builder().api_key("k").build()?;
/// let inputs = vec![CreateTaskRequest::new("@oomol/echo", "1.0.0", "main").input("n", 1)];
/// let options = BatchOptions::new().account_limits(false);
/// let start = Instant::now();
/// let mut batch = Batch::new(&config, inputs, options, start, 1_700_000_000_000)?;
/// let mut now = start;
/// let mut journal = String::new();
/// let item = loop {
///     match batch.poll_action(now) {
///         BatchAction::Record(record) => journal.push_str(&record.to_line()),
///         BatchAction::Sync => {} // flush and sync the journal here
///         BatchAction::Send { transmit, .. } => {
///             let body: &[u8] = if transmit.name == "create_task" {
///                 br#"{"taskID":"t-1"}"#
///             } else {
///                 br#"{"status":"success","resultURL":null,"resultData":[{"n":1}]}"#
///             };
///             batch.handle_response(transmit.id, http::Response::new(body.to_vec()), now);
///         }
///         BatchAction::Wait(d) => now += d,
///         BatchAction::Item(item) => break item,
///         _ => {}
///     }
/// };
/// assert!(matches!(item.outcome, BatchOutcome::Succeeded(_)));
/// assert_eq!(journal.lines().count(), 4); // header, sending, created, done
/// # Ok::<(), cloud_task_core::Error>(())
/// ```
pub struct Batch {
    config: Config,
    options: BatchOptions,
    requests: Vec<CreateTaskRequest>,
    identities: Vec<String>,
    items: Vec<Item>,
    pending: VecDeque<usize>,
    creates: HashMap<RequestId, (usize, Flight)>,
    set: PollerSet,
    /// The input of each task of the set.
    slot_input: Vec<usize>,
    /// Whether each task of the set was last seen running.
    slot_running: Vec<bool>,
    /// The task of each slot of the set (the set forgets it once finished).
    slot_tasks: Vec<String>,
    /// Inputs that have ended.
    ended: usize,
    /// The inputs whose end the journal already holds (a resume): no second `done`.
    done_in_journal: HashSet<usize>,
    known_tasks: HashSet<String>,
    out: VecDeque<BatchAction>,
    unsynced: bool,
    counts: BatchCounts,
    start: Instant,
    start_wall_ms: u64,
    /// When each unknown create was sent (ms since the epoch), for the lookup's cutoff.
    unknown_since: HashMap<usize, u64>,
    unknown_waiting: usize,
    // The account's limits.
    dashboard: Option<(Call, Option<RequestId>)>,
    next_dashboard: Option<Instant>,
    limits_read: bool,
    account_room: Option<u64>,
    hold_until: Option<Instant>,
    refusals_in_row: u32,
    fatal: Option<crate::error::ApiError>,
    lookup: Option<Lookup>,
    lookup_after: Option<Instant>,
    cancelled: bool,
    finished: bool,
    /// The journal could not be written (fed by a driver's engine).
    local_error: Option<Error>,
}

impl fmt::Debug for Batch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Batch")
            .field("counts", &self.counts)
            .field("cancelled", &self.cancelled)
            .finish_non_exhaustive()
    }
}

impl Batch {
    /// A batch creating a task for each of `requests`, started at `now`; `wall_ms` is the
    /// wall clock at `now` (milliseconds since the Unix epoch), for the journal and the
    /// lookup. Every request is checked here, before anything is sent: the first invalid
    /// one is an [`Error::InvalidInput`] naming its index.
    pub fn new(
        config: &Config,
        requests: Vec<CreateTaskRequest>,
        options: BatchOptions,
        now: Instant,
        wall_ms: u64,
    ) -> Result<Batch, Error> {
        Batch::resume(
            config,
            requests,
            options,
            &JournalReplay::new(),
            now,
            wall_ms,
        )
    }

    /// [`new`](Self::new), resuming from a journal read back: inputs it holds a task for
    /// are re-attached (waited for, not created); inputs it says were definitely not
    /// created, and inputs it does not mention, are created; inputs whose create was sent
    /// without a recorded answer are looked up (see the module docs). A journal about other
    /// inputs (an input's identity differs, or it names an input past the end) is an
    /// [`Error::InvalidInput`] naming the first such input.
    pub fn resume(
        config: &Config,
        requests: Vec<CreateTaskRequest>,
        options: BatchOptions,
        replay: &JournalReplay,
        now: Instant,
        wall_ms: u64,
    ) -> Result<Batch, Error> {
        for (index, request) in requests.iter().enumerate() {
            CreateTask::new(request.clone())
                .request(config)
                .map_err(|error| {
                    Error::invalid_input("requests", format!("input {index}: {error}"))
                })?;
        }
        let identities: Vec<String> = requests.iter().map(input_identity).collect();
        let mut known: Vec<(&u64, &(String, Known))> = replay.known.iter().collect();
        known.sort_by_key(|(i, _)| **i);
        for (i, (identity, _)) in &known {
            match identities.get(**i as usize) {
                Some(current) if current == identity => {}
                Some(_) => {
                    return Err(Error::invalid_input(
                        "journal",
                        format!(
                            "input {i} is not the one the journal recorded: the inputs changed since the journal was written (use a new journal for new inputs)"
                        ),
                    ));
                }
                None => {
                    return Err(Error::invalid_input(
                        "journal",
                        format!(
                            "the journal records input {i}, but there are only {} inputs: the inputs changed since the journal was written",
                            requests.len()
                        ),
                    ));
                }
            }
        }
        let await_options = options.await_options.clone();
        let mut batch = Batch {
            config: config.clone(),
            requests,
            identities,
            items: Vec::new(),
            pending: VecDeque::new(),
            creates: HashMap::new(),
            set: PollerSet::new(config, Vec::<String>::new(), &await_options, now),
            slot_input: Vec::new(),
            slot_running: Vec::new(),
            slot_tasks: Vec::new(),
            ended: 0,
            known_tasks: HashSet::new(),
            done_in_journal: HashSet::new(),
            out: VecDeque::new(),
            unsynced: false,
            counts: BatchCounts::default(),
            start: now,
            start_wall_ms: wall_ms,
            unknown_since: HashMap::new(),
            unknown_waiting: 0,
            dashboard: None,
            next_dashboard: options.account_limits.then_some(now),
            limits_read: !options.account_limits,
            account_room: None,
            hold_until: None,
            refusals_in_row: 0,
            fatal: None,
            lookup: None,
            lookup_after: None,
            cancelled: false,
            finished: false,
            local_error: None,
            options,
        };
        let total = batch.requests.len();
        batch.counts.total = total;
        if replay.is_empty() {
            batch.record(Record::Batch {
                v: JOURNAL_VERSION,
                inputs: total as u64,
                at: wall_ms,
            });
        }
        for index in 0..total {
            match replay.known.get(&(index as u64)).map(|(_, k)| k) {
                Some(Known::Created(task)) => {
                    batch.items.push(Item::Ended);
                    batch.attach(index, task.clone(), now, false);
                }
                // Its result is read again (a result URL may have expired since), but
                // the journal keeps the one `done` record it has.
                Some(Known::Done(task)) => {
                    batch.items.push(Item::Ended);
                    batch.done_in_journal.insert(index);
                    batch.attach(index, task.clone(), now, false);
                }
                Some(Known::Sending { at } | Known::Unknown { at }) => {
                    batch.items.push(Item::Unknown {
                        refusals: 0,
                        error: Error::protocol(
                            "create_task",
                            "the create was sent before the batch stopped, and its answer was not recorded",
                        ),
                    });
                    batch.counts.unknown += 1;
                    batch.unknown_waiting += 1;
                    let at = if *at == 0 { wall_ms } else { *at };
                    batch.unknown_since.insert(index, at);
                    batch.lookup_after = Some(now);
                }
                Some(Known::NotCreated) | None => {
                    batch.items.push(Item::Pending { refusals: 0 });
                    batch.pending.push_back(index);
                    batch.counts.pending += 1;
                }
            }
        }
        if batch.unknown_waiting > 0 && !batch.options.lookup_unknown {
            batch.settle_unknown_without_lookup();
        }
        Ok(batch)
    }

    /// The journal could not be written: the batch ends with `error` at its next step.
    pub(crate) fn fail_local(&mut self, error: Error) {
        self.local_error.get_or_insert(error);
    }

    /// The journal's failure, once.
    pub(crate) fn take_local_error(&mut self) -> Option<Error> {
        self.local_error.take()
    }

    /// Where the batch stands.
    pub fn counts(&self) -> BatchCounts {
        self.counts
    }

    /// The options of the batch.
    pub fn options(&self) -> &BatchOptions {
        &self.options
    }

    /// True once [`cancel`](Self::cancel) was called: a driver stops watching its cancel
    /// token then (it would fire again at once), and keeps reading the answers of the
    /// creates still in flight.
    pub fn is_cancelled(&self) -> bool {
        self.cancelled
    }

    /// The task of input `index`, while the batch waits for it.
    pub fn task_id(&self, index: usize) -> Option<&str> {
        match self.items.get(index) {
            Some(Item::Active { slot }) => self.set.task_id(*slot),
            _ => None,
        }
    }

    /// Stops creating: inputs not created yet end [`BatchOutcome::Cancelled`], tasks
    /// being waited for end so too (they keep running, and stay in the journal), inputs
    /// whose create is unknown end [`BatchOutcome::Unknown`]. The answers of creates in
    /// flight are still awaited (until their deadlines), so that their tasks are recorded.
    pub fn cancel(&mut self) {
        if self.cancelled {
            return;
        }
        self.cancelled = true;
        self.dashboard = None;
        if let Some(mut lookup) = self.lookup.take() {
            lookup.pages.cancel();
        }
        while let Some(index) = self.pending.pop_front() {
            self.counts.pending -= 1;
            self.end(index, None, BatchOutcome::Cancelled);
        }
        self.settle_unknown_without_lookup();
        self.set.cancel();
        self.drain_set();
    }

    /// Feeds the answer to request `id` (answers of requests given up or unknown are
    /// ignored).
    pub fn handle_response(&mut self, id: RequestId, response: HttpResponse, now: Instant) {
        self.answered(id, Ok(response), now);
    }

    /// Feeds a transport failure of request `id`.
    pub fn handle_transport_error(&mut self, id: RequestId, error: Error, now: Instant) {
        self.answered(id, Err(error), now);
    }

    fn answered(&mut self, id: RequestId, outcome: Result<HttpResponse, Error>, now: Instant) {
        if let Some((index, flight)) = self.creates.remove(&id) {
            self.create_answered(index, flight, outcome, now);
            return;
        }
        if let Some((call, sent)) = &mut self.dashboard
            && *sent == Some(id)
        {
            match outcome {
                Ok(response) => call.handle_response(id, response, now),
                Err(error) => call.handle_transport_error(id, error, now),
            }
            *sent = None;
            return;
        }
        if let Some(lookup) = &mut self.lookup
            && lookup.sent == Some(id)
        {
            match outcome {
                Ok(response) => lookup.pages.handle_response(id, response, now),
                Err(error) => lookup.pages.handle_transport_error(id, error, now),
            }
            lookup.sent = None;
            return;
        }
        match outcome {
            Ok(response) => self.set.handle_response(id, response, now),
            Err(error) => self.set.handle_transport_error(id, error, now),
        }
    }

    /// What to do next, at `now`.
    pub fn poll_action(&mut self, now: Instant) -> BatchAction {
        loop {
            if let Some(action) = self.out.pop_front() {
                return action;
            }
            if self.finished {
                return BatchAction::Finished;
            }
            self.expire_creates(now);
            if !self.out.is_empty() {
                continue;
            }
            if let Some(action) = self.step_dashboard(now) {
                return action;
            }
            if !self.out.is_empty() {
                continue;
            }
            if let Some(action) = self.step_lookup(now) {
                return action;
            }
            if !self.out.is_empty() {
                continue;
            }
            if self.step_create(now) {
                continue;
            }
            let set_wait = match self.set.poll_action(now) {
                PollSetAction::Send { index, transmit } => {
                    self.drain_set();
                    let input = self.slot_input[index];
                    return BatchAction::Send {
                        index: Some(input),
                        transmit,
                    };
                }
                PollSetAction::Progress {
                    index,
                    progress,
                    status,
                } => {
                    self.drain_set();
                    let running = status == TaskStatus::Running;
                    if self.slot_running[index] != running {
                        self.slot_running[index] = running;
                        if running {
                            self.counts.queued -= 1;
                            self.counts.running += 1;
                        } else {
                            self.counts.running -= 1;
                            self.counts.queued += 1;
                        }
                    }
                    return BatchAction::Progress {
                        index: self.slot_input[index],
                        progress,
                        status,
                    };
                }
                PollSetAction::Wait(d) | PollSetAction::AwaitResponse(d) => Some(d),
                PollSetAction::Finished => None,
            };
            self.drain_set();
            if !self.out.is_empty() {
                continue;
            }
            if self.unsynced {
                self.unsynced = false;
                return BatchAction::Sync;
            }
            if self.ended == self.counts.total && self.creates.is_empty() && self.lookup.is_none() {
                self.finished = true;
                self.dashboard = None;
                return BatchAction::Finished;
            }
            return BatchAction::Wait(self.next_wake(now, set_wait));
        }
    }

    /// The longest the driver may sleep: until the next poll, create, dashboard read or
    /// lookup is due, or the earliest deadline of a request in flight.
    fn next_wake(&self, now: Instant, set_wait: Option<Duration>) -> Duration {
        let mut at: Vec<Instant> = Vec::new();
        if let Some(d) = set_wait {
            at.push(now + d);
        }
        at.extend(self.creates.values().map(|(_, flight)| flight.deadline));
        if let Some((call, _)) = &self.dashboard {
            at.extend(call.deadline());
        }
        if !self.pending.is_empty() {
            at.extend(self.next_dashboard);
            if self.room() > 0 {
                at.extend(self.hold_until);
            }
        }
        // The lookup starts only once no create is pending or in flight (`step_lookup`):
        // before, its time is no reason to wake (a lookup due while a create is held
        // would make every wait zero, a busy loop until the hold ends).
        if self.lookup.is_none()
            && self.unknown_waiting > 0
            && self.pending.is_empty()
            && self.creates.is_empty()
        {
            at.extend(self.lookup_after);
        }
        if self.lookup.is_some() {
            // The paginator says how long its page may take; be back by then.
            at.push(now + self.config.timeout());
        }
        at.into_iter()
            .min()
            .map(|at| at.saturating_duration_since(now))
            // Nothing due (never, while an input is unfinished): a bound all the same.
            .unwrap_or(Duration::from_secs(1))
    }

    fn record(&mut self, record: Record) {
        self.out
            .push_back(BatchAction::Record(JournalRecord(record)));
        self.unsynced = true;
    }

    fn wall_ms(&self, now: Instant) -> u64 {
        self.start_wall_ms
            .saturating_add(now.saturating_duration_since(self.start).as_millis() as u64)
    }

    /// Ends input `index` with `outcome`, counting it.
    fn end(&mut self, index: usize, task_id: Option<String>, outcome: BatchOutcome) {
        match &outcome {
            BatchOutcome::Succeeded(_) => self.counts.done += 1,
            BatchOutcome::Failed(_) | BatchOutcome::NotCreated(_) => self.counts.failed += 1,
            // Counted when it became unknown.
            BatchOutcome::Unknown(_) => self.unknown_waiting -= 1,
            BatchOutcome::Cancelled => self.counts.cancelled += 1,
        }
        self.ended += 1;
        self.items[index] = Item::Ended;
        self.out.push_back(BatchAction::Item(BatchItem {
            index,
            task_id,
            outcome,
        }));
    }

    /// Input `index` has task `task_id`: wait for it (or, once cancelled, hand it out).
    fn attach(&mut self, index: usize, task_id: String, now: Instant, announce: bool) {
        self.known_tasks.insert(task_id.clone());
        // What an input was is kept only while it may be created again.
        self.requests[index].input_values = None;
        if announce {
            self.out.push_back(BatchAction::Created {
                index,
                task_id: task_id.clone(),
            });
        }
        if self.cancelled {
            self.end(index, Some(task_id), BatchOutcome::Cancelled);
            return;
        }
        let slot = self.set.push(task_id.clone(), now);
        self.slot_tasks.push(task_id);
        self.slot_input.push(index);
        self.slot_running.push(false);
        self.items[index] = Item::Active { slot };
        self.counts.queued += 1;
    }

    /// Hands out the outcomes of finished tasks.
    fn drain_set(&mut self) {
        while let Some((slot, outcome)) = self.set.take_finished() {
            let index = self.slot_input[slot];
            if self.slot_running[slot] {
                self.counts.running -= 1;
            } else {
                self.counts.queued -= 1;
            }
            let task = self.slot_tasks[slot].clone();
            // Only an ended task is `done` in the journal: a wait that ended otherwise (a
            // timeout, a cancellation) is waited for again by a resume.
            let done = match &outcome {
                Ok(success) => Some((TaskStatus::Success, Some(success), None)),
                Err(error @ Error::TaskFailed(_)) => {
                    Some((TaskStatus::Failed, None, Some(error.to_string())))
                }
                Err(_) => None,
            };
            if let Some((status, success, error)) = done
                && !self.done_in_journal.remove(&index)
            {
                self.record(Record::Done {
                    i: index as u64,
                    input: self.identities[index].clone(),
                    task: task.clone(),
                    status,
                    result_url: success.and_then(|s| s.result_url.clone()),
                    result_data: success.and_then(|s| s.result_data.clone()),
                    error,
                });
            }
            let outcome = match outcome {
                Ok(success) => BatchOutcome::Succeeded(success),
                Err(Error::Cancelled(_)) => BatchOutcome::Cancelled,
                Err(error) => BatchOutcome::Failed(error),
            };
            self.end(index, Some(task), outcome);
        }
    }
}

impl Batch {
    /// The answer (or the transport's failure) of the create of input `index`.
    fn create_answered(
        &mut self,
        index: usize,
        mut flight: Flight,
        outcome: Result<HttpResponse, Error>,
        now: Instant,
    ) {
        let Item::Creating { refusals, sent_ms } = self.items[index] else {
            return;
        };
        self.counts.creating -= 1;
        let response = match outcome {
            Ok(response) => response,
            Err(error) => {
                let error = flight.name_error(error);
                // A connection never opened sent nothing: as good as a refusal.
                return match &error {
                    Error::Transport(t) if t.kind == TransportErrorKind::Connect => {
                        self.refused(index, refusals, error, None, now)
                    }
                    _ => self.unknown(index, refusals, sent_ms, error, now),
                };
            }
        };
        let response = match flight.land(&self.config, response) {
            Landing::Response(response) => response,
            Landing::Follow(transmit) => {
                self.counts.creating += 1;
                self.creates.insert(transmit.id, (index, flight));
                self.out.push_back(BatchAction::Send {
                    index: Some(index),
                    transmit,
                });
                return;
            }
            Landing::Failed(error) => return self.unknown(index, refusals, sent_ms, error, now),
        };
        let status = response.status();
        if status.is_success() {
            return match wire::parse_json::<crate::models::CreateTaskResponse>(
                "create task",
                response,
            ) {
                Ok(created) if !created.task_id.is_empty() => {
                    self.refusals_in_row = 0;
                    self.record(Record::Created {
                        i: index as u64,
                        input: self.identities[index].clone(),
                        task: created.task_id.clone(),
                    });
                    self.attach(index, created.task_id, now, true);
                }
                Ok(_) => {
                    let error = Error::protocol("create_task", "the answer has an empty taskID");
                    self.unknown(index, refusals, sent_ms, error, now);
                }
                Err(error) => self.unknown(index, refusals, sent_ms, error, now),
            };
        }
        let api = wire::api_error(response);
        let retry_after = api.retry_after;
        match status.as_u16() {
            408 | 425 | 429 => {
                self.refused(index, refusals, Error::Api(Box::new(api)), retry_after, now);
            }
            // The key, the account or its credit: every other create would meet the same.
            401..=403 => {
                self.fatal = Some(api.clone());
                self.not_created(index, Error::Api(Box::new(api)));
                while let Some(other) = self.pending.pop_front() {
                    self.counts.pending -= 1;
                    let error = Error::Api(Box::new(self.fatal.clone().expect("set above")));
                    self.not_created(other, error);
                }
            }
            400..=499 => self.not_created(index, Error::Api(Box::new(api))),
            // A 5xx may come after the task was made.
            _ => self.unknown(index, refusals, sent_ms, Error::Api(Box::new(api)), now),
        }
    }

    /// A definite refusal of the create of input `index`: nothing was created; it is sent
    /// again after the hold (or given up after too many).
    fn refused(
        &mut self,
        index: usize,
        refusals: u32,
        error: Error,
        retry_after: Option<Duration>,
        now: Instant,
    ) {
        let refusals = refusals.saturating_add(1);
        self.refusals_in_row = self.refusals_in_row.saturating_add(1);
        if refusals > self.options.max_refusals || self.cancelled {
            return self.not_created(index, error);
        }
        self.record(Record::NotCreated {
            i: index as u64,
            input: self.identities[index].clone(),
            error: error.to_string(),
        });
        self.items[index] = Item::Pending { refusals };
        self.pending.push_front(index);
        self.counts.pending += 1;
        let backoff = Duration::from_secs(1)
            .saturating_mul(1 << self.refusals_in_row.saturating_sub(1).min(6));
        let hold = retry_after.unwrap_or(backoff).clamp(MIN_HOLD, MAX_HOLD);
        let until = now + hold;
        self.hold_until = Some(self.hold_until.map_or(until, |at| at.max(until)));
        // The account's limits may have moved: read them again soon.
        if self.options.account_limits && self.dashboard.is_none() {
            let soon = now + Duration::from_secs(1);
            self.next_dashboard = Some(self.next_dashboard.map_or(soon, |at| at.min(soon)));
        }
    }

    /// Input `index` was definitely not created, and will not be.
    fn not_created(&mut self, index: usize, error: Error) {
        self.record(Record::NotCreated {
            i: index as u64,
            input: self.identities[index].clone(),
            error: error.to_string(),
        });
        self.end(index, None, BatchOutcome::NotCreated(error));
    }

    /// The create of input `index` was sent and its outcome is unknown.
    fn unknown(&mut self, index: usize, refusals: u32, sent_ms: u64, error: Error, now: Instant) {
        self.record(Record::Unknown {
            i: index as u64,
            input: self.identities[index].clone(),
            error: error.to_string(),
        });
        self.counts.unknown += 1;
        self.unknown_waiting += 1;
        if !self.options.lookup_unknown || self.cancelled {
            return self.end(index, None, BatchOutcome::Unknown(error));
        }
        self.items[index] = Item::Unknown { refusals, error };
        self.unknown_since.insert(index, sent_ms);
        let after = now + LOOKUP_DELAY;
        self.lookup_after = Some(self.lookup_after.map_or(after, |at| at.max(after)));
    }

    /// Ends every input whose create is unknown as [`BatchOutcome::Unknown`].
    fn settle_unknown_without_lookup(&mut self) {
        if self.unknown_waiting == 0 {
            return;
        }
        for index in 0..self.items.len() {
            if let Item::Unknown { .. } = self.items[index]
                && let Item::Unknown { error, .. } =
                    std::mem::replace(&mut self.items[index], Item::Ended)
            {
                self.unknown_since.remove(&index);
                self.end(index, None, BatchOutcome::Unknown(error));
            }
        }
    }

    /// Gives up the creates whose answer is overdue: their outcome is unknown.
    fn expire_creates(&mut self, now: Instant) {
        let overdue: Vec<RequestId> = self
            .creates
            .iter()
            .filter(|(_, (_, flight))| flight.is_overdue(now))
            .map(|(id, _)| *id)
            .collect();
        for id in overdue {
            if let Some((index, flight)) = self.creates.remove(&id)
                && let Item::Creating { refusals, sent_ms } = self.items[index]
            {
                self.counts.creating -= 1;
                self.unknown(index, refusals, sent_ms, flight.elapsed(), now);
            }
        }
    }

    /// How many more creates may be sent now.
    fn room(&self) -> usize {
        let ours = self.counts.creating + self.counts.queued + self.counts.running;
        let mut room = self
            .options
            .creates_in_flight
            .saturating_sub(self.counts.creating);
        if let Some(max) = self.options.max_active {
            room = room.min(max.saturating_sub(ours));
        }
        if let Some(account) = self.account_room {
            let free = usize::try_from(account)
                .unwrap_or(usize::MAX)
                .saturating_sub(ours);
            // The dashboard alone never stops a batch that has nothing of its own in
            // flight: one create goes out, and the server's answer (a task, or a 429
            // counted against `max_refusals`) decides. A dashboard that never shows room
            // cannot hold the batch for ever.
            room = room.min(if ours == 0 { free.max(1) } else { free });
        }
        room
    }

    /// Sends the creates there is room for: their `sending` records, one sync, then the
    /// creates. True when it did.
    fn step_create(&mut self, now: Instant) -> bool {
        if self.cancelled || self.fatal.is_some() || !self.limits_read || self.pending.is_empty() {
            return false;
        }
        if self.hold_until.is_some_and(|at| at > now) {
            return false;
        }
        self.hold_until = None;
        let mut sends = Vec::new();
        for _ in 0..self.room() {
            let Some(index) = self.pending.pop_front() else {
                break;
            };
            self.counts.pending -= 1;
            let refusals = match self.items[index] {
                Item::Pending { refusals } => refusals,
                _ => 0,
            };
            let request = match CreateTask::new(self.requests[index].clone()).request(&self.config)
            {
                Ok(request) => request,
                Err(error) => {
                    self.not_created(index, error);
                    continue;
                }
            };
            let (flight, transmit) =
                Flight::launch(&self.config, CreateTask::NAME, request, now, None, true);
            let sent_ms = self.wall_ms(now);
            self.items[index] = Item::Creating { refusals, sent_ms };
            self.counts.creating += 1;
            self.record(Record::Sending {
                i: index as u64,
                input: self.identities[index].clone(),
                at: sent_ms,
            });
            self.creates.insert(transmit.id, (index, flight));
            sends.push((index, transmit));
        }
        if sends.is_empty() {
            return !self.out.is_empty();
        }
        // The `sending` records must be durable before their creates leave.
        self.out.push_back(BatchAction::Sync);
        self.unsynced = false;
        for (index, transmit) in sends {
            self.out.push_back(BatchAction::Send {
                index: Some(index),
                transmit,
            });
        }
        true
    }

    /// Reads the dashboard when due; `Some` when a request is to be sent.
    fn step_dashboard(&mut self, now: Instant) -> Option<BatchAction> {
        if self.dashboard.is_none() {
            let due = self.next_dashboard.is_some_and(|at| at <= now);
            if self.cancelled || !due || (self.pending.is_empty() && self.limits_read) {
                return None;
            }
            self.next_dashboard = None;
            match Call::for_operation(&GetDashboard, &self.config, now) {
                Ok(call) => self.dashboard = Some((call, None)),
                Err(_) => {
                    self.limits_read = true;
                    return None;
                }
            }
        }
        let (call, sent) = self.dashboard.as_mut()?;
        match call.poll_action(now) {
            CallAction::Send(transmit) => {
                *sent = Some(transmit.id);
                Some(BatchAction::Send {
                    index: None,
                    transmit,
                })
            }
            CallAction::Wait(_) => None,
            CallAction::Done(outcome) => {
                self.dashboard = None;
                self.limits_read = true;
                match outcome.and_then(|response| GetDashboard.parse(response)) {
                    Ok(dashboard) => {
                        let limits = dashboard.limits;
                        let room = limits.max_concurrency.saturating_add(limits.max_queue_size);
                        self.account_room = (room > 0).then(|| {
                            let c = dashboard.count;
                            let in_progress = c.queued + c.scheduling + c.scheduled + c.running;
                            let ours = (self.counts.queued + self.counts.running) as u64;
                            room.saturating_sub(in_progress.saturating_sub(ours))
                        });
                        if !self.pending.is_empty() {
                            self.next_dashboard = Some(now + DASHBOARD_EVERY);
                        }
                    }
                    // No limits to read (an older server, a proxy): the batch's own bounds
                    // hold; refusals still back it off.
                    Err(_) => self.account_room = None,
                }
                None
            }
        }
    }
}

/// The documentation of both clients' `run_many` up to its example, written once: what the
/// core's [`Batch`] does for it. `$seq` names what the client answers (`stream`,
/// `iterator`), `$yields` how it hands the events out. Its links name `Batch`,
/// `BatchEvent` and `BatchOptions`, which both clients import.
#[doc(hidden)]
#[macro_export]
macro_rules! __run_many_doc {
    ($yields:literal, $seq:literal) => {
        concat!(
            "Runs a task for each of `requests`, crash-safe, and ",
            $yields,
            " what happens: each task created ([`BatchEvent::Created`]), progress, and each input as it ends ([`BatchEvent::Finished`], with its index).\n\n",
            r"Driven by the core's [`Batch`]: creates are bounded in flight, the account's
`maxConcurrency` and `maxQueueSize` are kept, a `429` holds creates back for its
`Retry-After`, a create whose outcome is unknown is never sent again (it is looked
up among the account's tasks, else handed out as unknown), and finished results are
handed out as they come. With [`BatchOptions::journal`], every task ID is recorded
(and synced) as soon as its create answers, and running the same inputs with the
same journal again resumes: tasks it holds are waited for, not created again. The
cancel token of [`BatchOptions::await_options`] stops creating; tasks already
created keep running and stay in the journal.",
            "\n\nBad input (an invalid request, a journal of other inputs) is the ",
            $seq,
            "'s first and only item, before anything is sent.\n"
        )
    };
}
