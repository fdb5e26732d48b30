//! The durable local outbox: a SQLite file in the agent's data directory
//! (WAL, `synchronous = FULL`, so a committed update survives a crash or a
//! power cut), holding every update in the office's order.
//!
//! The outbox is SQLite only, by design: it runs on an office machine with
//! nothing else installed, and is read and written by the agent alone.

mod entries;
mod local;
mod push;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use chrono::{DateTime, Utc};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Row, SqliteConnection, SqlitePool};
use tasknet_proto::prost::Message;
use uuid::Uuid;

use crate::error::{Error, Result};
use crate::update::{Prepared, TaskName};

pub use entries::{Ack, EntryState, OutboxEntry, Refusal};
pub use local::FeedState;
pub(crate) use local::StoredTask;
pub(crate) use push::{Outcome, StoredItem, now_us};

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");

/// Connections in the outbox pool: the pusher's recorder, submissions, status.
const MAX_CONNECTIONS: u32 = 4;

/// Microseconds since the epoch, as instants are stored.
pub(crate) fn micros(instant: DateTime<Utc>) -> i64 {
    instant.timestamp_micros()
}

pub(crate) fn from_micros(value: i64) -> Option<DateTime<Utc>> {
    DateTime::from_timestamp_micros(value)
}

/// A record of one imported file, stored with its rows.
pub(crate) struct ImportRecord<'a> {
    pub digest: &'a str,
    pub file_name: &'a str,
}

/// The open outbox of one unit.
#[derive(Debug, Clone)]
pub(crate) struct Outbox {
    pool: SqlitePool,
    path: PathBuf,
}

