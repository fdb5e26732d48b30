//! Starting services: all three in one process on one address (`tasknet up`),
//! or one alone (`tasknet serve …`), with graceful shutdown on SIGINT/SIGTERM.

use std::net::SocketAddr;

use anyhow::Context;
use tasknet_organisation::{OrganisationApp, OrganisationSettings};
use tasknet_proto::tonic::service::Routes;
use tasknet_reporting::{ReportingApp, ReportingSettings};
use tasknet_server::ClientOptions;
use tasknet_server::{GrpcServer, ServeOptions, Shutdown, shutdown_signal};
use tasknet_task::{TaskApp, TaskSettings};

use crate::auth_setup;

use crate::cli::{ServeArgs, ServiceKind, UpArgs};
use crate::config::{Config, Overrides};

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

/// The three services of `tasknet up`, opened on one configuration.
struct AllServices {
    organisation: OrganisationApp,
    task: TaskApp,
    reporting: ReportingApp,
}

impl AllServices {
    /// Opens all three; they reach each other over gRPC at `endpoint`, as
    /// they would as separate processes, with the service credential the
    /// organisation service creates in the data directory on first start.
    async fn open(
        config: &Config,
        endpoint: &str,
        shutdown: &Shutdown,
    ) -> anyhow::Result<(Self, auth_setup::Bootstrap)> {
        let organisation = OrganisationApp::open(
            &OrganisationSettings {
                database_url: config.database_url_for("organisation"),
                database: config.database_options("organisation"),
            },
            shutdown.clone(),
        )
        .await
        .context("failed to start the organisation service")?;
        let credentials_dir = config.credentials_dir.as_ref().unwrap_or(&config.data_dir);
        let bootstrap = auth_setup::bootstrap(&organisation, credentials_dir).await?;
        let client = ClientOptions {
            token: Some(bootstrap.service.clone()),
            tls: config.client_tls()?,
        };
        let task = TaskApp::open(
            &TaskSettings {
                database_url: config.database_url_for("task"),
                database: config.database_options("task"),
                organisation_endpoint: endpoint.to_owned(),
                max_batch: tasknet_task::DEFAULT_MAX_BATCH,
                client: client.clone(),
            },
            shutdown.clone(),
        )
        .await
        .context("failed to start the task service")?;
        let reporting = ReportingApp::open(
            &ReportingSettings {
                database_url: config.database_url_for("reporting"),
                database: config.database_options("reporting"),
                task_endpoint: endpoint.to_owned(),
                organisation_endpoint: endpoint.to_owned(),
                client,
            },
            shutdown.clone(),
        )
        .await
        .context("failed to start the reporting service")?;
        let services = Self {
            organisation,
            task,
            reporting,
        };
        Ok((services, bootstrap))
    }

    /// One auth layer for the three services, checking tokens against the
    /// organisation service's credentials in this process.
    fn auth_layer(&self, config: &Config) -> tasknet_auth::AuthLayer {
        auth_setup::layer(
            config,
            self.organisation.authenticator(),
            &[
                (
                    tasknet_organisation::SERVICE_NAME,
                    self.organisation.audit_log(),
                ),
                (tasknet_task::SERVICE_NAME, self.task.audit_log()),
                (tasknet_reporting::SERVICE_NAME, self.reporting.audit_log()),
            ],
        )
    }

    fn routes(&self) -> Routes {
        Routes::new(self.organisation.service())
            .add_service(self.task.service())
            .add_service(self.reporting.service())
    }

    async fn closed(self) {
        self.reporting.closed().await;
        self.task.closed().await;
        self.organisation.closed().await;
    }
}

