//! The service as the `tasknet` binary composes it: settings, opening the
//! database, the tonic service, the authenticator other services on the
//! same server use, bootstrap credentials, and closing.

use std::path::Path;
use std::sync::Arc;

use anyhow::Context;
use tasknet_auth::cache::CacheSettings;
use tasknet_auth::principal::{Role, role_name};
use tasknet_auth::{AuditEntry, AuditLog, Authenticate, CachedAuthenticator, Token};
use tasknet_proto::tonic::server::NamedService;
use tasknet_proto::tonic::service::Routes;
use tasknet_proto::v1::organisation_service_server::OrganisationServiceServer;
use tasknet_server::{ServiceApp, Shutdown};
use tasknet_storage::{Database, DatabaseOptions};

use crate::credentials::{Credentials, NewCredential};
use crate::service::Organisation;
use crate::store::Store;

/// Largest request accepted: units and credential requests are small.
const MAX_DECODING_MESSAGE_BYTES: usize = 256 * 1024;

/// What the organisation service needs to run.
#[derive(Debug, Clone)]
pub struct OrganisationSettings {
    /// `sqlite://…` or `postgres://…`.
    pub database_url: String,
    pub database: DatabaseOptions,
}

/// An opened organisation service: its database and its handlers.
#[derive(Clone)]
pub struct OrganisationApp {
    db: Database,
    service: Organisation,
    credentials: Credentials,
    authenticator: Arc<CachedAuthenticator>,
    audit: AuditLog,
}

impl std::fmt::Debug for OrganisationApp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OrganisationApp").finish_non_exhaustive()
    }
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
        let credentials = Credentials::new(db.clone());
        let audit = AuditLog::new(db.pool().clone());
        let service = Organisation::new(Store::new(db.clone()), credentials.clone(), audit.clone());
        let authenticator = Arc::new(CachedAuthenticator::new(
            Arc::new(credentials.clone()),
            CacheSettings::default(),
        ));
        Ok(Self {
            db,
            service,
            credentials,
            authenticator,
            audit,
        })
    }

    /// The tonic service to add to a `tonic::service::Routes`.
    pub fn service(&self) -> OrganisationServiceServer<Organisation> {
        OrganisationServiceServer::new(self.service.clone())
            .max_decoding_message_size(MAX_DECODING_MESSAGE_BYTES)
    }

    /// Checks tokens against this service's credentials (cached): what the
    /// auth layer of a server running this service uses.
    pub fn authenticator(&self) -> Arc<dyn Authenticate> {
        self.authenticator.clone()
    }

    /// The service's audit log (for the auth layer's rejection records).
    pub fn audit_log(&self) -> AuditLog {
        self.audit.clone()
    }

    /// The token in `path` if it is an active credential of `role`;
    /// otherwise a new credential of `role` (no unit), its token written to
    /// `path` readable by its owner only (mode 0600). How `tasknet up`
    /// creates its administrator and service credentials on first start.
    pub async fn ensure_credential(&self, role: Role, path: &Path) -> anyhow::Result<Token> {
        if let Ok(text) = std::fs::read_to_string(path) {
            let token = Token::new(text);
            if self.credentials.is_active(token.expose(), role).await? {
                return Ok(token);
            }
            tracing::warn!(path = %path.display(), "the stored credential is no longer active; issuing a new one");
        }
        let new = NewCredential {
            unit_id: None,
            role,
            label: format!("{} (created at first start)", role_name(role)),
            expire_time_us: None,
        };
        let audit = AuditEntry {
            outcome: tasknet_proto::v1::AuditOutcome::Accepted as i32,
            rpc: "bootstrap".to_owned(),
            time_us: chrono::Utc::now().timestamp_micros(),
            ..AuditEntry::default()
        };
        let (credential, token) = self.credentials.issue(&new, "", Some(audit)).await?;
        write_secret(path, &token)?;
        tracing::info!(credential_id = %credential.id, role = role_name(role), path = %path.display(), "created a credential");
        Ok(Token::new(token))
    }

    /// Loads the built-in reference units (idempotent): (created, total).
    pub async fn load_reference_units(&self) -> anyhow::Result<(usize, usize)> {
        self.service
            .load_reference(None)
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

impl ServiceApp for OrganisationApp {
    fn name(&self) -> &'static str {
        crate::SERVICE_NAME
    }

    fn add_to(&self, routes: Routes) -> Routes {
        routes.add_service(self.service())
    }

    fn audit_log(&self) -> AuditLog {
        self.audit.clone()
    }

    fn close(self: Box<Self>) -> std::pin::Pin<Box<dyn Future<Output = ()> + Send>> {
        Box::pin(self.closed())
    }
}

/// The fully qualified gRPC name, from the generated server.
pub(crate) const NAME: &str = <OrganisationServiceServer<Organisation> as NamedService>::NAME;

/// Writes a secret to a file only its owner can read.
pub fn write_secret(path: &Path, secret: &str) -> anyhow::Result<()> {
    use std::io::Write;
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("cannot create {}", parent.display()))?;
    }
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options
        .open(path)
        .with_context(|| format!("cannot write {}", path.display()))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        // An older file keeps its mode on open; tighten it.
        file.set_permissions(std::fs::Permissions::from_mode(0o600))?;
    }
    writeln!(file, "{secret}").with_context(|| format!("cannot write {}", path.display()))?;
    Ok(())
}
