//! Request builders shared by the unit tests.

use chrono::{DateTime, NaiveDate, Utc};
use tasknet_domain::{date_to_proto, timestamp_to_proto};
use tasknet_proto::v1;

pub use tasknet_domain::testing::{complete, new_id, note, reopen, ymd};

pub const ASSIGNING_UNIT: &str = "00000000-0000-4000-8000-000000000001";
pub const ASSIGNEE_UNIT: &str = "00000000-0000-4000-8000-000000000002";

pub fn instant(text: &str) -> DateTime<Utc> {
    text.parse().unwrap()
}

/// A valid creation: assigned 2024-06-01, due 2024-06-30.
pub fn create_request(task_id: &str) -> v1::CreateTaskRequest {
    v1::CreateTaskRequest {
        update_id: new_id(),
        task_id: task_id.to_owned(),
        effective_time: Some(timestamp_to_proto(instant("2024-06-01T02:00:00Z"))),
        task: Some(v1::NewTask {
            title: "Điều tra dân số giữa kỳ".to_owned(),
            assigning_unit_id: ASSIGNING_UNIT.to_owned(),
            assignee_unit_id: ASSIGNEE_UNIT.to_owned(),
            assigned_date: Some(date_to_proto(ymd(2024, 6, 1))),
            deadline: Some(date_to_proto(ymd(2024, 6, 30))),
            plan_ids: Vec::new(),
        }),
    }
}

/// An update of `task_id` that took effect at `effective` (RFC 3339).
pub fn update_request(
    task_id: &str,
    effective: &str,
    change: v1::update_task_request::Change,
) -> v1::UpdateTaskRequest {
    v1::UpdateTaskRequest {
        update_id: new_id(),
        task_id: task_id.to_owned(),
        effective_time: Some(timestamp_to_proto(instant(effective))),
        expected_version: None,
        change: Some(change),
    }
}

pub fn deadline(date: NaiveDate) -> v1::update_task_request::Change {
    tasknet_domain::testing::deadline_change(date, "")
}
