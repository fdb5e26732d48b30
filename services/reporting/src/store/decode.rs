//! Change-log entries turned into what the read model keeps, with the checks
//! an entry must pass (a malformed one is a bug upstream; it is logged and skipped).

use chrono::NaiveDate;
use tasknet_domain::{
    FieldError, TimelineEvent, date_from_proto, date_from_storage, date_to_storage,
    optional_date_from_proto, timestamp_from_proto, vietnam_date,
};
use tasknet_proto::v1::{self, TaskEventKind};

use super::assignees::Reassignment;

/// A plan as `rpt_plans` stores it.
#[derive(Debug, Clone)]
pub struct PlanRow {
    pub id: String,
    pub name: String,
    pub kind: i64,
    pub owner_unit_id: String,
    pub period_start: i64,
    pub period_end: i64,
    pub create_time_us: i64,
}

/// What `rpt_tasks` keeps of a task, plus its plan memberships.
#[derive(Debug, Clone)]
pub struct TaskRow {
    pub assignee_unit_id: String,
    /// Kept so reports can name completed tasks (the key tasks they list).
    pub title: String,
    pub assigned_date: NaiveDate,
    pub initial_deadline: NaiveDate,
}

/// A status-relevant update, as `rpt_task_events` stores it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StatusEvent {
    pub cursor: i64,
    pub kind: TaskEventKind,
    pub effective: NaiveDate,
    pub new_deadline: Option<NaiveDate>,
}

impl StatusEvent {
    /// The event from its stored columns; `None` for a row no version wrote.
    pub fn from_storage(
        cursor: i64,
        kind: i64,
        effective: i64,
        new_deadline: Option<i64>,
    ) -> Option<Self> {
        let kind = TaskEventKind::try_from(i32::try_from(kind).ok()?).ok()?;
        let new_deadline = match new_deadline {
            Some(value) => Some(date_from_storage(value)?),
            None => None,
        };
        let event = Self {
            cursor,
            kind,
            effective: date_from_storage(effective)?,
            new_deadline,
        };
        event.timeline_event().map(|_| event)
    }

    pub fn storage_kind(&self) -> i64 {
        i64::from(self.kind as i32)
    }

    pub fn storage_new_deadline(&self) -> Option<i64> {
        self.new_deadline.map(date_to_storage)
    }

    pub fn timeline_event(&self) -> Option<TimelineEvent> {
        let effective = self.effective;
        match self.kind {
            TaskEventKind::DeadlineChanged => {
                self.new_deadline
                    .map(|deadline| TimelineEvent::DeadlineChanged {
                        effective,
                        deadline,
                    })
            }
            TaskEventKind::Completed => Some(TimelineEvent::Completed { effective }),
            TaskEventKind::Reopened => Some(TimelineEvent::Reopened { effective }),
            _ => None,
        }
    }
}

/// What one change-log entry means for the read model.
#[derive(Debug, Clone)]
pub enum Decoded {
    Plan(PlanRow),
    Task {
        task_id: String,
        /// The task as it stood after the change: the source of the task row
        /// (and plan memberships) when the task is new to the read model.
        snapshot: TaskRow,
        plan_ids: Vec<String>,
        created: bool,
        event: Option<StatusEvent>,
    },
    /// A task passed to another unit by a reorganisation.
    Reassigned {
        task_id: String,
        /// The task after the change; its assignee is the new holder.
        snapshot: TaskRow,
        plan_ids: Vec<String>,
        /// The unit that held it before (empty from an older producer).
        previous_assignee_unit_id: String,
        reassignment: Reassignment,
    },
    /// Progress notes and kinds this version does not know: nothing to keep.
    Nothing,
}

pub fn decode(change: &v1::Change) -> Result<Decoded, FieldError> {
    match &change.event {
        Some(v1::change::Event::PlanCreated(plan)) => decode_plan(plan, change).map(Decoded::Plan),
        Some(v1::change::Event::TaskEvent(event)) => decode_task_event(event, change.cursor),
        None => Ok(Decoded::Nothing),
    }
}

fn decode_plan(plan: &v1::Plan, change: &v1::Change) -> Result<PlanRow, FieldError> {
    let field = |name: &str| format!("plan_created.{name}");
    if plan.id.is_empty() {
        return Err(FieldError::missing(field("id")));
    }
    let period = plan.period.as_ref();
    let start = date_from_proto(
        &field("period.start"),
        period.and_then(|p| p.start.as_ref()),
    )?;
    let end = date_from_proto(&field("period.end"), period.and_then(|p| p.end.as_ref()))?;
    // Plans are immutable once created; the creation time is informative only.
    let created = plan.create_time.as_ref().or(change.record_time.as_ref());
    let create_time_us = timestamp_from_proto(&field("create_time"), created)
        .map(|t| t.timestamp_micros())
        .unwrap_or(0);
    Ok(PlanRow {
        id: plan.id.to_ascii_lowercase(),
        name: plan.name.clone(),
        kind: i64::from(plan.kind),
        owner_unit_id: plan.owner_unit_id.clone(),
        period_start: date_to_storage(start),
        period_end: date_to_storage(end),
        create_time_us,
    })
}

