//! The reports benchmark's data set: deterministic tasks over 2024–2025
//! (ChaCha8, fixed seed) on the organisation service's reference units,
//! bulk-loaded into a reporting database (`rpt_tasks`, `rpt_segments`) and,
//! the same tasks, into a plain `naive_tasks` table a dashboard would query.

use std::fmt::Write as _;

use anyhow::Context;
use chrono::NaiveDate;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use sqlx::{Connection, PgConnection, SqliteConnection};
use tasknet_domain::{TaskTimeline, TimelineEvent, date_to_storage};
use tasknet_storage::Backend;

const SEED: u64 = 0x7a5c_2026;
/// As in apply.rs: "from the beginning" and "open-ended".
const SEGMENT_START: i64 = 0;
const SEGMENT_END: i64 = 99_991_231;

/// A unit tasks are assigned to, with its breakdown keys.
#[derive(Debug, Clone)]
pub struct Unit {
    pub id: String,
    pub category_key: String,
    pub region_key: String,
    pub provincial: bool,
}

/// One generated task; at most one deadline extension, one completion, one
/// reopening and one completion after it, in that order of effective dates
/// (so a flat row describes its whole history).
#[derive(Debug, Clone)]
pub struct Task {
    pub number: u64,
    pub unit: usize,
    pub assigned: NaiveDate,
    pub deadline: NaiveDate,
    pub extension: Option<(NaiveDate, NaiveDate)>,
    pub completed: Option<NaiveDate>,
    pub reopened: Option<NaiveDate>,
    pub recompleted: Option<NaiveDate>,
}

fn plus(date: NaiveDate, days: i64) -> NaiveDate {
    date + chrono::Duration::days(days)
}

/// The `count` tasks, always the same for the same units and count.
pub fn tasks(count: u64, units: &[Unit]) -> impl Iterator<Item = Task> + '_ {
    let mut rng = ChaCha8Rng::seed_from_u64(SEED);
    let provincial: Vec<usize> = (0..units.len()).filter(|i| units[*i].provincial).collect();
    let first = NaiveDate::from_ymd_opt(2024, 1, 1).unwrap_or_default();
    (0..count).map(move |number| {
        // Provincial offices carry most of the work.
        let unit = if !provincial.is_empty() && rng.random_bool(0.7) {
            provincial[rng.random_range(0..provincial.len())]
        } else {
            rng.random_range(0..units.len())
        };
        let assigned = plus(first, rng.random_range(0..731));
        let deadline = plus(assigned, rng.random_range(7..120));
        let span = (deadline - assigned).num_days();
        let extension = rng.random_bool(0.05).then(|| {
            let on = plus(assigned, rng.random_range(1..=span));
            (on, plus(deadline, rng.random_range(15..60)))
        });
        let after = extension.map_or(assigned, |(on, _)| on);
        let completed = rng
            .random_bool(0.75)
            .then(|| plus(after, rng.random_range(1..span + 60)));
        let reopened = completed
            .filter(|_| rng.random_bool(0.06))
            .map(|on| plus(on, rng.random_range(1..30)));
        let recompleted = reopened
            .filter(|_| rng.random_bool(0.5))
            .map(|on| plus(on, rng.random_range(1..40)));
        Task {
            number,
            unit,
            assigned,
            deadline,
            extension,
            completed,
            reopened,
            recompleted,
        }
    })
}

impl Task {
    pub fn id(&self) -> String {
        let n = self.number;
        format!(
            "0190b000-{:04x}-7000-8000-{:012x}",
            (n >> 48) & 0xffff,
            n & 0xffff_ffff_ffff
        )
    }

    /// Its segments as the reporting follower would store them (the
    /// domain's timeline; no reassignments).
    fn segments(&self) -> Vec<[Option<i64>; 4]> {
        let mut events = Vec::new();
        if let Some((effective, deadline)) = self.extension {
            events.push(TimelineEvent::DeadlineChanged {
                effective,
                deadline,
            });
        }
        if let Some(effective) = self.completed {
            events.push(TimelineEvent::Completed { effective });
        }
        if let Some(effective) = self.reopened {
            events.push(TimelineEvent::Reopened { effective });
        }
        if let Some(effective) = self.recompleted {
            events.push(TimelineEvent::Completed { effective });
        }
        let timeline = TaskTimeline {
            initial_deadline: self.deadline,
            events,
        };
        timeline
            .segments()
            .iter()
            .map(|segment| {
                [
                    Some(segment.from.map_or(SEGMENT_START, date_to_storage)),
                    Some(segment.until.map_or(SEGMENT_END, date_to_storage)),
                    Some(date_to_storage(segment.state.deadline)),
                    segment.state.completed_on.map(date_to_storage),
                ]
            })
            .collect()
    }
}

/// A value of a loaded row.
enum Value<'a> {
    Int(Option<i64>),
    Text(&'a str),
}

/// Rows of one table, written as COPY text (PostgreSQL) or as a
/// multi-row INSERT (SQLite).
struct TableWriter {
    backend: Backend,
    buffer: String,
    rows: usize,
}

