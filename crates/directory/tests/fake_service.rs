//! The directory's caching rules, against a stand-in organisation service
//! that counts the calls it gets (the test against the real service is in
//! `real_service.rs`).
// A test crate: a panic is how a test reports failure.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tasknet_directory::{DirectoryError, UnitDirectory};
use tasknet_proto::tonic::{self, Request, Response, Status};
use tasknet_proto::v1;
use tasknet_proto::v1::organisation_service_server::{
    OrganisationService, OrganisationServiceServer,
};
use tasknet_server::{GrpcServer, ServeOptions, Shutdown};

#[derive(Clone, Default)]
struct Fake {
    units: Arc<Mutex<Vec<v1::Unit>>>,
    list_calls: Arc<AtomicUsize>,
    /// ListUnits calls still to fail as a dropped connection does (Cancelled).
    fail_next: Arc<AtomicUsize>,
}

impl Fake {
    fn add(&self, id: &str) {
        self.units.lock().unwrap().push(v1::Unit {
            id: id.to_owned(),
            code: id.to_owned(),
            ..Default::default()
        });
    }
    fn calls(&self) -> usize {
        self.list_calls.load(Ordering::SeqCst)
    }
}

#[tonic::async_trait]
impl OrganisationService for Fake {
    async fn create_unit(
        &self,
        _: Request<v1::CreateUnitRequest>,
    ) -> Result<Response<v1::CreateUnitResponse>, Status> {
        Err(Status::unimplemented("fake"))
    }
    async fn update_unit(
        &self,
        _: Request<v1::UpdateUnitRequest>,
    ) -> Result<Response<v1::UpdateUnitResponse>, Status> {
        Err(Status::unimplemented("fake"))
    }
    async fn get_unit(
        &self,
        _: Request<v1::GetUnitRequest>,
    ) -> Result<Response<v1::GetUnitResponse>, Status> {
        Err(Status::unimplemented("fake"))
    }
    /// Pages by position; the token is the index of the next unit.
    async fn list_units(
        &self,
        request: Request<v1::ListUnitsRequest>,
    ) -> Result<Response<v1::ListUnitsResponse>, Status> {
        self.list_calls.fetch_add(1, Ordering::SeqCst);
        let failing = self
            .fail_next
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1));
        if failing.is_ok() {
            return Err(Status::cancelled("operation was canceled"));
        }
        let request = request.into_inner();
        let start: usize = if request.page_token.is_empty() {
            0
        } else {
            request.page_token.parse().unwrap()
        };
        let units = self.units.lock().unwrap();
        let end = (start + request.page_size as usize).min(units.len());
        let next_page_token = if end < units.len() {
            end.to_string()
        } else {
            String::new()
        };
        Ok(Response::new(v1::ListUnitsResponse {
            units: units[start..end].to_vec(),
            next_page_token,
        }))
    }
    async fn list_regions(
        &self,
        _: Request<v1::ListRegionsRequest>,
    ) -> Result<Response<v1::ListRegionsResponse>, Status> {
        Ok(Response::new(v1::ListRegionsResponse {
            regions: vec![v1::Region {
                code: "RRD".into(),
                name_vi: "Đồng bằng sông Hồng".into(),
                name_en: "Red River Delta".into(),
            }],
        }))
    }
    async fn load_reference_units(
        &self,
        _: Request<v1::LoadReferenceUnitsRequest>,
    ) -> Result<Response<v1::LoadReferenceUnitsResponse>, Status> {
        Err(Status::unimplemented("fake"))
    }
    async fn issue_credential(
        &self,
        _: Request<v1::IssueCredentialRequest>,
    ) -> Result<Response<v1::IssueCredentialResponse>, Status> {
        Err(Status::unimplemented("fake"))
    }
    async fn list_credentials(
        &self,
        _: Request<v1::ListCredentialsRequest>,
    ) -> Result<Response<v1::ListCredentialsResponse>, Status> {
        Err(Status::unimplemented("fake"))
    }
    async fn revoke_credential(
        &self,
        _: Request<v1::RevokeCredentialRequest>,
    ) -> Result<Response<v1::RevokeCredentialResponse>, Status> {
        Err(Status::unimplemented("fake"))
    }
    async fn authenticate_token(
        &self,
        _: Request<v1::AuthenticateTokenRequest>,
    ) -> Result<Response<v1::AuthenticateTokenResponse>, Status> {
        Err(Status::unimplemented("fake"))
    }
    async fn list_audit_records(
        &self,
        _: Request<v1::ListAuditRecordsRequest>,
    ) -> Result<Response<v1::ListAuditRecordsResponse>, Status> {
        Err(Status::unimplemented("fake"))
    }
    async fn apply_reorganisation(
        &self,
        _: Request<v1::ApplyReorganisationRequest>,
    ) -> Result<Response<v1::ApplyReorganisationResponse>, Status> {
        Err(Status::unimplemented("fake"))
    }
    async fn apply_reference_reorganisation(
        &self,
        _: Request<v1::ApplyReferenceReorganisationRequest>,
    ) -> Result<Response<v1::ApplyReorganisationResponse>, Status> {
        Err(Status::unimplemented("fake"))
    }
    async fn get_reorganisation(
        &self,
        _: Request<v1::GetReorganisationRequest>,
    ) -> Result<Response<v1::GetReorganisationResponse>, Status> {
        Err(Status::unimplemented("fake"))
    }
    async fn get_lineage(
        &self,
        _: Request<v1::GetLineageRequest>,
    ) -> Result<Response<v1::GetLineageResponse>, Status> {
        Err(Status::unimplemented("fake"))
    }
    async fn lookup_unit(
        &self,
        _: Request<v1::LookupUnitRequest>,
    ) -> Result<Response<v1::LookupUnitResponse>, Status> {
        Err(Status::unimplemented("fake"))
    }
    async fn create_unit_contact(
        &self,
        _: Request<v1::CreateUnitContactRequest>,
    ) -> Result<Response<v1::CreateUnitContactResponse>, Status> {
        Err(Status::unimplemented("fake"))
    }
    async fn update_unit_contact(
        &self,
        _: Request<v1::UpdateUnitContactRequest>,
    ) -> Result<Response<v1::UpdateUnitContactResponse>, Status> {
        Err(Status::unimplemented("fake"))
    }
    async fn delete_unit_contact(
        &self,
        _: Request<v1::DeleteUnitContactRequest>,
    ) -> Result<Response<v1::DeleteUnitContactResponse>, Status> {
        Err(Status::unimplemented("fake"))
    }
    async fn get_unit_contact(
        &self,
        _: Request<v1::GetUnitContactRequest>,
    ) -> Result<Response<v1::GetUnitContactResponse>, Status> {
        Err(Status::unimplemented("fake"))
    }
    async fn list_unit_contacts(
        &self,
        _: Request<v1::ListUnitContactsRequest>,
    ) -> Result<Response<v1::ListUnitContactsResponse>, Status> {
        Err(Status::unimplemented("fake"))
    }
    /// Unimplemented, as in a service that predates reorganisations: the
    /// directory then has no lineage, and still works.
    async fn list_reorganisations(
        &self,
        _: Request<v1::ListReorganisationsRequest>,
    ) -> Result<Response<v1::ListReorganisationsResponse>, Status> {
        Err(Status::unimplemented("fake"))
    }
}

