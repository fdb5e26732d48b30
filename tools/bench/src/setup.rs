//! What every benchmark sets up the same way: where the services keep their
//! data (`--backend`, `--postgres-url`), the provincial offices that push,
//! and one office-agent credential per client, as `tasknet admin token
//! create --role office-agent --unit …` issues them.

use std::path::Path;

use tasknet_proto::v1;
use tasknet_server::ClientOptions;

use crate::system::{Storage, System};
use crate::workload::{Calendar, Mix, Workload, office_seed};

/// The PostgreSQL server the benchmarks create their databases on.
pub const DEFAULT_POSTGRES_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum BackendArg {
    Postgres,
    Sqlite,
}

/// `--backend` and `--postgres-url`.
#[derive(Debug, Clone, clap::Args)]
pub struct StorageArgs {
    /// Where the services keep their data.
    #[arg(long, value_enum, default_value = "postgres")]
    pub backend: BackendArg,
    /// A PostgreSQL server (any database on it): the benchmark creates
    /// `tasknet_bench_…` databases there and drops them at the end.
    #[arg(long, default_value = DEFAULT_POSTGRES_URL)]
    pub postgres_url: String,
}

impl StorageArgs {
    /// Fresh storage for one run: SQLite files in `work_dir`, or a database
    /// `tasknet_bench_<what>_<pid>` on the PostgreSQL server.
    pub async fn open(&self, what: &str, work_dir: &Path) -> anyhow::Result<Storage> {
        match self.backend {
            BackendArg::Sqlite => Ok(Storage::Sqlite(work_dir.to_path_buf())),
            BackendArg::Postgres => {
                Storage::postgres(&self.postgres_url, &database_name(what)).await
            }
        }
    }
}

/// `tasknet_bench_<what>_<pid>`: one run's database, never a shared one.
pub fn database_name(what: &str) -> String {
    format!("tasknet_bench_{what}_{}", std::process::id())
}

/// The units a run pushes for.
pub struct Units {
    /// The provincial offices' unit ids, in code order.
    pub offices: Vec<String>,
}

impl Units {
    /// Loads the reference units through the organisation service at `endpoint`.
    pub async fn load(endpoint: &str, admin: &ClientOptions) -> anyhow::Result<Self> {
        let mut units = tasknet_demo::load_units(endpoint, admin).await?;
        units.sort_by(|a, b| a.code.cmp(&b.code));
        let of = |category: v1::UnitCategory| {
            units
                .iter()
                .filter(move |unit| unit.category == category as i32)
                .map(|unit| unit.id.clone())
        };
        let offices: Vec<String> = of(v1::UnitCategory::ProvincialOffice).collect();
        anyhow::ensure!(!offices.is_empty(), "no provincial offices");
        Ok(Self { offices })
    }

    /// `clients` office clients (offices in turn when there are more clients
    /// than offices), each with a credential of its own and a workload.
    pub async fn clients(
        &self,
        organisation_endpoint: &str,
        admin: &ClientOptions,
        clients: usize,
        calendar: Calendar,
        mix: Mix,
    ) -> anyhow::Result<Vec<(ClientOptions, Workload)>> {
        let mut out = Vec::with_capacity(clients);
        for index in 0..clients {
            let office = &self.offices[index % self.offices.len()];
            let credential = crate::system::issue_credential(
                organisation_endpoint,
                admin,
                v1::Role::OfficeAgent,
                office,
                &format!("bench client {index}"),
            )
            .await?;
            let workload = Workload::new(
                office_seed(index),
                office,
                // An office's credential assigns work in its own name only.
                office,
                calendar,
                mix,
            );
            out.push((credential, workload));
        }
        Ok(out)
    }
}

/// The reference units and `clients` office clients of a running system.
pub async fn office_clients(
    system: &System,
    clients: usize,
    calendar: Calendar,
    mix: Mix,
) -> anyhow::Result<(Units, Vec<(ClientOptions, Workload)>)> {
    let units = Units::load(system.organisation.endpoint(), &system.admin).await?;
    let clients = units
        .clients(
            system.organisation.endpoint(),
            &system.admin,
            clients,
            calendar,
            mix,
        )
        .await?;
    Ok((units, clients))
}

/// Prints each process's peak RSS and returns the largest.
pub fn print_peak_rss(system: &System) -> anyhow::Result<u64> {
    for (name, text) in system.memory_text()? {
        println!("  peak RSS {name:<13} {text}");
    }
    Ok(system
        .peak_rss()?
        .into_iter()
        .map(|(_, bytes)| bytes)
        .max()
        .unwrap_or_default())
}

/// The 1-minute load average, for the record (other builds share the cores).
pub fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|text| text.split_whitespace().next().map(str::to_owned))
        .unwrap_or_else(|| "?".to_owned())
}
