use chrono::{NaiveDate, TimeZone};
use tasknet_proto::v1::ingest_request::Mutation;
use tasknet_proto::v1::update_task_request::Change as Wire;

use super::*;

fn day(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap()
}

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2024, 7, 2, 3, 0, 0).unwrap()
}

fn unit() -> Uuid {
    Uuid::parse_str("0b9a1c52-5f3e-5b0e-9d36-8c1f2e3a4b5c").unwrap()
}

#[test]
fn a_creation_defaults_to_the_agents_unit_and_the_effective_date() {
    let update = Update::create(NewTask::new("Báo cáo quý II", day(2024, 6, 30)))
        .effective_on(day(2024, 6, 28));
    let prepared = prepare(&update, unit(), now()).unwrap();
    assert_eq!(prepared.kind, UpdateKind::Create);
    assert_eq!(prepared.update_id.get_version_num(), 7);
    let Some(Mutation::Create(create)) = prepared.request.mutation else {
        panic!("not a creation");
    };
    assert_eq!(create.task_id, update.task_id.to_string());
    let task = create.task.unwrap();
    assert_eq!(task.assigning_unit_id, unit().to_string());
    assert_eq!(task.assignee_unit_id, unit().to_string());
    assert_eq!(task.assigned_date, Some(date_to_proto(day(2024, 6, 28))));
    // Noon in Vietnam is 05:00 UTC.
    assert_eq!(
        create.effective_time.unwrap().seconds,
        Utc.with_ymd_and_hms(2024, 6, 28, 5, 0, 0)
            .unwrap()
            .timestamp()
    );
}

#[test]
fn every_submission_gets_its_own_update_id() {
    let update = Update::note(Uuid::now_v7(), "đang thực hiện");
    let first = prepare(&update, unit(), now()).unwrap();
    let second = prepare(&update, unit(), now()).unwrap();
    assert_ne!(first.update_id, second.update_id);
    let Some(Mutation::Update(wire)) = first.request.mutation else {
        panic!("not an update");
    };
    assert_eq!(wire.update_id, first.update_id.to_string());
    assert_eq!(wire.expected_version, None);
    assert!(matches!(wire.change, Some(Wire::Note(_))));
}

#[test]
fn bad_updates_name_their_field() {
    let field = |update: Update| prepare(&update, unit(), now()).unwrap_err().field;
    let task = Uuid::now_v7();
    assert_eq!(field(Update::note(task, "  ")), "text");
    assert_eq!(field(Update::note(Uuid::new_v4(), "x")), "task");
    assert_eq!(field(Update::note(task, "a\u{0}b")), "text");
    assert_eq!(
        field(Update::complete(task, "x".repeat(MAX_TEXT_CHARS + 1))),
        "text"
    );
    assert_eq!(
        field(Update::create(NewTask::new(" ", day(2024, 6, 30)))),
        "title"
    );
    let mut late = NewTask::new("t", day(2024, 6, 1));
    late.assigned_date = Some(day(2024, 6, 2));
    assert_eq!(field(Update::create(late)), "deadline");
    let future = Update::reopen(task, "").effective_at(now() + TimeDelta::days(2));
    assert_eq!(field(future), "effective");
    let mut bad_reference = NewTask::new("t", day(2024, 7, 30));
    bad_reference.reference = Some(Uuid::now_v7().to_string());
    assert_eq!(field(Update::create(bad_reference)), "reference");
}

#[test]
fn task_names_are_ids_or_references() {
    let id = Uuid::now_v7();
    assert_eq!(TaskName::parse(&id.to_string()).unwrap(), TaskName::Id(id));
    assert_eq!(
        TaskName::parse(" CV-117 ").unwrap(),
        TaskName::Reference("CV-117".into())
    );
    assert_eq!(TaskName::parse("").unwrap_err().field, "task");
    // A mistyped id is an error, not a new reference.
    assert!(TaskName::parse("0190a5b2-7c3d-7e4f-8a1b-2c3d4e5f6a7x").is_err());
}

#[test]
fn kinds_round_trip_through_storage_and_names() {
    for kind in UpdateKind::ALL {
        assert_eq!(UpdateKind::from_storage(kind.to_storage()), Some(kind));
        assert_eq!(UpdateKind::parse(&kind.as_str().to_uppercase()), Some(kind));
    }
    assert_eq!(UpdateKind::parse("delete"), None);
}

#[test]
fn what_the_centre_would_refuse_is_refused_here() {
    let field = |update: Update| prepare(&update, unit(), now()).unwrap_err().field;
    let other = Uuid::parse_str("1b9a1c52-5f3e-5b0e-9d36-8c1f2e3a4b5c").unwrap();
    let mut task = NewTask::new("Báo cáo", day(2024, 6, 30));
    task.assignee_unit_id = Some(other);
    assert_eq!(field(Update::create(task)), "assignee");
    let mut task = NewTask::new("Báo cáo", day(2024, 6, 30));
    task.assigning_unit_id = Some(other);
    assert_eq!(field(Update::create(task)), "assigned_by");
    let task = NewTask::new("Báo cáo", day(500, 6, 30));
    assert_eq!(field(Update::create(task)), "deadline");
    let mut task = NewTask::new("Báo cáo", day(2024, 6, 30));
    task.assigned_date = Some(day(500, 1, 1));
    assert_eq!(field(Update::create(task)), "assigned_date");
    let task = NewTask::new("Báo cáo\u{202E}", day(2024, 6, 30));
    assert_eq!(field(Update::create(task)), "title");
    // Naming the office itself is fine.
    let mut task = NewTask::new("Báo cáo", day(2024, 7, 30));
    task.assignee_unit_id = Some(unit());
    task.assigning_unit_id = Some(unit());
    assert!(prepare(&Update::create(task), unit(), now()).is_ok());
}
