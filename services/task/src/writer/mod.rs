//! The one writer: every mutation goes through a queue to a single task that
//! applies whatever is queued in one transaction (group commit), appends the
//! change log in the same transaction, commits once, then answers each
//! request and tells change-log followers the newest cursor.

pub mod decide;
mod histories;

use std::sync::Arc;

use chrono::Utc;
use sqlx::{AnyConnection, Connection};
use tasknet_proto::v1;
use tasknet_server::Shutdown;
use tasknet_storage::Database;
use tasknet_storage::writer::KeptConnection;
use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::JoinHandle;

use crate::access::Access;
use crate::command::Mutation;
use crate::error::{Error, Result};
use crate::model::{PlanRecord, micros};
use crate::store::{self, batch};
use decide::{CursorRef, Pending, Prefetched, Writes};
use histories::HistoryCache;

/// The default and usual largest number of mutations per transaction. Large
/// enough that a busy writer's commits touch each hot index page once for
/// many mutations (the write volume per mutation falls as batches grow);
/// an idle writer commits whatever single mutation arrives at once.
pub const DEFAULT_MAX_BATCH: usize = 2048;

/// An applied (or repeated) task mutation.
#[derive(Debug, Clone, PartialEq)]
pub struct TaskAck {
    pub version: i64,
    pub cursor: i64,
    pub duplicate: bool,
    /// The task after the change; `None` for duplicates (read it from the
    /// change log at `cursor`).
    pub task: Option<v1::Task>,
}

/// What the writer answers for one mutation.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    Task(TaskAck),
    Plan { plan: PlanRecord, duplicate: bool },
}

type Reply = oneshot::Sender<Result<Outcome>>;

/// A mutation and who asked for it.
pub type Item = (Mutation, Arc<Access>);

struct Job {
    mutation: Mutation,
    /// Who asked: checked against the state as of the batch, and audited.
    access: Arc<Access>,
    reply: Reply,
}

/// Submits mutations to the writer. Cheap to clone.
#[derive(Clone)]
pub struct WriterHandle {
    sender: mpsc::Sender<Job>,
}

/// The receiving end of one queued mutation.
pub type OutcomeReceiver = oneshot::Receiver<Result<Outcome>>;

impl WriterHandle {
    /// Queues a mutation (waiting while the queue is full) and returns where
    /// its outcome will arrive once its batch has committed. Mutations queued
    /// one after another are applied in that order.
    pub async fn enqueue(
        &self,
        mutation: Mutation,
        access: Arc<Access>,
    ) -> Result<OutcomeReceiver> {
        let (reply, receiver) = oneshot::channel();
        self.sender
            .send(Job {
                mutation,
                access,
                reply,
            })
            .await
            .map_err(|_| stopped())?;
        Ok(receiver)
    }

    /// Queues a mutation and waits for its outcome.
    pub async fn submit(&self, mutation: Mutation, access: Arc<Access>) -> Result<Outcome> {
        wait(self.enqueue(mutation, access).await?).await
    }
}

/// Waits for a queued mutation's outcome.
pub async fn wait(receiver: OutcomeReceiver) -> Result<Outcome> {
    receiver.await.map_err(|_| stopped())?
}

fn stopped() -> Error {
    Error::Unavailable("the task writer is shutting down; retry".to_owned())
}

/// The writer task's state.
pub struct Writer {
    database: Database,
    /// The connection every batch is written through, kept across batches.
    connection: KeptConnection,
    max_batch: usize,
    newest: watch::Sender<i64>,
    /// The histories of the tasks recent batches changed.
    histories: HistoryCache,
}

/// A running writer: its handle, the newest committed cursor, and its task.
pub struct SpawnedWriter {
    pub handle: WriterHandle,
    pub newest: watch::Receiver<i64>,
    pub task: JoinHandle<()>,
}

impl Writer {
    pub fn new(database: Database, max_batch: usize) -> (Self, watch::Receiver<i64>) {
        let (newest, receiver) = watch::channel(0);
        let writer = Self {
            database,
            connection: KeptConnection::default(),
            max_batch: max_batch.max(1),
            newest,
            histories: HistoryCache::default(),
        };
        (writer, receiver)
    }

    /// Starts the writer; it stops when `shutdown` fires, after applying
    /// what is already queued.
    pub fn spawn(database: Database, max_batch: usize, shutdown: Shutdown) -> SpawnedWriter {
        let (writer, newest) = Self::new(database, max_batch);
        let (sender, receiver) = mpsc::channel(writer.max_batch.saturating_mul(4).max(64));
        let task = shutdown.spawn(writer.run(receiver, shutdown.clone()));
        SpawnedWriter {
            handle: WriterHandle { sender },
            newest,
            task,
        }
    }

