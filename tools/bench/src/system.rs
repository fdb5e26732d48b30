//! The services as separate OS processes (`tasknet serve organisation|task|reporting`)
//! for the benchmarks, through `tasknet_system`'s process harness: started on
//! SQLite files in a data directory or in a throw-away PostgreSQL database,
//! waited for until each answers health SERVING, measured (peak RSS from
//! `/proc`), and stopped with SIGTERM (then SIGKILL). Every process is
//! killed when its handle is dropped, so a failing benchmark leaves nothing
//! running.
//!
//! ```ignore
//! let storage = Storage::postgres(url, "tasknet_bench_ingest").await?;
//! let system = System::start(tasknet, &storage, work_dir).await?;
//! // … push to system.task.endpoint() …
//! print_peak_rss(&system)?;
//! system.stop()?;
//! ```

use std::path::{Path, PathBuf};

use anyhow::Context;
use tasknet_auth::Token;
use tasknet_proto::v1;
use tasknet_proto::v1::organisation_service_client::OrganisationServiceClient;
use tasknet_server::ClientOptions;
use tasknet_storage::scratch::ScratchDatabase;
pub use tasknet_system::testing::process::{Process as ServiceProcess, mib};
pub use tasknet_system::testing::processes::{ServeProcesses as System, read_token};

/// Where the services keep their data.
pub enum Storage {
    /// A SQLite file per service in this directory.
    Sqlite(PathBuf),
    /// One PostgreSQL database (a schema per service), dropped with this value.
    Postgres(ScratchDatabase),
}

impl Storage {
    /// A fresh PostgreSQL database `name` on the server of `server_url`.
    pub async fn postgres(server_url: &str, name: &str) -> anyhow::Result<Self> {
        let database = ScratchDatabase::create(server_url, name)
            .await
            .with_context(|| format!("failed to create database {name} on {server_url}"))?;
        Ok(Self::Postgres(database))
    }

    /// The database URL of `service` ("organisation", "task", "reporting").
    pub fn url(&self, service: &str) -> String {
        match self {
            Storage::Sqlite(dir) => tasknet_storage::sqlite_url(&dir.join(format!("{service}.db"))),
            Storage::Postgres(database) => database.url().to_owned(),
        }
    }

    pub fn backend(&self) -> tasknet_storage::Backend {
        match self {
            Storage::Sqlite(_) => tasknet_storage::Backend::Sqlite,
            Storage::Postgres(_) => tasknet_storage::Backend::Postgres,
        }
    }

    /// "SQLite" or "PostgreSQL", for reports.
    pub fn label(&self) -> &'static str {
        match self.backend() {
            tasknet_storage::Backend::Sqlite => "SQLite",
            tasknet_storage::Backend::Postgres => "PostgreSQL",
        }
    }

    /// Starts the three services on this storage, with credentials in
    /// `work_dir/credentials`, and waits until each serves.
    pub async fn start(&self, tasknet: &Path, work_dir: &Path) -> anyhow::Result<System> {
        System::start(tasknet, work_dir, |kind| self.url(kind.label())).await
    }
}

/// Issues a credential through the organisation service at `endpoint`.
pub async fn issue_credential(
    endpoint: &str,
    admin: &ClientOptions,
    role: v1::Role,
    unit_id: &str,
    label: &str,
) -> anyhow::Result<ClientOptions> {
    let channel = tasknet_server::connect_lazy_with(endpoint, admin)?;
    let response = OrganisationServiceClient::new(channel)
        .issue_credential(v1::IssueCredentialRequest {
            unit_id: unit_id.to_owned(),
            role: role as i32,
            label: label.to_owned(),
            expire_time: None,
        })
        .await
        .with_context(|| format!("IssueCredential for unit {unit_id} failed"))?;
    Ok(ClientOptions::with_token(Token::new(
        response.into_inner().token,
    )))
}
