//! The rules of a task's life.

use tasknet_proto::v1;

use super::*;
use crate::parse;
use crate::test_support::*;

/// A task after a change: its state, the change's event, its history.
#[derive(Debug)]
struct Step {
    state: TaskState,
    event: v1::TaskEvent,
    history: TaskHistory,
}

fn new_task() -> Step {
    let now = instant("2024-12-31T03:00:00Z");
    let request = parse::create_task(&create_request(&new_id()), now).unwrap();
    let (Transition { state, event }, history) = create(&request, 1_000);
    Step {
        state,
        event,
        history,
    }
}

/// The change applied to the task as `after` left it (which stays as it
/// was: each test may branch from it).
fn apply(after: &Step, effective: &str, change: v1::update_task_request::Change) -> Result<Step> {
    let now = instant("2024-12-31T03:00:00Z");
    let request = update_request(&after.state.id, effective, change);
    let update_task = parse::update_task(&request, now).unwrap();
    let mut history = after.history.clone();
    let before = history.clone();
    let result = update(&after.state, &mut history, &update_task, 2_000);
    if result.is_err() {
        assert_eq!(history, before, "a refused update changed the history");
    }
    let Transition { state, event } = result?;
    Ok(Step {
        state,
        event,
        history,
    })
}

fn failure(result: Result<Step>) -> (tasknet_proto::tonic::Code, String) {
    let status = tasknet_proto::tonic::Status::from(result.unwrap_err());
    (status.code(), status.message().to_owned())
}

#[test]
fn creation_starts_open_at_version_one() {
    let now = instant("2024-12-31T03:00:00Z");
    let request = create_request(&new_id());
    let (transition, _) = create(&parse::create_task(&request, now).unwrap(), 1_000);
    assert_eq!(transition.state.version, 1);
    assert_eq!(transition.state.status(), v1::TaskStatus::Open);
    assert_eq!(transition.event.kind, v1::TaskEventKind::Created as i32);
    assert_eq!(transition.event.update_id, request.update_id);
    assert_eq!(
        transition.event.effective_date,
        Some(date_to_proto(ymd(2024, 6, 1)))
    );
    assert_eq!(transition.event.task.unwrap().version, 1);
}

#[test]
fn completion_counts_from_the_vietnam_date() {
    let task = new_task();
    // 23:30 UTC on 27 June is 06:30 on 28 June in Hà Nội.
    let done = apply(&task, "2024-06-27T23:30:00Z", complete()).unwrap();
    assert_eq!(done.state.completed_on, Some(ymd(2024, 6, 28)));
    assert_eq!(done.state.version, 2);
    assert_eq!(done.state.update_time_us, 2_000);
    assert_eq!(done.event.kind, v1::TaskEventKind::Completed as i32);
    assert_eq!(
        done.event.effective_date,
        Some(date_to_proto(ymd(2024, 6, 28)))
    );
    let snapshot = done.event.task.unwrap();
    assert_eq!(snapshot.status, v1::TaskStatus::Completed as i32);
    assert_eq!(snapshot.completed_on, Some(date_to_proto(ymd(2024, 6, 28))));
}

#[test]
fn impossible_transitions_are_refused() {
    use tasknet_proto::tonic::Code;
    let task = new_task();
    let (code, message) = failure(apply(&task, "2024-06-10T01:00:00Z", reopen()));
    assert_eq!(code, Code::FailedPrecondition);
    assert!(message.starts_with("reopen:"), "{message}");

    let done = apply(&task, "2024-06-10T01:00:00Z", complete()).unwrap();
    let (code, message) = failure(apply(&done, "2024-06-11T01:00:00Z", complete()));
    assert_eq!(code, Code::FailedPrecondition);
    assert!(message.starts_with("complete:"), "{message}");

    let reopened = apply(&done, "2024-07-10T01:00:00Z", reopen()).unwrap();
    assert_eq!(reopened.state.completed_on, None);
    assert_eq!(reopened.state.version, 3);
    assert_eq!(reopened.event.kind, v1::TaskEventKind::Reopened as i32);
}

