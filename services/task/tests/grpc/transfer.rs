//! TransferOpenTasks after the 2025 provincial merger: open tasks (and those
//! completed on or after 1 July 2025) pass to the merged office, recorded as
//! REASSIGNED changes effective on 1 July; tasks completed before stay; a
//! second transfer changes nothing; a reorganisation not yet in effect, an
//! unknown one and a malformed id are refused.

use std::time::Duration;

use tasknet_organisation::reference::{reference_unit_id, reference_unit_id_at};
use tasknet_proto::tonic::Code;
use tasknet_proto::v1::organisation_service_client::OrganisationServiceClient;
use tasknet_proto::v1::{self, LineageKind, UnitCategory};
use tasknet_storage::testing::TestDatabase;
use tokio_stream::StreamExt;

use crate::support::*;

fn office(code: &str) -> String {
    reference_unit_id(UnitCategory::ProvincialOffice, code)
}

async fn assignee(harness: &mut Harness, task_id: &str) -> v1::Task {
    harness
        .client
        .get_task(v1::GetTaskRequest {
            task_id: task_id.to_owned(),
        })
        .await
        .unwrap()
        .into_inner()
        .task
        .unwrap()
}

async fn transfer(
    harness: &mut Harness,
    id: &str,
) -> Result<v1::TransferOpenTasksResponse, tasknet_proto::tonic::Status> {
    let request = v1::TransferOpenTasksRequest {
        reorganisation_id: id.to_owned(),
    };
    Ok(harness
        .client
        .transfer_open_tasks(request)
        .await?
        .into_inner())
}

/// Every change after `after`, as far as the head of the log.
async fn changes_after(harness: &mut Harness, after: i64) -> Vec<v1::Change> {
    let head = harness.head().await;
    let mut stream = harness
        .client
        .watch_changes(v1::WatchChangesRequest {
            after_cursor: after,
            max_batch: 100,
        })
        .await
        .unwrap()
        .into_inner();
    let mut changes = Vec::new();
    while changes.last().is_none_or(|c: &v1::Change| c.cursor < head) {
        let message = tokio::time::timeout(Duration::from_secs(10), stream.next())
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        changes.extend(message.changes);
    }
    changes
}

async fn open_tasks_pass_to_the_merged_office(db: TestDatabase) {
    let mut harness = Harness::start(db).await;
    let binh_dinh = office("52");
    let gia_lai_2024 = office("64");
    let hanoi = office("01");
    let gia_lai = reference_unit_id_at(UnitCategory::ProvincialOffice, "52", ymd(2025, 7, 1));

    let open = harness
        .create(harness.new_task(&binh_dinh, ymd(2025, 6, 2), ymd(2025, 6, 25)))
        .await;
    let done_before = harness
        .create(harness.new_task(&binh_dinh, ymd(2025, 6, 3), ymd(2025, 6, 30)))
        .await;
    let done_after = harness
        .create(harness.new_task(&gia_lai_2024, ymd(2025, 6, 4), ymd(2025, 7, 10)))
        .await;
    let unchanged = harness
        .create(harness.new_task(&hanoi, ymd(2025, 6, 5), ymd(2025, 7, 10)))
        .await;
    // Done before the merger and sent back after it: Bình Định completed it,
    // but only Gia Lai can redo it, from the day it was reopened.
    let reopened = harness
        .create(harness.new_task(&binh_dinh, ymd(2025, 6, 6), ymd(2025, 6, 30)))
        .await;
    for (task, day) in [
        (&done_before, ymd(2025, 6, 20)),
        (&done_after, ymd(2025, 7, 5)),
        (&reopened, ymd(2025, 6, 21)),
    ] {
        harness
            .client
            .update_task(update(&task.id, at_noon(day), complete()))
            .await
            .unwrap();
    }

    let reorganisation_id = harness.apply_provinces_2025().await;
    let before = harness.head().await;

    let response = transfer(&mut harness, &reorganisation_id).await.unwrap();
    assert_eq!(response.transferred, 2);
    assert_eq!(
        response.effective_date,
        Some(v1::Date {
            year: 2025,
            month: 7,
            day: 1
        })
    );
    assert_eq!(response.units.len(), 52, "one row per ended office");
    let from_binh_dinh = response
        .units
        .iter()
        .find(|u| u.predecessor_unit_id == binh_dinh)
        .unwrap();
    assert_eq!(
        (
            from_binh_dinh.successor_unit_id.as_str(),
            from_binh_dinh.transferred
        ),
        (gia_lai.as_str(), 1)
    );
    assert_eq!(response.last_cursor, harness.head().await);

    let moved = assignee(&mut harness, &open.id).await;
    assert_eq!(moved.assignee_unit_id, gia_lai);
    assert_eq!(moved.version, open.version + 1);
    assert_eq!(
        assignee(&mut harness, &done_after.id)
            .await
            .assignee_unit_id,
        gia_lai
    );
    assert_eq!(
        assignee(&mut harness, &done_before.id)
            .await
            .assignee_unit_id,
        binh_dinh
    );
    assert_eq!(
        assignee(&mut harness, &unchanged.id).await.assignee_unit_id,
        hanoi
    );

    let changes = changes_after(&mut harness, before).await;
    assert_eq!(changes.len(), 2);
    for change in &changes {
        let Some(v1::change::Event::TaskEvent(event)) = &change.event else {
            panic!("{change:?}");
        };
        assert_eq!(event.kind, v1::TaskEventKind::Reassigned as i32);
        assert_eq!(
            event.effective_date,
            Some(v1::Date {
                year: 2025,
                month: 7,
                day: 1
            })
        );
        assert_eq!(event.reorganisation_id, reorganisation_id);
        assert_eq!(event.task.as_ref().unwrap().assignee_unit_id, gia_lai);
        assert!(
            [binh_dinh.clone(), gia_lai_2024.clone()].contains(&event.previous_assignee_unit_id)
        );
    }

    // Again: nothing left to pass on, nothing written.
    let head = harness.head().await;
    let again = transfer(&mut harness, &reorganisation_id).await.unwrap();
    assert_eq!((again.transferred, again.already_transferred), (0, 0));
    assert_eq!(harness.head().await, head);

    // Sent back after the merger: it passes from the day it was reopened,
    // when the transfer runs again; until then it was Bình Định's, done.
    harness
        .client
        .update_task(update(&reopened.id, at_noon(ymd(2025, 7, 10)), reopen()))
        .await
        .unwrap();
    let before = harness.head().await;
    let late = transfer(&mut harness, &reorganisation_id).await.unwrap();
    assert_eq!(late.transferred, 1);
    let changes = changes_after(&mut harness, before).await;
    let Some(v1::change::Event::TaskEvent(event)) = &changes[0].event else {
        panic!("{changes:?}");
    };
    assert_eq!(
        event.effective_date,
        Some(tasknet_domain::date_to_proto(ymd(2025, 7, 10)))
    );
    assert_eq!(event.task.as_ref().unwrap().assignee_unit_id, gia_lai);
    harness.stop().await;
}

