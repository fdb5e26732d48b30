//! The writer's store on PostgreSQL through sqlx's native driver, on the same
//! database and schema as the `Any` pool (`Database::postgres_pool`). What
//! `Any` cannot carry is what makes it cheaper: every column of a batch is
//! bound as one array, so a batch's rows go in with one
//! `INSERT … SELECT … FROM UNNEST($1::text[], $2::bigint[], …)` per table
//! whatever its size, and keyed reads are `= ANY($1)` with one statement
//! text for any number of ids (not chunked `IN` lists, a new statement text
//! per length). The columns are today's (`TEXT` ids, `BIGINT` dates and
//! instants). Queries are `sqlx::query` with binds, checked by the tests on
//! PostgreSQL, not the compile-time `query!` macros (they need a database or
//! committed offline data at build time).
//!
//! Reads may also run ahead, on a connection of their own, while the
//! previous batch commits: the writer overlays that batch's writes on them.

use sqlx::postgres::{PgConnection, PgPool};
use sqlx::{Executor, Postgres, Row};
use tasknet_domain::date_to_storage;

use super::batch::{self, WRITER_LOCK_KEY};
use super::seam::{
    BatchKeys, BatchStore, BatchTransaction, Prefetched, ReadAhead, StoreFuture, Writes,
};
use super::{HistoryEvents, PLAN_COLUMNS, TASK_COLUMNS, plan_from_row, task_from_row};
use crate::error::{Error, Result};
use crate::model::PlanRecord;

pub struct TypedStore {
    pool: PgPool,
}

impl TypedStore {
    pub fn new(pool: PgPool) -> Self {
        Self { pool }
    }

    async fn open(&self, since: Option<i64>) -> Result<(Box<dyn BatchTransaction>, i64)> {
        let mut transaction = TypedTransaction {
            connection: Some(self.pool.acquire().await?),
        };
        // One round trip: begin, the writers' lock, reads by key only (see
        // tasknet_storage::writer::keyed_reads_only), and, after the lock,
        // the count of changes committed since `since` (each statement of a
        // simple query sees what committed before it started).
        let mut sql = format!(
            "BEGIN; SELECT pg_advisory_xact_lock({WRITER_LOCK_KEY}); \
             SET LOCAL enable_seqscan = off;"
        );
        if let Some(cursor) = since {
            sql.push_str(&format!(
                " SELECT COUNT(*) AS committed FROM change_log WHERE cursor > {cursor};"
            ));
        }
        // Without binds, a statement goes as a simple query.
        let rows = transaction.connection()?.fetch_all(sql.as_str()).await?;
        let committed_since = match since {
            Some(_) => rows
                .last()
                .ok_or_else(|| Error::Internal("the change count returned no row".to_owned()))?
                .try_get("committed")?,
            None => 0,
        };
        Ok((Box::new(transaction), committed_since))
    }

    async fn read_outside(&self, keys: &BatchKeys) -> Result<ReadAhead> {
        let mut connection = self.pool.acquire().await?;
        // The head first: every change at or below it has committed before
        // the reads below start (cursors commit in order, under the lock).
        let head: i64 = sqlx::query_scalar("SELECT COALESCE(MAX(cursor), 0) FROM change_log")
            .fetch_one(&mut *connection)
            .await?;
        let prefetched = read_keys(&mut connection, keys).await?;
        Ok(ReadAhead { head, prefetched })
    }
}

impl BatchStore for TypedStore {
    fn begin(&self, since: Option<i64>) -> StoreFuture<'_, (Box<dyn BatchTransaction>, i64)> {
        Box::pin(self.open(since))
    }

    fn read_ahead<'a>(&'a self, keys: &'a BatchKeys) -> Option<StoreFuture<'a, ReadAhead>> {
        Some(Box::pin(self.read_outside(keys)))
    }
}

