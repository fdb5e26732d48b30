//! `tasknet agent run --metrics-listen ADDRESS`: the outbox's depth, the
//! age of its oldest pending update, and how fresh the local copy of the
//! office's tasks is, as Prometheus gauges, read from the outbox database
//! every few seconds while the agent runs.

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
    tasks: Gauge,
    feed_failing: Gauge,
}

static METRICS: LazyLock<AgentMetrics> = LazyLock::new(|| {
    let metrics = AgentMetrics {
        pending: Gauge::default(),
        parked: Gauge::default(),
        oldest: Gauge::default(),
        tasks: Gauge::default(),
        feed_failing: Gauge::default(),
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
    register(
        "tasknet_agent_tasks_held",
        "Tasks of the office in the agent's local copy",
        None,
        metrics.tasks.clone(),
    );
    // Staff work from the copy: an alert on this says it has gone stale.
    register(
        "tasknet_agent_tasks_feed_failing",
        "1 while the agent cannot follow the centre's feed of the office's tasks",
        None,
        metrics.feed_failing.clone(),
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
            match agent.feed_state().await {
                Ok(feed) => {
                    METRICS
                        .tasks
                        .set(i64::try_from(feed.tasks).unwrap_or(i64::MAX));
                    METRICS
                        .feed_failing
                        .set(i64::from(feed.last_error.is_some()));
                }
                Err(error) => tracing::warn!(%error, "cannot read the local copy for metrics"),
            }
            tokio::select! {
                () = tokio::time::sleep(REFRESH) => {}
                () = shutdown.wait() => return,
            }
        }
    });
    Ok(())
}
