//! The footprint benchmark: a `tasknet up` data directory (SQLite) with a
//! large number of tasks, built through `Ingest` by office clients if it does
//! not hold them yet (or reused with `--data-dir`); then `tasknet up` is
//! started on it again and timed until health SERVING and until its first
//! nationwide `StatusBreakdown` answers, and its peak RSS read. Building a
//! million tasks takes some minutes (the load rate is printed).

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::Context;
use chrono::{NaiveDate, Utc};
use tasknet_domain::date_to_proto;
use tasknet_proto::v1;
use tasknet_proto::v1::reporting_service_client::ReportingServiceClient;
use tasknet_server::{ClientOptions, TracedChannel};
use tasknet_storage::{Database, DatabaseOptions};

use crate::driver::{ClientPlan, Limit, Pacing, run_clients};
use crate::setup::{Units, load_average};
use crate::stats::rate;
use crate::system::{ServiceProcess, read_token};
use crate::workload::{Calendar, Mix};
use tasknet_system::testing::process::Launch;

#[derive(Debug, clap::Args)]
pub struct FootprintArgs {
    /// Tasks the data directory should hold.
    #[arg(long, default_value_t = 1_000_000)]
    pub tasks: u64,
    /// The data directory: reused if it holds enough tasks, topped up if not.
    /// Without it, a temporary directory (removed at the end).
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
    /// Office clients that build the data set.
    #[arg(long, default_value_t = 63)]
    pub clients: usize,
}

pub async fn run(args: FootprintArgs, tasknet: &Path) -> anyhow::Result<()> {
    let temporary = tempfile::tempdir()?;
    let data_dir = match &args.data_dir {
        Some(dir) => {
            std::fs::create_dir_all(dir)?;
            std::fs::canonicalize(dir)?
        }
        None => temporary.path().join("data"),
    };
    println!(
        "footprint: tasknet up on {} ({} tasks wanted), load average {}",
        data_dir.display(),
        args.tasks,
        load_average()
    );
    let held = stored_tasks(&data_dir).await?;
    if held < args.tasks {
        build(tasknet, &data_dir, args.tasks - held, args.clients).await?;
    } else {
        println!("  reusing {held} tasks");
    }
    let held = stored_tasks(&data_dir).await?;
    anyhow::ensure!(held >= args.tasks, "the data directory holds {held} tasks");

    let up = start_up(tasknet, &data_dir).await?;
    let serving = up.ready_after();
    let admin = read_token(&data_dir.join("admin.token"))?;
    let reporting = reporting_client(up.endpoint(), &admin)?;
    let total = national_total(reporting).await?;
    let first_report = up.started().elapsed();
    anyhow::ensure!(
        u64::try_from(total).unwrap_or_default() == held,
        "the first report counts {total} tasks; the directory holds {held}"
    );
    let memory = up.memory_text()?;
    println!(
        "  start-up on {held} tasks: health SERVING after {:.2} s, first nationwide report after {:.2} s",
        serving.as_secs_f64(),
        first_report.as_secs_f64()
    );
    println!("  peak RSS of tasknet up (all three services) {memory}");
    up.terminate()
}

/// Tasks in the directory's task database (0 when there is none yet).
async fn stored_tasks(data_dir: &Path) -> anyhow::Result<u64> {
    let path = data_dir.join("task.db");
    if !path.is_file() {
        return Ok(0);
    }
    let options = DatabaseOptions {
        max_connections: 1,
        ..DatabaseOptions::default()
    };
    let database = Database::connect(&tasknet_storage::sqlite_url(&path), &options).await?;
    let count: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM tasks")
        .fetch_one(database.pool())
        .await
        .unwrap_or(0);
    database.close().await;
    Ok(u64::try_from(count).unwrap_or_default())
}

async fn start_up(tasknet: &Path, data_dir: &Path) -> anyhow::Result<ServiceProcess> {
    let dir = data_dir
        .to_str()
        .context("the data directory is not UTF-8")?;
    let args = ["up", "--listen", "127.0.0.1:0", "--data-dir", dir];
    let parent = data_dir.parent().unwrap_or(data_dir);
    let mut up = Launch::new(tasknet)
        .dir(parent)
        .args(args)
        .spawn("tasknet up")?;
    up.ready("tasknet is up on", "").await?;
    Ok(up)
}

fn reporting_client(
    endpoint: &str,
    admin: &ClientOptions,
) -> anyhow::Result<ReportingServiceClient<TracedChannel>> {
    Ok(ReportingServiceClient::new(
        tasknet_server::connect_lazy_with(endpoint, admin)?,
    ))
}

/// Pushes `tasks` new tasks through `tasknet up` on `data_dir` and waits
/// until reporting has applied them all.
async fn build(tasknet: &Path, data_dir: &Path, tasks: u64, clients: usize) -> anyhow::Result<()> {
    let up = start_up(tasknet, data_dir).await?;
    let admin = read_token(&data_dir.join("admin.token"))?;
    let units = Units::load(up.endpoint(), &admin).await?;
    let clients = units
        .clients(
            up.endpoint(),
            &admin,
            clients.max(1),
            Calendar::around(Utc::now()),
            Mix::CreatesOnly,
        )
        .await?;
    let per_client = tasks.div_ceil(clients.len() as u64);
    let plan = ClientPlan {
        limit: Limit::Updates(per_client),
        pacing: Pacing::Closed,
        window: 64,
    };
    println!(
        "  building: {} tasks through Ingest",
        per_client * clients.len() as u64
    );
    let (report, elapsed) = run_clients(up.endpoint(), clients, plan, None).await?;
    let mut reporting = reporting_client(up.endpoint(), &admin)?;
    loop {
        let applied = reporting
            .get_sync_state(v1::GetSyncStateRequest {})
            .await?
            .into_inner()
            .applied_cursor;
        if applied >= report.last_cursor {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    println!(
        "  built: {} tasks in {:.1} s ({:.0} tasks/s), reporting caught up after {:.1} s; peak RSS while loading {}",
        report.counts.creates,
        elapsed.as_secs_f64(),
        rate(report.counts.creates, elapsed),
        up.started().elapsed().as_secs_f64(),
        up.memory_text()?
    );
    up.terminate()
}

/// The national total of a StatusBreakdown over every assigned date so far.
async fn national_total(
    mut reporting: ReportingServiceClient<TracedChannel>,
) -> anyhow::Result<i64> {
    let started = Instant::now();
    let today = tasknet_domain::vietnam_date(Utc::now());
    let start = NaiveDate::from_ymd_opt(2000, 1, 1).context("a fixed date")?;
    let period = v1::Period {
        kind: Some(v1::period::Kind::Range(v1::DateRange {
            start: Some(date_to_proto(start)),
            end: Some(date_to_proto(today)),
        })),
    };
    let response = reporting
        .status_breakdown(v1::StatusBreakdownRequest {
            period: Some(period),
            as_of: Some(date_to_proto(today)),
            ..Default::default()
        })
        .await
        .context("the first StatusBreakdown failed")?
        .into_inner();
    tracing::debug!(elapsed = ?started.elapsed(), "first report");
    Ok(response
        .national
        .and_then(|row| row.current)
        .map_or(0, |counts| counts.total))
}