/// Everything `keys` name, one statement per table.
async fn read_keys(connection: &mut PgConnection, keys: &BatchKeys) -> Result<Prefetched> {
    let mut prefetched = Prefetched::default();
    if !keys.task_ids.is_empty() {
        let rows = sqlx::query(&format!(
            "SELECT {TASK_COLUMNS} FROM tasks WHERE id = ANY($1)"
        ))
        .bind(&keys.task_ids)
        .fetch_all(&mut *connection)
        .await?;
        for row in &rows {
            let task = task_from_row(row)?;
            prefetched.tasks.insert(task.id.clone(), task);
        }
        // Memberships exist only for existing tasks: no need to wait for
        // which ones those are.
        let rows = sqlx::query(
            "SELECT task_id, plan_id FROM task_plans WHERE task_id = ANY($1) \
             ORDER BY task_id, plan_id",
        )
        .bind(&keys.task_ids)
        .fetch_all(&mut *connection)
        .await?;
        for row in &rows {
            let task_id: &str = row.try_get("task_id")?;
            if let Some(task) = prefetched.tasks.get_mut(task_id) {
                task.plan_ids.push(row.try_get("plan_id")?);
            }
        }
    }
    if !keys.history_task_ids.is_empty() {
        let rows = sqlx::query(
            "SELECT task_id, cursor, payload FROM change_log WHERE task_id = ANY($1) \
             ORDER BY task_id, cursor",
        )
        .bind(&keys.history_task_ids)
        .fetch_all(&mut *connection)
        .await?;
        let mut events = HistoryEvents::default();
        for row in &rows {
            events.push(row)?;
        }
        prefetched.histories = events.fold();
    }
    if !keys.update_ids.is_empty() {
        let rows = sqlx::query(
            "SELECT update_id, task_id, request_digest, version, cursor \
             FROM applied_updates WHERE update_id = ANY($1)",
        )
        .bind(&keys.update_ids)
        .fetch_all(&mut *connection)
        .await?;
        for row in &rows {
            let record = batch::AppliedRecord {
                update_id: row.try_get("update_id")?,
                task_id: row.try_get("task_id")?,
                digest: row.try_get("request_digest")?,
                version: row.try_get("version")?,
                cursor: row.try_get("cursor")?,
            };
            prefetched.applied.insert(record.update_id.clone(), record);
        }
    }
    if !keys.plan_ids.is_empty() {
        let rows = sqlx::query(&format!(
            "SELECT {PLAN_COLUMNS} FROM plans WHERE id = ANY($1)"
        ))
        .bind(&keys.plan_ids)
        .fetch_all(&mut *connection)
        .await?;
        for row in &rows {
            let plan = plan_from_row(row)?;
            prefetched.plans.insert(plan.id.clone(), plan);
        }
    }
    Ok(prefetched)
}

/// A column of a batch's rows, for one array bind.
fn column<'a, T, V>(rows: &'a [T], value: impl Fn(&'a T) -> V) -> Vec<V> {
    rows.iter().map(value).collect()
}

/// Writes a batch's rows: one statement per table.
async fn write_rows(connection: &mut PgConnection, writes: &mut Writes) -> Result<Vec<i64>> {
    for plan in &writes.plans {
        insert_plan(connection, plan).await?;
    }
    let cursors = insert_changes(connection, writes).await?;
    writes.resolve_applied(&cursors)?;
    if !writes.applied.is_empty() {
        let applied = &writes.applied;
        sqlx::query(
            "INSERT INTO applied_updates (update_id, task_id, request_digest, version, cursor) \
             SELECT * FROM UNNEST($1::text[], $2::text[], $3::text[], $4::bigint[], $5::bigint[])",
        )
        .bind(column(applied, |r| r.update_id.as_str()))
        .bind(column(applied, |r| r.task_id.as_str()))
        .bind(column(applied, |r| r.digest.as_str()))
        .bind(column(applied, |r| r.version))
        .bind(column(applied, |r| r.cursor))
        .execute(&mut *connection)
        .await?;
    }
    if !writes.tasks.is_empty() {
        let tasks = &writes.tasks;
        sqlx::query(&format!(
            "INSERT INTO tasks ({TASK_COLUMNS}) SELECT * FROM UNNEST($1::text[], $2::text[], \
             $3::text[], $4::text[], $5::bigint[], $6::bigint[], $7::bigint[], $8::bigint[], \
             $9::text[], $10::bigint[], $11::bigint[], $12::bigint[]) {}",
            batch::TASK_UPSERT
        ))
        .bind(column(tasks, |t| t.id.as_str()))
        .bind(column(tasks, |t| t.title.as_str()))
        .bind(column(tasks, |t| t.assigning_unit_id.as_str()))
        .bind(column(tasks, |t| t.assignee_unit_id.as_str()))
        .bind(column(tasks, |t| date_to_storage(t.assigned_date)))
        .bind(column(tasks, |t| date_to_storage(t.deadline)))
        .bind(column(tasks, |t| i64::from(t.status() as i32)))
        .bind(column(tasks, |t| t.completed_on.map(date_to_storage)))
        .bind(column(tasks, |t| t.last_note.as_str()))
        .bind(column(tasks, |t| t.version))
        .bind(column(tasks, |t| t.create_time_us))
        .bind(column(tasks, |t| t.update_time_us))
        .execute(&mut *connection)
        .await?;
    }
    if !writes.memberships.is_empty() {
        let memberships = &writes.memberships;
        sqlx::query(
            "INSERT INTO task_plans (task_id, plan_id) \
             SELECT * FROM UNNEST($1::text[], $2::text[])",
        )
        .bind(column(memberships, |(task, _)| task.as_str()))
        .bind(column(memberships, |(_, plan)| plan.as_str()))
        .execute(&mut *connection)
        .await?;
    }
    tasknet_auth::audit::insert_postgres(connection, &writes.audit).await?;
    Ok(cursors)
}

