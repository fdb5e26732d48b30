//! The agent's typed configuration: which unit it speaks for, where the
//! centre is, where its outbox lives, its credentials, and how it pushes.

use std::path::{Path, PathBuf};
use std::time::Duration;

use secrecy::SecretString;
use serde::{Deserialize, Serialize};

/// Everything an agent needs; [`AgentConfig::new`] gives working push defaults.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AgentConfig {
    /// The provincial office (unit id, a UUID) whose updates this agent carries.
    pub unit_id: String,
    /// The central task service, `http://host:port` (or `https://…`).
    pub endpoint: String,
    /// Where the outbox (`outbox.db`) and the pusher's lock file live.
    pub data_dir: PathBuf,
    /// Sent as `authorization: Bearer <token>` on every call when set (an
    /// office-agent credential of this unit, from `tasknet admin token create`).
    /// Never printed, never serialised, wiped from memory when dropped.
    #[serde(default, skip_serializing)]
    pub token: Option<SecretString>,
    /// The CA certificate (PEM) that signed the centre's certificate, for an
    /// `https://` endpoint.
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
    #[serde(default)]
    pub push: PushSettings,
}

impl AgentConfig {
    pub fn new(
        unit_id: impl Into<String>,
        endpoint: impl Into<String>,
        data_dir: impl Into<PathBuf>,
    ) -> Self {
        Self {
            unit_id: unit_id.into(),
            endpoint: endpoint.into(),
            data_dir: data_dir.into(),
            token: None,
            ca_file: None,
            push: PushSettings::default(),
        }
    }

    /// The outbox database file.
    pub fn outbox_path(&self) -> PathBuf {
        outbox_path(&self.data_dir)
    }
}

/// The outbox file inside a data directory.
pub fn outbox_path(data_dir: &Path) -> PathBuf {
    data_dir.join("outbox.db")
}

/// How the pusher talks to the centre. Durations are in milliseconds so the
/// settings read the same in a TOML file and in code.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct PushSettings {
    /// Concurrent `Ingest` streams on the one connection.
    pub streams: usize,
    /// Updates sent on one stream and not yet answered, at most.
    pub window: usize,
    /// Outbox rows loaded into memory at a time.
    pub batch_rows: usize,
    /// Connecting (TCP and HTTP/2 handshake) may take this long.
    pub connect_timeout_ms: u64,
    /// With updates in flight, the centre must answer something within this;
    /// otherwise the link counts as stalled, and the pusher reconnects.
    pub ack_timeout_ms: u64,
    /// First retry delay after a transient failure; it doubles per failure.
    pub backoff_initial_ms: u64,
    /// Longest retry delay.
    pub backoff_max_ms: u64,
    /// When idle, how often to look for updates entered by other processes.
    pub poll_interval_ms: u64,
}

impl Default for PushSettings {
    fn default() -> Self {
        Self {
            streams: 2,
            window: 256,
            batch_rows: 20_000,
            connect_timeout_ms: 5_000,
            ack_timeout_ms: 30_000,
            backoff_initial_ms: 250,
            backoff_max_ms: 30_000,
            poll_interval_ms: 1_000,
        }
    }
}

impl PushSettings {
    pub fn connect_timeout(&self) -> Duration {
        Duration::from_millis(self.connect_timeout_ms.max(1))
    }

    pub fn ack_timeout(&self) -> Duration {
        Duration::from_millis(self.ack_timeout_ms.max(1))
    }

    pub fn backoff_initial(&self) -> Duration {
        Duration::from_millis(self.backoff_initial_ms.max(1))
    }

    pub fn backoff_max(&self) -> Duration {
        Duration::from_millis(self.backoff_max_ms.max(self.backoff_initial_ms).max(1))
    }

    pub fn poll_interval(&self) -> Duration {
        Duration::from_millis(self.poll_interval_ms.max(10))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use secrecy::ExposeSecret;

    #[test]
    fn secrets_do_not_print() {
        let mut config = AgentConfig::new("u", "http://127.0.0.1:1", "/tmp/x");
        config.token = Some(SecretString::from("s3cr3t"));
        assert!(!format!("{config:?}").contains("s3cr3t"));
        assert_eq!(config.token.unwrap().expose_secret(), "s3cr3t");
    }

    #[test]
    fn durations_have_floors() {
        let settings = PushSettings {
            backoff_initial_ms: 500,
            backoff_max_ms: 100,
            ..PushSettings::default()
        };
        assert_eq!(settings.backoff_max(), Duration::from_millis(500));
        assert_eq!(
            config_outbox(),
            PathBuf::from("/var/lib/agent").join("outbox.db")
        );
    }

    fn config_outbox() -> PathBuf {
        AgentConfig::new("u", "e", "/var/lib/agent").outbox_path()
    }
}
