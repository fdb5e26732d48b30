//! The change feed behind `WatchChanges` and `WatchUnitTasks`: the change
//! log from a cursor on, then live — all of it, or the changes that concern
//! one unit (see [`query::read_unit_changes`]). A follower reads the log in
//! batches until it is caught up, then waits for the writer to announce a
//! commit (or polls once a second, for commits by other replicas) and reads
//! again. It ends when the client
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

type Sender<R> = mpsc::Sender<std::result::Result<R, Status>>;

/// The responses of one follower, then the reason it was dropped, if it was.
pub type FeedStream<R> = Pin<Box<dyn Stream<Item = std::result::Result<R, Status>> + Send>>;
/// A `WatchChanges` follower's responses.
pub type ChangeStream = FeedStream<v1::WatchChangesResponse>;
/// A `WatchUnitTasks` follower's responses.
pub type UnitTaskStream = FeedStream<v1::WatchUnitTasksResponse>;

/// Which changes a follower sends.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Scope {
    /// The whole log (`WatchChanges`).
    All,
    /// The changes that concern this unit (`WatchUnitTasks`).
    Unit(String),
}

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
        let max_batch = checked_window(request.after_cursor, request.max_batch)?;
        self.start(
            Scope::All,
            request.after_cursor,
            max_batch,
            credential,
            |changes| v1::WatchChangesResponse { changes },
        )
    }

    /// Starts following the changes that concern `unit_id` for
    /// `credential`. The caller has checked the unit exists and that the
    /// credential may follow it; the window is checked here.
    pub fn watch_unit(
        &self,
        unit_id: String,
        request: &v1::WatchUnitTasksRequest,
        credential: &str,
    ) -> Result<UnitTaskStream> {
        let max_batch = checked_window(request.after_cursor, request.max_batch)?;
        self.start(
            Scope::Unit(unit_id),
            request.after_cursor,
            max_batch,
            credential,
            |changes| v1::WatchUnitTasksResponse { changes },
        )
    }

    fn start<R: Send + 'static>(
        &self,
        scope: Scope,
        after_cursor: i64,
        max_batch: i64,
        credential: &str,
        wrap: fn(Vec<v1::Change>) -> R,
    ) -> Result<FeedStream<R>> {
        let follower = self.admit(credential)?;
        // One response queued: the follower reads ahead no further.
        let (sender, receiver) = mpsc::channel(1);
        let (dropped, reason) = tokio::sync::oneshot::channel::<Status>();
        let feed = self.clone();
        self.shutdown.spawn(async move {
            let from = Window {
                after_cursor,
                max_batch,
            };
            if let Err(status) = follow(feed, scope, from, sender, wrap).await {
                let _ = dropped.send(status);
            }
            drop(follower);
        });
        let reason =
            futures::stream::once(reason).filter_map(|reason| async { reason.ok().map(Err) });
        Ok(Box::pin(ReceiverStream::new(receiver).chain(reason)))
    }
}

/// Where a follower starts and how much it reads at a time.
#[derive(Debug, Clone, Copy)]
struct Window {
    after_cursor: i64,
    max_batch: i64,
}

/// The batch size a request asks for, once its cursor and size are valid.
fn checked_window(after_cursor: i64, max_batch: i32) -> Result<i64> {
    if after_cursor < 0 {
        return Err(Error::invalid("after_cursor", "must not be negative"));
    }
    match i64::from(max_batch) {
        0 => Ok(DEFAULT_MAX_BATCH),
        size if size < 0 => Err(Error::invalid("max_batch", "must not be negative")),
        size => Ok(size.min(MAX_MAX_BATCH)),
    }
}

/// Follows the log until the client goes away or the service stops; `Err`
/// when the client stopped reading (it is dropped, not buffered for).
#[tracing::instrument(name = "watch_changes", skip(feed, sender, wrap))]
async fn follow<R>(
    feed: ChangeFeed,
    scope: Scope,
    window: Window,
    sender: Sender<R>,
    wrap: fn(Vec<v1::Change>) -> R,
) -> std::result::Result<(), Status> {
    let mut newest = feed.newest.clone();
    let mut cursor = window.after_cursor;
    let mut writer_running = true;
    loop {
        // Mark the announcement seen before reading, so a commit between the
        // read and the wait below still wakes the follower.
        newest.borrow_and_update();
        let read = match &scope {
            Scope::All => query::read_changes(&feed.pool, cursor, window.max_batch)
                .await
                .map(|changes| query::LogRead::kept_all(changes, window.max_batch)),
            Scope::Unit(unit_id) => read_unit(&feed.pool, unit_id, cursor, window.max_batch).await,
        };
        let read = match read {
            Ok(read) => read,
            Err(error) => {
                let _ = sender.send(Err(Status::from(error))).await;
                return Ok(());
            }
        };
        let caught_up = read.exhausted;
        if let Some(reached) = read.reached {
            cursor = reached;
        }
        let changes = read.changes;
        for batch in responses(changes) {
            match sender
                .send_timeout(Ok(wrap(batch)), feed.limits.stall)
                .await
            {
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

/// Rows a unit's follower looks at per read, at most: a read covers the
/// rows committed since the last one, in ranges of this many cursors.
const UNIT_SCAN_RANGE: i64 = 50_000;

/// One read of a unit's changes after `cursor`, up to the head of the log
/// (committed in cursor order, so nothing at or below it commits later).
async fn read_unit(
    pool: &sqlx::AnyPool,
    unit_id: &str,
    cursor: i64,
    max_batch: i64,
) -> Result<query::LogRead> {
    let head = query::head_cursor(pool).await?;
    let upto = head.min(cursor.saturating_add(UNIT_SCAN_RANGE));
    let mut read = query::read_unit_changes(pool, unit_id, cursor, upto, max_batch).await?;
    read.exhausted = read.reached.is_none_or(|reached| reached >= head);
    Ok(read)
}

/// Splits changes into responses of bounded size.
fn responses(changes: Vec<v1::Change>) -> Vec<Vec<v1::Change>> {
    let mut responses = Vec::new();
    let mut current = Vec::new();
    let mut bytes = 0;
    for change in changes {
        let size = change.encoded_len() + 8;
        if !current.is_empty() && bytes + size > MAX_RESPONSE_BYTES {
            responses.push(std::mem::take(&mut current));
            bytes = 0;
        }
        bytes += size;
        current.push(change);
    }
    if !current.is_empty() {
        responses.push(current);
    }
    responses
}

#[cfg(test)]
mod tests;
