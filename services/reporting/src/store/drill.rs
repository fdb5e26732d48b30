//! The tasks behind a breakdown's cell: the segments in force at the end of
//! the as-of day, of tasks assigned in the period to some units, in one
//! status class, ordered by deadline then task id and read a page at a time
//! (keyset: each page starts after the last row of the one before).

use chrono::NaiveDate;
use sqlx::{AnyPool, Row};
use tasknet_domain::date_to_storage;
use tasknet_proto::v1::StatusClass;
use tasknet_storage::Backend;

use super::query::StatusQuery;
use super::sql::{Param, in_list_statements, query_with};

/// One listed task, as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupTaskRow {
    pub task_id: String,
    pub title: String,
    pub assignee_unit_id: String,
    pub assigning_unit_id: String,
    pub assigned_date: i64,
    pub deadline: i64,
    pub completed_on: Option<i64>,
}

/// Where a page starts: after this (deadline, task id).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct After {
    pub deadline: i64,
    pub task_id: String,
}

/// The SQL of a class, as in `query::status_select` (`$3` is the as-of day).
fn class_predicate(class: StatusClass) -> &'static str {
    match class {
        StatusClass::Unspecified => "",
        StatusClass::CompletedOnTime => {
            "AND s.completed_on IS NOT NULL AND s.completed_on <= s.deadline "
        }
        StatusClass::CompletedLate => {
            "AND s.completed_on IS NOT NULL AND s.completed_on > s.deadline "
        }
        StatusClass::OpenWithinDeadline => "AND s.completed_on IS NULL AND s.deadline >= $3 ",
        StatusClass::OpenOverdue => "AND s.completed_on IS NULL AND s.deadline < $3 ",
    }
}

/// Up to `limit` tasks of `units` matching `query` and `class`, after `after`.
pub async fn group_tasks(
    pool: &AnyPool,
    query: StatusQuery,
    class: StatusClass,
    units: &[String],
    after: Option<&After>,
    limit: usize,
) -> Result<Vec<GroupTaskRow>, sqlx::Error> {
    if units.is_empty() {
        return Ok(Vec::new());
    }
    // Tasks assigned after the as-of day did not exist on it.
    let end = query.period.end.min(query.as_of);
    let (deadline, task_id) = after.map_or((i64::MIN, String::new()), |after| {
        (after.deadline, after.task_id.clone())
    });
    let fixed = [
        Param::Int(date_to_storage(query.period.start)),
        Param::Int(date_to_storage(end)),
        Param::Int(date_to_storage(query.as_of)),
        Param::Int(deadline),
        Param::Text(task_id),
        Param::Int(i64::try_from(limit).unwrap_or(i64::MAX)),
    ];
    let before = format!(
        "SELECT s.task_id, t.title, s.assignee_unit_id, COALESCE(o.assigning_unit_id, ''), \
           s.assigned_date, s.deadline, s.completed_on \
         FROM rpt_segments s \
         JOIN rpt_tasks t ON t.task_id = s.task_id \
         LEFT JOIN rpt_task_origins o ON o.task_id = s.task_id \
         WHERE s.assigned_date >= $1 AND s.assigned_date <= $2 \
           AND s.seg_from <= $3 AND s.seg_until > $3 {}\
           AND (s.deadline > $4 OR (s.deadline = $4 AND s.task_id > $5)) \
           AND s.assignee_unit_id",
        class_predicate(class)
    );
    let after_list = "ORDER BY s.deadline, s.task_id LIMIT $6";
    let mut connection = pool.acquire().await?;
    let backend = Backend::of(&connection);
    let mut rows = Vec::new();
    // One statement unless there are thousands of units; then each list's
    // first `limit` rows, merged, hold the overall first `limit`.
    for (sql, params) in in_list_statements(backend, &before, after_list, &fixed, units) {
        for row in query_with(&sql, &params)
            .fetch_all(&mut *connection)
            .await?
        {
            rows.push(GroupTaskRow {
                task_id: row.try_get(0)?,
                title: row.try_get(1)?,
                assignee_unit_id: row.try_get(2)?,
                assigning_unit_id: row.try_get(3)?,
                assigned_date: row.try_get(4)?,
                deadline: row.try_get(5)?,
                completed_on: row.try_get(6)?,
            });
        }
    }
    rows.sort_by(|a, b| (a.deadline, &a.task_id).cmp(&(b.deadline, &b.task_id)));
    rows.truncate(limit);
    Ok(rows)
}

/// The as-of day's class of a listed task and its days overdue.
pub fn classify(row: &GroupTaskRow, as_of: NaiveDate) -> (StatusClass, i64) {
    let as_of = date_to_storage(as_of);
    let days = |from: i64, to: i64| match (
        tasknet_domain::date_from_storage(from),
        tasknet_domain::date_from_storage(to),
    ) {
        (Some(from), Some(to)) => (to - from).num_days().max(0),
        _ => 0,
    };
    match row.completed_on {
        Some(done) if done <= row.deadline => (StatusClass::CompletedOnTime, 0),
        Some(done) => (StatusClass::CompletedLate, days(row.deadline, done)),
        None if row.deadline >= as_of => (StatusClass::OpenWithinDeadline, 0),
        None => (StatusClass::OpenOverdue, days(row.deadline, as_of)),
    }
}
