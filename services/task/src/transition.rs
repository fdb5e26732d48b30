//! The rules of a task's life: what a creation or an update does to a task's
//! state, and which updates the current state refuses. Pure functions; the
//! writer calls them against the state as of its batch. (A reassignment's
//! rule is with the rest of reassignment, in [`crate::reassign`].)

use tasknet_domain::{date_to_proto, timestamp_to_proto, vietnam_date};
use tasknet_proto::v1;

use crate::command::{CreateTask, TaskChange, UpdateTask};
use crate::error::{Error, Result};
use crate::model::{TaskState, Transition};

/// A new task at version 1.
pub fn create(create: &CreateTask, record_time_us: i64) -> Transition {
    let state = TaskState {
        id: create.task_id.clone(),
        title: create.title.clone(),
        assigning_unit_id: create.assigning_unit_id.clone(),
        assignee_unit_id: create.assignee_unit_id.clone(),
        assigned_date: create.assigned_date,
        deadline: create.deadline,
        plan_ids: create.plan_ids.clone(),
        completed_on: None,
        last_note: String::new(),
        version: 1,
        create_time_us: record_time_us,
        update_time_us: record_time_us,
    };
    let event = event(
        &create.update_id,
        v1::TaskEventKind::Created,
        create.effective_time,
        &state,
    );
    Transition { state, event }
}

/// Applies an update to the current state, or says why it cannot be applied.
/// Any non-empty note or reason becomes the task's `last_note`: the change
/// log keeps no other record of it.
pub fn update(current: &TaskState, update: &UpdateTask, record_time_us: i64) -> Result<Transition> {
    if let Some(expected) = update.expected_version
        && expected != current.version
    {
        return Err(Error::failed_precondition(
            "expected_version",
            format!("task is at version {}, not {expected}", current.version),
        ));
    }
    let mut state = current.clone();
    let effective_date = vietnam_date(update.effective_time);
    let (kind, note) = match &update.change {
        TaskChange::Note { note } => (v1::TaskEventKind::Note, note),
        TaskChange::Deadline {
            new_deadline,
            reason,
        } => {
            if *new_deadline < state.assigned_date {
                return Err(Error::invalid(
                    "deadline_change.new_deadline",
                    format!(
                        "{new_deadline} is before the assigned date {}",
                        state.assigned_date
                    ),
                ));
            }
            state.deadline = *new_deadline;
            (v1::TaskEventKind::DeadlineChanged, reason)
        }
        TaskChange::Complete { note } => {
            if let Some(done) = state.completed_on {
                return Err(Error::failed_precondition(
                    "complete",
                    format!("task is already completed (on {done})"),
                ));
            }
            if effective_date < state.assigned_date {
                return Err(Error::invalid(
                    "effective_time",
                    format!(
                        "the completion date {effective_date} (Vietnam time) is before the assigned date {}",
                        state.assigned_date
                    ),
                ));
            }
            state.completed_on = Some(effective_date);
            (v1::TaskEventKind::Completed, note)
        }
        TaskChange::Reopen { reason } => {
            if state.completed_on.is_none() {
                return Err(Error::failed_precondition(
                    "reopen",
                    "task is open, not completed",
                ));
            }
            state.completed_on = None;
            (v1::TaskEventKind::Reopened, reason)
        }
    };
    if !note.is_empty() {
        state.last_note.clone_from(note);
    }
    state.version += 1;
    state.update_time_us = record_time_us;
    let event = event(&update.update_id, kind, update.effective_time, &state);
    Ok(Transition { state, event })
}

fn event(
    update_id: &str,
    kind: v1::TaskEventKind,
    effective_time: chrono::DateTime<chrono::Utc>,
    state: &TaskState,
) -> v1::TaskEvent {
    let new_deadline =
        (kind == v1::TaskEventKind::DeadlineChanged).then(|| date_to_proto(state.deadline));
    v1::TaskEvent {
        update_id: update_id.to_owned(),
        kind: kind as i32,
        effective_time: Some(timestamp_to_proto(effective_time)),
        effective_date: Some(date_to_proto(vietnam_date(effective_time))),
        new_deadline,
        task: Some(state.to_proto()),
        ..v1::TaskEvent::default()
    }
}

#[cfg(test)]
mod tests;
