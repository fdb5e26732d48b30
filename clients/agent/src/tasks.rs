//! The office's tasks as staff see them offline: the centre's state of each
//! task as the feed last brought it, with the office's own updates that the
//! centre has not shown back yet folded on top (marked pending) — by the one
//! fold of `tasknet_domain::history`, the rule the centre applies — and what
//! the centre will most likely answer a new update.

use std::collections::HashMap;

use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;
use tasknet_domain::history::{
    ChangeKind, FoldedTask, HistoryChange, TaskHistory, TaskOrigin, history_from_events,
};
use tasknet_domain::{StatusClass, TimelineState, date_from_proto, timestamp_from_proto};
use tasknet_proto::v1;
use v1::update_task_request::Change as Wire;

use crate::outbox::{OutboxEntry, StoredTask};
use crate::update::noon_in_vietnam;

/// One task of the office, as last seen plus its pending updates.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LocalTask {
    pub task_id: String,
    /// The office's own reference, for a task it created through this agent.
    pub reference: Option<String>,
    pub title: String,
    pub assigning_unit_id: String,
    pub assignee_unit_id: String,
    pub assigned_date: NaiveDate,
    /// The deadline in force.
    pub deadline: NaiveDate,
    /// `open` or `completed`.
    pub status: &'static str,
    pub completed_on: Option<NaiveDate>,
    pub last_note: String,
    /// How reports class it at the end of today (Vietnam time):
    /// `completed_on_time`, `completed_late`, `open_within_deadline`, `open_overdue`.
    pub class: &'static str,
    /// The centre's version of the task as last seen (0: the centre has not
    /// shown it back yet).
    pub version: i64,
    /// The office's updates of the task the centre has not shown back yet,
    /// folded into the fields above.
    pub pending: usize,
    /// Pending updates the centre will most likely refuse (left out of the
    /// fields above), each with why.
    pub conflicts: Vec<String>,
}

impl LocalTask {
    pub fn is_open(&self) -> bool {
        self.completed_on.is_none()
    }
}

/// What the centre will most likely answer an update, judged on the local copy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Forecast {
    /// Accepted; what the task becomes.
    Accept(String),
    /// The local copy cannot tell (the task is not in it).
    Unknown(String),
    /// Refused; why, as the centre would say it.
    Refuse(String),
}

/// The facts a fold does not change.
struct Facts {
    title: String,
    assigning_unit_id: String,
    assigned_date: NaiveDate,
    version: i64,
}

/// A task's history as far as the agent knows it, and its fixed facts.
struct Known {
    history: TaskHistory,
    facts: Facts,
    /// The centre's own state, when the office has nothing pending.
    snapshot: Option<FoldedTask>,
}

/// The office's view of every task it holds, by assigned date then id.
pub(crate) fn local_view(
    stored: &HashMap<String, StoredTask>,
    unseen: &[OutboxEntry],
    references: &HashMap<String, String>,
    today: NaiveDate,
) -> Vec<LocalTask> {
    let mut local: HashMap<String, Vec<&OutboxEntry>> = HashMap::new();
    for entry in unseen {
        local
            .entry(entry.task_id.to_string())
            .or_default()
            .push(entry);
    }
    let mut ids: Vec<&String> = stored
        .iter()
        .filter(|(_, task)| task.held)
        .map(|(id, _)| id)
        .collect();
    ids.extend(local.keys().filter(|id| !stored.contains_key(*id)));
    let mut tasks: Vec<LocalTask> = ids
        .into_iter()
        .filter_map(|id| {
            let entries = local.get(id).map_or(&[][..], Vec::as_slice);
            let mut task = view_of(id, stored.get(id), entries, today)?;
            task.reference = references.get(id).cloned();
            Some(task)
        })
        .collect();
    tasks.sort_by(|a, b| (a.assigned_date, &a.task_id).cmp(&(b.assigned_date, &b.task_id)));
    tasks
}

