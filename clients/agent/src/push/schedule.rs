//! Which update to send next. Each task is a queue in the office's order
//! with at most one update in flight: a task's next update leaves only once
//! the centre has acknowledged the one before, so an update can never be
//! applied ahead of an earlier one, whatever fails in between (the centre
//! answers items of a stream independently: after a transient failure of
//! one, a later one could otherwise still be applied). Different tasks are
//! independent and go out together, oldest first, which is what fills the
//! centre's group commits.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap, HashMap, VecDeque};
use std::time::Instant;

use tasknet_proto::prost::Message;
use tasknet_proto::v1;

use crate::outbox::StoredItem;

/// One update ready to send.
#[derive(Debug, Clone, PartialEq)]
pub struct Item {
    pub seq: i64,
    pub update_id: String,
    pub task_id: String,
    pub request: v1::IngestRequest,
}

#[derive(Debug, Default)]
struct TaskQueue {
    items: VecDeque<Item>,
    in_flight: bool,
    /// Transient failures of the head since it last succeeded.
    failures: u32,
}

/// Per task: consecutive transient failures, and when it may go again.
pub type Delays = HashMap<String, (u32, Option<Instant>)>;

#[derive(Debug, Default)]
pub struct Schedule {
    tasks: HashMap<String, TaskQueue>,
    /// Tasks whose head may go now, by the head's sequence number.
    ready: BTreeMap<i64, String>,
    /// Tasks waiting out a retry delay.
    delayed: BinaryHeap<Reverse<(Instant, i64, String)>>,
}

impl Schedule {
    /// Builds the queues from unsent rows in the office's order. A parked
    /// row holds back everything after it in its task. Returns the rows that
    /// do not decode (to park them) beside the schedule.
    pub fn load(rows: Vec<StoredItem>) -> (Self, Vec<StoredItem>) {
        let mut schedule = Self::default();
        let mut held = std::collections::HashSet::new();
        let mut corrupt = Vec::new();
        for row in rows {
            if row.parked || held.contains(&row.task_id) {
                held.insert(row.task_id);
                continue;
            }
            let Ok(request) = v1::IngestRequest::decode(row.request.as_slice()) else {
                // Nothing of this task may pass it either.
                held.insert(row.task_id.clone());
                corrupt.push(row);
                continue;
            };
            let item = Item {
                seq: row.seq,
                update_id: row.update_id,
                task_id: row.task_id.clone(),
                request,
            };
            let queue = schedule.tasks.entry(row.task_id.clone()).or_default();
            if queue.items.is_empty() {
                schedule.ready.insert(item.seq, row.task_id);
            }
            queue.items.push_back(item);
        }
        (schedule, corrupt)
    }

    /// The oldest ready head, now marked in flight.
    pub fn next_ready(&mut self, now: Instant) -> Option<Item> {
        self.promote_due(now);
        while let Some((seq, task_id)) = self.ready.pop_first() {
            // A stale entry (the task moved on, or is in flight) is skipped:
            // a task never has two updates in flight.
            if let Some(queue) = self.tasks.get_mut(&task_id)
                && !queue.in_flight
                && queue.items.front().is_some_and(|head| head.seq == seq)
            {
                queue.in_flight = true;
                return queue.items.front().cloned();
            }
        }
        None
    }

    fn promote_due(&mut self, now: Instant) {
        while let Some(Reverse((at, _, _))) = self.delayed.peek() {
            if *at > now {
                break;
            }
            let Some(Reverse((_, seq, task_id))) = self.delayed.pop() else {
                break;
            };
            let current = self.tasks.get(&task_id).is_some_and(|queue| {
                !queue.in_flight && queue.items.front().is_some_and(|head| head.seq == seq)
            });
            if current {
                self.ready.insert(seq, task_id);
            }
        }
    }

