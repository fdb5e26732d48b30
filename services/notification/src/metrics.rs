//! The notification service's metrics: the outbox by channel and state
//! (pending, sent, dead, refreshed as the senders work), delivery attempts
//! by channel and outcome, and how long a delivery took.

use std::sync::LazyLock;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Unit;
use tasknet_proto::v1;
use tasknet_server::metrics::{HistogramFamily, histograms, register};

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OutboxLabels {
    channel: &'static str,
    state: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct AttemptLabels {
    channel: &'static str,
    outcome: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ChannelLabels {
    channel: &'static str,
}

struct NotificationMetrics {
    outbox: Family<OutboxLabels, Gauge>,
    attempts: Family<AttemptLabels, Counter>,
    duration: HistogramFamily<ChannelLabels>,
}

static METRICS: LazyLock<NotificationMetrics> = LazyLock::new(|| {
    let metrics = NotificationMetrics {
        outbox: Family::default(),
        attempts: Family::default(),
        duration: histograms(0.001, 16),
    };
    register(
        "tasknet_notification_outbox",
        "Notifications in the outbox by channel and state (pending, sent, dead)",
        None,
        metrics.outbox.clone(),
    );
    register(
        "tasknet_notification_delivery_attempts",
        "Delivery attempts by channel and outcome (sent, retry, dead)",
        None,
        metrics.attempts.clone(),
    );
    register(
        "tasknet_notification_delivery_duration",
        "Time from connecting to the receiver's acknowledgement, per attempt",
        Some(Unit::Seconds),
        metrics.duration.clone(),
    );
    metrics
});

pub fn channel_name(channel: v1::NotificationChannel) -> &'static str {
    match channel {
        v1::NotificationChannel::Email => "email",
        v1::NotificationChannel::Webhook => "webhook",
        v1::NotificationChannel::Unspecified => "unspecified",
    }
}

fn state_name(state: v1::DeliveryState) -> &'static str {
    match state {
        v1::DeliveryState::Pending => "pending",
        v1::DeliveryState::Sent => "sent",
        v1::DeliveryState::Dead => "dead",
        v1::DeliveryState::Unspecified => "unspecified",
    }
}

/// The outbox counts as just read: (channel, state, count).
pub fn outbox(counts: &[(i32, i32, i64)]) {
    for channel in [
        v1::NotificationChannel::Email,
        v1::NotificationChannel::Webhook,
    ] {
        for state in [
            v1::DeliveryState::Pending,
            v1::DeliveryState::Sent,
            v1::DeliveryState::Dead,
        ] {
            let count = counts
                .iter()
                .find(|(c, s, _)| *c == channel as i32 && *s == state as i32)
                .map_or(0, |(_, _, n)| *n);
            METRICS
                .outbox
                .get_or_create(&OutboxLabels {
                    channel: channel_name(channel),
                    state: state_name(state),
                })
                .set(count);
        }
    }
}

/// One delivery attempt ended with `outcome` after `seconds`.
pub fn attempt(channel: v1::NotificationChannel, outcome: &'static str, seconds: f64) {
    let channel = channel_name(channel);
    METRICS
        .attempts
        .get_or_create(&AttemptLabels { channel, outcome })
        .inc();
    METRICS
        .duration
        .get_or_create(&ChannelLabels { channel })
        .observe(seconds);
}
