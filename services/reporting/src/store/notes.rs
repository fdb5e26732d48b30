//! Report notes and the titles of completed plan tasks: what a summary adds
//! to the figures.

use chrono::{NaiveDate, Utc};
use sqlx::{AnyPool, Row};
use tasknet_auth::{AuditEntry, audit};
use tasknet_domain::{DatePeriod, date_to_storage};

/// A note as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Note {
    pub text_vi: String,
    pub text_en: String,
}

/// Stores a note; a repeated id is acknowledged and changes nothing.
/// `audit`, when given, is recorded in the same transaction as a new note.
pub async fn add_note(
    pool: &AnyPool,
    id: &str,
    period: DatePeriod,
    note: &Note,
    audit: Option<AuditEntry>,
) -> Result<(), sqlx::Error> {
    let mut tx = pool.begin().await?;
    let inserted = sqlx::query(
        "INSERT INTO rpt_notes (id, period_start, period_end, text_vi, text_en, create_time_us) \
         VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (id) DO NOTHING",
    )
    .bind(id)
    .bind(date_to_storage(period.start))
    .bind(date_to_storage(period.end))
    .bind(&note.text_vi)
    .bind(&note.text_en)
    .bind(Utc::now().timestamp_micros())
    .execute(&mut *tx)
    .await?
    .rows_affected()
        > 0;
    if inserted && let Some(entry) = audit {
        let after = serde_json::json!({
            "id": id, "period_start": period.start.to_string(), "period_end": period.end.to_string(),
            "text_vi": note.text_vi, "text_en": note.text_en,
        });
        audit::insert(&mut tx, &[entry.with_change(None, Some(after.to_string()))]).await?;
    }
    tx.commit().await
}

/// The notes attached to exactly this period, oldest first.
pub async fn notes_for(pool: &AnyPool, period: DatePeriod) -> Result<Vec<Note>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT text_vi, text_en FROM rpt_notes WHERE period_start = $1 AND period_end = $2 \
         ORDER BY create_time_us, id",
    )
    .bind(date_to_storage(period.start))
    .bind(date_to_storage(period.end))
    .fetch_all(pool)
    .await?;
    rows.iter()
        .map(|row| {
            Ok(Note {
                text_vi: row.try_get(0)?,
                text_en: row.try_get(1)?,
            })
        })
        .collect()
}

/// Titles of a plan's tasks that were completed as of the date, in assignment order.
pub async fn completed_titles(
    pool: &AnyPool,
    plan_id: &str,
    as_of: NaiveDate,
) -> Result<Vec<String>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT t.title FROM rpt_task_plans tp \
         JOIN rpt_tasks t ON t.task_id = tp.task_id \
         JOIN rpt_segments s ON s.task_id = tp.task_id \
         WHERE tp.plan_id = $1 AND s.assigned_date <= $2 AND s.seg_from <= $2 AND s.seg_until > $2 \
           AND s.completed_on IS NOT NULL \
         ORDER BY t.assigned_date, t.task_id",
    )
    .bind(plan_id)
    .bind(date_to_storage(as_of))
    .fetch_all(pool)
    .await?;
    rows.iter().map(|row| row.try_get(0)).collect()
}
