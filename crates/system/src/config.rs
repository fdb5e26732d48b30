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
    /// Where bootstrap credentials live (`admin.token`, `service.token`):
    /// the organisation service creates them there on first start, task and
    /// reporting read `service.token` from there. `tasknet up` uses the data
    /// directory.
    pub credentials_dir: Option<PathBuf>,
    /// This service's own credential for calling the others (task and
    /// reporting), instead of `credentials_dir/service.token`.
    pub service_token: Option<String>,
    pub tls: TlsConfig,
    /// Requests per second each credential may make, and its burst.
    pub rate_limit_per_second: f64,
    pub rate_limit_burst: f64,
    /// Serve Prometheus metrics on this address (`/metrics`); off when unset.
    pub metrics_listen: Option<String>,
    /// Reporting reports NOT_SERVING once it has been unable to follow the
    /// task change log for this many seconds.
    pub follow_stale_after_secs: u64,
    /// Connection limits, timeouts and HTTP/2 settings of the listener.
    pub connections: tasknet_server::ConnectionLimits,
    /// Origins whose pages may call the services from elsewhere (CORS);
    /// empty (the default): none need to, the dashboard is served same-origin.
    /// `TASKNET_CORS_ALLOWED_ORIGINS` takes them comma-separated.
    pub cors_allowed_origins: Vec<String>,
    /// The weights of the unit scorecards' score (docs/scorecards.md).
    pub scorecard: ScorecardConfig,
    /// The notification service (`[notify]`, docs/notifications.md).
    pub notify: NotifyConfig,
}

/// TLS on the listener (when `cert_file` and `key_file` are set) and for
/// calls to other services (`ca_file`, for `https://` endpoints).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct TlsConfig {
    pub cert_file: Option<PathBuf>,
    pub key_file: Option<PathBuf>,
    /// Accept client certificates signed by this CA (mutual TLS, for agents).
    pub client_ca_file: Option<PathBuf>,
    /// With `client_ca_file`: refuse clients without a certificate.
    pub require_client_cert: bool,
    /// The CA that signed the other services' certificates.
    pub ca_file: Option<PathBuf>,
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
            credentials_dir: None,
            service_token: None,
            tls: TlsConfig::default(),
            rate_limit_per_second: tasknet_auth::layer::DEFAULT_RATE.per_second,
            rate_limit_burst: tasknet_auth::layer::DEFAULT_RATE.burst,
            follow_stale_after_secs: 30,
            metrics_listen: None,
            connections: tasknet_server::ConnectionLimits::default(),
            cors_allowed_origins: Vec::new(),
            scorecard: ScorecardConfig::default(),
            notify: NotifyConfig::default(),
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

/// `[scorecard]`: the weights of the unit scorecards' score, set by the
/// emulation committee. score = 100 × (completed_on_time × share on time +
/// completed_late × share late + open_within_deadline × share open within
/// deadline + open_overdue × share overdue) − per_mean_day_late × mean days
/// late. Keys left out keep their defaults; an unknown key is an error.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ScorecardConfig {
    /// Default 1.0.
    pub completed_on_time: f64,
    /// Default 0.5: late work counts, half as much.
    pub completed_late: f64,
    /// Default 1.0: work not yet due is not held against a unit.
    pub open_within_deadline: f64,
    /// Default 0.0.
    pub open_overdue: f64,
    /// Default 0.2 points per mean day past the deadline.
    pub per_mean_day_late: f64,
}

impl Default for ScorecardConfig {
    fn default() -> Self {
        let weights = tasknet_reporting::ScoreWeights::default();
        Self {
            completed_on_time: weights.completed_on_time,
            completed_late: weights.completed_late,
            open_within_deadline: weights.open_within_deadline,
            open_overdue: weights.open_overdue,
            per_mean_day_late: weights.per_mean_day_late,
        }
    }
}

