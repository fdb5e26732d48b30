//! Property-based tests of request validation: whatever a client sends,
//! validation never panics, refuses only with INVALID_ARGUMENT naming a
//! field of the request, and what it accepts is within every limit.

use proptest::prelude::*;
use tasknet_proto::{prost_types, v1};

use super::fields::MAX_FUTURE;
use super::*;

/// Fields a CreateTaskRequest can be refused for.
const CREATE_FIELDS: &[&str] = &[
    "update_id",
    "task_id",
    "effective_time",
    "task",
    "task.title",
    "task.assigning_unit_id",
    "task.assignee_unit_id",
    "task.assigned_date",
    "task.deadline",
    "task.plan_ids",
];

const UPDATE_FIELDS: &[&str] = &[
    "update_id",
    "task_id",
    "effective_time",
    "expected_version",
    "change",
    "note.note",
    "deadline_change.new_deadline",
    "deadline_change.reason",
    "complete.note",
    "reopen.reason",
];

/// Mostly-valid ids, sometimes any text.
fn id() -> impl Strategy<Value = String> {
    prop_oneof![
        Just(uuid::Uuid::now_v7().to_string()),
        Just(uuid::Uuid::new_v4().to_string()),
        Just(String::new()),
        ".{0,40}",
    ]
}

fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        ".{0,60}",
        "[a-zA-ZàáạđĐ \\n\\t\\u{0}\\u{7}]{0,80}",
        (0usize..6000).prop_map(|n| "x".repeat(n)),
    ]
}

fn date() -> impl Strategy<Value = Option<v1::Date>> {
    proptest::option::of(
        (1900i32..2200, -1i32..14, -1i32..33).prop_map(|(year, month, day)| v1::Date {
            year,
            month,
            day,
        }),
    )
}

fn timestamp() -> impl Strategy<Value = Option<prost_types::Timestamp>> {
    proptest::option::of(
        (-10_000_000_000i64..10_000_000_000, -5i32..1_000_000_005)
            .prop_map(|(seconds, nanos)| prost_types::Timestamp { seconds, nanos }),
    )
}

fn creation() -> impl Strategy<Value = v1::CreateTaskRequest> {
    let task = (
        text(),
        id(),
        id(),
        date(),
        date(),
        proptest::collection::vec(id(), 0..4),
    )
        .prop_map(
            |(title, assigning_unit_id, assignee_unit_id, assigned_date, deadline, plan_ids)| {
                v1::NewTask {
                    title,
                    assigning_unit_id,
                    assignee_unit_id,
                    assigned_date,
                    deadline,
                    plan_ids,
                }
            },
        );
    (id(), id(), timestamp(), proptest::option::of(task)).prop_map(
        |(update_id, task_id, effective_time, task)| v1::CreateTaskRequest {
            update_id,
            task_id,
            effective_time,
            task,
        },
    )
}

fn change() -> impl Strategy<Value = Option<v1::update_task_request::Change>> {
    use v1::update_task_request::Change;
    proptest::option::of(prop_oneof![
        text().prop_map(|note| Change::Note(v1::ProgressNote { note })),
        (date(), text()).prop_map(|(new_deadline, reason)| Change::DeadlineChange(
            v1::DeadlineChange {
                new_deadline,
                reason,
            }
        )),
        text().prop_map(|note| Change::Complete(v1::Completion { note })),
        text().prop_map(|reason| Change::Reopen(v1::Reopening { reason })),
    ])
}

fn update() -> impl Strategy<Value = v1::UpdateTaskRequest> {
    (
        id(),
        id(),
        timestamp(),
        proptest::option::of(-3i64..5),
        change(),
    )
        .prop_map(
            |(update_id, task_id, effective_time, expected_version, change)| {
                v1::UpdateTaskRequest {
                    update_id,
                    task_id,
                    effective_time,
                    expected_version,
                    change,
                }
            },
        )
}

fn now() -> DateTime<Utc> {
    "2024-07-02T03:00:00Z".parse().unwrap_or_default()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn creations_are_accepted_within_limits_or_refused_naming_a_field(request in creation()) {
        match create_task(&request, now()) {
            Ok(create) => {
                prop_assert!(create.title.chars().count() <= MAX_TITLE_CHARS);
                prop_assert!(!create.title.trim().is_empty());
                prop_assert!(create.deadline >= create.assigned_date);
                prop_assert!(create.effective_time <= now() + MAX_FUTURE);
                prop_assert!(!create.title.contains(char::from(0)));
                prop_assert!(create.plan_ids.windows(2).all(|pair| pair[0] < pair[1]));
            }
            Err(Error::Invalid(error)) => {
                prop_assert!(CREATE_FIELDS.contains(&error.field.as_str()), "{error}");
                prop_assert!(error.to_string().starts_with(&error.field));
            }
            Err(other) => prop_assert!(false, "refused other than INVALID_ARGUMENT: {other:?}"),
        }
    }

    #[test]
    fn updates_are_accepted_within_limits_or_refused_naming_a_field(request in update()) {
        match update_task(&request, now()) {
            Ok(update) => {
                prop_assert!(update.expected_version.is_none_or(|v| v >= 1));
                let text = match &update.change {
                    TaskChange::Note { note } => note,
                    TaskChange::Deadline { reason, .. } => reason,
                    TaskChange::Complete { note } => note,
                    TaskChange::Reopen { reason } => reason,
                };
                prop_assert!(text.chars().count() <= MAX_NOTE_CHARS);
            }
            Err(Error::Invalid(error)) => {
                prop_assert!(UPDATE_FIELDS.contains(&error.field.as_str()), "{error}");
            }
            Err(other) => prop_assert!(false, "refused other than INVALID_ARGUMENT: {other:?}"),
        }
    }
}
