//! The agent as a library: open it on a configuration, submit updates (each
//! durable before `submit` returns), import files, read the status, and run
//! the pusher.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde::Serialize;
use tasknet_proto::tonic::transport::Endpoint;
use tasknet_server::Shutdown;
use tokio::sync::Notify;
use uuid::Uuid;

use crate::config::AgentConfig;
use crate::error::{Error, Result};
use crate::follow::Follower;
use crate::import::{self, ImportOptions, ImportReport};
use crate::lock::PusherLock;
use crate::outbox::{EntryState, FeedState, Outbox, OutboxEntry};
use crate::push::connect::{self, Credentials};
use crate::push::{PushReport, PushStats, Pusher, Until};
use crate::tasks::{self, Forecast, LocalTask};
use crate::update::{self, TaskName, Update};

/// Where the pusher stands, for `tasknet agent status`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AgentStatus {
    pub unit_id: String,
    pub endpoint: String,
    pub outbox: PathBuf,
    /// Entered and not yet acknowledged by the centre (`held` included).
    pub pending: u64,
    /// Pending updates waiting behind a parked update of the same task.
    pub held: u64,
    /// Acknowledged by the centre.
    pub sent: u64,
    /// Refused by the centre; waiting for the office to retry or discard them.
    pub parked: u64,
    pub discarded: u64,
    /// When the oldest pending update was entered.
    pub oldest_pending: Option<DateTime<Utc>>,
    pub oldest_pending_age_seconds: Option<i64>,
    pub last_error: Option<String>,
    pub last_error_at: Option<DateTime<Utc>>,
    /// When the centre last acknowledged an update.
    pub last_push: Option<DateTime<Utc>>,
    /// Whether a pusher (`tasknet agent run`, or a `--wait`) holds the outbox now.
    pub pusher_running: bool,
}

struct Inner {
    config: AgentConfig,
    unit_id: Uuid,
    outbox: Outbox,
    endpoint: Endpoint,
    credentials: Credentials,
    /// Wakes an idle pusher in this process when something is submitted.
    wake: Notify,
}

/// A provincial office's agent. Cheap to clone.
#[derive(Clone)]
pub struct Agent {
    inner: Arc<Inner>,
}

impl Agent {
    /// Opens (creating if needed) the outbox in the configured data directory.
    pub async fn open(config: AgentConfig) -> Result<Self> {
        let unit_id = tasknet_domain::error::parse_uuid("unit_id", &config.unit_id)?;
        let endpoint = connect::endpoint(&config)?;
        let credentials = Credentials::new(config.token.as_ref())?;
        let outbox = Outbox::open(&config.data_dir, unit_id).await?;
        Ok(Self {
            inner: Arc::new(Inner {
                config,
                unit_id,
                outbox,
                endpoint,
                credentials,
                wake: Notify::new(),
            }),
        })
    }

    pub fn config(&self) -> &AgentConfig {
        &self.inner.config
    }

    pub fn unit_id(&self) -> Uuid {
        self.inner.unit_id
    }

    /// The outbox database file.
    pub fn outbox_path(&self) -> &Path {
        self.inner.outbox.path()
    }

    /// Stores one update and returns its update id once it is on disk.
    pub async fn submit(&self, update: Update) -> Result<Uuid> {
        self.submit_from(update, "api").await
    }

    /// [`Agent::submit`] recording where the update came from (`cli`, …).
    pub async fn submit_from(&self, update: Update, source: &str) -> Result<Uuid> {
        let prepared = update::prepare(&update, self.inner.unit_id, Utc::now())?;
        self.inner
            .outbox
            .insert(std::slice::from_ref(&prepared), source, None)
            .await?;
        self.inner.wake.notify_one();
        Ok(prepared.update_id)
    }

    /// Stores several updates in one transaction, in the given order — all
    /// of them or, if one is invalid, none — and returns their update ids.
    pub async fn submit_batch(&self, updates: &[Update], source: &str) -> Result<Vec<Uuid>> {
        let now = Utc::now();
        let prepared = updates
            .iter()
            .map(|update| update::prepare(update, self.inner.unit_id, now))
            .collect::<Result<Vec<_>, _>>()?;
        self.inner.outbox.insert(&prepared, source, None).await?;
        self.inner.wake.notify_one();
        Ok(prepared.iter().map(|p| p.update_id).collect())
    }

    /// The task a name stands for: a task id, or a reference the office gave
    /// a task it created through this agent.
    pub async fn resolve_task(&self, name: &str) -> Result<Uuid> {
        let parsed = TaskName::parse(name)?;
        self.inner.outbox.resolve(&parsed).await?.ok_or_else(|| {
            Error::invalid(
                "task",
                format!("{name:?} is neither a task id nor a reference known to this agent"),
            )
        })
    }

    /// Imports a CSV file (format in docs/agent.md): every row, or none.
    pub async fn import_csv(&self, path: &Path, options: ImportOptions) -> Result<ImportReport> {
        let bytes = std::fs::read(path).map_err(|source| Error::Io {
            action: "read",
            path: path.to_owned(),
            source,
        })?;
        let name = path.file_name().map_or_else(
            || path.display().to_string(),
            |n| n.to_string_lossy().into_owned(),
        );
        self.import_bytes(&name, &bytes, options).await
    }

    /// [`Agent::import_csv`] of content already read; `name` names it in messages.
    pub async fn import_bytes(
        &self,
        name: &str,
        bytes: &[u8],
        options: ImportOptions,
    ) -> Result<ImportReport> {
        let report =
            import::import(&self.inner.outbox, self.inner.unit_id, name, bytes, options).await?;
        self.inner.wake.notify_one();
        Ok(report)
    }