async fn start(fake: Fake) -> (String, Shutdown) {
    let server = GrpcServer::bind("127.0.0.1:0").await.unwrap();
    let endpoint = format!("http://{}", server.local_addr());
    let shutdown = Shutdown::new();
    let routes = tonic::service::Routes::new(OrganisationServiceServer::new(fake));
    tokio::spawn(server.serve(
        routes,
        &["tasknet.v1.OrganisationService"],
        shutdown.clone(),
        ServeOptions::default(),
    ));
    (endpoint, shutdown)
}

#[tokio::test]
async fn loads_every_page_and_the_regions() {
    let fake = Fake::default();
    for i in 0..2500 {
        fake.add(&format!("unit-{i:04}"));
    }
    let (endpoint, shutdown) = start(fake.clone()).await;
    let directory = UnitDirectory::connect_lazy(&endpoint).unwrap();

    let all = directory.all().await.unwrap();
    assert_eq!(all.len(), 2500);
    assert_eq!(fake.calls(), 3, "2500 units in pages of 1000");
    assert_eq!(directory.regions().await.unwrap()[0].code, "RRD");
    let unit = directory.get("unit-2499").await.unwrap().unwrap();
    assert_eq!(unit.code, "unit-2499");
    // Everything came from the cache: no further calls.
    assert_eq!(fake.calls(), 3);
    shutdown.trigger();
}