impl ScorecardConfig {
    /// The weights the reporting service scores with.
    pub fn weights(&self) -> tasknet_reporting::ScoreWeights {
        tasknet_reporting::ScoreWeights {
            completed_on_time: self.completed_on_time,
            completed_late: self.completed_late,
            open_within_deadline: self.open_within_deadline,
            open_overdue: self.open_overdue,
            per_mean_day_late: self.per_mean_day_late,
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
    #[serde(skip_serializing_if = "Option::is_none")]
    pub credentials_dir: Option<PathBuf>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metrics_listen: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cors_allowed_origins: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub notify: Option<NotifyOverrides>,
}

/// Command-line values of the `[notify]` table.
#[derive(Debug, Default, Serialize)]
pub struct NotifyOverrides {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reporting_endpoint: Option<String>,
}

/// `TASKNET_CORS_ALLOWED_ORIGINS=http://a:5173,http://b` as a config layer.
#[derive(Debug, Serialize)]
struct EnvOrigins {
    cors_allowed_origins: Vec<String>,
}

fn origins_from_env() -> Option<EnvOrigins> {
    let value = std::env::var("TASKNET_CORS_ALLOWED_ORIGINS").ok()?;
    let cors_allowed_origins = value
        .split(',')
        .map(str::trim)
        .filter(|origin| !origin.is_empty())
        .map(str::to_owned)
        .collect();
    Some(EnvOrigins {
        cors_allowed_origins,
    })
}

/// `[notify]`: the notification service's rules, calendar, senders and SMTP server.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct NotifyConfig {
    /// The reporting service, for a notification process of its own.
    pub reporting_endpoint: Option<String>,
    /// Where messages' links into the dashboard start.
    pub dashboard_url: String,
    /// Judge each day by itself (false: only the JudgeDay RPC judges).
    pub calendar: bool,
    /// Local (Vietnam) time of day, HH:MM, a day is judged.
    pub judge_time: String,
    /// Days missed (the service was down) judged on start, at most.
    pub catch_up_days: u32,
    /// Delivery attempts before a notification becomes a dead letter.
    pub max_attempts: u32,
    /// The first retry's delay, doubling with jitter up to `backoff_max_ms`.
    pub backoff_initial_ms: u64,
    pub backoff_max_ms: u64,
    /// How long a sender holds the rows it claimed.
    pub lease_secs: u64,
    /// How often the senders look for due rows when nothing woke them.
    pub poll_interval_ms: u64,
    /// How long a webhook receiver may take to answer.
    pub webhook_timeout_secs: u64,
    /// Unset: email waits in the outbox (webhooks are still delivered).
    pub smtp: Option<SmtpConfig>,
    pub rules: tasknet_notification::Rules,
}

/// `[notify.smtp]`: the mail server messages are handed to.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SmtpConfig {
    pub host: String,
    pub port: u16,
    /// `starttls` (default), `tls`, or `none` (loopback relays and test sinks only).
    pub tls: tasknet_notification::SmtpTls,
    /// `Tasknet <noreply@example.gov.vn>`.
    pub from: String,
    pub username: Option<String>,
    pub password: Option<String>,
    pub timeout_secs: u64,
}

impl Default for SmtpConfig {
    fn default() -> Self {
        Self {
            host: "127.0.0.1".to_owned(),
            port: 587,
            tls: tasknet_notification::SmtpTls::Starttls,
            from: "tasknet <noreply@localhost>".to_owned(),
            username: None,
            password: None,
            timeout_secs: 30,
        }
    }
}

impl Default for NotifyConfig {
    fn default() -> Self {
        let delivery = tasknet_notification::DeliverySettings::default();
        Self {
            reporting_endpoint: None,
            dashboard_url: "http://127.0.0.1:50051".to_owned(),
            calendar: true,
            judge_time: "07:00".to_owned(),
            catch_up_days: 7,
            max_attempts: u32::try_from(delivery.max_attempts).unwrap_or(8),
            backoff_initial_ms: u64::try_from(delivery.backoff_initial.as_millis())
                .unwrap_or(30_000),
            backoff_max_ms: u64::try_from(delivery.backoff_max.as_millis()).unwrap_or(3_600_000),
            lease_secs: delivery.lease.as_secs(),
            poll_interval_ms: u64::try_from(delivery.poll_interval.as_millis()).unwrap_or(5_000),
            webhook_timeout_secs: 10,
            smtp: None,
            rules: tasknet_notification::Rules::default(),
        }
    }
}

