//! A task's history read back from its change-log events: what the task
//! service folds for its current state and what an office's agent folds for
//! its local copy.

use chrono::{DateTime, Utc};
use tasknet_proto::v1::{self, TaskEventKind};

use super::{ChangeKind, HistoryChange, TaskHistory, TaskOrigin};
use crate::date::{date_from_proto, timestamp_from_proto};

/// The history told by a task's events in change-log order (the first is
/// its creation). Events without a usable kind or date are skipped; `None`
/// if there is no creation first.
pub fn history_from_events<'a>(
    events: impl IntoIterator<Item = &'a v1::TaskEvent>,
) -> Option<TaskHistory> {
    let mut events = events.into_iter();
    let created = events.next()?;
    if created.kind != TaskEventKind::Created as i32 {
        return None;
    }
    let task = created.task.as_ref()?;
    let origin = TaskOrigin {
        update_id: created.update_id.clone(),
        effective_time: effective_time(created)?,
        assigned_date: date_from_proto("assigned_date", task.assigned_date.as_ref()).ok()?,
        deadline: date_from_proto("deadline", task.deadline.as_ref()).ok()?,
        assignee_unit_id: task.assignee_unit_id.clone(),
    };
    let mut history = TaskHistory::new(origin);
    let mut previous_note = task.last_note.clone();
    for event in events {
        let snapshot_note = event.task.as_ref().map(|t| t.last_note.clone());
        if let Some(change) = change_from_event(event, &previous_note) {
            history.changes.push(change);
        }
        if let Some(note) = snapshot_note {
            previous_note = note;
        }
    }
    Some(history)
}

/// One event as a change. `previous_note` is the `last_note` of the event
/// before: events written before `TaskEvent.note` existed carried their note
/// only in the snapshot, which changed exactly when they had one.
pub fn change_from_event(event: &v1::TaskEvent, previous_note: &str) -> Option<HistoryChange> {
    let kind = match TaskEventKind::try_from(event.kind).ok()? {
        TaskEventKind::Note => ChangeKind::Note,
        TaskEventKind::DeadlineChanged => ChangeKind::DeadlineChanged {
            deadline: date_from_proto("new_deadline", event.new_deadline.as_ref()).ok()?,
        },
        TaskEventKind::Completed => ChangeKind::Completed,
        TaskEventKind::Reopened => ChangeKind::Reopened,
        TaskEventKind::Reassigned => ChangeKind::Reassigned {
            assignee_unit_id: if event.new_assignee_unit_id.is_empty() {
                event.task.as_ref()?.assignee_unit_id.clone()
            } else {
                event.new_assignee_unit_id.clone()
            },
        },
        TaskEventKind::Created | TaskEventKind::Unspecified => return None,
    };
    let note = if event.note.is_empty() {
        event
            .task
            .as_ref()
            .map(|t| t.last_note.as_str())
            .filter(|note| *note != previous_note)
            .unwrap_or_default()
            .to_owned()
    } else {
        event.note.clone()
    };
    Some(HistoryChange {
        update_id: event.update_id.clone(),
        effective_time: effective_time(event)?,
        kind,
        note,
    })
}

fn effective_time(event: &v1::TaskEvent) -> Option<DateTime<Utc>> {
    timestamp_from_proto("effective_time", event.effective_time.as_ref()).ok()
}
