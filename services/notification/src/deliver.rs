//! The senders: claim due outbox rows with a lease, send each by email or
//! webhook, and mark it sent as soon as the receiver has acknowledged it
//! (or schedule its retry with backoff, or declare it dead). They never
//! touch judging: a receiver that is down only delays its own rows.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tasknet_proto::v1;
use tasknet_server::Shutdown;
use tasknet_server::backoff::delay;
use tokio::sync::Notify;

use crate::clock::SharedClock;
use crate::email::EmailSender;
use crate::metrics;
use crate::outbox::{AfterFailure, Entry, Outbox};
use crate::render;
use crate::webhook::WebhookSender;

/// How deliveries are attempted.
#[derive(Debug, Clone)]
pub struct DeliverySettings {
    /// How long a claimed row is this sender's before another may take it.
    pub lease: Duration,
    /// Rows claimed at once.
    pub batch: i64,
    /// Attempts before a row becomes a dead letter.
    pub max_attempts: i32,
    /// The first retry's delay (doubling, with jitter, up to `backoff_max`).
    pub backoff_initial: Duration,
    pub backoff_max: Duration,
    /// How often the outbox is looked at when nothing woke the sender.
    pub poll_interval: Duration,
    /// The dashboard links in messages start with this.
    pub dashboard_url: String,
}

impl Default for DeliverySettings {
    fn default() -> Self {
        Self {
            lease: Duration::from_secs(60),
            batch: 50,
            max_attempts: 8,
            backoff_initial: Duration::from_secs(30),
            backoff_max: Duration::from_secs(3600),
            poll_interval: Duration::from_secs(5),
            dashboard_url: "http://127.0.0.1:50051".to_owned(),
        }
    }
}

/// Why an attempt failed, and whether trying again could help.
#[derive(Debug)]
struct Failure {
    message: String,
    permanent: bool,
}

impl Failure {
    fn retry(message: String) -> Self {
        Self {
            message,
            permanent: false,
        }
    }

    fn permanent(message: String) -> Self {
        Self {
            message,
            permanent: true,
        }
    }
}

/// One replica's sender.
#[derive(Clone)]
pub struct Deliverer {
    outbox: Outbox,
    email: Option<EmailSender>,
    webhooks: WebhookSender,
    settings: DeliverySettings,
    clock: SharedClock,
    /// This replica's name in lease owners.
    replica: String,
    wake: Arc<Notify>,
}

impl Deliverer {
    pub fn new(
        outbox: Outbox,
        email: Option<EmailSender>,
        webhooks: WebhookSender,
        settings: DeliverySettings,
        clock: SharedClock,
        wake: Arc<Notify>,
    ) -> Self {
        Self {
            outbox,
            email,
            webhooks,
            settings,
            clock,
            replica: uuid::Uuid::new_v4().simple().to_string(),
            wake,
        }
    }

    /// The channels this sender can deliver: email only with an SMTP server.
    fn channels(&self) -> Vec<v1::NotificationChannel> {
        let mut channels = vec![v1::NotificationChannel::Webhook];
        if self.email.is_some() {
            channels.push(v1::NotificationChannel::Email);
        }
        channels
    }

    /// Delivers until `shutdown`: whatever is due, then waits to be woken
    /// (a day judged) or for the poll interval.
    pub async fn run(self, shutdown: Shutdown) {
        loop {
            let busy = match self.deliver_due().await {
                Ok(count) => count > 0,
                Err(error) => {
                    tracing::warn!(%error, "cannot read the outbox; trying again shortly");
                    false
                }
            };
            if busy {
                if shutdown.is_triggered() {
                    return;
                }
                continue;
            }
            tokio::select! {
                () = shutdown.wait() => return,
                () = self.wake.notified() => {}
                () = tokio::time::sleep(self.settings.poll_interval) => {}
            }
        }
    }