    /// The head of `task_id` was acknowledged: the next one may go.
    pub fn acked(&mut self, task_id: &str) {
        let Some(queue) = self.tasks.get_mut(task_id) else {
            return;
        };
        queue.items.pop_front();
        queue.in_flight = false;
        queue.failures = 0;
        match queue.items.front() {
            Some(next) => {
                self.ready.insert(next.seq, task_id.to_owned());
            }
            None => {
                self.tasks.remove(task_id);
            }
        }
    }

    /// The head of `task_id` was refused for good: the task stops here (its
    /// later updates stay pending in the outbox, held). Returns how many.
    pub fn parked(&mut self, task_id: &str) -> usize {
        self.tasks
            .remove(task_id)
            .map_or(0, |queue| queue.items.len().saturating_sub(1))
    }

    /// The head failed transiently: it goes again at `at`. Returns the
    /// number of consecutive failures, for the caller's backoff.
    pub fn failed(&mut self, task_id: &str) -> u32 {
        self.tasks.get_mut(task_id).map_or(0, |queue| {
            queue.in_flight = false;
            queue.failures = queue.failures.saturating_add(1);
            queue.failures
        })
    }

    /// After [`Schedule::failed`]: when the head may go again.
    pub fn retry_at(&mut self, task_id: &str, at: Instant) {
        if let Some(head) = self.tasks.get(task_id).and_then(|q| q.items.front()) {
            self.delayed
                .push(Reverse((at, head.seq, task_id.to_owned())));
        }
    }

    /// The head's answer is unknown (the link broke): it may go again at once
    /// (the centre recognises a repeat by its update id).
    pub fn returned(&mut self, task_id: &str) {
        if let Some(queue) = self.tasks.get_mut(task_id) {
            queue.in_flight = false;
            if let Some(head) = queue.items.front() {
                self.ready.insert(head.seq, task_id.to_owned());
            }
        }
    }

    /// Nothing left to send or wait for.
    pub fn is_empty(&self) -> bool {
        self.tasks.is_empty()
    }

    /// Whether some head may go now (stale entries are dropped on the way).
    pub fn has_ready(&mut self, now: Instant) -> bool {
        self.promote_due(now);
        while let Some((&seq, task_id)) = self.ready.first_key_value() {
            let current = self.tasks.get(task_id).is_some_and(|queue| {
                !queue.in_flight && queue.items.front().is_some_and(|head| head.seq == seq)
            });
            if current {
                return true;
            }
            self.ready.pop_first();
        }
        false
    }

    /// The tasks waiting out a retry delay, and their failure counts, so
    /// that a schedule loaded afresh from the outbox keeps backing off.
    pub fn delays(&self) -> Delays {
        let mut delays: Delays = self
            .tasks
            .iter()
            .filter(|(_, queue)| queue.failures > 0)
            .map(|(task_id, queue)| (task_id.clone(), (queue.failures, None)))
            .collect();
        for Reverse((at, _, task_id)) in &self.delayed {
            if let Some((_, due)) = delays.get_mut(task_id) {
                *due = Some(due.map_or(*at, |due: Instant| due.max(*at)));
            }
        }
        delays
    }

    /// Applies the delays of an earlier schedule (see [`Schedule::delays`]).
    pub fn restore(&mut self, delays: &Delays, now: Instant) {
        for (task_id, (failures, due)) in delays {
            let Some(queue) = self.tasks.get_mut(task_id) else {
                continue;
            };
            queue.failures = *failures;
            let Some(head) = queue.items.front().map(|head| head.seq) else {
                continue;
            };
            if let Some(at) = due.filter(|at| *at > now) {
                self.ready.remove(&head);
                self.delayed.push(Reverse((at, head, task_id.clone())));
            }
        }
    }

    /// When the earliest delayed task may go again.
    pub fn next_due(&self) -> Option<Instant> {
        self.delayed.peek().map(|Reverse((at, _, _))| *at)
    }

    /// Updates still queued (in flight included).
    pub fn remaining(&self) -> usize {
        self.tasks.values().map(|queue| queue.items.len()).sum()
    }
}

#[cfg(test)]
mod tests;
