//! Starting a system: bind the listener, open the chosen services on the
//! configuration, bootstrap credentials, put the auth layer in front, serve
//! until stopped, then let every service finish its background work.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context;
use tasknet_auth::{AuthLayer, Authenticate, Token};
use tasknet_notification::NotificationApp;
use tasknet_organisation::{OrganisationApp, OrganisationSettings};
use tasknet_proto::tonic::service::Routes;
use tasknet_reporting::{ReportingApp, ReportingSettings};
use tasknet_server::{ClientOptions, GrpcServer, Readiness, ServeOptions, ServiceApp, Shutdown};
use tasknet_task::{TaskApp, TaskSettings};
use tokio::task::JoinHandle;

use crate::config::Config;
use crate::credentials;

/// One of the four services.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServiceKind {
    Organisation,
    Task,
    Reporting,
    Notification,
}

impl ServiceKind {
    /// Its lower-case name: its SQLite file and PostgreSQL schema.
    pub fn label(self) -> &'static str {
        match self {
            ServiceKind::Organisation => "organisation",
            ServiceKind::Task => "task",
            ServiceKind::Reporting => "reporting",
            ServiceKind::Notification => "notification",
        }
    }
}

/// Which services a system runs behind its one listener.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Services {
    /// All four, reaching each other over gRPC at the system's own
    /// endpoint (`tasknet up`); credentials live in `credentials_dir`, else
    /// the data directory.
    All,
    /// One alone (`tasknet serve …`); the others are at the configured
    /// endpoints.
    One(ServiceKind),
}

impl Services {
    fn runs(self, kind: ServiceKind) -> bool {
        match self {
            Services::All => true,
            Services::One(one) => one == kind,
        }
    }
}

/// Whether the auth layer checks callers (always, outside tests).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Auth {
    Enabled,
    #[cfg_attr(not(feature = "testing"), allow(dead_code))]
    Disabled,
}

/// A running system; [`System::stop`] shuts it down.
pub struct System {
    local_addr: SocketAddr,
    endpoint: String,
    tls: bool,
    admin: Option<(PathBuf, ClientOptions)>,
    metrics_addr: Option<SocketAddr>,
    dashboard: Option<Token>,
    shutdown: Shutdown,
    serving: JoinHandle<anyhow::Result<()>>,
    apps: Vec<Box<dyn ServiceApp>>,
}

impl std::fmt::Debug for System {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("System")
            .field("endpoint", &self.endpoint)
            .field("services", &self.service_names())
            .finish_non_exhaustive()
    }
}

impl System {
    /// Binds `config.listen`, opens `services` and serves them until
    /// [`System::stop`].
    pub async fn start(config: &Config, services: Services) -> anyhow::Result<Self> {
        Self::start_with(config, services, Auth::Enabled).await
    }

    pub(crate) async fn start_with(
        config: &Config,
        services: Services,
        auth: Auth,
    ) -> anyhow::Result<Self> {
        let server = GrpcServer::bind(&config.listen).await?;
        let tls = config.server_tls()?;
        let local_addr = server.local_addr();
        let mut endpoint = local_endpoint(local_addr);
        if tls.is_some() {
            endpoint = endpoint.replacen("http://", "https://", 1);
        }
        let shutdown = Shutdown::new();
        let metrics_addr = match &config.metrics_listen {
            Some(addr) => Some(tasknet_server::metrics::serve(addr, shutdown.clone()).await?),
            None => None,
        };
        let opened = Opened::open(config, services, &endpoint, &shutdown, auth).await?;
        let auth = match auth {
            Auth::Enabled => credentials::layer(config, opened.authenticator()?, &opened.apps),
            Auth::Disabled => AuthLayer::disabled(),
        };
        let routes = opened
            .apps
            .iter()
            .fold(Routes::default(), |routes, app| app.add_to(routes));
        let names: Vec<&'static str> = opened.apps.iter().map(|app| app.name()).collect();
        let readiness = opened
            .apps
            .iter()
            .fold(Readiness::default(), |readiness, app| {
                readiness.and(app.readiness())
            });
        let options = ServeOptions {
            drain_timeout: config.drain_timeout(),
            auth,
            tls: tls.clone(),
            readiness,
            connections: config.connections.clone(),
            // The dashboard is served wherever reporting is (its only backend).
            web: config.web_options(services.runs(ServiceKind::Reporting)),
            ..ServeOptions::default()
        };
        let serving = tokio::spawn({
            let shutdown = shutdown.clone();
            async move { server.serve(routes, &names, shutdown, options).await }
        });
        Ok(Self {
            local_addr,
            endpoint,
            tls: tls.is_some(),
            admin: opened.admin,
            metrics_addr,
            dashboard: opened.dashboard,
            shutdown,
            serving,
            apps: opened.apps,
        })
    }

    /// The address the listener is bound to.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Where clients on this machine reach it (`http://` or `https://`).
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// Whether the listener speaks TLS.
    pub fn tls(&self) -> bool {
        self.tls
    }

