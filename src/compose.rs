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
        // The next steps wait for the load and for reporting to catch up: a
        // report asked for earlier would show part of the data, silently.
        println!("Loading the demo data; the next steps follow once reports include all of it.");
        let client = crate::connect::client_options_from_file(admin_path, &config)?;
        let endpoints = crate::demo::DemoEndpoints::one(system.endpoint());
        let loading = crate::demo::load(&endpoints, &client, args.demo_size);
        tokio::select! {
            result = loading => result.context("failed to load the demo data")?,
            _ = &mut signal => stopping = true,
        }
        if !stopping {
            judge_again_with_the_demo(system.endpoint(), &client).await?;
        }
    }
    if !stopping {
        print_next_steps(&system, admin_path);
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
    println!(
        "tasknet is up on {addr} (organisation, task, reporting and notification services; {storage})"
    );
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
}

/// Commands to try, spelled as this very binary can be run from here.
fn print_next_steps(system: &System, admin: &std::path::Path) {
    let (addr, endpoint) = (system.local_addr(), system.endpoint());
    let tasknet = command_name();
    // The CLI finds `up`'s credential by itself only in ./tasknet-data.
    let token = if same_file(admin, &crate::connect::default_token_file()) {
        String::new()
    } else {
        format!(" --token-file {}", shell_word(&admin.display().to_string()))
    };
    println!("Try:");
    println!(
        "  {tasknet} report status --period 2024-H1 --as-of 2024-06-30 --by category --endpoint {endpoint}{token}"
    );
    println!("  grpcurl -plaintext {addr} list");
    println!(
        "  {tasknet} admin token create --role office-agent --unit 01 --endpoint {endpoint}{token}"
    );
    println!("Stop with Ctrl-C.");
}

/// How the user can run this binary again: `tasknet` when that is what the
/// PATH finds, `cargo run [--release] --` when cargo started it from its
/// target directory, else its path.
fn command_name() -> String {
    let Ok(exe) = std::env::current_exe() else {
        return "tasknet".to_owned();
    };
    let on_path = std::env::var_os("PATH").and_then(|path| {
        std::env::split_paths(&path)
            .map(|dir| dir.join("tasknet"))
            .find(|candidate| candidate.is_file())
    });
    command_for(
        &exe,
        on_path.as_deref(),
        std::env::var_os("CARGO").is_some(),
    )
}

/// [`command_name`] without the environment: `exe` is this binary, `on_path`
/// the `tasknet` the PATH finds, `under_cargo` whether cargo started it.
fn command_for(
    exe: &std::path::Path,
    on_path: Option<&std::path::Path>,
    under_cargo: bool,
) -> String {
    if on_path.is_some_and(|found| same_file(found, exe)) {
        return "tasknet".to_owned();
    }
    let profile = exe
        .parent()
        .and_then(|dir| dir.file_name())
        .and_then(|name| name.to_str());
    match profile {
        Some("release") if under_cargo => "cargo run --release --".to_owned(),
        Some("debug") if under_cargo => "cargo run --".to_owned(),
        _ => shell_word(&exe.display().to_string()),
    }
}

fn same_file(a: &std::path::Path, b: &std::path::Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    }
}

/// `text` quoted for a POSIX shell when it needs to be.
fn shell_word(text: &str) -> String {
    let plain = |c: char| c.is_ascii_alphanumeric() || "/._-+=:@%,".contains(c);
    if !text.is_empty() && text.chars().all(plain) {
        text.to_owned()
    } else {
        format!("'{}'", text.replace('\'', "'\\''"))
    }
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
        notify: args.reporting_endpoint.map(|reporting_endpoint| {
            tasknet_system::config::NotifyOverrides {
                reporting_endpoint: Some(reporting_endpoint),
            }
        }),
        ..Overrides::default()
    };
    let config = Config::load(args.config.as_deref(), &overrides)?;
    let signal = tokio::spawn(shutdown_signal());
    let kind = match args.service {
        ServiceKind::Organisation => tasknet_system::ServiceKind::Organisation,
        ServiceKind::Task => tasknet_system::ServiceKind::Task,
        ServiceKind::Reporting => tasknet_system::ServiceKind::Reporting,
        ServiceKind::Notification => tasknet_system::ServiceKind::Notification,
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

/// The notification calendar judged the current day when the system
/// started, before the demo data was there; judging it again now decides the
/// day's reminders, digests and escalations about the demo's tasks (judging
/// a day again adds only what was not decided before).
async fn judge_again_with_the_demo(
    endpoint: &str,
    client: &tasknet_server::ClientOptions,
) -> anyhow::Result<()> {
    use tasknet_proto::v1;
    use tasknet_proto::v1::notification_service_client::NotificationServiceClient;
    let channel = tasknet_server::connect_lazy_with(endpoint, client)?;
    let mut notifications = NotificationServiceClient::new(channel);
    let status = notifications
        .get_notification_status(v1::GetNotificationStatusRequest {})
        .await
        .context("GetNotificationStatus failed")?
        .into_inner();
    let Some(day) = status.last_judged_day else {
        // The calendar has judged nothing yet: its first judgement will see the demo.
        return Ok(());
    };
    let judged = notifications
        .judge_day(v1::JudgeDayRequest {
            day: Some(day),
            ..Default::default()
        })
        .await
        .context("JudgeDay failed")?
        .into_inner();
    println!(
        "notifications: {:04}-{:02}-{:02} judged again with the demo data: {} to send \
         (email once [notify.smtp] is configured, webhooks to their subscribers)",
        day.year, day.month, day.day, judged.decided
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_steps_name_the_binary_as_it_can_be_run() {
        let dir = tempfile::tempdir().unwrap();
        let release = dir.path().join("target/release");
        std::fs::create_dir_all(&release).unwrap();
        let exe = release.join("tasknet");
        std::fs::write(&exe, "").unwrap();
        let other = dir.path().join("tasknet");
        std::fs::write(&other, "").unwrap();
        // `cargo run --release -- up`: not on the PATH, started by cargo.
        assert_eq!(command_for(&exe, None, true), "cargo run --release --");
        assert_eq!(
            command_for(&exe, Some(&other), true),
            "cargo run --release --"
        );
        // The PATH finds this very binary.
        assert_eq!(command_for(&exe, Some(&exe), true), "tasknet");
        // Run by its path.
        assert_eq!(command_for(&exe, None, false), exe.display().to_string());
        assert_eq!(shell_word("/a b/tasknet"), "'/a b/tasknet'");
    }

    #[test]
    fn passwords_are_redacted() {
        assert_eq!(
            redact("postgres://u:secret@h:5432/db"),
            "postgres://u:***@h:5432/db"
        );
        assert_eq!(redact("postgres://u@h/db"), "postgres://u@h/db");
    }
}
