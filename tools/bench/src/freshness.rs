//! The freshness benchmark: office clients push at a steady total rate (open
//! loop: on schedule, whatever the acknowledgements do), and for a sample of
//! the acknowledged updates the benchmark measures the time from the
//! acknowledgement (which carries the update's change-log cursor) until the
//! reporting service has applied that cursor, which is when `StatusBreakdown`
//! shows it (reporting stores a batch's rows and its cursor in one
//! transaction, and answers from what it stored).
//!
//! One prober polls `GetSyncState` every `--probe-ms`; a sample is fresh at
//! the first answer whose cursor covers it, so a figure overstates the truth
//! by at most one probe interval plus one round trip. The prober is one small
//! RPC per interval, cheap beside the load. At the end, a `StatusBreakdown`
//! with `min_cursor` (read-your-writes) must show exactly the tasks pushed.

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context;
use chrono::Utc;
use tasknet_domain::date_to_proto;
use tasknet_proto::v1;
use tasknet_proto::v1::reporting_service_client::ReportingServiceClient;
use tasknet_server::TracedChannel;
use tokio::sync::watch;

use crate::driver::{AckSample, ClientPlan, Limit, Pacing, Sampler, run_clients};
use crate::setup::{StorageArgs, load_average, office_clients, print_peak_rss};
use crate::stats::{Latencies, rate};
use crate::workload::{Calendar, Counts, Mix};

#[derive(Debug, clap::Args)]
pub struct FreshnessArgs {
    /// Total updates per second over all clients.
    #[arg(long, default_value_t = 5000.0)]
    pub rate: f64,
    /// Seconds of pushing.
    #[arg(long, default_value_t = 30.0)]
    pub duration: f64,
    /// Concurrent office clients.
    #[arg(long, default_value_t = 63)]
    pub clients: usize,
    /// Freshness samples per second (every n-th acknowledgement of each client).
    #[arg(long, default_value_t = 200.0)]
    pub samples_per_second: f64,
    /// How often the prober asks reporting how far it has applied, in ms
    /// (every credential may make 200 requests per second: keep it above 5).
    #[arg(long, default_value_t = 10)]
    pub probe_ms: u64,
    #[command(flatten)]
    pub storage: StorageArgs,
}

/// After the clients stop, how long the remaining samples may take.
const DRAIN_LIMIT: Duration = Duration::from_secs(60);

pub async fn run(args: FreshnessArgs, tasknet: &Path) -> anyhow::Result<()> {
    anyhow::ensure!(
        args.clients > 0 && args.rate > 0.0,
        "--clients and --rate must be positive"
    );
    let work = tempfile::tempdir()?;
    let storage = args.storage.open("freshness", work.path()).await?;
    println!(
        "freshness: {:.0} updates/s from {} office clients for {} s on {}, load average {}",
        args.rate,
        args.clients,
        args.duration,
        storage.label(),
        load_average()
    );
    let system = storage.start(tasknet, work.path()).await?;
    let calendar = Calendar::around(Utc::now());
    let (_, clients) = office_clients(&system, args.clients, calendar, Mix::Realistic).await?;
    let per_client = args.rate / args.clients as f64;
    let sampler = Sampler {
        every: (args.rate / args.samples_per_second.max(1.0))
            .round()
            .max(1.0) as u64,
        samples: Arc::new(Mutex::new(Vec::new())),
    };
    let plan = ClientPlan {
        limit: Limit::Until(Instant::now() + Duration::from_secs_f64(args.duration)),
        pacing: Pacing::Open {
            interval: Duration::from_secs_f64(1.0 / per_client),
        },
        window: 1024,
    };
    let reporting = ReportingServiceClient::new(tasknet_server::connect_lazy_with(
        system.reporting.endpoint(),
        &system.admin,
    )?);
    let (done, done_signal) = watch::channel(false);
    let prober = tokio::spawn(probe(
        reporting.clone(),
        sampler.samples.clone(),
        Duration::from_millis(args.probe_ms.max(1)),
        done_signal,
    ));
    let pushed = run_clients(system.task.endpoint(), clients, plan, Some(sampler)).await;
    let _ = done.send(true);
    let mut freshness = prober.await.context("the prober panicked")??;
    let (report, elapsed) = pushed?;
    println!(
        "  pushed {} updates ({}) in {:.2} s: {:.0} updates/s (target {:.0})",
        report.counts.total(),
        report.counts,
        elapsed.as_secs_f64(),
        rate(report.counts.total(), elapsed),
        args.rate
    );
    let mut acks = report.latencies.clone();
    println!("  acknowledgement latency {}", acks.summary());
    println!(
        "  freshness (ack to visible in reporting) {}",
        freshness.summary()
    );
    check_breakdown(reporting, calendar, report.last_cursor, report.counts).await?;
    println!("  verified: StatusBreakdown (min_cursor = last ack) counts every update pushed");
    print_peak_rss(&system)?;
    system.stop()?;
    crate::ingest::verify(&storage, &report).await
}