fn view_of(
    id: &str,
    stored: Option<&StoredTask>,
    entries: &[&OutboxEntry],
    today: NaiveDate,
) -> Option<LocalTask> {
    let mut known = known(stored, entries)?;
    let mut pending = 0;
    let mut conflicts = Vec::new();
    for entry in entries {
        match change_of(&entry.request) {
            Some(change) => match known.history.accept(change) {
                Ok(()) => pending += 1,
                Err(conflict) => conflicts.push(format!(
                    "{} {}: FAILED_PRECONDITION: {conflict}",
                    entry.kind, entry.update_id
                )),
            },
            // A creation the centre has not shown back yet.
            None if stored.is_none() => pending += 1,
            None => {}
        }
    }
    let state = match (&known.snapshot, pending) {
        (Some(snapshot), 0) => snapshot.clone(),
        _ => known.history.current(),
    };
    let class = match TimelineState::classify(state.timeline_state(), today) {
        StatusClass::CompletedOnTime => "completed_on_time",
        StatusClass::CompletedLate => "completed_late",
        StatusClass::OpenWithinDeadline => "open_within_deadline",
        StatusClass::OpenOverdue => "open_overdue",
    };
    Some(LocalTask {
        task_id: id.to_owned(),
        reference: None,
        title: known.facts.title,
        assigning_unit_id: known.facts.assigning_unit_id,
        assignee_unit_id: state.assignee_unit_id,
        assigned_date: known.facts.assigned_date,
        deadline: state.deadline,
        status: if state.completed_on.is_some() {
            "completed"
        } else {
            "open"
        },
        completed_on: state.completed_on,
        last_note: state.last_note,
        class,
        version: known.facts.version,
        pending,
        conflicts,
    })
}

/// What the agent knows of a task before its pending updates: the centre's
/// history (the feed's changes; or, for a task passed to the office after
/// the agent had read past its earlier changes, a history that folds to the
/// centre's last state), or the office's own pending creation.
fn known(stored: Option<&StoredTask>, entries: &[&OutboxEntry]) -> Option<Known> {
    if let Some(stored) = stored {
        let task = &stored.task;
        let facts = Facts {
            title: task.title.clone(),
            assigning_unit_id: task.assigning_unit_id.clone(),
            assigned_date: date_from_proto("assigned_date", task.assigned_date.as_ref()).ok()?,
            version: task.version,
        };
        let snapshot = FoldedTask {
            deadline: date_from_proto("deadline", task.deadline.as_ref()).ok()?,
            completed_on: date_from_proto("completed_on", task.completed_on.as_ref()).ok(),
            assignee_unit_id: task.assignee_unit_id.clone(),
            last_note: task.last_note.clone(),
        };
        let history = history_from_events(&stored.events)
            .unwrap_or_else(|| history_of_state(&facts, &snapshot));
        return Some(Known {
            history,
            facts,
            snapshot: Some(snapshot),
        });
    }
    let create = entries
        .iter()
        .find_map(|entry| match &entry.request.mutation {
            Some(v1::ingest_request::Mutation::Create(create)) => Some(create),
            _ => None,
        })?;
    let task = create.task.as_ref()?;
    let effective_time =
        timestamp_from_proto("effective_time", create.effective_time.as_ref()).ok()?;
    let assigned_date = date_from_proto("assigned_date", task.assigned_date.as_ref()).ok()?;
    Some(Known {
        history: TaskHistory::new(TaskOrigin {
            update_id: create.update_id.clone(),
            effective_time,
            assigned_date,
            deadline: date_from_proto("deadline", task.deadline.as_ref()).ok()?,
            assignee_unit_id: task.assignee_unit_id.clone(),
        }),
        facts: Facts {
            title: task.title.clone(),
            assigning_unit_id: task.assigning_unit_id.clone(),
            assigned_date,
            version: 0,
        },
        snapshot: None,
    })
}

