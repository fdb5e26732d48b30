//! What an office enters: a task creation or an update of a task, checked
//! here as far as it can be without the centre, and turned into the exact
//! `Ingest` item the pusher will send (with its client-generated update id).

use chrono::{DateTime, NaiveDate, TimeDelta, Utc};
use tasknet_domain::{FieldError, date_to_proto, timestamp_to_proto, vietnam_date};
use tasknet_proto::v1;
use uuid::Uuid;

/// Longest task title, in characters (as the centre allows).
pub const MAX_TITLE_CHARS: usize = 500;
/// Longest note or reason, in characters (as the centre allows).
pub const MAX_TEXT_CHARS: usize = 4000;
/// Longest office reference of a task.
pub const MAX_REFERENCE_CHARS: usize = 100;
/// The centre refuses effective times further ahead than this.
const MAX_FUTURE: TimeDelta = TimeDelta::days(1);

/// The five things an office does to a task.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum UpdateKind {
    Create,
    Note,
    Deadline,
    Complete,
    Reopen,
}

impl UpdateKind {
    pub const ALL: [UpdateKind; 5] = [
        Self::Create,
        Self::Note,
        Self::Deadline,
        Self::Complete,
        Self::Reopen,
    ];

    /// The name used on the command line and in import files.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Create => "create",
            Self::Note => "note",
            Self::Deadline => "deadline",
            Self::Complete => "complete",
            Self::Reopen => "reopen",
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|kind| kind.as_str().eq_ignore_ascii_case(name))
    }

    pub(crate) fn to_storage(self) -> i64 {
        match self {
            Self::Create => 1,
            Self::Note => 2,
            Self::Deadline => 3,
            Self::Complete => 4,
            Self::Reopen => 5,
        }
    }

    pub(crate) fn from_storage(value: i64) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|kind| kind.to_storage() == value)
    }
}

impl std::fmt::Display for UpdateKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A task the office creates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewTask {
    pub title: String,
    /// Who assigned it; the agent's own unit when `None`.
    pub assigning_unit_id: Option<Uuid>,
    /// Who carries it out; the agent's own unit when `None`.
    pub assignee_unit_id: Option<Uuid>,
    /// The Vietnam date of the effective time when `None`.
    pub assigned_date: Option<NaiveDate>,
    pub deadline: NaiveDate,
    pub plan_ids: Vec<Uuid>,
    /// The office's own reference for the task ("CV-2024-117"), usable
    /// instead of the task id in later updates.
    pub reference: Option<String>,
}

impl NewTask {
    pub fn new(title: impl Into<String>, deadline: NaiveDate) -> Self {
        Self {
            title: title.into(),
            assigning_unit_id: None,
            assignee_unit_id: None,
            assigned_date: None,
            deadline,
            plan_ids: Vec::new(),
            reference: None,
        }
    }
}

/// What an update does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    Create(NewTask),
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

impl Change {
    pub fn kind(&self) -> UpdateKind {
        match self {
            Change::Create(_) => UpdateKind::Create,
            Change::Note { .. } => UpdateKind::Note,
            Change::Deadline { .. } => UpdateKind::Deadline,
            Change::Complete { .. } => UpdateKind::Complete,
            Change::Reopen { .. } => UpdateKind::Reopen,
        }
    }
}

/// One update as the office enters it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Update {
    /// A UUIDv7 (the centre requires it); [`Update::create`] makes a new one.
    pub task_id: Uuid,
    /// When it took effect at the office; the time of submission when `None`.
    pub effective_time: Option<DateTime<Utc>>,
    pub change: Change,
}

impl Update {
    /// Creates a task with a new task id (read it from `task_id`).
    pub fn create(task: NewTask) -> Self {
        Self::of(Uuid::now_v7(), Change::Create(task))
    }

    pub fn note(task_id: Uuid, note: impl Into<String>) -> Self {
        Self::of(task_id, Change::Note { note: note.into() })
    }

    pub fn deadline(task_id: Uuid, new_deadline: NaiveDate, reason: impl Into<String>) -> Self {
        let reason = reason.into();
        Self::of(
            task_id,
            Change::Deadline {
                new_deadline,
                reason,
            },
        )
    }

    pub fn complete(task_id: Uuid, note: impl Into<String>) -> Self {
        Self::of(task_id, Change::Complete { note: note.into() })
    }