fn decode_task_event(event: &v1::TaskEvent, cursor: i64) -> Result<Decoded, FieldError> {
    let kind = TaskEventKind::try_from(event.kind).unwrap_or(TaskEventKind::Unspecified);
    if kind == TaskEventKind::Reassigned {
        return decode_reassignment(event, cursor);
    }
    let relevant = matches!(
        kind,
        TaskEventKind::Created
            | TaskEventKind::DeadlineChanged
            | TaskEventKind::Completed
            | TaskEventKind::Reopened
    );
    if !relevant {
        return Ok(Decoded::Nothing);
    }
    let task = event
        .task
        .as_ref()
        .ok_or_else(|| FieldError::missing("task_event.task"))?;
    if task.id.is_empty() {
        return Err(FieldError::missing("task_event.task.id"));
    }
    if task.assignee_unit_id.is_empty() {
        return Err(FieldError::missing("task_event.task.assignee_unit_id"));
    }
    let snapshot = TaskRow {
        assignee_unit_id: task.assignee_unit_id.clone(),
        title: task.title.clone(),
        assigned_date: date_from_proto(
            "task_event.task.assigned_date",
            task.assigned_date.as_ref(),
        )?,
        initial_deadline: date_from_proto("task_event.task.deadline", task.deadline.as_ref())?,
    };
    let status_event = match kind {
        TaskEventKind::Created => None,
        _ => Some(status_event(event, kind, cursor)?),
    };
    Ok(Decoded::Task {
        task_id: task.id.to_ascii_lowercase(),
        snapshot,
        plan_ids: task
            .plan_ids
            .iter()
            .map(|id| id.to_ascii_lowercase())
            .collect(),
        created: kind == TaskEventKind::Created,
        event: status_event,
    })
}

fn decode_reassignment(event: &v1::TaskEvent, cursor: i64) -> Result<Decoded, FieldError> {
    let task = event
        .task
        .as_ref()
        .ok_or_else(|| FieldError::missing("task_event.task"))?;
    if task.id.is_empty() {
        return Err(FieldError::missing("task_event.task.id"));
    }
    if task.assignee_unit_id.is_empty() {
        return Err(FieldError::missing("task_event.task.assignee_unit_id"));
    }
    let snapshot = TaskRow {
        assignee_unit_id: task.assignee_unit_id.clone(),
        title: task.title.clone(),
        assigned_date: date_from_proto(
            "task_event.task.assigned_date",
            task.assigned_date.as_ref(),
        )?,
        initial_deadline: date_from_proto("task_event.task.deadline", task.deadline.as_ref())?,
    };
    let effective = effective_date(event)?;
    Ok(Decoded::Reassigned {
        task_id: task.id.to_ascii_lowercase(),
        reassignment: Reassignment {
            cursor,
            effective,
            // The unit this reassignment names (an older producer sent it
            // only as the snapshot's assignee).
            assignee: if event.new_assignee_unit_id.is_empty() {
                task.assignee_unit_id.clone()
            } else {
                event.new_assignee_unit_id.clone()
            },
        },
        snapshot,
        plan_ids: task
            .plan_ids
            .iter()
            .map(|id| id.to_ascii_lowercase())
            .collect(),
        previous_assignee_unit_id: event.previous_assignee_unit_id.clone(),
    })
}

/// The effective date sent, or derived from the instant if an older
/// producer left it out.
fn effective_date(event: &v1::TaskEvent) -> Result<NaiveDate, FieldError> {
    match optional_date_from_proto("task_event.effective_date", event.effective_date.as_ref())? {
        Some(date) => Ok(date),
        None => Ok(vietnam_date(timestamp_from_proto(
            "task_event.effective_time",
            event.effective_time.as_ref(),
        )?)),
    }
}

fn status_event(
    event: &v1::TaskEvent,
    kind: TaskEventKind,
    cursor: i64,
) -> Result<StatusEvent, FieldError> {
    // The effective date is sent; derive it from the instant if an older
    // producer left it out.
    let effective =
        match optional_date_from_proto("task_event.effective_date", event.effective_date.as_ref())?
        {
            Some(date) => date,
            None => vietnam_date(timestamp_from_proto(
                "task_event.effective_time",
                event.effective_time.as_ref(),
            )?),
        };
    let new_deadline = match kind {
        TaskEventKind::DeadlineChanged => Some(date_from_proto(
            "task_event.new_deadline",
            event.new_deadline.as_ref(),
        )?),
        _ => None,
    };
    Ok(StatusEvent {
        cursor,
        kind,
        effective,
        new_deadline,
    })
}