    /// The administrator credential this system's organisation service
    /// created (or found) in its credentials directory, if it bootstrapped one.
    pub fn admin(&self) -> Option<&ClientOptions> {
        self.admin.as_ref().map(|(_, client)| client)
    }

    /// The file holding the administrator's token, if one was bootstrapped.
    pub fn admin_path(&self) -> Option<&Path> {
        self.admin.as_ref().map(|(path, _)| path.as_path())
    }

    /// Where its Prometheus metrics are served, if they are.
    pub fn metrics_addr(&self) -> Option<SocketAddr> {
        self.metrics_addr
    }

    /// The read-only dashboard credential it bootstrapped, if any: what
    /// the sign-in link `tasknet up` prints carries.
    pub fn dashboard_token(&self) -> Option<&Token> {
        self.dashboard.as_ref()
    }

    /// The fully qualified names of the services it runs.
    pub fn service_names(&self) -> Vec<&'static str> {
        self.apps.iter().map(|app| app.name()).collect()
    }

    /// One of its services by type (`system.app::<ReportingApp>()`).
    pub fn app<A: ServiceApp>(&self) -> Option<&A> {
        self.apps
            .iter()
            .find_map(|app| (app.as_ref() as &dyn std::any::Any).downcast_ref::<A>())
    }

    /// Shuts down: health goes NOT_SERVING, in-flight RPCs drain within the
    /// configured limit, then each service finishes its background work (its
    /// audit records of rejected attempts included) and closes its pool (in the reverse of the order they opened).
    pub async fn stop(mut self) -> anyhow::Result<()> {
        self.shutdown.trigger();
        let served = (&mut self.serving).await.context("server task failed");
        while let Some(app) = self.apps.pop() {
            // Rejected attempts still being audited are written first.
            app.audit_log().flush().await;
            app.close().await;
        }
        served?
    }
}

impl Drop for System {
    /// A system dropped without `stop` (a failed test) still shuts down.
    fn drop(&mut self) {
        self.shutdown.trigger();
    }
}

/// The services of one system, opened, and what their set-up produced.
struct Opened {
    apps: Vec<Box<dyn ServiceApp>>,
    /// The organisation service's own authenticator when it runs here.
    local_authenticator: Option<Arc<dyn Authenticate>>,
    /// Where this process's services reach the organisation service.
    organisation_endpoint: Option<String>,
    /// How this process's services call the others.
    client: Option<ClientOptions>,
    admin: Option<(PathBuf, ClientOptions)>,
    dashboard: Option<Token>,
}

impl Opened {
    async fn open(
        config: &Config,
        services: Services,
        endpoint: &str,
        shutdown: &Shutdown,
        auth: Auth,
    ) -> anyhow::Result<Self> {
        let mut opened = Self {
            apps: Vec::new(),
            local_authenticator: None,
            organisation_endpoint: None,
            client: None,
            admin: None,
            dashboard: None,
        };
        let elsewhere = |value: &Option<String>, flag: &str| match services {
            Services::All => Ok(endpoint.to_owned()),
            Services::One(_) => value
                .clone()
                .with_context(|| format!("{flag} is required for this service")),
        };
        if services.runs(ServiceKind::Organisation) {
            opened.open_organisation(config, services, shutdown).await?;
        }
        if !(services.runs(ServiceKind::Task)
            || services.runs(ServiceKind::Reporting)
            || services.runs(ServiceKind::Notification))
        {
            return Ok(opened);
        }
        // Task, reporting and notification call the organisation service
        // (reporting the task service, notification reporting) with the
        // service credential.
        let organisation_endpoint =
            elsewhere(&config.organisation_endpoint, "--organisation-endpoint")?;
        let client = opened.client(config, auth)?;
        let database = |kind: ServiceKind| {
            (
                config.database_url_for(kind.label()),
                config.database_options(kind.label()),
            )
        };
        if services.runs(ServiceKind::Task) {
            let (database_url, database) = database(ServiceKind::Task);
            let settings = TaskSettings {
                database_url,
                database,
                organisation_endpoint: organisation_endpoint.clone(),
                max_batch: tasknet_task::DEFAULT_MAX_BATCH,
                client: client.clone(),
            };
            let app = TaskApp::open(&settings, shutdown.clone())
                .await
                .context("failed to start the task service")?;
            opened.apps.push(Box::new(app));
        }
        if services.runs(ServiceKind::Reporting) {
            let (database_url, database) = database(ServiceKind::Reporting);
            let settings = ReportingSettings {
                database_url,
                database,
                task_endpoint: elsewhere(&config.task_endpoint, "--task-endpoint")?,
                organisation_endpoint: organisation_endpoint.clone(),
                client: client.clone(),
                score_weights: config.scorecard.weights(),
            };
            let app = ReportingApp::open(&settings, shutdown.clone())
                .await
                .context("failed to start the reporting service")?
                .with_follow_stale_after(config.follow_stale_after());
            opened.apps.push(Box::new(app));
        }
        if services.runs(ServiceKind::Notification) {
            let (database_url, database) = database(ServiceKind::Notification);
            let settings = config.notify.settings(
                database_url,
                database,
                elsewhere(
                    &config.notify.reporting_endpoint,
                    "--reporting-endpoint (notify.reporting_endpoint)",
                )?,
                organisation_endpoint.clone(),
                client,
            )?;
            let app = NotificationApp::open(&settings, shutdown.clone())
                .await
                .context("failed to start the notification service")?;
            opened.apps.push(Box::new(app));
        }
        opened.organisation_endpoint = Some(organisation_endpoint);
        Ok(opened)
    }

