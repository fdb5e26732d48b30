//! Applying one batch of change-log entries, and the cursor it reaches, in
//! one transaction: a restart of either side then neither loses nor doubles
//! a change, and entries at or below the stored cursor are ignored.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use sqlx::{Any, AnyConnection, Connection, Row, Transaction};
use tasknet_domain::{TaskTimeline, date_from_storage, date_to_storage};
use tasknet_proto::v1;
use tasknet_storage::Backend;

use super::assignees::{self, Reassignment};
use super::decode::{Decoded, PlanRow, StatusEvent, TaskRow, decode};
use super::index::{SEGMENT_END, SEGMENT_START, SegmentRow};
use super::live::{Delta, LiveIndex, group_by_task};
use super::sql::{Param, in_list_statements, insert_rows, query_with};

/// Applies `changes` (in cursor order) and returns the cursor now stored;
/// `index` gets the batch after the commit, before the caller publishes it.
pub async fn apply_batch(
    connection: &mut AnyConnection,
    changes: &[v1::Change],
    now: DateTime<Utc>,
    index: &LiveIndex,
) -> Result<i64, sqlx::Error> {
    let mut tx = connection.begin().await?;
    tasknet_storage::writer::keyed_reads_only(&mut tx).await?;
    let stored = lock_cursor(&mut tx).await?;
    let fresh = fresh_changes(changes, stored);
    let Some(last) = fresh.last().map(|change| change.cursor) else {
        // Everything was applied before (a re-delivery after a restart).
        tx.rollback().await?;
        // Tells the index where the database is (it reloads if behind).
        index.apply(Delta {
            before: stored,
            after: stored,
            tasks: Vec::new(),
        });
        return Ok(stored);
    };
    let decoded = decode_all(&fresh);
    let mut batch = Batch::load(&mut tx, &decoded).await?;
    for entry in decoded {
        batch.apply(entry);
    }
    let tasks = batch.write(&mut tx).await?;
    super::timeline::record(&mut tx, &fresh).await?;
    sqlx::query(
        "UPDATE sync_state SET applied_cursor = $1, last_applied_time_us = $2 WHERE id = 1",
    )
    .bind(last)
    .bind(now.timestamp_micros())
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    index.apply(Delta {
        before: stored,
        after: last,
        tasks,
    });
    Ok(last)
}

/// Reads the stored cursor while taking the write lock on it, so that two
/// followers on one database (replicas) apply each batch once, in turn.
async fn lock_cursor(tx: &mut Transaction<'_, Any>) -> Result<i64, sqlx::Error> {
    let row = sqlx::query(
        "UPDATE sync_state SET applied_cursor = applied_cursor WHERE id = 1 \
         RETURNING applied_cursor",
    )
    .fetch_one(&mut **tx)
    .await?;
    row.try_get(0)
}

/// The entries past `stored`, strictly increasing (a repeat inside a batch is dropped).
fn fresh_changes(changes: &[v1::Change], stored: i64) -> Vec<&v1::Change> {
    let mut last = stored;
    let mut fresh = Vec::with_capacity(changes.len());
    for change in changes {
        if change.cursor > last {
            last = change.cursor;
            fresh.push(change);
        }
    }
    fresh
}

fn decode_all(changes: &[&v1::Change]) -> Vec<Decoded> {
    changes
        .iter()
        .filter_map(|change| match decode(change) {
            Ok(decoded) => Some(decoded),
            Err(error) => {
                // Stopping here would stall reporting for everyone on one bad
                // entry; the entry cannot be repaired downstream either.
                tracing::error!(cursor = change.cursor, %error, "skipping a malformed change");
                None
            }
        })
        .collect()
}

/// A task as the batch sees it: stored state plus this batch's changes.
struct TaskState {
    row: TaskRow,
    /// In cursor (acceptance) order.
    events: Vec<StatusEvent>,
    /// The units a reorganisation passed it to, in cursor order.
    reassignments: Vec<Reassignment>,
    /// Whether it has segments in the database already.
    stored: bool,
    dirty: bool,
}

/// Everything a batch reads once and writes once.
#[derive(Default)]
struct Batch {
    tasks: HashMap<String, TaskState>,
    plans: Vec<PlanRow>,
    new_tasks: Vec<String>,
    new_memberships: Vec<(String, String)>,
    new_events: Vec<(String, StatusEvent)>,
    new_reassignments: Vec<(String, Reassignment)>,
}

