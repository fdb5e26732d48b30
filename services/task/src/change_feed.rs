//! The change feed behind `WatchChanges`: the change log from a cursor on,
//! then live. A follower reads the log in batches until it is caught up,
//! then waits for the writer to announce a commit (or polls once a second,
//! for commits by other replicas) and reads again. It ends when the client
//! goes away or the service shuts down; the client resumes from the last
//! cursor it stored. It needs only the database, the writer's newest-cursor
//! signal and shutdown: not the writer itself, nor the unit directory.
//!
//! What a follower holds is bounded: one batch being sent and one response
//! queued (each response at most [`MAX_RESPONSE_BYTES`]); a credential holds
//! at most [`FeedLimits::per_credential`] followers; and a follower whose
//! client reads nothing for [`FeedLimits::stall`] is dropped, its stream
//! ending with RESOURCE_EXHAUSTED (the client resumes from its cursor).

use std::collections::HashMap;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use futures::{Stream, StreamExt};
use sqlx::AnyPool;
use tasknet_proto::prost::Message;
use tasknet_proto::tonic::Status;
use tasknet_proto::v1;
use tasknet_server::Shutdown;
use tokio::sync::mpsc::error::SendTimeoutError;
use tokio::sync::{mpsc, watch};
use tokio_stream::wrappers::ReceiverStream;

use crate::error::{Error, Result};
use crate::store::query;

/// Changes per response when the request says 0.
const DEFAULT_MAX_BATCH: i64 = 500;
/// The most changes per read (and per response).
const MAX_MAX_BATCH: i64 = 5000;
/// Encoded bytes per response, well under clients' default 4 MiB limit.
const MAX_RESPONSE_BYTES: usize = 1024 * 1024;
/// How often a caught-up follower looks for commits made elsewhere.
const POLL_INTERVAL: Duration = Duration::from_secs(1);

type Sender = mpsc::Sender<std::result::Result<v1::WatchChangesResponse, Status>>;

/// The responses of one follower, then the reason it was dropped, if it was.
pub type ChangeStream =
    Pin<Box<dyn Stream<Item = std::result::Result<v1::WatchChangesResponse, Status>> + Send>>;

/// How much of the service one subscriber may hold.
#[derive(Debug, Clone, Copy)]
pub struct FeedLimits {
    /// Followers one credential may have open at once.
    pub per_credential: usize,
    /// How long a follower waits for its client to read before it is dropped.
    pub stall: Duration,
}

impl Default for FeedLimits {
    fn default() -> Self {
        Self {
            per_credential: 8,
            stall: Duration::from_secs(60),
        }
    }
}

/// What a follower reads and waits on. Cheap to clone.
#[derive(Clone)]
pub struct ChangeFeed {
    pool: AnyPool,
    /// The newest cursor the writer has committed.
    newest: watch::Receiver<i64>,
    shutdown: Shutdown,
    limits: FeedLimits,
    /// Open followers by credential.
    followers: Arc<Mutex<HashMap<String, usize>>>,
}

/// One follower counted against its credential until it ends.
struct Follower {
    followers: Arc<Mutex<HashMap<String, usize>>>,
    credential: String,
}

impl Drop for Follower {
    fn drop(&mut self) {
        let mut followers = self
            .followers
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(count) = followers.get_mut(&self.credential) {
            *count = count.saturating_sub(1);
            if *count == 0 {
                followers.remove(&self.credential);
            }
        }
    }
}

impl ChangeFeed {
    pub fn new(pool: AnyPool, newest: watch::Receiver<i64>, shutdown: Shutdown) -> Self {
        Self::with_limits(pool, newest, shutdown, FeedLimits::default())
    }

    pub fn with_limits(
        pool: AnyPool,
        newest: watch::Receiver<i64>,
        shutdown: Shutdown,
        limits: FeedLimits,
    ) -> Self {
        Self {
            pool,
            newest,
            shutdown,
            limits,
            followers: Arc::default(),
        }
    }

    /// Counts a new follower of `credential`, within its limit.
    fn admit(&self, credential: &str) -> Result<Follower> {
        let mut followers = self
            .followers
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let count = followers.entry(credential.to_owned()).or_default();
        if *count >= self.limits.per_credential {
            return Err(Error::ResourceExhausted(format!(
                "credential {credential} already follows the change log {} times, the limit \
                 per credential: close a stream before opening another",
                self.limits.per_credential
            )));
        }
        *count += 1;
        Ok(Follower {
            followers: self.followers.clone(),
            credential: credential.to_owned(),
        })
    }

    /// Validates the request and starts following the log for `credential`.
    pub fn watch(
        &self,
        request: v1::WatchChangesRequest,
        credential: &str,
    ) -> Result<ChangeStream> {
        if request.after_cursor < 0 {
            return Err(Error::invalid("after_cursor", "must not be negative"));
        }
        let max_batch = match i64::from(request.max_batch) {
            0 => DEFAULT_MAX_BATCH,
            size if size < 0 => return Err(Error::invalid("max_batch", "must not be negative")),
            size => size.min(MAX_MAX_BATCH),
        };
        let follower = self.admit(credential)?;
        // One response queued: the follower reads ahead no further.
        let (sender, receiver) = mpsc::channel(1);
        let (dropped, reason) = tokio::sync::oneshot::channel::<Status>();
        let feed = self.clone();
        self.shutdown.spawn(async move {
            if let Err(status) = follow(feed, request.after_cursor, max_batch, sender).await {
                let _ = dropped.send(status);
            }
            drop(follower);
        });
        let reason =
            futures::stream::once(reason).filter_map(|reason| async { reason.ok().map(Err) });
        Ok(Box::pin(ReceiverStream::new(receiver).chain(reason)))
    }
}

/// Follows the log until the client goes away or the service stops; `Err`
/// when the client stopped reading (it is dropped, not buffered for).
#[tracing::instrument(name = "watch_changes", skip(feed, sender))]
async fn follow(
    feed: ChangeFeed,
    after_cursor: i64,
    max_batch: i64,
    sender: Sender,
) -> std::result::Result<(), Status> {
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
                return Ok(());
            }
        };
        let caught_up = (changes.len() as i64) < max_batch;
        if let Some(last) = changes.last() {
            cursor = last.cursor;
        }
        for response in responses(changes) {
            match sender.send_timeout(Ok(response), feed.limits.stall).await {
                Ok(()) => {}
                Err(SendTimeoutError::Closed(_)) => return Ok(()),
                Err(SendTimeoutError::Timeout(_)) => {
                    tracing::warn!(cursor, "dropping a change-feed client that stopped reading");
                    return Err(Status::resource_exhausted(format!(
                        "the client read nothing for {} s: the change feed does not buffer \
                         for a subscriber that stops reading; resume from the last cursor stored",
                        feed.limits.stall.as_secs()
                    )));
                }
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
            () = sender.closed() => return Ok(()),
            () = feed.shutdown.wait() => return Ok(()),
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
        followers_are_bounded_and_dropped_when_they_stop_reading,
    );
}
