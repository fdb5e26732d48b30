//! Bulk-loading the read model (the `bulk-load` feature, for benchmarks):
//! millions of tasks written straight into `rpt_tasks` and `rpt_segments`
//! as the change-log follower would have stored them, with COPY
//! (PostgreSQL) or multi-row INSERTs (SQLite) in one transaction, the
//! breakdown index built once at the end. The tables stay this crate's:
//! a tool hands over tasks, never rows.

use std::fmt::Write as _;

use chrono::NaiveDate;
use sqlx::{Connection, PgConnection, SqliteConnection};
use tasknet_domain::{TaskTimeline, date_to_storage};
use tasknet_storage::Backend;

use crate::store::{SEGMENT_END, SEGMENT_START};

/// A task as the read model stores it: no reassignments, no title.
#[derive(Debug, Clone)]
pub struct BulkTask<'a> {
    pub task_id: String,
    pub assignee_unit_id: &'a str,
    pub assigned: NaiveDate,
    pub timeline: TaskTimeline,
}

/// A value of a loaded row.
pub enum Value<'a> {
    Int(Option<i64>),
    /// Generated ids and codes only: written unquoted and unescaped.
    Text(&'a str),
}

/// Rows of one table, written as COPY text (PostgreSQL) or as a
/// multi-row INSERT (SQLite).
pub struct TableWriter {
    backend: Backend,
    buffer: String,
    rows: usize,
}

impl TableWriter {
    pub fn row(&mut self, values: &[Value<'_>]) {
        let sqlite = self.backend == Backend::Sqlite;
        if sqlite {
            self.buffer
                .push_str(if self.rows == 0 { " VALUES (" } else { ",(" });
        }
        for (i, value) in values.iter().enumerate() {
            if i > 0 {
                self.buffer.push(if sqlite { ',' } else { '\t' });
            }
            // Writing to a String cannot fail; texts are generated ids (no quotes).
            let _ = match value {
                Value::Int(Some(v)) => write!(self.buffer, "{v}"),
                Value::Int(None) => write!(self.buffer, "{}", if sqlite { "NULL" } else { "\\N" }),
                Value::Text(t) if sqlite => write!(self.buffer, "'{t}'"),
                Value::Text(t) => write!(self.buffer, "{t}"),
            };
        }
        self.buffer.push(if sqlite { ')' } else { '\n' });
        self.rows += 1;
    }
}

/// A connection loading rows in bulk, in one transaction until [`Loader::commit`].
pub enum Loader {
    Postgres(PgConnection),
    Sqlite(SqliteConnection),
}

impl Loader {
    /// Connects to the reporting database at `url` (on PostgreSQL, a URL
    /// whose search path is the service's schema).
    pub async fn connect(backend: Backend, url: &str) -> anyhow::Result<Self> {
        Ok(match backend {
            Backend::Postgres => Self::Postgres(PgConnection::connect(url).await?),
            Backend::Sqlite => {
                let mut connection = SqliteConnection::connect(url).await?;
                // A benchmark data set: nothing to lose in a crash.
                sqlx::raw_sql("PRAGMA synchronous = OFF; BEGIN")
                    .execute(&mut connection)
                    .await?;
                Self::Sqlite(connection)
            }
        })
    }

    pub fn backend(&self) -> Backend {
        match self {
            Self::Postgres(_) => Backend::Postgres,
            Self::Sqlite(_) => Backend::Sqlite,
        }
    }

    pub async fn execute(&mut self, sql: &str) -> anyhow::Result<()> {
        match self {
            Self::Postgres(c) => {
                sqlx::raw_sql(sql).execute(c).await?;
            }
            Self::Sqlite(c) => {
                sqlx::raw_sql(sql).execute(c).await?;
            }
        }
        Ok(())
    }