    pub fn reopen(task_id: Uuid, reason: impl Into<String>) -> Self {
        Self::of(
            task_id,
            Change::Reopen {
                reason: reason.into(),
            },
        )
    }

    fn of(task_id: Uuid, change: Change) -> Self {
        Self {
            task_id,
            effective_time: None,
            change,
        }
    }

    /// Took effect at this instant.
    pub fn effective_at(mut self, time: DateTime<Utc>) -> Self {
        self.effective_time = Some(time);
        self
    }

    /// Took effect on this Vietnam civil date (taken as noon, Vietnam time).
    pub fn effective_on(self, date: NaiveDate) -> Self {
        self.effective_at(noon_in_vietnam(date))
    }
}

/// 12:00 in Vietnam on `date`: the instant a date-only entry stands for.
pub fn noon_in_vietnam(date: NaiveDate) -> DateTime<Utc> {
    tasknet_domain::vietnam_start_of_day(date) + TimeDelta::hours(12)
}

/// An update checked and ready to store: the `Ingest` item it will be sent as.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Prepared {
    pub update_id: Uuid,
    pub task_id: Uuid,
    pub kind: UpdateKind,
    pub effective_time: DateTime<Utc>,
    pub reference: Option<String>,
    pub request: v1::IngestRequest,
}

/// Checks `update` for the agent of `unit_id` at `now`, and builds its item
/// with a fresh UUIDv7 update id. Errors name the field at fault.
pub(crate) fn prepare(
    update: &Update,
    unit_id: Uuid,
    now: DateTime<Utc>,
) -> Result<Prepared, FieldError> {
    check_v7("task", update.task_id)?;
    let effective_time = update.effective_time.unwrap_or(now);
    if effective_time > now + MAX_FUTURE {
        return Err(FieldError::new(
            "effective",
            format!("{effective_time} is more than a day in the future"),
        ));
    }
    let update_id = Uuid::now_v7();
    let base = Base {
        update_id: update_id.to_string(),
        task_id: update.task_id.to_string(),
        effective_time: Some(timestamp_to_proto(effective_time)),
    };
    let (mutation, reference) = match &update.change {
        Change::Create(task) => {
            let (create, reference) = new_task(task, base, unit_id, effective_time)?;
            (v1::ingest_request::Mutation::Create(create), reference)
        }
        change => (
            v1::ingest_request::Mutation::Update(task_update(change, base)?),
            None,
        ),
    };
    Ok(Prepared {
        update_id,
        task_id: update.task_id,
        kind: update.change.kind(),
        effective_time,
        reference,
        request: v1::IngestRequest {
            mutation: Some(mutation),
        },
    })
}

/// The fields every item carries.
struct Base {
    update_id: String,
    task_id: String,
    effective_time: Option<tasknet_proto::prost_types::Timestamp>,
}

fn new_task(
    task: &NewTask,
    base: Base,
    unit_id: Uuid,
    effective_time: DateTime<Utc>,
) -> Result<(v1::CreateTaskRequest, Option<String>), FieldError> {
    tasknet_domain::text::check_line("title", &task.title)?;
    let title = text("title", &task.title, MAX_TITLE_CHARS, true)?;
    let assigned_date = task
        .assigned_date
        .unwrap_or_else(|| vietnam_date(effective_time));
    centre_date("assigned_date", assigned_date)?;
    centre_date("deadline", task.deadline)?;
    // What the centre certainly refuses an office's credential: work
    // assigned to, or in the name of, another unit.
    for (field, unit) in [
        ("assigned_by", task.assigning_unit_id),
        ("assignee", task.assignee_unit_id),
    ] {
        if let Some(unit) = unit.filter(|unit| *unit != unit_id) {
            return Err(FieldError::new(
                field,
                format!(
                    "{unit} is another unit: this office's agent (unit {unit_id}) may only \
                     record its own unit's work"
                ),
            ));
        }
    }
    if task.deadline < assigned_date {
        return Err(FieldError::new(
            "deadline",
            format!(
                "{} is before the assigned date {assigned_date}",
                task.deadline
            ),
        ));
    }
    let reference = task.reference.as_deref().map(reference).transpose()?;
    let mut plan_ids: Vec<String> = task.plan_ids.iter().map(Uuid::to_string).collect();
    plan_ids.sort();
    plan_ids.dedup();
    let create = v1::CreateTaskRequest {
        update_id: base.update_id,
        task_id: base.task_id,
        effective_time: base.effective_time,
        task: Some(v1::NewTask {
            title,
            assigning_unit_id: task.assigning_unit_id.unwrap_or(unit_id).to_string(),
            assignee_unit_id: task.assignee_unit_id.unwrap_or(unit_id).to_string(),
            assigned_date: Some(date_to_proto(assigned_date)),
            deadline: Some(date_to_proto(task.deadline)),
            plan_ids,
        }),
    };
    Ok((create, reference))
}

