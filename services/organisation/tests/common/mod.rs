//! A real organisation server on 127.0.0.1:0 for the gRPC test binaries,
//! each on a database of its own (`tasknet_system`'s test harness); it
//! shuts down when dropped.

use tasknet_proto::v1;
use tasknet_proto::v1::organisation_service_client::OrganisationServiceClient;
use tasknet_server::TracedChannel;
use tasknet_storage::testing::TestDatabase;
use tasknet_system::System;

pub type Client = OrganisationServiceClient<TracedChannel>;

/// A running server; shuts down when dropped.
pub struct Running {
    pub client: Client,
    _system: System,
    _db: TestDatabase,
}

pub async fn start(db: TestDatabase) -> Running {
    let system = tasknet_system::testing::organisation(db.url(), false).await;
    let channel = tasknet_server::connect_lazy(system.endpoint()).unwrap();
    Running {
        client: OrganisationServiceClient::new(channel),
        _system: system,
        _db: db,
    }
}

// Not every test binary that shares this module builds units.
#[allow(dead_code)]
pub fn date(year: i32, month: i32, day: i32) -> Option<v1::Date> {
    Some(v1::Date { year, month, day })
}
