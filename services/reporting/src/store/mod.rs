//! The reporting database: the read model built from the task change log
//! (tasks, their status-relevant events, timeline segments, plans) and the
//! cursor it has reached.

mod apply;
pub mod assignees;
pub mod decode;
pub mod notes;
mod query;
mod sql;

use chrono::{DateTime, Utc};
use sqlx::AnyPool;
use sqlx::migrate::Migrator;
use tasknet_proto::v1;
use tasknet_storage::{Database, DatabaseOptions, Migrations};

pub use query::{StatusQuery, UnitCounts, plan_by_id, plan_counts, plans_of_kind};

static SQLITE: Migrator = sqlx::migrate!("./migrations/sqlite");
static POSTGRES: Migrator = sqlx::migrate!("./migrations/postgres");

pub static MIGRATIONS: Migrations = Migrations {
    sqlite: &SQLITE,
    postgres: &POSTGRES,
};

/// A handle on the reporting database (cheap to clone).
#[derive(Debug, Clone)]
pub struct ReadModel {
    database: Database,
}

impl ReadModel {
    /// Connects and migrates.
    pub async fn open(url: &str, options: &DatabaseOptions) -> anyhow::Result<Self> {
        let database = Database::open(url, options, &MIGRATIONS).await?;
        Ok(Self { database })
    }

    pub fn pool(&self) -> &AnyPool {
        self.database.pool()
    }

    /// Applies one batch of the change log with its cursor, in one
    /// transaction; returns the cursor now stored.
    pub async fn apply_batch(&self, changes: &[v1::Change]) -> Result<i64, sqlx::Error> {
        apply::apply_batch(self.pool(), changes, Utc::now()).await
    }

    pub async fn status_by_unit(
        &self,
        queries: &[StatusQuery],
    ) -> Result<Vec<UnitCounts>, sqlx::Error> {
        query::status_by_unit(self.pool(), queries).await
    }

    /// The stored cursor and the time it was last advanced.
    pub async fn sync_state(&self) -> Result<(i64, Option<DateTime<Utc>>), sqlx::Error> {
        let (cursor, time_us) = query::sync_state(self.pool()).await?;
        Ok((cursor, time_us.and_then(DateTime::from_timestamp_micros)))
    }

    pub async fn close(&self) {
        self.database.close().await;
    }
}
