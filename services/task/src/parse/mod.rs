//! Turning protobuf requests into the writer's commands. Everything that can
//! be checked without the database is checked here, before a request reaches
//! the writer queue, and a refusal names the field at fault; ids come out
//! normalised and every task command carries its digest.

mod fields;

use chrono::{DateTime, Utc};
use tasknet_domain::{FieldError, date_from_proto};
use tasknet_proto::v1;

use crate::command::{CreatePlan, CreateTask, TaskChange, UpdateTask};
use crate::error::{Error, Result};
use crate::model::PlanRecord;
use fields::{effective_time, line, text, uuid_v7};
pub use fields::{optional_date_range, optional_uuid, uuid_any};

/// Longest task title or plan name, in characters.
pub const MAX_TITLE_CHARS: usize = 500;
/// Longest note or reason, in characters.
pub const MAX_NOTE_CHARS: usize = 4000;

/// A task creation.
pub fn create_task(request: &v1::CreateTaskRequest, now: DateTime<Utc>) -> Result<CreateTask> {
    let update_id = uuid_v7("update_id", &request.update_id)?;
    let task_id = uuid_v7("task_id", &request.task_id)?;
    let effective_time = effective_time(request.effective_time.as_ref(), now)?;
    let task = request
        .task
        .as_ref()
        .ok_or_else(|| FieldError::missing("task"))?;
    let title = line("task.title", &task.title, MAX_TITLE_CHARS, true)?;
    let assigning_unit_id = uuid_any("task.assigning_unit_id", &task.assigning_unit_id)?;
    let assignee_unit_id = uuid_any("task.assignee_unit_id", &task.assignee_unit_id)?;
    let assigned_date = date_from_proto("task.assigned_date", task.assigned_date.as_ref())?;
    let deadline = date_from_proto("task.deadline", task.deadline.as_ref())?;
    if deadline < assigned_date {
        return Err(Error::invalid(
            "task.deadline",
            format!("{deadline} is before the assigned date {assigned_date}"),
        ));
    }
    let mut plan_ids = task
        .plan_ids
        .iter()
        .map(|id| uuid_any("task.plan_ids", id))
        .collect::<Result<Vec<_>, _>>()?;
    plan_ids.sort();
    plan_ids.dedup();
    let mut create = CreateTask {
        update_id,
        task_id,
        effective_time,
        title,
        assigning_unit_id,
        assignee_unit_id,
        assigned_date,
        deadline,
        plan_ids,
        digest: String::new(),
    };
    create.digest = create.canonical_digest();
    Ok(create)
}

/// A task update.
pub fn update_task(request: &v1::UpdateTaskRequest, now: DateTime<Utc>) -> Result<UpdateTask> {
    let update_id = uuid_v7("update_id", &request.update_id)?;
    let task_id = uuid_v7("task_id", &request.task_id)?;
    let effective_time = effective_time(request.effective_time.as_ref(), now)?;
    if let Some(version) = request.expected_version
        && version < 1
    {
        return Err(Error::invalid("expected_version", "must be at least 1"));
    }
    let change = task_change(request.change.as_ref())?;
    let mut update = UpdateTask {
        update_id,
        task_id,
        effective_time,
        expected_version: request.expected_version,
        change,
        digest: String::new(),
    };
    update.digest = update.canonical_digest();
    Ok(update)
}

fn task_change(change: Option<&v1::update_task_request::Change>) -> Result<TaskChange> {
    use v1::update_task_request::Change;
    Ok(match change {
        None => {
            return Err(Error::invalid(
                "change",
                "is required: one of note, deadline_change, complete, reopen",
            ));
        }
        Some(Change::Note(note)) => TaskChange::Note {
            note: text("note.note", &note.note, MAX_NOTE_CHARS, true)?,
        },
        Some(Change::DeadlineChange(change)) => TaskChange::Deadline {
            new_deadline: date_from_proto(
                "deadline_change.new_deadline",
                change.new_deadline.as_ref(),
            )?,
            reason: text(
                "deadline_change.reason",
                &change.reason,
                MAX_NOTE_CHARS,
                false,
            )?,
        },
        Some(Change::Complete(complete)) => TaskChange::Complete {
            note: text("complete.note", &complete.note, MAX_NOTE_CHARS, false)?,
        },
        Some(Change::Reopen(reopen)) => TaskChange::Reopen {
            reason: text("reopen.reason", &reopen.reason, MAX_NOTE_CHARS, false)?,
        },
    })
}

/// Validates a plan creation; an empty `plan_id` gets a fresh UUIDv7.
pub fn create_plan(request: &v1::CreatePlanRequest) -> Result<CreatePlan> {
    let plan = request
        .plan
        .as_ref()
        .ok_or_else(|| FieldError::missing("plan"))?;
    let id = match (request.plan_id.as_str(), plan.id.as_str()) {
        ("", "") => uuid::Uuid::now_v7().to_string(),
        ("", id) => uuid_any("plan.id", id)?,
        (id, "") => uuid_any("plan_id", id)?,
        (id, inner) => {
            let id = uuid_any("plan_id", id)?;
            if uuid_any("plan.id", inner)? != id {
                return Err(Error::invalid("plan.id", "differs from plan_id"));
            }
            id
        }
    };
    let name = line("plan.name", &plan.name, MAX_TITLE_CHARS, true)?;
    let kind = match v1::PlanKind::try_from(plan.kind) {
        Ok(v1::PlanKind::Unspecified) | Err(_) => {
            return Err(Error::invalid(
                "plan.kind",
                "must be KEY_TASKS, LEGAL_DOCUMENTS, ANNUAL_WORK_PLAN or OTHER",
            ));
        }
        Ok(kind) => kind,
    };
    let owner_unit_id = uuid_any("plan.owner_unit_id", &plan.owner_unit_id)?;
    let period = plan
        .period
        .as_ref()
        .ok_or_else(|| FieldError::missing("plan.period"))?;
    let period_start = date_from_proto("plan.period.start", period.start.as_ref())?;
    let period_end = date_from_proto("plan.period.end", period.end.as_ref())?;
    if period_end < period_start {
        return Err(Error::invalid("plan.period.end", "is before the start"));
    }
    let plan = PlanRecord {
        id,
        name,
        kind,
        owner_unit_id,
        period_start,
        period_end,
        create_time_us: 0,
    };
    Ok(CreatePlan { plan })
}

#[cfg(test)]
mod proptests;
#[cfg(test)]
mod tests;
