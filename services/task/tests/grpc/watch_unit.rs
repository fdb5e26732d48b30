//! WatchUnitTasks: a unit's part of the change log, from any cursor, then
//! live — its tasks' changes, tasks passed to it and away from it by a
//! reorganisation, nothing of other units — and its refusals.

use std::time::Duration;

use tasknet_organisation::reference::{reference_unit_id, reference_unit_id_at};
use tasknet_proto::tonic::{Code, Streaming};
use tasknet_proto::v1::{self, UnitCategory};
use tasknet_storage::testing::TestDatabase;
use tokio_stream::StreamExt;

use crate::support::*;

async fn watch_unit(
    client: &mut Client,
    unit_id: &str,
    after_cursor: i64,
) -> Streaming<v1::WatchUnitTasksResponse> {
    client
        .watch_unit_tasks(v1::WatchUnitTasksRequest {
            unit_id: unit_id.to_owned(),
            after_cursor,
            max_batch: 2,
        })
        .await
        .unwrap()
        .into_inner()
}

/// Reads until `count` changes have arrived.
async fn take(
    stream: &mut Streaming<v1::WatchUnitTasksResponse>,
    count: usize,
) -> Vec<v1::TaskEvent> {
    let mut events = Vec::new();
    let mut last_cursor = 0;
    while events.len() < count {
        let message = tokio::time::timeout(Duration::from_secs(10), stream.next())
            .await
            .expect("changes within 10 s")
            .expect("the stream stays open")
            .unwrap();
        assert!(!message.changes.is_empty() && message.changes.len() <= 2);
        for change in message.changes {
            assert!(change.cursor > last_cursor, "in cursor order");
            last_cursor = change.cursor;
            match change.event {
                Some(v1::change::Event::TaskEvent(event)) => events.push(event),
                other => panic!("a unit's feed carries task events only, got {other:?}"),
            }
        }
    }
    assert_eq!(events.len(), count, "no more than expected");
    events
}

/// Asserts nothing more arrives for a while (the feed polls every second).
async fn quiet(stream: &mut Streaming<v1::WatchUnitTasksResponse>) {
    let next = tokio::time::timeout(Duration::from_millis(1500), stream.next()).await;
    assert!(next.is_err(), "nothing more for this unit: {next:?}");
}

fn summary(event: &v1::TaskEvent) -> (String, i32) {
    (event.task.as_ref().unwrap().id.clone(), event.kind)
}

async fn a_unit_follows_its_own_tasks_only_and_resumes(db: TestDatabase) {
    let mut harness = Harness::start(db).await;
    let (office, other) = (harness.office.clone(), harness.other_office.clone());
    let mine = harness
        .create(harness.new_task(&office, ymd(2024, 6, 3), ymd(2024, 6, 28)))
        .await;
    let theirs = harness
        .create(harness.new_task(&other, ymd(2024, 6, 3), ymd(2024, 6, 28)))
        .await;
    harness
        .client
        .update_task(update(&theirs.id, at_noon(ymd(2024, 6, 5)), note("x")))
        .await
        .unwrap();
    harness
        .client
        .update_task(update(
            &mine.id,
            at_noon(ymd(2024, 6, 6)),
            deadline(ymd(2024, 7, 5)),
        ))
        .await
        .unwrap();

    let mut stream = watch_unit(&mut harness.client, &office, 0).await;
    let events = take(&mut stream, 2).await;
    let created = v1::TaskEventKind::Created as i32;
    let moved = v1::TaskEventKind::DeadlineChanged as i32;
    assert_eq!(
        events.iter().map(summary).collect::<Vec<_>>(),
        [(mine.id.clone(), created), (mine.id.clone(), moved)]
    );
    assert_eq!(
        events[1].task.as_ref().unwrap().deadline,
        Some(tasknet_domain::date_to_proto(ymd(2024, 7, 5)))
    );
    quiet(&mut stream).await;

    // Live: a completion of the unit's task arrives, another unit's does not.
    harness
        .client
        .update_task(update(&theirs.id, at_noon(ymd(2024, 6, 7)), complete()))
        .await
        .unwrap();
    let done = harness
        .client
        .update_task(update(&mine.id, at_noon(ymd(2024, 6, 8)), complete()))
        .await
        .unwrap()
        .into_inner();
    let live = take(&mut stream, 1).await;
    assert_eq!(
        summary(&live[0]),
        (mine.id.clone(), v1::TaskEventKind::Completed as i32)
    );
    quiet(&mut stream).await;

    // Resuming after the second change yields the completion only, at the
    // cursor the centre answered the update with.
    let mut all = watch_unit(&mut harness.client, &office, 0).await;
    let mut cursors = Vec::new();
    while cursors.len() < 3 {
        let message = all.next().await.unwrap().unwrap();
        cursors.extend(message.changes.iter().map(|c| c.cursor));
    }
    assert_eq!(cursors[2], done.cursor);
    let mut resumed = watch_unit(&mut harness.client, &office, cursors[1]).await;
    let rest = take(&mut resumed, 1).await;
    assert_eq!(rest[0].update_id, live[0].update_id);
    quiet(&mut resumed).await;
    harness.stop().await;
}

