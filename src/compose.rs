//! Starting services: all three in one process on one address (`tasknet up`),
//! or one alone (`tasknet serve …`), through `tasknet_system`, with graceful
//! shutdown on SIGINT/SIGTERM and what the operator is told.

use anyhow::Context;
use tasknet_server::shutdown_signal;
use tasknet_system::{Config, Overrides, Services, System};

use crate::cli::{ServeArgs, ServiceKind, UpArgs};

pub async fn up(args: UpArgs) -> anyhow::Result<()> {
    let overrides = Overrides {
        listen: args.listen,
        data_dir: args.data_dir,
        database_url: args.database_url,
        metrics_listen: args.metrics_listen,
        cors_allowed_origins: origins(args.cors_allowed_origins),
        ..Overrides::default()
    };
    let config = Config::load(args.config.as_deref(), &overrides)?;
    let mut signal = tokio::spawn(shutdown_signal());
    let system = System::start(&config, Services::All).await?;
    let admin_path = system
        .admin_path()
        .context("tasknet up bootstraps an administrator credential")?;
    print_banner(&config, &system, admin_path);
    print_metrics(&system);
    let mut stopping = false;
    if args.demo {
        let client = crate::connect::client_options_from_file(admin_path, &config)?;
        let endpoints = crate::demo::DemoEndpoints::one(system.endpoint());
        let loading = crate::demo::load(&endpoints, &client, args.demo_size);
        tokio::select! {
            result = loading => result.context("failed to load the demo data")?,
            _ = &mut signal => stopping = true,
        }
    }
    if !stopping {
        signal.await.context("signal task failed")?;
    }
    system.stop().await
}

fn print_banner(config: &Config, system: &System, admin: &std::path::Path) {
    let (addr, endpoint) = (system.local_addr(), system.endpoint());
    let storage = match &config.database_url {
        Some(url) => format!("database {}", redact(url)),
        None => format!("SQLite files in {}", config.data_dir.display()),
    };
    println!("tasknet is up on {addr} (organisation, task and reporting services; {storage})");
    if system.tls() {
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
    if let Some(token) = system.dashboard_token() {
        println!(
            "  sign in (read-only, nationwide): {}",
            crate::dashboard_link::sign_in_link(endpoint, token.expose())
        );
    }
    println!("Try:");
    println!(
        "  tasknet report status --period 2024-H1 --as-of 2024-06-30 --by category --endpoint {endpoint}"
    );
    println!("  grpcurl -plaintext {} list", addr);
    println!("  tasknet admin token create --role office-agent --unit 01 --endpoint {endpoint}");
    println!("Stop with Ctrl-C.");
}

fn print_metrics(system: &System) {
    if let Some(addr) = system.metrics_addr() {
        println!("metrics on http://{addr}/metrics");
    }
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
        metrics_listen: args.metrics_listen,
        cors_allowed_origins: origins(args.cors_allowed_origins),
        ..Overrides::default()
    };
    let config = Config::load(args.config.as_deref(), &overrides)?;
    let signal = tokio::spawn(shutdown_signal());
    let kind = match args.service {
        ServiceKind::Organisation => tasknet_system::ServiceKind::Organisation,
        ServiceKind::Task => tasknet_system::ServiceKind::Task,
        ServiceKind::Reporting => tasknet_system::ServiceKind::Reporting,
    };
    let system = System::start(&config, Services::One(kind)).await?;
    println!(
        "tasknet {:?} service listening on {}",
        args.service,
        system.local_addr()
    );
    if let Some(path) = system.admin_path() {
        println!("credentials: administrator token in {}", path.display());
    }
    print_metrics(&system);
    signal.await.context("signal task failed")?;
    system.stop().await
}

/// Origins given as flags, if any (none leaves the file's and environment's).
fn origins(flags: Vec<String>) -> Option<Vec<String>> {
    (!flags.is_empty()).then_some(flags)
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
}
