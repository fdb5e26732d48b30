//! The local view and the forecast over hand-made copies: the centre's
//! state as it stands when nothing is pending, pending updates folded in
//! effective order, refusals the centre would give predicted with the
//! change they conflict with.

use chrono::NaiveDate;
use tasknet_domain::{date_to_proto, timestamp_to_proto};
use tasknet_proto::v1;
use uuid::Uuid;

use super::*;
use crate::outbox::EntryState;
use crate::update::UpdateKind;

fn ymd(month: u32, day: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(2024, month, day).unwrap()
}

const TASK: &str = "0190e1a0-0000-7000-8000-000000000001";
const OFFICE: &str = "office";

/// A task created on 3 June, due 28 June, as the feed brings it.
fn stored(extra: Vec<v1::TaskEvent>) -> StoredTask {
    let task = v1::Task {
        id: TASK.to_owned(),
        title: "Báo cáo quý II".to_owned(),
        assigning_unit_id: "hq".to_owned(),
        assignee_unit_id: OFFICE.to_owned(),
        assigned_date: Some(date_to_proto(ymd(6, 3))),
        deadline: Some(date_to_proto(ymd(6, 28))),
        status: v1::TaskStatus::Open as i32,
        version: 1,
        ..v1::Task::default()
    };
    let created = v1::TaskEvent {
        update_id: "created".to_owned(),
        kind: v1::TaskEventKind::Created as i32,
        effective_time: Some(timestamp_to_proto(noon_in_vietnam(ymd(6, 3)))),
        task: Some(task.clone()),
        ..v1::TaskEvent::default()
    };
    let mut events = vec![created];
    let mut last = task;
    for event in extra {
        last = event.task.clone().unwrap();
        events.push(event);
    }
    StoredTask {
        task: last,
        held: true,
        events,
    }
}

fn completion_event(on: NaiveDate) -> v1::TaskEvent {
    let mut task = stored(Vec::new()).task;
    task.status = v1::TaskStatus::Completed as i32;
    task.completed_on = Some(date_to_proto(on));
    task.version = 2;
    v1::TaskEvent {
        update_id: "done".to_owned(),
        kind: v1::TaskEventKind::Completed as i32,
        effective_time: Some(timestamp_to_proto(noon_in_vietnam(on))),
        task: Some(task),
        ..v1::TaskEvent::default()
    }
}

fn entry(change: Wire, on: NaiveDate) -> OutboxEntry {
    let update_id = Uuid::now_v7();
    let effective_time = noon_in_vietnam(on);
    OutboxEntry {
        seq: 1,
        update_id,
        task_id: Uuid::parse_str(TASK).unwrap(),
        kind: UpdateKind::Note,
        state: EntryState::Pending,
        effective_time,
        entered_at: effective_time,
        source: "cli".to_owned(),
        ack: None,
        refusal: None,
        request: v1::IngestRequest {
            mutation: Some(v1::ingest_request::Mutation::Update(
                v1::UpdateTaskRequest {
                    update_id: update_id.to_string(),
                    task_id: TASK.to_owned(),
                    effective_time: Some(timestamp_to_proto(effective_time)),
                    expected_version: None,
                    change: Some(change),
                },
            )),
        },
    }
}

fn complete() -> Wire {
    Wire::Complete(v1::Completion::default())
}

fn view(stored: StoredTask, entries: &[OutboxEntry]) -> LocalTask {
    let copy = HashMap::from([(TASK.to_owned(), stored)]);
    let tasks = local_view(&copy, entries, &HashMap::new(), ymd(7, 1));
    assert_eq!(tasks.len(), 1);
    tasks.into_iter().next().unwrap()
}

#[test]
fn with_nothing_pending_the_view_is_the_centres() {
    let task = view(stored(vec![completion_event(ymd(6, 20))]), &[]);
    assert_eq!(task.completed_on, Some(ymd(6, 20)));
    assert_eq!(task.status, "completed");
    assert_eq!(task.class, "completed_on_time");
    assert_eq!((task.version, task.pending), (2, 0));
}