fn task_update(change: &Change, base: Base) -> Result<v1::UpdateTaskRequest, FieldError> {
    use v1::update_task_request::Change as Wire;
    let wire = match change {
        Change::Create(_) => return Err(FieldError::new("action", "is not an update")),
        Change::Note { note } => Wire::Note(v1::ProgressNote {
            note: text("text", note, MAX_TEXT_CHARS, true)?,
        }),
        Change::Deadline {
            new_deadline,
            reason,
        } => Wire::DeadlineChange(v1::DeadlineChange {
            new_deadline: Some(date_to_proto(centre_date("deadline", *new_deadline)?)),
            reason: text("text", reason, MAX_TEXT_CHARS, false)?,
        }),
        Change::Complete { note } => Wire::Complete(v1::Completion {
            note: text("text", note, MAX_TEXT_CHARS, false)?,
        }),
        Change::Reopen { reason } => Wire::Reopen(v1::Reopening {
            reason: text("text", reason, MAX_TEXT_CHARS, false)?,
        }),
    };
    Ok(v1::UpdateTaskRequest {
        update_id: base.update_id,
        task_id: base.task_id,
        effective_time: base.effective_time,
        expected_version: None,
        change: Some(wire),
    })
}

/// A date the centre accepts (years 1000–9999, as `date_from_proto` checks).
fn centre_date(field: &str, date: NaiveDate) -> Result<NaiveDate, FieldError> {
    let checked = tasknet_domain::optional_date_from_proto(field, Some(&date_to_proto(date)))?;
    checked.ok_or_else(|| FieldError::missing(field))
}

fn check_v7(field: &str, id: Uuid) -> Result<(), FieldError> {
    match id.get_version_num() {
        7 => Ok(()),
        version => Err(FieldError::new(
            field,
            format!("{id} must be a UUIDv7 (it is version {version})"),
        )),
    }
}

/// Free text, with the centre's rules: length in characters, and no control
/// characters other than line breaks and tabs.
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

/// An office reference: short, one line, and not a UUID (those are task ids).
pub(crate) fn reference(value: &str) -> Result<String, FieldError> {
    let value = value.trim();
    if value.is_empty() {
        return Err(FieldError::missing("reference"));
    }
    if value.chars().count() > MAX_REFERENCE_CHARS {
        return Err(FieldError::new(
            "reference",
            format!("is longer than {MAX_REFERENCE_CHARS} characters"),
        ));
    }
    if value.chars().any(char::is_control) {
        return Err(FieldError::new("reference", "contains control characters"));
    }
    if Uuid::try_parse(value).is_ok() {
        return Err(FieldError::new(
            "reference",
            "looks like a task id; a reference must not be a UUID",
        ));
    }
    Ok(value.to_owned())
}

/// How a task is named on the command line or in a file: its id, or the
/// office's own reference.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TaskName {
    Id(Uuid),
    Reference(String),
}

impl TaskName {
    pub fn parse(value: &str) -> Result<Self, FieldError> {
        let value = value.trim();
        if value.is_empty() {
            return Err(FieldError::missing("task"));
        }
        match Uuid::try_parse(value) {
            Ok(id) => Ok(Self::Id(id)),
            Err(_) if looks_like_uuid(value) => Err(FieldError::new(
                "task",
                format!("{value:?} is not a valid UUID"),
            )),
            Err(_) => reference(value)
                .map(Self::Reference)
                .map_err(|error| FieldError::new("task", error.message)),
        }
    }
}

/// 36 characters with hyphens where a UUID has them: a mistyped id, not a reference.
fn looks_like_uuid(value: &str) -> bool {
    value.len() == 36
        && value
            .char_indices()
            .all(|(i, c)| matches!(i, 8 | 13 | 18 | 23) == (c == '-'))
}

#[cfg(test)]
mod tests;
