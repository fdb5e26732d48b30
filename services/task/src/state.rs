//! What every request handler of the task service shares: the database
//! pool, the writer's queue, the reference checks (unit directory, known
//! plans), the change feed, shutdown and the audit log. One clone per
//! connection; everything in it is cheap to clone.

use std::sync::Arc;

use sqlx::AnyPool;
use tasknet_auth::{AuditLog, AuthContext};
use tasknet_directory::UnitDirectory;
use tasknet_server::Shutdown;
use tokio::sync::watch;

use crate::access::Access;
use crate::change_feed::ChangeFeed;
use crate::error::Result;
use crate::references::References;
use crate::writer::WriterHandle;

#[derive(Clone)]
pub struct ServiceState {
    pub pool: AnyPool,
    pub writer: WriterHandle,
    pub references: References,
    pub feed: ChangeFeed,
    pub shutdown: Shutdown,
    pub audit: AuditLog,
}

impl ServiceState {
    /// The state over `pool`, submitting to `writer`; `newest` is the
    /// writer's newest-cursor signal, for the change feed.
    pub fn new(
        pool: AnyPool,
        writer: WriterHandle,
        newest: watch::Receiver<i64>,
        directory: UnitDirectory,
        shutdown: Shutdown,
    ) -> Self {
        Self {
            references: References::new(directory, pool.clone()),
            feed: ChangeFeed::new(pool.clone(), newest, shutdown.clone()),
            audit: AuditLog::new(pool.clone()),
            pool,
            writer,
            shutdown,
        }
    }

    /// The caller's access (the units its credential covers).
    pub async fn access(&self, context: &AuthContext) -> Result<Arc<Access>> {
        Access::resolve(context, self.references.directory()).await
    }
}
