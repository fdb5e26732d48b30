//! Starting services: all three in one process on one address (`tasknet up`),
//! or one alone (`tasknet serve …`), with graceful shutdown on SIGINT/SIGTERM.

use std::net::SocketAddr;

use anyhow::Context;
use tasknet_organisation::{OrganisationApp, OrganisationSettings};
use tasknet_proto::tonic::service::Routes;
use tasknet_reporting::{ReportingApp, ReportingSettings};
use tasknet_server::{GrpcServer, ServeOptions, Shutdown, shutdown_signal};
use tasknet_task::{TaskApp, TaskSettings};

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
    /// they would as separate processes.
    async fn open(config: &Config, endpoint: &str, shutdown: &Shutdown) -> anyhow::Result<Self> {
        let organisation = OrganisationApp::open(
            &OrganisationSettings {
                database_url: config.database_url_for("organisation"),
                database: config.database_options("organisation"),
            },
            shutdown.clone(),
        )
        .await
        .context("failed to start the organisation service")?;
        let task = TaskApp::open(
            &TaskSettings {
                database_url: config.database_url_for("task"),
                database: config.database_options("task"),
                organisation_endpoint: endpoint.to_owned(),
                max_batch: 512,
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
            },
            shutdown.clone(),
        )
        .await
        .context("failed to start the reporting service")?;
        Ok(Self {
            organisation,
            task,
            reporting,
        })
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
        ..Overrides::default()
    };
    let config = Config::load(args.config.as_deref(), &overrides)?;
    let server = GrpcServer::bind(&config.listen).await?;
    let endpoint = local_endpoint(server.local_addr());
    let shutdown = Shutdown::new();
    let services = AllServices::open(&config, &endpoint, &shutdown).await?;

    print_banner(&config, server.local_addr(), &endpoint);
    let serving = tokio::spawn(server.serve(
        services.routes(),
        tasknet_proto::SERVICE_NAMES,
        shutdown.clone(),
        ServeOptions {
            drain_timeout: config.drain_timeout(),
            ..ServeOptions::default()
        },
    ));

    if args.demo {
        let loading = crate::demo::load(&endpoint, args.demo_size);
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

fn print_banner(config: &Config, addr: SocketAddr, endpoint: &str) {
    let storage = match &config.database_url {
        Some(url) => format!("database {}", redact(url)),
        None => format!("SQLite files in {}", config.data_dir.display()),
    };
    println!("tasknet is up on {addr} (organisation, task and reporting services; {storage})");
    println!(
        "TLS is off: this is the local mode, reachable without credentials from this machine."
    );
    println!("Try:");
    println!(
        "  tasknet report status --period 2024-H1 --as-of 2024-06-30 --by category --endpoint {endpoint}"
    );
    println!("  grpcurl -plaintext {} list", addr);
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
        ..Overrides::default()
    };
    let config = Config::load(args.config.as_deref(), &overrides)?;
    let server = GrpcServer::bind(&config.listen).await?;
    let shutdown = Shutdown::new();
    let options = ServeOptions {
        drain_timeout: config.drain_timeout(),
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
            let served = server
                .serve(
                    Routes::new(app.service()),
                    &[tasknet_organisation::SERVICE_NAME],
                    shutdown,
                    options,
                )
                .await;
            app.closed().await;
            served
        }
        ServiceKind::Task => {
            let app = TaskApp::open(
                &TaskSettings {
                    database_url: config.database_url_for("task"),
                    database: config.database_options("task"),
                    organisation_endpoint: required(
                        &config.organisation_endpoint,
                        "--organisation-endpoint",
                    )?,
                    max_batch: 512,
                },
                shutdown.clone(),
            )
            .await?;
            let served = server
                .serve(
                    Routes::new(app.service()),
                    &[tasknet_task::SERVICE_NAME],
                    shutdown,
                    options,
                )
                .await;
            app.closed().await;
            served
        }
        ServiceKind::Reporting => {
            let app = ReportingApp::open(
                &ReportingSettings {
                    database_url: config.database_url_for("reporting"),
                    database: config.database_options("reporting"),
                    task_endpoint: required(&config.task_endpoint, "--task-endpoint")?,
                    organisation_endpoint: required(
                        &config.organisation_endpoint,
                        "--organisation-endpoint",
                    )?,
                },
                shutdown.clone(),
            )
            .await?;
            let served = server
                .serve(
                    Routes::new(app.service()),
                    &[tasknet_reporting::SERVICE_NAME],
                    shutdown,
                    options,
                )
                .await;
            app.closed().await;
            served
        }
    }
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