impl Batch {
    /// Reads the stored rows and events of every task the batch touches.
    async fn load(tx: &mut Transaction<'_, Any>, decoded: &[Decoded]) -> Result<Self, sqlx::Error> {
        let mut ids: Vec<String> = decoded
            .iter()
            .filter_map(|entry| match entry {
                Decoded::Task { task_id, .. } | Decoded::Reassigned { task_id, .. } => {
                    Some(task_id.clone())
                }
                _ => None,
            })
            .collect();
        ids.sort_unstable();
        ids.dedup();
        let mut batch = Self::default();
        load_tasks(tx, &ids, &mut batch.tasks).await?;
        load_events(tx, &ids, &mut batch.tasks).await?;
        load_reassignments(tx, &ids, &mut batch.tasks).await?;
        Ok(batch)
    }

    fn apply(&mut self, entry: Decoded) {
        match entry {
            Decoded::Plan(plan) => self.plans.push(plan),
            Decoded::Task {
                task_id,
                snapshot,
                plan_ids,
                created,
                event,
            } => self.apply_task(task_id, snapshot, plan_ids, created, event),
            Decoded::Reassigned {
                task_id,
                mut snapshot,
                plan_ids,
                previous_assignee_unit_id,
                reassignment,
            } => {
                // Known tasks keep their row; for one the read model never saw
                // created, the row names the unit it came from.
                if !previous_assignee_unit_id.is_empty() {
                    snapshot.assignee_unit_id = previous_assignee_unit_id;
                }
                self.apply_task(task_id.clone(), snapshot, plan_ids, false, None);
                if let Some(state) = self.tasks.get_mut(&task_id) {
                    state.reassignments.push(reassignment.clone());
                    state.dirty = true;
                    self.new_reassignments.push((task_id, reassignment));
                }
            }
            Decoded::Nothing => {}
        }
    }

    fn apply_task(
        &mut self,
        task_id: String,
        snapshot: TaskRow,
        plan_ids: Vec<String>,
        created: bool,
        event: Option<StatusEvent>,
    ) {
        if !self.tasks.contains_key(&task_id) {
            if !created {
                // Only possible if the log lost the creation; the snapshot is
                // the best account of the task there is.
                tracing::warn!(%task_id, "update of a task the read model has not seen created");
            }
            self.new_tasks.push(task_id.clone());
            self.new_memberships
                .extend(plan_ids.into_iter().map(|plan| (plan, task_id.clone())));
            let state = TaskState {
                row: snapshot,
                events: Vec::new(),
                reassignments: Vec::new(),
                stored: false,
                dirty: true,
            };
            self.tasks.insert(task_id.clone(), state);
        }
        if let (Some(event), Some(state)) = (event, self.tasks.get_mut(&task_id)) {
            state.events.push(event);
            state.dirty = true;
            self.new_events.push((task_id, event));
        }
    }

    /// Writes the batch; returns each changed task's old and new segments.
    async fn write(self, tx: &mut Transaction<'_, Any>) -> Result<Vec<SegmentChange>, sqlx::Error> {
        let connection: &mut AnyConnection = tx;
        insert_rows(
            connection,
            "INSERT INTO rpt_plans (id, name, kind, owner_unit_id, period_start, period_end, create_time_us)",
            "ON CONFLICT (id) DO NOTHING",
            &self.plans.iter().map(plan_params).collect::<Vec<_>>(),
        )
        .await?;
        self.write_tasks(connection).await?;
        self.write_segments(connection).await
    }

    async fn write_tasks(&self, connection: &mut AnyConnection) -> Result<(), sqlx::Error> {
        let rows: Vec<Vec<Param>> = self
            .new_tasks
            .iter()
            .filter_map(|id| self.tasks.get(id).map(|state| task_params(id, &state.row)))
            .collect();
        insert_rows(
            connection,
            "INSERT INTO rpt_tasks (task_id, assignee_unit_id, assigned_date, initial_deadline, title)",
            "ON CONFLICT (task_id) DO NOTHING",
            &rows,
        )
        .await?;
        let memberships: Vec<Vec<Param>> = self
            .new_memberships
            .iter()
            .map(|(plan, task)| vec![Param::Text(plan.clone()), Param::Text(task.clone())])
            .collect();
        insert_rows(
            connection,
            "INSERT INTO rpt_task_plans (plan_id, task_id)",
            "ON CONFLICT (plan_id, task_id) DO NOTHING",
            &memberships,
        )
        .await?;
        let events: Vec<Vec<Param>> = self
            .new_events
            .iter()
            .map(|(task, event)| event_params(task, event))
            .collect();
        insert_rows(
            connection,
            "INSERT INTO rpt_task_events (task_id, cursor, kind, effective_date, new_deadline)",
            "ON CONFLICT (task_id, cursor) DO NOTHING",
            &events,
        )
        .await?;
        let reassignments: Vec<Vec<Param>> = self
            .new_reassignments
            .iter()
            .map(|(task, reassignment)| {
                vec![
                    Param::Text(task.clone()),
                    Param::Int(reassignment.cursor),
                    Param::Int(date_to_storage(reassignment.effective)),
                    Param::Text(reassignment.assignee.clone()),
                ]
            })
            .collect();
        insert_rows(
            connection,
            "INSERT INTO rpt_task_assignees (task_id, cursor, effective_date, assignee_unit_id)",
            "ON CONFLICT (task_id, cursor) DO NOTHING",
            &reassignments,
        )
        .await
    }

