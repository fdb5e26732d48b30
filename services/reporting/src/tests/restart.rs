//! A restart of the reporting side: the cursor survives reopening the
//! database, and changes delivered again after it are ignored.

use sqlx::Row;
use tasknet_proto::v1::{self, TaskEventKind};
use tasknet_storage::testing::TestDatabase;

use super::random::generate;
use super::{TaskSpec, created, open, updated, ymd};
use crate::store::{ReadModel, StatusQuery, UnitCounts};

async fn table_count(store: &ReadModel, table: &str) -> i64 {
    let sql = format!("SELECT COUNT(*) FROM {table}");
    sqlx::query(&sql)
        .fetch_one(store.pool())
        .await
        .unwrap()
        .get::<i64, _>(0)
}

async fn figures(store: &ReadModel) -> Vec<UnitCounts> {
    let questions = [
        StatusQuery {
            period: tasknet_domain::DatePeriod::parse("2024").unwrap(),
            as_of: ymd(2024, 10, 1),
        },
        StatusQuery {
            period: tasknet_domain::DatePeriod::parse("2023").unwrap(),
            as_of: ymd(2023, 12, 31),
        },
    ];
    store.status_by_unit(&questions).await.unwrap()
}

fn status_events(log: &[v1::Change]) -> i64 {
    log.iter()
        .filter(|change| match &change.event {
            Some(v1::change::Event::TaskEvent(event)) => matches!(
                TaskEventKind::try_from(event.kind),
                Ok(TaskEventKind::Completed
                    | TaskEventKind::Reopened
                    | TaskEventKind::DeadlineChanged)
            ),
            _ => false,
        })
        .count() as i64
}

async fn restart_resumes_and_ignores_redelivered_changes(db: TestDatabase) {
    let model = generate(99, 80, 400);
    let log = &model.log;
    let half = log.len() / 2;

    let store = open(&db).await;
    assert_eq!(store.sync_state().await.unwrap(), (0, None));
    assert_eq!(
        store.apply_batch(&log[..half]).await.unwrap(),
        log[half - 1].cursor
    );
    store.close().await;

    // Reopening migrates nothing new and resumes at the stored cursor.
    let store = open(&db).await;
    let (cursor, time) = store.sync_state().await.unwrap();
    assert_eq!(cursor, log[half - 1].cursor);
    assert!(time.is_some());
    // The task service re-sends from an older cursor: the overlap is ignored.
    let last = log.last().unwrap().cursor;
    assert_eq!(store.apply_batch(&log[half - 25..]).await.unwrap(), last);
    let after_once = figures(&store).await;
    assert_eq!(
        table_count(&store, "rpt_tasks").await,
        model.tasks.len() as i64
    );
    assert_eq!(
        table_count(&store, "rpt_task_events").await,
        status_events(log)
    );

    // The whole log once more changes nothing at all.
    assert_eq!(store.apply_batch(log).await.unwrap(), last);
    assert_eq!(figures(&store).await, after_once);
    assert_eq!(
        table_count(&store, "rpt_task_events").await,
        status_events(log)
    );
    store.close().await;

    // And matches a read model that received everything exactly once.
    let fresh_db = TestDatabase::of(db.backend(), "restart-fresh")
        .await
        .unwrap();
    let fresh = open(&fresh_db).await;
    fresh.apply_batch(log).await.unwrap();
    assert_eq!(figures(&fresh).await, after_once);
    fresh.close().await;
}

/// An update for a task whose creation the read model never saw is still
/// counted, from the snapshot the entry carries.
async fn update_of_an_unseen_task_is_taken_from_its_snapshot(db: TestDatabase) {
    let store = open(&db).await;
    let task = TaskSpec {
        id: "0190abcd-0000-7000-8000-000000000001".into(),
        assignee: "u-p01".into(),
        assigned: ymd(2024, 3, 1),
        deadline: ymd(2024, 4, 1),
        plans: vec![],
    };
    let other = TaskSpec {
        id: "0190abcd-0000-7000-8000-000000000002".into(),
        ..task.clone()
    };
    let batch = [
        updated(5, &task, TaskEventKind::Completed, ymd(2024, 3, 20), None),
        created(6, &other),
        // A malformed entry (no snapshot) is skipped, not fatal.
        v1::Change {
            cursor: 7,
            record_time: None,
            event: Some(v1::change::Event::TaskEvent(v1::TaskEvent {
                kind: TaskEventKind::Completed as i32,
                ..Default::default()
            })),
        },
    ];
    assert_eq!(store.apply_batch(&batch).await.unwrap(), 7);
    let question = StatusQuery {
        period: tasknet_domain::DatePeriod::parse("2024-H1").unwrap(),
        as_of: ymd(2024, 6, 30),
    };
    let counts = store.status_by_unit(&[question]).await.unwrap();
    let unit = counts[0]["u-p01"];
    assert_eq!((unit.completed_on_time, unit.open_overdue), (1, 1));
    store.close().await;
}

tasknet_storage::test_on_both_backends!(
    restart_resumes_and_ignores_redelivered_changes,
    update_of_an_unseen_task_is_taken_from_its_snapshot,
);
