//! The one rule for a task's state: its accepted changes folded in effective
//! order. The task service folds a task's whole history for its current
//! state and checks each new change against it; reporting folds the same
//! history up to any as-of date. Both call this module, so every view of a
//! task agrees whatever order the changes arrived in.
//!
//! Effective order is the Vietnam civil date each change took effect on —
//! the resolution of every rule that reads it (deadlines, completion dates,
//! as-of dates) — and, within a day, the order the centre accepted them
//! (arrival). A history is valid when, in that order, completions and
//! reopenings alternate starting from an open task: a completion finds the
//! task open, a reopening finds it completed.

use chrono::{DateTime, NaiveDate, Utc};

use crate::date::vietnam_date;
use crate::status::{TimelineSegment, TimelineState};

/// What a change does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChangeKind {
    Note,
    DeadlineChanged {
        deadline: NaiveDate,
    },
    Completed,
    Reopened,
    /// Passed to another unit (by a reorganisation).
    Reassigned {
        assignee_unit_id: String,
    },
}

impl ChangeKind {
    /// The word for it in messages.
    pub fn noun(&self) -> &'static str {
        match self {
            Self::Note => "note",
            Self::DeadlineChanged { .. } => "deadline change",
            Self::Completed => "completion",
            Self::Reopened => "reopening",
            Self::Reassigned { .. } => "reassignment",
        }
    }

    /// Whether it can change the four-way status (notes and holders cannot).
    fn affects_status(&self) -> bool {
        matches!(
            self,
            Self::DeadlineChanged { .. } | Self::Completed | Self::Reopened
        )
    }
}

/// One accepted change after the creation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HistoryChange {
    pub update_id: String,
    /// When it took effect at the office; it counts from its Vietnam date.
    pub effective_time: DateTime<Utc>,
    pub kind: ChangeKind,
    /// A note's text or a change's reason; the latest non-empty one in
    /// effective order is the task's `last_note`.
    pub note: String,
}

impl HistoryChange {
    pub fn effective_date(&self) -> NaiveDate {
        vietnam_date(self.effective_time)
    }
}

/// What the creation fixed: the state every fold starts from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskOrigin {
    pub update_id: String,
    pub effective_time: DateTime<Utc>,
    pub assigned_date: NaiveDate,
    pub deadline: NaiveDate,
    pub assignee_unit_id: String,
}

/// A task's state at some point of its history.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FoldedTask {
    pub deadline: NaiveDate,
    pub completed_on: Option<NaiveDate>,
    pub assignee_unit_id: String,
    pub last_note: String,
}

impl FoldedTask {
    pub fn timeline_state(&self) -> TimelineState {
        TimelineState {
            deadline: self.deadline,
            completed_on: self.completed_on,
        }
    }
}

/// A new change that would make the history invalid in effective order,
/// and the accepted change it conflicts with.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "conflicts with the {with_kind} {update_id} effective {effective_date} ({effective_time}): {reason}"
)]
pub struct Conflict {
    /// The accepted change it conflicts with (the creation, if nothing else).
    pub update_id: String,
    pub effective_time: DateTime<Utc>,
    pub effective_date: NaiveDate,
    pub with_kind: &'static str,
    pub reason: String,
}

/// A task's creation and accepted changes, in arrival order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskHistory {
    pub origin: TaskOrigin,
    /// In the order the centre accepted them (arrival); ties on the
    /// effective date keep this order.
    pub changes: Vec<HistoryChange>,
    /// The fold of every change, kept by [`TaskHistory::accept`] so a change
    /// that lands last in effective order (nearly all of them: offices report
    /// as they go) costs one step, not a walk of the whole history.
    latest: LatestFold,
}

/// [`TaskHistory::current`] of the first `covers` changes, and the latest
/// effective time among them. Derived data: it never makes two histories
/// differ, and it is ignored once `changes` has been changed directly.
#[derive(Debug, Clone, Default)]
struct LatestFold(Option<CachedFold>);

#[derive(Debug, Clone)]
struct CachedFold {
    covers: usize,
    state: FoldedTask,
    latest_time: DateTime<Utc>,
}

impl PartialEq for LatestFold {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

impl Eq for LatestFold {}

/// The state while walking a history in effective order, with the changes
/// that put the completion status where it is.
struct Walk<'a> {
    state: FoldedTask,
    /// The completion in force, if completed.
    completion: Option<&'a HistoryChange>,
    /// The reopening in force, if reopened and not completed since.
    reopening: Option<&'a HistoryChange>,
}

impl<'a> Walk<'a> {
    fn start(origin: &TaskOrigin) -> Self {
        Self::resume(FoldedTask {
            deadline: origin.deadline,
            completed_on: None,
            assignee_unit_id: origin.assignee_unit_id.clone(),
            last_note: String::new(),
        })
    }