    /// Replaces the segments of every task this batch changed.
    async fn write_segments(
        &self,
        connection: &mut AnyConnection,
    ) -> Result<Vec<SegmentChange>, sqlx::Error> {
        let replaced: Vec<String> = self
            .tasks
            .iter()
            .filter(|(_, state)| state.dirty && state.stored)
            .map(|(id, _)| id.clone())
            .collect();
        // The index removes exactly what the database deletes.
        let mut old = HashMap::new();
        for (sql, params) in in_list_statements(
            Backend::of(connection),
            "SELECT task_id, seg_from, seg_until, assignee_unit_id, assigned_date, deadline, \
             completed_on FROM rpt_segments WHERE task_id",
            "",
            &[],
            &replaced,
        ) {
            let rows = query_with(&sql, &params)
                .fetch_all(&mut *connection)
                .await?;
            old.extend(group_by_task(&rows)?);
        }
        for (sql, params) in in_list_statements(
            Backend::of(connection),
            "DELETE FROM rpt_segments WHERE task_id",
            "",
            &[],
            &replaced,
        ) {
            query_with(&sql, &params).execute(&mut *connection).await?;
        }
        let mut rows: Vec<Vec<Param>> = Vec::new();
        let mut changes = Vec::new();
        for (id, state) in self.tasks.iter().filter(|(_, state)| state.dirty) {
            let new = segments(state);
            rows.extend(new.iter().map(|segment| segment_params(id, segment)));
            changes.push((old.remove(id).unwrap_or_default(), new));
        }
        insert_rows(
            connection,
            "INSERT INTO rpt_segments (task_id, seg_from, seg_until, assignee_unit_id, \
             assigned_date, deadline, completed_on)",
            "",
            &rows,
        )
        .await?;
        Ok(changes)
    }
}

async fn load_tasks(
    tx: &mut Transaction<'_, Any>,
    ids: &[String],
    tasks: &mut HashMap<String, TaskState>,
) -> Result<(), sqlx::Error> {
    let select = "SELECT task_id, assignee_unit_id, assigned_date, initial_deadline, title \
                  FROM rpt_tasks WHERE task_id";
    for (sql, params) in in_list_statements(Backend::of(tx), select, "", &[], ids) {
        for row in query_with(&sql, &params).fetch_all(&mut **tx).await? {
            let id: String = row.try_get(0)?;
            let assigned: i64 = row.try_get(2)?;
            let deadline: i64 = row.try_get(3)?;
            let (Some(assigned_date), Some(initial_deadline)) =
                (date_from_storage(assigned), date_from_storage(deadline))
            else {
                return Err(corrupt(format!("rpt_tasks row {id} has an invalid date")));
            };
            let row = TaskRow {
                assignee_unit_id: row.try_get(1)?,
                title: row.try_get(4)?,
                assigned_date,
                initial_deadline,
            };
            let state = TaskState {
                row,
                events: Vec::new(),
                reassignments: Vec::new(),
                stored: true,
                dirty: false,
            };
            tasks.insert(id, state);
        }
    }
    Ok(())
}

