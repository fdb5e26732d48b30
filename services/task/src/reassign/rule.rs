//! What passing a task on does: the successor holds it from the effective
//! date, recorded as a `REASSIGNED` event effective on that date.

use tasknet_domain::date::vietnam_start_of_day;
use tasknet_domain::{ChangeKind, HistoryChange, TaskHistory, date_to_proto, timestamp_to_proto};
use tasknet_proto::v1;

use super::command::Reassign;
use crate::error::{Error, Result};
use crate::model::{TaskState, Transition};

/// The task held by the successor from the effective date on. Refused when
/// the task is no longer the predecessor's, or was completed before the
/// reorganisation (it stays with the unit that completed it).
pub fn transition(
    current: &TaskState,
    history: &mut TaskHistory,
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
    let effective_time = vietnam_start_of_day(reassign.effective);
    // A holder change never makes a history invalid: pushed, not checked.
    history.changes.push(HistoryChange {
        update_id: reassign.update_id.clone(),
        effective_time,
        kind: ChangeKind::Reassigned {
            assignee_unit_id: reassign.to_unit_id.clone(),
        },
        note: String::new(),
    });
    let state = current.folded(history, record_time_us);
    let event = v1::TaskEvent {
        update_id: reassign.update_id.clone(),
        kind: v1::TaskEventKind::Reassigned as i32,
        effective_time: Some(timestamp_to_proto(effective_time)),
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
    use chrono::NaiveDate;

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

    /// The rule applied to `task` (its history standing in).
    fn pass_on(task: &TaskState, reassign: &Reassign) -> Result<Transition> {
        transition(task, &mut task.stand_in_history(), reassign, 10)
    }

    fn reassign() -> Reassign {
        let effective = NaiveDate::from_ymd_opt(2025, 7, 1).unwrap();
        Reassign::new("t", "binh-dinh", "gia-lai", effective, "r")
    }

    #[test]
    fn open_tasks_pass_on_the_effective_date() {
        let transition = pass_on(&task(None), &reassign()).unwrap();
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
        let error = pass_on(&task(Some(june)), &reassign()).unwrap_err();
        assert_eq!(error.field(), Some("task_id"));
        assert!(pass_on(&task(Some(july)), &reassign()).is_ok());
        let mut elsewhere = task(None);
        elsewhere.assignee_unit_id = "gia-lai".into();
        assert!(pass_on(&elsewhere, &reassign()).is_err());
    }
}
