//! The task database: SQL written once for SQLite and PostgreSQL (see
//! docs/design.md, "Storage conventions"). `batch` holds the writer's reads
//! and writes, `query` the reads behind the RPCs and the change feed,
//! `reassign` the reads behind a reorganisation's transfer of tasks.

pub mod batch;
pub mod query;
pub mod reassign;

use std::collections::HashMap;
use std::fmt::Write;

use sqlx::any::{AnyArguments, AnyRow};
use sqlx::query::Query;
use sqlx::{Any, AnyConnection, Row};
use tasknet_domain::date_from_storage;
use tasknet_proto::v1;
use tasknet_storage::Backend;

use crate::error::{Error, Result};
use crate::model::{PlanRecord, TaskState};

pub static SQLITE: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");
pub static POSTGRES: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

/// The task service's migrations for `tasknet_storage::Database::open`.
pub const MIGRATIONS: tasknet_storage::Migrations = tasknet_storage::Migrations {
    sqlite: &SQLITE,
    postgres: &POSTGRES,
};

/// Ids per `IN (…)` list: well under both back ends' parameter limits.
const IN_LIST_CHUNK: usize = 500;

const TASK_COLUMNS: &str = "id, title, assigning_unit_id, assignee_unit_id, assigned_date, \
    deadline, status, completed_on, last_note, version, create_time_us, update_time_us";

const PLAN_COLUMNS: &str =
    "id, name, kind, owner_unit_id, period_start, period_end, create_time_us";

/// A bind value of a query assembled at run time.
#[derive(Debug, Clone)]
pub enum Arg {
    Int(i64),
    Text(String),
    OptionalInt(Option<i64>),
    OptionalText(Option<String>),
    Bytes(Vec<u8>),
}

/// SQL text with placeholders, built in order: `$1, $2, …` for PostgreSQL
/// and, beside it, the same text with anonymous `?` for SQLite (see
/// `tasknet_storage::placeholders` for why SQLite gets those).
#[derive(Debug, Default)]
pub struct Sql {
    text: String,
    sqlite_text: String,
    args: Vec<Arg>,
}

impl Sql {
    pub fn new(text: &str) -> Self {
        Self {
            text: text.to_owned(),
            sqlite_text: text.to_owned(),
            args: Vec::new(),
        }
    }

    pub fn push(&mut self, text: &str) -> &mut Self {
        self.text.push_str(text);
        self.sqlite_text.push_str(text);
        self
    }

    /// Appends a placeholder bound to `arg`.
    pub fn arg(&mut self, arg: Arg) -> &mut Self {
        self.args.push(arg);
        // Writing to a String cannot fail.
        let _ = write!(self.text, "${}", self.args.len());
        self.sqlite_text.push('?');
        self
    }

    /// Appends `(p1, p2, …)` bound to `args`, after a comma unless it is the first row.
    pub fn row(&mut self, first: bool, args: impl IntoIterator<Item = Arg>) -> &mut Self {
        if !first {
            self.push(", ");
        }
        self.list(args)
    }

    /// Appends `(p1, p2, …)` bound to `args`.
    pub fn list(&mut self, args: impl IntoIterator<Item = Arg>) -> &mut Self {
        self.push("(");
        for (i, arg) in args.into_iter().enumerate() {
            if i > 0 {
                self.push(", ");
            }
            self.arg(arg);
        }
        self.push(")");
        self
    }

    /// The statement with its values bound, for the back end `connection`
    /// talks to.
    pub fn query(&self, connection: &AnyConnection) -> Query<'_, Any, AnyArguments<'_>> {
        self.bind(match Backend::of(connection) {
            Backend::Sqlite => &self.sqlite_text,
            Backend::Postgres => &self.text,
        })
    }

    /// The statement with `$n` placeholders, which both back ends accept:
    /// for statements with a few values, run on a pool.
    pub fn numbered(&self) -> Query<'_, Any, AnyArguments<'_>> {
        self.bind(&self.text)
    }

    fn bind<'q>(&'q self, text: &'q str) -> Query<'q, Any, AnyArguments<'q>> {
        self.args
            .iter()
            .fold(sqlx::query(text), |query, arg| match arg {
                Arg::Int(value) => query.bind(*value),
                Arg::Text(value) => query.bind(value.as_str()),
                Arg::OptionalInt(value) => query.bind(*value),
                Arg::OptionalText(value) => query.bind(value.as_deref()),
                Arg::Bytes(value) => query.bind(value.as_slice()),
            })
    }
}

fn text_args(ids: &[String]) -> impl Iterator<Item = Arg> + '_ {
    ids.iter().map(|id| Arg::Text(id.clone()))
}

fn storage_date(row: &AnyRow, column: &str) -> Result<chrono::NaiveDate> {
    let value: i64 = row.try_get(column)?;
    date_from_storage(value)
        .ok_or_else(|| Error::Internal(format!("stored {column} {value} is not a date")))
}