pub async fn up(args: UpArgs) -> anyhow::Result<()> {
    let overrides = Overrides {
        listen: args.listen,
        data_dir: args.data_dir,
        database_url: args.database_url,
        cors_allowed_origins: origins(args.cors_allowed_origins),
        ..Overrides::default()
    };
    let config = Config::load(args.config.as_deref(), &overrides)?;
    let server = GrpcServer::bind(&config.listen).await?;
    let tls = config.server_tls()?;
    let mut endpoint = local_endpoint(server.local_addr());
    if tls.is_some() {
        endpoint = endpoint.replacen("http://", "https://", 1);
    }
    let shutdown = Shutdown::new();
    let (services, bootstrap) = AllServices::open(&config, &endpoint, &shutdown).await?;

    print_banner(
        &config,
        server.local_addr(),
        &endpoint,
        &bootstrap,
        tls.is_some(),
    );
    let serving = tokio::spawn(server.serve(
        services.routes(),
        tasknet_proto::SERVICE_NAMES,
        shutdown.clone(),
        ServeOptions {
            drain_timeout: config.drain_timeout(),
            auth: services.auth_layer(&config),
            tls,
            web: config.web_options(),
            ..ServeOptions::default()
        },
    ));

    if args.demo {
        let client = crate::admin_cli::client_options_from_file(&bootstrap.admin_path, &config)?;
        let loading = crate::demo::load(&endpoint, &client, args.demo_size);
        tokio::select! {
            result = loading => result.context("failed to load the demo data")?,
            () = shutdown_signal() => {
                shutdown.trigger();
            }
        }
    }
    if !shutdown.is_triggered() {
        shutdown_signal().await;
        shutdown.trigger();
    }
    let served = serving.await.context("server task failed")?;
    services.closed().await;
    served
}

fn print_banner(
    config: &Config,
    addr: SocketAddr,
    endpoint: &str,
    bootstrap: &auth_setup::Bootstrap,
    tls: bool,
) {
    let admin = &bootstrap.admin_path;
    let storage = match &config.database_url {
        Some(url) => format!("database {}", redact(url)),
        None => format!("SQLite files in {}", config.data_dir.display()),
    };
    println!("tasknet is up on {addr} (organisation, task and reporting services; {storage})");
    if tls {
        println!("TLS is on.");
    } else {
        println!(
            "TLS is off: this is the local mode (set tls.cert_file and tls.key_file to turn it on)."
        );
    }
    println!(
        "Every call needs a credential. The administrator's token is in {} (mode 0600); \
         the tasknet CLI uses it by default (or --token / TASKNET_TOKEN).",
        admin.display()
    );
    println!("Dashboard: {endpoint}/");
    println!(
        "  sign in (read-only, nationwide): {}",
        crate::dashboard_link::sign_in_link(endpoint, bootstrap.dashboard.expose())
    );
    println!("Try:");
    println!(
        "  tasknet report status --period 2024-H1 --as-of 2024-06-30 --by category --endpoint {endpoint}"
    );
    println!("  grpcurl -plaintext {} list", addr);
    println!("  tasknet admin token create --role office-agent --unit 01 --endpoint {endpoint}");
    println!("Stop with Ctrl-C.");
}

/// A database URL without its password, for logs and banners.
fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let credentials = &url[scheme + 3..at];
            match credentials.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..scheme + 3], &url[at..]),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}

