//! The tasknet notification service: chasing the work. Each Vietnam civil
//! day it decides, from the task state reporting's figures use, which
//! reminders, digests and escalations the rules call for; writes them to
//! its own outbox first; and delivers each once, by email (SMTP) and signed
//! webhooks, retrying with backoff and keeping dead letters for an
//! administrator (docs/notifications.md).

mod calendar;
pub mod clock;
mod deliver;
pub mod email;
mod error;
mod judge;
mod metrics;
pub mod outbox;
mod policy;
pub mod quiet;
pub mod render;
pub mod rules;
mod service;
#[cfg(any(test, feature = "testing"))]
pub mod testing;
pub mod webhook;

#[cfg(test)]
mod tests;

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use tasknet_auth::AuditLog;
use tasknet_proto::tonic::server::NamedService;
use tasknet_proto::tonic::service::Routes;
use tasknet_proto::v1::notification_service_server::NotificationServiceServer;
use tasknet_server::{ClientOptions, ServiceApp, Shutdown};
use tasknet_storage::DatabaseOptions;
use tokio::sync::Notify;
use tokio::task::JoinHandle;

pub use calendar::CalendarSettings;
pub use deliver::DeliverySettings;
pub use email::{SmtpSettings, SmtpTls};
pub use error::Error;
pub use policy::POLICY;
pub use rules::Rules;
pub use service::NotificationHandler;

use clock::SharedClock;
use deliver::Deliverer;
use judge::Judge;
use outbox::Outbox;

/// The fully qualified gRPC name, from the generated server.
pub const SERVICE_NAME: &str =
    <NotificationServiceServer<NotificationHandler> as NamedService>::NAME;

/// Largest request accepted: every request is small.
const MAX_DECODING_MESSAGE_BYTES: usize = 64 * 1024;

#[derive(Debug, Clone)]
pub struct NotificationSettings {
    /// `sqlite://…` or `postgres://…`.
    pub database_url: String,
    pub database: DatabaseOptions,
    /// Reporting, whose read model the days are judged on.
    pub reporting_endpoint: String,
    /// The organisation service, which lists the units' contacts.
    pub organisation_endpoint: String,
    /// This service's SERVICE credential for those calls.
    pub client: ClientOptions,
    pub rules: Rules,
    /// `None`: email rows wait in the outbox until a server is configured.
    pub smtp: Option<SmtpSettings>,
    pub delivery: DeliverySettings,
    /// How long a webhook receiver may take to answer.
    pub webhook_timeout: Duration,
    /// `None`: days are judged only by JudgeDay.
    pub calendar: Option<CalendarSettings>,
}

/// The running notification service.
pub struct NotificationApp {
    outbox: Outbox,
    handler: NotificationHandler,
    audit: AuditLog,
    tasks: Vec<JoinHandle<()>>,
}

impl NotificationApp {
    /// Opens the outbox and starts the senders and the calendar (until `shutdown`).
    pub async fn open(settings: &NotificationSettings, shutdown: Shutdown) -> anyhow::Result<Self> {
        Self::open_with_clock(settings, shutdown, clock::system()).await
    }

    /// [`NotificationApp::open`] on a given clock (unit tests walk the calendar).
    pub async fn open_with_clock(
        settings: &NotificationSettings,
        shutdown: Shutdown,
        clock: SharedClock,
    ) -> anyhow::Result<Self> {
        settings.rules.validate().map_err(anyhow::Error::msg)?;
        let outbox = Outbox::open(&settings.database_url, &settings.database)
            .await
            .context("failed to open the notification database")?;
        let reporting =
            tasknet_server::connect_lazy_with(&settings.reporting_endpoint, &settings.client)
                .with_context(|| {
                    format!(
                        "invalid reporting endpoint {:?}",
                        settings.reporting_endpoint
                    )
                })?;
        let organisation =
            tasknet_server::connect_lazy_with(&settings.organisation_endpoint, &settings.client)
                .with_context(|| {
                    format!(
                        "invalid organisation endpoint {:?}",
                        settings.organisation_endpoint
                    )
                })?;
        let wake = Arc::new(Notify::new());
        let judge = Judge::new(
            outbox.clone(),
            reporting,
            organisation,
            settings.rules.clone(),
            clock.clone(),
            wake.clone(),
        );
        let email = settings
            .smtp
            .as_ref()
            .map(email::EmailSender::new)
            .transpose()
            .context("invalid SMTP settings")?;
        if email.is_none() {
            tracing::warn!("no SMTP server configured: email notifications wait in the outbox");
        }
        let deliverer = Deliverer::new(
            outbox.clone(),
            email,
            webhook::WebhookSender::new(settings.webhook_timeout)?,
            settings.delivery.clone(),
            clock.clone(),
            wake,
        );
        let mut tasks = vec![shutdown.spawn(deliverer.run(shutdown.clone()))];
        if let Some(calendar) = &settings.calendar {
            tasks.push(shutdown.spawn(calendar::run(
                judge.clone(),
                outbox.clone(),
                clock.clone(),
                calendar.clone(),
                shutdown.clone(),
            )));
        }
        let audit = AuditLog::new(outbox.pool().clone());
        tracing::info!("notification outbox opened; senders started");
        Ok(Self {
            handler: NotificationHandler::new(outbox.clone(), judge, clock),
            outbox,
            audit,
            tasks,
        })
    }

    /// The tonic service to add to a `tonic::service::Routes`.
    pub fn service(&self) -> NotificationServiceServer<NotificationHandler> {
        NotificationServiceServer::new(self.handler.clone())
            .max_decoding_message_size(MAX_DECODING_MESSAGE_BYTES)
    }

    /// Waits for the senders and the calendar to stop, then closes the pool.
    pub async fn closed(self) {
        for task in self.tasks {
            if let Err(error) = task.await {
                tracing::error!(%error, "a notification task panicked");
            }
        }
        self.outbox.close().await;
    }
}

impl ServiceApp for NotificationApp {
    fn name(&self) -> &'static str {
        SERVICE_NAME
    }

    fn add_to(&self, routes: Routes) -> Routes {
        routes.add_service(self.service())
    }

    fn audit_log(&self) -> AuditLog {
        self.audit.clone()
    }

    fn readiness(&self) -> tasknet_server::Readiness {
        tasknet_server::Readiness::default().with(
            SERVICE_NAME,
            Arc::new(self.outbox.database().health_check()),
        )
    }

    fn close(self: Box<Self>) -> std::pin::Pin<Box<dyn Future<Output = ()> + Send>> {
        Box::pin(self.closed())
    }
}