impl Outbox {
    /// Opens (creating if needed) the outbox in `data_dir` for `unit_id`;
    /// refuses an outbox that belongs to another unit.
    pub async fn open(data_dir: &Path, unit_id: Uuid) -> Result<Self> {
        std::fs::create_dir_all(data_dir).map_err(|source| Error::Io {
            action: "create the data directory",
            path: data_dir.to_owned(),
            source,
        })?;
        let path = crate::config::outbox_path(data_dir);
        let open = |source| Error::Open {
            path: path.clone(),
            source,
        };
        let options = SqliteConnectOptions::from_str("sqlite://")
            .map_err(open)?
            .filename(&path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            // An update is acknowledged to the office only once it is on disk.
            .synchronous(SqliteSynchronous::Full)
            // Several processes may share the outbox (a running pusher and a
            // `submit`): contention means waiting, not failing.
            .busy_timeout(Duration::from_secs(30))
            .foreign_keys(true);
        let pool = SqlitePoolOptions::new()
            .max_connections(MAX_CONNECTIONS)
            .connect_with(options)
            .await
            .map_err(open)?;
        MIGRATOR.run(&pool).await?;
        let outbox = Self { pool, path };
        outbox.claim(data_dir, unit_id).await?;
        Ok(outbox)
    }

    /// Records the unit on first use; afterwards checks it is the same one.
    async fn claim(&self, data_dir: &Path, unit_id: Uuid) -> Result<()> {
        sqlx::query(
            "INSERT INTO agent_identity (id, unit_id, created_at_us) VALUES (1, $1, $2) \
             ON CONFLICT (id) DO NOTHING",
        )
        .bind(unit_id.to_string())
        .bind(micros(Utc::now()))
        .execute(&self.pool)
        .await?;
        let stored: String = sqlx::query("SELECT unit_id FROM agent_identity WHERE id = 1")
            .fetch_one(&self.pool)
            .await?
            .try_get("unit_id")?;
        if stored != unit_id.to_string() {
            return Err(Error::UnitMismatch {
                data_dir: data_dir.to_owned(),
                stored,
                configured: unit_id.to_string(),
            });
        }
        Ok(())
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub async fn close(&self) {
        self.pool.close().await;
    }

    /// Stores updates in one transaction, in order, with their references
    /// and the import they came from; returns their sequence numbers. When
    /// this returns, they are on disk.
    pub async fn insert(
        &self,
        updates: &[Prepared],
        source: &str,
        import: Option<ImportRecord<'_>>,
    ) -> Result<Vec<i64>> {
        let now = micros(Utc::now());
        let mut transaction = self.pool.begin().await?;
        if let Some(import) = &import {
            insert_import(&mut transaction, import, updates.len(), now).await?;
        }
        let mut seqs = Vec::with_capacity(updates.len());
        for update in updates {
            if let Some(reference) = &update.reference {
                insert_reference(&mut transaction, reference, update.task_id, now).await?;
            }
            seqs.push(insert_update(&mut transaction, update, source, now).await?);
        }
        transaction.commit().await?;
        Ok(seqs)
    }

    /// The task a name stands for: an id as it is, a reference if known.
    pub async fn resolve(&self, name: &TaskName) -> Result<Option<Uuid>> {
        match name {
            TaskName::Id(id) => Ok(Some(*id)),
            TaskName::Reference(reference) => Ok(self
                .references(std::slice::from_ref(reference))
                .await?
                .remove(reference)),
        }
    }

    /// The tasks the given references name, for those that are known.
    pub async fn references(&self, references: &[String]) -> Result<HashMap<String, Uuid>> {
        let mut found = HashMap::new();
        let mut connection = self.pool.acquire().await?;
        for reference in references {
            let row = sqlx::query("SELECT task_id FROM task_refs WHERE reference = $1")
                .bind(reference)
                .fetch_optional(&mut *connection)
                .await?;
            if let Some(row) = row {
                found.insert(
                    reference.clone(),
                    parse_id(&row.try_get::<String, _>("task_id")?)?,
                );
            }
        }
        Ok(found)
    }

    /// When a file with this digest was imported, if it was.
    pub async fn imported_at(&self, digest: &str) -> Result<Option<DateTime<Utc>>> {
        let row = sqlx::query("SELECT imported_at_us FROM imports WHERE digest = $1")
            .bind(digest)
            .fetch_optional(&self.pool)
            .await?;
        Ok(match row {
            Some(row) => from_micros(row.try_get("imported_at_us")?),
            None => None,
        })
    }

    pub(crate) fn pool(&self) -> &SqlitePool {
        &self.pool
    }
}

async fn insert_import(
    connection: &mut SqliteConnection,
    import: &ImportRecord<'_>,
    rows: usize,
    now: i64,
) -> Result<()> {
    // A repeat of the same content replaces the record: the caller allowed it.
    sqlx::query(
        "INSERT INTO imports (digest, file_name, rows, imported_at_us) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (digest) DO UPDATE SET file_name = excluded.file_name, \
         rows = excluded.rows, imported_at_us = excluded.imported_at_us",
    )
    .bind(import.digest)
    .bind(import.file_name)
    .bind(rows as i64)
    .bind(now)
    .execute(connection)
    .await?;
    Ok(())
}

async fn insert_reference(
    connection: &mut SqliteConnection,
    reference: &str,
    task_id: Uuid,
    now: i64,
) -> Result<()> {
    let existing = sqlx::query("SELECT task_id FROM task_refs WHERE reference = $1")
        .bind(reference)
        .fetch_optional(&mut *connection)
        .await?;
    if let Some(row) = existing {
        let task: String = row.try_get("task_id")?;
        return Err(Error::invalid(
            "reference",
            format!("{reference:?} already names task {task}"),
        ));
    }
    sqlx::query("INSERT INTO task_refs (reference, task_id, created_at_us) VALUES ($1, $2, $3)")
        .bind(reference)
        .bind(task_id.to_string())
        .bind(now)
        .execute(connection)
        .await?;
    Ok(())
}

async fn insert_update(
    connection: &mut SqliteConnection,
    update: &Prepared,
    source: &str,
    now: i64,
) -> Result<i64> {
    let row = sqlx::query(
        "INSERT INTO outbox (update_id, task_id, kind, request, effective_time_us, \
         entered_at_us, source, state) VALUES ($1, $2, $3, $4, $5, $6, $7, 0) RETURNING seq",
    )
    .bind(update.update_id.to_string())
    .bind(update.task_id.to_string())
    .bind(update.kind.to_storage())
    .bind(update.request.encode_to_vec())
    .bind(micros(update.effective_time))
    .bind(now)
    .bind(source)
    .fetch_one(connection)
    .await?;
    Ok(row.try_get("seq")?)
}

pub(crate) fn parse_id(value: &str) -> Result<Uuid> {
    Uuid::try_parse(value).map_err(|_| Error::Corrupt(format!("{value:?} is not a UUID")))
}
