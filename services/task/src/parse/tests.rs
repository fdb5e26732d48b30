//! Validation of requests before they reach the writer.

use tasknet_domain::{date_to_proto, timestamp_to_proto};
use tasknet_proto::v1;

use super::*;
use crate::test_support::*;

fn now() -> DateTime<Utc> {
    instant("2024-07-02T03:00:00Z")
}

/// The field an invalid request is refused for.
fn invalid_field(result: Result<impl std::fmt::Debug>) -> String {
    match result {
        Err(Error::Invalid(error)) => error.field,
        other => panic!("expected INVALID_ARGUMENT, got {other:?}"),
    }
}

#[test]
fn a_valid_creation_is_normalised() {
    let task_id = new_id();
    let mut request = create_request(&task_id.to_uppercase());
    let plan_b = "00000000-0000-4000-8000-00000000000b".to_owned();
    let plan_a = "00000000-0000-4000-8000-00000000000A".to_owned();
    request.task.as_mut().unwrap().plan_ids = vec![plan_b.clone(), plan_a.clone(), plan_b.clone()];
    let create = create_task(&request, now()).unwrap();
    assert_eq!(create.task_id, task_id);
    assert_eq!(create.plan_ids, vec![plan_a.to_lowercase(), plan_b]);
    assert_eq!(create.assigned_date, ymd(2024, 6, 1));
    assert_eq!(create.digest.len(), 64);
}

#[test]
fn digests_tell_repeats_from_different_requests() {
    let request = create_request(&new_id());
    let first = create_task(&request, now()).unwrap();
    let again = create_task(&request, now()).unwrap();
    assert_eq!(first.digest, again.digest);
    let mut changed = request.clone();
    changed.task.as_mut().unwrap().title.push('!');
    assert_ne!(create_task(&changed, now()).unwrap().digest, first.digest);

    let update = update_request(&request.task_id, "2024-06-10T01:00:00Z", note("a"));
    let digest = update_task(&update, now()).unwrap().digest;
    let mut other = update.clone();
    other.change = Some(note("b"));
    assert_ne!(update_task(&other, now()).unwrap().digest, digest);
    let mut versioned = update;
    versioned.expected_version = Some(3);
    assert_ne!(update_task(&versioned, now()).unwrap().digest, digest);
}

#[test]
fn ids_must_be_uuid_v7() {
    let mut request = create_request(&new_id());
    request.update_id = uuid::Uuid::new_v4().to_string();
    let error = create_task(&request, now()).unwrap_err();
    assert!(
        error.to_string().starts_with("update_id: must be a UUIDv7"),
        "{error}"
    );

    let request = create_request("not-a-uuid");
    assert_eq!(invalid_field(create_task(&request, now())), "task_id");
    let request = create_request("");
    assert_eq!(invalid_field(create_task(&request, now())), "task_id");
}

#[test]
fn effective_time_is_required_and_not_far_in_the_future() {
    let mut request = create_request(&new_id());
    request.effective_time = None;
    assert_eq!(
        invalid_field(create_task(&request, now())),
        "effective_time"
    );

    request.effective_time = Some(timestamp_to_proto(now() + chrono::TimeDelta::hours(23)));
    assert!(create_task(&request, now()).is_ok());
    request.effective_time = Some(timestamp_to_proto(now() + chrono::TimeDelta::hours(25)));
    assert_eq!(
        invalid_field(create_task(&request, now())),
        "effective_time"
    );
}

