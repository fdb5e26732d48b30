//! The change feed behind `WatchChanges`: the change log from a cursor on,
//! then live. A follower reads the log in batches until it is caught up,
//! then waits for the writer to announce a commit (or polls once a second,
//! for commits by other replicas) and reads again. It ends when the client
//! goes away or the service shuts down; the client resumes from the last
//! cursor it stored. It needs only the database, the writer's newest-cursor
//! signal and shutdown: not the writer itself, nor the unit directory.

use std::time::Duration;

use sqlx::AnyPool;
use tasknet_proto::prost::Message;
use tasknet_proto::tonic::Status;
use tasknet_proto::v1;
use tasknet_server::Shutdown;
use tokio::sync::{mpsc, watch};
use tokio_stream::wrappers::ReceiverStream;

use crate::error::{Error, Result};
use crate::store::query;

/// Changes per response when the request says 0.
const DEFAULT_MAX_BATCH: i64 = 500;
/// The most changes per read (and per response).
const MAX_MAX_BATCH: i64 = 5000;
/// Encoded bytes per response, well under clients' default 4 MiB limit.
const MAX_RESPONSE_BYTES: usize = 2 * 1024 * 1024;
/// How often a caught-up follower looks for commits made elsewhere.
const POLL_INTERVAL: Duration = Duration::from_secs(1);

type Sender = mpsc::Sender<std::result::Result<v1::WatchChangesResponse, Status>>;

/// The responses of one follower.
pub type ChangeStream = ReceiverStream<std::result::Result<v1::WatchChangesResponse, Status>>;

/// What a follower reads and waits on. Cheap to clone.
#[derive(Clone)]
pub struct ChangeFeed {
    pool: AnyPool,
    /// The newest cursor the writer has committed.
    newest: watch::Receiver<i64>,
    shutdown: Shutdown,
}

impl ChangeFeed {
    pub fn new(pool: AnyPool, newest: watch::Receiver<i64>, shutdown: Shutdown) -> Self {
        Self {
            pool,
            newest,
            shutdown,
        }
    }

    /// Validates the request and starts following the log.
    pub fn watch(&self, request: v1::WatchChangesRequest) -> Result<ChangeStream> {
        if request.after_cursor < 0 {
            return Err(Error::invalid("after_cursor", "must not be negative"));
        }
        let max_batch = match i64::from(request.max_batch) {
            0 => DEFAULT_MAX_BATCH,
            size if size < 0 => return Err(Error::invalid("max_batch", "must not be negative")),
            size => size.min(MAX_MAX_BATCH),
        };
        let (sender, receiver) = mpsc::channel(4);
        tokio::spawn(follow(
            self.clone(),
            request.after_cursor,
            max_batch,
            sender,
        ));
        Ok(ReceiverStream::new(receiver))
    }
}

#[tracing::instrument(name = "watch_changes", skip(feed, sender))]
async fn follow(feed: ChangeFeed, after_cursor: i64, max_batch: i64, sender: Sender) {
    let mut newest = feed.newest.clone();
    let mut cursor = after_cursor;
    let mut writer_running = true;
    loop {
        // Mark the announcement seen before reading, so a commit between the
        // read and the wait below still wakes the follower.
        newest.borrow_and_update();
        let changes = match query::read_changes(&feed.pool, cursor, max_batch).await {
            Ok(changes) => changes,
            Err(error) => {
                let _ = sender.send(Err(Status::from(error))).await;
                return;
            }
        };
        let caught_up = (changes.len() as i64) < max_batch;
        if let Some(last) = changes.last() {
            cursor = last.cursor;
        }
        for response in responses(changes) {
            if sender.send(Ok(response)).await.is_err() {
                return;
            }
        }
        if !caught_up {
            continue;
        }
        tokio::select! {
            changed = newest.changed(), if writer_running => {
                // An error means the writer has stopped: from then on only
                // other replicas add changes, and polling finds them.
                writer_running = changed.is_ok();
            }
            () = tokio::time::sleep(POLL_INTERVAL) => {}
            () = sender.closed() => return,
            () = feed.shutdown.wait() => return,
        }
    }
}

/// Splits changes into responses of bounded size.
fn responses(changes: Vec<v1::Change>) -> Vec<v1::WatchChangesResponse> {
    let mut responses = Vec::new();
    let mut current = v1::WatchChangesResponse::default();
    let mut bytes = 0;
    for change in changes {
        let size = change.encoded_len() + 8;
        if !current.changes.is_empty() && bytes + size > MAX_RESPONSE_BYTES {
            responses.push(std::mem::take(&mut current));
            bytes = 0;
        }
        bytes += size;
        current.changes.push(change);
    }
    if !current.changes.is_empty() {
        responses.push(current);
    }
    responses
}

#[cfg(test)]
mod tests {
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
        let mut stream = feed.watch(request).unwrap();
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
            let error = feed.watch(request).err().unwrap();
            assert_eq!(error.field(), Some(field));
        }
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
        let sizes: Vec<usize> = cut.iter().map(|r| r.changes.len()).collect();
        assert_eq!(sizes, [1, 1, 1]);
        let small = responses(vec![v1::Change::default(), v1::Change::default()]);
        assert_eq!(small.len(), 1);
        assert_eq!(small[0].changes.len(), 2);
        assert!(responses(Vec::new()).is_empty());
    }

    tasknet_storage::test_on_both_backends!(
        follows_the_log_in_batches_then_live,
        bad_requests_name_their_field,
    );
}
