//! `tasknet agent run --metrics-listen ADDRESS`: the outbox's depth and the
//! age of its oldest pending update as Prometheus gauges, read from the
//! outbox every few seconds while the pusher runs.

use std::sync::LazyLock;
use std::time::Duration;

use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Unit;
use tasknet_agent::Agent;
use tasknet_server::Shutdown;
use tasknet_server::metrics::register;

/// How often the gauges are refreshed from the outbox.
const REFRESH: Duration = Duration::from_secs(5);

struct AgentMetrics {
    pending: Gauge,
    parked: Gauge,
    oldest: Gauge,
}

static METRICS: LazyLock<AgentMetrics> = LazyLock::new(|| {
    let metrics = AgentMetrics {
        pending: Gauge::default(),
        parked: Gauge::default(),
        oldest: Gauge::default(),
    };
    register(
        "tasknet_agent_outbox_pending",
        "Updates entered at the office and not yet acknowledged by the centre",
        None,
        metrics.pending.clone(),
    );
    register(
        "tasknet_agent_outbox_parked",
        "Updates the centre refused, waiting for the office to retry or discard them",
        None,
        metrics.parked.clone(),
    );
    register(
        "tasknet_agent_outbox_oldest_pending_age",
        "Age of the oldest pending update (0 when none is pending)",
        Some(Unit::Seconds),
        metrics.oldest.clone(),
    );
    metrics
});

/// Serves the metrics on `addr` and keeps the gauges fresh until shutdown.
pub async fn serve(agent: Agent, addr: &str, shutdown: Shutdown) -> anyhow::Result<()> {
    LazyLock::force(&METRICS);
    let local = tasknet_server::metrics::serve(addr, shutdown.clone()).await?;
    println!("metrics on http://{local}/metrics");
    tokio::spawn(async move {
        loop {
            match agent.status().await {
                Ok(status) => {
                    METRICS.pending.set(status.pending as i64);
                    METRICS.parked.set(status.parked as i64);
                    METRICS
                        .oldest
                        .set(status.oldest_pending_age_seconds.unwrap_or(0));
                }
                Err(error) => tracing::warn!(%error, "cannot read the outbox for metrics"),
            }
            tokio::select! {
                () = tokio::time::sleep(REFRESH) => {}
                () = shutdown.wait() => return,
            }
        }
    });
    Ok(())
}