pub async fn serve(args: ServeArgs) -> anyhow::Result<()> {
    let overrides = Overrides {
        listen: args.listen,
        database_url: args.database_url,
        task_endpoint: args.task_endpoint,
        organisation_endpoint: args.organisation_endpoint,
        credentials_dir: args.credentials_dir,
        cors_allowed_origins: origins(args.cors_allowed_origins),
        ..Overrides::default()
    };
    let config = Config::load(args.config.as_deref(), &overrides)?;
    let server = GrpcServer::bind(&config.listen).await?;
    let shutdown = Shutdown::new();
    let options = ServeOptions {
        drain_timeout: config.drain_timeout(),
        tls: config.server_tls()?,
        web: tasknet_server::WebOptions {
            assets: None,
            ..config.web_options()
        },
        ..ServeOptions::default()
    };
    let required = |value: &Option<String>, flag: &str| {
        value
            .clone()
            .with_context(|| format!("{flag} is required for this service"))
    };
    let signal = {
        let shutdown = shutdown.clone();
        async move {
            shutdown_signal().await;
            shutdown.trigger();
        }
    };
    tokio::spawn(signal);
    println!(
        "tasknet {:?} service listening on {}",
        args.service,
        server.local_addr()
    );
    match args.service {
        ServiceKind::Organisation => {
            let app = OrganisationApp::open(
                &OrganisationSettings {
                    database_url: config.database_url_for("organisation"),
                    database: config.database_options("organisation"),
                },
                shutdown.clone(),
            )
            .await?;
            if let Some(dir) = &config.credentials_dir {
                let bootstrap = auth_setup::bootstrap(&app, dir).await?;
                println!(
                    "credentials: administrator token in {}",
                    bootstrap.admin_path.display()
                );
            }
            let auth = auth_setup::layer(
                &config,
                app.authenticator(),
                &[(tasknet_organisation::SERVICE_NAME, app.audit_log())],
            );
            let routes = Routes::new(app.service());
            let options = ServeOptions { auth, ..options };
            serve_one(
                server,
                routes,
                tasknet_organisation::SERVICE_NAME,
                shutdown,
                options,
                app.closed(),
            )
            .await
        }
        ServiceKind::Task => {
            let organisation_endpoint =
                required(&config.organisation_endpoint, "--organisation-endpoint")?;
            let client = auth_setup::service_client(&config)?;
            let app = TaskApp::open(
                &TaskSettings {
                    database_url: config.database_url_for("task"),
                    database: config.database_options("task"),
                    organisation_endpoint: organisation_endpoint.clone(),
                    max_batch: tasknet_task::DEFAULT_MAX_BATCH,
                    client: client.clone(),
                },
                shutdown.clone(),
            )
            .await?;
            let auth = auth_setup::layer(
                &config,
                auth_setup::remote_authenticator(&organisation_endpoint, &client)?,
                &[(tasknet_task::SERVICE_NAME, app.audit_log())],
            );
            let routes = Routes::new(app.service());
            let options = ServeOptions { auth, ..options };
            serve_one(
                server,
                routes,
                tasknet_task::SERVICE_NAME,
                shutdown,
                options,
                app.closed(),
            )
            .await
        }
        ServiceKind::Reporting => {
            let organisation_endpoint =
                required(&config.organisation_endpoint, "--organisation-endpoint")?;
            let client = auth_setup::service_client(&config)?;
            let app = ReportingApp::open(
                &ReportingSettings {
                    database_url: config.database_url_for("reporting"),
                    database: config.database_options("reporting"),
                    task_endpoint: required(&config.task_endpoint, "--task-endpoint")?,
                    organisation_endpoint: organisation_endpoint.clone(),
                    client: client.clone(),
                },
                shutdown.clone(),
            )
            .await?;
            let auth = auth_setup::layer(
                &config,
                auth_setup::remote_authenticator(&organisation_endpoint, &client)?,
                &[(tasknet_reporting::SERVICE_NAME, app.audit_log())],
            );
            let routes = Routes::new(app.service());
            // The dashboard is served by reporting in a split deployment.
            let options = ServeOptions {
                auth,
                web: config.web_options(),
                ..options
            };
            serve_one(
                server,
                routes,
                tasknet_reporting::SERVICE_NAME,
                shutdown,
                options,
                app.closed(),
            )
            .await
        }
    }
}

/// Origins given as flags, if any (none leaves the file's and environment's).
fn origins(flags: Vec<String>) -> Option<Vec<String>> {
    (!flags.is_empty()).then_some(flags)
}

/// Serves one service until shutdown, then lets its app finish (background
/// tasks, pool) before the process exits.
async fn serve_one(
    server: GrpcServer,
    routes: Routes,
    service_name: &str,
    shutdown: Shutdown,
    options: ServeOptions,
    closed: impl Future<Output = ()>,
) -> anyhow::Result<()> {
    let served = server
        .serve(routes, &[service_name], shutdown, options)
        .await;
    closed.await;
    served
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_redacted() {
        assert_eq!(
            redact("postgres://u:secret@h:5432/db"),
            "postgres://u:***@h:5432/db"
        );
        assert_eq!(redact("postgres://u@h/db"), "postgres://u@h/db");
    }

    #[test]
    fn unspecified_addresses_are_reached_on_loopback() {
        let addr: SocketAddr = "0.0.0.0:50051".parse().unwrap();
        assert_eq!(local_endpoint(addr), "http://127.0.0.1:50051");
        let addr: SocketAddr = "127.0.0.1:4000".parse().unwrap();
        assert_eq!(local_endpoint(addr), "http://127.0.0.1:4000");
    }
}
