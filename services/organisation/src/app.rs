//! The service as the `tasknet` binary composes it: settings, opening the
//! database, the tonic service, and closing.

use anyhow::Context;
use tasknet_proto::v1::organisation_service_server::OrganisationServiceServer;
use tasknet_server::Shutdown;
use tasknet_storage::{Database, DatabaseOptions};

use crate::service::Organisation;
use crate::store::Store;

/// What the organisation service needs to run.
#[derive(Debug, Clone)]
pub struct OrganisationSettings {
    /// `sqlite://…` or `postgres://…`.
    pub database_url: String,
    pub database: DatabaseOptions,
}

/// An opened organisation service: its database and its handlers.
#[derive(Debug, Clone)]
pub struct OrganisationApp {
    db: Database,
    service: Organisation,
}

impl OrganisationApp {
    /// Connects and migrates. The service has no background tasks, so
    /// `shutdown` is not needed beyond the server's own.
    pub async fn open(
        settings: &OrganisationSettings,
        _shutdown: Shutdown,
    ) -> anyhow::Result<Self> {
        let db = Database::open(
            &settings.database_url,
            &settings.database,
            &crate::MIGRATIONS,
        )
        .await
        .context("failed to open the organisation database")?;
        let service = Organisation::new(Store::new(db.clone()));
        Ok(Self { db, service })
    }

    /// The tonic service to add to a `tonic::service::Routes`.
    pub fn service(&self) -> OrganisationServiceServer<Organisation> {
        OrganisationServiceServer::new(self.service.clone())
    }

    /// Loads the built-in reference units (idempotent): (created, total).
    pub async fn load_reference_units(&self) -> anyhow::Result<(usize, usize)> {
        self.service
            .load_reference()
            .await
            .context("failed to load the reference units")
    }

    pub fn database(&self) -> &Database {
        &self.db
    }

    /// Closes the pool (there are no background tasks to wait for).
    pub async fn closed(self) {
        self.db.close().await;
    }
}
