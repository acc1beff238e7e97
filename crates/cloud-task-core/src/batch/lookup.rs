//! Settling the creates whose outcome is unknown: a walk of the account's task list that
//! matches tasks to inputs by their identity.

#[cfg(doc)]
#[allow(unused_imports)]
use super::*;
use std::collections::{HashMap, VecDeque};
use std::time::Instant;

use crate::exchange::RequestId;
use crate::ops::ListTasksQuery;
use crate::paginate::{PageAction, Paginator};

use super::journal::{Record, identity_of_listed};
use super::{Batch, BatchAction, BatchOutcome, Item, LOOKUP_SKEW_MS};

/// The walk of the account's task list that settles unknown creates.
pub(super) struct Lookup {
    pub(super) pages: Paginator,
    /// The page request in flight.
    pub(super) sent: Option<RequestId>,
    /// Tasks created before this (ms since the epoch, server clock) are not ours.
    pub(super) cutoff_ms: i64,
    /// The inputs looked for, by identity, lowest index first.
    pub(super) wanted: HashMap<String, VecDeque<usize>>,
}

impl Batch {
    /// Settles the unknown creates when due; `Some` when a request is to be sent.
    pub(super) fn step_lookup(&mut self, now: Instant) -> Option<BatchAction> {
        if self.lookup.is_none() {
            let due = self.lookup_after.is_some_and(|at| at <= now);
            if self.cancelled
                || !due
                || self.unknown_since.is_empty()
                || !self.pending.is_empty()
                || !self.creates.is_empty()
            {
                return None;
            }
            self.lookup_after = None;
            let mut wanted: HashMap<String, VecDeque<usize>> = HashMap::new();
            let mut indexes: Vec<usize> = self.unknown_since.keys().copied().collect();
            indexes.sort_unstable();
            for &index in &indexes {
                wanted
                    .entry(self.identities[index].clone())
                    .or_default()
                    .push_back(index);
            }
            let first_ms = self.unknown_since.values().copied().min().unwrap_or(0);
            let cutoff_ms = i64::try_from(first_ms)
                .unwrap_or(i64::MAX)
                .saturating_sub(LOOKUP_SKEW_MS);
            match Paginator::new(&self.config, ListTasksQuery::new().size(100)) {
                Ok(pages) => {
                    self.lookup = Some(Lookup {
                        pages,
                        sent: None,
                        cutoff_ms,
                        wanted,
                    })
                }
                Err(_) => {
                    self.end_lookup();
                    return None;
                }
            }
        }
        let lookup = self.lookup.as_mut()?;
        match lookup.pages.poll_action(now) {
            PageAction::Send(transmit) => {
                lookup.sent = Some(transmit.id);
                Some(BatchAction::Send {
                    index: None,
                    transmit,
                })
            }
            PageAction::Wait(_) => None,
            PageAction::Page(page) => {
                let mut older = false;
                let mut found = Vec::new();
                for task in page.tasks {
                    if task.created_at < lookup.cutoff_ms {
                        older = true;
                        continue;
                    }
                    if self.known_tasks.contains(&task.task_id) {
                        continue;
                    }
                    let Some(identity) = identity_of_listed(&task) else {
                        continue;
                    };
                    if let Some(indexes) = lookup.wanted.get_mut(&identity)
                        && let Some(index) = indexes.pop_front()
                    {
                        found.push((index, task.task_id));
                    }
                }
                lookup.wanted.retain(|_, indexes| !indexes.is_empty());
                if older || lookup.wanted.is_empty() {
                    lookup.pages.stop();
                }
                for (index, task_id) in found {
                    self.found(index, task_id, now);
                }
                // The walk moves on at once (its next page, or its end): nothing else may
                // be left to wake the driver before the walk's own deadline.
                self.step_lookup(now)
            }
            PageAction::Done(_) => {
                // A walk that failed leaves the rest unknown, as a walk that found nothing.
                self.lookup = None;
                self.end_lookup();
                None
            }
        }
    }

    /// The lookup found input `index`'s task.
    fn found(&mut self, index: usize, task_id: String, now: Instant) {
        if !matches!(self.items[index], Item::Unknown { .. }) {
            return;
        }
        self.unknown_since.remove(&index);
        self.unknown_waiting -= 1;
        self.counts.unknown -= 1;
        self.record(Record::Created {
            i: index as u64,
            input: self.identities[index].clone(),
            task: task_id.clone(),
        });
        self.attach(index, task_id, now, true);
    }

    /// The lookup is over: what it did not find is created again when asked, else ends
    /// unknown.
    fn end_lookup(&mut self) {
        let mut indexes: Vec<usize> = self.unknown_since.keys().copied().collect();
        indexes.sort_unstable();
        for index in indexes {
            self.unknown_since.remove(&index);
            let Item::Unknown { refusals, error } =
                std::mem::replace(&mut self.items[index], Item::Ended)
            else {
                continue;
            };
            let again = refusals.saturating_add(1);
            if self.options.recreate_unknown && again <= self.options.max_refusals {
                self.unknown_waiting -= 1;
                self.counts.unknown -= 1;
                self.record(Record::NotCreated {
                    i: index as u64,
                    input: self.identities[index].clone(),
                    error: format!("not found among the account's tasks after: {error}"),
                });
                self.items[index] = Item::Pending { refusals: again };
                self.pending.push_back(index);
                self.counts.pending += 1;
            } else {
                self.end(index, None, BatchOutcome::Unknown(error));
            }
        }
    }
}
