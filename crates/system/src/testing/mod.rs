//! Test harnesses (the `testing` feature): services started in this process
//! through [`System`] on test databases, each on a loopback port of its own
//! as they would run as separate processes ([`TestSystem`], [`Centre`]) or
//! all behind one as `tasknet up` runs them ([`AllInOne`]); real `tasknet`
//! child processes ([`process`], [`processes`]); and a browser's gRPC-Web
//! calls ([`grpc_web`]).

// A harness for tests: a set-up that fails is a failed test, with its cause.
#![allow(clippy::unwrap_used, clippy::expect_used)]

pub mod grpc_web;
pub mod process;
pub mod processes;

use tasknet_auth::Token;
use tasknet_organisation::OrganisationApp;
use tasknet_proto::v1;
use tasknet_proto::v1::notification_service_client::NotificationServiceClient;
use tasknet_proto::v1::organisation_service_client::OrganisationServiceClient;
use tasknet_proto::v1::reporting_service_client::ReportingServiceClient;
use tasknet_proto::v1::task_service_client::TaskServiceClient;
use tasknet_server::{ClientOptions, TracedChannel, connect_lazy, connect_lazy_with};
use tasknet_storage::Backend;
use tasknet_storage::testing::TestDatabase;

use crate::start::Auth;
use crate::{Config, ServiceKind, Services, System};

impl System {
    /// Like [`System::start`], without the auth layer: every caller is
    /// unrestricted and the services call each other without a credential.
    /// For tests of what lies behind it.
    pub async fn start_unauthenticated(
        config: &Config,
        services: Services,
    ) -> anyhow::Result<Self> {
        Self::start_with(config, services, Auth::Disabled).await
    }
}

/// A service's configuration in a test: an ephemeral loopback port, its
/// tables in `database_url` (in a schema of its name on PostgreSQL).
pub fn config(database_url: &str) -> Config {
    Config {
        listen: "127.0.0.1:0".to_owned(),
        database_url: Some(database_url.to_owned()),
        ..Config::default()
    }
}

/// The organisation service alone on `database_url`, without the auth
/// layer, its reference units loaded when `reference_units`.
pub async fn organisation(database_url: &str, reference_units: bool) -> System {
    let system = System::start_unauthenticated(
        &config(database_url),
        Services::One(ServiceKind::Organisation),
    )
    .await
    .expect("the organisation service starts");
    if reference_units {
        system
            .app::<OrganisationApp>()
            .expect("an organisation system")
            .load_reference_units()
            .await
            .expect("the reference units load");
    }
    system
}

/// The three services behind one endpoint, as `tasknet up` runs them but
/// without the auth layer: SQLite files in a temporary data directory, or
/// a PostgreSQL test database with a schema each.
pub struct AllInOne {
    pub system: System,
    _data_dir: tempfile::TempDir,
    _database: Option<TestDatabase>,
}

impl AllInOne {
    /// `None` when the back end is PostgreSQL and no test server is configured.
    pub async fn start(backend: Backend, test_name: &str) -> Option<Self> {
        let data_dir = tempfile::tempdir().expect("a temporary directory");
        let database = match backend {
            Backend::Sqlite => None,
            Backend::Postgres => Some(TestDatabase::postgres(test_name).await?),
        };
        let config = Config {
            listen: "127.0.0.1:0".to_owned(),
            data_dir: data_dir.path().to_owned(),
            database_url: database.as_ref().map(|database| database.url().to_owned()),
            ..Config::default()
        };
        let system = System::start_unauthenticated(&config, Services::All)
            .await
            .expect("the services start");
        Some(Self {
            system,
            _data_dir: data_dir,
            _database: database,
        })
    }

    pub fn endpoint(&self) -> &str {
        self.system.endpoint()
    }

    /// Stops the services and waits for them.
    pub async fn stop(self) {
        self.system.stop().await.expect("the services stop cleanly");
    }
}

/// The organisation service (reference units loaded) and the task service,
/// each on a port and database of its own, without the auth layer: what
/// the task service's and the agent's tests run against.
pub struct Centre {
    pub organisation: System,
    pub task: System,
    _databases: [TestDatabase; 2],
}

impl Centre {
    /// Starts both, the task service on `task_db` listening on
    /// `task_listen` (`127.0.0.1:0` for any port), the organisation service
    /// on a second database of the same back end.
    pub async fn start(task_db: TestDatabase, task_listen: &str) -> Self {
        let organisation_db = TestDatabase::of(task_db.backend(), "organisation")
            .await
            .expect("a second database on the same back end");
        let organisation = organisation(organisation_db.url(), true).await;
        let mut task_config = config(task_db.url());
        task_config.listen = task_listen.to_owned();
        task_config.organisation_endpoint = Some(organisation.endpoint().to_owned());
        let task = System::start_unauthenticated(&task_config, Services::One(ServiceKind::Task))
            .await
            .expect("the task service starts");
        Self {
            organisation,
            task,
            _databases: [task_db, organisation_db],
        }
    }

    /// The ids of the units of `category`, sorted.
    pub async fn unit_ids(&self, category: v1::UnitCategory) -> Vec<String> {
        let mut client = OrganisationServiceClient::new(
            connect_lazy(self.organisation.endpoint()).expect("a valid endpoint"),
        );
        let response = client
            .list_units(v1::ListUnitsRequest {
                category: category as i32,
                page_size: 1000,
                ..Default::default()
            })
            .await
            .expect("ListUnits answers")
            .into_inner();
        let mut ids: Vec<String> = response.units.into_iter().map(|unit| unit.id).collect();
        ids.sort();
        ids
    }

