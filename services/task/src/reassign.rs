//! A task passed to another unit by a reorganisation: the command the writer
//! applies, its idempotency identity, and the transition it makes. The
//! change log records it as a `REASSIGNED` event effective on the
//! reorganisation's effective date.

use chrono::NaiveDate;
use sha2::{Digest, Sha256};
use tasknet_domain::date::vietnam_start_of_day;
use tasknet_domain::{date_to_proto, timestamp_to_proto};
use tasknet_proto::v1;
use uuid::Uuid;

use crate::error::{Error, Result};
use crate::model::TaskState;
use crate::transition::Transition;

/// Namespace of reassignment update ids. Fixed forever: a repeated transfer
/// must produce the same ids to be recognised as a repeat.
const REASSIGN_NAMESPACE: Uuid = Uuid::from_u128(0x7a3e_55c1_9d0b_4f62_8e17_4b2c_60d9_a1f3);

/// Pass `task_id` from `from_unit_id` to `to_unit_id` on `effective`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reassign {
    pub update_id: String,
    pub task_id: String,
    pub from_unit_id: String,
    pub to_unit_id: String,
    pub effective: NaiveDate,
    pub reorganisation_id: String,
    pub digest: String,
}

impl Reassign {
    /// The reassignment of one task by one reorganisation: its update id is
    /// derived from both, so running a transfer again repeats, not re-applies.
    pub fn new(
        task_id: &str,
        from_unit_id: &str,
        to_unit_id: &str,
        effective: NaiveDate,
        reorganisation_id: &str,
    ) -> Self {
        let name = format!("reassign:{reorganisation_id}:{task_id}");
        let update_id = Uuid::new_v5(&REASSIGN_NAMESPACE, name.as_bytes()).to_string();
        let mut reassign = Self {
            update_id,
            task_id: task_id.to_owned(),
            from_unit_id: from_unit_id.to_owned(),
            to_unit_id: to_unit_id.to_owned(),
            effective,
            reorganisation_id: reorganisation_id.to_owned(),
            digest: String::new(),
        };
        reassign.digest = digest(&reassign);
        reassign
    }
}

fn digest(reassign: &Reassign) -> String {
    let canonical = format!(
        "tasknet.reassign\0{}\0{}\0{}\0{}\0{}\0{}",
        reassign.update_id,
        reassign.task_id,
        reassign.from_unit_id,
        reassign.to_unit_id,
        reassign.effective,
        reassign.reorganisation_id
    );
    Sha256::digest(canonical.as_bytes())
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

/// The task held by the successor from the effective date on. Refused when
/// the task is no longer the predecessor's, or was completed before the
/// reorganisation (it stays with the unit that completed it).
pub fn transition(
    current: &TaskState,
    reassign: &Reassign,
    record_time_us: i64,
) -> Result<Transition> {
    if current.assignee_unit_id != reassign.from_unit_id {
        return Err(Error::failed_precondition(
            "task_id",
            format!(
                "task {} is assigned to unit {}, not {}",
                current.id, current.assignee_unit_id, reassign.from_unit_id
            ),
        ));
    }
    if let Some(done) = current
        .completed_on
        .filter(|done| *done < reassign.effective)
    {
        return Err(Error::failed_precondition(
            "task_id",
            format!(
                "task {} was completed on {done}, before the reorganisation took effect on {}; \
                 it stays with the unit that completed it",
                current.id, reassign.effective
            ),
        ));
    }
    let mut state = current.clone();
    state.assignee_unit_id.clone_from(&reassign.to_unit_id);
    state.version += 1;
    state.update_time_us = record_time_us;
    let event = v1::TaskEvent {
        update_id: reassign.update_id.clone(),
        kind: v1::TaskEventKind::Reassigned as i32,
        effective_time: Some(timestamp_to_proto(vietnam_start_of_day(reassign.effective))),
        effective_date: Some(date_to_proto(reassign.effective)),
        new_deadline: None,
        task: Some(state.to_proto()),
        previous_assignee_unit_id: reassign.from_unit_id.clone(),
        reorganisation_id: reassign.reorganisation_id.clone(),
        new_assignee_unit_id: reassign.to_unit_id.clone(),
        note: String::new(),
    };
    Ok(Transition { state, event })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn task(completed_on: Option<NaiveDate>) -> TaskState {
        let day = |d| NaiveDate::from_ymd_opt(2025, 6, d).unwrap();
        TaskState {
            id: "t".into(),
            title: "Báo cáo".into(),
            assigning_unit_id: "hq".into(),
            assignee_unit_id: "binh-dinh".into(),
            assigned_date: day(1),
            deadline: day(20),
            plan_ids: Vec::new(),
            completed_on,
            last_note: String::new(),
            version: 3,
            create_time_us: 1,
            update_time_us: 2,
        }
    }

    fn reassign() -> Reassign {
        let effective = NaiveDate::from_ymd_opt(2025, 7, 1).unwrap();
        Reassign::new("t", "binh-dinh", "gia-lai", effective, "r")
    }

    #[test]
    fn open_tasks_pass_on_the_effective_date() {
        let transition = transition(&task(None), &reassign(), 10).unwrap();
        assert_eq!(transition.state.assignee_unit_id, "gia-lai");
        assert_eq!(transition.state.version, 4);
        let event = transition.event;
        assert_eq!(event.kind, v1::TaskEventKind::Reassigned as i32);
        assert_eq!(
            event.effective_date,
            Some(v1::Date {
                year: 2025,
                month: 7,
                day: 1
            })
        );
        assert_eq!(event.previous_assignee_unit_id, "binh-dinh");
        assert_eq!(event.reorganisation_id, "r");
        // Midnight in Vietnam is 17:00 UTC the day before.
        let time = event.effective_time.unwrap();
        assert_eq!(time.seconds % 86_400, 17 * 3600);
    }

    #[test]
    fn completed_tasks_stay_unless_completed_on_or_after_the_date() {
        let june = NaiveDate::from_ymd_opt(2025, 6, 30).unwrap();
        let july = NaiveDate::from_ymd_opt(2025, 7, 1).unwrap();
        let error = transition(&task(Some(june)), &reassign(), 10).unwrap_err();
        assert_eq!(error.field(), Some("task_id"));
        assert!(transition(&task(Some(july)), &reassign(), 10).is_ok());
        let mut elsewhere = task(None);
        elsewhere.assignee_unit_id = "gia-lai".into();
        assert!(transition(&elsewhere, &reassign(), 10).is_err());
    }

    #[test]
    fn ids_and_digests_are_stable() {
        assert_eq!(reassign(), reassign());
        assert_eq!(
            Uuid::parse_str(&reassign().update_id)
                .unwrap()
                .get_version_num(),
            5
        );
        let other = Reassign::new("t", "binh-dinh", "gia-lai", reassign().effective, "r2");
        assert_ne!(other.update_id, reassign().update_id);
    }
}
