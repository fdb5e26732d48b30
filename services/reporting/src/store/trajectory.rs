//! The tasks behind a delivery trajectory: for a plan's members or a set of
//! units' tasks, each task's assigned date, and the deadline and completion
//! of its segment in force at the end of the as-of day.

use chrono::NaiveDate;
use sqlx::{AnyPool, Row};
use tasknet_domain::{DatePeriod, date_to_storage};
use tasknet_storage::Backend;

use super::sql::{Param, in_list_statements, query_with};

/// One task as the trajectory needs it (stored yyyymmdd dates).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeliveryRow {
    pub assigned: i64,
    pub deadline: i64,
    pub completed: Option<i64>,
}

fn delivery_row(row: &sqlx::any::AnyRow) -> Result<DeliveryRow, sqlx::Error> {
    Ok(DeliveryRow {
        assigned: row.try_get(0)?,
        deadline: row.try_get(1)?,
        completed: row.try_get(2)?,
    })
}

/// The member tasks of `plan_id` assigned on or before `as_of`.
pub async fn plan_tasks(
    pool: &AnyPool,
    plan_id: &str,
    as_of: NaiveDate,
) -> Result<Vec<DeliveryRow>, sqlx::Error> {
    let sql = "SELECT s.assigned_date, s.deadline, s.completed_on \
               FROM rpt_task_plans tp JOIN rpt_segments s ON s.task_id = tp.task_id \
               WHERE tp.plan_id = $1 AND s.assigned_date <= $2 \
                 AND s.seg_from <= $2 AND s.seg_until > $2";
    let params = [
        Param::Text(plan_id.to_owned()),
        Param::Int(date_to_storage(as_of)),
    ];
    let rows = query_with(sql, &params).fetch_all(pool).await?;
    rows.iter().map(delivery_row).collect()
}

/// The tasks assigned in `period` (on or before `as_of`) held by one of
/// `units` at the end of `as_of`.
pub async fn unit_tasks(
    pool: &AnyPool,
    units: &[String],
    period: DatePeriod,
    as_of: NaiveDate,
) -> Result<Vec<DeliveryRow>, sqlx::Error> {
    let fixed = [
        Param::Int(date_to_storage(period.start)),
        Param::Int(date_to_storage(period.end.min(as_of))),
        Param::Int(date_to_storage(as_of)),
    ];
    let before = "SELECT s.assigned_date, s.deadline, s.completed_on FROM rpt_segments s \
                  WHERE s.assigned_date >= $1 AND s.assigned_date <= $2 \
                    AND s.seg_from <= $3 AND s.seg_until > $3 AND s.assignee_unit_id";
    let mut connection = pool.acquire().await?;
    let backend = Backend::of(&connection);
    let mut tasks = Vec::new();
    for (sql, params) in in_list_statements(backend, before, "", &fixed, units) {
        for row in query_with(&sql, &params)
            .fetch_all(&mut *connection)
            .await?
        {
            tasks.push(delivery_row(&row)?);
        }
    }
    Ok(tasks)
}
