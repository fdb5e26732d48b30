//! The reporting service's metrics: the change-log cursor it has applied,
//! how old the newest applied change was when applied, how long following
//! has been failing, and the status index's size and load time.

use std::sync::LazyLock;
use std::sync::atomic::AtomicU64;
use std::time::Duration;

use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Unit;
use tasknet_server::metrics::register;

pub struct ReportingMetrics {
    applied: Gauge,
    delay: Gauge<f64, AtomicU64>,
    failing: Gauge<f64, AtomicU64>,
    index_entries: Gauge,
    index_load: Histogram,
}

static METRICS: LazyLock<ReportingMetrics> = LazyLock::new(|| {
    let metrics = ReportingMetrics {
        applied: Gauge::default(),
        delay: Gauge::default(),
        failing: Gauge::default(),
        index_entries: Gauge::default(),
        index_load: Histogram::new(exponential_buckets(0.01, 2.0, 14)),
    };
    register(
        "tasknet_reporting_applied_cursor",
        "The task change-log cursor the read model has applied (the lag in changes is the \
         task service's tasknet_change_log_head minus this: the recording rule \
         tasknet:reporting_lag:changes)",
        None,
        metrics.applied.clone(),
    );
    register(
        "tasknet_reporting_apply_delay",
        "The lag in seconds: how long before its application the newest applied change was \
         recorded (set when a batch is applied)",
        Some(Unit::Seconds),
        metrics.delay.clone(),
    );
    register(
        "tasknet_reporting_follow_failing",
        "How long following the task change log has been failing (0 while it follows)",
        Some(Unit::Seconds),
        metrics.failing.clone(),
    );
    register(
        "tasknet_reporting_index_entries",
        "Entries in the in-memory status index",
        None,
        metrics.index_entries.clone(),
    );
    register(
        "tasknet_reporting_index_load_duration",
        "Time to load the status index from the database",
        Some(Unit::Seconds),
        metrics.index_load.clone(),
    );
    metrics
});

/// A batch applied up to `cursor`, its newest change recorded `delay` ago.
pub fn applied(cursor: i64, delay: Option<Duration>) {
    METRICS.applied.set(cursor);
    if let Some(delay) = delay {
        METRICS.delay.set(delay.as_secs_f64());
    }
}

/// The cursor found stored at start.
pub fn resumed(cursor: i64) {
    METRICS.applied.set(cursor);
}

/// How long following has failed (zero while it follows).
pub fn failing_for(failing: Option<Duration>) {
    METRICS
        .failing
        .set(failing.unwrap_or_default().as_secs_f64());
}

/// The status index was loaded with `entries` entries in `took`.
pub fn index_loaded(entries: usize, took: Duration) {
    METRICS.index_entries.set(entries as i64);
    METRICS.index_load.observe(took.as_secs_f64());
}
