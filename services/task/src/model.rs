//! Tasks and plans as the service holds them in memory, their wire forms,
//! the transition a rule makes from one task state to the next, and the
//! validity of a unit as the organisation service sends it.

use chrono::{DateTime, NaiveDate, Utc};
use tasknet_domain::{
    ChangeKind, HistoryChange, TaskHistory, TaskOrigin, date_to_proto, optional_date_from_proto,
    timestamp_to_proto, vietnam_start_of_day,
};
use tasknet_proto::{prost_types, v1};

/// A task's current state: one row of `tasks` plus its plan memberships.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskState {
    pub id: String,
    pub title: String,
    pub assigning_unit_id: String,
    pub assignee_unit_id: String,
    pub assigned_date: NaiveDate,
    pub deadline: NaiveDate,
    /// Sorted, without repeats.
    pub plan_ids: Vec<String>,
    /// `Some(day)` while completed.
    pub completed_on: Option<NaiveDate>,
    pub last_note: String,
    pub version: i64,
    pub create_time_us: i64,
    pub update_time_us: i64,
}

impl TaskState {
    pub fn status(&self) -> v1::TaskStatus {
        if self.completed_on.is_some() {
            v1::TaskStatus::Completed
        } else {
            v1::TaskStatus::Open
        }
    }

    pub fn to_proto(&self) -> v1::Task {
        v1::Task {
            id: self.id.clone(),
            title: self.title.clone(),
            assigning_unit_id: self.assigning_unit_id.clone(),
            assignee_unit_id: self.assignee_unit_id.clone(),
            assigned_date: Some(date_to_proto(self.assigned_date)),
            deadline: Some(date_to_proto(self.deadline)),
            plan_ids: self.plan_ids.clone(),
            status: self.status() as i32,
            completed_on: self.completed_on.map(date_to_proto),
            last_note: self.last_note.clone(),
            version: self.version,
            create_time: Some(micros_to_proto(self.create_time_us)),
            update_time: Some(micros_to_proto(self.update_time_us)),
        }
    }
}

/// The state after a change and the event that records it in the change
/// log. (The rule extends the task's history in place: what the next change
/// is checked against.)
#[derive(Debug, Clone)]
pub struct Transition {
    pub state: TaskState,
    pub event: v1::TaskEvent,
}

impl TaskState {
    /// This task with its history folded in effective order: the deadline,
    /// completion, holder and last note in force once every accepted change
    /// has taken effect. One version further, updated at `record_time_us`.
    pub fn folded(&self, history: &TaskHistory, record_time_us: i64) -> TaskState {
        let fold = history.current();
        TaskState {
            deadline: fold.deadline,
            completed_on: fold.completed_on,
            assignee_unit_id: fold.assignee_unit_id,
            last_note: fold.last_note,
            version: self.version + 1,
            update_time_us: record_time_us,
            ..self.clone()
        }
    }

    /// A history standing in for a task whose change-log entries cannot be
    /// read back (none is written without them): its current state as the
    /// origin, and its completion if completed.
    pub fn stand_in_history(&self) -> TaskHistory {
        let origin = TaskOrigin {
            update_id: String::new(),
            effective_time: vietnam_start_of_day(self.assigned_date),
            assigned_date: self.assigned_date,
            deadline: self.deadline,
            assignee_unit_id: self.assignee_unit_id.clone(),
        };
        let mut history = TaskHistory::new(origin);
        if let Some(done) = self.completed_on {
            history.changes.push(HistoryChange {
                update_id: String::new(),
                effective_time: vietnam_start_of_day(done),
                kind: ChangeKind::Completed,
                note: self.last_note.clone(),
            });
        }
        history
    }
}

/// A plan: one row of `plans`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlanRecord {
    pub id: String,
    pub name: String,
    pub kind: v1::PlanKind,
    pub owner_unit_id: String,
    pub period_start: NaiveDate,
    pub period_end: NaiveDate,
    pub create_time_us: i64,
}

impl PlanRecord {
    /// Whether two plans say the same thing (creation times aside): a
    /// repeated creation must match the first to be acknowledged.
    pub fn same_content(&self, other: &PlanRecord) -> bool {
        self.id == other.id
            && self.name == other.name
            && self.kind == other.kind
            && self.owner_unit_id == other.owner_unit_id
            && self.period_start == other.period_start
            && self.period_end == other.period_end
    }

    pub fn to_proto(&self) -> v1::Plan {
        v1::Plan {
            id: self.id.clone(),
            name: self.name.clone(),
            kind: self.kind as i32,
            owner_unit_id: self.owner_unit_id.clone(),
            period: Some(v1::DateRange {
                start: Some(date_to_proto(self.period_start)),
                end: Some(date_to_proto(self.period_end)),
            }),
            create_time: Some(micros_to_proto(self.create_time_us)),
        }
    }
}

/// Instants are stored as microseconds since the epoch (UTC).
pub fn micros(instant: DateTime<Utc>) -> i64 {
    instant.timestamp_micros()
}

pub fn micros_to_proto(micros: i64) -> prost_types::Timestamp {
    DateTime::<Utc>::from_timestamp_micros(micros)
        .map(timestamp_to_proto)
        .unwrap_or_default()
}

/// A unit's first and last day, as the organisation service has them.
pub fn validity(unit: &v1::Unit) -> (Option<NaiveDate>, Option<NaiveDate>) {
    let day = |date: Option<&v1::Date>| optional_date_from_proto("", date).ok().flatten();
    (day(unit.valid_from.as_ref()), day(unit.valid_to.as_ref()))
}
