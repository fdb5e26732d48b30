//! The task service's metrics: mutations ingested by outcome, the writer's
//! batch sizes and commit latency, and the change log's head cursor.

use std::sync::LazyLock;
use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Unit;
use tasknet_server::metrics::register;

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OutcomeLabel {
    outcome: &'static str,
}

pub struct TaskMetrics {
    mutations: Family<OutcomeLabel, Counter>,
    batch_size: Histogram,
    commit: Histogram,
    head: Gauge,
}

static METRICS: LazyLock<TaskMetrics> = LazyLock::new(|| {
    let metrics = TaskMetrics {
        mutations: Family::default(),
        batch_size: Histogram::new(exponential_buckets(1.0, 2.0, 14)),
        commit: Histogram::new(exponential_buckets(0.0005, 2.0, 16)),
        head: Gauge::default(),
    };
    register(
        "tasknet_ingest_mutations",
        "Task mutations the writer answered, by outcome (accepted, refused)",
        None,
        metrics.mutations.clone(),
    );
    register(
        "tasknet_writer_batch_size",
        "Mutations per writer transaction (group commit)",
        None,
        metrics.batch_size.clone(),
    );
    register(
        "tasknet_writer_commit_duration",
        "Time from a writer transaction's start to its commit",
        Some(Unit::Seconds),
        metrics.commit.clone(),
    );
    register(
        "tasknet_change_log_head",
        "The newest change-log cursor this replica has committed or seen at start",
        None,
        metrics.head.clone(),
    );
    metrics
});

/// One committed writer transaction of `size` mutations.
pub fn committed(size: usize, took: Duration, head: Option<i64>) {
    METRICS.batch_size.observe(size as f64);
    METRICS.commit.observe(took.as_secs_f64());
    if let Some(head) = head {
        head_is(head);
    }
}

/// Answers given to requesters.
pub fn answered(accepted: usize, refused: usize) {
    let count = |outcome| METRICS.mutations.get_or_create(&OutcomeLabel { outcome });
    count("accepted").inc_by(accepted as u64);
    count("refused").inc_by(refused as u64);
}

/// The change log's head as this replica knows it.
pub fn head_is(head: i64) {
    METRICS.head.set(head);
}
