//! The task database: SQL written once for SQLite and PostgreSQL (see
//! docs/design.md, "Storage conventions"). `batch` holds the writer's reads
//! and writes, `query` the reads behind the RPCs and the change feed,
//! `reassign` the reads behind a reorganisation's transfer of tasks.
//! `seam` is what the writer reads and writes through, implemented by
//! `portable` (that SQL, through `Any`) and `typed` (PostgreSQL's native
//! driver with array binds).

pub mod batch;
pub mod portable;
pub mod query;
pub mod reassign;
pub mod seam;
pub mod typed;

use std::collections::HashMap;

use sqlx::{AnyConnection, ColumnIndex, Decode, Row, Type};
use tasknet_domain::date_from_storage;
use tasknet_proto::v1;
use tasknet_storage::{Backend, Edited, Migrations};

use crate::error::{Error, Result};
use crate::model::{PlanRecord, TaskState};

pub static SQLITE: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");
pub static POSTGRES: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

/// The task service's migrations for `tasknet_storage::Database::open`,
/// then the audit log's.
pub static MIGRATIONS: Migrations = Migrations {
    sqlite: &SQLITE,
    postgres: &POSTGRES,
    shared: &[&tasknet_auth::audit::MIGRATIONS],
    // The audit log's DDL moved to tasknet_auth's set; databases that
    // applied the released file are accepted (docs/design.md).
    edited: &[
        Edited {
            backend: Backend::Sqlite,
            version: 2,
            released_checksum: "0ceb77cae81018308ce0cecbc39050bf158ca214e78e73975cf216919641c714e1be3c428647016ad70af1bc266ea71a",
        },
        Edited {
            backend: Backend::Postgres,
            version: 2,
            released_checksum: "e765766bc59a54d021a8d932000aa5590d5571a9839250c92a5f64636d5de4933ecee3d3b6f8296e8bd7b0906349a5e4",
        },
    ],
};

/// Ids per `IN (…)` list: well under both back ends' parameter limits.
const IN_LIST_CHUNK: usize = 500;

const TASK_COLUMNS: &str = "id, title, assigning_unit_id, assignee_unit_id, assigned_date, \
    deadline, status, completed_on, last_note, version, create_time_us, update_time_us";

const PLAN_COLUMNS: &str =
    "id, name, kind, owner_unit_id, period_start, period_end, create_time_us";

pub use tasknet_storage::bulk::{Arg, Sql};

fn text_args(ids: &[String]) -> impl Iterator<Item = Arg> + '_ {
    ids.iter().map(|id| Arg::Text(id.clone()))
}

/// Rows of either driver decode through these generic functions (`R` is an
/// `AnyRow` or a `PgRow`): one mapping of the task tables' columns.
fn storage_date<R>(row: &R, column: &str) -> Result<chrono::NaiveDate>
where
    R: Row,
    for<'c> &'c str: ColumnIndex<R>,
    for<'r> i64: Decode<'r, R::Database> + Type<R::Database>,
{
    let value: i64 = row.try_get(column)?;
    date_from_storage(value)
        .ok_or_else(|| Error::Internal(format!("stored {column} {value} is not a date")))
}

/// A `tasks` row, without plan memberships.
fn task_from_row<R>(row: &R) -> Result<TaskState>
where
    R: Row,
    for<'c> &'c str: ColumnIndex<R>,
    for<'r> i64: Decode<'r, R::Database> + Type<R::Database>,
    for<'r> String: Decode<'r, R::Database> + Type<R::Database>,
{
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

fn plan_from_row<R>(row: &R) -> Result<PlanRecord>
where
    R: Row,
    for<'c> &'c str: ColumnIndex<R>,
    for<'r> i64: Decode<'r, R::Database> + Type<R::Database>,
    for<'r> String: Decode<'r, R::Database> + Type<R::Database>,
{
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
    let mut events = HistoryEvents::default();
    for chunk in ids.chunks(IN_LIST_CHUNK) {
        let mut sql = Sql::new("SELECT task_id, cursor, payload FROM change_log WHERE task_id IN ");
        sql.list(text_args(chunk)).push(" ORDER BY task_id, cursor");
        for row in sql.query(connection).fetch_all(&mut *connection).await? {
            events.push(&row)?;
        }
    }
    Ok(events.fold())
}

/// Change-log rows (`task_id, cursor, payload`) read in cursor order per
/// task, gathered into each task's events.
#[derive(Default)]
struct HistoryEvents {
    events: HashMap<String, Vec<tasknet_proto::v1::TaskEvent>>,
}

impl HistoryEvents {
    fn push<R: Row>(&mut self, row: &R) -> Result<()>
    where
        for<'c> &'c str: ColumnIndex<R>,
        for<'r> i64: Decode<'r, R::Database> + Type<R::Database>,
        for<'r> String: Decode<'r, R::Database> + Type<R::Database>,
        for<'r> Vec<u8>: Decode<'r, R::Database> + Type<R::Database>,
    {
        let change = query::decode_change(row.try_get("cursor")?, row.try_get("payload")?)?;
        if let Some(tasknet_proto::v1::change::Event::TaskEvent(event)) = change.event {
            self.events
                .entry(row.try_get("task_id")?)
                .or_default()
                .push(event);
        }
        Ok(())
    }

    /// Each task's history; tasks without a readable creation entry are absent.
    fn fold(self) -> HashMap<String, tasknet_domain::TaskHistory> {
        self.events
            .into_iter()
            .filter_map(|(id, events)| Some((id, tasknet_domain::history_from_events(&events)?)))
            .collect()
    }
}