#[tokio::test]
async fn a_miss_reloads_at_most_once_per_second() {
    let fake = Fake::default();
    fake.add("a");
    let (endpoint, shutdown) = start(fake.clone()).await;
    let directory = UnitDirectory::connect_lazy(&endpoint).unwrap();

    assert!(directory.get("a").await.unwrap().is_some());
    assert_eq!(fake.calls(), 1);

    // A unit created after the load is found by the reload a miss triggers,
    // once the one-second limit since the first load has passed.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    fake.add("b");
    assert!(directory.get("b").await.unwrap().is_some());
    assert_eq!(fake.calls(), 2);

    // Misses within the second after that reload do not call again.
    for _ in 0..20 {
        assert!(directory.get("missing").await.unwrap().is_none());
    }
    assert_eq!(fake.calls(), 2);
    fake.add("c");
    assert!(directory.get("c").await.unwrap().is_none());

    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert!(directory.get("c").await.unwrap().is_some());
    assert_eq!(fake.calls(), 3);
    shutdown.trigger();
}

#[tokio::test]
async fn concurrent_first_lookups_share_one_load() {
    let fake = Fake::default();
    fake.add("a");
    let (endpoint, shutdown) = start(fake.clone()).await;
    let directory = UnitDirectory::connect_lazy(&endpoint).unwrap();
    let lookups: Vec<_> = (0..16)
        .map(|_| {
            let directory = directory.clone();
            tokio::spawn(async move { directory.get("a").await })
        })
        .collect();
    for lookup in lookups {
        assert!(lookup.await.unwrap().unwrap().is_some());
    }
    assert_eq!(fake.calls(), 1);
    shutdown.trigger();
}

#[tokio::test]
async fn a_load_cut_off_in_transport_is_tried_again() {
    let fake = Fake::default();
    fake.add("a");
    fake.fail_next.store(2, Ordering::SeqCst);
    let (endpoint, shutdown) = start(fake.clone()).await;
    let directory = UnitDirectory::connect_lazy(&endpoint).unwrap();
    assert!(directory.get("a").await.unwrap().is_some());
    assert_eq!(
        fake.calls(),
        3,
        "two cut-off calls, then the one that answered"
    );

    // Three in a row exhaust the retries: the lookup fails, naming the cause.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    fake.fail_next.store(3, Ordering::SeqCst);
    let error = directory.get("b").await.unwrap_err();
    assert!(
        error.to_string().contains("operation was canceled"),
        "{error}"
    );
    assert_eq!(fake.calls(), 6);
    shutdown.trigger();
}

#[tokio::test]
async fn an_unreachable_service_is_reported_as_unavailable() {
    // Bind and drop a listener, so the port is (almost certainly) closed.
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let directory = UnitDirectory::connect_lazy(&format!("http://127.0.0.1:{port}")).unwrap();
    let error = directory.get("a").await.unwrap_err();
    assert!(matches!(error, DirectoryError::Unavailable(_)), "{error}");
    assert!(directory.all().await.is_err());
    assert!(directory.regions().await.is_err());
}
