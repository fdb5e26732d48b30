//! Reorganisations over real gRPC, on SQLite and PostgreSQL: the built-in
//! 2025 provincial merger applied once (a second time, or an overlapping
//! one, is refused and changes nothing), lineage, and codes looked up by date.
// A test crate: a panic is how a test reports failure.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use tasknet_organisation::reference::{self, HEADQUARTERS_CODE};
use tasknet_proto::tonic::{Code, Status};
use tasknet_proto::v1::{self, LineageKind, UnitCategory};
use tasknet_storage::testing::TestDatabase;

mod common;

use common::{Client, date, start};

fn office(code: &str) -> String {
    reference::reference_unit_id(UnitCategory::ProvincialOffice, code)
}

fn assert_error<T: std::fmt::Debug>(result: Result<T, Status>, code: Code, field: &str) -> String {
    let status = result.expect_err("the request should fail");
    assert_eq!(status.code(), code, "{status:?}");
    assert!(
        status.message().starts_with(&format!("{field}:")),
        "{status:?}"
    );
    status.message().to_owned()
}

fn merger(validate_only: bool) -> v1::ApplyReferenceReorganisationRequest {
    v1::ApplyReferenceReorganisationRequest {
        name: "vn-provinces-2025".into(),
        validate_only,
    }
}

async fn lookup(client: &mut Client, code: &str, on: Option<v1::Date>) -> Result<v1::Unit, Status> {
    let request = v1::LookupUnitRequest {
        code: code.into(),
        on,
    };
    Ok(client
        .lookup_unit(request)
        .await?
        .into_inner()
        .unit
        .unwrap())
}