    /// Loads `table` (`columns`) with the rows `fill` writes for each item.
    pub async fn load<T>(
        &mut self,
        table: &str,
        columns: &str,
        items: impl Iterator<Item = T>,
        fill: impl Fn(&T, &mut TableWriter),
    ) -> anyhow::Result<()> {
        match self {
            Self::Postgres(connection) => {
                let mut writer = TableWriter {
                    backend: Backend::Postgres,
                    buffer: String::new(),
                    rows: 0,
                };
                let sql = format!("COPY {table} ({columns}) FROM STDIN");
                let mut copy = connection.copy_in_raw(&sql).await?;
                for item in items {
                    fill(&item, &mut writer);
                    if writer.buffer.len() >= 1 << 20 {
                        copy.send(writer.buffer.as_bytes()).await?;
                        writer.buffer.clear();
                    }
                }
                copy.send(writer.buffer.as_bytes()).await?;
                copy.finish().await?;
            }
            Self::Sqlite(connection) => {
                let head = format!("INSERT INTO {table} ({columns})");
                let mut writer = TableWriter {
                    backend: Backend::Sqlite,
                    buffer: head.clone(),
                    rows: 0,
                };
                for item in items {
                    fill(&item, &mut writer);
                    if writer.rows >= 2000 {
                        sqlx::raw_sql(&writer.buffer)
                            .execute(&mut *connection)
                            .await?;
                        writer.buffer.clone_from(&head);
                        writer.rows = 0;
                    }
                }
                if writer.rows > 0 {
                    sqlx::raw_sql(&writer.buffer)
                        .execute(&mut *connection)
                        .await?;
                }
            }
        }
        Ok(())
    }

    pub async fn commit(self) -> anyhow::Result<()> {
        match self {
            Self::Postgres(c) => c.close().await?,
            Self::Sqlite(mut c) => {
                sqlx::raw_sql("COMMIT").execute(&mut c).await?;
                c.close().await?;
            }
        }
        Ok(())
    }
}

/// Writes `tasks()` (called once per table, the same tasks each time) into
/// the migrated, empty read model; returns how many segments were stored.
pub async fn load_read_model<'a, I>(
    loader: &mut Loader,
    tasks: impl Fn() -> I,
) -> anyhow::Result<u64>
where
    I: Iterator<Item = BulkTask<'a>>,
{
    use anyhow::Context;
    // Built after the load: one sort instead of millions of index inserts.
    loader.execute("DROP INDEX rpt_segments_breakdown").await?;
    let date = |d: NaiveDate| Value::Int(Some(date_to_storage(d)));
    loader
        .load(
            "rpt_tasks",
            "task_id, assignee_unit_id, assigned_date, initial_deadline, title",
            tasks(),
            |task, w| {
                w.row(&[
                    Value::Text(&task.task_id),
                    Value::Text(task.assignee_unit_id),
                    date(task.assigned),
                    date(task.timeline.initial_deadline),
                    Value::Text(""),
                ]);
            },
        )
        .await
        .context("loading rpt_tasks")?;
    let segments = std::cell::Cell::new(0_u64);
    loader
        .load(
            "rpt_segments",
            "task_id, seg_from, seg_until, assignee_unit_id, assigned_date, deadline, completed_on",
            tasks(),
            |task, w| {
                for segment in task.timeline.segments() {
                    w.row(&[
                        Value::Text(&task.task_id),
                        Value::Int(Some(segment.from.map_or(SEGMENT_START, date_to_storage))),
                        Value::Int(Some(segment.until.map_or(SEGMENT_END, date_to_storage))),
                        Value::Text(task.assignee_unit_id),
                        date(task.assigned),
                        date(segment.state.deadline),
                        Value::Int(segment.state.completed_on.map(date_to_storage)),
                    ]);
                    segments.set(segments.get() + 1);
                }
            },
        )
        .await
        .context("loading rpt_segments")?;
    loader
        .execute(
            "CREATE INDEX rpt_segments_breakdown ON rpt_segments \
             (assigned_date, seg_from, seg_until, assignee_unit_id, deadline, completed_on)",
        )
        .await?;
    if loader.backend() == Backend::Postgres {
        loader
            .execute("ANALYZE rpt_tasks; ANALYZE rpt_segments")
            .await?;
    }
    Ok(segments.get())
}
