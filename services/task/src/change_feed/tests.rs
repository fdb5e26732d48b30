//! The change feed over a real database (both back ends), with no writer
//! and no unit directory: the tests append to the log and announce commits.

use futures::StreamExt;
use tasknet_storage::testing::TestDatabase;
use tasknet_storage::{Database, DatabaseOptions};

use super::*;
use crate::store::MIGRATIONS;
use crate::store::batch::{NewChange, insert_changes};

/// A feed over a fresh database: no writer, no unit directory; the test
/// appends to the log and announces commits itself.
async fn feed(db: &TestDatabase) -> (ChangeFeed, Database, watch::Sender<i64>, Shutdown) {
    let database = Database::open(db.url(), &DatabaseOptions::default(), &MIGRATIONS)
        .await
        .unwrap();
    let (newest, receiver) = watch::channel(0);
    let shutdown = Shutdown::new();
    let feed = ChangeFeed::new(database.pool().clone(), receiver, shutdown.clone());
    (feed, database, newest, shutdown)
}

/// Appends plan creations named `ids`; returns their cursors.
async fn append(database: &Database, ids: &[&str]) -> Vec<i64> {
    let changes: Vec<NewChange> = ids
        .iter()
        .map(|id| NewChange {
            task_id: None,
            update_id: None,
            record_time_us: 1,
            payload: v1::Change {
                event: Some(v1::change::Event::PlanCreated(v1::Plan {
                    id: (*id).to_owned(),
                    ..v1::Plan::default()
                })),
                ..v1::Change::default()
            }
            .encode_to_vec(),
        })
        .collect();
    let mut connection = database.pool().acquire().await.unwrap();
    insert_changes(&mut connection, &changes).await.unwrap()
}

fn plan_ids(response: &v1::WatchChangesResponse) -> Vec<String> {
    response
        .changes
        .iter()
        .map(|change| match &change.event {
            Some(v1::change::Event::PlanCreated(plan)) => plan.id.clone(),
            other => panic!("expected a plan creation, got {other:?}"),
        })
        .collect()
}

async fn follows_the_log_in_batches_then_live(db: TestDatabase) {
    let (feed, database, newest, shutdown) = feed(&db).await;
    let cursors = append(&database, &["a", "b", "c"]).await;
    let request = v1::WatchChangesRequest {
        after_cursor: cursors[0],
        max_batch: 1,
    };
    let mut stream = feed.watch(request, "test").unwrap();
    let first = stream.next().await.unwrap().unwrap();
    assert_eq!(plan_ids(&first), ["b"]);
    assert_eq!(first.changes[0].cursor, cursors[1]);
    let second = stream.next().await.unwrap().unwrap();
    assert_eq!(plan_ids(&second), ["c"]);
    // Caught up: a commit announced by the writer is sent on.
    let later = append(&database, &["d"]).await;
    newest.send_replace(later[0]);
    let third = stream.next().await.unwrap().unwrap();
    assert_eq!(plan_ids(&third), ["d"]);
    assert_eq!(third.changes[0].cursor, later[0]);
    shutdown.trigger();
    assert!(stream.next().await.is_none(), "the feed ends at shutdown");
    database.close().await;
}

async fn bad_requests_name_their_field(db: TestDatabase) {
    let (feed, database, _newest, _shutdown) = feed(&db).await;
    for (request, field) in [
        (
            v1::WatchChangesRequest {
                after_cursor: -1,
                max_batch: 0,
            },
            "after_cursor",
        ),
        (
            v1::WatchChangesRequest {
                after_cursor: 0,
                max_batch: -1,
            },
            "max_batch",
        ),
    ] {
        let error = feed.watch(request, "test").err().unwrap();
        assert_eq!(error.field(), Some(field));
    }
    database.close().await;
}

async fn followers_are_bounded_and_dropped_when_they_stop_reading(db: TestDatabase) {
    let (feed, database, _newest, _shutdown) = feed(&db).await;
    let feed = ChangeFeed::with_limits(
        feed.pool.clone(),
        feed.newest.clone(),
        feed.shutdown.clone(),
        FeedLimits {
            per_credential: 2,
            stall: Duration::from_millis(300),
        },
    );
    let ids: Vec<String> = (0..50).map(|i| format!("p{i}")).collect();
    let refs: Vec<&str> = ids.iter().map(String::as_str).collect();
    append(&database, &refs).await;
    let request = v1::WatchChangesRequest {
        after_cursor: 0,
        max_batch: 1,
    };
    // Two followers of one credential; a third is refused naming the limit.
    let stalled = feed.watch(request, "c").unwrap();
    let mut other = feed.watch(request, "c").unwrap();
    let refused = feed.watch(request, "c").err().unwrap();
    assert!(
        matches!(refused, Error::ResourceExhausted(_)),
        "{refused:?}"
    );
    assert!(refused.to_string().contains("limit"), "{refused}");
    assert!(feed.watch(request, "another").is_ok());
    // The one that never reads is dropped after the stall limit, having
    // queued one response, not the fifty.
    tokio::time::sleep(Duration::from_millis(600)).await;
    let answers: Vec<_> = stalled.collect().await;
    let (read, ended) = answers.split_at(answers.len() - 1);
    assert!(read.len() <= 2, "{} responses were buffered", read.len());
    let Err(status) = &ended[0] else {
        panic!("the stalled stream ended without a reason");
    };
    assert_eq!(status.code(), tasknet_proto::tonic::Code::ResourceExhausted);
    // Its place is free again.
    let reopened = feed.watch(request, "c");
    assert!(reopened.is_ok());
    assert!(other.next().await.unwrap().is_ok());
    database.close().await;
}

#[test]
fn responses_are_cut_at_the_size_limit() {
    let big = |id: &str| v1::Change {
        event: Some(v1::change::Event::PlanCreated(v1::Plan {
            id: id.to_owned(),
            name: "x".repeat(MAX_RESPONSE_BYTES / 2),
            ..v1::Plan::default()
        })),
        ..v1::Change::default()
    };
    let cut = responses(vec![big("a"), big("b"), big("c")]);
    let sizes: Vec<usize> = cut.iter().map(Vec::len).collect();
    assert_eq!(sizes, [1, 1, 1]);
    let small = responses(vec![v1::Change::default(), v1::Change::default()]);
    assert_eq!(small.len(), 1);
    assert_eq!(small[0].len(), 2);
    assert!(responses(Vec::new()).is_empty());
}

tasknet_storage::test_on_both_backends!(
    follows_the_log_in_batches_then_live,
    bad_requests_name_their_field,
    followers_are_bounded_and_dropped_when_they_stop_reading,
);