/// Every unit and link, to show that a refused request changed nothing.
async fn everything(client: &mut Client) -> (Vec<v1::Unit>, v1::ListReorganisationsResponse) {
    let units = client
        .list_units(v1::ListUnitsRequest {
            page_size: 1000,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .units;
    let lineage = client
        .list_reorganisations(v1::ListReorganisationsRequest {})
        .await
        .unwrap()
        .into_inner();
    (units, lineage)
}

async fn the_provincial_merger_applies_once(db: TestDatabase) {
    let running = start(db).await;
    let mut client = running.client.clone();
    // Without the reference units there is nothing to merge.
    assert_error(
        client.apply_reference_reorganisation(merger(false)).await,
        Code::FailedPrecondition,
        "name",
    );
    client
        .load_reference_units(v1::LoadReferenceUnitsRequest {})
        .await
        .unwrap();
    let unknown = v1::ApplyReferenceReorganisationRequest {
        name: "vn-provinces-1976".into(),
        validate_only: false,
    };
    assert_error(
        client.apply_reference_reorganisation(unknown).await,
        Code::NotFound,
        "name",
    );

    let before = everything(&mut client).await;
    let checked = client
        .apply_reference_reorganisation(merger(true))
        .await
        .unwrap()
        .into_inner();
    assert!(checked.validated_only);
    assert_eq!((checked.units_ended, checked.units_created), (52, 23));
    assert_eq!(
        everything(&mut client).await,
        before,
        "validating changes nothing"
    );

    let applied = client
        .apply_reference_reorganisation(merger(false))
        .await
        .unwrap()
        .into_inner();
    assert_eq!((applied.units_ended, applied.units_created), (52, 23));
    assert_eq!(applied.links.len(), 52);
    let after = everything(&mut client).await;

    let message = assert_error(
        client.apply_reference_reorganisation(merger(false)).await,
        Code::AlreadyExists,
        "reorganisation.name",
    );
    assert!(message.contains("already applied"), "{message}");
    assert_eq!(
        everything(&mut client).await,
        after,
        "a second application changes nothing"
    );

    // An overlapping reorganisation: it ends Bình Định's office again.
    let overlapping = v1::Reorganisation {
        name: "binh-dinh-again".into(),
        effective_date: date(2025, 9, 1),
        changes: vec![v1::UnitChange {
            kind: LineageKind::Merge as i32,
            predecessor_unit_ids: vec![office("01"), office("52")],
            successors: vec![v1::Unit {
                category: UnitCategory::ProvincialOffice as i32,
                code: "99".into(),
                name_vi: "Cục Thống kê thử".into(),
                ..Default::default()
            }],
        }],
        ..Default::default()
    };
    let request = v1::ApplyReorganisationRequest {
        reorganisation: Some(overlapping),
        validate_only: false,
    };
    let message = assert_error(
        client.apply_reorganisation(request).await,
        Code::FailedPrecondition,
        "reorganisation.changes[0].predecessor_unit_ids[1]",
    );
    assert!(message.contains("already ended on 2025-06-30"), "{message}");
    assert_eq!(
        everything(&mut client).await,
        after,
        "an overlapping one changes nothing"
    );
    let missing = v1::ApplyReorganisationRequest::default();
    assert_error(
        client.apply_reorganisation(missing).await,
        Code::InvalidArgument,
        "reorganisation",
    );
}

async fn a_reused_code_resolves_by_date_and_lineage_is_queryable(db: TestDatabase) {
    let running = start(db).await;
    let mut client = running.client.clone();
    client
        .load_reference_units(v1::LoadReferenceUnitsRequest {})
        .await
        .unwrap();
    let applied = client
        .apply_reference_reorganisation(merger(false))
        .await
        .unwrap()
        .into_inner();
    let reorganisation_id = applied.reorganisation.unwrap().id;

    let binh_dinh = lookup(&mut client, "52", date(2025, 6, 30)).await.unwrap();
    assert_eq!(binh_dinh.id, office("52"));
    assert_eq!(binh_dinh.name_vi, "Cục Thống kê Bình Định");
    assert_eq!(binh_dinh.valid_to, date(2025, 6, 30));
    let gia_lai = lookup(&mut client, "52", date(2025, 7, 1)).await.unwrap();
    assert_eq!(gia_lai.name_vi, "Cục Thống kê Gia Lai");
    assert_eq!(
        gia_lai.id,
        reference::reference_unit_id_at(
            UnitCategory::ProvincialOffice,
            "52",
            chrono::NaiveDate::from_ymd_opt(2025, 7, 1).unwrap()
        )
    );
    assert_eq!(gia_lai.valid_from, date(2025, 7, 1));
    assert_eq!(
        lookup(&mut client, "64", date(2025, 6, 30))
            .await
            .unwrap()
            .name_vi,
        "Cục Thống kê Gia Lai"
    );
    assert_error(
        lookup(&mut client, "64", date(2025, 7, 1)).await,
        Code::NotFound,
        "code",
    );
    assert_error(
        lookup(&mut client, "52", None).await,
        Code::InvalidArgument,
        "on",
    );

    let lineage = client
        .get_lineage(v1::GetLineageRequest {
            unit_id: gia_lai.id.clone(),
            transitive: false,
        })
        .await
        .unwrap()
        .into_inner();
    let mut predecessors: Vec<String> = lineage
        .predecessors
        .iter()
        .map(|l| l.predecessor_unit_id.clone())
        .collect();
    predecessors.sort();
    let mut expected = vec![office("64"), office("52")];
    expected.sort();
    assert_eq!(predecessors, expected);
    assert!(lineage.successors.is_empty());
    for link in &lineage.predecessors {
        assert_eq!(link.effective_date, date(2025, 7, 1));
        assert_eq!(link.kind, LineageKind::Merge as i32);
        assert_eq!(link.reorganisation_id, reorganisation_id);
        assert!(link.primary);
    }
    let forward = client
        .get_lineage(v1::GetLineageRequest {
            unit_id: office("52"),
            transitive: true,
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(forward.successors.len(), 1);
    assert_eq!(forward.successors[0].successor_unit_id, gia_lai.id);

    let by_name = client
        .get_reorganisation(v1::GetReorganisationRequest {
            reorganisation: "vn-provinces-2025".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(by_name.reorganisation.unwrap().id, reorganisation_id);
    assert_eq!(by_name.links.len(), 52);
    assert_error(
        client
            .get_lineage(v1::GetLineageRequest {
                unit_id: "52".into(),
                transitive: false,
            })
            .await,
        Code::InvalidArgument,
        "unit_id",
    );
    let hq = reference::reference_unit_id(UnitCategory::Headquarters, HEADQUARTERS_CODE);
    let none = client
        .get_lineage(v1::GetLineageRequest {
            unit_id: hq,
            transitive: true,
        })
        .await
        .unwrap()
        .into_inner();
    assert!(none.predecessors.is_empty() && none.successors.is_empty());
}

tasknet_storage::test_on_both_backends!(
    the_provincial_merger_applies_once,
    a_reused_code_resolves_by_date_and_lineage_is_queryable,
);