#[test]
fn completion_before_assignment_is_invalid() {
    use tasknet_proto::tonic::Code;
    let task = new_task();
    // 16:59 UTC on 31 May is still 31 May in Vietnam; the task was assigned on 1 June.
    let (code, message) = failure(apply(&task, "2024-05-31T16:59:00Z", complete()));
    assert_eq!(code, Code::InvalidArgument);
    assert!(message.starts_with("effective_time:"), "{message}");
    // 17:00 UTC on 31 May is 1 June in Vietnam: accepted.
    assert!(apply(&task, "2024-05-31T17:00:00Z", complete()).is_ok());
}

#[test]
fn deadline_changes_are_recorded_in_the_event() {
    use tasknet_proto::tonic::Code;
    let task = new_task();
    let (code, message) = failure(apply(
        &task,
        "2024-06-10T01:00:00Z",
        deadline(ymd(2024, 5, 31)),
    ));
    assert_eq!(code, Code::InvalidArgument);
    assert!(
        message.starts_with("deadline_change.new_deadline:"),
        "{message}"
    );

    let changed = apply(&task, "2024-07-01T01:00:00Z", deadline(ymd(2024, 7, 31))).unwrap();
    assert_eq!(changed.state.deadline, ymd(2024, 7, 31));
    assert_eq!(
        changed.event.kind,
        v1::TaskEventKind::DeadlineChanged as i32
    );
    assert_eq!(
        changed.event.new_deadline,
        Some(date_to_proto(ymd(2024, 7, 31)))
    );
    assert_eq!(
        changed.event.effective_date,
        Some(date_to_proto(ymd(2024, 7, 1)))
    );
}

#[test]
fn stale_versions_are_refused() {
    use tasknet_proto::tonic::Code;
    let after = apply(&new_task(), "2024-06-10T01:00:00Z", note("started")).unwrap();
    let (task, mut history) = (&after.state, after.history.clone());
    assert_eq!(task.last_note, "started");
    let now = instant("2024-12-31T03:00:00Z");
    let mut request = update_request(&task.id, "2024-06-11T01:00:00Z", note("again"));
    request.expected_version = Some(1);
    let update = parse::update_task(&request, now).unwrap();
    let status = tasknet_proto::tonic::Status::from(
        super::update(task, &mut history, &update, 3_000).unwrap_err(),
    );
    assert_eq!(status.code(), Code::FailedPrecondition);
    assert_eq!(
        status.message(),
        "expected_version: task is at version 2, not 1"
    );
    request.expected_version = Some(2);
    let update = parse::update_task(&request, now).unwrap();
    assert_eq!(
        super::update(task, &mut history, &update, 3_000)
            .unwrap()
            .state
            .version,
        3
    );
}

#[test]
fn the_state_is_the_history_in_effective_order_not_arrival_order() {
    use tasknet_proto::tonic::Code;
    let task = new_task();
    // Deadline changes arriving out of order: the one effective later wins.
    let later = apply(&task, "2024-06-25T03:00:00Z", deadline(ymd(2024, 7, 20))).unwrap();
    let earlier = apply(&later, "2024-06-10T03:00:00Z", deadline(ymd(2024, 6, 28))).unwrap();
    assert_eq!(earlier.state.deadline, ymd(2024, 7, 20));
    assert_eq!(earlier.state.version, 3);
    // The event records the change's own deadline, and the task as it stands.
    assert_eq!(
        earlier.event.new_deadline,
        Some(date_to_proto(ymd(2024, 6, 28)))
    );
    assert_eq!(
        earlier.event.task.as_ref().unwrap().deadline,
        Some(date_to_proto(ymd(2024, 7, 20)))
    );
    // A reopening effective before the completion is refused, naming it.
    let done = apply(&earlier, "2024-06-20T03:00:00Z", complete()).unwrap();
    let completion_id = done.event.update_id.clone();
    let (code, message) = failure(apply(&done, "2024-06-18T03:00:00Z", reopen()));
    assert_eq!(code, Code::FailedPrecondition);
    assert!(
        message.starts_with("reopen: conflicts with the creation"),
        "{message}"
    );
    // A completion effective before the one in force would leave it
    // completing a completed task: refused, naming it.
    let (code, message) = failure(apply(&done, "2024-06-15T03:00:00Z", complete()));
    assert_eq!(code, Code::FailedPrecondition);
    assert!(
        message.contains(&format!(
            "the completion {completion_id} effective 2024-06-20"
        )),
        "{message}"
    );
}