/// Resolves samples as reporting's applied cursor passes them, until the
/// clients are done and every sample is resolved.
async fn probe(
    mut reporting: ReportingServiceClient<TracedChannel>,
    samples: Arc<Mutex<Vec<AckSample>>>,
    interval: Duration,
    done: watch::Receiver<bool>,
) -> anyhow::Result<Latencies> {
    let mut pending: Vec<AckSample> = Vec::new();
    let mut freshness = Latencies::default();
    let mut drain_deadline: Option<Instant> = None;
    loop {
        tokio::time::sleep(interval).await;
        let applied = reporting
            .get_sync_state(v1::GetSyncStateRequest {})
            .await
            .context("GetSyncState failed")?
            .into_inner()
            .applied_cursor;
        let seen = Instant::now();
        if let Ok(mut new) = samples.lock() {
            pending.append(&mut new);
        }
        pending.retain(|(cursor, acked)| {
            let covered = *cursor <= applied;
            if covered {
                freshness.record(seen.saturating_duration_since(*acked));
            }
            !covered
        });
        if *done.borrow() {
            if pending.is_empty() {
                return Ok(freshness);
            }
            let deadline = *drain_deadline.get_or_insert_with(|| Instant::now() + DRAIN_LIMIT);
            anyhow::ensure!(
                Instant::now() < deadline,
                "reporting did not apply {} sampled updates within {DRAIN_LIMIT:?}",
                pending.len()
            );
        }
    }
}

/// The national row of a StatusBreakdown over the run's tasks, read after
/// the last acknowledged cursor, must count exactly what was pushed (every
/// completion is on time: deadlines are a month away).
pub async fn check_breakdown(
    mut reporting: ReportingServiceClient<TracedChannel>,
    calendar: Calendar,
    last_cursor: i64,
    counts: Counts,
) -> anyhow::Result<()> {
    let period = v1::Period {
        kind: Some(v1::period::Kind::Range(v1::DateRange {
            start: Some(date_to_proto(calendar.assigned)),
            end: Some(date_to_proto(calendar.today)),
        })),
    };
    let mut request = tasknet_proto::tonic::Request::new(v1::StatusBreakdownRequest {
        period: Some(period),
        as_of: Some(date_to_proto(calendar.today)),
        min_cursor: last_cursor,
        ..Default::default()
    });
    request.set_timeout(Duration::from_secs(60));
    let response = reporting
        .status_breakdown(request)
        .await
        .context("StatusBreakdown failed")?
        .into_inner();
    let national = response
        .national
        .and_then(|row| row.current)
        .context("no national row")?;
    let expected = v1::StatusCounts {
        total: counts.creates as i64,
        completed_on_time: counts.completions as i64,
        completed_late: 0,
        open_within_deadline: (counts.creates - counts.completions) as i64,
        open_overdue: 0,
    };
    anyhow::ensure!(
        national == expected,
        "StatusBreakdown says {national:?}, expected {expected:?}"
    );
    Ok(())
}
