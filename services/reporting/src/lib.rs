//! The tasknet reporting service: a read model fed by the task service's
//! change log (`WatchChanges`), and the nationwide figures review meetings
//! read out — `StatusBreakdown` by unit category, region or unit against the
//! same period a year earlier, `PlanProgress`, and `GetSyncState`.

mod basis;
mod breakdown;
#[cfg(feature = "bulk-load")]
pub mod bulk_load;
mod catalog;
mod counts;
mod drill;
mod error;
mod follower;
mod metrics;
mod policy;
mod reports;
mod scorecard;
mod service;
mod store;
mod summary;
mod trajectory;
mod wait;

#[cfg(test)]
mod tests;

use anyhow::Context;
use tasknet_auth::AuditLog;
use tasknet_directory::UnitDirectory;
use tasknet_proto::tonic::server::NamedService;
use tasknet_proto::tonic::service::Routes;
use tasknet_proto::v1::reporting_service_server::ReportingServiceServer;
use tasknet_server::{ClientOptions, ServiceApp, Shutdown};
use tasknet_storage::DatabaseOptions;
use tokio::sync::watch;
use tokio::task::JoinHandle;

pub use breakdown::{NO_REGION_GROUP, UNKNOWN_GROUP};
pub use error::Error;
pub use policy::POLICY;
pub use scorecard::ScoreWeights;
pub use service::ReportingHandler;
pub use store::MIGRATIONS;

use follower::{FollowHealth, Follower};
use reports::Reports;
use store::ReadModel;

/// The fully qualified gRPC name, from the generated server.
pub const SERVICE_NAME: &str =
    <ReportingServiceServer<ReportingHandler<UnitDirectory>> as NamedService>::NAME;

/// Largest request accepted: report questions and notes are small.
const MAX_DECODING_MESSAGE_BYTES: usize = 64 * 1024;

#[derive(Debug, Clone)]
pub struct ReportingSettings {
    /// `sqlite://…` or `postgres://…`.
    pub database_url: String,
    pub database: DatabaseOptions,
    /// The task service whose change log is followed (`http://host:port`).
    pub task_endpoint: String,
    /// The organisation service that names units and regions.
    pub organisation_endpoint: String,
    /// How this service authenticates to the task and organisation
    /// services (its SERVICE credential).
    pub client: ClientOptions,
    /// The weights of the unit scorecards' score (`[scorecard]` in the
    /// configuration; docs/scorecards.md).
    pub score_weights: ScoreWeights,
}

/// The running reporting service: its database, the change-log follower and
/// the gRPC handlers.
pub struct ReportingApp {
    store: ReadModel,
    handler: ReportingHandler<UnitDirectory>,
    audit: AuditLog,
    applied: watch::Receiver<i64>,
    follower: JoinHandle<()>,
    follow_health: FollowHealth,
    stale_after: std::time::Duration,
    index: JoinHandle<()>,
}

impl ReportingApp {
    /// Connects and migrates the database, then starts following the task
    /// service's change log (until `shutdown` fires).
    pub async fn open(settings: &ReportingSettings, shutdown: Shutdown) -> anyhow::Result<Self> {
        settings
            .score_weights
            .validate()
            .map_err(|message| anyhow::anyhow!(message))?;
        let store = ReadModel::open(&settings.database_url, &settings.database)
            .await
            .context("failed to open the reporting database")?;
        let (cursor, _) = store
            .sync_state()
            .await
            .context("failed to read the reporting sync state")?;
        let directory =
            UnitDirectory::connect_lazy_with(&settings.organisation_endpoint, &settings.client)?;
        let channel = tasknet_server::connect_lazy_with(&settings.task_endpoint, &settings.client)
            .with_context(|| format!("invalid task endpoint {:?}", settings.task_endpoint))?;
        metrics::resumed(cursor);
        let (sender, applied) = watch::channel(cursor);
        let follow_health = FollowHealth::default();
        let follower = Follower::new(
            store.clone(),
            channel,
            sender,
            shutdown.clone(),
            follow_health.clone(),
        );
        let follower = shutdown.spawn(follower.run());
        // The SQL answers until the index is loaded; the load is not raced
        // against shutdown, the task is dropped with the runtime.
        let index = tokio::spawn({
            let store = store.clone();
            async move { store.keep_index_loaded().await }
        });
        let reports = Reports::new(store.clone(), directory, applied.clone())
            .with_weights(settings.score_weights);
        tracing::info!(
            cursor,
            "reporting read model opened; following the task change log"
        );
        let audit = AuditLog::new(store.pool().clone());
        Ok(Self {
            store,
            handler: ReportingHandler::new(reports, audit.clone()),
            audit,
            applied,
            follower,
            follow_health,
            stale_after: std::time::Duration::from_secs(30),
            index,
        })
    }

    /// The tonic service to add to a `tonic::service::Routes`.
    pub fn service(&self) -> ReportingServiceServer<ReportingHandler<UnitDirectory>> {
        ReportingServiceServer::new(self.handler.clone())
            .max_decoding_message_size(MAX_DECODING_MESSAGE_BYTES)
    }

    /// The service's audit log (for the auth layer's rejection records).
    pub fn audit_log(&self) -> AuditLog {
        self.audit.clone()
    }

    /// How long following the task change log may fail before the service
    /// reports NOT_SERVING (its figures are falling behind); 30 s unless set.
    pub fn with_follow_stale_after(mut self, limit: std::time::Duration) -> Self {
        self.stale_after = limit;
        self
    }

    /// Its health checks: the database, and following the task change log.
    fn checks(&self) -> tasknet_server::Readiness {
        let stale_after = self.stale_after;
        let follow = self.follow_health.clone();
        let following: tasknet_server::readiness::Check = std::sync::Arc::new(move || {
            let failing_for = follow.failing_for();
            crate::metrics::failing_for(failing_for);
            Box::pin(async move {
                match failing_for {
                    Some(failing) if failing > stale_after => Err(format!(
                        "cannot follow the task change log for {}s",
                        failing.as_secs()
                    )),
                    _ => Ok(()),
                }
            })
        });
        tasknet_server::Readiness::default()
            .with(
                SERVICE_NAME,
                std::sync::Arc::new(self.store.database().health_check()),
            )
            .with(SERVICE_NAME, following)
    }

    /// The change-log cursor the read model has applied.
    pub fn applied_cursor(&self) -> i64 {
        *self.applied.borrow()
    }

    /// Waits for the follower to stop (after shutdown), then closes the pool.
    pub async fn closed(self) {
        if let Err(error) = self.follower.await {
            tracing::error!(%error, "the change-log follower panicked");
        }
        self.index.abort();
        self.store.close().await;
    }
}

impl ServiceApp for ReportingApp {
    fn name(&self) -> &'static str {
        SERVICE_NAME
    }

    fn add_to(&self, routes: Routes) -> Routes {
        routes.add_service(self.service())
    }

    fn audit_log(&self) -> AuditLog {
        self.audit.clone()
    }

    fn readiness(&self) -> tasknet_server::Readiness {
        self.checks()
    }

    fn close(self: Box<Self>) -> std::pin::Pin<Box<dyn Future<Output = ()> + Send>> {
        Box::pin(self.closed())
    }
}
