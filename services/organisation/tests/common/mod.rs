//! A real organisation server on 127.0.0.1:0 for the gRPC test binaries,
//! each on a database of its own; it shuts down when dropped.

use tasknet_organisation::{OrganisationApp, OrganisationSettings, SERVICE_NAME};
use tasknet_proto::tonic;
use tasknet_proto::v1;
use tasknet_proto::v1::organisation_service_client::OrganisationServiceClient;
use tasknet_server::{GrpcServer, ServeOptions, Shutdown, TracedChannel};
use tasknet_storage::DatabaseOptions;
use tasknet_storage::testing::TestDatabase;

pub type Client = OrganisationServiceClient<TracedChannel>;

/// A running server; shuts down when dropped.
pub struct Running {
    pub client: Client,
    shutdown: Shutdown,
    _db: TestDatabase,
}

impl Drop for Running {
    fn drop(&mut self) {
        self.shutdown.trigger();
    }
}

pub async fn start(db: TestDatabase) -> Running {
    let shutdown = Shutdown::new();
    let settings = OrganisationSettings {
        database_url: db.url().to_owned(),
        database: DatabaseOptions::default(),
    };
    let app = OrganisationApp::open(&settings, shutdown.clone())
        .await
        .unwrap();
    let server = GrpcServer::bind("127.0.0.1:0").await.unwrap();
    let endpoint = format!("http://{}", server.local_addr());
    let routes = tonic::service::Routes::new(app.service());
    let serving = shutdown.clone();
    tokio::spawn(async move {
        server
            .serve(routes, &[SERVICE_NAME], serving, ServeOptions::default())
            .await
            .unwrap();
        app.closed().await;
    });
    let channel = tasknet_server::connect_lazy(&endpoint).unwrap();
    Running {
        client: OrganisationServiceClient::new(channel),
        shutdown,
        _db: db,
    }
}

pub fn date(year: i32, month: i32, day: i32) -> Option<v1::Date> {
    Some(v1::Date { year, month, day })
}
