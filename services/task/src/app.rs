//! Opening the task service: settings, database and migrations, the writer
//! task, the unit directory, and the tonic service to mount.

use anyhow::Context;
use tasknet_auth::AuditLog;
use tasknet_directory::UnitDirectory;
use tasknet_proto::tonic::server::NamedService;
use tasknet_proto::tonic::service::Routes;
use tasknet_proto::v1::task_service_server::TaskServiceServer;
use tasknet_server::{ClientOptions, ServiceApp, Shutdown};
use tasknet_storage::{Database, DatabaseOptions};
use tokio::task::JoinHandle;

use crate::service::TaskGrpc;
use crate::state::ServiceState;
use crate::store::{self, MIGRATIONS};
use crate::writer::{DEFAULT_MAX_BATCH, Writer};

/// How long open streams may take to stop after shutdown.
const STOP_LIMIT: std::time::Duration = std::time::Duration::from_secs(10);
/// Largest request accepted: a task mutation is a few kilobytes at most.
const MAX_DECODING_MESSAGE_BYTES: usize = 1024 * 1024;
/// Largest response sent (change batches are cut at 2 MiB).
const MAX_ENCODING_MESSAGE_BYTES: usize = 8 * 1024 * 1024;

#[derive(Debug, Clone)]
pub struct TaskSettings {
    /// `sqlite://…` or `postgres://…`.
    pub database_url: String,
    pub database: DatabaseOptions,
    /// Where the organisation service listens (`http://host:port`).
    pub organisation_endpoint: String,
    /// Most mutations per writer transaction.
    pub max_batch: usize,
    /// How this service authenticates to the organisation service (its
    /// SERVICE credential).
    pub client: ClientOptions,
}

impl TaskSettings {
    /// Settings with default pool options and batch size.
    pub fn new(database_url: impl Into<String>, organisation_endpoint: impl Into<String>) -> Self {
        Self {
            database_url: database_url.into(),
            database: DatabaseOptions::default(),
            organisation_endpoint: organisation_endpoint.into(),
            max_batch: DEFAULT_MAX_BATCH,
            client: ClientOptions::default(),
        }
    }
}

/// The running task service.
pub struct TaskApp {
    database: Database,
    state: ServiceState,
    writer: JoinHandle<()>,
}

impl TaskApp {
    /// Connects, migrates, and starts the writer (which stops when `shutdown` fires).
    pub async fn open(settings: &TaskSettings, shutdown: Shutdown) -> anyhow::Result<Self> {
        let database = Database::open(&settings.database_url, &settings.database, &MIGRATIONS)
            .await
            .context("failed to open the task database")?;
        let directory =
            UnitDirectory::connect_lazy_with(&settings.organisation_endpoint, &settings.client)?;
        let head = store::query::head_cursor(database.pool())
            .await
            .context("failed to read the change log")?;
        let spawned = Writer::spawn(database.clone(), settings.max_batch, shutdown.clone());
        tracing::info!(head, max_batch = settings.max_batch, "task service ready");
        let state = ServiceState::new(
            database.pool().clone(),
            spawned.handle,
            spawned.newest,
            directory,
            shutdown,
        );
        Ok(Self {
            database,
            state,
            writer: spawned.task,
        })
    }

    /// The tonic service to add to a `tonic::service::Routes`.
    pub fn service(&self) -> TaskServiceServer<TaskGrpc> {
        TaskServiceServer::new(TaskGrpc::new(self.state.clone()))
            .max_decoding_message_size(MAX_DECODING_MESSAGE_BYTES)
            .max_encoding_message_size(MAX_ENCODING_MESSAGE_BYTES)
    }

    /// The service's audit log (for the auth layer's rejection records).
    pub fn audit_log(&self) -> AuditLog {
        self.state.audit.clone()
    }

    /// The database the service writes (for tools and tests).
    pub fn database(&self) -> &Database {
        &self.database
    }

    /// Waits for the streams and the writer to finish after shutdown, then
    /// closes the pool.
    pub async fn closed(self) {
        self.state.shutdown.finished(STOP_LIMIT).await;
        drop(self.state);
        if let Err(error) = self.writer.await {
            tracing::error!(%error, "the task writer panicked");
        }
        self.database.close().await;
    }
}

impl ServiceApp for TaskApp {
    fn name(&self) -> &'static str {
        NAME
    }

    fn add_to(&self, routes: Routes) -> Routes {
        routes.add_service(self.service())
    }

    fn audit_log(&self) -> AuditLog {
        self.state.audit.clone()
    }

    fn close(self: Box<Self>) -> std::pin::Pin<Box<dyn Future<Output = ()> + Send>> {
        Box::pin(self.closed())
    }
}

/// The fully qualified gRPC name, from the generated server.
pub(crate) const NAME: &str = <TaskServiceServer<TaskGrpc> as NamedService>::NAME;
