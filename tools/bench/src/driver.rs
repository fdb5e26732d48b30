//! Office clients: each pushes its workload over one `Ingest` stream of its
//! own connection, with its own office-agent credential, and times every
//! acknowledgement. Closed loop (as fast as a window of unacknowledged items
//! allows) for throughput, or open loop at a fixed rate for freshness.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use tasknet_proto::v1;
use tasknet_proto::v1::ingest_response::Outcome;
use tasknet_proto::v1::task_service_client::TaskServiceClient;
use tasknet_server::ClientOptions;
use tokio::sync::{Semaphore, mpsc};
use tokio_stream::wrappers::ReceiverStream;

use crate::stats::Latencies;
use crate::workload::{Counts, Kind, Workload, update_id};

/// When a client stops sending.
#[derive(Debug, Clone, Copy)]
pub enum Limit {
    Updates(u64),
    Until(Instant),
}

/// How a client paces its sends.
#[derive(Debug, Clone, Copy)]
pub enum Pacing {
    /// As fast as the window allows.
    Closed,
    /// One item every `interval`, on schedule whatever the acknowledgements
    /// do (up to the window).
    Open { interval: Duration },
}

/// A client's settings.
#[derive(Debug, Clone, Copy)]
pub struct ClientPlan {
    pub limit: Limit,
    pub pacing: Pacing,
    /// Most items sent and not yet acknowledged.
    pub window: usize,
}

/// One acknowledged item's change-log cursor and when its ack arrived.
pub type AckSample = (i64, Instant);

/// What a client saw.
#[derive(Debug, Default)]
pub struct ClientReport {
    pub counts: Counts,
    pub duplicates: u64,
    pub latencies: Latencies,
    pub last_cursor: i64,
}

impl ClientReport {
    pub fn merge(mut self, other: ClientReport) -> Self {
        self.counts = self.counts.plus(other.counts);
        self.duplicates += other.duplicates;
        self.latencies.extend(other.latencies);
        self.last_cursor = self.last_cursor.max(other.last_cursor);
        self
    }
}

/// Where every `every`-th acknowledgement is recorded (freshness sampling).
#[derive(Clone)]
pub struct Sampler {
    pub every: u64,
    pub samples: Arc<Mutex<Vec<AckSample>>>,
}

/// Pushes `workload` to the task service at `endpoint` as `office`.
pub async fn run_client(
    endpoint: &str,
    office: &ClientOptions,
    workload: Workload,
    plan: ClientPlan,
    sampler: Option<Sampler>,
) -> anyhow::Result<ClientReport> {
    let channel = tasknet_server::connect_lazy_with(endpoint, office)?;
    let mut client = TaskServiceClient::new(channel);
    let (requests, receiver) = mpsc::channel(plan.window.max(1));
    // Send instants and kinds of items in flight, in send order: the
    // service answers in that order.
    let (in_flight, mut sent) = mpsc::unbounded_channel::<(Instant, Kind, String)>();
    let window = Arc::new(Semaphore::new(plan.window.max(1)));
    let send = send_all(workload, plan, requests, in_flight, window.clone());
    let receive = async {
        let mut responses = client
            .ingest(ReceiverStream::new(receiver))
            .await
            .context("Ingest failed")?
            .into_inner();
        let mut report = ClientReport::default();
        while let Some((sent_at, kind, expected_id)) = sent.recv().await {
            let response = responses
                .message()
                .await
                .context("the Ingest stream failed")?
                .context("the Ingest stream ended early")?;
            let latency = sent_at.elapsed();
            let cursor = check(&response, &expected_id)?;
            window.add_permits(1);
            report.counts.add(kind);
            report.latencies.record(latency);
            report.duplicates += u64::from(cursor.1);
            report.last_cursor = report.last_cursor.max(cursor.0);
            if let Some(sampler) = &sampler
                && report.counts.total() % sampler.every == 0
                && let Ok(mut samples) = sampler.samples.lock()
            {
                samples.push((cursor.0, Instant::now()));
            }
        }
        Ok::<_, anyhow::Error>(report)
    };
    let ((), report) = tokio::try_join!(send, receive)?;
    Ok(report)
}

/// Sends items until the limit, paced, each after taking a window permit.
async fn send_all(
    workload: Workload,
    plan: ClientPlan,
    requests: mpsc::Sender<v1::IngestRequest>,
    in_flight: mpsc::UnboundedSender<(Instant, Kind, String)>,
    window: Arc<Semaphore>,
) -> anyhow::Result<()> {
    let started = tokio::time::Instant::now();
    for (sent, (kind, request)) in (0_u64..).zip(workload) {
        let stop = match plan.limit {
            Limit::Updates(limit) => sent >= limit,
            Limit::Until(deadline) => Instant::now() >= deadline,
        };
        if stop {
            break;
        }
        if let Pacing::Open { interval } = plan.pacing {
            let due = started + interval.mul_f64(sent as f64);
            tokio::time::sleep_until(due).await;
        }
        let permit = window.acquire().await.context("window closed")?;
        permit.forget();
        let id = update_id(&request).to_owned();
        if in_flight.send((Instant::now(), kind, id)).is_err() {
            break;
        }
        // A closed stream means the call failed: the receiving side says why.
        if requests.send(request).await.is_err() {
            break;
        }
    }
    Ok(())
}

/// The (cursor, duplicate) of an acknowledgement of `update_id`, or the error
/// the service answered.
fn check(response: &v1::IngestResponse, update_id: &str) -> anyhow::Result<(i64, bool)> {
    if response.update_id != update_id {
        bail!(
            "Ingest answered {:?} where {update_id:?} was expected next",
            response.update_id
        );
    }
    match &response.outcome {
        Some(Outcome::Ack(ack)) => Ok((ack.cursor, ack.duplicate)),
        Some(Outcome::Error(error)) => bail!(
            "the task service refused {update_id}: {} (code {}, field {:?})",
            error.message,
            error.code,
            error.field
        ),
        None => bail!("Ingest answered {update_id} with no outcome"),
    }
}

/// Runs one client per (office credential, workload) concurrently and
/// merges their reports; fails if any fails.
pub async fn run_clients(
    endpoint: &str,
    clients: Vec<(ClientOptions, Workload)>,
    plan: ClientPlan,
    sampler: Option<Sampler>,
) -> anyhow::Result<(ClientReport, Duration)> {
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for (office, workload) in clients {
        let endpoint = endpoint.to_owned();
        let sampler = sampler.clone();
        tasks.spawn(async move { run_client(&endpoint, &office, workload, plan, sampler).await });
    }
    let mut total = ClientReport::default();
    while let Some(joined) = tasks.join_next().await {
        total = total.merge(joined.context("a client panicked")??);
    }
    Ok((total, started.elapsed()))
}