/// A `tasks` row, without plan memberships.
fn task_from_row(row: &AnyRow) -> Result<TaskState> {
    let completed_on = row
        .try_get::<Option<i64>, _>("completed_on")?
        .map(|value| {
            date_from_storage(value).ok_or_else(|| {
                Error::Internal(format!("stored completed_on {value} is not a date"))
            })
        })
        .transpose()?;
    Ok(TaskState {
        id: row.try_get("id")?,
        title: row.try_get("title")?,
        assigning_unit_id: row.try_get("assigning_unit_id")?,
        assignee_unit_id: row.try_get("assignee_unit_id")?,
        assigned_date: storage_date(row, "assigned_date")?,
        deadline: storage_date(row, "deadline")?,
        plan_ids: Vec::new(),
        completed_on,
        last_note: row.try_get("last_note")?,
        version: row.try_get("version")?,
        create_time_us: row.try_get("create_time_us")?,
        update_time_us: row.try_get("update_time_us")?,
    })
}

fn plan_from_row(row: &AnyRow) -> Result<PlanRecord> {
    let kind: i64 = row.try_get("kind")?;
    let kind = i32::try_from(kind)
        .ok()
        .and_then(|kind| v1::PlanKind::try_from(kind).ok())
        .ok_or_else(|| Error::Internal(format!("stored plan kind {kind} is unknown")))?;
    Ok(PlanRecord {
        id: row.try_get("id")?,
        name: row.try_get("name")?,
        kind,
        owner_unit_id: row.try_get("owner_unit_id")?,
        period_start: storage_date(row, "period_start")?,
        period_end: storage_date(row, "period_end")?,
        create_time_us: row.try_get("create_time_us")?,
    })
}

/// The tasks with these ids that exist, with their plan memberships.
pub async fn load_tasks(
    connection: &mut AnyConnection,
    ids: &[String],
) -> Result<HashMap<String, TaskState>> {
    let mut tasks = HashMap::with_capacity(ids.len());
    for chunk in ids.chunks(IN_LIST_CHUNK) {
        let mut sql = Sql::new(&format!("SELECT {TASK_COLUMNS} FROM tasks WHERE id IN "));
        sql.list(text_args(chunk));
        for row in sql.query(connection).fetch_all(&mut *connection).await? {
            let task = task_from_row(&row)?;
            tasks.insert(task.id.clone(), task);
        }
    }
    let found: Vec<String> = tasks.keys().cloned().collect();
    for (task_id, plan_ids) in load_memberships(connection, &found).await? {
        if let Some(task) = tasks.get_mut(&task_id) {
            task.plan_ids = plan_ids;
        }
    }
    Ok(tasks)
}

/// Plan ids per task, sorted.
pub async fn load_memberships(
    connection: &mut AnyConnection,
    task_ids: &[String],
) -> Result<HashMap<String, Vec<String>>> {
    let mut memberships: HashMap<String, Vec<String>> = HashMap::new();
    for chunk in task_ids.chunks(IN_LIST_CHUNK) {
        let mut sql = Sql::new("SELECT task_id, plan_id FROM task_plans WHERE task_id IN ");
        sql.list(text_args(chunk))
            .push(" ORDER BY task_id, plan_id");
        for row in sql.query(connection).fetch_all(&mut *connection).await? {
            memberships
                .entry(row.try_get("task_id")?)
                .or_default()
                .push(row.try_get("plan_id")?);
        }
    }
    Ok(memberships)
}

/// The plans with these ids that exist.
pub async fn load_plans(
    connection: &mut AnyConnection,
    ids: &[String],
) -> Result<HashMap<String, PlanRecord>> {
    let mut plans = HashMap::with_capacity(ids.len());
    for chunk in ids.chunks(IN_LIST_CHUNK) {
        let mut sql = Sql::new(&format!("SELECT {PLAN_COLUMNS} FROM plans WHERE id IN "));
        sql.list(text_args(chunk));
        for row in sql.query(connection).fetch_all(&mut *connection).await? {
            let plan = plan_from_row(&row)?;
            plans.insert(plan.id.clone(), plan);
        }
    }
    Ok(plans)
}

/// The histories of these tasks, read back from their change-log entries in
/// cursor (arrival) order: what the writer folds and checks a new change
/// against. Tasks without a readable creation entry are absent.
pub async fn load_histories(
    connection: &mut AnyConnection,
    ids: &[String],
) -> Result<HashMap<String, tasknet_domain::TaskHistory>> {
    let mut events: HashMap<String, Vec<tasknet_proto::v1::TaskEvent>> = HashMap::new();
    for chunk in ids.chunks(IN_LIST_CHUNK) {
        let mut sql = Sql::new("SELECT task_id, cursor, payload FROM change_log WHERE task_id IN ");
        sql.list(text_args(chunk)).push(" ORDER BY task_id, cursor");
        for row in sql.query(connection).fetch_all(&mut *connection).await? {
            let change = query::decode_change(row.try_get("cursor")?, row.try_get("payload")?)?;
            if let Some(tasknet_proto::v1::change::Event::TaskEvent(event)) = change.event {
                events
                    .entry(row.try_get("task_id")?)
                    .or_default()
                    .push(event);
            }
        }
    }
    Ok(events
        .into_iter()
        .filter_map(|(id, events)| Some((id, tasknet_domain::history_from_events(&events)?)))
        .collect())
}
