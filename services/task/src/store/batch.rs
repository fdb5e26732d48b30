//! The writer's statements: a handful per batch, whatever its size. Reads
//! fetch everything the batch refers to with `IN (…)` lists; writes are
//! multi-row `INSERT`s, so a batch of 500 updates costs about ten round trips.

use std::collections::HashMap;

use sqlx::{AnyConnection, Row};
use tasknet_domain::date_to_storage;
use tasknet_storage::Backend;
use tasknet_storage::bulk::BulkInsert;

use super::{Arg, IN_LIST_CHUNK, Sql, TASK_COLUMNS, text_args};
use crate::error::{Error, Result};
use crate::model::{PlanRecord, TaskState};

/// The key of the PostgreSQL advisory lock writers take (any constant unique
/// to this purpose; it spells "TASKLOG" in ASCII).
pub const WRITER_LOCK_KEY: i64 = 0x0054_4153_4B4C_4F47;

/// The idempotency record of a client update id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppliedRecord {
    pub update_id: String,
    pub task_id: String,
    pub digest: String,
    pub version: i64,
    pub cursor: i64,
}

/// A change-log entry to append; its cursor is assigned by the database.
#[derive(Debug, Clone)]
pub struct NewChange {
    pub task_id: Option<String>,
    pub update_id: Option<String>,
    pub record_time_us: i64,
    /// The encoded `v1::Change`, without its cursor.
    pub payload: Vec<u8>,
}

/// Serialises writers across replicas on PostgreSQL, so change-log cursors
/// commit in cursor order. SQLite transactions are serialised already.
pub async fn lock_writers(connection: &mut AnyConnection, backend: Backend) -> Result<()> {
    if backend == Backend::Postgres {
        sqlx::query("SELECT pg_advisory_xact_lock($1)")
            .bind(WRITER_LOCK_KEY)
            .execute(&mut *connection)
            .await?;
        tasknet_storage::writer::keyed_reads_only(connection).await?;
    }
    Ok(())
}

/// The idempotency records of those update ids that were applied before.
pub async fn load_applied(
    connection: &mut AnyConnection,
    update_ids: &[String],
) -> Result<HashMap<String, AppliedRecord>> {
    let mut applied = HashMap::new();
    for chunk in update_ids.chunks(IN_LIST_CHUNK) {
        let mut sql = Sql::new(
            "SELECT update_id, task_id, request_digest, version, cursor \
             FROM applied_updates WHERE update_id IN ",
        );
        sql.list(text_args(chunk));
        for row in sql.query(connection).fetch_all(&mut *connection).await? {
            let record = AppliedRecord {
                update_id: row.try_get("update_id")?,
                task_id: row.try_get("task_id")?,
                digest: row.try_get("request_digest")?,
                version: row.try_get("version")?,
                cursor: row.try_get("cursor")?,
            };
            applied.insert(record.update_id.clone(), record);
        }
    }
    Ok(applied)
}

/// Appends entries to the change log and returns their cursors, in order.
pub async fn insert_changes(
    connection: &mut AnyConnection,
    changes: &[NewChange],
) -> Result<Vec<i64>> {
    let mut cursors = Vec::with_capacity(changes.len());
    let statements =
        BulkInsert::new("INSERT INTO change_log (task_id, update_id, record_time_us, payload)")
            .tail("RETURNING cursor")
            .rows_per_statement(200)
            .statements(changes, |change| {
                [
                    Arg::OptionalText(change.task_id.clone()),
                    Arg::OptionalText(change.update_id.clone()),
                    Arg::Int(change.record_time_us),
                    Arg::Bytes(change.payload.clone()),
                ]
            });
    for sql in statements {
        let rows = sql.args().len() / 4;
        let mut returned = sql
            .query(connection)
            .fetch_all(&mut *connection)
            .await?
            .iter()
            .map(|row| row.try_get::<i64, _>("cursor"))
            .collect::<Result<Vec<_>, _>>()?;
        if returned.len() != rows {
            return Err(Error::Internal(format!(
                "change log insert returned {} cursors for {rows} rows",
                returned.len(),
            )));
        }
        // Rows take sequence values in VALUES order; RETURNING's order is not
        // promised, so sort (the writer lock keeps other writers out meanwhile).
        returned.sort_unstable();
        cursors.extend(returned);
    }
    Ok(cursors)
}