#[test]
fn pending_updates_fold_in_effective_order_and_conflicts_are_left_out() {
    // Entered in this order: a completion on 30 June, then a deadline moved
    // from 10 June: the completion comes after it, late.
    let moved = Wire::DeadlineChange(v1::DeadlineChange {
        new_deadline: Some(date_to_proto(ymd(6, 25))),
        reason: "công văn 45".to_owned(),
    });
    let entries = [entry(complete(), ymd(6, 30)), entry(moved, ymd(6, 10))];
    let task = view(stored(Vec::new()), &entries);
    assert_eq!(task.deadline, ymd(6, 25));
    assert_eq!(task.completed_on, Some(ymd(6, 30)));
    assert_eq!(task.class, "completed_late");
    assert_eq!(task.pending, 2);
    assert_eq!(task.version, 1, "the centre's version as last seen");
    assert!(task.conflicts.is_empty());

    // A second completion would be refused: shown, not folded in.
    let twice = [entry(complete(), ymd(6, 20)), entry(complete(), ymd(6, 21))];
    let task = view(stored(Vec::new()), &twice);
    assert_eq!(task.completed_on, Some(ymd(6, 20)));
    assert_eq!(task.pending, 1);
    assert_eq!(task.conflicts.len(), 1);
    assert!(
        task.conflicts[0].contains("already completed"),
        "{:?}",
        task.conflicts
    );
}

#[test]
fn the_forecast_names_what_the_centre_will_answer() {
    let done = stored(vec![completion_event(ymd(6, 20))]);
    let again = entry(complete(), ymd(6, 26)).request;
    match forecast(Some(&done), &[], &again) {
        Forecast::Refuse(reason) => {
            assert!(reason.starts_with("FAILED_PRECONDITION"), "{reason}");
            assert!(reason.contains("done"), "names the completion: {reason}");
        }
        other => panic!("{other:?}"),
    }
    let open = stored(Vec::new());
    assert_eq!(
        forecast(Some(&open), &[], &again),
        Forecast::Accept(
            "the task will be completed on 2024-06-26, on time (deadline 2024-06-28)".to_owned()
        )
    );
    assert!(matches!(forecast(None, &[], &again), Forecast::Unknown(_)));
    let mut passed = stored(Vec::new());
    passed.held = false;
    passed.task.assignee_unit_id = "successor".to_owned();
    match forecast(Some(&passed), &[], &again) {
        Forecast::Refuse(reason) => assert!(reason.contains("successor"), "{reason}"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_task_passed_to_the_office_folds_from_its_state() {
    // The feed brought only the reassignment: the task as it stands,
    // completed on 20 June, with its note.
    let mut task = stored(Vec::new()).task;
    task.completed_on = Some(date_to_proto(ymd(6, 20)));
    task.last_note = "đã xong".to_owned();
    task.version = 3;
    let passed = StoredTask {
        events: vec![v1::TaskEvent {
            update_id: "moved".to_owned(),
            kind: v1::TaskEventKind::Reassigned as i32,
            effective_time: Some(timestamp_to_proto(noon_in_vietnam(ymd(7, 1)))),
            task: Some(task.clone()),
            ..v1::TaskEvent::default()
        }],
        task,
        held: true,
    };
    let reopen = Wire::Reopen(v1::Reopening {
        reason: "thiếu phụ lục".to_owned(),
    });
    let view = view(passed.clone(), &[entry(reopen, ymd(7, 2))]);
    assert_eq!((view.completed_on, view.pending), (None, 1));
    assert_eq!(view.last_note, "thiếu phụ lục");
    assert_eq!(
        forecast(Some(&passed), &[], &entry(complete(), ymd(7, 3)).request),
        Forecast::Refuse(
            "FAILED_PRECONDITION: this completion conflicts with the completion in the centre's \
             copy effective \
             2024-06-20 (2024-06-20 05:00:00 UTC): the task is already completed by then \
             (on 2024-06-20)"
                .to_owned()
        )
    );
}
