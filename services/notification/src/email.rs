//! Email over SMTP with lettre: multipart plain text and HTML, a
//! deterministic `Message-ID` (`<notification id@sender domain>`) so that a
//! message sent again after a crash can be recognised as the same one, and
//! STARTTLS, TLS or (for loopback) plain connections.

use std::time::Duration;

use lettre::message::header::{Header, HeaderName, HeaderValue};
use lettre::message::{Mailbox, MultiPart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};
use serde::{Deserialize, Serialize};

use crate::render::Message;

/// How the SMTP connection is secured.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SmtpTls {
    /// STARTTLS, required (port 587).
    #[default]
    Starttls,
    /// TLS from the first byte (port 465).
    Tls,
    /// No encryption: only for a relay on loopback or a test sink.
    None,
}

/// Where and as whom email is sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SmtpSettings {
    pub host: String,
    pub port: u16,
    pub tls: SmtpTls,
    /// `Tasknet <noreply@example.gov.vn>`.
    pub from: String,
    pub username: Option<String>,
    pub password: Option<String>,
    pub timeout: Duration,
}

/// Sends one message per connection (deliveries are few and spread out).
#[derive(Clone)]
pub struct EmailSender {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
    /// The right-hand side of Message-IDs.
    domain: String,
}

impl std::fmt::Debug for EmailSender {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EmailSender")
            .field("from", &self.from.to_string())
            .finish_non_exhaustive()
    }
}

impl EmailSender {
    pub fn new(settings: &SmtpSettings) -> anyhow::Result<Self> {
        let from: Mailbox = settings
            .from
            .parse()
            .map_err(|error| anyhow::anyhow!("notify.smtp.from {:?}: {error}", settings.from))?;
        let domain = from.email.domain().to_owned();
        let builder = match settings.tls {
            SmtpTls::Starttls => {
                AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(&settings.host)?
            }
            SmtpTls::Tls => AsyncSmtpTransport::<Tokio1Executor>::relay(&settings.host)?,
            SmtpTls::None => {
                AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&settings.host)
            }
        };
        let mut builder = builder.port(settings.port).timeout(Some(settings.timeout));
        if let Some(username) = &settings.username {
            builder = builder.credentials(Credentials::new(
                username.clone(),
                settings.password.clone().unwrap_or_default(),
            ));
        }
        Ok(Self {
            transport: builder.build(),
            from,
            domain,
        })
    }

    /// The Message-ID of a notification's email.
    pub fn message_id(&self, notification_id: &str) -> String {
        message_id(notification_id, &self.domain)
    }

    /// Sends `message` written in `language`; `Ok` once the server has accepted the message (its reply to DATA).
    pub async fn send(
        &self,
        notification_id: &str,
        to: &str,
        language: &str,
        message: Message,
    ) -> Result<(), String> {
        let to: Mailbox = to
            .parse()
            .map_err(|error| format!("invalid recipient address {to:?}: {error}"))?;
        let email = lettre::Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(message.subject)
            .message_id(Some(self.message_id(notification_id)))
            .header(ContentLanguage(language.to_owned()))
            .multipart(MultiPart::alternative_plain_html(
                message.text,
                message.html,
            ))
            .map_err(|error| format!("cannot build the message: {error}"))?;
        self.transport
            .send(email)
            .await
            .map(|_| ())
            .map_err(|error| format!("SMTP: {error}"))
    }
}

/// `Content-Language: vi` (RFC 3282): what mail clients and filters read.
#[derive(Debug, Clone)]
struct ContentLanguage(String);

impl Header for ContentLanguage {
    fn name() -> HeaderName {
        HeaderName::new_from_ascii_str("Content-Language")
    }

    fn parse(text: &str) -> Result<Self, Box<dyn std::error::Error + Send + Sync>> {
        Ok(Self(text.trim().to_owned()))
    }

    fn display(&self) -> HeaderValue {
        HeaderValue::new(Self::name(), self.0.clone())
    }
}

/// `<id@domain>`: the same notification always has the same Message-ID.
pub fn message_id(notification_id: &str, domain: &str) -> String {
    format!("<{notification_id}@{domain}>")
}
