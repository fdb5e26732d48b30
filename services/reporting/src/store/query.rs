//! The read model's queries: status counts per assignee unit, plans and their
//! progress, and the sync state.

use std::collections::HashMap;

use chrono::NaiveDate;
use sqlx::{AnyPool, Row};
use tasknet_domain::{DatePeriod, date_to_storage};
use tasknet_storage::Backend;

use super::decode::PlanRow;
use super::sql::{Param, in_list_statements, query_with};
use crate::counts::StatusCounts;

/// One question for [`status_by_unit`]: tasks assigned in `period` (and on
/// or before `as_of`), classified as of `as_of`.
#[derive(Debug, Clone, Copy)]
pub struct StatusQuery {
    pub period: DatePeriod,
    pub as_of: NaiveDate,
}

/// Counts per assignee unit for one question.
pub type UnitCounts = HashMap<String, StatusCounts>;

/// Per assignee unit, the days past the deadline summed over its
/// completed-late and open-overdue tasks (units with none are absent).
pub type UnitDaysLate = HashMap<String, i64>;

/// The classification of `TimelineState::classify`, in SQL, for the segment
/// in force at the end of the as-of day (`$as_of`): completed on or before
/// the deadline then in force is on time; open with a deadline on or after
/// the as-of day is within deadline.
fn status_select(which: usize, first: usize) -> String {
    let (start, end, as_of) = (first, first + 1, first + 2);
    format!(
        "SELECT CAST({which} AS BIGINT) AS which, assignee_unit_id, \
           COUNT(CASE WHEN completed_on IS NOT NULL AND completed_on <= deadline THEN 1 END), \
           COUNT(CASE WHEN completed_on IS NOT NULL AND completed_on > deadline THEN 1 END), \
           COUNT(CASE WHEN completed_on IS NULL AND deadline >= ${as_of} THEN 1 END), \
           COUNT(CASE WHEN completed_on IS NULL AND deadline < ${as_of} THEN 1 END) \
         FROM rpt_segments \
         WHERE assigned_date >= ${start} AND assigned_date <= ${end} \
           AND seg_from <= ${as_of} AND seg_until > ${as_of} \
         GROUP BY assignee_unit_id"
    )
}

/// Answers several questions in one statement, so that all of them see the
/// same state of the read model (one snapshot on both back ends).
pub async fn status_by_unit(
    pool: &AnyPool,
    queries: &[StatusQuery],
) -> Result<Vec<UnitCounts>, sqlx::Error> {
    let mut selects = Vec::with_capacity(queries.len());
    let mut params = Vec::with_capacity(queries.len() * 3);
    for (which, query) in queries.iter().enumerate() {
        selects.push(status_select(which, params.len() + 1));
        // Tasks assigned after the as-of day did not exist on it.
        let end = query.period.end.min(query.as_of);
        params.push(Param::Int(date_to_storage(query.period.start)));
        params.push(Param::Int(date_to_storage(end)));
        params.push(Param::Int(date_to_storage(query.as_of)));
    }
    let mut results = vec![UnitCounts::new(); queries.len()];
    if selects.is_empty() {
        return Ok(results);
    }
    let sql = selects.join(" UNION ALL ");
    for row in query_with(&sql, &params).fetch_all(pool).await? {
        let which: i64 = row.try_get(0)?;
        let counts = StatusCounts {
            completed_on_time: row.try_get(2)?,
            completed_late: row.try_get(3)?,
            open_within_deadline: row.try_get(4)?,
            open_overdue: row.try_get(5)?,
        };
        if let Some(result) = usize::try_from(which).ok().and_then(|i| results.get_mut(i)) {
            result.insert(row.try_get(1)?, counts);
        }
    }
    Ok(results)
}

/// [`UnitDaysLate`] for each question, in SQL (the reference the index is
/// tested against): the late and overdue segments in force, classified as
/// in [`status_select`], their days summed here (dates are stored as
/// yyyymmdd numbers, which SQL cannot subtract).
pub async fn days_late_by_unit(
    pool: &AnyPool,
    queries: &[StatusQuery],
) -> Result<Vec<UnitDaysLate>, sqlx::Error> {
    let mut results = Vec::with_capacity(queries.len());
    let sql = "SELECT assignee_unit_id, deadline, completed_on FROM rpt_segments \
               WHERE assigned_date >= $1 AND assigned_date <= $2 \
                 AND seg_from <= $3 AND seg_until > $3 \
                 AND ((completed_on IS NOT NULL AND completed_on > deadline) \
                   OR (completed_on IS NULL AND deadline < $3))";
    let mut connection = pool.acquire().await?;
    for query in queries {
        let end = query.period.end.min(query.as_of);
        let as_of = date_to_storage(query.as_of);
        let params = [
            Param::Int(date_to_storage(query.period.start)),
            Param::Int(date_to_storage(end)),
            Param::Int(as_of),
        ];
        let mut days = UnitDaysLate::new();
        for row in query_with(sql, &params).fetch_all(&mut *connection).await? {
            let deadline: i64 = row.try_get(1)?;
            let completed: Option<i64> = row.try_get(2)?;
            let late = super::index::days_past(deadline, completed.unwrap_or(as_of));
            *days.entry(row.try_get(0)?).or_default() += late;
        }
        results.push(days);
    }
    Ok(results)
}

