//! The one writer: every mutation goes through a queue to a single task that
//! applies whatever is queued in one transaction (group commit), appends the
//! change log in the same transaction, commits once, then answers each
//! request and tells change-log followers the newest cursor. Batches are
//! pipelined: while one commits, the next is cut from what queued meanwhile
//! and, on PostgreSQL, its reads run beside the commit, the committing
//! batch's writes laid over them (see [`Previous`]).

pub mod decide;
mod histories;

use std::sync::Arc;

use chrono::Utc;
use tasknet_proto::v1;
use tasknet_server::Shutdown;
use tasknet_storage::Database;
use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::JoinHandle;

use crate::access::Access;
use crate::command::Mutation;
use crate::error::{Error, Result};
use crate::model::{PlanRecord, micros};
use crate::store::batch;
use crate::store::portable::PortableStore;
use crate::store::seam::{self, BatchKeys, BatchStore, BatchTransaction, Prefetched, ReadAhead};
use crate::store::typed::TypedStore;
use decide::{CursorRef, Pending};
use histories::HistoryCache;

/// The default bound on mutations per transaction. A batch is whatever
/// queued while the previous one committed (an idle writer commits a single
/// mutation at once, a busy one thousands); the bound only caps the memory
/// and statement size of one batch. Large batches make a busy writer's
/// commits touch each hot index page once for many mutations. It stays at
/// 2,048 until a benchmark on a quiet machine shows a larger one pays: the
/// writer's queue is four times the bound, and at 8,192 the task service's
/// peak memory under ingest rose by a quarter.
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
    /// The database, for the tests' checks of what was written.
    #[cfg(test)]
    database: Database,
    /// Where batches are read and written: typed on PostgreSQL, portable SQL
    /// on SQLite.
    store: Box<dyn BatchStore>,
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

/// A batch cut from the queue, with what was read for it while the batch
/// before it committed (on PostgreSQL).
struct Prepared {
    jobs: Vec<Job>,
    ahead: Option<ReadAhead>,
}

/// What the previous batch did, as far as reads made during it are concerned.
enum Previous {
    /// Committed in one transaction: these writes, to overlay on reads made
    /// before they were visible.
    Committed(Overlay),
    /// Failed, or written in several transactions: reads made meanwhile are
    /// read again under the lock.
    Unknown,
}

/// A committed batch's writes, as the next batch's reads need them.
struct Overlay {
    cursors: Vec<i64>,
    tasks: Vec<crate::model::TaskState>,
    /// With their cursors.
    applied: Vec<batch::AppliedRecord>,
    plans: Vec<PlanRecord>,
}

impl Previous {
    /// Whether reads made from `head` on, with this batch's writes laid over
    /// them, are the state now: nothing but this batch committed after
    /// `head` (`committed_since` is the count of changes after it, read under
    /// the writers' lock).
    fn explains(&self, head: i64, committed_since: i64) -> bool {
        match self {
            Self::Committed(overlay) => {
                let ours = overlay
                    .cursors
                    .iter()
                    .filter(|&&cursor| cursor > head)
                    .count();
                i64::try_from(ours).is_ok_and(|ours| ours == committed_since)
            }
            Self::Unknown => false,
        }
    }

    /// Lays this batch's writes over reads that may have missed them, for
    /// the ids `keys` names.
    fn overlay(&self, prefetched: &mut Prefetched, keys: &BatchKeys) {
        let Self::Committed(overlay) = self else {
            return;
        };
        let named = |ids: &[String], id: &str| ids.binary_search_by(|x| x.as_str().cmp(id)).is_ok();
        for task in &overlay.tasks {
            if named(&keys.task_ids, &task.id) {
                prefetched.tasks.insert(task.id.clone(), task.clone());
            }
        }
        for record in &overlay.applied {
            if named(&keys.update_ids, &record.update_id) {
                prefetched
                    .applied
                    .insert(record.update_id.clone(), record.clone());
            }
        }
        for plan in &overlay.plans {
            if named(&keys.plan_ids, &plan.id) {
                prefetched.plans.insert(plan.id.clone(), plan.clone());
            }
        }
    }
}