    /// Applies the 2025 provincial merger (`vn-provinces-2025`) at the
    /// organisation service; returns the reorganisation's id, for
    /// TransferOpenTasks.
    pub async fn apply_provinces_2025(&self) -> String {
        let mut client = OrganisationServiceClient::new(
            connect_lazy(self.organisation.endpoint()).expect("a valid endpoint"),
        );
        let applied = client
            .apply_reference_reorganisation(v1::ApplyReferenceReorganisationRequest {
                name: "vn-provinces-2025".into(),
                validate_only: false,
            })
            .await
            .expect("the merger applies")
            .into_inner();
        applied
            .reorganisation
            .expect("the applied reorganisation")
            .id
    }

    /// Stops the task service, then the organisation service.
    pub async fn stop(self) {
        self.task
            .stop()
            .await
            .expect("the task service stops cleanly");
        self.organisation
            .stop()
            .await
            .expect("the organisation service stops cleanly");
    }
}

/// The four services in this process, each on a port and database of its
/// own with the auth layer on, as `tasknet serve` runs them; the
/// administrator credential created at the start (as `tasknet up` does).
pub struct TestSystem {
    pub organisation_endpoint: String,
    pub task_endpoint: String,
    pub reporting_endpoint: String,
    /// The notification service (no SMTP server; its calendar off).
    pub notification_endpoint: String,
    pub admin: ClientOptions,
    systems: Vec<System>,
    _credentials: tempfile::TempDir,
    _databases: Vec<TestDatabase>,
}

impl TestSystem {
    /// Starts the services on `backend`; `None` when PostgreSQL is not
    /// configured (outside CI).
    pub async fn start(backend: Backend, test_name: &str) -> Option<Self> {
        let mut databases = Vec::new();
        for _ in 0..4 {
            databases.push(TestDatabase::of(backend, test_name).await?);
        }
        let credentials = tempfile::tempdir().expect("a temporary directory");
        let start = |kind: ServiceKind, database: &TestDatabase, endpoints: &[&System]| {
            let mut config = config(database.url());
            config.credentials_dir = Some(credentials.path().to_owned());
            if let Some(organisation) = endpoints.first() {
                config.organisation_endpoint = Some(organisation.endpoint().to_owned());
            }
            if let Some(task) = endpoints.get(1) {
                config.task_endpoint = Some(task.endpoint().to_owned());
            }
            if let Some(reporting) = endpoints.get(2) {
                config.notify.reporting_endpoint = Some(reporting.endpoint().to_owned());
                config.notify.calendar = false;
            }
            async move {
                System::start(&config, Services::One(kind))
                    .await
                    .unwrap_or_else(|error| {
                        panic!("the {} service starts: {error:#}", kind.label())
                    })
            }
        };
        let organisation = start(ServiceKind::Organisation, &databases[0], &[]).await;
        let task = start(ServiceKind::Task, &databases[1], &[&organisation]).await;
        let reporting = start(
            ServiceKind::Reporting,
            &databases[2],
            &[&organisation, &task],
        )
        .await;
        let notification = start(
            ServiceKind::Notification,
            &databases[3],
            &[&organisation, &task, &reporting],
        )
        .await;
        Some(Self {
            organisation_endpoint: organisation.endpoint().to_owned(),
            task_endpoint: task.endpoint().to_owned(),
            reporting_endpoint: reporting.endpoint().to_owned(),
            notification_endpoint: notification.endpoint().to_owned(),
            admin: organisation
                .admin()
                .expect("the organisation service bootstraps an administrator")
                .clone(),
            systems: vec![organisation, task, reporting, notification],
            _credentials: credentials,
            _databases: databases,
        })
    }

    /// Clients acting as the administrator.
    pub fn organisation(&self) -> OrganisationServiceClient<TracedChannel> {
        OrganisationServiceClient::new(self.channel(&self.organisation_endpoint))
    }

    pub fn tasks(&self) -> TaskServiceClient<TracedChannel> {
        TaskServiceClient::new(self.channel(&self.task_endpoint))
    }

    pub fn reporting(&self) -> ReportingServiceClient<TracedChannel> {
        ReportingServiceClient::new(self.channel(&self.reporting_endpoint))
    }

    pub fn notification(&self) -> NotificationServiceClient<TracedChannel> {
        NotificationServiceClient::new(self.channel(&self.notification_endpoint))
    }

    fn channel(&self, endpoint: &str) -> TracedChannel {
        connect_lazy_with(endpoint, &self.admin).expect("a valid endpoint")
    }

    /// A channel to `endpoint` sending `token` (none: no credential).
    pub fn channel_as(&self, endpoint: &str, token: Option<&str>) -> TracedChannel {
        let options = ClientOptions {
            token: token.map(Token::new),
            tls: None,
        };
        connect_lazy_with(endpoint, &options).expect("a valid endpoint")
    }

    /// Stops notification, reporting, task, then organisation, and waits for each, so the
    /// databases can be dropped cleanly.
    pub async fn stop(mut self) {
        while let Some(system) = self.systems.pop() {
            system.stop().await.expect("a service stops cleanly");
        }
    }
}
