//! The follower: keeps the office's copy of its tasks in step with the
//! centre through `WatchUnitTasks`, resuming from the cursor stored with the
//! copy. Each response is stored in one transaction with its cursor; a
//! broken link or a refusal is recorded and retried after a backoff (the
//! same policy as the pusher), so an office offline for days catches up
//! when it reconnects.

use tasknet_proto::tonic::transport::Endpoint;
use tasknet_proto::v1;
use tasknet_server::Shutdown;
use tasknet_server::backoff::Backoff;

use crate::config::AgentConfig;
use crate::error::Result;
use crate::outbox::Outbox;
use crate::push::connect::{self, Credentials};

/// Changes per response asked of the centre.
const MAX_BATCH: i32 = 500;

pub(crate) struct Follower<'a> {
    pub outbox: &'a Outbox,
    pub config: &'a AgentConfig,
    pub endpoint: &'a Endpoint,
    pub credentials: &'a Credentials,
    pub unit_id: String,
}

impl Follower<'_> {
    /// Follows until `shutdown`; fails only if the local database does.
    pub async fn run(&self, shutdown: &Shutdown) -> Result<()> {
        let settings = &self.config.push;
        let mut backoff = Backoff::new(settings.backoff_initial(), settings.backoff_max());
        while !shutdown.is_triggered() {
            let reason = match self.session(shutdown, &mut backoff).await? {
                None => break,
                Some(reason) => reason,
            };
            let delay = backoff.next_delay();
            tracing::warn!(%reason, ?delay, "cannot follow the centre's tasks now; retrying");
            self.outbox.record_feed_error(&reason).await?;
            tokio::select! {
                () = tokio::time::sleep(delay) => {}
                () = shutdown.wait() => {}
            }
        }
        Ok(())
    }

    /// One stream: `None` at shutdown, else why it ended.
    async fn session(&self, shutdown: &Shutdown, backoff: &mut Backoff) -> Result<Option<String>> {
        let timeout = self.config.push.connect_timeout();
        let mut client = match connect::connect(self.endpoint, self.credentials, timeout).await {
            Ok(client) => client,
            Err(reason) => return Ok(Some(reason)),
        };
        let request = v1::WatchUnitTasksRequest {
            unit_id: self.unit_id.clone(),
            after_cursor: self.outbox.feed_state().await?.cursor,
            max_batch: MAX_BATCH,
        };
        let mut stream = match client.watch_unit_tasks(request).await {
            Ok(response) => response.into_inner(),
            Err(status) => return Ok(Some(refused(&status))),
        };
        self.outbox.clear_feed_error().await?;
        tracing::info!(unit = %self.unit_id, "following the centre's tasks of this office");
        loop {
            let message = tokio::select! {
                message = stream.message() => message,
                () = shutdown.wait() => return Ok(None),
            };
            match message {
                Ok(Some(response)) => {
                    self.outbox
                        .record_feed(&self.unit_id, &response.changes)
                        .await?;
                    backoff.reset();
                    tracing::debug!(
                        changes = response.changes.len(),
                        "stored the centre's changes"
                    );
                }
                Ok(None) => return Ok(Some("the centre ended the feed".to_owned())),
                Err(status) => return Ok(Some(refused(&status))),
            }
        }
    }
}

fn refused(status: &tasknet_proto::tonic::Status) -> String {
    format!("WatchUnitTasks: {:?}: {}", status.code(), status.message())
}
