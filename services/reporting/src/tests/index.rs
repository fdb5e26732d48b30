//! The status index against its reference, the SQL: random task timelines
//! (deadline changes, completions, reopenings, reassignments between units,
//! effective dates out of order) applied in random batches must give the
//! same counts per unit from both, for random periods and as-of days; and an
//! index rebuilt from the database after a restart must equal the one kept
//! up to date batch by batch.

use chrono::NaiveDate;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use tasknet_domain::DatePeriod;
use tasknet_proto::v1::{self, TaskEventKind};

use tasknet_storage::testing::{TestDatabase, column_collation, migrations_up_to};
use tasknet_storage::{Backend, Database, DatabaseOptions};

use super::random::apply_in_random_batches;
use super::{TaskSpec, created, open, updated, ymd};
use crate::store::{ReadModel, StatusQuery};

const UNITS: [&str; 5] = ["u-a", "u-b", "u-c", "u-p01", "u-p79"];

fn day_after(date: NaiveDate, days: u64) -> NaiveDate {
    date + chrono::Days::new(days)
}

fn reassigned(cursor: i64, task: &TaskSpec, to: &str, effective: NaiveDate) -> v1::Change {
    let mut moved = task.clone();
    moved.assignee = to.into();
    let mut change = updated(cursor, &moved, TaskEventKind::Reassigned, effective, None);
    if let Some(v1::change::Event::TaskEvent(event)) = &mut change.event {
        event.previous_assignee_unit_id = task.assignee.clone();
        event.reorganisation_id = "r".into();
    }
    change
}

/// One case's change log, continuing from `cursor`; task ids carry `case`.
fn random_log(seed: u64, case: u64, cursor: &mut i64) -> Vec<v1::Change> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut log = Vec::new();
    let mut tasks: Vec<TaskSpec> = Vec::new();
    for n in 0..rng.random_range(20..150_u64) {
        let assigned = day_after(ymd(2023, 1, 1), rng.random_range(0..730));
        let task = TaskSpec {
            id: format!("0190{case:04x}-0000-7000-8000-{n:012x}"),
            assignee: UNITS[rng.random_range(0..UNITS.len())].into(),
            assigned,
            deadline: day_after(assigned, rng.random_range(0..=90)),
            plans: Vec::new(),
        };
        *cursor += 1;
        log.push(created(*cursor, &task));
        tasks.push(task);
    }
    for _ in 0..rng.random_range(0..300) {
        let index = rng.random_range(0..tasks.len());
        let task = &mut tasks[index];
        // Boundaries matter most: on, just before and just after the deadline.
        let effective = if rng.random_bool(0.3) {
            let shift = rng.random_range(-1..=1_i64);
            task.deadline + chrono::Duration::days(shift)
        } else {
            day_after(task.assigned, rng.random_range(0..=240))
        };
        *cursor += 1;
        let change = match rng.random_range(0..100) {
            0..35 => updated(*cursor, task, TaskEventKind::Completed, effective, None),
            35..55 => updated(*cursor, task, TaskEventKind::Reopened, effective, None),
            55..80 => {
                let deadline = day_after(task.assigned, rng.random_range(0..=150));
                let kind = TaskEventKind::DeadlineChanged;
                updated(*cursor, task, kind, effective, Some(deadline))
            }
            _ => {
                let to = UNITS[rng.random_range(0..UNITS.len())];
                let change = reassigned(*cursor, task, to, effective);
                task.assignee = to.into();
                change
            }
        };
        log.push(change);
    }
    log
}

fn random_query(rng: &mut ChaCha8Rng) -> StatusQuery {
    let start = day_after(ymd(2022, 10, 1), rng.random_range(0..900));
    let end = day_after(start, rng.random_range(0..400));
    // Mostly within or after the period, where there is something to count.
    let as_of = day_after(start, rng.random_range(0..600));
    StatusQuery {
        period: DatePeriod { start, end },
        as_of,
    }
}

