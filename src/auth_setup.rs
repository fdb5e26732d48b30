//! How the `tasknet` binary sets up authentication: the bootstrap
//! credentials `tasknet up` (and a lone organisation service) create on
//! first start, the auth layer in front of the services, and the
//! credential task and reporting use to call the others.

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
use tasknet_server::{ClientOptions, RemoteAuthenticator};

use crate::config::Config;

/// The administrator's token file in a credentials directory.
pub const ADMIN_TOKEN_FILE: &str = "admin.token";
/// The services' own token file in a credentials directory.
pub const SERVICE_TOKEN_FILE: &str = "service.token";

/// The read-only dashboard credential `tasknet up` prints a sign-in link for.
pub const DASHBOARD_TOKEN_FILE: &str = "dashboard.token";

/// The bootstrap credentials of a credentials directory.
pub struct Bootstrap {
    pub admin_path: PathBuf,
    pub service: Token,
    /// A nationwide dashboard-reader: safe to print (it changes nothing).
    pub dashboard: Token,
}

/// Makes sure `dir` holds an active administrator and service credential
/// (mode 0600), creating them on first start.
pub async fn bootstrap(organisation: &OrganisationApp, dir: &Path) -> anyhow::Result<Bootstrap> {
    let admin_path = dir.join(ADMIN_TOKEN_FILE);
    organisation
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
        service,
        dashboard,
    })
}

/// Every service's policy table (a server refuses RPCs it has no row for).
pub fn policy() -> Policy {
    Policy::new()
        .with(tasknet_organisation::POLICY)
        .with(tasknet_task::POLICY)
        .with(tasknet_reporting::POLICY)
}

/// The auth layer of a server whose services keep the given audit logs.
pub fn layer(
    config: &Config,
    authenticator: Arc<dyn Authenticate>,
    audits: &[(&str, AuditLog)],
) -> AuthLayer {
    let audit: HashMap<String, AuditLog> = audits
        .iter()
        .map(|(name, log)| ((*name).to_owned(), log.clone()))
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