/// A history that folds to `state`: the creation on the assigned date with
/// the deadline in force, its note, and its completion if completed.
fn history_of_state(facts: &Facts, state: &FoldedTask) -> TaskHistory {
    let start = noon_in_vietnam(facts.assigned_date);
    let mut history = TaskHistory::new(TaskOrigin {
        update_id: String::new(),
        effective_time: start,
        assigned_date: facts.assigned_date,
        deadline: state.deadline,
        assignee_unit_id: state.assignee_unit_id.clone(),
    });
    // Conflicts name the change they meet: here, none the agent has seen.
    let synthetic = |effective_time: DateTime<Utc>, kind, note: &str| HistoryChange {
        update_id: "in the centre's copy".to_owned(),
        effective_time,
        kind,
        note: note.to_owned(),
    };
    if !state.last_note.is_empty() {
        history
            .changes
            .push(synthetic(start, ChangeKind::Note, &state.last_note));
    }
    if let Some(done) = state.completed_on {
        history
            .changes
            .push(synthetic(noon_in_vietnam(done), ChangeKind::Completed, ""));
    }
    history
}

/// An update item as a change of the history (`None` for a creation).
fn change_of(request: &v1::IngestRequest) -> Option<HistoryChange> {
    let Some(v1::ingest_request::Mutation::Update(update)) = &request.mutation else {
        return None;
    };
    let (kind, note) = match update.change.as_ref()? {
        Wire::Note(note) => (ChangeKind::Note, note.note.clone()),
        Wire::DeadlineChange(change) => (
            ChangeKind::DeadlineChanged {
                deadline: date_from_proto("new_deadline", change.new_deadline.as_ref()).ok()?,
            },
            change.reason.clone(),
        ),
        Wire::Complete(complete) => (ChangeKind::Completed, complete.note.clone()),
        Wire::Reopen(reopen) => (ChangeKind::Reopened, reopen.reason.clone()),
    };
    Some(HistoryChange {
        update_id: update.update_id.clone(),
        effective_time: timestamp_from_proto("effective_time", update.effective_time.as_ref())
            .ok()?,
        kind,
        note,
    })
}

/// What the centre will most likely answer `candidate`, given what the agent
/// knows of its task and the office's updates still pending before it.
pub(crate) fn forecast(
    stored: Option<&StoredTask>,
    entries: &[&OutboxEntry],
    candidate: &v1::IngestRequest,
) -> Forecast {
    let Some(change) = change_of(candidate) else {
        return Forecast::Accept("a new task of this office".to_owned());
    };
    if let Some(stored) = stored.filter(|stored| !stored.held) {
        return Forecast::Refuse(format!(
            "PERMISSION_DENIED: the task was passed to unit {} by a reorganisation; \
             this office's updates of it are refused",
            stored.task.assignee_unit_id
        ));
    }
    let Some(mut known) = known(stored, entries) else {
        return Forecast::Unknown(
            "the task is not in this office's copy of its tasks (is `tasknet agent run` \
             following the centre?): the centre will tell"
                .to_owned(),
        );
    };
    for entry in entries {
        if let Some(earlier) = change_of(&entry.request) {
            // Pending updates the centre would refuse are left out, as it would.
            let _ = known.history.accept(earlier);
        }
    }
    let noun = change.kind.noun();
    if let Err(conflict) = known.history.accept(change) {
        return Forecast::Refuse(format!("FAILED_PRECONDITION: this {noun} {conflict}"));
    }
    let state = known.history.current();
    let outcome = match state.completed_on {
        Some(done) if done <= state.deadline => {
            format!("completed on {done}, on time (deadline {})", state.deadline)
        }
        Some(done) => format!("completed on {done}, late (deadline {})", state.deadline),
        None => format!("open, deadline {}", state.deadline),
    };
    Forecast::Accept(format!("the task will be {outcome}"))
}

#[cfg(test)]
mod tests;