impl Writer {
    pub fn new(database: Database, max_batch: usize) -> (Self, watch::Receiver<i64>) {
        let (newest, receiver) = watch::channel(0);
        let store: Box<dyn BatchStore> = match database.postgres_pool() {
            Some(pool) => Box::new(TypedStore::new(pool.clone())),
            None => Box::new(PortableStore::new(
                database.pool().clone(),
                database.backend(),
            )),
        };
        let writer = Self {
            #[cfg(test)]
            database,
            store,
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

    /// The pipeline: while one batch commits, the next is cut from whatever
    /// has queued meanwhile and its reads run beside the commit; after
    /// shutdown, what was accepted into the queue is still applied.
    async fn run(self, mut receiver: mpsc::Receiver<Job>, shutdown: Shutdown) {
        let mut stopping = false;
        let mut previous = Previous::Unknown;
        let mut next: Option<Prepared> = None;
        loop {
            if !stopping && shutdown.is_triggered() {
                // Refuse new work, but finish what was accepted into the queue.
                stopping = true;
                receiver.close();
            }
            let batch = match next.take() {
                Some(batch) => batch,
                None => {
                    let first = if stopping {
                        receiver.recv().await
                    } else {
                        tokio::select! {
                            job = receiver.recv() => job,
                            () = shutdown.wait() => None,
                        }
                    };
                    match first {
                        Some(first) => Prepared {
                            jobs: self.gather(first, &mut receiver),
                            ahead: None,
                        },
                        None if stopping => break,
                        None => {
                            stopping = true;
                            receiver.close();
                            continue;
                        }
                    }
                }
            };
            (previous, next) = self
                .process_while_preparing(batch, &previous, &mut receiver)
                .await;
        }
        tracing::debug!("task writer stopped");
    }

    /// Applies `batch`; if more mutations arrive meanwhile, cuts the next
    /// batch from everything then waiting and reads what it names beside
    /// the commit.
    async fn process_while_preparing(
        &self,
        batch: Prepared,
        previous: &Previous,
        receiver: &mut mpsc::Receiver<Job>,
    ) -> (Previous, Option<Prepared>) {
        let process = self.process(batch, previous);
        tokio::pin!(process);
        let first = tokio::select! {
            biased;
            done = &mut process => return (done, None),
            job = receiver.recv() => job,
        };
        let Some(first) = first else {
            return (process.await, None);
        };
        let jobs = self.gather(first, receiver);
        let keys = self.keys(jobs.iter().map(|job| &job.mutation));
        let Some(read) = self.store.read_ahead(&keys) else {
            return (process.await, Some(Prepared { jobs, ahead: None }));
        };
        let (done, ahead) = tokio::join!(process, read);
        let ahead = ahead
            .inspect_err(|error| {
                tracing::debug!(%error, "reading ahead failed; the batch reads in its transaction");
            })
            .ok();
        (done, Some(Prepared { jobs, ahead }))
    }

    /// The first job plus whatever else is queued, up to the batch limit:
    /// a batch is as large as what waited while the previous one committed.
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

    async fn process(&self, batch: Prepared, previous: &Previous) -> Previous {
        let (mutations, replies): (Vec<Item>, Vec<Reply>) = batch
            .jobs
            .into_iter()
            .map(|job| ((job.mutation, job.access), job.reply))
            .unzip();
        let (outcomes, done) = match self.apply(&mutations, batch.ahead, previous).await {
            Ok((outcomes, overlay)) => (outcomes, Previous::Committed(overlay)),
            Err(error) if mutations.len() > 1 && refused_by_database(&error) => {
                tracing::warn!(%error, size = mutations.len(), "batch refused; applying one by one");
                (self.apply_one_by_one(&mutations).await, Previous::Unknown)
            }
            Err(error) => {
                log_failure(&error);
                let failed = mutations.iter().map(|_| Err(unavailable())).collect();
                (failed, Previous::Unknown)
            }
        };
        let accepted = outcomes.iter().filter(|outcome| outcome.is_ok()).count();
        crate::metrics::answered(accepted, outcomes.len() - accepted);
        for (reply, outcome) in replies.into_iter().zip(outcomes) {
            // A requester that went away no longer needs its answer.
            let _ = reply.send(outcome);
        }
        done
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

    /// Applies a batch in one transaction, reading in it. `Err` means
    /// nothing was committed.
    pub async fn apply_batch(&self, mutations: &[Item]) -> Result<Vec<Result<Outcome>>> {
        let (outcomes, _) = self.apply(mutations, None, &Previous::Unknown).await?;
        Ok(outcomes)
    }

    /// The ids `mutations` name; the histories to read are those of the
    /// tasks they change that the writer does not keep.
    fn keys<'a>(&self, mutations: impl Iterator<Item = &'a Mutation>) -> BatchKeys {
        let mut keys = BatchKeys::default();
        for mutation in mutations {
            match mutation {
                Mutation::CreateTask(create) => {
                    keys.update_ids.push(create.update_id.clone());
                    keys.task_ids.push(create.task_id.clone());
                }
                Mutation::UpdateTask(update) => {
                    keys.update_ids.push(update.update_id.clone());
                    keys.task_ids.push(update.task_id.clone());
                    keys.history_task_ids.push(update.task_id.clone());
                }
                Mutation::CreatePlan(create) => keys.plan_ids.push(create.plan.id.clone()),
                Mutation::Reassign(reassign) => {
                    keys.update_ids.push(reassign.update_id.clone());
                    keys.task_ids.push(reassign.task_id.clone());
                    keys.history_task_ids.push(reassign.task_id.clone());
                }
            }
        }
        for ids in [
            &mut keys.update_ids,
            &mut keys.task_ids,
            &mut keys.history_task_ids,
            &mut keys.plan_ids,
        ] {
            ids.sort_unstable();
            ids.dedup();
        }
        self.histories.retain_unkept(&mut keys.history_task_ids);
        keys
    }

    /// Applies a batch in one transaction, from what was read ahead of it if
    /// that is still the state (see [`Previous::explains`]), else from reads
    /// in the transaction. `Err` means nothing was committed.
    async fn apply(
        &self,
        mutations: &[Item],
        ahead: Option<ReadAhead>,
        previous: &Previous,
    ) -> Result<(Vec<Result<Outcome>>, Overlay)> {
        let started = std::time::Instant::now();
        let (mut transaction, committed_since) = self
            .store
            .begin(ahead.as_ref().map(|ahead| ahead.head))
            .await?;
        let locked = started.elapsed();
        let ahead = ahead.filter(|ahead| previous.explains(ahead.head, committed_since));
        let read_ahead = ahead.is_some();
        let keys = self.keys(mutations.iter().map(|(mutation, _)| mutation));
        let mut prefetched = match ahead {
            Some(ahead) => {
                let mut prefetched = ahead.prefetched;
                previous.overlay(&mut prefetched, &keys);
                prefetched
            }
            None => transaction.read(&keys).await?,
        };
        self.complete_histories(transaction.as_mut(), mutations, &mut prefetched)
            .await?;
        let read = started.elapsed();
        let (pending, mut writes, changed) =
            decide::decide(mutations, prefetched, micros(Utc::now()));
        let decided = started.elapsed();
        let cursors = transaction.write(&mut writes).await?;
        let written = started.elapsed();
        transaction.commit().await?;
        self.histories.keep(changed);
        let elapsed = started.elapsed();
        // Where a batch's time goes (RUST_LOG=tasknet_task::writer=debug):
        // the profile in BENCHMARKS.md is read from these.
        tracing::debug!(
            size = mutations.len(),
            read_ahead,
            lock_us = locked.as_micros() as u64,
            read_us = (read - locked).as_micros() as u64,
            decide_us = (decided - read).as_micros() as u64,
            write_us = (written - decided).as_micros() as u64,
            commit_us = (elapsed - written).as_micros() as u64,
            "batch committed"
        );
        crate::metrics::committed(mutations.len(), elapsed, cursors.last().copied());
        if let Some(&newest) = cursors.last() {
            self.newest.send_replace(newest);
        }
        let outcomes = pending
            .into_iter()
            .map(|pending| pending.and_then(|pending| resolve(pending, &cursors)))
            .collect();
        let overlay = Overlay {
            cursors,
            tasks: writes.tasks,
            applied: writes.applied,
            plans: writes.plans,
        };
        Ok((outcomes, overlay))
    }

    /// Gives `prefetched` the history of every existing task the batch
    /// changes: kept by the writer at the task's current version, else as
    /// read; those read nowhere (a kept history gone stale) are read now.
    async fn complete_histories(
        &self,
        transaction: &mut dyn BatchTransaction,
        mutations: &[Item],
        prefetched: &mut Prefetched,
    ) -> Result<()> {
        let mut changed: Vec<String> = mutations
            .iter()
            .filter_map(|(mutation, _)| match mutation {
                Mutation::UpdateTask(update) => Some(update.task_id.clone()),
                Mutation::Reassign(reassign) => Some(reassign.task_id.clone()),
                Mutation::CreateTask(_) | Mutation::CreatePlan(_) => None,
            })
            .filter(|id| prefetched.tasks.contains_key(id))
            .collect();
        changed.sort_unstable();
        changed.dedup();
        let tasks = &prefetched.tasks;
        let kept = self
            .histories
            .take_current(&mut changed, |id| tasks.get(id).map(|task| task.version));
        prefetched.histories.extend(kept);
        changed.retain(|id| !prefetched.histories.contains_key(id));
        if !changed.is_empty() {
            let keys = BatchKeys {
                history_task_ids: changed,
                ..BatchKeys::default()
            };
            prefetched
                .histories
                .extend(transaction.read(&keys).await?.histories);
        }
        Ok(())
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
                CursorRef::New(index) => seam::change_cursor(cursors, index)?,
            },
            duplicate,
            task,
        }),
        Pending::Plan { plan, duplicate } => Outcome::Plan { plan, duplicate },
    })
}

#[cfg(test)]
mod tests;
