//! The commands the writer applies: plain values, already validated, with
//! ids normalised (lower-case hyphenated UUIDs). Each task command carries
//! the digest of its canonical form, so a retried request can be told from
//! a reused update id. Commands come from protobuf through [`crate::parse`];
//! reassignments come from a reorganisation (see [`crate::reassign`]).

use chrono::{DateTime, NaiveDate, Utc};
use sha2::{Digest, Sha256};
use tasknet_domain::{date_to_proto, timestamp_to_proto};
use tasknet_proto::prost::Message;
use tasknet_proto::v1;

use crate::model::PlanRecord;
use crate::reassign::Reassign;

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
    /// A task passed on by a reorganisation.
    Reassign(Reassign),
}

impl CreateTask {
    /// The digest of the canonical form: the protobuf encoding of the
    /// normalised request (prost encodes fields in a fixed order).
    pub fn canonical_digest(&self) -> String {
        let canonical = v1::CreateTaskRequest {
            update_id: self.update_id.clone(),
            task_id: self.task_id.clone(),
            effective_time: Some(timestamp_to_proto(self.effective_time)),
            task: Some(v1::NewTask {
                title: self.title.clone(),
                assigning_unit_id: self.assigning_unit_id.clone(),
                assignee_unit_id: self.assignee_unit_id.clone(),
                assigned_date: Some(date_to_proto(self.assigned_date)),
                deadline: Some(date_to_proto(self.deadline)),
                plan_ids: self.plan_ids.clone(),
            }),
        };
        digest("tasknet.v1.CreateTaskRequest", &canonical.encode_to_vec())
    }
}

impl UpdateTask {
    /// The digest of the canonical form, as for [`CreateTask`].
    pub fn canonical_digest(&self) -> String {
        use v1::update_task_request::Change;
        let change = match &self.change {
            TaskChange::Note { note } => Change::Note(v1::ProgressNote { note: note.clone() }),
            TaskChange::Deadline {
                new_deadline,
                reason,
            } => Change::DeadlineChange(v1::DeadlineChange {
                new_deadline: Some(date_to_proto(*new_deadline)),
                reason: reason.clone(),
            }),
            TaskChange::Complete { note } => {
                Change::Complete(v1::Completion { note: note.clone() })
            }
            TaskChange::Reopen { reason } => Change::Reopen(v1::Reopening {
                reason: reason.clone(),
            }),
        };
        let canonical = v1::UpdateTaskRequest {
            update_id: self.update_id.clone(),
            task_id: self.task_id.clone(),
            effective_time: Some(timestamp_to_proto(self.effective_time)),
            expected_version: self.expected_version,
            change: Some(change),
        };
        digest("tasknet.v1.UpdateTaskRequest", &canonical.encode_to_vec())
    }
}

/// SHA-256 of the message type name and its bytes, in hex.
fn digest(type_name: &str, bytes: &[u8]) -> String {
    let mut hasher = Sha256::new();
    hasher.update(type_name.as_bytes());
    hasher.update([0]);
    hasher.update(bytes);
    hex::encode(hasher.finalize())
}