async fn index_matches_sql(db: TestDatabase) {
    let store = open(&db).await;
    store.load_index().await.unwrap();
    // Fn closures (proptest may re-run a case while shrinking): Cell state.
    let cursor = std::cell::Cell::new(0_i64);
    let case = std::cell::Cell::new(0_u64);
    let mut runner = TestRunner::new(Config {
        cases: 12,
        failure_persistence: None,
        ..Config::default()
    });
    let handle = tokio::runtime::Handle::current();
    // The database accumulates every case's tasks: each comparison covers
    // all of them, and cursors keep increasing as the follower's do.
    let outcome = runner.run(&any::<u64>(), |seed| {
        tokio::task::block_in_place(|| {
            handle.block_on(async {
                case.set(case.get() + 1);
                let mut next = cursor.get();
                let log = random_log(seed, case.get(), &mut next);
                cursor.set(next);
                let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x5eed);
                apply_in_random_batches(&store, &log, seed).await;
                prop_assert!(store.index().is_ready(), "index dropped out");
                let queries: Vec<StatusQuery> = (0..16).map(|_| random_query(&mut rng)).collect();
                let from_index = store.status_by_unit(&queries).await.unwrap();
                let from_sql = store.status_by_unit_sql(&queries).await.unwrap();
                for ((query, index), sql) in queries.iter().zip(&from_index).zip(&from_sql) {
                    prop_assert_eq!(index, sql, "{:?}", query);
                }
                Ok(())
            })
        })
    });
    if let Err(error) = outcome {
        panic!("{error}");
    }
    let incremental = store.index().canonical().unwrap();
    assert!(!incremental.1.is_empty());
    // A restart rebuilds the index from the database: the same multiset.
    store.close().await;
    let reopened = open(&db).await;
    reopened.load_index().await.unwrap();
    assert_eq!(reopened.index().canonical().unwrap(), incremental);
    // On PostgreSQL that load read typed rows: the portable reading (`Any`,
    // SQLite's) of the same database must give the same index.
    let portable = crate::store::snapshot::read_portable(reopened.database())
        .await
        .unwrap();
    assert_eq!(portable.cursor, incremental.0);
    assert_eq!(portable.index.canonical(), incremental.1);
}

/// Two replicas on one database: the one whose follower finds the batches
/// already applied (by the other) must stop answering from its index, answer
/// from the SQL, and after a reload hold what the other holds.
async fn a_replica_behind_the_database_drops_its_index(db: TestDatabase) {
    let first = open(&db).await;
    let second = open(&db).await;
    first.load_index().await.unwrap();
    second.load_index().await.unwrap();
    let mut cursor = 0;
    let log = random_log(7, 1, &mut cursor);
    first.apply_batch(&log).await.unwrap();
    assert!(first.index().is_ready());
    // The second replica's follower receives the same batch: nothing is fresh.
    second.apply_batch(&log).await.unwrap();
    assert!(!second.index().is_ready(), "a stale index must not answer");
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    let queries: Vec<StatusQuery> = (0..8).map(|_| random_query(&mut rng)).collect();
    let expected = first.status_by_unit(&queries).await.unwrap();
    assert_eq!(second.status_by_unit(&queries).await.unwrap(), expected);
    second.load_index().await.unwrap();
    assert_eq!(
        second.index().canonical().unwrap(),
        first.index().canonical().unwrap()
    );
}

/// A read model the previous release made and filled opens under today's
/// migrations (text keys compared byte-wise on PostgreSQL, 0006) with the
/// same figures, from the SQL and from the status index loaded again.
async fn a_read_model_of_the_previous_release_is_upgraded_in_place(db: TestDatabase) {
    let options = DatabaseOptions::default();
    let old = ReadModel::on(
        Database::open(
            db.url(),
            &options,
            migrations_up_to(&crate::store::MIGRATIONS, 5),
        )
        .await
        .unwrap(),
    );
    let mut cursor = 0;
    let log = random_log(11, 1, &mut cursor);
    apply_in_random_batches(&old, &log, 11).await;
    let mut rng = ChaCha8Rng::seed_from_u64(11);
    let queries: Vec<StatusQuery> = (0..16).map(|_| random_query(&mut rng)).collect();
    let figures = old.status_by_unit_sql(&queries).await.unwrap();
    old.load_index().await.unwrap();
    let index = old.index().canonical().unwrap();
    old.close().await;

    let upgraded = open(&db).await;
    assert_eq!(
        upgraded.status_by_unit_sql(&queries).await.unwrap(),
        figures
    );
    upgraded.load_index().await.unwrap();
    assert_eq!(upgraded.index().canonical().unwrap(), index);
    if upgraded.database().backend() == Backend::Postgres {
        let collation = column_collation(upgraded.pool(), "rpt_segments", "task_id").await;
        assert_eq!(collation.as_deref(), Some("C"));
    }
}

tasknet_storage::test_on_both_backends!(
    index_matches_sql,
    a_replica_behind_the_database_drops_its_index,
    a_read_model_of_the_previous_release_is_upgraded_in_place
);