#[test]
fn task_fields_are_checked_and_named() {
    type Edit = Box<dyn Fn(&mut v1::NewTask)>;
    let cases: Vec<(&str, Edit)> = vec![
        ("task.title", Box::new(|task| task.title = "  ".into())),
        ("task.title", Box::new(|task| task.title = "x".repeat(501))),
        ("task.title", Box::new(|task| task.title = "a\0b".into())),
        (
            "task.assigning_unit_id",
            Box::new(|task| task.assigning_unit_id.clear()),
        ),
        (
            "task.assignee_unit_id",
            Box::new(|task| task.assignee_unit_id = "x".into()),
        ),
        (
            "task.assigned_date",
            Box::new(|task| task.assigned_date = None),
        ),
        ("task.deadline", Box::new(|task| task.deadline = None)),
        (
            "task.deadline",
            Box::new(|task| task.deadline = Some(date_to_proto(ymd(2024, 5, 31)))),
        ),
        (
            "task.deadline",
            Box::new(|task| {
                task.deadline = Some(v1::Date {
                    year: 2024,
                    month: 2,
                    day: 30,
                });
            }),
        ),
        (
            "task.plan_ids",
            Box::new(|task| task.plan_ids = vec!["nope".into()]),
        ),
    ];
    for (field, mutate) in cases {
        let mut request = create_request(&new_id());
        mutate(request.task.as_mut().unwrap());
        assert_eq!(invalid_field(create_task(&request, now())), field);
    }
    let mut request = create_request(&new_id());
    request.task.as_mut().unwrap().title = "x".repeat(500);
    assert!(create_task(&request, now()).is_ok());
    request.task = None;
    assert_eq!(invalid_field(create_task(&request, now())), "task");
}

#[test]
fn updates_need_a_change() {
    let task_id = new_id();
    let mut request = update_request(&task_id, "2024-06-10T01:00:00Z", note("x"));
    request.change = None;
    assert_eq!(invalid_field(update_task(&request, now())), "change");
    request.change = Some(note(""));
    assert_eq!(invalid_field(update_task(&request, now())), "note.note");
    request.change = Some(v1::update_task_request::Change::DeadlineChange(
        v1::DeadlineChange::default(),
    ));
    assert_eq!(
        invalid_field(update_task(&request, now())),
        "deadline_change.new_deadline"
    );
    request.change = Some(complete());
    request.expected_version = Some(0);
    assert_eq!(
        invalid_field(update_task(&request, now())),
        "expected_version"
    );
    request.expected_version = Some(1);
    let update = update_task(&request, now()).unwrap();
    assert_eq!(
        update.change,
        TaskChange::Complete {
            note: String::new()
        }
    );
}

fn plan_request() -> v1::CreatePlanRequest {
    v1::CreatePlanRequest {
        plan_id: String::new(),
        plan: Some(v1::Plan {
            name: "Nhiệm vụ trọng tâm 6 tháng đầu năm 2024".into(),
            kind: v1::PlanKind::KeyTasks as i32,
            owner_unit_id: ASSIGNING_UNIT.into(),
            period: Some(v1::DateRange {
                start: Some(date_to_proto(ymd(2024, 1, 1))),
                end: Some(date_to_proto(ymd(2024, 6, 30))),
            }),
            ..Default::default()
        }),
    }
}

#[test]
fn plans_are_validated_and_get_ids() {
    let plan = create_plan(&plan_request()).unwrap().plan;
    assert_eq!(
        uuid::Uuid::parse_str(&plan.id).unwrap().get_version_num(),
        7
    );
    assert_eq!(plan.kind, v1::PlanKind::KeyTasks);

    let mut request = plan_request();
    request.plan.as_mut().unwrap().kind = 0;
    assert_eq!(invalid_field(create_plan(&request)), "plan.kind");
    let mut request = plan_request();
    request.plan.as_mut().unwrap().period.as_mut().unwrap().end =
        Some(date_to_proto(ymd(2023, 12, 31)));
    assert_eq!(invalid_field(create_plan(&request)), "plan.period.end");
    let mut request = plan_request();
    request.plan_id = new_id();
    request.plan.as_mut().unwrap().id = new_id();
    assert_eq!(invalid_field(create_plan(&request)), "plan.id");
    let mut request = plan_request();
    request.plan.as_mut().unwrap().owner_unit_id.clear();
    assert_eq!(invalid_field(create_plan(&request)), "plan.owner_unit_id");
}
