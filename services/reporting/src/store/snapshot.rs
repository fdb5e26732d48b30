//! Reading the status index from one consistent snapshot of the read model:
//! the applied cursor and every timeline segment.
//!
//! Most of the work is the database producing some 19 M rows at 10 M tasks,
//! so the reading is shaped to give it less to do:
//! - tasks with one segment (from the beginning, open-ended) are read apart
//!   and unordered, straight into the index;
//! - the rest are read in task order (the primary key's), without their ids:
//!   each task's segments start with its segment from the beginning;
//! - on PostgreSQL both are read at once, on two connections sharing one
//!   exported snapshot (two server processes on two cores), as binary `COPY`
//!   decoded in place (no driver row, no `Any` conversion per value). SQLite
//!   reads them one after the other through `Any`, with the same queries
//!   (docs/design.md, "Typed PostgreSQL paths").
//!
//! The tasks per assigned day come first, so the index reserves its day
//! buckets exactly and holds no doubling slack at its peak.

use futures::TryStreamExt;
use futures::future::Either;
use sqlx::{AnyConnection, ColumnIndex, Connection, Decode, PgPool, Row, Type};
use tasknet_storage::copy_binary::CopyDecoder;
use tasknet_storage::{Backend, Database};

use super::index::{Diverged, SEGMENT_END, SEGMENT_START, SegmentRow, StatusIndex};

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
        Some(pool) => read_typed(pool).await,
        None => read_portable(database).await,
    }
}

const REPEATABLE_READ: &str = "SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY";
const CURSOR: &str = "SELECT applied_cursor FROM sync_state WHERE id = 1";

/// Tasks per assigned day (each has exactly one segment from the beginning).
fn per_day_sql() -> String {
    format!(
        "SELECT assigned_date, COUNT(*) FROM rpt_segments WHERE seg_from = {SEGMENT_START} \
         GROUP BY assigned_date"
    )
}

fn one_segment_sql() -> String {
    format!(
        "SELECT assignee_unit_id, assigned_date, deadline, completed_on FROM rpt_segments \
         WHERE seg_from = {SEGMENT_START} AND seg_until = {SEGMENT_END}"
    )
}

/// The other tasks' segments, each task's together and in order.
fn history_sql() -> String {
    format!(
        "SELECT seg_from, seg_until, assignee_unit_id, assigned_date, deadline, completed_on \
         FROM rpt_segments WHERE seg_from <> {SEGMENT_START} OR seg_until <> {SEGMENT_END} \
         ORDER BY task_id, seg_from"
    )
}

/// PostgreSQL: the two reads at once, on two connections in one snapshot.
async fn read_typed(pool: &PgPool) -> Result<Snapshot, sqlx::Error> {
    let mut first = pool.begin().await?;
    sqlx::query(REPEATABLE_READ).execute(&mut *first).await?;
    let exported: String = sqlx::query_scalar("SELECT pg_export_snapshot()")
        .fetch_one(&mut *first)
        .await?;
    // It cannot be a bind parameter; it is the server's own identifier.
    if !exported.chars().all(|c| c.is_ascii_hexdigit() || c == '-') {
        return Err(sqlx::Error::Protocol(format!(
            "unexpected snapshot identifier {exported:?}"
        )));
    }
    let mut second = pool.begin().await?;
    sqlx::query(REPEATABLE_READ).execute(&mut *second).await?;
    sqlx::query(&format!("SET TRANSACTION SNAPSHOT '{exported}'"))
        .execute(&mut *second)
        .await?;
    let cursor: i64 = sqlx::query_scalar(CURSOR).fetch_one(&mut *first).await?;
    let mut builder = Builder::default();
    for row in sqlx::query(&per_day_sql()).fetch_all(&mut *first).await? {
        builder.reserve(&row)?;
    }
    // Binary COPY: the server formats less than for a query's rows, and the
    // client decodes each row in place instead of building a driver row.
    let one_segment = format!("COPY ({}) TO STDOUT (FORMAT binary)", one_segment_sql());
    let history = format!("COPY ({}) TO STDOUT (FORMAT binary)", history_sql());
    let mut chunks = futures::stream::select(
        second
            .copy_out_raw(&one_segment)
            .await?
            .map_ok(Either::Left),
        first.copy_out_raw(&history).await?.map_ok(Either::Right),
    );
    let mut one_segment = CopyDecoder::default();
    let mut history = CopyDecoder::default();
    while let Some(chunk) = chunks.try_next().await? {
        match chunk {
            Either::Left(chunk) => one_segment.feed(&chunk, |tuple| {
                builder.add_one_segment_task(
                    tuple.str(0)?,
                    tuple.i64(1)?,
                    tuple.i64(2)?,
                    tuple.optional_i64(3)?,
                )
            })?,
            Either::Right(chunk) => history.feed(&chunk, |tuple| {
                builder.add_history_segment(
                    tuple.i64(0)?,
                    tuple.i64(1)?,
                    tuple.str(2)?,
                    tuple.i64(3)?,
                    tuple.i64(4)?,
                    tuple.optional_i64(5)?,
                )
            })?,
        }
    }
    drop(chunks);
    one_segment.finish()?;
    history.finish()?;
    second.rollback().await?;
    first.rollback().await?;
    builder.finish(cursor)
}