async fn transfers_that_cannot_run_are_refused(db: TestDatabase) {
    let mut harness = Harness::start(db).await;
    let mut organisation = OrganisationServiceClient::new(
        tasknet_server::connect_lazy(&harness.organisation_endpoint).unwrap(),
    );
    let task = harness
        .create(harness.new_task(&office("01"), ymd(2025, 6, 2), ymd(2025, 6, 25)))
        .await;
    let future = tasknet_domain::vietnam_date(chrono::Utc::now()) + chrono::TimeDelta::days(30);
    let reorganisation = v1::Reorganisation {
        name: "future-merger".into(),
        effective_date: Some(tasknet_domain::date_to_proto(future)),
        changes: vec![v1::UnitChange {
            kind: LineageKind::Merge as i32,
            predecessor_unit_ids: vec![office("01"), office("04")],
            successors: vec![v1::Unit {
                category: UnitCategory::ProvincialOffice as i32,
                code: "01".into(),
                name_vi: "Cục Thống kê Hà Nội mới".into(),
                ..Default::default()
            }],
        }],
        ..Default::default()
    };
    let applied = organisation
        .apply_reorganisation(v1::ApplyReorganisationRequest {
            reorganisation: Some(reorganisation),
            validate_only: false,
        })
        .await
        .unwrap()
        .into_inner();
    let head = harness.head().await;
    let id = applied.reorganisation.unwrap().id;
    let status = transfer(&mut harness, &id).await.unwrap_err();
    assert_refused(&status, Code::FailedPrecondition, "reorganisation_id");
    let status = transfer(&mut harness, &new_id()).await.unwrap_err();
    assert_refused(&status, Code::NotFound, "reorganisation_id");
    let status = transfer(&mut harness, "vn-provinces-2025")
        .await
        .unwrap_err();
    assert_refused(&status, Code::InvalidArgument, "reorganisation_id");
    assert_eq!(harness.head().await, head, "nothing was written");
    assert_eq!(
        assignee(&mut harness, &task.id).await.assignee_unit_id,
        office("01")
    );
    harness.stop().await;
}

tasknet_storage::test_on_both_backends!(
    open_tasks_pass_to_the_merged_office,
    transfers_that_cannot_run_are_refused,
);
