//! Each task's accepted changes as the change log carried them (with when
//! the centre recorded each), and the unit that assigned it: written with
//! every batch, read by GetTaskTimeline and the drill-down lists.

use sqlx::{AnyConnection, AnyPool, Row};
use tasknet_domain::{
    date_from_proto, date_to_storage, optional_date_from_proto, timestamp_from_proto, vietnam_date,
};
use tasknet_proto::v1::{self, TaskEventKind};

use super::sql::{Param, insert_rows};

/// One stored entry of a task's timeline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntryRow {
    pub cursor: i64,
    pub update_id: String,
    pub kind: i64,
    pub effective_time_us: i64,
    pub effective_date: i64,
    pub record_time_us: i64,
    pub deadline: Option<i64>,
    pub note: String,
    pub assignee_unit_id: String,
}

/// The timeline row of a change, and the task's assigning unit when the
/// change created it; `None` for changes that are not about a task.
fn entry_of(change: &v1::Change) -> Option<(String, EntryRow, Option<String>)> {
    let Some(v1::change::Event::TaskEvent(event)) = &change.event else {
        return None;
    };
    let task = event.task.as_ref().filter(|task| !task.id.is_empty())?;
    let kind = TaskEventKind::try_from(event.kind).unwrap_or(TaskEventKind::Unspecified);
    let effective = timestamp_from_proto("effective_time", event.effective_time.as_ref()).ok();
    let effective_date = date_from_proto("effective_date", event.effective_date.as_ref())
        .ok()
        .or_else(|| effective.map(vietnam_date))?;
    let record_time_us = timestamp_from_proto("record_time", change.record_time.as_ref())
        .map_or(0, |time| time.timestamp_micros());
    let date = |value: Option<&v1::Date>| {
        optional_date_from_proto("", value)
            .ok()
            .flatten()
            .map(date_to_storage)
    };
    let deadline = match kind {
        TaskEventKind::Created => date(task.deadline.as_ref()),
        TaskEventKind::DeadlineChanged => date(event.new_deadline.as_ref()),
        _ => None,
    };
    // Older producers sent no note of the change itself; a progress note
    // was then the task's latest.
    let note = match kind {
        TaskEventKind::Note if event.note.is_empty() => task.last_note.clone(),
        _ => event.note.clone(),
    };
    let assignee_unit_id = match kind {
        TaskEventKind::Reassigned if !event.new_assignee_unit_id.is_empty() => {
            event.new_assignee_unit_id.clone()
        }
        TaskEventKind::Created | TaskEventKind::Reassigned => task.assignee_unit_id.clone(),
        _ => String::new(),
    };
    let origin = (kind == TaskEventKind::Created).then(|| task.assigning_unit_id.clone());
    let row = EntryRow {
        cursor: change.cursor,
        update_id: event.update_id.clone(),
        kind: i64::from(event.kind),
        effective_time_us: effective.map_or(0, |time| time.timestamp_micros()),
        effective_date: date_to_storage(effective_date),
        record_time_us,
        deadline,
        note,
        assignee_unit_id,
    };
    Some((task.id.to_ascii_lowercase(), row, origin))
}

/// Records the task changes of a batch (inside its transaction).
pub async fn record(
    connection: &mut AnyConnection,
    changes: &[&v1::Change],
) -> Result<(), sqlx::Error> {
    let mut entries = Vec::with_capacity(changes.len());
    let mut origins = Vec::new();
    for (task_id, row, origin) in changes.iter().filter_map(|change| entry_of(change)) {
        if let Some(unit) = origin {
            origins.push(vec![Param::Text(task_id.clone()), Param::Text(unit)]);
        }
        entries.push(vec![
            Param::Text(task_id),
            Param::Int(row.cursor),
            Param::Text(row.update_id),
            Param::Int(row.kind),
            Param::Int(row.effective_time_us),
            Param::Int(row.effective_date),
            Param::Int(row.record_time_us),
            Param::OptionalInt(row.deadline),
            Param::Text(row.note),
            Param::Text(row.assignee_unit_id),
        ]);
    }
    insert_rows(
        connection,
        "INSERT INTO rpt_timeline (task_id, cursor, update_id, kind, effective_time_us, \
         effective_date, record_time_us, deadline, note, assignee_unit_id)",
        "ON CONFLICT (task_id, cursor) DO NOTHING",
        &entries,
    )
    .await?;
    insert_rows(
        connection,
        "INSERT INTO rpt_task_origins (task_id, assigning_unit_id)",
        "ON CONFLICT (task_id) DO NOTHING",
        &origins,
    )
    .await
}

/// What the read model knows of one task besides its timeline.
#[derive(Debug, Clone)]
pub struct TaskHead {
    pub title: String,
    pub assigning_unit_id: String,
    pub assigned_date: i64,
    /// Every unit that held it: the first assignee, then each successor.
    pub holders: Vec<String>,
}

/// The task's head, or `None` when the read model does not have it.
pub async fn task_head(pool: &AnyPool, task_id: &str) -> Result<Option<TaskHead>, sqlx::Error> {
    let row = sqlx::query(
        "SELECT t.title, COALESCE(o.assigning_unit_id, ''), t.assigned_date, t.assignee_unit_id \
         FROM rpt_tasks t LEFT JOIN rpt_task_origins o ON o.task_id = t.task_id \
         WHERE t.task_id = $1",
    )
    .bind(task_id)
    .fetch_optional(pool)
    .await?;
    let Some(row) = row else { return Ok(None) };
    let mut holders = vec![row.try_get::<String, _>(3)?];
    let later = sqlx::query(
        "SELECT assignee_unit_id FROM rpt_task_assignees WHERE task_id = $1 ORDER BY cursor",
    )
    .bind(task_id)
    .fetch_all(pool)
    .await?;
    for unit in later {
        holders.push(unit.try_get(0)?);
    }
    Ok(Some(TaskHead {
        title: row.try_get(0)?,
        assigning_unit_id: row.try_get(1)?,
        assigned_date: row.try_get(2)?,
        holders,
    }))
}

/// The task's timeline in effective order, the order its state is folded
/// in (`tasknet_domain`'s TaskHistory): effective day, then arrival.
pub async fn entries(pool: &AnyPool, task_id: &str) -> Result<Vec<EntryRow>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT cursor, update_id, kind, effective_time_us, effective_date, record_time_us, \
         deadline, note, assignee_unit_id FROM rpt_timeline WHERE task_id = $1 \
         ORDER BY effective_date, cursor",
    )
    .bind(task_id)
    .fetch_all(pool)
    .await?;
    rows.iter()
        .map(|row| {
            Ok(EntryRow {
                cursor: row.try_get(0)?,
                update_id: row.try_get(1)?,
                kind: row.try_get(2)?,
                effective_time_us: row.try_get(3)?,
                effective_date: row.try_get(4)?,
                record_time_us: row.try_get(5)?,
                deadline: row.try_get(6)?,
                note: row.try_get(7)?,
                assignee_unit_id: row.try_get(8)?,
            })
        })
        .collect()
}