/// Reads the snapshot through the `Any` pool (SQLite's path; on PostgreSQL
/// the tests compare it with the typed one).
pub async fn read_portable(database: &Database) -> Result<Snapshot, sqlx::Error> {
    let mut connection = database.pool().acquire().await?;
    if Backend::of(&connection) == Backend::Postgres {
        return read_in_transaction(&mut connection).await;
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
    let read = read_in_transaction(&mut connection).await;
    let restore = format!("PRAGMA mmap_size = {mapped}");
    sqlx::query(&restore).execute(&mut *connection).await?;
    read
}

/// The snapshot's statements one after the other, in one transaction: one
/// snapshot on SQLite; on PostgreSQL with repeatable read, since read
/// committed would give each statement its own.
async fn read_in_transaction(connection: &mut AnyConnection) -> Result<Snapshot, sqlx::Error> {
    let mut tx = connection.begin().await?;
    if Backend::of(&tx) == Backend::Postgres {
        sqlx::query(REPEATABLE_READ).execute(&mut *tx).await?;
    }
    let cursor: i64 = sqlx::query(CURSOR).fetch_one(&mut *tx).await?.try_get(0)?;
    let mut builder = Builder::default();
    for row in sqlx::query(&per_day_sql()).fetch_all(&mut *tx).await? {
        builder.reserve(&row)?;
    }
    let one_segment = one_segment_sql();
    let mut rows = sqlx::query(&one_segment).fetch(&mut *tx);
    while let Some(row) = rows.try_next().await? {
        builder.add_one_segment_task(
            row.try_get(0)?,
            row.try_get(1)?,
            row.try_get(2)?,
            row.try_get(3)?,
        )?;
    }
    drop(rows);
    let history = history_sql();
    let mut rows = sqlx::query(&history).fetch(&mut *tx);
    while let Some(row) = rows.try_next().await? {
        builder.add_history_segment(
            row.try_get(0)?,
            row.try_get(1)?,
            row.try_get(2)?,
            row.try_get(3)?,
            row.try_get(4)?,
            row.try_get(5)?,
        )?;
    }
    drop(rows);
    tx.rollback().await?;
    builder.finish(cursor)
}

/// The index as the rows arrive.
#[derive(Default)]
struct Builder {
    index: StatusIndex,
    tasks: usize,
    /// The segments of the task with a history being read: the first
    /// `len`, the rest kept for their allocations (a load reads millions).
    segments: Vec<SegmentRow>,
    len: usize,
}

fn corrupt(_: Diverged) -> sqlx::Error {
    sqlx::Error::Protocol("a unit dictionary beyond 65 535 units".into())
}

impl Builder {
    /// Room for a day's tasks, from a `per_day_sql` row (either driver's):
    /// a load then leaves no doubling slack behind.
    fn reserve<R>(&mut self, row: &R) -> Result<(), sqlx::Error>
    where
        R: Row,
        usize: ColumnIndex<R>,
        i64: Type<R::Database> + for<'r> Decode<'r, R::Database>,
    {
        let count: i64 = row.try_get(1)?;
        self.index
            .reserve(row.try_get(0)?, usize::try_from(count).unwrap_or(0));
        Ok(())
    }

    fn add_one_segment_task(
        &mut self,
        unit: &str,
        assigned: i64,
        deadline: i64,
        completed: Option<i64>,
    ) -> Result<(), sqlx::Error> {
        self.index
            .add_one_segment_task(unit, assigned, deadline, completed)
            .map_err(corrupt)?;
        self.tasks += 1;
        Ok(())
    }

    /// One segment of a task with a history: one from the beginning starts
    /// the next task.
    fn add_history_segment(
        &mut self,
        from: i64,
        until: i64,
        unit: &str,
        assigned: i64,
        deadline: i64,
        completed: Option<i64>,
    ) -> Result<(), sqlx::Error> {
        if from == SEGMENT_START {
            self.end_task()?;
        }
        match self.segments.get_mut(self.len) {
            Some(segment) => {
                segment.from = from;
                segment.until = until;
                segment.unit.clear();
                segment.unit.push_str(unit);
                segment.assigned = assigned;
                segment.deadline = deadline;
                segment.completed = completed;
            }
            None => self.segments.push(SegmentRow {
                from,
                until,
                unit: unit.to_owned(),
                assigned,
                deadline,
                completed,
            }),
        }
        self.len += 1;
        Ok(())
    }

    fn end_task(&mut self) -> Result<(), sqlx::Error> {
        if self.len > 0 {
            self.index
                .add_task(&self.segments[..self.len])
                .map_err(corrupt)?;
            self.len = 0;
            self.tasks += 1;
        }
        Ok(())
    }

    fn finish(mut self, cursor: i64) -> Result<Snapshot, sqlx::Error> {
        self.end_task()?;
        self.index.shrink();
        Ok(Snapshot {
            index: self.index,
            cursor,
            tasks: self.tasks,
        })
    }
}
