//! Stateless validation of incoming requests into the writer's commands.
//! Everything that can be checked without the database is checked here,
//! before a request reaches the writer queue; ids come out normalised
//! (lower-case hyphenated UUIDs) and every mutation carries the digest of its
//! canonical form, so a retried request can be told from a reused update id.

use chrono::{DateTime, NaiveDate, Utc};
use sha2::{Digest, Sha256};
use tasknet_domain::error::parse_uuid;
use tasknet_domain::{
    FieldError, date_from_proto, date_to_proto, optional_date_from_proto, timestamp_from_proto,
    timestamp_to_proto,
};
use tasknet_proto::prost::Message;
use tasknet_proto::v1;

use crate::error::{Error, Result};
use crate::model::PlanRecord;

/// Longest task title or plan name, in characters.
pub const MAX_TITLE_CHARS: usize = 500;
/// Longest note or reason, in characters.
pub const MAX_NOTE_CHARS: usize = 4000;
/// How far ahead of the server's clock an effective time may be (clock skew, time zones).
const MAX_FUTURE: chrono::TimeDelta = chrono::TimeDelta::days(1);

/// A validated task creation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreateTask {
    pub update_id: String,
    pub task_id: String,
    pub effective_time: DateTime<Utc>,
    pub title: String,
    pub assigning_unit_id: String,
    pub assignee_unit_id: String,
    pub assigned_date: NaiveDate,
    pub deadline: NaiveDate,
    /// Sorted, without repeats.
    pub plan_ids: Vec<String>,
    pub digest: String,
}

/// What a validated update changes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TaskChange {
    Note {
        note: String,
    },
    Deadline {
        new_deadline: NaiveDate,
        reason: String,
    },
    Complete {
        note: String,
    },
    Reopen {
        reason: String,
    },
}

/// A validated task update.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpdateTask {
    pub update_id: String,
    pub task_id: String,
    pub effective_time: DateTime<Utc>,
    pub expected_version: Option<i64>,
    pub change: TaskChange,
    pub digest: String,
}

/// A validated plan creation (its `create_time_us` is set by the writer).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreatePlan {
    pub plan: PlanRecord,
}

/// Everything the writer applies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mutation {
    CreateTask(CreateTask),
    UpdateTask(UpdateTask),
    CreatePlan(CreatePlan),
    /// A task passed on by a reorganisation (see [`crate::reassign`]).
    Reassign(crate::reassign::Reassign),
}

pub fn validate_create_task(
    request: &v1::CreateTaskRequest,
    now: DateTime<Utc>,
) -> Result<CreateTask> {
    let update_id = uuid_v7("update_id", &request.update_id)?;
    let task_id = uuid_v7("task_id", &request.task_id)?;
    let effective_time = effective_time(request.effective_time.as_ref(), now)?;
    let task = request
        .task
        .as_ref()
        .ok_or_else(|| FieldError::missing("task"))?;
    let title = text("task.title", &task.title, MAX_TITLE_CHARS, true)?;
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
    create.digest = create_digest(&create);
    Ok(create)
}

