//! `WatchChanges`: the change log from a cursor on, then live. The follower
//! reads the log in batches until it is caught up, then waits for the writer
//! to announce a commit (or polls once a second, for commits by other
//! replicas) and reads again. It ends when the client goes away or the
//! service shuts down; the client resumes from the last cursor it stored.

use std::time::Duration;

use tasknet_proto::prost::Message;
use tasknet_proto::tonic::Status;
use tasknet_proto::v1;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;

use crate::error::{Error, Result};
use crate::service::TaskGrpc;
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

/// Validates the request and starts following the log.
pub fn start(
    service: TaskGrpc,
    request: v1::WatchChangesRequest,
) -> Result<ReceiverStream<std::result::Result<v1::WatchChangesResponse, Status>>> {
    if request.after_cursor < 0 {
        return Err(Error::invalid("after_cursor", "must not be negative"));
    }
    let max_batch = match i64::from(request.max_batch) {
        0 => DEFAULT_MAX_BATCH,
        size if size < 0 => return Err(Error::invalid("max_batch", "must not be negative")),
        size => size.min(MAX_MAX_BATCH),
    };
    let (sender, receiver) = mpsc::channel(4);
    let shutdown = service.shutdown.clone();
    shutdown.spawn(follow(service, request.after_cursor, max_batch, sender));
    Ok(ReceiverStream::new(receiver))
}

#[tracing::instrument(name = "watch_changes", skip(service, sender))]
async fn follow(service: TaskGrpc, after_cursor: i64, max_batch: i64, sender: Sender) {
    let mut newest = service.newest.clone();
    let mut cursor = after_cursor;
    let mut writer_running = true;
    loop {
        // Mark the announcement seen before reading, so a commit between the
        // read and the wait below still wakes the follower.
        newest.borrow_and_update();
        let changes = match query::read_changes(&service.pool, cursor, max_batch).await {
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
            () = service.shutdown.wait() => return,
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
