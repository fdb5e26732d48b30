//! The unit directory (`crates/directory`) against the real organisation
//! service (a server on 127.0.0.1:0), on SQLite and on PostgreSQL.

use std::time::Duration;

use tasknet_directory::UnitDirectory;
use tasknet_organisation::OrganisationApp;
use tasknet_organisation::reference::{self, HEADQUARTERS_CODE};
use tasknet_proto::v1::organisation_service_client::OrganisationServiceClient;
use tasknet_proto::v1::{self, UnitCategory};
use tasknet_storage::testing::TestDatabase;

async fn sees_reference_units_and_new_ones(db: TestDatabase) {
    let system = tasknet_system::testing::organisation(db.url(), false).await;
    let endpoint = system.endpoint().to_owned();
    let app = system.app::<OrganisationApp>().unwrap();
    let (_, total) = app.load_reference_units().await.unwrap();
    let directory = UnitDirectory::connect_lazy(&endpoint).unwrap();

    let all = directory.all().await.unwrap();
    assert_eq!(all.len(), total);
    let provinces = all
        .values()
        .filter(|u| u.category == UnitCategory::ProvincialOffice as i32)
        .count();
    assert_eq!(provinces, 63);
    assert_eq!(directory.regions().await.unwrap().len(), 6);
    let hanoi_id = reference::reference_unit_id(UnitCategory::ProvincialOffice, "01");
    let hanoi = directory.get(&hanoi_id).await.unwrap().unwrap();
    assert_eq!(hanoi.region_code, "RRD");

    // A unit created after the first load is found through the reload a miss
    // triggers (once the one-second limit has passed).
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let channel = tasknet_server::connect_lazy(&endpoint).unwrap();
    let mut client = OrganisationServiceClient::new(channel);
    let id = uuid::Uuid::now_v7().to_string();
    let unit = v1::Unit {
        category: UnitCategory::PublicServiceUnit as i32,
        parent_id: reference::reference_unit_id(UnitCategory::Headquarters, HEADQUARTERS_CODE),
        code: "TTTH1".into(),
        name_vi: "Trung tâm Tin học thống kê khu vực I".into(),
        valid_from: Some(v1::Date {
            year: 2024,
            month: 1,
            day: 1,
        }),
        ..Default::default()
    };
    client
        .create_unit(v1::CreateUnitRequest {
            unit_id: id.clone(),
            unit: Some(unit),
        })
        .await
        .unwrap();
    let found = directory.get(&id).await.unwrap().unwrap();
    assert_eq!(found.code, "TTTH1");
    assert_eq!(directory.all().await.unwrap().len(), total + 1);
    assert!(
        directory
            .get(&uuid::Uuid::now_v7().to_string())
            .await
            .unwrap()
            .is_none()
    );

    system.stop().await.unwrap();
}

tasknet_storage::test_on_both_backends!(sees_reference_units_and_new_ones);