    /// Walking on from `state` (which changes put it there is not known:
    /// fine for applying, not for naming a conflict).
    fn resume(state: FoldedTask) -> Self {
        Self {
            state,
            completion: None,
            reopening: None,
        }
    }

    /// Whether `change` is valid here; if not, why and the change in force
    /// that makes it so (`None`: the creation).
    fn refusal(&self, change: &HistoryChange) -> Option<(Option<&'a HistoryChange>, String)> {
        match change.kind {
            ChangeKind::Completed => self.completion.map(|done| {
                let reason = format!(
                    "the task is already completed by then (on {})",
                    done.effective_date()
                );
                (Some(done), reason)
            }),
            ChangeKind::Reopened if self.state.completed_on.is_none() => {
                let reason = match self.reopening {
                    Some(_) => "the task was already reopened by then, and not completed since",
                    None => "the task is not completed by then",
                };
                Some((self.reopening, reason.to_owned()))
            }
            _ => None,
        }
    }

    /// Applies a change whether or not it is valid: a history accepted
    /// before this rule existed still folds to a state.
    fn apply(&mut self, change: &'a HistoryChange) {
        match &change.kind {
            ChangeKind::Note => {}
            ChangeKind::DeadlineChanged { deadline } => self.state.deadline = *deadline,
            ChangeKind::Completed => {
                self.state.completed_on = Some(change.effective_date());
                self.completion = Some(change);
                self.reopening = None;
            }
            ChangeKind::Reopened => {
                self.state.completed_on = None;
                self.completion = None;
                self.reopening = Some(change);
            }
            ChangeKind::Reassigned { assignee_unit_id } => {
                self.state.assignee_unit_id.clone_from(assignee_unit_id);
            }
        }
        if !change.note.is_empty() {
            self.state.last_note.clone_from(&change.note);
        }
    }
}

/// The one ordering rule: by effective date, arrival breaking ties (a
/// stable sort of changes given in arrival order).
pub fn effective_order<T>(changes: &[T], effective: impl Fn(&T) -> NaiveDate) -> Vec<&T> {
    let mut ordered: Vec<&T> = changes.iter().collect();
    ordered.sort_by_key(|change| effective(change));
    ordered
}

impl TaskHistory {
    pub fn new(origin: TaskOrigin) -> Self {
        Self::with_changes(origin, Vec::new())
    }

    /// A history of `changes` accepted earlier, in arrival order.
    pub fn with_changes(origin: TaskOrigin, changes: Vec<HistoryChange>) -> Self {
        Self {
            origin,
            changes,
            latest: LatestFold::default(),
        }
    }

    /// The kept fold, if it covers every change.
    fn latest(&self) -> Option<&CachedFold> {
        self.latest
            .0
            .as_ref()
            .filter(|cached| cached.covers == self.changes.len())
    }

    /// Whether `change`, arriving now, comes after every accepted change in
    /// effective order (no earlier effective time, so no earlier date, and
    /// it arrived last): then the kept fold plus it is the whole fold.
    fn lands_last(&self, change: &HistoryChange) -> Option<&CachedFold> {
        self.latest()
            .filter(|cached| change.effective_time >= cached.latest_time)
    }

    /// The number of accepted changes, the creation included: the version.
    pub fn version(&self) -> i64 {
        i64::try_from(self.changes.len()).map_or(i64::MAX, |n| n + 1)
    }

    fn ordered(&self) -> Vec<&HistoryChange> {
        effective_order(&self.changes, HistoryChange::effective_date)
    }

    /// The state once every accepted change has taken effect: the task
    /// service's current state.
    pub fn current(&self) -> FoldedTask {
        match self.latest() {
            Some(cached) => cached.state.clone(),
            None => self.fold_all().state,
        }
    }

    fn fold_all(&self) -> CachedFold {
        let mut walk = Walk::start(&self.origin);
        for change in self.ordered() {
            walk.apply(change);
        }
        CachedFold {
            covers: self.changes.len(),
            state: walk.state,
            latest_time: self
                .changes
                .iter()
                .map(|change| change.effective_time)
                .max()
                .unwrap_or(DateTime::<Utc>::MIN_UTC),
        }
    }

    /// The state in force at the end of `as_of` (Vietnam time): every change
    /// effective on or before that day, in effective order.
    pub fn state_as_of(&self, as_of: NaiveDate) -> FoldedTask {
        let mut walk = Walk::start(&self.origin);
        for change in self.ordered() {
            if change.effective_date() > as_of {
                break;
            }
            walk.apply(change);
        }
        walk.state
    }