    pub async fn status(&self) -> Result<AgentStatus> {
        let counts = self.inner.outbox.counts().await?;
        let now = Utc::now();
        Ok(AgentStatus {
            unit_id: self.inner.unit_id.to_string(),
            endpoint: self.inner.config.endpoint.clone(),
            outbox: self.inner.outbox.path().to_owned(),
            pending: counts.pending,
            held: counts.held,
            sent: counts.sent,
            parked: counts.parked,
            discarded: counts.discarded,
            oldest_pending: counts.oldest_pending,
            oldest_pending_age_seconds: counts
                .oldest_pending
                .map(|at| (now - at).num_seconds().max(0)),
            last_error_at: counts.last_error.as_ref().map(|(at, _)| *at),
            last_error: counts.last_error.map(|(_, message)| message),
            last_push: counts.last_push,
            pusher_running: PusherLock::is_held(&self.inner.config.data_dir),
        })
    }

    /// Every entry of the outbox, in the office's order.
    pub async fn entries(&self) -> Result<Vec<OutboxEntry>> {
        self.inner.outbox.entries().await
    }

    pub async fn entry(&self, update_id: Uuid) -> Result<Option<OutboxEntry>> {
        self.inner.outbox.entry(update_id).await
    }

    /// Parked entries, oldest first, at most `limit`.
    pub async fn parked(&self, limit: usize) -> Result<Vec<OutboxEntry>> {
        self.inner
            .outbox
            .entries_in(EntryState::Parked, limit)
            .await
    }

    /// Sends a parked update again (after whatever the centre objected to
    /// was put right); its task's held updates follow it.
    pub async fn retry_parked(&self, update_id: Uuid) -> Result<()> {
        self.inner
            .outbox
            .resolve_parked(update_id, EntryState::Pending)
            .await?;
        self.inner.wake.notify_one();
        Ok(())
    }

    /// Gives up on a parked update; its task's held updates go on without it.
    pub async fn discard_parked(&self, update_id: Uuid) -> Result<()> {
        self.inner
            .outbox
            .resolve_parked(update_id, EntryState::Discarded)
            .await?;
        self.inner.wake.notify_one();
        Ok(())
    }

    /// The office's tasks as last seen from the centre, with its pending
    /// updates folded on top; by assigned date.
    pub async fn tasks(&self) -> Result<Vec<LocalTask>> {
        let outbox = &self.inner.outbox;
        let stored = outbox.stored_tasks().await?;
        let unseen = outbox.unseen_entries().await?;
        let references = outbox.references_by_task().await?;
        let today = tasknet_domain::vietnam_date(Utc::now());
        Ok(tasks::local_view(&stored, &unseen, &references, today))
    }

    /// What the centre will most likely answer `update`, judged on the
    /// local copy of the office's tasks and its pending updates. Stores nothing.
    pub async fn forecast(&self, update: &Update) -> Result<Forecast> {
        let prepared = update::prepare(update, self.inner.unit_id, Utc::now())?;
        let outbox = &self.inner.outbox;
        let task_id = prepared.task_id;
        let stored = outbox.stored_task(&task_id.to_string()).await?;
        let unseen = outbox.unseen_entries().await?;
        let entries: Vec<&OutboxEntry> = unseen
            .iter()
            .filter(|entry| entry.task_id == task_id)
            .collect();
        Ok(tasks::forecast(
            stored.as_ref(),
            &entries,
            &prepared.request,
        ))
    }

    /// How far the copy of the office's tasks follows the centre.
    pub async fn feed_state(&self) -> Result<FeedState> {
        self.inner.outbox.feed_state().await
    }

    /// Follows the centre's feed of the office's tasks into the local copy
    /// until `shutdown` fires.
    pub async fn follow_tasks(&self, shutdown: Shutdown) -> Result<()> {
        let follower = Follower {
            outbox: &self.inner.outbox,
            config: &self.inner.config,
            endpoint: &self.inner.endpoint,
            credentials: &self.inner.credentials,
            unit_id: self.inner.unit_id.to_string(),
        };
        follower.run(&shutdown).await
    }

    /// The daemon (`tasknet agent run`): pushes the outbox and follows the
    /// office's tasks until `shutdown` fires.
    pub async fn run(&self, shutdown: Shutdown) -> Result<PushReport> {
        let (report, ()) = tokio::try_join!(
            self.run_pusher(shutdown.clone()),
            self.follow_tasks(shutdown)
        )?;
        Ok(report)
    }

    /// Pushes until `shutdown` fires (the daemon). Fails at once with
    /// [`Error::PusherBusy`] if another pusher holds this outbox.
    pub async fn run_pusher(&self, shutdown: Shutdown) -> Result<PushReport> {
        self.push(Until::Shutdown, &shutdown).await
    }

    /// Pushes until nothing that can be sent is left (pending updates held
    /// behind parked ones stay), or until `shutdown` fires.
    pub async fn push_until_drained(&self, shutdown: Shutdown) -> Result<PushReport> {
        self.push(Until::Drained, &shutdown).await
    }

    async fn push(&self, until: Until, shutdown: &Shutdown) -> Result<PushReport> {
        let _lock = PusherLock::acquire(&self.inner.config.data_dir)?;
        let stats = PushStats::default();
        let pusher = Pusher {
            outbox: &self.inner.outbox,
            config: &self.inner.config,
            endpoint: &self.inner.endpoint,
            credentials: &self.inner.credentials,
            wake: &self.inner.wake,
            stats: &stats,
        };
        pusher.run(until, shutdown).await?;
        Ok(stats.report())
    }

    /// Closes the outbox (after any pusher has stopped).
    pub async fn close(self) {
        self.inner.outbox.close().await;
    }
}
