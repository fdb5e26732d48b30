//! The three services as separate `tasknet serve` processes on loopback
//! ports, as they deploy: organisation first (it creates the bootstrap
//! credentials in `credentials/`), then task, then reporting; each waited
//! for until health answers SERVING, stopped in the reverse order.

use std::path::{Path, PathBuf};

use anyhow::Context;
use tasknet_auth::Token;
use tasknet_server::ClientOptions;

use super::process::{Launch, Process};
use crate::ServiceKind;
use crate::credentials::ADMIN_TOKEN_FILE;

/// The credentials directory of the processes, relative to their directory.
pub const CREDENTIALS_DIR: &str = "credentials";
/// What `tasknet serve` prints once it listens.
pub const LISTENING: &str = "listening on";

/// `tasknet serve KIND` on an ephemeral port, its tables at `database_url`,
/// with the credentials in `dir/credentials`; add the endpoints of the
/// services it calls with [`with_endpoints`].
pub fn serve(tasknet: &Path, kind: ServiceKind, database_url: &str, dir: &Path) -> Launch {
    Launch::new(tasknet).dir(dir).args([
        "serve",
        kind.label(),
        "--listen",
        "127.0.0.1:0",
        "--database-url",
        database_url,
        "--credentials-dir",
        CREDENTIALS_DIR,
    ])
}

/// `launch` told where the organisation (and, for reporting, the task)
/// service listens.
pub fn with_endpoints(launch: Launch, organisation: &str, task: Option<&str>) -> Launch {
    let launch = launch.args(["--organisation-endpoint", organisation]);
    match task {
        Some(task) => launch.args(["--task-endpoint", task]),
        None => launch,
    }
}

/// Starts `launch` as the `kind` service and waits until it serves.
pub async fn start(launch: &Launch, kind: ServiceKind) -> anyhow::Result<Process> {
    let mut process = launch.spawn(kind.label())?;
    process.ready(LISTENING, health_name(kind)).await?;
    Ok(process)
}

/// The name gRPC health reports the service under.
pub fn health_name(kind: ServiceKind) -> &'static str {
    match kind {
        ServiceKind::Organisation => tasknet_organisation::SERVICE_NAME,
        ServiceKind::Task => tasknet_task::SERVICE_NAME,
        ServiceKind::Reporting => tasknet_reporting::SERVICE_NAME,
        ServiceKind::Notification => tasknet_notification::SERVICE_NAME,
    }
}

/// A client carrying the token in `path` (as `admin.token` is written).
pub fn read_token(path: &Path) -> anyhow::Result<ClientOptions> {
    let token = std::fs::read_to_string(path)
        .with_context(|| format!("failed to read {}", path.display()))?;
    Ok(ClientOptions::with_token(Token::new(token)))
}

/// The three services, each its own `tasknet serve` process.
#[derive(Debug)]
pub struct ServeProcesses {
    pub organisation: Process,
    pub task: Process,
    pub reporting: Process,
    /// The administrator credential the organisation service created.
    pub admin: ClientOptions,
    /// Where `admin.token` and `service.token` are.
    pub credentials_dir: PathBuf,
}

impl ServeProcesses {
    /// Starts organisation, then task, then reporting in `dir`, each on
    /// `database_url(kind)`, and waits until each serves.
    pub async fn start(
        tasknet: &Path,
        dir: &Path,
        database_url: impl Fn(ServiceKind) -> String,
    ) -> anyhow::Result<Self> {
        let launch = |kind| serve(tasknet, kind, &database_url(kind), dir);
        let organisation = start(
            &launch(ServiceKind::Organisation),
            ServiceKind::Organisation,
        )
        .await?;
        let credentials_dir = dir.join(CREDENTIALS_DIR);
        let admin = read_token(&credentials_dir.join(ADMIN_TOKEN_FILE))?;
        let task = with_endpoints(launch(ServiceKind::Task), organisation.endpoint(), None);
        let task = start(&task, ServiceKind::Task).await?;
        let reporting = with_endpoints(
            launch(ServiceKind::Reporting),
            organisation.endpoint(),
            Some(task.endpoint()),
        );
        let reporting = start(&reporting, ServiceKind::Reporting).await?;
        Ok(Self {
            organisation,
            task,
            reporting,
            admin,
            credentials_dir,
        })
    }

    fn each(&self) -> [&Process; 3] {
        [&self.organisation, &self.task, &self.reporting]
    }

    /// Each process's [`Process::memory_text`]: `[(name, text)]`.
    pub fn memory_text(&self) -> anyhow::Result<Vec<(String, String)>> {
        self.each()
            .into_iter()
            .map(|process| Ok((process.name().to_owned(), process.memory_text()?)))
            .collect()
    }

    /// Peak RSS of each process: `[(name, bytes)]`.
    pub fn peak_rss(&self) -> anyhow::Result<Vec<(String, u64)>> {
        self.each()
            .into_iter()
            .map(|process| Ok((process.name().to_owned(), process.peak_rss()?)))
            .collect()
    }

    /// Stops reporting, task, then organisation (the reverse of their
    /// dependencies); fails if any did not exit cleanly.
    pub fn stop(self) -> anyhow::Result<()> {
        let reporting = self.reporting.terminate();
        let task = self.task.terminate();
        let organisation = self.organisation.terminate();
        reporting.and(task).and(organisation)
    }
}
