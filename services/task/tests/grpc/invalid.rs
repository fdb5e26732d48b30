//! Every kind of bad request is refused with the right code, names the field
//! at fault, and writes nothing.

use tasknet_domain::date_to_proto;
use tasknet_proto::tonic::{Code, Status};
use tasknet_proto::v1;
use tasknet_storage::testing::TestDatabase;

use crate::support::*;

/// What the task database holds, to compare before and after a refusal.
async fn footprint(harness: &Harness) -> (i64, i64, i64, i64) {
    (
        harness.head().await,
        harness.count("tasks").await,
        harness.count("applied_updates").await,
        harness.count("plans").await,
    )
}

async fn invalid_creations_name_the_field_and_write_nothing(db: TestDatabase) {
    let mut harness = Harness::start(db).await;
    let office = harness.office.clone();
    let existing = harness.new_task(&office, ymd(2024, 6, 3), ymd(2024, 6, 28));
    harness.create(existing.clone()).await;
    let valid = || harness.new_task(&office, ymd(2024, 6, 3), ymd(2024, 6, 28));
    let unknown_unit = uuid::Uuid::new_v4().to_string();

    type Case = (Code, &'static str, v1::CreateTaskRequest);
    let mut cases: Vec<Case> = Vec::new();
    let mut with = |code, field, edit: &dyn Fn(&mut v1::CreateTaskRequest)| {
        let mut request = valid();
        edit(&mut request);
        cases.push((code, field, request));
    };
    with(Code::InvalidArgument, "update_id", &|r| {
        r.update_id = uuid::Uuid::new_v4().to_string()
    });
    with(Code::InvalidArgument, "update_id", &|r| r.update_id.clear());
    with(Code::InvalidArgument, "task_id", &|r| {
        r.task_id = "task-1".into()
    });
    with(Code::InvalidArgument, "effective_time", &|r| {
        r.effective_time = None
    });
    with(Code::InvalidArgument, "effective_time", &|r| {
        r.effective_time = Some(instant("2999-01-01T00:00:00Z"))
    });
    with(Code::InvalidArgument, "task", &|r| r.task = None);
    with(Code::InvalidArgument, "task.title", &|r| {
        r.task.as_mut().unwrap().title.clear()
    });
    with(Code::InvalidArgument, "task.title", &|r| {
        r.task.as_mut().unwrap().title = "t".repeat(501)
    });
    with(Code::InvalidArgument, "task.assigned_date", &|r| {
        r.task.as_mut().unwrap().assigned_date = None
    });
    with(Code::InvalidArgument, "task.deadline", &|r| {
        r.task.as_mut().unwrap().deadline = None
    });
    with(Code::InvalidArgument, "task.deadline", &|r| {
        r.task.as_mut().unwrap().deadline = Some(date_to_proto(ymd(2024, 6, 2)));
    });
    with(Code::InvalidArgument, "task.assignee_unit_id", &|r| {
        r.task.as_mut().unwrap().assignee_unit_id = "x".into()
    });
    with(Code::NotFound, "task.assignee_unit_id", &|r| {
        r.task.as_mut().unwrap().assignee_unit_id = unknown_unit.clone()
    });
    with(Code::NotFound, "task.assigning_unit_id", &|r| {
        r.task.as_mut().unwrap().assigning_unit_id = unknown_unit.clone()
    });
    with(Code::InvalidArgument, "task.plan_ids", &|r| {
        r.task.as_mut().unwrap().plan_ids = vec!["p".into()]
    });
    with(Code::NotFound, "task.plan_ids", &|r| {
        r.task.as_mut().unwrap().plan_ids = vec![new_id()]
    });
    with(Code::AlreadyExists, "task_id", &|r| {
        r.task_id = existing.task_id.clone()
    });
    with(Code::AlreadyExists, "update_id", &|r| {
        r.update_id = existing.update_id.clone()
    });

    let before = footprint(&harness).await;
    for (code, field, request) in cases {
        let status = harness.client.create_task(request).await.unwrap_err();
        assert_refused(&status, code, field);
        assert_eq!(footprint(&harness).await, before, "{field} wrote something");
    }
    harness.stop().await;
}

async fn invalid_updates_name_the_field_and_write_nothing(db: TestDatabase) {
    let mut harness = Harness::start(db).await;
    let office = harness.office.clone();
    let open = harness
        .create(harness.new_task(&office, ymd(2024, 6, 3), ymd(2024, 6, 28)))
        .await;
    let done = harness
        .create(harness.new_task(&office, ymd(2024, 6, 3), ymd(2024, 6, 28)))
        .await;
    let completion = update(&done.id, at_noon(ymd(2024, 6, 20)), complete());
    harness
        .client
        .update_task(completion.clone())
        .await
        .unwrap();

    let on = |task: &v1::Task, change| update(&task.id, at_noon(ymd(2024, 6, 21)), change);
    let mut cases: Vec<(Code, &str, v1::UpdateTaskRequest)> = vec![
        (
            Code::NotFound,
            "task_id",
            update(&new_id(), at_noon(ymd(2024, 6, 21)), note("x")),
        ),
        (
            Code::InvalidArgument,
            "task_id",
            update(
                &uuid::Uuid::new_v4().to_string(),
                at_noon(ymd(2024, 6, 21)),
                note("x"),
            ),
        ),
        (Code::InvalidArgument, "note.note", on(&open, note(""))),
        (
            Code::InvalidArgument,
            "deadline_change.new_deadline",
            on(&open, deadline(ymd(2024, 6, 2))),
        ),
        (Code::FailedPrecondition, "complete", on(&done, complete())),
        (Code::FailedPrecondition, "reopen", on(&open, reopen())),
        (
            Code::InvalidArgument,
            "effective_time",
            update(&open.id, instant("2024-06-02T16:59:00Z"), complete()),
        ),
        (Code::AlreadyExists, "update_id", {
            let mut reused = on(&open, note("x"));
            reused.update_id = completion.update_id.clone();
            reused
        }),
    ];
    let mut unset = on(&open, note("x"));
    unset.change = None;
    cases.push((Code::InvalidArgument, "change", unset));
    let mut stale = on(&open, note("x"));
    stale.expected_version = Some(5);
    cases.push((Code::FailedPrecondition, "expected_version", stale));

    let before = footprint(&harness).await;
    for (code, field, request) in cases {
        let status = harness.client.update_task(request).await.unwrap_err();
        assert_refused(&status, code, field);
        assert_eq!(footprint(&harness).await, before, "{field} wrote something");
        if field == "expected_version" {
            assert!(
                status.message().contains("task is at version 1"),
                "{}",
                status.message()
            );
        }
    }
    harness.stop().await;
}

async fn invalid_reads_and_plans_are_refused(db: TestDatabase) {
    let mut harness = Harness::start(db).await;
    let before = footprint(&harness).await;
    let client = &mut harness.client;
    let refusals: Vec<(Status, Code, &str)> = vec![
        (
            client
                .get_task(v1::GetTaskRequest {
                    task_id: "x".into(),
                })
                .await
                .unwrap_err(),
            Code::InvalidArgument,
            "task_id",
        ),
        (
            client
                .get_task(v1::GetTaskRequest { task_id: new_id() })
                .await
                .unwrap_err(),
            Code::NotFound,
            "task_id",
        ),
        (
            client
                .get_plan(v1::GetPlanRequest { plan_id: new_id() })
                .await
                .unwrap_err(),
            Code::NotFound,
            "plan_id",
        ),
        (
            client
                .list_tasks(v1::ListTasksRequest {
                    page_token: "garbage".into(),
                    ..Default::default()
                })
                .await
                .unwrap_err(),
            Code::InvalidArgument,
            "page_token",
        ),
        (
            client
                .list_tasks(v1::ListTasksRequest {
                    page_size: -1,
                    ..Default::default()
                })
                .await
                .unwrap_err(),
            Code::InvalidArgument,
            "page_size",
        ),
        (
            client
                .list_tasks(v1::ListTasksRequest {
                    status: 9,
                    ..Default::default()
                })
                .await
                .unwrap_err(),
            Code::InvalidArgument,
            "status",
        ),
        (
            client
                .list_plans(v1::ListPlansRequest {
                    period: Some(v1::Period {
                        kind: Some(v1::period::Kind::Label("someday".into())),
                    }),
                    ..Default::default()
                })
                .await
                .unwrap_err(),
            Code::InvalidArgument,
            "period",
        ),
        (
            client
                .create_plan(v1::CreatePlanRequest {
                    plan_id: new_id(),
                    plan: Some(v1::Plan {
                        name: "Plan of a unit that does not exist".into(),
                        kind: v1::PlanKind::Other as i32,
                        owner_unit_id: uuid::Uuid::new_v4().to_string(),
                        period: Some(v1::DateRange {
                            start: Some(date_to_proto(ymd(2024, 1, 1))),
                            end: Some(date_to_proto(ymd(2024, 12, 31))),
                        }),
                        ..Default::default()
                    }),
                })
                .await
                .unwrap_err(),
            Code::NotFound,
            "plan.owner_unit_id",
        ),
        (
            client
                .create_plan(v1::CreatePlanRequest::default())
                .await
                .unwrap_err(),
            Code::InvalidArgument,
            "plan",
        ),
        (
            client
                .watch_changes(v1::WatchChangesRequest {
                    after_cursor: -1,
                    max_batch: 0,
                })
                .await
                .unwrap_err(),
            Code::InvalidArgument,
            "after_cursor",
        ),
    ];
    for (status, code, field) in &refusals {
        assert_refused(status, *code, field);
    }
    assert_eq!(footprint(&harness).await, before);
    harness.stop().await;
}

tasknet_storage::test_on_both_backends!(
    invalid_creations_name_the_field_and_write_nothing,
    invalid_updates_name_the_field_and_write_nothing,
    invalid_reads_and_plans_are_refused,
);
