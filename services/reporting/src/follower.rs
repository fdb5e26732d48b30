//! The background task that follows the task service's change log: it
//! streams `WatchChanges` from the stored cursor, applies each batch with its
//! cursor in one transaction, publishes the applied cursor, and reconnects
//! with jittered exponential backoff after any failure until shutdown.

use std::time::{Duration, Instant};

use anyhow::Context;
use tasknet_proto::v1;
use tasknet_proto::v1::task_service_client::TaskServiceClient;
use tasknet_server::{Backoff, Shutdown, TracedChannel};
use tokio::sync::watch;

use crate::store::ReadModel;

const FIRST_DELAY: Duration = Duration::from_millis(100);
const MAX_DELAY: Duration = Duration::from_secs(5);
/// A stream that stayed up this long before failing ends a failure streak.
const HEALTHY_AFTER: Duration = Duration::from_secs(5);
/// Batches carry task snapshots with titles and notes; allow large ones.
const MAX_MESSAGE_BYTES: usize = 64 * 1024 * 1024;

/// Changes per `WatchChanges` response the follower asks for.
const FOLLOW_BATCH: i32 = 2000;

pub struct Follower {
    store: ReadModel,
    client: TaskServiceClient<TracedChannel>,
    applied: watch::Sender<i64>,
    shutdown: Shutdown,
}

/// Consecutive failures: the first is logged as a warning, the rest quietly,
/// and the delay before the next attempt grows (100 ms doubling up to 5 s,
/// jittered so that replicas do not reconnect in lockstep).
struct Streak {
    backoff: Backoff,
}

impl Default for Streak {
    fn default() -> Self {
        Self {
            backoff: Backoff::new(FIRST_DELAY, MAX_DELAY),
        }
    }
}

impl Streak {
    fn failed(&mut self, error: &anyhow::Error) {
        let failures = self.backoff.failures();
        if failures == 0 {
            tracing::warn!(error = %format!("{error:#}"), "following the task change log failed; retrying");
        } else {
            tracing::debug!(error = %format!("{error:#}"), failures, "still failing");
        }
    }

    fn recovered(&mut self) {
        let failures = self.backoff.failures();
        if failures > 0 {
            tracing::info!(failures, "following the task change log again");
        }
        self.backoff.reset();
    }

    /// The wait before the next attempt; each call counts one more failure.
    fn delay(&mut self) -> Duration {
        self.backoff.next_delay()
    }
}

impl Follower {
    pub fn new(
        store: ReadModel,
        channel: TracedChannel,
        applied: watch::Sender<i64>,
        shutdown: Shutdown,
    ) -> Self {
        let client = TaskServiceClient::new(channel).max_decoding_message_size(MAX_MESSAGE_BYTES);
        Self {
            store,
            client,
            applied,
            shutdown,
        }
    }

    /// Follows until shutdown.
    pub async fn run(mut self) {
        let mut streak = Streak::default();
        while !self.shutdown.is_triggered() {
            let opened = Instant::now();
            let error = match self.follow(&mut streak).await {
                Ok(()) => break,
                Err(error) => error,
            };
            if opened.elapsed() >= HEALTHY_AFTER {
                streak.recovered();
            }
            streak.failed(&error);
            tokio::select! {
                () = tokio::time::sleep(streak.delay()) => {}
                () = self.shutdown.wait() => break,
            }
        }
        tracing::debug!("change-log follower stopped");
    }

    /// One stream from the stored cursor: `Ok` on shutdown, `Err` on any failure.
    async fn follow(&mut self, streak: &mut Streak) -> anyhow::Result<()> {
        let shutdown = self.shutdown.clone();
        let request = v1::WatchChangesRequest {
            after_cursor: *self.applied.borrow(),
            // Large batches while catching up: each commit of the read model
            // then rewrites its hot index pages once for many changes.
            max_batch: FOLLOW_BATCH,
        };
        let opening = tokio::select! {
            opening = self.client.watch_changes(request) => opening,
            () = shutdown.wait() => return Ok(()),
        };
        let mut stream = opening.context("WatchChanges failed")?.into_inner();
        loop {
            let message = tokio::select! {
                message = stream.message() => message.context("the change stream failed")?,
                () = shutdown.wait() => return Ok(()),
            };
            let Some(response) = message else {
                anyhow::bail!("the task service closed the change stream");
            };
            if response.changes.is_empty() {
                continue;
            }
            // Not raced against shutdown: a batch is applied whole or not at all anyway.
            let cursor = self
                .store
                .apply_batch(&response.changes)
                .await
                .context("applying changes to the read model failed")?;
            self.publish(cursor);
            streak.recovered();
        }
    }

    fn publish(&self, cursor: i64) {
        self.applied.send_if_modified(|applied| {
            let advanced = cursor > *applied;
            if advanced {
                *applied = cursor;
            }
            advanced
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_to_its_cap_with_jitter() {
        let mut streak = Streak::default();
        let first = streak.delay();
        assert!(
            first >= FIRST_DELAY / 2 && first <= FIRST_DELAY,
            "{first:?}"
        );
        for _ in 0..30 {
            streak.delay();
        }
        let capped = streak.delay();
        assert!(capped >= MAX_DELAY / 2 && capped <= MAX_DELAY, "{capped:?}");
        streak.recovered();
        assert_eq!(streak.backoff.failures(), 0);
    }
}
