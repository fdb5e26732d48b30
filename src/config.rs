//! Typed configuration: built-in defaults (enough for `tasknet up` with no
//! file), then a TOML file, then `TASKNET_…` environment variables, then
//! command-line flags.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context;
use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use serde::{Deserialize, Serialize};

/// Settings of a tasknet process, whichever services it runs.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct Config {
    /// Address the gRPC server listens on.
    pub listen: String,
    /// Where SQLite databases live when no database URL is given.
    pub data_dir: PathBuf,
    /// postgres://… (or sqlite://…) instead of the SQLite files in `data_dir`.
    pub database_url: Option<String>,
    /// The task service, for a reporting process of its own.
    pub task_endpoint: Option<String>,
    /// The organisation service, for task and reporting processes of their own.
    pub organisation_endpoint: Option<String>,
    pub database: DatabaseConfig,
    /// How long in-flight requests may take to finish after SIGTERM, in seconds.
    pub drain_timeout_secs: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct DatabaseConfig {
    pub max_connections: u32,
    pub acquire_timeout_secs: u64,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            listen: "127.0.0.1:50051".to_owned(),
            data_dir: PathBuf::from("tasknet-data"),
            database_url: None,
            task_endpoint: None,
            organisation_endpoint: None,
            database: DatabaseConfig::default(),
            drain_timeout_secs: 10,
        }
    }
}

impl Default for DatabaseConfig {
    fn default() -> Self {
        Self {
            max_connections: 16,
            acquire_timeout_secs: 30,
        }
    }
}

/// Command-line values that override everything else; `None` leaves a key alone.
#[derive(Debug, Default, Serialize)]
pub struct Overrides {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub listen: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data_dir: Option<PathBuf>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub database_url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub task_endpoint: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub organisation_endpoint: Option<String>,
}

impl Config {
    pub fn load(file: Option<&Path>, overrides: &Overrides) -> anyhow::Result<Self> {
        let mut figment = Figment::from(Serialized::defaults(Config::default()));
        if let Some(file) = file {
            anyhow::ensure!(
                file.is_file(),
                "configuration file {} not found",
                file.display()
            );
            figment = figment.merge(Toml::file(file));
        }
        figment
            .merge(Env::prefixed("TASKNET_").split("__").only(&[
                "listen",
                "data_dir",
                "database_url",
                "task_endpoint",
                "organisation_endpoint",
                "drain_timeout_secs",
                "database.max_connections",
                "database.acquire_timeout_secs",
            ]))
            .merge(Serialized::defaults(overrides))
            .extract()
            .context("invalid configuration")
    }

    pub fn database_options(&self, schema: &str) -> tasknet_storage::DatabaseOptions {
        tasknet_storage::DatabaseOptions {
            max_connections: self.database.max_connections,
            acquire_timeout: Duration::from_secs(self.database.acquire_timeout_secs),
            schema: Some(schema.to_owned()),
        }
    }

    /// The database URL of one service: its own SQLite file in the data
    /// directory, or the shared server URL (where it gets its own schema).
    pub fn database_url_for(&self, service: &str) -> String {
        match &self.database_url {
            Some(url) => url.clone(),
            None => tasknet_storage::sqlite_url(&self.data_dir.join(format!("{service}.db"))),
        }
    }

    pub fn drain_timeout(&self) -> Duration {
        Duration::from_secs(self.drain_timeout_secs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_need_no_file() {
        let config = Config::load(None, &Overrides::default()).unwrap();
        assert_eq!(config.listen, "127.0.0.1:50051");
        assert!(
            config
                .database_url_for("task")
                .ends_with("tasknet-data/task.db")
        );
    }

    #[test]
    fn file_then_flags_override_defaults() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("tasknet.toml");
        std::fs::write(
            &file,
            "listen = \"127.0.0.1:6000\"\n[database]\nmax_connections = 4\n",
        )
        .unwrap();
        let config = Config::load(Some(&file), &Overrides::default()).unwrap();
        assert_eq!(config.listen, "127.0.0.1:6000");
        assert_eq!(config.database.max_connections, 4);
        let overrides = Overrides {
            listen: Some("127.0.0.1:7000".into()),
            ..Overrides::default()
        };
        let config = Config::load(Some(&file), &overrides).unwrap();
        assert_eq!(config.listen, "127.0.0.1:7000");
        assert!(Config::load(Some(&dir.path().join("missing.toml")), &overrides).is_err());
    }
}