impl TableWriter {
    fn row(&mut self, values: &[Value<'_>]) {
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

/// A connection loading rows in bulk.
pub enum Loader {
    Postgres(PgConnection),
    Sqlite(SqliteConnection),
}

impl Loader {
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

    /// Loads `table` (`columns`) with the rows `fill` writes for each task.
    async fn load(
        &mut self,
        table: &str,
        columns: &str,
        count: u64,
        units: &[Unit],
        fill: impl Fn(&Task, &Unit, &mut TableWriter),
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
                for task in tasks(count, units) {
                    fill(&task, &units[task.unit], &mut writer);
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
                for task in tasks(count, units) {
                    fill(&task, &units[task.unit], &mut writer);
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

/// The plain table a dashboard would query: one row per task, its history
/// in columns.
const NAIVE_TABLE: &str = "CREATE TABLE naive_tasks (id TEXT NOT NULL, \
    assignee_unit_id TEXT NOT NULL, assigned_date BIGINT NOT NULL, deadline BIGINT NOT NULL, \
    extended_on BIGINT, extended_deadline BIGINT, completed_on BIGINT, reopened_on BIGINT, \
    recompleted_on BIGINT)";

/// Loads the data set into a migrated reporting database at `url`.
pub async fn load(backend: Backend, url: &str, count: u64, units: &[Unit]) -> anyhow::Result<()> {
    let mut loader = Loader::connect(backend, url)
        .await
        .context("failed to connect for the bulk load")?;
    // Built after the load: one sort instead of millions of index inserts.
    loader.execute("DROP INDEX rpt_segments_breakdown").await?;
    loader.execute(NAIVE_TABLE).await?;
    let date = |d: NaiveDate| Value::Int(Some(date_to_storage(d)));
    let opt = |d: Option<NaiveDate>| Value::Int(d.map(date_to_storage));
    loader
        .load(
            "rpt_tasks",
            "task_id, assignee_unit_id, assigned_date, initial_deadline, title",
            count,
            units,
            |task, unit, w| {
                let id = task.id();
                w.row(&[
                    Value::Text(&id),
                    Value::Text(&unit.id),
                    date(task.assigned),
                    date(task.deadline),
                    Value::Text(""),
                ]);
            },
        )
        .await
        .context("loading rpt_tasks")?;
    loader
        .load(
            "rpt_segments",
            "task_id, seg_from, seg_until, assignee_unit_id, assigned_date, deadline, completed_on",
            count,
            units,
            |task, unit, w| {
                let id = task.id();
                for [from, until, deadline, completed] in task.segments() {
                    w.row(&[
                        Value::Text(&id),
                        Value::Int(from),
                        Value::Int(until),
                        Value::Text(&unit.id),
                        date(task.assigned),
                        Value::Int(deadline),
                        Value::Int(completed),
                    ]);
                }
            },
        )
        .await
        .context("loading rpt_segments")?;
    loader
        .load(
            "naive_tasks",
            "id, assignee_unit_id, assigned_date, deadline, extended_on, extended_deadline, \
             completed_on, reopened_on, recompleted_on",
            count,
            units,
            |task, unit, w| {
                let id = task.id();
                w.row(&[
                    Value::Text(&id),
                    Value::Text(&unit.id),
                    date(task.assigned),
                    date(task.deadline),
                    opt(task.extension.map(|(on, _)| on)),
                    opt(task.extension.map(|(_, deadline)| deadline)),
                    opt(task.completed),
                    opt(task.reopened),
                    opt(task.recompleted),
                ]);
            },
        )
        .await
        .context("loading naive_tasks")?;
    loader
        .execute(
            "CREATE INDEX rpt_segments_breakdown ON rpt_segments \
             (assigned_date, seg_from, seg_until, assignee_unit_id, deadline, completed_on)",
        )
        .await?;
    // What a dashboard's DBA would add for date-range reports.
    loader
        .execute("CREATE INDEX naive_tasks_assigned ON naive_tasks (assigned_date)")
        .await?;
    if backend == Backend::Postgres {
        loader
            .execute("ANALYZE rpt_tasks; ANALYZE rpt_segments; ANALYZE naive_tasks")
            .await?;
    }
    loader.commit().await
}

/// The naive dashboard query: one statement, GROUP BY unit and period, the
/// state as of each period's as-of day worked out with CASE on the dates.
/// Dates are yyyymmdd; `current`/`previous` are (start, end, as_of) with end
/// already capped at as_of.
pub fn naive_sql(current: (i64, i64, i64), previous: (i64, i64, i64)) -> String {
    let (cs, ce, ca) = current;
    let (ps, pe, pa) = previous;
    format!(
        "SELECT assignee_unit_id, p, \
           COUNT(CASE WHEN c IS NOT NULL AND c <= d THEN 1 END), \
           COUNT(CASE WHEN c IS NOT NULL AND c > d THEN 1 END), \
           COUNT(CASE WHEN c IS NULL AND d >= a THEN 1 END), \
           COUNT(CASE WHEN c IS NULL AND d < a THEN 1 END) \
         FROM (SELECT assignee_unit_id, p, a, \
                 CASE WHEN extended_on IS NOT NULL AND extended_on <= a \
                      THEN extended_deadline ELSE deadline END AS d, \
                 CASE WHEN recompleted_on IS NOT NULL AND recompleted_on <= a THEN recompleted_on \
                      WHEN reopened_on IS NOT NULL AND reopened_on <= a THEN NULL \
                      WHEN completed_on IS NOT NULL AND completed_on <= a THEN completed_on END AS c \
               FROM (SELECT *, \
                       CASE WHEN assigned_date >= {cs} THEN 0 ELSE 1 END AS p, \
                       CASE WHEN assigned_date >= {cs} THEN {ca} ELSE {pa} END AS a \
                     FROM naive_tasks \
                     WHERE (assigned_date >= {cs} AND assigned_date <= {ce}) \
                        OR (assigned_date >= {ps} AND assigned_date <= {pe})) AS t) AS s \
         GROUP BY assignee_unit_id, p"
    )
}
