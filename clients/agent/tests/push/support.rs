//! The centre for one test (organisation with the reference units, and task),
//! agents in temporary directories, and probes of what the centre holds.

use std::time::Duration;

use tasknet_agent::{Agent, AgentConfig, PushSettings};
use tasknet_organisation::{OrganisationApp, OrganisationSettings};
use tasknet_proto::tonic::service::Routes;
use tasknet_proto::v1;
use tasknet_proto::v1::organisation_service_client::OrganisationServiceClient;
use tasknet_proto::v1::task_service_client::TaskServiceClient;
use tasknet_server::{GrpcServer, ServeOptions, Shutdown, TracedChannel, connect_lazy};
use tasknet_storage::DatabaseOptions;
use tasknet_storage::testing::TestDatabase;
use tasknet_task::{TaskApp, TaskSettings};
use tokio::task::JoinHandle;

pub struct Centre {
    pub task_endpoint: String,
    /// Provincial offices, sorted by id.
    pub offices: Vec<String>,
    shutdown: Shutdown,
    servers: Vec<JoinHandle<()>>,
    _databases: Vec<TestDatabase>,
}

impl Centre {
    /// Starts both services, the task service on `task_db`'s back end,
    /// listening on `task_listen` (`127.0.0.1:0` for any port).
    pub async fn start(task_db: TestDatabase, task_listen: &str) -> Self {
        let organisation_db = TestDatabase::of(task_db.backend(), "agent_organisation")
            .await
            .expect("a second database on the same back end");
        let shutdown = Shutdown::new();
        let organisation = OrganisationApp::open(
            &OrganisationSettings {
                database_url: organisation_db.url().to_owned(),
                database: DatabaseOptions::default(),
            },
            shutdown.clone(),
        )
        .await
        .unwrap();
        organisation.load_reference_units().await.unwrap();
        let server = GrpcServer::bind("127.0.0.1:0").await.unwrap();
        let organisation_endpoint = format!("http://{}", server.local_addr());
        let routes = Routes::new(organisation.service());
        let organisation_server = tokio::spawn(serve(
            server,
            routes,
            tasknet_organisation::SERVICE_NAME,
            shutdown.clone(),
            async move {
                organisation.closed().await;
            },
        ));

        let task = TaskApp::open(
            &TaskSettings::new(task_db.url(), organisation_endpoint.clone()),
            shutdown.clone(),
        )
        .await
        .unwrap();
        let server = GrpcServer::bind(task_listen).await.unwrap();
        let task_endpoint = format!("http://{}", server.local_addr());
        let routes = Routes::new(task.service());
        let task_server = tokio::spawn(serve(
            server,
            routes,
            tasknet_task::SERVICE_NAME,
            shutdown.clone(),
            async move {
                task.closed().await;
            },
        ));
        let offices = offices(&organisation_endpoint).await;
        Self {
            task_endpoint,
            offices,
            shutdown,
            servers: vec![organisation_server, task_server],
            _databases: vec![task_db, organisation_db],
        }
    }

    pub fn tasks(&self) -> TaskServiceClient<TracedChannel> {
        TaskServiceClient::new(connect_lazy(&self.task_endpoint).unwrap())
    }

    pub async fn task(&self, task_id: uuid::Uuid) -> v1::Task {
        self.tasks()
            .get_task(v1::GetTaskRequest {
                task_id: task_id.to_string(),
            })
            .await
            .unwrap()
            .into_inner()
            .task
            .unwrap()
    }

    /// The update ids of the change log's task events, in cursor order.
    pub async fn change_log(&self) -> Vec<(String, String)> {
        let mut stream = self
            .tasks()
            .watch_changes(v1::WatchChangesRequest::default())
            .await
            .unwrap()
            .into_inner();
        let mut events = Vec::new();
        // The log is read to its end; the follower then waits for more.
        while let Ok(Some(Ok(batch))) = tokio::time::timeout(
            Duration::from_millis(500),
            futures::StreamExt::next(&mut stream),
        )
        .await
        {
            for change in batch.changes {
                if let Some(v1::change::Event::TaskEvent(event)) = change.event {
                    let task = event.task.map(|t| t.id).unwrap_or_default();
                    events.push((task, event.update_id));
                }
            }
        }
        events
    }

    pub async fn stop(mut self) {
        self.shutdown.trigger();
        for server in self.servers.drain(..) {
            server.await.unwrap();
        }
    }
}

async fn serve(
    server: GrpcServer,
    routes: Routes,
    name: &'static str,
    shutdown: Shutdown,
    closed: impl Future<Output = ()>,
) {
    server
        .serve(routes, &[name], shutdown, ServeOptions::default())
        .await
        .unwrap();
    closed.await;
}

async fn offices(endpoint: &str) -> Vec<String> {
    let mut client = OrganisationServiceClient::new(connect_lazy(endpoint).unwrap());
    let response = client
        .list_units(v1::ListUnitsRequest {
            category: v1::UnitCategory::ProvincialOffice as i32,
            page_size: 100,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    let mut ids: Vec<String> = response.units.into_iter().map(|unit| unit.id).collect();
    ids.sort();
    ids
}

/// Push settings that make a test's retries quick.
pub fn quick() -> PushSettings {
    PushSettings {
        connect_timeout_ms: 1_000,
        ack_timeout_ms: 5_000,
        backoff_initial_ms: 50,
        backoff_max_ms: 400,
        poll_interval_ms: 50,
        ..PushSettings::default()
    }
}

/// An agent for `unit` in a new temporary directory.
pub async fn agent(unit: &str, endpoint: &str) -> (tempfile::TempDir, Agent) {
    let dir = tempfile::tempdir().unwrap();
    let mut config = AgentConfig::new(unit, endpoint, dir.path());
    config.push = quick();
    (dir, Agent::open(config).await.unwrap())
}

pub fn ymd(year: i32, month: u32, day: u32) -> chrono::NaiveDate {
    chrono::NaiveDate::from_ymd_opt(year, month, day).unwrap()
}