    /// Opens the organisation service and, where a credentials directory
    /// is configured (always for `tasknet up`), makes sure the
    /// administrator and service credentials exist.
    async fn open_organisation(
        &mut self,
        config: &Config,
        services: Services,
        shutdown: &Shutdown,
    ) -> anyhow::Result<()> {
        let kind = ServiceKind::Organisation;
        let app = OrganisationApp::open(
            &OrganisationSettings {
                database_url: config.database_url_for(kind.label()),
                database: config.database_options(kind.label()),
            },
            shutdown.clone(),
        )
        .await
        .context("failed to start the organisation service")?;
        let credentials_dir = match services {
            Services::All => Some(
                config
                    .credentials_dir
                    .clone()
                    .unwrap_or_else(|| config.data_dir.clone()),
            ),
            Services::One(_) => config.credentials_dir.clone(),
        };
        if let (Services::One(_), Some(dir)) = (services, &credentials_dir) {
            // A lone organisation service (one of several replicas, perhaps)
            // never mints credentials at start beyond the one-time bootstrap.
            credentials::bootstrap_once(&app, dir).await?;
            let admin_path = dir.join(credentials::ADMIN_TOKEN_FILE);
            if let Ok(token) = std::fs::read_to_string(&admin_path) {
                self.admin = Some((
                    admin_path,
                    ClientOptions {
                        token: Some(tasknet_auth::Token::new(token)),
                        tls: config.client_tls()?,
                    },
                ));
            }
        } else if let Some(dir) = credentials_dir {
            let bootstrap = credentials::bootstrap(&app, &dir).await?;
            let tls = config.client_tls()?;
            self.dashboard = Some(bootstrap.dashboard);
            self.client = Some(ClientOptions {
                token: Some(bootstrap.service),
                tls: tls.clone(),
            });
            self.admin = Some((
                bootstrap.admin_path,
                ClientOptions {
                    token: Some(bootstrap.admin),
                    tls,
                },
            ));
        }
        self.local_authenticator = Some(app.authenticator());
        self.apps.push(Box::new(app));
        Ok(())
    }

    /// How task and reporting call the other services: the service
    /// credential bootstrapped here, else the configured one.
    fn client(&mut self, config: &Config, auth: Auth) -> anyhow::Result<ClientOptions> {
        if let Some(client) = &self.client {
            return Ok(client.clone());
        }
        let client = match credentials::service_client(config) {
            Ok(client) => client,
            // Unchecked servers (tests) need no credential to call.
            Err(_) if auth == Auth::Disabled && config.service_token.is_none() => ClientOptions {
                token: None,
                tls: config.client_tls()?,
            },
            Err(error) => return Err(error),
        };
        self.client = Some(client.clone());
        Ok(client)
    }

    /// Who checks tokens: the organisation service in this process, else
    /// the one at the organisation endpoint (cached).
    fn authenticator(&self) -> anyhow::Result<Arc<dyn Authenticate>> {
        if let Some(local) = &self.local_authenticator {
            return Ok(local.clone());
        }
        let (Some(endpoint), Some(client)) = (&self.organisation_endpoint, &self.client) else {
            anyhow::bail!("no service to authenticate callers with");
        };
        credentials::remote_authenticator(endpoint, client)
    }
}

/// The URL other services (and clients on this machine) reach a listener at.
pub fn local_endpoint(addr: SocketAddr) -> String {
    let host = if addr.ip().is_unspecified() {
        "127.0.0.1".to_owned()
    } else {
        addr.ip().to_string()
    };
    match addr {
        SocketAddr::V6(_) if !addr.ip().is_unspecified() => {
            format!("http://[{host}]:{}", addr.port())
        }
        _ => format!("http://{host}:{}", addr.port()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unspecified_addresses_are_reached_on_loopback() {
        let addr: SocketAddr = "0.0.0.0:50051".parse().unwrap();
        assert_eq!(local_endpoint(addr), "http://127.0.0.1:50051");
        let addr: SocketAddr = "127.0.0.1:4000".parse().unwrap();
        assert_eq!(local_endpoint(addr), "http://127.0.0.1:4000");
    }
}
