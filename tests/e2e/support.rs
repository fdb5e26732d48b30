//! A running tasknet for a test: the three services on their own ephemeral
//! ports, each with a database of its own, and clients for them. Dropping it
//! shuts everything down.

use tasknet_organisation::{OrganisationApp, OrganisationSettings};
use tasknet_proto::tonic::service::Routes;
use tasknet_proto::v1::organisation_service_client::OrganisationServiceClient;
use tasknet_proto::v1::reporting_service_client::ReportingServiceClient;
use tasknet_proto::v1::task_service_client::TaskServiceClient;
use tasknet_reporting::{ReportingApp, ReportingSettings};
use tasknet_server::{GrpcServer, ServeOptions, Shutdown, TracedChannel, connect_lazy};
use tasknet_storage::testing::TestDatabase;
use tasknet_storage::{Backend, DatabaseOptions};
use tasknet_task::{TaskApp, TaskSettings};
use tokio::task::JoinHandle;

pub struct TestSystem {
    pub organisation_endpoint: String,
    pub task_endpoint: String,
    pub reporting_endpoint: String,
    shutdown: Shutdown,
    servers: Vec<JoinHandle<anyhow::Result<()>>>,
    _databases: Vec<TestDatabase>,
}

/// Database settings for one service: a database of its own on SQLite; a
/// schema of its own in the test's database on PostgreSQL.
fn options(schema: &str) -> DatabaseOptions {
    DatabaseOptions {
        schema: Some(schema.to_owned()),
        ..DatabaseOptions::default()
    }
}

async fn bind() -> (GrpcServer, String) {
    let server = GrpcServer::bind("127.0.0.1:0").await.unwrap();
    let endpoint = format!("http://{}", server.local_addr());
    (server, endpoint)
}

impl TestSystem {
    /// Starts the services on `backend`; `None` when PostgreSQL is not configured (outside CI).
    pub async fn start(backend: Backend, test_name: &str) -> Option<Self> {
        let mut databases = Vec::new();
        let mut urls = Vec::new();
        for _ in 0..3 {
            let database = TestDatabase::of(backend, test_name).await?;
            urls.push(database.url().to_owned());
            databases.push(database);
        }
        let shutdown = Shutdown::new();
        let (organisation_server, organisation_endpoint) = bind().await;
        let (task_server, task_endpoint) = bind().await;
        let (reporting_server, reporting_endpoint) = bind().await;

        let organisation = OrganisationApp::open(
            &OrganisationSettings {
                database_url: urls[0].clone(),
                database: options("organisation"),
            },
            shutdown.clone(),
        )
        .await
        .unwrap();
        let task = TaskApp::open(
            &TaskSettings {
                database_url: urls[1].clone(),
                database: options("task"),
                organisation_endpoint: organisation_endpoint.clone(),
                max_batch: 512,
            },
            shutdown.clone(),
        )
        .await
        .unwrap();
        let reporting = ReportingApp::open(
            &ReportingSettings {
                database_url: urls[2].clone(),
                database: options("reporting"),
                task_endpoint: task_endpoint.clone(),
                organisation_endpoint: organisation_endpoint.clone(),
            },
            shutdown.clone(),
        )
        .await
        .unwrap();

        let servers = vec![
            tokio::spawn(serve(
                organisation_server,
                Routes::new(organisation.service()),
                tasknet_organisation::SERVICE_NAME,
                shutdown.clone(),
                async move { organisation.closed().await },
            )),
            tokio::spawn(serve(
                task_server,
                Routes::new(task.service()),
                tasknet_task::SERVICE_NAME,
                shutdown.clone(),
                async move { task.closed().await },
            )),
            tokio::spawn(serve(
                reporting_server,
                Routes::new(reporting.service()),
                tasknet_reporting::SERVICE_NAME,
                shutdown.clone(),
                async move { reporting.closed().await },
            )),
        ];
        Some(Self {
            organisation_endpoint,
            task_endpoint,
            reporting_endpoint,
            shutdown,
            servers,
            _databases: databases,
        })
    }

    pub fn organisation(&self) -> OrganisationServiceClient<TracedChannel> {
        OrganisationServiceClient::new(connect_lazy(&self.organisation_endpoint).unwrap())
    }

    pub fn tasks(&self) -> TaskServiceClient<TracedChannel> {
        TaskServiceClient::new(connect_lazy(&self.task_endpoint).unwrap())
    }

    pub fn reporting(&self) -> ReportingServiceClient<TracedChannel> {
        ReportingServiceClient::new(connect_lazy(&self.reporting_endpoint).unwrap())
    }

    /// Stops the servers and waits for them, so databases can be dropped cleanly.
    pub async fn stop(mut self) {
        self.shutdown.trigger();
        for server in self.servers.drain(..) {
            server.await.unwrap().unwrap();
        }
    }
}

async fn serve(
    server: GrpcServer,
    routes: Routes,
    name: &'static str,
    shutdown: Shutdown,
    closed: impl Future<Output = ()>,
) -> anyhow::Result<()> {
    let served = server
        .serve(routes, &[name], shutdown, ServeOptions::default())
        .await;
    closed.await;
    served
}

impl Drop for TestSystem {
    fn drop(&mut self) {
        self.shutdown.trigger();
    }
}

/// Declares each named scenario once per back end, like `test_on_both_backends!`
/// but handing the scenario a running system.
#[macro_export]
macro_rules! system_tests {
    ($($name:ident),* $(,)?) => {
        mod on_sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let name = concat!(module_path!(), "::", stringify!($name));
                    let system = $crate::support::TestSystem::start(tasknet_storage::Backend::Sqlite, name)
                        .await
                        .unwrap();
                    super::$name(&system).await;
                    system.stop().await;
                }
            )*
        }
        mod on_postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let name = concat!(module_path!(), "::", stringify!($name));
                    if let Some(system) = $crate::support::TestSystem::start(tasknet_storage::Backend::Postgres, name).await {
                        super::$name(&system).await;
                        system.stop().await;
                    }
                }
            )*
        }
    };
}
