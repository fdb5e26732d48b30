//! Reading the status index from one consistent snapshot of the read model:
//! the applied cursor and every timeline segment. On PostgreSQL through the
//! native driver (typed rows, no `Any` conversion per value); on SQLite
//! through `Any`. The same query code serves both (generic over the driver).
//!
//! Most tasks have one segment, from the beginning and open-ended. Those rows
//! are read apart and unordered, straight into the index; only the rest are
//! read ordered by task (so a task's segments arrive together), which keeps
//! the database's sort to the few tasks with a history (docs/design.md,
//! "Typed PostgreSQL paths").

use futures::TryStreamExt;
use sqlx::{ColumnIndex, Decode, Executor, IntoArguments, Row, Type};
use tasknet_storage::{Backend, Database};

use super::index::{SEGMENT_END, SEGMENT_START, SegmentRow, StatusIndex};

/// What one snapshot holds.
pub struct Snapshot {
    pub index: StatusIndex,
    /// The read model's applied cursor in the same snapshot.
    pub cursor: i64,
    pub tasks: usize,
}

/// Reads the snapshot, typed where the database allows.
pub async fn read(database: &Database) -> Result<Snapshot, sqlx::Error> {
    match database.postgres_pool() {
        Some(pool) => {
            let mut connection = pool.acquire().await?;
            read_repeatable::<sqlx::Postgres>(&mut connection).await
        }
        None => read_portable(database).await,
    }
}

/// Reads the snapshot through the `Any` pool (SQLite's path; on PostgreSQL
/// the tests compare it with the typed one).
pub async fn read_portable(database: &Database) -> Result<Snapshot, sqlx::Error> {
    use sqlx::Connection;
    let mut connection = database.pool().acquire().await?;
    if Backend::of(&connection) == Backend::Postgres {
        return read_repeatable::<sqlx::Any>(&mut connection).await;
    }
    // SQLite maps the database file into the process: a scan of every
    // segment through the map would show the whole file in the service's
    // RSS. Read through the (bounded) page cache instead, then map again.
    let row = sqlx::query("PRAGMA mmap_size")
        .fetch_optional(&mut *connection)
        .await?;
    let mapped: i64 = row.map(|row| row.try_get(0)).transpose()?.unwrap_or(0);
    sqlx::query("PRAGMA mmap_size = 0")
        .execute(&mut *connection)
        .await?;
    let read = async {
        // One transaction: SQLite's reads in it see one snapshot.
        let mut tx = connection.begin().await?;
        let snapshot = read_on::<sqlx::Any>(&mut tx).await?;
        tx.rollback().await?;
        Ok(snapshot)
    }
    .await;
    let restore = format!("PRAGMA mmap_size = {mapped}");
    sqlx::query(&restore).execute(&mut *connection).await?;
    read
}

/// The snapshot in a PostgreSQL transaction of its own: read committed
/// would give each statement its own snapshot.
async fn read_repeatable<DB>(connection: &mut DB::Connection) -> Result<Snapshot, sqlx::Error>
where
    DB: sqlx::Database,
    for<'e> &'e mut DB::Connection: Executor<'e, Database = DB>,
    for<'q> DB::Arguments<'q>: IntoArguments<'q, DB>,
    i64: Type<DB> + for<'r> Decode<'r, DB>,
    for<'r> &'r str: Type<DB> + Decode<'r, DB>,
    usize: ColumnIndex<DB::Row>,
{
    let mut tx = sqlx::Connection::begin(connection).await?;
    sqlx::query::<DB>("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
        .execute(&mut *tx)
        .await?;
    let snapshot = read_on::<DB>(&mut tx).await?;
    tx.rollback().await?;
    Ok(snapshot)
}

/// The snapshot's statements, on a connection already in a transaction
/// that gives them all one snapshot.
async fn read_on<DB>(connection: &mut DB::Connection) -> Result<Snapshot, sqlx::Error>
where
    DB: sqlx::Database,
    for<'e> &'e mut DB::Connection: Executor<'e, Database = DB>,
    for<'q> DB::Arguments<'q>: IntoArguments<'q, DB>,
    i64: Type<DB> + for<'r> Decode<'r, DB>,
    for<'r> &'r str: Type<DB> + Decode<'r, DB>,
    usize: ColumnIndex<DB::Row>,
{
    let corrupt = |_| sqlx::Error::Protocol("a unit dictionary beyond 65 535 units".into());
    let cursor: i64 = sqlx::query::<DB>("SELECT applied_cursor FROM sync_state WHERE id = 1")
        .fetch_one(&mut *connection)
        .await?
        .try_get(0)?;
    let mut index = StatusIndex::default();
    // Every task has exactly one segment from the beginning: reserving that
    // many entries per day avoids the slack of growing vectors.
    let per_day = sqlx::query::<DB>(&format!(
        "SELECT assigned_date, COUNT(*) FROM rpt_segments WHERE seg_from = {SEGMENT_START} \
         GROUP BY assigned_date"
    ))
    .fetch_all(&mut *connection)
    .await?;
    for row in per_day {
        let count: i64 = row.try_get(1)?;
        index.reserve(row.try_get(0)?, usize::try_from(count).unwrap_or(0));
    }
    let mut tasks = 0;
    let one_segment = format!(
        "SELECT assignee_unit_id, assigned_date, deadline, completed_on FROM rpt_segments \
         WHERE seg_from = {SEGMENT_START} AND seg_until = {SEGMENT_END}"
    );
    let mut rows = sqlx::query::<DB>(&one_segment).fetch(&mut *connection);
    while let Some(row) = rows.try_next().await? {
        let unit: &str = row.try_get(0)?;
        index
            .add_one_segment_task(unit, row.try_get(1)?, row.try_get(2)?, row.try_get(3)?)
            .map_err(corrupt)?;
        tasks += 1;
    }
    drop(rows);
    let with_history = format!(
        "SELECT task_id, seg_from, seg_until, assignee_unit_id, assigned_date, deadline, \
         completed_on FROM rpt_segments \
         WHERE seg_from <> {SEGMENT_START} OR seg_until <> {SEGMENT_END} \
         ORDER BY task_id, seg_from"
    );
    let mut rows = sqlx::query::<DB>(&with_history).fetch(&mut *connection);
    let mut current = String::new();
    let mut segments: Vec<SegmentRow> = Vec::new();
    while let Some(row) = rows.try_next().await? {
        let task: &str = row.try_get(0)?;
        if task != current {
            index.add_task(&segments).map_err(corrupt)?;
            segments.clear();
            current.clear();
            current.push_str(task);
            tasks += 1;
        }
        segments.push(SegmentRow {
            from: row.try_get(1)?,
            until: row.try_get(2)?,
            unit: row.try_get::<&str, _>(3)?.to_owned(),
            assigned: row.try_get(4)?,
            deadline: row.try_get(5)?,
            completed: row.try_get(6)?,
        });
    }
    drop(rows);
    index.add_task(&segments).map_err(corrupt)?;
    index.shrink();
    Ok(Snapshot {
        index,
        cursor,
        tasks,
    })
}
