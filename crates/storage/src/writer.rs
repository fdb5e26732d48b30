//! What the services' single writers (the task writer, reporting's
//! follower) share: one connection kept across batches, and transactions
//! that read only by key.

use sqlx::pool::PoolConnection;
use sqlx::{Any, AnyConnection, AnyPool};
use tokio::sync::{Mutex, MutexGuard};

use crate::Backend;

/// The connection a writer applies every batch through. SQLite empties a
/// connection's page cache whenever another connection has written, so a
/// writer taking whichever pooled connection is idle would read every page
/// a batch touches again (16.5 GB per seed load before this).
#[derive(Debug, Default)]
pub struct KeptConnection {
    kept: Mutex<Option<PoolConnection<Any>>>,
}

/// The kept connection, held for one batch; given back by [`Self::keep`]
/// after a success, dropped otherwise so a broken connection is not reused.
pub struct KeptGuard<'a> {
    slot: MutexGuard<'a, Option<PoolConnection<Any>>>,
    connection: PoolConnection<Any>,
}

impl KeptConnection {
    /// The kept connection, or a new one from `pool` when there is none.
    pub async fn take(&self, pool: &AnyPool) -> Result<KeptGuard<'_>, sqlx::Error> {
        let mut slot = self.kept.lock().await;
        let connection = match slot.take() {
            Some(connection) => connection,
            None => pool.acquire().await?,
        };
        Ok(KeptGuard { slot, connection })
    }

    /// Gives the connection back to the pool (closing a pool waits for it).
    pub async fn release(&self) {
        self.kept.lock().await.take();
    }
}

impl KeptGuard<'_> {
    pub fn connection(&mut self) -> &mut AnyConnection {
        &mut self.connection
    }

    /// Keeps the connection for the next batch.
    pub fn keep(mut self) {
        *self.slot = Some(self.connection);
    }
}

/// Tells PostgreSQL that the current transaction reads only by key: the
/// writers' `IN (…)` lists of a batch's ids would otherwise be answered by
/// scanning whole tables while they are small enough for the planner to
/// prefer it, which under ingest cost PostgreSQL more CPU than the writes
/// themselves. (Where no index fits, PostgreSQL still scans.) Nothing to
/// do on SQLite.
pub async fn keyed_reads_only(connection: &mut AnyConnection) -> Result<(), sqlx::Error> {
    if Backend::of(connection) == Backend::Postgres {
        sqlx::query("SET LOCAL enable_seqscan = off")
            .execute(connection)
            .await?;
    }
    Ok(())
}
