//! How a system sets up authentication: the bootstrap credentials `tasknet
//! up` (and a lone organisation service) create on first start, the auth
//! layer in front of the services, and the credential task and reporting
//! use to call the others.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context;
use tasknet_auth::cache::CacheSettings;
use tasknet_auth::principal::Role;
use tasknet_auth::{
    AuditLog, AuthConfig, AuthLayer, Authenticate, CachedAuthenticator, Policy, Token,
};
use tasknet_organisation::OrganisationApp;
use tasknet_server::{ClientOptions, RemoteAuthenticator, ServiceApp};

use crate::config::Config;

pub use tasknet_organisation::{ADMIN_TOKEN_FILE, SERVICE_TOKEN_FILE};

/// The read-only dashboard credential `tasknet up` prints a sign-in link for.
pub const DASHBOARD_TOKEN_FILE: &str = "dashboard.token";

/// The bootstrap credentials of a credentials directory.
pub struct Bootstrap {
    pub admin_path: PathBuf,
    pub admin: Token,
    pub service: Token,
    /// A nationwide dashboard-reader: safe to print (it changes nothing).
    pub dashboard: Token,
}

/// Makes sure `dir` holds an active administrator and service credential
/// (mode 0600), creating them on first start.
pub async fn bootstrap(organisation: &OrganisationApp, dir: &Path) -> anyhow::Result<Bootstrap> {
    let admin_path = dir.join(ADMIN_TOKEN_FILE);
    let admin = organisation
        .ensure_credential(Role::Administrator, &admin_path)
        .await
        .context("failed to create the administrator credential")?;
    let service = organisation
        .ensure_credential(Role::Service, &dir.join(SERVICE_TOKEN_FILE))
        .await
        .context("failed to create the service credential")?;
    let dashboard = organisation
        .ensure_credential(Role::DashboardReader, &dir.join(DASHBOARD_TOKEN_FILE))
        .await
        .context("failed to create the dashboard credential")?;
    Ok(Bootstrap {
        admin_path,
        admin,
        service,
        dashboard,
    })
}

/// A lone organisation service's `--credentials-dir`: the one-time
/// bootstrap, unless `dir` already holds its tokens. A restart or another
/// replica finds the database bootstrapped and creates nothing.
pub async fn bootstrap_once(organisation: &OrganisationApp, dir: &Path) -> anyhow::Result<()> {
    if dir.join(ADMIN_TOKEN_FILE).is_file() {
        return Ok(());
    }
    match organisation.bootstrap(dir).await? {
        tasknet_organisation::Bootstrapped::Created { admin, .. } => {
            tracing::info!(admin = %admin.display(), "bootstrap: created the administrator and service credentials");
        }
        tasknet_organisation::Bootstrapped::AlreadyDone => tracing::info!(
            dir = %dir.display(),
            "the database already has its bootstrap credentials; none created"
        ),
    }
    Ok(())
}

/// Every service's policy table (a server refuses RPCs it has no row for).
pub fn policy() -> Policy {
    Policy::new()
        .with(tasknet_organisation::POLICY)
        .with(tasknet_task::POLICY)
        .with(tasknet_reporting::POLICY)
        .with(tasknet_notification::POLICY)
}

/// The auth layer of a server running `apps`, each keeping its audit log.
pub fn layer(
    config: &Config,
    authenticator: Arc<dyn Authenticate>,
    apps: &[Box<dyn ServiceApp>],
) -> AuthLayer {
    let audit: HashMap<String, AuditLog> = apps
        .iter()
        .map(|app| (app.name().to_owned(), app.audit_log()))
        .collect();
    AuthLayer::new(AuthConfig {
        authenticator,
        policy: policy(),
        rate: config.rate_limit(),
        audit,
    })
}

/// Authentication through the organisation service at `endpoint`, cached.
pub fn remote_authenticator(
    endpoint: &str,
    client: &ClientOptions,
) -> anyhow::Result<Arc<dyn Authenticate>> {
    let channel = tasknet_server::connect_lazy_with(endpoint, client)?;
    Ok(Arc::new(CachedAuthenticator::new(
        Arc::new(RemoteAuthenticator::new(channel)),
        CacheSettings::default(),
    )))
}

/// How task and reporting call the other services: their SERVICE
/// credential (`service_token`, else `credentials_dir/service.token`) and
/// TLS settings.
pub fn service_client(config: &Config) -> anyhow::Result<ClientOptions> {
    let token = match (&config.service_token, &config.credentials_dir) {
        (Some(token), _) => Token::new(token.clone()),
        (None, Some(dir)) => {
            let path = dir.join(SERVICE_TOKEN_FILE);
            Token::new(std::fs::read_to_string(&path).with_context(|| {
                format!("cannot read the service credential {}", path.display())
            })?)
        }
        (None, None) => anyhow::bail!(
            "this service needs a credential to call the others: set TASKNET_SERVICE_TOKEN \
             or --credentials-dir (where the organisation service wrote service.token)"
        ),
    };
    Ok(ClientOptions {
        token: Some(token),
        tls: config.client_tls()?,
    })
}
