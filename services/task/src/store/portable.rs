//! The writer's store over sqlx's `Any` driver: the portable SQL of
//! [`super::batch`] (multi-row `INSERT`s, chunked `IN (…)` lists), used on
//! SQLite. It reads only inside the batch's transaction, on the one
//! connection the writer keeps: SQLite empties a connection's page cache
//! whenever another connection has written, so reads on a second connection
//! beside the writer would read every page again.

use std::sync::{Arc, Mutex, PoisonError};

use sqlx::pool::PoolConnection;
use sqlx::{Any, AnyConnection, AnyPool, Executor, Row};
use tasknet_storage::Backend;

use super::batch;
use super::seam::{
    BatchKeys, BatchStore, BatchTransaction, Prefetched, ReadAhead, StoreFuture, Writes,
};
use crate::error::Result;

/// The connection kept between batches (taken by the batch in progress).
type KeptSlot = Arc<Mutex<Option<PoolConnection<Any>>>>;

pub struct PortableStore {
    pool: AnyPool,
    backend: Backend,
    kept: KeptSlot,
}

impl PortableStore {
    pub fn new(pool: AnyPool, backend: Backend) -> Self {
        Self {
            pool,
            backend,
            kept: KeptSlot::default(),
        }
    }

    async fn open(&self, since: Option<i64>) -> Result<(Box<dyn BatchTransaction>, i64)> {
        let kept = self
            .kept
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        let connection = match kept {
            Some(connection) => connection,
            None => self.pool.acquire().await?,
        };
        let mut transaction = PortableTransaction {
            connection: Some(connection),
            kept: self.kept.clone(),
        };
        // SQLite: take the write lock first. A deferred transaction that reads
        // and then writes fails at once (SQLITE_BUSY_SNAPSHOT, no busy wait)
        // if another connection wrote meanwhile, as the audit log's rejection
        // records may.
        let begin = match self.backend {
            Backend::Sqlite => "BEGIN IMMEDIATE",
            Backend::Postgres => "BEGIN",
        };
        let connection = transaction.connection()?;
        connection.execute(begin).await?;
        batch::lock_writers(connection, self.backend).await?;
        let committed_since = match since {
            Some(cursor) => sqlx::query("SELECT COUNT(*) AS n FROM change_log WHERE cursor > $1")
                .bind(cursor)
                .fetch_one(&mut *connection)
                .await?
                .try_get("n")?,
            None => 0,
        };
        Ok((Box::new(transaction), committed_since))
    }
}

impl BatchStore for PortableStore {
    fn begin(&self, since: Option<i64>) -> StoreFuture<'_, (Box<dyn BatchTransaction>, i64)> {
        Box::pin(self.open(since))
    }

    fn read_ahead<'a>(&'a self, _keys: &'a BatchKeys) -> Option<StoreFuture<'a, ReadAhead>> {
        None
    }
}

struct PortableTransaction {
    /// `None` once committed.
    connection: Option<PoolConnection<Any>>,
    kept: KeptSlot,
}

impl PortableTransaction {
    fn connection(&mut self) -> Result<&mut AnyConnection> {
        self.connection
            .as_deref_mut()
            .ok_or_else(|| crate::error::Error::Internal("the batch has committed".to_owned()))
    }

    async fn read_keys(&mut self, keys: &BatchKeys) -> Result<Prefetched> {
        let connection = self.connection()?;
        Ok(Prefetched {
            tasks: super::load_tasks(connection, &keys.task_ids).await?,
            histories: super::load_histories(connection, &keys.history_task_ids).await?,
            applied: batch::load_applied(connection, &keys.update_ids).await?,
            plans: super::load_plans(connection, &keys.plan_ids).await?,
        })
    }

    async fn write_rows(&mut self, writes: &mut Writes) -> Result<Vec<i64>> {
        let connection = self.connection()?;
        for plan in &writes.plans {
            batch::insert_plan(connection, plan).await?;
        }
        let cursors = batch::insert_changes(connection, &writes.changes).await?;
        writes.resolve_applied(&cursors)?;
        batch::insert_applied(connection, &writes.applied).await?;
        let tasks: Vec<_> = writes.tasks.iter().collect();
        batch::upsert_tasks(connection, &tasks).await?;
        batch::insert_memberships(connection, &writes.memberships).await?;
        tasknet_auth::audit::insert(connection, &writes.audit).await?;
        Ok(cursors)
    }

    async fn finish(mut self: Box<Self>) -> Result<()> {
        self.connection()?.execute("COMMIT").await?;
        // Committed: the connection is kept for the next batch.
        let connection = self.connection.take();
        *self.kept.lock().unwrap_or_else(PoisonError::into_inner) = connection;
        Ok(())
    }
}

impl BatchTransaction for PortableTransaction {
    fn read<'a>(&'a mut self, keys: &'a BatchKeys) -> StoreFuture<'a, Prefetched> {
        Box::pin(self.read_keys(keys))
    }

    fn write<'a>(&'a mut self, writes: &'a mut Writes) -> StoreFuture<'a, Vec<i64>> {
        Box::pin(self.write_rows(writes))
    }

    fn commit(self: Box<Self>) -> StoreFuture<'static, ()> {
        Box::pin(self.finish())
    }
}

impl Drop for PortableTransaction {
    /// A transaction that did not commit: its connection is closed (rolling
    /// it back), never handed to another user mid-transaction.
    fn drop(&mut self) {
        if let Some(mut connection) = self.connection.take() {
            connection.close_on_drop();
        }
    }
}
