//! The PostgreSQL advisory lock a service holds while it creates its schema
//! and applies its migrations, so replicas starting together take turns.

use sqlx::{AnyConnection, Connection};

use crate::database::{Backend, StorageError};

/// The advisory lock key of tasknet's start-up work ("tasknet-start" in
/// ASCII); any tasknet service starting on the same database waits for it.
const STARTUP_LOCK_KEY: i64 = 0x7461_736b_6e65_7401;

/// A held session lock on a connection of its own; released explicitly, or
/// by the server when the connection closes (also when the process dies).
pub struct StartupLock {
    connection: AnyConnection,
}

impl StartupLock {
    /// Waits until no other tasknet process is creating schemas or migrating.
    pub async fn acquire(url: &str) -> Result<Self, StorageError> {
        let connect = |source| StorageError::Connect {
            backend: Backend::Postgres,
            source,
        };
        sqlx::any::install_default_drivers();
        let mut connection = AnyConnection::connect(url).await.map_err(connect)?;
        // pg_advisory_lock returns void, which the Any driver cannot decode.
        sqlx::query("SELECT CAST(1 AS BIGINT) FROM (SELECT pg_advisory_lock($1)) AS l")
            .bind(STARTUP_LOCK_KEY)
            .execute(&mut connection)
            .await
            .map_err(connect)?;
        Ok(Self { connection })
    }

    /// Releases the lock (closing the connection releases it too).
    pub async fn release(mut self) {
        let unlocked =
            sqlx::query("SELECT CAST(1 AS BIGINT) FROM (SELECT pg_advisory_unlock($1)) AS l")
                .bind(STARTUP_LOCK_KEY)
                .execute(&mut self.connection)
                .await;
        if let Err(error) = unlocked {
            tracing::warn!(%error, "cannot release the start-up lock; closing its connection releases it");
        }
        let _ = self.connection.close().await;
    }
}