pub async fn insert_applied(
    connection: &mut AnyConnection,
    records: &[AppliedRecord],
) -> Result<()> {
    BulkInsert::new(
        "INSERT INTO applied_updates (update_id, task_id, request_digest, version, cursor)",
    )
    .rows_per_statement(200)
    .execute(connection, records, |record| {
        [
            Arg::Text(record.update_id.clone()),
            Arg::Text(record.task_id.clone()),
            Arg::Text(record.digest.clone()),
            Arg::Int(record.version),
            Arg::Int(record.cursor),
        ]
    })
    .await?;
    Ok(())
}

/// What a task row written again replaces.
pub(super) const TASK_UPSERT: &str = "ON CONFLICT (id) DO UPDATE SET title = excluded.title, \
     assigning_unit_id = excluded.assigning_unit_id, \
     assignee_unit_id = excluded.assignee_unit_id, \
     assigned_date = excluded.assigned_date, deadline = excluded.deadline, \
     status = excluded.status, completed_on = excluded.completed_on, \
     last_note = excluded.last_note, version = excluded.version, \
     update_time_us = excluded.update_time_us";

/// Writes each task's row: inserted if new, replaced otherwise. Each task
/// must appear once (PostgreSQL refuses to touch a row twice in one statement).
pub async fn upsert_tasks(connection: &mut AnyConnection, tasks: &[&TaskState]) -> Result<()> {
    BulkInsert::new(&format!("INSERT INTO tasks ({TASK_COLUMNS})"))
        .tail(TASK_UPSERT)
        .rows_per_statement(80)
        .execute(connection, tasks, |task| task_args(task))
        .await?;
    Ok(())
}

fn task_args(task: &TaskState) -> [Arg; 12] {
    [
        Arg::Text(task.id.clone()),
        Arg::Text(task.title.clone()),
        Arg::Text(task.assigning_unit_id.clone()),
        Arg::Text(task.assignee_unit_id.clone()),
        Arg::Int(date_to_storage(task.assigned_date)),
        Arg::Int(date_to_storage(task.deadline)),
        Arg::Int(i64::from(task.status() as i32)),
        Arg::OptionalInt(task.completed_on.map(date_to_storage)),
        Arg::Text(task.last_note.clone()),
        Arg::Int(task.version),
        Arg::Int(task.create_time_us),
        Arg::Int(task.update_time_us),
    ]
}

/// Records plan memberships of new tasks: (task id, plan id) pairs.
pub async fn insert_memberships(
    connection: &mut AnyConnection,
    memberships: &[(String, String)],
) -> Result<()> {
    BulkInsert::new("INSERT INTO task_plans (task_id, plan_id)")
        .rows_per_statement(400)
        .execute(connection, memberships, |(task_id, plan_id)| {
            [Arg::Text(task_id.clone()), Arg::Text(plan_id.clone())]
        })
        .await?;
    Ok(())
}

pub async fn insert_plan(connection: &mut AnyConnection, plan: &PlanRecord) -> Result<()> {
    let mut sql = Sql::new(&format!(
        "INSERT INTO plans ({}) VALUES ",
        super::PLAN_COLUMNS
    ));
    sql.list([
        Arg::Text(plan.id.clone()),
        Arg::Text(plan.name.clone()),
        Arg::Int(i64::from(plan.kind as i32)),
        Arg::Text(plan.owner_unit_id.clone()),
        Arg::Int(date_to_storage(plan.period_start)),
        Arg::Int(date_to_storage(plan.period_end)),
        Arg::Int(plan.create_time_us),
    ]);
    sql.query(connection).execute(connection).await?;
    Ok(())
}