    async fn run(self, mut receiver: mpsc::Receiver<Job>, shutdown: Shutdown) {
        loop {
            let first = tokio::select! {
                job = receiver.recv() => job,
                () = shutdown.wait() => None,
            };
            let Some(first) = first else { break };
            let batch = self.gather(first, &mut receiver);
            self.process(batch).await;
        }
        // Refuse new work, but finish what was accepted into the queue.
        receiver.close();
        while let Some(first) = receiver.recv().await {
            let batch = self.gather(first, &mut receiver);
            self.process(batch).await;
        }
        tracing::debug!("task writer stopped");
    }

    /// The first job plus whatever else is queued, up to the batch limit.
    fn gather(&self, first: Job, receiver: &mut mpsc::Receiver<Job>) -> Vec<Job> {
        let mut batch = vec![first];
        while batch.len() < self.max_batch {
            match receiver.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        batch
    }

    async fn process(&self, jobs: Vec<Job>) {
        let (mutations, replies): (Vec<Item>, Vec<Reply>) = jobs
            .into_iter()
            .map(|job| ((job.mutation, job.access), job.reply))
            .unzip();
        let outcomes = match self.apply_batch(&mutations).await {
            Ok(outcomes) => outcomes,
            Err(error) if mutations.len() > 1 && refused_by_database(&error) => {
                tracing::warn!(%error, size = mutations.len(), "batch refused; applying one by one");
                self.apply_one_by_one(&mutations).await
            }
            Err(error) => {
                log_failure(&error);
                mutations.iter().map(|_| Err(unavailable())).collect()
            }
        };
        let accepted = outcomes.iter().filter(|outcome| outcome.is_ok()).count();
        crate::metrics::answered(accepted, outcomes.len() - accepted);
        for (reply, outcome) in replies.into_iter().zip(outcomes) {
            // A requester that went away no longer needs its answer.
            let _ = reply.send(outcome);
        }
    }

    /// After the database refused a batch: each mutation in a transaction of
    /// its own, so that one mutation the database refuses cannot fail every
    /// batch it lands in. A failure of another kind (the database is down)
    /// stops this, and the rest are answered UNAVAILABLE without trying.
    async fn apply_one_by_one(&self, mutations: &[Item]) -> Vec<Result<Outcome>> {
        let mut outcomes = Vec::with_capacity(mutations.len());
        let mut database_down = false;
        for mutation in mutations {
            if database_down {
                outcomes.push(Err(unavailable()));
                continue;
            }
            match self.apply_batch(std::slice::from_ref(mutation)).await {
                Ok(mut single) => outcomes.push(
                    single
                        .pop()
                        .unwrap_or_else(|| Err(Error::Internal("empty batch result".into()))),
                ),
                Err(error) => {
                    database_down = !refused_by_database(&error);
                    log_failure(&error);
                    outcomes.push(Err(unavailable()));
                }
            }
        }
        outcomes
    }

    /// Applies a batch as an unrestricted caller (tests).
    #[cfg(test)]
    pub async fn apply_unrestricted(&self, mutations: &[Mutation]) -> Result<Vec<Result<Outcome>>> {
        let access = Access::unrestricted();
        let items: Vec<Item> = mutations
            .iter()
            .map(|mutation| (mutation.clone(), access.clone()))
            .collect();
        self.apply_batch(&items).await
    }

    /// Applies a batch in one transaction. `Err` means nothing was committed.
    pub async fn apply_batch(&self, mutations: &[Item]) -> Result<Vec<Result<Outcome>>> {
        let mut kept = self.connection.take(self.database.pool()).await?;
        let result = self.apply_on(kept.connection(), mutations).await;
        if result.is_ok() {
            kept.keep();
        }
        result
    }

    async fn apply_on(
        &self,
        connection: &mut AnyConnection,
        mutations: &[Item],
    ) -> Result<Vec<Result<Outcome>>> {
        // SQLite: take the write lock first. A deferred transaction that reads
        // and then writes fails at once (SQLITE_BUSY_SNAPSHOT, no busy wait)
        // if another connection wrote meanwhile, as the audit log's
        // rejection records may.
        let started = std::time::Instant::now();
        let mut transaction = match self.database.backend() {
            tasknet_storage::Backend::Sqlite => connection.begin_with("BEGIN IMMEDIATE").await?,
            tasknet_storage::Backend::Postgres => connection.begin().await?,
        };
        batch::lock_writers(&mut transaction, self.database.backend()).await?;
        let prefetched = prefetch(&mut transaction, mutations, &self.histories).await?;
        let (pending, writes, changed) = decide::decide(mutations, prefetched, micros(Utc::now()));
        let cursors = write(&mut transaction, writes).await?;
        transaction.commit().await?;
        self.histories.keep(changed);
        crate::metrics::committed(mutations.len(), started.elapsed(), cursors.last().copied());
        if let Some(&newest) = cursors.last() {
            self.newest.send_replace(newest);
        }
        Ok(pending
            .into_iter()
            .map(|pending| pending.and_then(|pending| resolve(pending, &cursors)))
            .collect())
    }
}

/// Whether the database itself refused a statement (a constraint, a value
/// it cannot store), as opposed to being unreachable.
fn refused_by_database(error: &Error) -> bool {
    matches!(error, Error::Database(sqlx::Error::Database(_)))
}

fn log_failure(error: &Error) {
    tracing::error!(%error, cause = ?error, "task write batch failed");
}

/// Clients see a failed batch as a transient failure: retrying is safe,
/// because applied update ids are recognised.
fn unavailable() -> Error {
    Error::Unavailable("the task database did not accept the change; retry".to_owned())
}

/// Reads every record the batch names, in a few statements; the histories
/// of tasks a recent batch changed come from `kept` while still current.
async fn prefetch(
    connection: &mut sqlx::AnyConnection,
    mutations: &[Item],
    kept: &HistoryCache,
) -> Result<Prefetched> {
    let mut update_ids = Vec::new();
    let mut task_ids = Vec::new();
    let mut update_task_ids = Vec::new();
    let mut plan_ids = Vec::new();
    for (mutation, _) in mutations {
        match mutation {
            Mutation::CreateTask(create) => {
                update_ids.push(create.update_id.clone());
                task_ids.push(create.task_id.clone());
            }
            Mutation::UpdateTask(update) => {
                update_ids.push(update.update_id.clone());
                task_ids.push(update.task_id.clone());
                update_task_ids.push(update.task_id.clone());
            }
            Mutation::CreatePlan(create) => plan_ids.push(create.plan.id.clone()),
            Mutation::Reassign(reassign) => {
                update_ids.push(reassign.update_id.clone());
                task_ids.push(reassign.task_id.clone());
                update_task_ids.push(reassign.task_id.clone());
            }
        }
    }
    for ids in [&mut update_ids, &mut task_ids, &mut plan_ids] {
        ids.sort_unstable();
        ids.dedup();
    }
    let tasks = store::load_tasks(connection, &task_ids).await?;
    // Histories only of tasks that exist and are changed: creations need none.
    update_task_ids.retain(|id| tasks.contains_key(id));
    update_task_ids.sort_unstable();
    update_task_ids.dedup();
    let mut histories = kept.take_current(&mut update_task_ids, |id| {
        tasks.get(id).map(|task| task.version)
    });
    histories.extend(store::load_histories(connection, &update_task_ids).await?);
    Ok(Prefetched {
        applied: batch::load_applied(connection, &update_ids).await?,
        histories,
        tasks,
        plans: store::load_plans(connection, &plan_ids).await?,
    })
}

/// Writes a batch's rows and returns the cursors of its changes, in order.
async fn write(connection: &mut sqlx::AnyConnection, mut writes: Writes) -> Result<Vec<i64>> {
    for plan in &writes.plans {
        batch::insert_plan(connection, plan).await?;
    }
    let cursors = batch::insert_changes(connection, &writes.changes).await?;
    for record in &mut writes.applied {
        record.cursor = change_cursor(&cursors, record.cursor as usize)?;
    }
    batch::insert_applied(connection, &writes.applied).await?;
    let tasks: Vec<_> = writes.tasks.iter().collect();
    batch::upsert_tasks(connection, &tasks).await?;
    batch::insert_memberships(connection, &writes.memberships).await?;
    tasknet_auth::audit::insert(connection, &writes.audit).await?;
    Ok(cursors)
}

fn change_cursor(cursors: &[i64], index: usize) -> Result<i64> {
    cursors
        .get(index)
        .copied()
        .ok_or_else(|| Error::Internal(format!("no cursor for change {index} of the batch")))
}

fn resolve(pending: Pending, cursors: &[i64]) -> Result<Outcome> {
    Ok(match pending {
        Pending::Task {
            version,
            cursor,
            duplicate,
            task,
        } => Outcome::Task(TaskAck {
            version,
            cursor: match cursor {
                CursorRef::Known(cursor) => cursor,
                CursorRef::New(index) => change_cursor(cursors, index)?,
            },
            duplicate,
            task,
        }),
        Pending::Plan { plan, duplicate } => Outcome::Plan { plan, duplicate },
    })
}

#[cfg(test)]
mod tests;
