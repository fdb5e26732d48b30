//! Reads behind the RPCs: tasks and plans by id, filtered keyset pages, and
//! the change log.

use sqlx::{AnyPool, Row};
use tasknet_proto::prost::Message;
use tasknet_proto::v1;

use super::{
    Arg, PLAN_COLUMNS, Sql, TASK_COLUMNS, load_memberships, load_plans, load_tasks, plan_from_row,
    task_from_row,
};
use crate::error::{Error, Result};
use crate::model::{PlanRecord, TaskState};

/// Which tasks to list, and where the page starts.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TaskFilter {
    pub assignee_unit_id: Option<String>,
    pub plan_id: Option<String>,
    pub status: Option<v1::TaskStatus>,
    /// Inclusive bounds on the assigned date, `yyyymmdd`.
    pub assigned_from: Option<i64>,
    pub assigned_to: Option<i64>,
    /// The (assigned date, id) of the last task of the previous page.
    pub after: Option<(i64, String)>,
    pub limit: i64,
}

/// Which plans to list, and where the page starts.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PlanFilter {
    pub kind: Option<v1::PlanKind>,
    pub owner_unit_id: Option<String>,
    /// Only plans whose period overlaps this inclusive range (`yyyymmdd`).
    pub overlaps: Option<(i64, i64)>,
    /// The id of the last plan of the previous page.
    pub after: Option<String>,
    pub limit: i64,
}

pub async fn get_task(pool: &AnyPool, id: &str) -> Result<Option<TaskState>> {
    let mut connection = pool.acquire().await?;
    let mut tasks = load_tasks(&mut connection, &[id.to_owned()]).await?;
    Ok(tasks.remove(id))
}

pub async fn get_plan(pool: &AnyPool, id: &str) -> Result<Option<PlanRecord>> {
    let mut connection = pool.acquire().await?;
    let mut plans = load_plans(&mut connection, &[id.to_owned()]).await?;
    Ok(plans.remove(id))
}

/// Of these plan ids, those that name existing plans, with their owners.
pub async fn plan_owners(pool: &AnyPool, ids: &[String]) -> Result<Vec<(String, String)>> {
    let mut connection = pool.acquire().await?;
    Ok(load_plans(&mut connection, ids)
        .await?
        .into_iter()
        .map(|(id, plan)| (id, plan.owner_unit_id))
        .collect())
}

/// Tasks ordered by (assigned date, id), with their plan memberships.
pub async fn list_tasks(pool: &AnyPool, filter: &TaskFilter) -> Result<Vec<TaskState>> {
    let mut sql = Sql::new(&format!("SELECT {TASK_COLUMNS} FROM tasks WHERE 1 = 1"));
    if let Some(unit) = &filter.assignee_unit_id {
        sql.push(" AND assignee_unit_id = ")
            .arg(Arg::Text(unit.clone()));
    }
    if let Some(status) = filter.status {
        sql.push(" AND status = ")
            .arg(Arg::Int(i64::from(status as i32)));
    }
    if let Some(from) = filter.assigned_from {
        sql.push(" AND assigned_date >= ").arg(Arg::Int(from));
    }
    if let Some(to) = filter.assigned_to {
        sql.push(" AND assigned_date <= ").arg(Arg::Int(to));
    }
    if let Some(plan) = &filter.plan_id {
        sql.push(" AND id IN (SELECT task_id FROM task_plans WHERE plan_id = ")
            .arg(Arg::Text(plan.clone()))
            .push(")");
    }
    if let Some((date, id)) = &filter.after {
        sql.push(" AND (assigned_date, id) > ")
            .list([Arg::Int(*date), Arg::Text(id.clone())]);
    }
    sql.push(" ORDER BY assigned_date, id LIMIT ")
        .arg(Arg::Int(filter.limit));

    let mut connection = pool.acquire().await?;
    let rows = sql.query(&connection).fetch_all(&mut *connection).await?;
    let mut tasks = rows.iter().map(task_from_row).collect::<Result<Vec<_>>>()?;
    let ids: Vec<String> = tasks.iter().map(|task| task.id.clone()).collect();
    let mut memberships = load_memberships(&mut connection, &ids).await?;
    for task in &mut tasks {
        task.plan_ids = memberships.remove(&task.id).unwrap_or_default();
    }
    Ok(tasks)
}

/// Plans ordered by id.
pub async fn list_plans(pool: &AnyPool, filter: &PlanFilter) -> Result<Vec<PlanRecord>> {
    let mut sql = Sql::new(&format!("SELECT {PLAN_COLUMNS} FROM plans WHERE 1 = 1"));
    if let Some(kind) = filter.kind {
        sql.push(" AND kind = ")
            .arg(Arg::Int(i64::from(kind as i32)));
    }
    if let Some(owner) = &filter.owner_unit_id {
        sql.push(" AND owner_unit_id = ")
            .arg(Arg::Text(owner.clone()));
    }
    if let Some((start, end)) = filter.overlaps {
        sql.push(" AND period_start <= ")
            .arg(Arg::Int(end))
            .push(" AND period_end >= ")
            .arg(Arg::Int(start));
    }
    if let Some(after) = &filter.after {
        sql.push(" AND id > ").arg(Arg::Text(after.clone()));
    }
    sql.push(" ORDER BY id LIMIT ").arg(Arg::Int(filter.limit));
    let rows = sql.numbered().fetch_all(pool).await?;
    rows.iter().map(plan_from_row).collect()
}

