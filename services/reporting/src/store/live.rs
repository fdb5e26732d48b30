//! The status index as the service holds it: loaded from the database at
//! start-up, then kept equal to the committed read model by the follower,
//! which hands it each batch's old and new segments after the commit and
//! before it publishes the batch's cursor (so `min_cursor` waits still mean
//! "my write is in the figures"). Until it is loaded, and whenever it cannot
//! vouch for being equal to the database, queries go to the SQL.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use sqlx::Row;
use tasknet_storage::Database;
use tokio::sync::Notify;

use super::index::{SegmentRow, StatusIndex};
use super::query::{StatusQuery, UnitCounts, UnitDaysLate};

/// One applied batch as the index needs it: the cursor stored before and
/// after it, and per changed task its segments before and after.
#[derive(Debug, Default)]
pub struct Delta {
    pub before: i64,
    pub after: i64,
    pub tasks: Vec<(Vec<SegmentRow>, Vec<SegmentRow>)>,
}

#[derive(Debug, Default)]
enum State {
    /// Not loaded (or dropped after a divergence): deltas are not needed.
    #[default]
    Idle,
    /// A load is reading a snapshot; deltas committed meanwhile wait here.
    Loading { pending: Vec<Delta> },
    /// Equal to the database at `cursor`.
    Ready { index: StatusIndex, cursor: i64 },
}

/// The shared handle (cheap to clone).
#[derive(Debug, Clone, Default)]
pub struct LiveIndex {
    state: Arc<RwLock<State>>,
    reload: Arc<Notify>,
}

/// What a load found, for the start-up log and the benchmark.
#[derive(Debug, Clone, Copy)]
pub struct Loaded {
    pub tasks: usize,
    pub entries: usize,
    pub cursor: i64,
}

impl LiveIndex {
    /// Counts from the index, or `None` if the SQL must answer.
    pub fn status_by_unit(&self, queries: &[StatusQuery]) -> Option<Vec<UnitCounts>> {
        let state = self.state.read().ok()?;
        match &*state {
            State::Ready { index, .. } => index.status_by_unit(queries),
            _ => None,
        }
    }

    /// Counts and days late from the index, read under one lock (so both
    /// describe the same state), or `None` if the SQL must answer.
    pub fn scorecard_by_unit(
        &self,
        queries: &[StatusQuery],
    ) -> Option<(Vec<UnitCounts>, Vec<UnitDaysLate>)> {
        let state = self.state.read().ok()?;
        match &*state {
            State::Ready { index, .. } => Some((
                index.status_by_unit(queries)?,
                index.days_late_by_unit(queries)?,
            )),
            _ => None,
        }
    }

    pub fn is_ready(&self) -> bool {
        matches!(self.state.read().as_deref(), Ok(State::Ready { .. }))
    }

    /// Takes in a committed batch (call after the commit, before publishing).
    pub fn apply(&self, delta: Delta) {
        let Ok(mut state) = self.state.write() else {
            return;
        };
        match &mut *state {
            State::Idle => {}
            State::Loading { pending } => pending.push(delta),
            State::Ready { index, cursor } => {
                if apply_to(index, cursor, &delta).is_err() {
                    // Another replica wrote to the database, or a bug: the
                    // SQL answers until a fresh load.
                    tracing::warn!(
                        before = delta.before,
                        at = *cursor,
                        "status index no longer matches the read model; reloading"
                    );
                    *state = State::Idle;
                    self.reload.notify_one();
                }
            }
        }
    }

    /// Loads the index from the database (queries use the SQL meanwhile).
    pub async fn load(&self, database: &Database) -> Result<Loaded, sqlx::Error> {
        if let Ok(mut state) = self.state.write() {
            *state = State::Loading {
                pending: Vec::new(),
            };
        }
        let loaded = match super::snapshot::read(database).await {
            Ok(loaded) => loaded,
            Err(error) => {
                if let Ok(mut state) = self.state.write() {
                    *state = State::Idle;
                }
                return Err(error);
            }
        };
        let super::snapshot::Snapshot {
            mut index,
            mut cursor,
            tasks,
        } = loaded;
        let Ok(mut state) = self.state.write() else {
            return Err(sqlx::Error::Protocol("status index lock poisoned".into()));
        };
        let pending = match std::mem::take(&mut *state) {
            State::Loading { pending } => pending,
            _ => Vec::new(),
        };
        // Batches committed before the snapshot are in it already.
        let snapshot = cursor;
        for delta in pending.iter().filter(|delta| delta.after > snapshot) {
            if apply_to(&mut index, &mut cursor, delta).is_err() {
                tracing::warn!("status index missed a batch while loading; reloading");
                self.reload.notify_one();
                return Err(sqlx::Error::Protocol("status index diverged".into()));
            }
        }
        let entries = index.entries();
        *state = State::Ready { index, cursor };
        Ok(Loaded {
            tasks,
            entries,
            cursor,
        })
    }

    /// Loads, then reloads whenever the index drops out, until `stop` ends.
    pub async fn keep_loaded(&self, database: Database) {
        loop {
            let started = std::time::Instant::now();
            match self.load(&database).await {
                Ok(loaded) => {
                    crate::metrics::index_loaded(loaded.entries, started.elapsed());
                    tracing::info!(
                        tasks = loaded.tasks,
                        entries = loaded.entries,
                        cursor = loaded.cursor,
                        seconds = started.elapsed().as_secs_f64(),
                        "status index loaded"
                    )
                }
                Err(error) => {
                    tracing::warn!(%error, "loading the status index failed; SQL answers meanwhile");
                    tokio::time::sleep(std::time::Duration::from_secs(5)).await;
                    continue;
                }
            }
            self.reload.notified().await;
        }
    }

    #[cfg(test)]
    pub fn canonical(&self) -> Option<(i64, super::index::Canonical)> {
        match &*self.state.read().ok()? {
            State::Ready { index, cursor } => Some((*cursor, index.canonical())),
            _ => None,
        }
    }
}

/// Applies `delta` if it follows on from `cursor`.
fn apply_to(
    index: &mut StatusIndex,
    cursor: &mut i64,
    delta: &Delta,
) -> Result<(), super::index::Diverged> {
    if delta.before != *cursor {
        return Err(super::index::Diverged);
    }
    for (old, new) in &delta.tasks {
        index.remove_task(old)?;
        index.add_task(new)?;
    }
    *cursor = delta.after;
    Ok(())
}

/// A `SegmentRow` from the columns `seg_from, seg_until, assignee_unit_id,
/// assigned_date, deadline, completed_on` starting at `first`.
pub fn segment_from_row(row: &sqlx::any::AnyRow, first: usize) -> Result<SegmentRow, sqlx::Error> {
    Ok(SegmentRow {
        from: row.try_get(first)?,
        until: row.try_get(first + 1)?,
        unit: row.try_get(first + 2)?,
        assigned: row.try_get(first + 3)?,
        deadline: row.try_get(first + 4)?,
        completed: row.try_get(first + 5)?,
    })
}

/// Groups rows of `task_id, <segment columns>` by task, each sorted by `seg_from`.
pub fn group_by_task(
    rows: &[sqlx::any::AnyRow],
) -> Result<HashMap<String, Vec<SegmentRow>>, sqlx::Error> {
    let mut tasks: HashMap<String, Vec<SegmentRow>> = HashMap::new();
    for row in rows {
        tasks
            .entry(row.try_get(0)?)
            .or_default()
            .push(segment_from_row(row, 1)?);
    }
    for segments in tasks.values_mut() {
        segments.sort_by_key(|segment| segment.from);
    }
    Ok(tasks)
}
