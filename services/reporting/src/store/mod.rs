//! The reporting database: the read model built from the task change log
//! (tasks, their status-relevant events, timeline segments, plans) and the
//! cursor it has reached.

mod apply;
pub mod assignees;
pub mod decode;
pub mod drill;
mod index;
mod live;
pub mod notes;
mod query;
pub(crate) mod snapshot;
mod sql;
pub mod timeline;
pub mod trajectory;

use std::sync::Arc;

use chrono::{DateTime, Utc};
use sqlx::AnyPool;
use sqlx::migrate::Migrator;
use tasknet_proto::v1;
use tasknet_storage::writer::KeptConnection;
use tasknet_storage::{Backend, Database, DatabaseOptions, Edited, Migrations};

#[cfg(feature = "bulk-load")]
pub(crate) use index::{SEGMENT_END, SEGMENT_START};
pub use live::{LiveIndex, Loaded};
pub use query::{
    StatusQuery, UnitCounts, UnitDaysLate, distinct_plan_counts, plan_by_id, plan_counts,
    plans_of_kind,
};

static SQLITE: Migrator = sqlx::migrate!("./migrations/sqlite");
static POSTGRES: Migrator = sqlx::migrate!("./migrations/postgres");

/// The read model's migrations, then the audit log's.
pub static MIGRATIONS: Migrations = Migrations {
    sqlite: &SQLITE,
    postgres: &POSTGRES,
    shared: &[&tasknet_auth::audit::MIGRATIONS],
    // The audit log's DDL moved to tasknet_auth's set; databases that
    // applied the released file are accepted (docs/design.md).
    edited: &[
        Edited {
            backend: Backend::Sqlite,
            version: 3,
            released_checksum: "0ceb77cae81018308ce0cecbc39050bf158ca214e78e73975cf216919641c714e1be3c428647016ad70af1bc266ea71a",
        },
        Edited {
            backend: Backend::Postgres,
            version: 3,
            released_checksum: "e765766bc59a54d021a8d932000aa5590d5571a9839250c92a5f64636d5de4933ecee3d3b6f8296e8bd7b0906349a5e4",
        },
    ],
};

/// A handle on the reporting database (cheap to clone).
#[derive(Debug, Clone)]
pub struct ReadModel {
    database: Database,
    /// The connection batches are applied through, kept across batches.
    writer: Arc<KeptConnection>,
    /// Answers `status_by_unit` once loaded (`load_index`/`keep_index_loaded`).
    index: LiveIndex,
}

impl ReadModel {
    /// Connects and migrates.
    pub async fn open(url: &str, options: &DatabaseOptions) -> anyhow::Result<Self> {
        // Everything here is derived from the task change log, with the
        // cursor stored in the same transaction: a lost commit is re-applied.
        let options = DatabaseOptions {
            rebuildable: true,
            ..options.clone()
        };
        let database = Database::open(url, &options, &MIGRATIONS).await?;
        Ok(Self {
            database,
            writer: Arc::default(),
            index: LiveIndex::default(),
        })
    }

    /// A read model on a database opened (and migrated) by the caller: the
    /// upgrade tests fill one at an earlier schema version.
    #[cfg(test)]
    pub(crate) fn on(database: Database) -> Self {
        Self {
            database,
            writer: Arc::default(),
            index: LiveIndex::default(),
        }
    }

    pub fn pool(&self) -> &AnyPool {
        self.database.pool()
    }

    pub fn database(&self) -> &Database {
        &self.database
    }

    /// Applies one batch of the change log with its cursor, in one
    /// transaction; returns the cursor now stored.
    pub async fn apply_batch(&self, changes: &[v1::Change]) -> Result<i64, sqlx::Error> {
        let mut kept = self.writer.take(self.pool()).await?;
        let result = apply::apply_batch(kept.connection(), changes, Utc::now(), &self.index).await;
        if result.is_ok() {
            kept.keep();
        }
        result
    }

    /// Counts per unit: from the status index when it is loaded, else SQL.
    pub async fn status_by_unit(
        &self,
        queries: &[StatusQuery],
    ) -> Result<Vec<UnitCounts>, sqlx::Error> {
        // A nationwide answer scans millions of entries at 10 M tasks (a few
        // milliseconds of CPU on both cores): off the async runtime's workers,
        // so other requests and the follower are not held up meanwhile.
        let index = self.index.clone();
        let owned = queries.to_vec();
        match tokio::task::spawn_blocking(move || index.status_by_unit(&owned)).await {
            Ok(Some(counts)) => Ok(counts),
            // Not loaded yet (or the scan failed): the SQL answers.
            _ => query::status_by_unit(self.pool(), queries).await,
        }
    }

    /// Counts and days late per unit for each question: from the status
    /// index when it is loaded, else SQL (two statements then, so a batch
    /// applied between them may show in one and not the other).
    pub async fn scorecard_by_unit(
        &self,
        queries: &[StatusQuery],
    ) -> Result<(Vec<UnitCounts>, Vec<UnitDaysLate>), sqlx::Error> {
        let index = self.index.clone();
        let owned = queries.to_vec();
        match tokio::task::spawn_blocking(move || index.scorecard_by_unit(&owned)).await {
            Ok(Some(answer)) => Ok(answer),
            _ => self.scorecard_by_unit_sql(queries).await,
        }
    }

    /// The SQL answer of [`Self::scorecard_by_unit`], bypassing the index.
    pub async fn scorecard_by_unit_sql(
        &self,
        queries: &[StatusQuery],
    ) -> Result<(Vec<UnitCounts>, Vec<UnitDaysLate>), sqlx::Error> {
        let counts = query::status_by_unit(self.pool(), queries).await?;
        let days = query::days_late_by_unit(self.pool(), queries).await?;
        Ok((counts, days))
    }

    /// The SQL answer, bypassing the index (the reference it is tested against).
    pub async fn status_by_unit_sql(
        &self,
        queries: &[StatusQuery],
    ) -> Result<Vec<UnitCounts>, sqlx::Error> {
        query::status_by_unit(self.pool(), queries).await
    }

    /// Loads the status index from the database once.
    pub async fn load_index(&self) -> Result<Loaded, sqlx::Error> {
        self.index.load(&self.database).await
    }

    /// Loads the status index, and reloads it whenever it drops out (forever).
    pub async fn keep_index_loaded(&self) {
        self.index.keep_loaded(self.database.clone()).await;
    }

    pub fn index(&self) -> &LiveIndex {
        &self.index
    }

    /// The stored cursor and the time it was last advanced.
    pub async fn sync_state(&self) -> Result<(i64, Option<DateTime<Utc>>), sqlx::Error> {
        let (cursor, time_us) = query::sync_state(self.pool()).await?;
        Ok((cursor, time_us.and_then(DateTime::from_timestamp_micros)))
    }

    pub async fn close(&self) {
        // Give the kept connection back, or closing the pool would wait for it.
        self.writer.release().await;
        self.database.close().await;
    }
}