/// Appends the batch's changes to the log and returns their cursors, in
/// order: the rows are inserted in array order (`WITH ORDINALITY … ORDER
/// BY`), so they take ascending sequence values in that order.
async fn insert_changes(connection: &mut PgConnection, writes: &Writes) -> Result<Vec<i64>> {
    let changes = &writes.changes;
    if changes.is_empty() {
        return Ok(Vec::new());
    }
    let mut cursors: Vec<i64> = sqlx::query_scalar(
        "INSERT INTO change_log (task_id, update_id, record_time_us, payload) \
         SELECT task_id, update_id, record_time_us, payload \
         FROM UNNEST($1::text[], $2::text[], $3::bigint[], $4::bytea[]) \
         WITH ORDINALITY AS c (task_id, update_id, record_time_us, payload, position) \
         ORDER BY position RETURNING cursor",
    )
    .bind(column(changes, |c| c.task_id.as_deref()))
    .bind(column(changes, |c| c.update_id.as_deref()))
    .bind(column(changes, |c| c.record_time_us))
    .bind(column(changes, |c| c.payload.as_slice()))
    .fetch_all(&mut *connection)
    .await?;
    if cursors.len() != changes.len() {
        return Err(Error::Internal(format!(
            "change log insert returned {} cursors for {} rows",
            cursors.len(),
            changes.len(),
        )));
    }
    // RETURNING's order is not promised; the values are (the writer lock
    // keeps other writers out meanwhile).
    cursors.sort_unstable();
    Ok(cursors)
}

async fn insert_plan(connection: &mut PgConnection, plan: &PlanRecord) -> Result<()> {
    sqlx::query::<Postgres>(&format!(
        "INSERT INTO plans ({PLAN_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7)"
    ))
    .bind(&plan.id)
    .bind(&plan.name)
    .bind(i64::from(plan.kind as i32))
    .bind(&plan.owner_unit_id)
    .bind(date_to_storage(plan.period_start))
    .bind(date_to_storage(plan.period_end))
    .bind(plan.create_time_us)
    .execute(connection)
    .await?;
    Ok(())
}

struct TypedTransaction {
    /// `None` once committed.
    connection: Option<sqlx::pool::PoolConnection<Postgres>>,
}

impl TypedTransaction {
    fn connection(&mut self) -> Result<&mut PgConnection> {
        self.connection
            .as_deref_mut()
            .ok_or_else(|| Error::Internal("the batch has committed".to_owned()))
    }

    async fn read_in(&mut self, keys: &BatchKeys) -> Result<Prefetched> {
        read_keys(self.connection()?, keys).await
    }

    async fn write_in(&mut self, writes: &mut Writes) -> Result<Vec<i64>> {
        write_rows(self.connection()?, writes).await
    }

    async fn finish(mut self: Box<Self>) -> Result<()> {
        self.connection()?.execute("COMMIT").await?;
        // Committed: the connection goes back to the pool.
        self.connection.take();
        Ok(())
    }
}

impl BatchTransaction for TypedTransaction {
    fn read<'a>(&'a mut self, keys: &'a BatchKeys) -> StoreFuture<'a, Prefetched> {
        Box::pin(self.read_in(keys))
    }

    fn write<'a>(&'a mut self, writes: &'a mut Writes) -> StoreFuture<'a, Vec<i64>> {
        Box::pin(self.write_in(writes))
    }

    fn commit(self: Box<Self>) -> StoreFuture<'static, ()> {
        Box::pin(self.finish())
    }
}

impl Drop for TypedTransaction {
    /// A transaction that did not commit: its connection is closed (rolling
    /// it back), never handed to another user mid-transaction.
    fn drop(&mut self) {
        if let Some(mut connection) = self.connection.take() {
            connection.close_on_drop();
        }
    }
}