async fn load_events(
    tx: &mut Transaction<'_, Any>,
    ids: &[String],
    tasks: &mut HashMap<String, TaskState>,
) -> Result<(), sqlx::Error> {
    let select = "SELECT task_id, cursor, kind, effective_date, new_deadline \
                  FROM rpt_task_events WHERE task_id";
    for (sql, params) in in_list_statements(
        Backend::of(tx),
        select,
        "ORDER BY task_id, cursor",
        &[],
        ids,
    ) {
        for row in query_with(&sql, &params).fetch_all(&mut **tx).await? {
            let id: String = row.try_get(0)?;
            let event = StatusEvent::from_storage(
                row.try_get(1)?,
                row.try_get(2)?,
                row.try_get(3)?,
                row.try_get(4)?,
            )
            .ok_or_else(|| corrupt(format!("rpt_task_events row of {id} is invalid")))?;
            if let Some(state) = tasks.get_mut(&id) {
                state.events.push(event);
            }
        }
    }
    Ok(())
}

async fn load_reassignments(
    tx: &mut Transaction<'_, Any>,
    ids: &[String],
    tasks: &mut HashMap<String, TaskState>,
) -> Result<(), sqlx::Error> {
    let select = "SELECT task_id, cursor, effective_date, assignee_unit_id \
                  FROM rpt_task_assignees WHERE task_id";
    for (sql, params) in in_list_statements(
        Backend::of(tx),
        select,
        "ORDER BY task_id, cursor",
        &[],
        ids,
    ) {
        for row in query_with(&sql, &params).fetch_all(&mut **tx).await? {
            let id: String = row.try_get(0)?;
            let effective = date_from_storage(row.try_get(2)?)
                .ok_or_else(|| corrupt(format!("rpt_task_assignees row of {id} is invalid")))?;
            if let Some(state) = tasks.get_mut(&id) {
                state.reassignments.push(Reassignment {
                    cursor: row.try_get(1)?,
                    effective,
                    assignee: row.try_get(3)?,
                });
            }
        }
    }
    Ok(())
}

fn corrupt(message: String) -> sqlx::Error {
    sqlx::Error::Protocol(message)
}

fn plan_params(plan: &PlanRow) -> Vec<Param> {
    vec![
        Param::Text(plan.id.clone()),
        Param::Text(plan.name.clone()),
        Param::Int(plan.kind),
        Param::Text(plan.owner_unit_id.clone()),
        Param::Int(plan.period_start),
        Param::Int(plan.period_end),
        Param::Int(plan.create_time_us),
    ]
}

fn task_params(id: &str, row: &TaskRow) -> Vec<Param> {
    vec![
        Param::Text(id.to_owned()),
        Param::Text(row.assignee_unit_id.clone()),
        Param::Int(date_to_storage(row.assigned_date)),
        Param::Int(date_to_storage(row.initial_deadline)),
        Param::Text(row.title.clone()),
    ]
}

fn event_params(task_id: &str, event: &StatusEvent) -> Vec<Param> {
    vec![
        Param::Text(task_id.to_owned()),
        Param::Int(event.cursor),
        Param::Int(event.storage_kind()),
        Param::Int(date_to_storage(event.effective)),
        Param::OptionalInt(event.storage_new_deadline()),
    ]
}

/// A changed task's segments before and after the batch.
type SegmentChange = (Vec<SegmentRow>, Vec<SegmentRow>);

fn segment_params(task_id: &str, segment: &SegmentRow) -> Vec<Param> {
    vec![
        Param::Text(task_id.to_owned()),
        Param::Int(segment.from),
        Param::Int(segment.until),
        Param::Text(segment.unit.clone()),
        Param::Int(segment.assigned),
        Param::Int(segment.deadline),
        Param::OptionalInt(segment.completed),
    ]
}

/// The task's timeline as segment rows, sorted by `from`.
fn segments(state: &TaskState) -> Vec<SegmentRow> {
    let timeline = TaskTimeline {
        initial_deadline: state.row.initial_deadline,
        events: state
            .events
            .iter()
            .filter_map(StatusEvent::timeline_event)
            .collect(),
    };
    let mut rows = Vec::new();
    for segment in timeline.segments() {
        let from = segment.from.map_or(SEGMENT_START, date_to_storage);
        let until = segment.until.map_or(SEGMENT_END, date_to_storage);
        let initial = state.row.assignee_unit_id.as_str();
        // One row per holder of the task while the segment's state held.
        for piece in assignees::split(from, until, initial, &state.reassignments) {
            rows.push(SegmentRow {
                from: piece.from,
                until: piece.until,
                unit: piece.assignee.to_owned(),
                assigned: date_to_storage(state.row.assigned_date),
                deadline: date_to_storage(segment.state.deadline),
                completed: segment.state.completed_on.map(date_to_storage),
            });
        }
    }
    rows
}
