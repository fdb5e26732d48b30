//! The seam between the task writer and its database: what a batch reads
//! (everything its mutations name, by key) and writes (its rows), behind a
//! trait with two implementations — [`super::portable`], today's portable
//! SQL through sqlx's `Any` driver (SQLite), and [`super::typed`], the native
//! PostgreSQL driver with array binds (`UNNEST`, `= ANY($1)`). The writer
//! decides in memory between the two (docs/design.md, "Typed PostgreSQL
//! paths").

use std::collections::HashMap;

use futures::future::BoxFuture;
use tasknet_auth::AuditEntry;
use tasknet_domain::TaskHistory;

use super::batch::{AppliedRecord, NewChange};
use crate::error::{Error, Result};
use crate::model::{PlanRecord, TaskState};

/// A store operation in flight.
pub type StoreFuture<'a, T> = BoxFuture<'a, Result<T>>;

/// The ids a batch names, sorted and without repeats.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BatchKeys {
    pub update_ids: Vec<String>,
    pub task_ids: Vec<String>,
    /// The tasks whose change-log histories to read: those the batch
    /// changes, less those whose histories the writer keeps.
    pub history_task_ids: Vec<String>,
    pub plan_ids: Vec<String>,
}

/// The state a batch starts from: what the database holds for the ids it names.
#[derive(Debug, Default)]
pub struct Prefetched {
    pub applied: HashMap<String, AppliedRecord>,
    pub tasks: HashMap<String, TaskState>,
    /// The accepted changes of the tasks the batch updates, in arrival order.
    pub histories: HashMap<String, TaskHistory>,
    pub plans: HashMap<String, PlanRecord>,
}

/// What was read ahead of a batch's transaction, and the newest cursor
/// committed before the reads began: a change committed after it that the
/// writer did not make itself means the reads may be stale.
#[derive(Debug, Default)]
pub struct ReadAhead {
    pub head: i64,
    pub prefetched: Prefetched,
}

/// The rows a batch writes.
#[derive(Debug, Default)]
pub struct Writes {
    pub changes: Vec<NewChange>,
    /// Idempotency records; `cursor` holds the index of their change until
    /// the cursors are known ([`Writes::resolve_applied`]).
    pub applied: Vec<AppliedRecord>,
    /// The final state of every task the batch changed, in first-touch order.
    pub tasks: Vec<TaskState>,
    pub memberships: Vec<(String, String)>,
    pub plans: Vec<PlanRecord>,
    /// The audit record of each accepted change, written in the same transaction.
    pub audit: Vec<AuditEntry>,
}

impl Writes {
    /// Replaces each idempotency record's change index by the cursor the
    /// change log gave that change.
    pub fn resolve_applied(&mut self, cursors: &[i64]) -> Result<()> {
        for record in &mut self.applied {
            record.cursor = change_cursor(cursors, record.cursor as usize)?;
        }
        Ok(())
    }
}

/// The cursor of the `index`-th change of a batch.
pub fn change_cursor(cursors: &[i64], index: usize) -> Result<i64> {
    cursors
        .get(index)
        .copied()
        .ok_or_else(|| Error::Internal(format!("no cursor for change {index} of the batch")))
}

/// Where the writer reads and writes its batches.
pub trait BatchStore: Send + Sync {
    /// Opens a batch's transaction with the writers' lock held (so change-log
    /// cursors commit in cursor order). With `since`, also counts the changes
    /// committed after that cursor, as seen under the lock.
    fn begin(&self, since: Option<i64>) -> StoreFuture<'_, (Box<dyn BatchTransaction>, i64)>;

    /// Reads what `keys` name on a connection of its own, outside any batch
    /// transaction, so that it can run while another batch commits; `None`
    /// when this store reads only inside the batch's transaction.
    fn read_ahead<'a>(&'a self, keys: &'a BatchKeys) -> Option<StoreFuture<'a, ReadAhead>>;
}

/// One batch's transaction. Dropped without [`BatchTransaction::commit`], it
/// rolls back (its connection is closed, not reused).
pub trait BatchTransaction: Send {
    /// Reads what `keys` name.
    fn read<'a>(&'a mut self, keys: &'a BatchKeys) -> StoreFuture<'a, Prefetched>;

    /// Writes a batch's rows and returns the cursors of its changes, in
    /// order; the idempotency records get their cursors on the way.
    fn write<'a>(&'a mut self, writes: &'a mut Writes) -> StoreFuture<'a, Vec<i64>>;

    /// Commits durably.
    fn commit(self: Box<Self>) -> StoreFuture<'static, ()>;
}
