//! The rules of a task's life: what a creation or an update does to a task's
//! state, and which updates its history refuses. Pure functions; the
//! writer calls them against the state as of its batch. (A reassignment's
//! rule is with the rest of reassignment, in [`crate::reassign`].)

use tasknet_domain::{
    ChangeKind, HistoryChange, TaskHistory, TaskOrigin, date_to_proto, timestamp_to_proto,
    vietnam_date,
};
use tasknet_proto::v1;

use crate::command::{CreateTask, TaskChange, UpdateTask};
use crate::error::{Error, Result};
use crate::model::{TaskState, Transition};

/// A new task at version 1, and its history.
pub fn create(create: &CreateTask, record_time_us: i64) -> (Transition, TaskHistory) {
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
    let history = TaskHistory::new(TaskOrigin {
        update_id: create.update_id.clone(),
        effective_time: create.effective_time,
        assigned_date: create.assigned_date,
        deadline: create.deadline,
        assignee_unit_id: create.assignee_unit_id.clone(),
    });
    let mut event = event(
        &create.update_id,
        v1::TaskEventKind::Created,
        create.effective_time,
        &state,
    );
    event.new_deadline = None;
    (Transition { state, event }, history)
}

/// Applies an update to a task whose accepted changes are `history`
/// (extended with it in place), or says why it cannot be applied (`history`
/// unchanged). The task's state is then its history
/// folded in effective order (`tasknet_domain::TaskHistory`), whatever order
/// the changes arrived in; an update that would leave the history invalid in
/// that order is refused naming the change it conflicts with.
pub fn update(
    current: &TaskState,
    history: &mut TaskHistory,
    update: &UpdateTask,
    record_time_us: i64,
) -> Result<Transition> {
    if let Some(expected) = update.expected_version
        && expected != current.version
    {
        return Err(Error::failed_precondition(
            "expected_version",
            format!("task is at version {}, not {expected}", current.version),
        ));
    }
    let effective_date = vietnam_date(update.effective_time);
    let (kind, event_kind, note, field) = match &update.change {
        TaskChange::Note { note } => (ChangeKind::Note, v1::TaskEventKind::Note, note, "note"),
        TaskChange::Deadline {
            new_deadline,
            reason,
        } => {
            if *new_deadline < current.assigned_date {
                return Err(Error::invalid(
                    "deadline_change.new_deadline",
                    format!(
                        "{new_deadline} is before the assigned date {}",
                        current.assigned_date
                    ),
                ));
            }
            let kind = ChangeKind::DeadlineChanged {
                deadline: *new_deadline,
            };
            (
                kind,
                v1::TaskEventKind::DeadlineChanged,
                reason,
                "deadline_change",
            )
        }
        TaskChange::Complete { note } => {
            if effective_date < current.assigned_date {
                return Err(Error::invalid(
                    "effective_time",
                    format!(
                        "the completion date {effective_date} (Vietnam time) is before the assigned date {}",
                        current.assigned_date
                    ),
                ));
            }
            (
                ChangeKind::Completed,
                v1::TaskEventKind::Completed,
                note,
                "complete",
            )
        }
        TaskChange::Reopen { reason } => (
            ChangeKind::Reopened,
            v1::TaskEventKind::Reopened,
            reason,
            "reopen",
        ),
    };
    let change = HistoryChange {
        update_id: update.update_id.clone(),
        effective_time: update.effective_time,
        kind,
        note: note.clone(),
    };
    let new_deadline = match change.kind {
        ChangeKind::DeadlineChanged { deadline } => Some(date_to_proto(deadline)),
        _ => None,
    };
    let note = change.note.clone();
    history
        .accept(change)
        .map_err(|conflict| Error::failed_precondition(field, conflict.to_string()))?;
    let state = current.folded(history, record_time_us);
    let mut event = event(&update.update_id, event_kind, update.effective_time, &state);
    event.new_deadline = new_deadline;
    event.note = note;
    Ok(Transition { state, event })
}

fn event(
    update_id: &str,
    kind: v1::TaskEventKind,
    effective_time: chrono::DateTime<chrono::Utc>,
    state: &TaskState,
) -> v1::TaskEvent {
    v1::TaskEvent {
        update_id: update_id.to_owned(),
        kind: kind as i32,
        effective_time: Some(timestamp_to_proto(effective_time)),
        effective_date: Some(date_to_proto(vietnam_date(effective_time))),
        task: Some(state.to_proto()),
        ..v1::TaskEvent::default()
    }
}

#[cfg(test)]
mod tests;