/// Up to `limit` changes after `after`, in cursor order.
pub async fn read_changes(pool: &AnyPool, after: i64, limit: i64) -> Result<Vec<v1::Change>> {
    let rows = sqlx::query(
        "SELECT cursor, payload FROM change_log WHERE cursor > $1 ORDER BY cursor LIMIT $2",
    )
    .bind(after)
    .bind(limit)
    .fetch_all(pool)
    .await?;
    rows.iter()
        .map(|row| decode_change(row.try_get("cursor")?, row.try_get("payload")?))
        .collect()
}

/// What one read of the log kept, and how far it looked.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LogRead {
    /// The changes kept, in cursor order.
    pub changes: Vec<v1::Change>,
    /// The cursor the read got to (the last row read, kept or not, or the
    /// end of the range it looked at): the next read starts after it.
    pub reached: Option<i64>,
    /// Whether it read everything there was: the follower can wait.
    pub exhausted: bool,
}

impl LogRead {
    /// A read of up to `limit` rows of the whole log, which keeps every row.
    pub fn kept_all(changes: Vec<v1::Change>, limit: i64) -> Self {
        Self {
            reached: changes.last().map(|change| change.cursor),
            exhausted: (changes.len() as i64) < limit,
            changes,
        }
    }
}

/// The changes in `(after, upto]` that concern `unit_id`, reading at most
/// `limit` rows: every change of a task the unit holds now, and each
/// reassignment that passed a task away from it. The SQL narrows the rows
/// to those of the unit's tasks and to reassignments (their update ids are
/// the only UUIDv5s in the log: clients' are UUIDv7), so a feed never
/// decodes the rest of the log; of the reassignments of tasks it no longer
/// holds, the ones naming the unit are kept. The range keeps each read to
/// the rows committed since the last one, however long the unit was quiet.
pub async fn read_unit_changes(
    pool: &AnyPool,
    unit_id: &str,
    after: i64,
    upto: i64,
    limit: i64,
) -> Result<LogRead> {
    let rows = sqlx::query(
        "WITH held AS (SELECT id FROM tasks WHERE assignee_unit_id = $1) \
         SELECT c.cursor, c.payload, \
         CAST(CASE WHEN c.task_id IN (SELECT id FROM held) THEN 1 ELSE 0 END AS BIGINT) AS held \
         FROM change_log c WHERE c.cursor > $2 AND c.cursor <= $3 AND c.task_id IS NOT NULL \
         AND (c.task_id IN (SELECT id FROM held) OR SUBSTR(c.update_id, 15, 1) = '5') \
         ORDER BY c.cursor LIMIT $4",
    )
    .bind(unit_id)
    .bind(after)
    .bind(upto)
    .bind(limit)
    .fetch_all(pool)
    .await?;
    let full = rows.len() as i64 >= limit;
    let mut read = LogRead::default();
    for row in &rows {
        let cursor: i64 = row.try_get("cursor")?;
        read.reached = Some(cursor);
        let change = decode_change(cursor, row.try_get("payload")?)?;
        let held = row.try_get::<i64, _>("held")? == 1;
        if held || passed_away_from(&change, unit_id) {
            read.changes.push(change);
        }
    }
    if !full && upto > after {
        // Every row of the range was read: the next read starts after it.
        read.reached = Some(upto);
    }
    Ok(read)
}

/// Whether `change` reassigned a task away from `unit_id`.
fn passed_away_from(change: &v1::Change, unit_id: &str) -> bool {
    matches!(
        &change.event,
        Some(v1::change::Event::TaskEvent(event))
            if event.kind == v1::TaskEventKind::Reassigned as i32
                && event.previous_assignee_unit_id == unit_id
    )
}

/// The change at a cursor.
pub async fn change_at(pool: &AnyPool, cursor: i64) -> Result<Option<v1::Change>> {
    let row = sqlx::query("SELECT payload FROM change_log WHERE cursor = $1")
        .bind(cursor)
        .fetch_optional(pool)
        .await?;
    row.map(|row| decode_change(cursor, row.try_get("payload")?))
        .transpose()
}

/// The newest cursor in the log (0 when it is empty).
pub async fn head_cursor(pool: &AnyPool) -> Result<i64> {
    let row = sqlx::query("SELECT COALESCE(MAX(cursor), 0) AS head FROM change_log")
        .fetch_one(pool)
        .await?;
    Ok(row.try_get("head")?)
}

pub(crate) fn decode_change(cursor: i64, payload: Vec<u8>) -> Result<v1::Change> {
    let mut change = v1::Change::decode(payload.as_slice())
        .map_err(|error| Error::Internal(format!("change {cursor} does not decode: {error}")))?;
    change.cursor = cursor;
    Ok(change)
}