async fn bad_requests_name_their_field(db: TestDatabase) {
    let mut harness = Harness::start(db).await;
    let office = harness.office.clone();
    for (request, code, field) in [
        (
            v1::WatchUnitTasksRequest::default(),
            Code::InvalidArgument,
            "unit_id",
        ),
        (
            v1::WatchUnitTasksRequest {
                unit_id: new_id(),
                ..Default::default()
            },
            Code::NotFound,
            "unit_id",
        ),
        (
            v1::WatchUnitTasksRequest {
                unit_id: office.clone(),
                after_cursor: -1,
                max_batch: 0,
            },
            Code::InvalidArgument,
            "after_cursor",
        ),
        (
            v1::WatchUnitTasksRequest {
                unit_id: office.clone(),
                after_cursor: 0,
                max_batch: -5,
            },
            Code::InvalidArgument,
            "max_batch",
        ),
    ] {
        let status = harness
            .client
            .watch_unit_tasks(request)
            .await
            .err()
            .unwrap();
        assert_refused(&status, code, field);
    }
    harness.stop().await;
}

/// The 2025 merger passes Bình Định's open task to the merged Gia Lai
/// office: Bình Định's feed shows the task leaving, Gia Lai's the task with
/// its whole history; the completed task stays with Bình Định.
async fn reassignments_reach_both_units(db: TestDatabase) {
    let mut harness = Harness::start(db).await;
    let binh_dinh = reference_unit_id(UnitCategory::ProvincialOffice, "52");
    let gia_lai = reference_unit_id_at(UnitCategory::ProvincialOffice, "52", ymd(2025, 7, 1));
    let open = harness
        .create(harness.new_task(&binh_dinh, ymd(2025, 6, 2), ymd(2025, 7, 25)))
        .await;
    let done = harness
        .create(harness.new_task(&binh_dinh, ymd(2025, 6, 3), ymd(2025, 6, 30)))
        .await;
    harness
        .client
        .update_task(update(&done.id, at_noon(ymd(2025, 6, 20)), complete()))
        .await
        .unwrap();
    let mut before = watch_unit(&mut harness.client, &binh_dinh, 0).await;
    assert_eq!(take(&mut before, 3).await.len(), 3);

    let reorganisation_id = harness.apply_provinces_2025().await;
    // The merged office exists from now on: it follows its (empty) feed.
    // The task service's unit directory learns of it within a second.
    let mut successor = loop {
        let request = v1::WatchUnitTasksRequest {
            unit_id: gia_lai.clone(),
            after_cursor: 0,
            max_batch: 2,
        };
        match harness.client.watch_unit_tasks(request).await {
            Ok(stream) => break stream.into_inner(),
            Err(status) if status.code() == Code::NotFound => {
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            Err(status) => panic!("{status:?}"),
        }
    };
    harness
        .client
        .transfer_open_tasks(v1::TransferOpenTasksRequest { reorganisation_id })
        .await
        .unwrap();

    // Live, the predecessor sees the task leave.
    let left = take(&mut before, 1).await;
    assert_eq!(left[0].kind, v1::TaskEventKind::Reassigned as i32);
    assert_eq!(left[0].previous_assignee_unit_id, binh_dinh);
    assert_eq!(left[0].task.as_ref().unwrap().id, open.id);
    assert_eq!(left[0].task.as_ref().unwrap().assignee_unit_id, gia_lai);
    quiet(&mut before).await;
    // The successor, following since before (and so past the task's
    // creation), gets the reassignment live, which carries the task...
    let arrived = take(&mut successor, 1).await;
    assert_eq!(summary(&arrived[0]), summary(&left[0]));
    assert_eq!(arrived[0].task, left[0].task);
    quiet(&mut successor).await;
    // ...and from the start, the task's history first.
    let mut fresh = watch_unit(&mut harness.client, &gia_lai, 0).await;
    let history = take(&mut fresh, 2).await;
    assert_eq!(
        history.iter().map(summary).collect::<Vec<_>>(),
        [
            (open.id.clone(), v1::TaskEventKind::Created as i32),
            (open.id.clone(), v1::TaskEventKind::Reassigned as i32)
        ]
    );
    quiet(&mut fresh).await;
    // The predecessor from the start: the completed task it kept, and the
    // open one's departure (its earlier changes are the successor's now).
    let mut again = watch_unit(&mut harness.client, &binh_dinh, 0).await;
    let kept = take(&mut again, 3).await;
    assert_eq!(
        kept.iter().map(summary).collect::<Vec<_>>(),
        [
            (done.id.clone(), v1::TaskEventKind::Created as i32),
            (done.id.clone(), v1::TaskEventKind::Completed as i32),
            (open.id.clone(), v1::TaskEventKind::Reassigned as i32),
        ]
    );
    quiet(&mut again).await;
    harness.stop().await;
}

tasknet_storage::test_on_both_backends!(
    a_unit_follows_its_own_tasks_only_and_resumes,
    bad_requests_name_their_field,
    reassignments_reach_both_units,
);