pub fn validate_update_task(
    request: &v1::UpdateTaskRequest,
    now: DateTime<Utc>,
) -> Result<UpdateTask> {
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
    update.digest = update_digest(&update);
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
pub fn validate_create_plan(request: &v1::CreatePlanRequest) -> Result<CreatePlan> {
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
    let name = text("plan.name", &plan.name, MAX_TITLE_CHARS, true)?;
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

/// A required UUIDv7, normalised.
pub fn uuid_v7(field: &str, value: &str) -> Result<String, FieldError> {
    let id = parse_uuid(field, value)?;
    match id.get_version_num() {
        7 => Ok(id.to_string()),
        version => Err(FieldError::new(
            field,
            format!("must be a UUIDv7 ({value:?} is version {version})"),
        )),
    }
}

/// A required UUID of any version, normalised.
pub fn uuid_any(field: &str, value: &str) -> Result<String, FieldError> {
    Ok(parse_uuid(field, value)?.to_string())
}

/// An optional UUID filter: empty means no filter.
pub fn optional_uuid(field: &str, value: &str) -> Result<Option<String>, FieldError> {
    if value.is_empty() {
        return Ok(None);
    }
    uuid_any(field, value).map(Some)
}

/// An optional inclusive date range filter; either end may be open.
pub fn optional_date_range(
    field: &str,
    range: Option<&v1::DateRange>,
) -> Result<(Option<NaiveDate>, Option<NaiveDate>), FieldError> {
    let Some(range) = range else {
        return Ok((None, None));
    };
    let start = optional_date_from_proto(&format!("{field}.start"), range.start.as_ref())?;
    let end = optional_date_from_proto(&format!("{field}.end"), range.end.as_ref())?;
    if let (Some(start), Some(end)) = (start, end)
        && end < start
    {
        return Err(FieldError::new(
            format!("{field}.end"),
            "is before the start",
        ));
    }
    Ok((start, end))
}

fn effective_time(
    timestamp: Option<&tasknet_proto::prost_types::Timestamp>,
    now: DateTime<Utc>,
) -> Result<DateTime<Utc>, FieldError> {
    let instant = timestamp_from_proto("effective_time", timestamp)?;
    if instant > now + MAX_FUTURE {
        return Err(FieldError::new(
            "effective_time",
            format!("{instant} is more than a day in the future"),
        ));
    }
    Ok(instant)
}

/// Free text: length in characters, and no control characters other than
/// line breaks and tabs (PostgreSQL cannot store NUL in text at all).
fn text(field: &str, value: &str, max_chars: usize, required: bool) -> Result<String, FieldError> {
    if required && value.trim().is_empty() {
        return Err(FieldError::missing(field));
    }
    let chars = value.chars().count();
    if chars > max_chars {
        return Err(FieldError::new(
            field,
            format!("is {chars} characters long; at most {max_chars} are allowed"),
        ));
    }
    if value
        .chars()
        .any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t'))
    {
        return Err(FieldError::new(field, "contains control characters"));
    }
    Ok(value.to_owned())
}

/// The digest of a creation's canonical form: the protobuf encoding of the
/// normalised request (prost encodes fields in a fixed order).
fn create_digest(create: &CreateTask) -> String {
    let canonical = v1::CreateTaskRequest {
        update_id: create.update_id.clone(),
        task_id: create.task_id.clone(),
        effective_time: Some(timestamp_to_proto(create.effective_time)),
        task: Some(v1::NewTask {
            title: create.title.clone(),
            assigning_unit_id: create.assigning_unit_id.clone(),
            assignee_unit_id: create.assignee_unit_id.clone(),
            assigned_date: Some(date_to_proto(create.assigned_date)),
            deadline: Some(date_to_proto(create.deadline)),
            plan_ids: create.plan_ids.clone(),
        }),
    };
    digest("tasknet.v1.CreateTaskRequest", &canonical.encode_to_vec())
}

fn update_digest(update: &UpdateTask) -> String {
    use v1::update_task_request::Change;
    let change = match &update.change {
        TaskChange::Note { note } => Change::Note(v1::ProgressNote { note: note.clone() }),
        TaskChange::Deadline {
            new_deadline,
            reason,
        } => Change::DeadlineChange(v1::DeadlineChange {
            new_deadline: Some(date_to_proto(*new_deadline)),
            reason: reason.clone(),
        }),
        TaskChange::Complete { note } => Change::Complete(v1::Completion { note: note.clone() }),
        TaskChange::Reopen { reason } => Change::Reopen(v1::Reopening {
            reason: reason.clone(),
        }),
    };
    let canonical = v1::UpdateTaskRequest {
        update_id: update.update_id.clone(),
        task_id: update.task_id.clone(),
        effective_time: Some(timestamp_to_proto(update.effective_time)),
        expected_version: update.expected_version,
        change: Some(change),
    };
    digest("tasknet.v1.UpdateTaskRequest", &canonical.encode_to_vec())
}

/// SHA-256 of the message type name and its bytes, in hex.
fn digest(type_name: &str, bytes: &[u8]) -> String {
    let mut hasher = Sha256::new();
    hasher.update(type_name.as_bytes());
    hasher.update([0]);
    hasher.update(bytes);
    hex::encode(hasher.finalize())
}

#[cfg(test)]
mod proptests;
#[cfg(test)]
mod tests;