const PLAN_COLUMNS: &str =
    "id, name, kind, owner_unit_id, period_start, period_end, create_time_us";

fn plan_from_row(row: &sqlx::any::AnyRow) -> Result<PlanRow, sqlx::Error> {
    Ok(PlanRow {
        id: row.try_get(0)?,
        name: row.try_get(1)?,
        kind: row.try_get(2)?,
        owner_unit_id: row.try_get(3)?,
        period_start: row.try_get(4)?,
        period_end: row.try_get(5)?,
        create_time_us: row.try_get(6)?,
    })
}

pub async fn plan_by_id(pool: &AnyPool, id: &str) -> Result<Option<PlanRow>, sqlx::Error> {
    let sql = format!("SELECT {PLAN_COLUMNS} FROM rpt_plans WHERE id = $1");
    let row = sqlx::query(&sql).bind(id).fetch_optional(pool).await?;
    row.as_ref().map(plan_from_row).transpose()
}

/// Plans of `kind` whose period overlaps `period`, earliest first.
pub async fn plans_of_kind(
    pool: &AnyPool,
    kind: Option<i64>,
    period: DatePeriod,
) -> Result<Vec<PlanRow>, sqlx::Error> {
    // Kind 0 (unspecified) is no plan's kind: `$1 = 0` means every kind.
    let kind = kind.unwrap_or(0);
    let sql = format!(
        "SELECT {PLAN_COLUMNS} FROM rpt_plans \
         WHERE ($1 = 0 OR kind = $1) AND period_start <= $2 AND period_end >= $3 \
         ORDER BY kind, period_start, name, id"
    );
    let rows = sqlx::query(&sql)
        .bind(kind)
        .bind(date_to_storage(period.end))
        .bind(date_to_storage(period.start))
        .fetch_all(pool)
        .await?;
    rows.iter().map(plan_from_row).collect()
}

/// Done and total per plan as of a day: total counts member tasks assigned
/// on or before it, done those of them whose state then is completed.
pub async fn plan_counts(
    pool: &AnyPool,
    plan_ids: &[String],
    as_of: NaiveDate,
) -> Result<HashMap<String, (i64, i64)>, sqlx::Error> {
    let before = "SELECT tp.plan_id, COUNT(s.completed_on), COUNT(*) \
                  FROM rpt_task_plans tp JOIN rpt_segments s ON s.task_id = tp.task_id \
                  WHERE s.assigned_date <= $1 AND s.seg_from <= $1 AND s.seg_until > $1 \
                    AND tp.plan_id";
    let fixed = [Param::Int(date_to_storage(as_of))];
    let mut counts = HashMap::new();
    let mut connection = pool.acquire().await?;
    let backend = Backend::of(&connection);
    for (sql, params) in
        in_list_statements(backend, before, "GROUP BY tp.plan_id", &fixed, plan_ids)
    {
        for row in query_with(&sql, &params)
            .fetch_all(&mut *connection)
            .await?
        {
            counts.insert(row.try_get(0)?, (row.try_get(1)?, row.try_get(2)?));
        }
    }
    Ok(counts)
}

/// Done and total over several plans taken together as of a day, each task
/// counted once however many of the plans it belongs to.
pub async fn distinct_plan_counts(
    pool: &AnyPool,
    plan_ids: &[String],
    as_of: NaiveDate,
) -> Result<(i64, i64), sqlx::Error> {
    let before = "SELECT DISTINCT s.task_id, s.completed_on \
                  FROM rpt_task_plans tp JOIN rpt_segments s ON s.task_id = tp.task_id \
                  WHERE s.assigned_date <= $1 AND s.seg_from <= $1 AND s.seg_until > $1 \
                    AND tp.plan_id";
    let fixed = [Param::Int(date_to_storage(as_of))];
    // Distinct across the statements of a long id list too: one state per
    // task holds on any day, so (task, completed_on) pairs are per task.
    let mut tasks: HashMap<String, bool> = HashMap::new();
    let mut connection = pool.acquire().await?;
    let backend = Backend::of(&connection);
    for (sql, params) in in_list_statements(backend, before, "", &fixed, plan_ids) {
        for row in query_with(&sql, &params)
            .fetch_all(&mut *connection)
            .await?
        {
            let completed: Option<i64> = row.try_get(1)?;
            tasks.insert(row.try_get(0)?, completed.is_some());
        }
    }
    let done = tasks.values().filter(|done| **done).count();
    Ok((
        i64::try_from(done).unwrap_or(i64::MAX),
        i64::try_from(tasks.len()).unwrap_or(i64::MAX),
    ))
}

/// The stored cursor and when it was last advanced (microseconds, UTC).
pub async fn sync_state(pool: &AnyPool) -> Result<(i64, Option<i64>), sqlx::Error> {
    let row =
        sqlx::query("SELECT applied_cursor, last_applied_time_us FROM sync_state WHERE id = 1")
            .fetch_one(pool)
            .await?;
    Ok((row.try_get(0)?, row.try_get(1)?))
}