    /// Claims and delivers one batch; returns how many rows it claimed.
    pub async fn deliver_due(&self) -> Result<usize, sqlx::Error> {
        let owner = format!("{}/{}", self.replica, uuid::Uuid::new_v4().simple());
        let now = self.clock.now();
        let lease_until = now
            + chrono::Duration::from_std(self.settings.lease)
                .unwrap_or(chrono::Duration::seconds(60));
        let claimed = self
            .outbox
            .claim(
                &owner,
                now,
                lease_until,
                self.settings.batch,
                &self.channels(),
            )
            .await?;
        let count = claimed.len();
        for entry in claimed {
            if let Err(error) = self.deliver(&entry, &owner).await {
                tracing::warn!(%error, id = %entry.id, "cannot record a delivery; its lease will expire");
            }
        }
        if count > 0 {
            metrics::outbox(&self.outbox.status().await?.counts);
        }
        Ok(count)
    }

    #[tracing::instrument(skip_all, fields(id = %entry.id, channel = metrics::channel_name(entry.channel)))]
    async fn deliver(&self, entry: &Entry, owner: &str) -> Result<(), sqlx::Error> {
        let now = self.clock.now();
        if let Some(until) = entry.quiet_hours.and_then(|quiet| quiet.until(now)) {
            // Never inside the recipient's quiet hours: back at their end.
            return self
                .outbox
                .defer(
                    &entry.id,
                    owner,
                    until,
                    "deferred: the recipient's quiet hours",
                )
                .await;
        }
        let started = Instant::now();
        let outcome = self.attempt(entry).await;
        let seconds = started.elapsed().as_secs_f64();
        match outcome {
            Ok(()) => {
                // The receiver has accepted it: record that at once. A crash
                // between the two leaves a row that is sent again with the
                // same Message-ID / Idempotency-Key (docs/notifications.md).
                let now = self.clock.now();
                if !self.outbox.mark_sent(&entry.id, owner, now).await? {
                    tracing::warn!(id = %entry.id, "delivered after its lease passed to another sender");
                }
                metrics::attempt(entry.channel, "sent", seconds);
            }
            Err(Failure {
                message: error,
                permanent,
            }) => {
                let failures = u32::try_from(entry.attempts).unwrap_or(0);
                let wait = delay(
                    self.settings.backoff_initial,
                    self.settings.backoff_max,
                    failures,
                    rand::random(),
                );
                let retry_at =
                    self.clock.now() + chrono::Duration::from_std(wait).unwrap_or_default();
                // What cannot succeed later is a dead letter at once.
                let max_attempts = if permanent {
                    1
                } else {
                    self.settings.max_attempts
                };
                let after = self
                    .outbox
                    .mark_failed(entry, owner, &error, max_attempts, retry_at)
                    .await?;
                let outcome = match after {
                    AfterFailure::Retry => "retry",
                    AfterFailure::Dead => "dead",
                    AfterFailure::LeaseLost => "lease_lost",
                };
                tracing::warn!(id = %entry.id, %error, outcome, "delivery failed");
                metrics::attempt(entry.channel, outcome, seconds);
            }
        }
        Ok(())
    }

    async fn attempt(&self, entry: &Entry) -> Result<(), Failure> {
        let payload = entry
            .payload()
            .map_err(|error| Failure::permanent(format!("unreadable payload: {error}")))?;
        let dashboard = &self.settings.dashboard_url;
        match entry.channel {
            v1::NotificationChannel::Email => {
                let Some(email) = &self.email else {
                    return Err(Failure::retry("no SMTP server configured".to_owned()));
                };
                let message = render::email(entry, &payload, dashboard);
                let language = if entry.language == v1::Language::En {
                    "en"
                } else {
                    "vi"
                };
                email
                    .send(&entry.id, &entry.recipient, language, message)
                    .await
                    .map_err(Failure::retry)
            }
            v1::NotificationChannel::Webhook => {
                let webhook = self
                    .outbox
                    .webhook(&entry.recipient)
                    .await
                    .map_err(|error| {
                        Failure::retry(format!("cannot read the subscription: {error}"))
                    })?
                    .ok_or_else(|| {
                        Failure::permanent("the webhook subscription was deleted".to_owned())
                    })?;
                let body = render::webhook_body(entry, &payload, dashboard);
                let timestamp = self.clock.now().timestamp();
                self.webhooks
                    .send(&webhook.url, &webhook.secret, &entry.id, body, timestamp)
                    .await
                    .map_err(Failure::retry)
            }
            v1::NotificationChannel::Unspecified => {
                Err(Failure::permanent("no channel".to_owned()))
            }
        }
    }
}
