//! The ingest benchmark: office clients (63 by default, one per provincial
//! office, each with its own office-agent credential and connection) push a
//! mix of creations, progress notes and completions through `Ingest` into the
//! task service running as its own process; then the same number of updates'
//! rows go straight into PostgreSQL with `COPY` from one process (the
//! ceiling, [`crate::raw`]), and the two rates are compared.

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::Context;
use chrono::Utc;
use tasknet_storage::{Database, DatabaseOptions};

use crate::driver::{ClientPlan, ClientReport, Limit, Pacing, run_clients};
use crate::setup::{BackendArg, StorageArgs, load_average, office_clients, print_peak_rss};
use crate::stats::rate;
use crate::system::Storage;
use crate::workload::{Calendar, Counts, Mix, Workload, office_seed};

#[derive(Debug, clap::Args)]
pub struct IngestArgs {
    /// Concurrent office clients (each an Ingest stream on its own connection).
    #[arg(long, default_value_t = 63)]
    pub clients: usize,
    /// Updates to push in all (split evenly over the clients).
    #[arg(long, default_value_t = 300_000, conflicts_with = "duration")]
    pub updates: u64,
    /// Push for this many seconds instead of a fixed number of updates.
    #[arg(long)]
    pub duration: Option<f64>,
    /// Items a client sends ahead of their acknowledgements (an office
    /// agent's outbox being drained).
    #[arg(long, default_value_t = 64)]
    pub window: usize,
    /// Skip the raw PostgreSQL baseline.
    #[arg(long)]
    pub no_baseline: bool,
    #[command(flatten)]
    pub storage: StorageArgs,
}

pub async fn run(args: IngestArgs, tasknet: &Path) -> anyhow::Result<()> {
    anyhow::ensure!(args.clients > 0, "--clients must be at least 1");
    let work = tempfile::tempdir()?;
    let storage = args.storage.open("ingest", work.path()).await?;
    println!(
        "ingest: {} office clients on {}, window {} per client, load average {}",
        args.clients,
        storage.label(),
        args.window,
        load_average()
    );
    let system = storage.start(tasknet, work.path()).await?;
    let calendar = Calendar::around(Utc::now());
    let (units, clients) = office_clients(&system, args.clients, calendar, Mix::Realistic).await?;
    let limit = match args.duration {
        Some(seconds) => Limit::Until(Instant::now() + Duration::from_secs_f64(seconds)),
        None => Limit::Updates(args.updates / args.clients as u64),
    };
    let plan = ClientPlan {
        limit,
        pacing: Pacing::Closed,
        window: args.window,
    };
    let (mut report, elapsed) = run_clients(system.task.endpoint(), clients, plan, None).await?;
    let pushed = report.counts.total();
    let service_rate = rate(pushed, elapsed);
    println!(
        "  service: {pushed} updates ({}) in {:.2} s: {service_rate:.0} updates/s",
        report.counts,
        elapsed.as_secs_f64()
    );
    println!("  acknowledgement latency {}", report.latencies.summary());
    let peak = print_peak_rss(&system)?;
    println!("  largest peak RSS {}", crate::system::mib(peak));
    system.stop()?;
    verify(&storage, &report).await?;
    println!("  verified: every update acknowledged once and stored once");

    if args.no_baseline || args.storage.backend == BackendArg::Sqlite {
        println!(
            "  raw baseline: skipped (it is PostgreSQL's ceiling; run with --backend postgres)"
        );
        return Ok(());
    }
    let workloads = (0..args.clients)
        .map(|index| {
            let office = &units.offices[index % units.offices.len()];
            Workload::new(
                office_seed(index),
                office,
                // An office's credential assigns work in its own name only.
                office,
                calendar,
                Mix::Realistic,
            )
        })
        .collect();
    let raw = crate::raw::run(&args.storage.postgres_url, workloads, pushed).await?;
    let raw_rate = rate(raw.updates, raw.elapsed);
    println!(
        "  raw ceiling (one process, COPY, {} updates per transaction): {} updates in {:.2} s: {raw_rate:.0} updates/s",
        crate::raw::BATCH,
        raw.updates,
        raw.elapsed.as_secs_f64()
    );
    println!(
        "  ratio service / ceiling: {:.0} %",
        100.0 * service_rate / raw_rate.max(f64::EPSILON)
    );
    Ok(())
}

/// After the services stopped: the task database holds exactly what was
/// acknowledged (durable on acknowledgement, nothing doubled).
pub async fn verify(storage: &Storage, report: &ClientReport) -> anyhow::Result<()> {
    anyhow::ensure!(
        report.duplicates == 0,
        "{} updates were acknowledged as repeats",
        report.duplicates
    );
    let stored = stored_counts(storage).await?;
    anyhow::ensure!(
        stored == report.counts,
        "the task database holds {stored}, but the clients had acknowledged {}",
        report.counts
    );
    Ok(())
}

/// What the task database holds: tasks, change-log entries by kind.
async fn stored_counts(storage: &Storage) -> anyhow::Result<Counts> {
    let options = DatabaseOptions {
        schema: Some("task".to_owned()),
        max_connections: 1,
        ..DatabaseOptions::default()
    };
    let database = Database::connect(&storage.url("task"), &options).await?;
    let count = |sql: &'static str| {
        let pool = database.pool().clone();
        async move {
            sqlx::query_scalar::<_, i64>(sql)
                .fetch_one(&pool)
                .await
                .with_context(|| format!("failed to run {sql}"))
        }
    };
    let tasks = count("SELECT COUNT(*) FROM tasks").await?;
    let completed = count("SELECT COUNT(*) FROM tasks WHERE status = 2").await?;
    let applied = count("SELECT COUNT(*) FROM applied_updates").await?;
    let changes = count("SELECT COUNT(*) FROM change_log").await?;
    database.close().await;
    anyhow::ensure!(
        applied == changes,
        "{applied} applied updates but {changes} change-log entries"
    );
    let as_u64 = |n: i64| u64::try_from(n).unwrap_or_default();
    Ok(Counts {
        creates: as_u64(tasks),
        completions: as_u64(completed),
        notes: as_u64(applied - tasks - completed),
    })
}
