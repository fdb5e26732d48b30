//! Health that tells the truth: a service that cannot do its job reports
//! NOT_SERVING under its own name (liveness, the empty name, stays SERVING),
//! and SERVING again once it can — reporting while it cannot follow the task
//! change log for longer than its limit, and a service whose database
//! does not answer.
// A test crate: a panic is how a test reports failure.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use tasknet_organisation::{OrganisationApp, OrganisationSettings};
use tasknet_proto::tonic;
use tasknet_reporting::{ReportingApp, ReportingSettings};
use tasknet_server::{GrpcServer, Readiness, ServeOptions, ServiceApp, Shutdown};
use tasknet_storage::DatabaseOptions;
use tasknet_storage::testing::TestDatabase;
use tasknet_task::{TaskApp, TaskSettings};
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;

const CHECK_EVERY: Duration = Duration::from_millis(100);
/// How long a status may take to change before the test gives up (a limit
/// for a hung test, not a measured speed).
const PATIENCE: Duration = Duration::from_secs(60);

/// Serves `routes` with `readiness` on `addr`; returns the URL.
async fn serve(
    routes: tonic::service::Routes,
    name: &'static str,
    readiness: Readiness,
    shutdown: &Shutdown,
    addr: &str,
) -> String {
    let server = GrpcServer::bind(addr).await.unwrap();
    let url = format!("http://{}", server.local_addr());
    let options = ServeOptions {
        drain_timeout: Duration::from_secs(1),
        readiness: readiness.every(CHECK_EVERY),
        ..ServeOptions::default()
    };
    let shutdown = shutdown.clone();
    tokio::spawn(async move { server.serve(routes, &[name], shutdown, options).await });
    url
}

async fn status(url: &str, service: &str) -> Option<ServingStatus> {
    let channel = tasknet_server::connect_lazy(url).ok()?;
    let response = HealthClient::new(channel)
        .check(HealthCheckRequest {
            service: service.to_owned(),
        })
        .await
        .ok()?;
    ServingStatus::try_from(response.into_inner().status).ok()
}

async fn wait_for(url: &str, service: &str, wanted: ServingStatus) {
    let started = Instant::now();
    loop {
        let now = status(url, service).await;
        if now == Some(wanted) {
            return;
        }
        assert!(
            started.elapsed() < PATIENCE,
            "{service} stayed {now:?}, never {wanted:?}"
        );
        tokio::time::sleep(CHECK_EVERY).await;
    }
}

/// An address nothing listens on (yet).
fn free_address() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reporting_is_not_serving_while_it_cannot_follow_the_change_log() {
    let task_address = free_address();
    let task_url = format!("http://{task_address}");
    let db = TestDatabase::sqlite();
    let shutdown = Shutdown::new();
    let app = ReportingApp::open(
        &ReportingSettings {
            database_url: db.url().to_owned(),
            database: DatabaseOptions::default(),
            task_endpoint: task_url.clone(),
            organisation_endpoint: task_url.clone(),
            client: Default::default(),
            score_weights: Default::default(),
        },
        shutdown.clone(),
    )
    .await
    .unwrap();
    let name = tasknet_reporting::SERVICE_NAME;
    let app = app.with_follow_stale_after(Duration::from_millis(500));
    let readiness = app.readiness();
    let url = serve(
        tonic::service::Routes::new(app.service()),
        name,
        readiness,
        &shutdown,
        "127.0.0.1:0",
    )
    .await;
    wait_for(&url, name, ServingStatus::NotServing).await;
    assert_eq!(status(&url, "").await, Some(ServingStatus::Serving));

    // The task service comes up where reporting looks for it.
    let task_db = TestDatabase::sqlite();
    let task_shutdown = Shutdown::new();
    let task = TaskApp::open(
        &TaskSettings::new(task_db.url(), task_url.clone()),
        task_shutdown.clone(),
    )
    .await
    .unwrap();
    serve(
        tonic::service::Routes::new(task.service()),
        tasknet_task::SERVICE_NAME,
        Readiness::default(),
        &task_shutdown,
        &task_address,
    )
    .await;
    wait_for(&url, name, ServingStatus::Serving).await;
    shutdown.trigger();
    task_shutdown.trigger();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_service_whose_database_does_not_answer_is_not_serving() {
    let Some(db) = TestDatabase::postgres("health_database_down").await else {
        return;
    };
    let shutdown = Shutdown::new();
    let app = OrganisationApp::open(
        &OrganisationSettings {
            database_url: db.url().to_owned(),
            database: DatabaseOptions {
                max_connections: 2,
                acquire_timeout: Duration::from_secs(1),
                ..DatabaseOptions::default()
            },
        },
        shutdown.clone(),
    )
    .await
    .unwrap();
    let name = tasknet_organisation::SERVICE_NAME;
    let url = serve(
        tonic::service::Routes::new(app.service()),
        name,
        app.readiness(),
        &shutdown,
        "127.0.0.1:0",
    )
    .await;
    wait_for(&url, name, ServingStatus::Serving).await;

    // The database refuses connections and drops the ones it has.
    let admin = tasknet_storage::testing::postgres_admin_url("health_database_down")
        .expect("the PostgreSQL server of this test");
    let database_name = db.url().rsplit('/').next().unwrap().to_owned();
    let allow_connections = |allowed: bool| {
        let admin = admin.clone();
        let database_name = database_name.clone();
        async move {
            use sqlx::Connection;
            sqlx::any::install_default_drivers();
            let mut connection = sqlx::AnyConnection::connect(&admin).await.unwrap();
            // Not a connection limit: the test's superuser is exempt from those.
            sqlx::query(&format!(
                "ALTER DATABASE {database_name} ALLOW_CONNECTIONS {allowed}"
            ))
            .execute(&mut connection)
            .await
            .unwrap();
            if !allowed {
                sqlx::query(
                    "SELECT CAST(COUNT(pg_terminate_backend(pid)) AS BIGINT) FROM pg_stat_activity \
                     WHERE datname = $1 AND pid <> pg_backend_pid()",
                )
                .bind(&database_name)
                .execute(&mut connection)
                .await
                .unwrap();
            }
        }
    };
    allow_connections(false).await;
    wait_for(&url, name, ServingStatus::NotServing).await;
    assert_eq!(status(&url, "").await, Some(ServingStatus::Serving));
    allow_connections(true).await;
    wait_for(&url, name, ServingStatus::Serving).await;
    shutdown.trigger();
}
