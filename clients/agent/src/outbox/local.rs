//! The office's copy of its tasks in the outbox database: the changes
//! `WatchUnitTasks` delivered, each task's state as the centre last folded
//! it, and the cursor to resume the feed from — stored together, one
//! transaction per response, so a restart resumes exactly where the copy ends.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::Row;
use sqlx::sqlite::SqliteRow;
use tasknet_proto::prost::Message;
use tasknet_proto::v1;

use super::{Outbox, from_micros, micros};
use crate::error::{Error, Result};

/// How far the agent has followed the centre's feed of its tasks.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct FeedState {
    /// The cursor of the last change stored (0: none yet).
    pub cursor: i64,
    /// Tasks the office holds, as last seen.
    pub tasks: u64,
    /// When the last change was stored.
    pub last_change: Option<DateTime<Utc>>,
    /// Why the agent cannot follow the centre now (cleared when it can again).
    pub last_error: Option<String>,
    pub last_error_at: Option<DateTime<Utc>>,
}

/// A task as the centre last told it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct StoredTask {
    pub task: v1::Task,
    /// False once a reorganisation passed it to another unit.
    pub held: bool,
    /// Its changes the feed delivered, in cursor order.
    pub events: Vec<v1::TaskEvent>,
}

impl Outbox {
    /// Stores one response of the feed for `unit_id`'s copy, with its cursor.
    pub async fn record_feed(&self, unit_id: &str, changes: &[v1::Change]) -> Result<()> {
        let Some(last) = changes.iter().map(|change| change.cursor).max() else {
            return Ok(());
        };
        let mut transaction = self.pool().begin().await?;
        for change in changes {
            let Some(v1::change::Event::TaskEvent(event)) = &change.event else {
                continue;
            };
            let Some(task) = &event.task else {
                continue;
            };
            sqlx::query(
                "INSERT INTO task_events (cursor, task_id, update_id, event) \
                 VALUES ($1, $2, $3, $4) ON CONFLICT (cursor) DO NOTHING",
            )
            .bind(change.cursor)
            .bind(&task.id)
            .bind(&event.update_id)
            .bind(event.encode_to_vec())
            .execute(&mut *transaction)
            .await?;
            sqlx::query(
                "INSERT INTO local_tasks (task_id, cursor, task, held) VALUES ($1, $2, $3, $4) \
                 ON CONFLICT (task_id) DO UPDATE SET cursor = excluded.cursor, \
                 task = excluded.task, held = excluded.held \
                 WHERE excluded.cursor > local_tasks.cursor",
            )
            .bind(&task.id)
            .bind(change.cursor)
            .bind(task.encode_to_vec())
            .bind(i64::from(task.assignee_unit_id == unit_id))
            .execute(&mut *transaction)
            .await?;
        }
        sqlx::query(
            "UPDATE feed_state SET cursor = MAX(cursor, $1), last_change_us = $2 WHERE id = 1",
        )
        .bind(last)
        .bind(micros(Utc::now()))
        .execute(&mut *transaction)
        .await?;
        transaction.commit().await?;
        Ok(())
    }

    /// Records why following the feed failed (until it is followed again).
    pub async fn record_feed_error(&self, message: &str) -> Result<()> {
        sqlx::query("UPDATE feed_state SET last_error = $1, last_error_us = $2 WHERE id = 1")
            .bind(message)
            .bind(micros(Utc::now()))
            .execute(self.pool())
            .await?;
        Ok(())
    }

    /// Following again: the last failure is over.
    pub async fn clear_feed_error(&self) -> Result<()> {
        sqlx::query("UPDATE feed_state SET last_error = NULL, last_error_us = NULL WHERE id = 1")
            .execute(self.pool())
            .await?;
        Ok(())
    }

    pub async fn feed_state(&self) -> Result<FeedState> {
        let row = sqlx::query(
            "SELECT cursor, last_change_us, last_error, last_error_us, \
             (SELECT COUNT(*) FROM local_tasks WHERE held = 1) AS tasks \
             FROM feed_state WHERE id = 1",
        )
        .fetch_one(self.pool())
        .await?;
        let last_change = row
            .try_get::<Option<i64>, _>("last_change_us")?
            .and_then(from_micros);
        Ok(FeedState {
            cursor: row.try_get("cursor")?,
            tasks: row.try_get::<i64, _>("tasks")?.max(0) as u64,
            last_change,
            last_error: row.try_get("last_error")?,
            last_error_at: row
                .try_get::<Option<i64>, _>("last_error_us")?
                .and_then(from_micros),
        })
    }

    /// Every task of the copy (held or passed on), with its changes.
    pub async fn stored_tasks(&self) -> Result<HashMap<String, StoredTask>> {
        let tasks = sqlx::query("SELECT task_id, task, held FROM local_tasks")
            .fetch_all(self.pool())
            .await?;
        let events = sqlx::query("SELECT cursor, task_id, event FROM task_events ORDER BY cursor")
            .fetch_all(self.pool())
            .await?;
        gather(&tasks, &events)
    }

    /// One task of the copy, with its changes (for checking one update).
    pub async fn stored_task(&self, task_id: &str) -> Result<Option<StoredTask>> {
        let tasks = sqlx::query("SELECT task_id, task, held FROM local_tasks WHERE task_id = $1")
            .bind(task_id)
            .fetch_all(self.pool())
            .await?;
        let events = sqlx::query(
            "SELECT cursor, task_id, event FROM task_events WHERE task_id = $1 ORDER BY cursor",
        )
        .bind(task_id)
        .fetch_all(self.pool())
        .await?;
        Ok(gather(&tasks, &events)?.remove(task_id))
    }

    /// The office's references, by task id.
    pub async fn references_by_task(&self) -> Result<HashMap<String, String>> {
        let rows = sqlx::query("SELECT reference, task_id FROM task_refs")
            .fetch_all(self.pool())
            .await?;
        rows.iter()
            .map(|row| Ok((row.try_get("task_id")?, row.try_get("reference")?)))
            .collect()
    }
}

/// Tasks from `local_tasks` rows with their changes from `task_events` rows.
fn gather(tasks: &[SqliteRow], events: &[SqliteRow]) -> Result<HashMap<String, StoredTask>> {
    let mut gathered = HashMap::new();
    for row in tasks {
        let id: String = row.try_get("task_id")?;
        let bytes: Vec<u8> = row.try_get("task")?;
        let task = v1::Task::decode(bytes.as_slice())
            .map_err(|error| Error::Corrupt(format!("local task {id}: {error}")))?;
        let held = row.try_get::<i64, _>("held")? == 1;
        let stored = StoredTask {
            task,
            held,
            events: Vec::new(),
        };
        gathered.insert(id, stored);
    }
    for row in events {
        let id: String = row.try_get("task_id")?;
        let bytes: Vec<u8> = row.try_get("event")?;
        let cursor: i64 = row.try_get("cursor")?;
        let event = v1::TaskEvent::decode(bytes.as_slice())
            .map_err(|error| Error::Corrupt(format!("local change {cursor}: {error}")))?;
        if let Some(task) = gathered.get_mut(&id) {
            task.events.push(event);
        }
    }
    Ok(gathered)
}