impl NotifyConfig {
    /// The service's settings on its database and endpoints.
    pub fn settings(
        &self,
        database_url: String,
        database: tasknet_storage::DatabaseOptions,
        reporting_endpoint: String,
        organisation_endpoint: String,
        client: tasknet_server::ClientOptions,
    ) -> anyhow::Result<tasknet_notification::NotificationSettings> {
        let judge_at = chrono::NaiveTime::parse_from_str(&self.judge_time, "%H:%M")
            .with_context(|| format!("notify.judge_time {:?}: use HH:MM", self.judge_time))?;
        anyhow::ensure!(self.max_attempts >= 1, "notify.max_attempts: at least 1");
        self.rules.validate().map_err(anyhow::Error::msg)?;
        let smtp = self
            .smtp
            .as_ref()
            .map(|smtp| tasknet_notification::SmtpSettings {
                host: smtp.host.clone(),
                port: smtp.port,
                tls: smtp.tls,
                from: smtp.from.clone(),
                username: smtp.username.clone(),
                password: smtp.password.clone(),
                timeout: Duration::from_secs(smtp.timeout_secs),
            });
        Ok(tasknet_notification::NotificationSettings {
            database_url,
            database,
            reporting_endpoint,
            organisation_endpoint,
            client,
            rules: self.rules.clone(),
            smtp,
            delivery: tasknet_notification::DeliverySettings {
                lease: Duration::from_secs(self.lease_secs.max(1)),
                batch: 50,
                max_attempts: i32::try_from(self.max_attempts).unwrap_or(i32::MAX),
                backoff_initial: Duration::from_millis(self.backoff_initial_ms),
                backoff_max: Duration::from_millis(self.backoff_max_ms),
                poll_interval: Duration::from_millis(self.poll_interval_ms.max(10)),
                dashboard_url: self.dashboard_url.clone(),
            },
            webhook_timeout: Duration::from_secs(self.webhook_timeout_secs.max(1)),
            calendar: self
                .calendar
                .then_some(tasknet_notification::CalendarSettings {
                    judge_at,
                    catch_up_days: self.catch_up_days,
                }),
        })
    }
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
        figment = figment.merge(Env::prefixed("TASKNET_").split("__").only(&[
            "listen",
            "data_dir",
            "database_url",
            "task_endpoint",
            "organisation_endpoint",
            "drain_timeout_secs",
            "database.max_connections",
            "database.acquire_timeout_secs",
            "credentials_dir",
            "service_token",
            "tls.cert_file",
            "tls.key_file",
            "tls.client_ca_file",
            "tls.require_client_cert",
            "tls.ca_file",
            "rate_limit_per_second",
            "rate_limit_burst",
            "follow_stale_after_secs",
            "metrics_listen",
            "connections.max_connections",
            "connections.max_connections_per_address",
            "connections.handshake_timeout_secs",
            "connections.idle_timeout_secs",
            "connections.keepalive_interval_secs",
            "connections.keepalive_timeout_secs",
            "connections.max_concurrent_streams",
            "connections.stream_window_bytes",
            "notify.reporting_endpoint",
            "notify.dashboard_url",
            "notify.calendar",
            "notify.judge_time",
            "notify.smtp.host",
            "notify.smtp.port",
            "notify.smtp.tls",
            "notify.smtp.from",
            "notify.smtp.username",
            "notify.smtp.password",
        ]));
        if let Some(origins) = origins_from_env() {
            figment = figment.merge(Serialized::defaults(origins));
        }
        figment
            .merge(Serialized::defaults(overrides))
            .extract()
            .context("invalid configuration")
    }

    /// What browsers get: CORS for the configured origins, and (where the
    /// dashboard is served) its embedded files.
    pub fn web_options(&self, dashboard: bool) -> tasknet_server::WebOptions {
        tasknet_server::WebOptions {
            cors_allowed_origins: self.cors_allowed_origins.clone(),
            assets: dashboard.then(tasknet_web_assets::dashboard),
        }
    }

    pub fn database_options(&self, schema: &str) -> tasknet_storage::DatabaseOptions {
        tasknet_storage::DatabaseOptions {
            max_connections: self.database.max_connections,
            acquire_timeout: Duration::from_secs(self.database.acquire_timeout_secs),
            schema: Some(schema.to_owned()),
            ..tasknet_storage::DatabaseOptions::default()
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

    /// TLS for the listener, when a certificate and key are configured.
    pub fn server_tls(&self) -> anyhow::Result<Option<tasknet_server::ServerTls>> {
        let tls = &self.tls;
        match (&tls.cert_file, &tls.key_file) {
            (Some(cert), Some(key)) => Ok(Some(tasknet_server::ServerTls::from_files(
                cert,
                key,
                tls.client_ca_file.as_deref(),
                tls.require_client_cert,
            )?)),
            (None, None) => Ok(None),
            _ => anyhow::bail!("tls.cert_file and tls.key_file go together"),
        }
    }

    /// TLS for calls to other services (`https://` endpoints).
    pub fn client_tls(&self) -> anyhow::Result<Option<tasknet_server::ClientTls>> {
        let Some(ca) = &self.tls.ca_file else {
            return Ok(None);
        };
        let ca_pem = std::fs::read(ca).with_context(|| format!("cannot read {}", ca.display()))?;
        Ok(Some(tasknet_server::ClientTls {
            ca_pem: Some(ca_pem),
            ..tasknet_server::ClientTls::default()
        }))
    }

    /// How long reporting may fail to follow the change log and stay SERVING.
    pub fn follow_stale_after(&self) -> Duration {
        Duration::from_secs(self.follow_stale_after_secs)
    }

    /// The per-credential request rate.
    pub fn rate_limit(&self) -> tasknet_auth::rate::Rate {
        tasknet_auth::rate::Rate::new(self.rate_limit_per_second, self.rate_limit_burst)
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

    #[test]
    fn scorecard_weights_are_typed_and_unknown_keys_refused() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("tasknet.toml");
        let config = Config::load(None, &Overrides::default()).unwrap();
        assert_eq!(
            config.scorecard.weights(),
            tasknet_reporting::ScoreWeights::default()
        );
        std::fs::write(
            &file,
            "[scorecard]\ncompleted_late = 0.25\nper_mean_day_late = 0.5\n",
        )
        .unwrap();
        let config = Config::load(Some(&file), &Overrides::default()).unwrap();
        assert_eq!(config.scorecard.completed_late, 0.25);
        assert_eq!(config.scorecard.per_mean_day_late, 0.5);
        assert_eq!(config.scorecard.completed_on_time, 1.0);
        std::fs::write(&file, "[scorecard]\nlate = 0.25\n").unwrap();
        let error = Config::load(Some(&file), &Overrides::default()).unwrap_err();
        assert!(format!("{error:#}").contains("late"), "{error:#}");
        std::fs::write(&file, "[scorecard]\ncompleted_late = \"half\"\n").unwrap();
        assert!(Config::load(Some(&file), &Overrides::default()).is_err());
    }

    /// The example in docs/notifications.md loads and gives valid settings.
    #[test]
    fn the_documented_notify_example_is_valid() {
        let doc = include_str!("../../../docs/notifications.md");
        let start = doc.find("```toml\n").expect("a TOML example") + "```toml\n".len();
        let example = &doc[start..];
        let example = &example[..example.find("```").expect("the example's end")];
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("tasknet.toml");
        std::fs::write(&file, example).unwrap();
        let config = Config::load(Some(&file), &Overrides::default()).unwrap();
        let rules = config
            .notify
            .rules
            .for_category(tasknet_proto::v1::UnitCategory::ProvincialOffice as i32);
        assert_eq!(rules.reminder_days, vec![7, 3, 1]);
        let settings = config
            .notify
            .settings(
                String::new(),
                Default::default(),
                String::new(),
                String::new(),
                Default::default(),
            )
            .unwrap();
        assert_eq!(settings.smtp.unwrap().port, 587);
    }

    #[test]
    fn the_notify_table_overrides_rules_per_category_and_refuses_unknown_keys() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("tasknet.toml");
        std::fs::write(
            &file,
            "[notify]\njudge_time = \"06:30\"\n[notify.smtp]\nhost = \"mail.example.vn\"\n\
             tls = \"tls\"\nport = 465\n[notify.rules]\nreminder_days = [3]\n\
             [notify.rules.categories.provincial_office]\nescalation_days = 14\n",
        )
        .unwrap();
        let config = Config::load(Some(&file), &Overrides::default()).unwrap();
        assert_eq!(config.notify.rules.reminder_days, vec![3]);
        let smtp = config.notify.smtp.as_ref().unwrap();
        assert_eq!(
            (smtp.port, smtp.tls),
            (465, tasknet_notification::SmtpTls::Tls)
        );
        let rules = config
            .notify
            .rules
            .for_category(tasknet_proto::v1::UnitCategory::ProvincialOffice as i32);
        assert_eq!((rules.escalation_days, rules.reminder_days), (14, vec![3]));
        let settings = config
            .notify
            .settings(
                String::new(),
                Default::default(),
                String::new(),
                String::new(),
                Default::default(),
            )
            .unwrap();
        assert_eq!(
            settings.calendar.unwrap().judge_at,
            chrono::NaiveTime::from_hms_opt(6, 30, 0).unwrap()
        );
        std::fs::write(&file, "[notify]\nsmpt = 1\n").unwrap();
        assert!(Config::load(Some(&file), &Overrides::default()).is_err());
        std::fs::write(
            &file,
            "[notify.rules.categories.province]\ndigest = false\n",
        )
        .unwrap();
        let config = Config::load(Some(&file), &Overrides::default()).unwrap();
        let error = config
            .notify
            .settings(
                String::new(),
                Default::default(),
                String::new(),
                String::new(),
                Default::default(),
            )
            .unwrap_err();
        assert!(
            error
                .to_string()
                .contains("notify.rules.categories.province"),
            "{error}"
        );
    }
}