    /// The status over all time as contiguous segments, one per distinct
    /// effective date of a status-relevant change (same-day changes collapse
    /// into the end-of-day state).
    pub fn segments(&self) -> Vec<TimelineSegment> {
        let mut walk = Walk::start(&self.origin);
        let mut segments = vec![TimelineSegment {
            from: None,
            until: None,
            state: walk.state.timeline_state(),
        }];
        for change in self.ordered() {
            walk.apply(change);
            if !change.kind.affects_status() {
                continue;
            }
            let day = change.effective_date();
            let state = walk.state.timeline_state();
            let Some(last) = segments.last_mut() else {
                break;
            };
            if last.from == Some(day) {
                last.state = state;
            } else {
                last.until = Some(day);
                segments.push(TimelineSegment {
                    from: Some(day),
                    until: None,
                    state,
                });
            }
        }
        segments
    }

    /// The positions (in arrival order) of changes invalid where effective
    /// order puts them, `candidate` (arriving last) included if given.
    fn invalid(
        &self,
        candidate: Option<&HistoryChange>,
    ) -> (Vec<usize>, Option<(Option<usize>, String)>) {
        let mut all: Vec<&HistoryChange> = self.changes.iter().collect();
        all.extend(candidate);
        let mut order: Vec<usize> = (0..all.len()).collect();
        order.sort_by_key(|&i| all[i].effective_date());
        let mut walk = Walk::start(&self.origin);
        let mut invalid = Vec::new();
        let mut candidate_refusal = None;
        for i in order {
            if let Some((blocking, reason)) = walk.refusal(all[i]) {
                if i == self.changes.len() {
                    let blocking = blocking.map(|b| self.position(b));
                    candidate_refusal = Some((blocking.flatten(), reason));
                } else {
                    invalid.push(i);
                }
            }
            walk.apply(all[i]);
        }
        invalid.sort_unstable();
        (invalid, candidate_refusal)
    }

    fn position(&self, change: &HistoryChange) -> Option<usize> {
        self.changes.iter().position(|c| std::ptr::eq(c, change))
    }

    /// Whether `change`, arriving now, keeps the history valid in effective
    /// order: it must be valid where it lands, and must not make any change
    /// accepted before invalid. Changes that were invalid already (accepted
    /// before this rule) are not held against it.
    pub fn check(&self, change: &HistoryChange) -> Result<(), Conflict> {
        // Only completions and reopenings are ever refused, and only they
        // move what decides a refusal: any other change keeps every verdict
        // as it was, so there is nothing to walk.
        if !matches!(change.kind, ChangeKind::Completed | ChangeKind::Reopened) {
            return Ok(());
        }
        // Landing last, it can only be refused itself, by the state the
        // whole history leaves the task in (a refusal takes the walk below,
        // which names the change in force).
        if let Some(cached) = self.lands_last(change) {
            let completed = cached.state.completed_on.is_some();
            let valid = match change.kind {
                ChangeKind::Completed => !completed,
                _ => completed,
            };
            if valid {
                return Ok(());
            }
        }
        let (before, _) = self.invalid(None);
        let (after, refusal) = self.invalid(Some(change));
        if let Some((blocking, reason)) = refusal {
            return Err(self.conflict(blocking, reason));
        }
        if let Some(&broken) = after.iter().find(|i| !before.contains(i)) {
            let victim = &self.changes[broken];
            let state = if matches!(victim.kind, ChangeKind::Completed) {
                "completed already"
            } else {
                "open"
            };
            let reason = format!(
                "this {} effective {} would come before it, and it would then find the task {state}",
                change.kind.noun(),
                change.effective_date()
            );
            return Err(self.conflict(Some(broken), reason));
        }
        Ok(())
    }

    /// Checks `change` and appends it if it keeps the history valid.
    pub fn accept(&mut self, change: HistoryChange) -> Result<(), Conflict> {
        self.check(&change)?;
        let next = self.lands_last(&change).map(|cached| {
            let mut walk = Walk::resume(cached.state.clone());
            walk.apply(&change);
            CachedFold {
                covers: cached.covers + 1,
                state: walk.state,
                latest_time: change.effective_time,
            }
        });
        self.changes.push(change);
        self.latest.0 = Some(next.unwrap_or_else(|| self.fold_all()));
        Ok(())
    }

    fn conflict(&self, with: Option<usize>, reason: String) -> Conflict {
        match with.map(|i| &self.changes[i]) {
            Some(change) => Conflict {
                update_id: change.update_id.clone(),
                effective_time: change.effective_time,
                effective_date: change.effective_date(),
                with_kind: change.kind.noun(),
                reason,
            },
            None => Conflict {
                update_id: self.origin.update_id.clone(),
                effective_time: self.origin.effective_time,
                effective_date: vietnam_date(self.origin.effective_time),
                with_kind: "creation",
                reason,
            },
        }
    }
}

mod events;
pub use events::{change_from_event, history_from_events};

#[cfg(test)]
mod tests;
