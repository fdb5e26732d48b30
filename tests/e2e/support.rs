//! A running tasknet for a test: the three services on their own ephemeral
//! ports, each with a database of its own, and clients for them. Dropping it
//! shuts everything down.

use std::collections::HashMap;
use std::sync::Arc;
use tasknet_organisation::{OrganisationApp, OrganisationSettings};
use tasknet_proto::tonic::service::Routes;
use tasknet_proto::v1::organisation_service_client::OrganisationServiceClient;
use tasknet_proto::v1::reporting_service_client::ReportingServiceClient;
use tasknet_proto::v1::task_service_client::TaskServiceClient;
use tasknet_reporting::{ReportingApp, ReportingSettings};

use tasknet_auth::cache::CacheSettings;
use tasknet_auth::principal::Role;
use tasknet_auth::{
    AuditLog, AuthConfig, AuthLayer, Authenticate, CachedAuthenticator, Policy, Token,
};
use tasknet_server::{
    ClientOptions, GrpcServer, RemoteAuthenticator, ServeOptions, Shutdown, TracedChannel,
    connect_lazy, connect_lazy_with,
};
use tasknet_storage::testing::TestDatabase;
use tasknet_storage::{Backend, DatabaseOptions};
use tasknet_task::{TaskApp, TaskSettings};
use tokio::task::JoinHandle;

pub struct TestSystem {
    pub organisation_endpoint: String,
    pub task_endpoint: String,
    pub reporting_endpoint: String,
    /// The administrator credential created at the start (as `tasknet up` does).
    pub admin: ClientOptions,
    shutdown: Shutdown,
    _credentials: tempfile::TempDir,
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

/// Every service's policy table, as the `tasknet` binary merges them.
pub fn policy() -> Policy {
    Policy::new()
        .with(tasknet_organisation::POLICY)
        .with(tasknet_task::POLICY)
        .with(tasknet_reporting::POLICY)
}

/// An auth layer as `tasknet serve` builds it.
pub fn auth_layer(authenticator: Arc<dyn Authenticate>, name: &str, audit: AuditLog) -> AuthLayer {
    AuthLayer::new(AuthConfig {
        authenticator,
        policy: policy(),
        rate: tasknet_auth::layer::DEFAULT_RATE,
        audit: HashMap::from([(name.to_owned(), audit)]),
    })
}

/// Authentication through the organisation service, as task and reporting
/// do when they run apart.
fn remote(endpoint: &str, client: &ClientOptions) -> Arc<dyn Authenticate> {
    Arc::new(CachedAuthenticator::new(
        Arc::new(RemoteAuthenticator::new(
            connect_lazy_with(endpoint, client).unwrap(),
        )),
        CacheSettings::default(),
    ))
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
        let credentials = tempfile::tempdir().unwrap();
        let admin = ClientOptions::with_token(
            organisation
                .ensure_credential(Role::Administrator, &credentials.path().join("admin.token"))
                .await
                .unwrap(),
        );
        let service = ClientOptions::with_token(
            organisation
                .ensure_credential(Role::Service, &credentials.path().join("service.token"))
                .await
                .unwrap(),
        );
        let task = TaskApp::open(
            &TaskSettings {
                database_url: urls[1].clone(),
                database: options("task"),
                organisation_endpoint: organisation_endpoint.clone(),
                max_batch: 512,
                client: service.clone(),
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
                client: service.clone(),
            },
            shutdown.clone(),
        )
        .await
        .unwrap();

        let organisation_auth = auth_layer(
            organisation.authenticator(),
            tasknet_organisation::SERVICE_NAME,
            organisation.audit_log(),
        );
        let task_auth = auth_layer(
            remote(&organisation_endpoint, &service),
            tasknet_task::SERVICE_NAME,
            task.audit_log(),
        );
        let reporting_auth = auth_layer(
            remote(&organisation_endpoint, &service),
            tasknet_reporting::SERVICE_NAME,
            reporting.audit_log(),
        );
        let servers = vec![
            tokio::spawn(serve(
                organisation_server,
                Routes::new(organisation.service()),
                tasknet_organisation::SERVICE_NAME,
                shutdown.clone(),
                organisation_auth,
                async move { organisation.closed().await },
            )),
            tokio::spawn(serve(
                task_server,
                Routes::new(task.service()),
                tasknet_task::SERVICE_NAME,
                shutdown.clone(),
                task_auth,
                async move { task.closed().await },
            )),
            tokio::spawn(serve(
                reporting_server,
                Routes::new(reporting.service()),
                tasknet_reporting::SERVICE_NAME,
                shutdown.clone(),
                reporting_auth,
                async move { reporting.closed().await },
            )),
        ];
        Some(Self {
            organisation_endpoint,
            task_endpoint,
            reporting_endpoint,
            admin,
            shutdown,
            _credentials: credentials,
            servers,
            _databases: databases,
        })
    }

    /// Clients acting as the administrator.
    pub fn organisation(&self) -> OrganisationServiceClient<TracedChannel> {
        OrganisationServiceClient::new(
            connect_lazy_with(&self.organisation_endpoint, &self.admin).unwrap(),
        )
    }

    pub fn tasks(&self) -> TaskServiceClient<TracedChannel> {
        TaskServiceClient::new(connect_lazy_with(&self.task_endpoint, &self.admin).unwrap())
    }

    pub fn reporting(&self) -> ReportingServiceClient<TracedChannel> {
        ReportingServiceClient::new(
            connect_lazy_with(&self.reporting_endpoint, &self.admin).unwrap(),
        )
    }

    /// A channel to `endpoint` sending `token` (none: no credential).
    pub fn channel_as(&self, endpoint: &str, token: Option<&str>) -> TracedChannel {
        let options = ClientOptions {
            token: token.map(Token::new),
            tls: None,
        };
        connect_lazy_with(endpoint, &options).unwrap()
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
    auth: AuthLayer,
    closed: impl Future<Output = ()>,
) -> anyhow::Result<()> {
    let options = ServeOptions {
        auth,
        ..ServeOptions::default()
    };
    let served = server.serve(routes, &[name], shutdown, options).await;
    closed.await;
    served
}

impl Drop for TestSystem {
    fn drop(&mut self) {
        self.shutdown.trigger();
    }
}

/// The services a server lists through reflection v1alpha (what grpcurl 1.8 speaks).
pub async fn reflected_services(endpoint: &str) -> Vec<String> {
    use tonic_reflection::pb::v1alpha::ServerReflectionRequest;
    use tonic_reflection::pb::v1alpha::server_reflection_client::ServerReflectionClient;
    use tonic_reflection::pb::v1alpha::server_reflection_request::MessageRequest;
    use tonic_reflection::pb::v1alpha::server_reflection_response::MessageResponse;

    let request = ServerReflectionRequest {
        host: String::new(),
        message_request: Some(MessageRequest::ListServices(String::new())),
    };
    let mut responses = ServerReflectionClient::new(connect_lazy(endpoint).unwrap())
        .server_reflection_info(tokio_stream::iter([request]))
        .await
        .unwrap()
        .into_inner();
    let response = responses.message().await.unwrap().unwrap();
    let Some(MessageResponse::ListServicesResponse(list)) = response.message_response else {
        panic!("unexpected reflection answer");
    };
    list.service.into_iter().map(|s| s.name).collect()
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
