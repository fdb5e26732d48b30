//! The organisation service over real gRPC: a server on 127.0.0.1:0 per
//! test, on SQLite and on PostgreSQL, driven through the generated client.

use std::collections::HashSet;

use tasknet_organisation::reference::{self, HEADQUARTERS_CODE};
use tasknet_proto::prost_types::FieldMask;
use tasknet_proto::tonic::{Code, Status};
use tasknet_proto::v1::{self, UnitCategory};
use tasknet_storage::testing::TestDatabase;
use tonic_types::StatusExt;

mod common;

use common::{Client, date, start};

fn new_id() -> String {
    uuid::Uuid::now_v7().to_string()
}

fn hq_id() -> String {
    reference::reference_unit_id(UnitCategory::Headquarters, HEADQUARTERS_CODE)
}

fn department(code: &str) -> v1::Unit {
    v1::Unit {
        category: UnitCategory::CentralDepartment as i32,
        parent_id: hq_id(),
        code: code.to_owned(),
        name_vi: format!("Vụ {code}"),
        name_en: format!("Department {code}"),
        valid_from: date(2024, 1, 1),
        ..Default::default()
    }
}

fn assert_error<T: std::fmt::Debug>(result: Result<T, Status>, code: Code, field: &str) {
    let status = result.expect_err("the request should fail");
    assert_eq!(status.code(), code, "{status:?}");
    assert!(
        status.message().starts_with(&format!("{field}:")),
        "expected the message to name {field}: {status:?}"
    );
}

async fn create(client: &mut Client, unit_id: &str, unit: v1::Unit) -> Result<v1::Unit, Status> {
    let request = v1::CreateUnitRequest {
        unit_id: unit_id.to_owned(),
        unit: Some(unit),
    };
    Ok(client
        .create_unit(request)
        .await?
        .into_inner()
        .unit
        .unwrap())
}

async fn update(
    client: &mut Client,
    unit: v1::Unit,
    paths: &[&str],
    expected_version: Option<i64>,
) -> Result<v1::Unit, Status> {
    let request = v1::UpdateUnitRequest {
        unit: Some(unit),
        update_mask: Some(FieldMask {
            paths: paths.iter().map(|p| (*p).to_owned()).collect(),
        }),
        expected_version,
    };
    Ok(client
        .update_unit(request)
        .await?
        .into_inner()
        .unit
        .unwrap())
}

async fn get(client: &mut Client, unit_id: &str) -> Result<v1::Unit, Status> {
    let request = v1::GetUnitRequest {
        unit_id: unit_id.to_owned(),
    };
    Ok(client.get_unit(request).await?.into_inner().unit.unwrap())
}

/// Every unit matching `request`, walking all pages of `page_size`.
async fn list_all(client: &mut Client, mut request: v1::ListUnitsRequest) -> Vec<v1::Unit> {
    let mut units = Vec::new();
    loop {
        let page = client
            .list_units(request.clone())
            .await
            .unwrap()
            .into_inner();
        assert!(page.units.len() <= request.page_size.max(100) as usize);
        units.extend(page.units);
        if page.next_page_token.is_empty() {
            return units;
        }
        request.page_token = page.next_page_token;
    }
}

async fn load_reference(client: &mut Client) -> (i32, i32) {
    let response = client
        .load_reference_units(v1::LoadReferenceUnitsRequest {})
        .await
        .unwrap()
        .into_inner();
    (response.created, response.total)
}

async fn units_in_store(client: &mut Client) -> Vec<v1::Unit> {
    let request = v1::ListUnitsRequest {
        page_size: 1000,
        ..Default::default()
    };
    list_all(client, request).await
}

async fn creates_gets_and_updates_a_unit(db: TestDatabase) {
    let running = start(db).await;
    let mut client = running.client.clone();
    load_reference(&mut client).await;

    let id = new_id();
    let created = create(&mut client, &id, department("TEST")).await.unwrap();
    assert_eq!(created.id, id);
    assert_eq!(created.version, 1);
    assert_eq!(created.parent_id, hq_id());
    assert!(created.create_time.is_some());
    assert_eq!(get(&mut client, &id).await.unwrap(), created);

    let patch = v1::Unit {
        id: id.clone(),
        name_en: "Department of Tests".into(),
        valid_to: date(2024, 12, 31),
        ..Default::default()
    };
    let updated = update(&mut client, patch, &["name_en", "valid_to"], Some(1))
        .await
        .unwrap();
    assert_eq!(updated.version, 2);
    assert_eq!(updated.name_en, "Department of Tests");
    assert_eq!(updated.valid_to, date(2024, 12, 31));
    assert_eq!(updated.name_vi, created.name_vi, "unmasked fields are kept");
    assert_eq!(updated.create_time, created.create_time);
    assert_eq!(get(&mut client, &id).await.unwrap(), updated);

    // A server-chosen id is a UUIDv7.
    let generated = create(&mut client, "", department("GEN")).await.unwrap();
    let uuid = uuid::Uuid::parse_str(&generated.id).unwrap();
    assert_eq!(uuid.get_version_num(), 7);
}

async fn repeated_creations_are_acknowledged_once(db: TestDatabase) {
    let running = start(db).await;
    let mut client = running.client.clone();
    load_reference(&mut client).await;
    let before = units_in_store(&mut client).await.len();

    let id = new_id();
    let first = create(&mut client, &id, department("DUP")).await.unwrap();
    let again = create(&mut client, &id.to_uppercase(), department("DUP"))
        .await
        .unwrap();
    assert_eq!(again, first, "the repeat returns the stored unit unchanged");

    let mut different = department("DUP");
    different.name_vi = "Vụ khác".into();
    assert_error(
        create(&mut client, &id, different).await,
        Code::AlreadyExists,
        "unit_id",
    );
    assert_eq!(units_in_store(&mut client).await.len(), before + 1);
    assert_eq!(get(&mut client, &id).await.unwrap(), first);
}

async fn invalid_creations_are_refused_and_write_nothing(db: TestDatabase) {
    let running = start(db).await;
    let mut client = running.client.clone();
    load_reference(&mut client).await;
    let before = units_in_store(&mut client).await;

    type Case = (Code, &'static str, Box<dyn Fn(&mut v1::Unit)>);
    let cases: Vec<Case> = vec![
        (
            Code::InvalidArgument,
            "unit.category",
            Box::new(|u| u.category = 0),
        ),
        (
            Code::InvalidArgument,
            "unit.category",
            Box::new(|u| u.category = 42),
        ),
        (
            Code::InvalidArgument,
            "unit.code",
            Box::new(|u| u.code.clear()),
        ),
        (
            Code::InvalidArgument,
            "unit.name_vi",
            Box::new(|u| u.name_vi.clear()),
        ),
        (
            Code::InvalidArgument,
            "unit.valid_from",
            Box::new(|u| u.valid_from = None),
        ),
        (
            Code::InvalidArgument,
            "unit.valid_from",
            Box::new(|u| u.valid_from = date(2024, 2, 30)),
        ),
        (
            Code::InvalidArgument,
            "unit.valid_to",
            Box::new(|u| u.valid_to = date(2023, 12, 31)),
        ),
        (
            Code::InvalidArgument,
            "unit.parent_id",
            Box::new(|u| u.parent_id = "not-a-uuid".into()),
        ),
        (
            Code::NotFound,
            "unit.parent_id",
            Box::new(|u| u.parent_id = new_id()),
        ),
        (
            Code::NotFound,
            "unit.region_code",
            Box::new(|u| u.region_code = "ATLANTIS".into()),
        ),
        // Hà Nội's office holds code 01 from 2008 with no end.
        (
            Code::AlreadyExists,
            "unit.code",
            Box::new(|u| u.code = "01".into()),
        ),
        (
            Code::AlreadyExists,
            "unit.code",
            Box::new(|u| u.code = "TCTK".into()),
        ),
    ];
    let mut tried = Vec::new();
    for (code, field, mutate) in &cases {
        let mut unit = department("NEW");
        mutate(&mut unit);
        let id = new_id();
        assert_error(create(&mut client, &id, unit).await, *code, field);
        tried.push(id);
    }

    assert_error(
        create(&mut client, "not-a-uuid", department("NEW")).await,
        Code::InvalidArgument,
        "unit_id",
    );
    let request = v1::CreateUnitRequest {
        unit_id: new_id(),
        unit: None,
    };
    assert_error(
        client.create_unit(request).await,
        Code::InvalidArgument,
        "unit",
    );
    // A reference unit's id with other content.
    let hanoi = reference::reference_unit_id(UnitCategory::ProvincialOffice, "01");
    assert_error(
        create(&mut client, &hanoi, department("NEW")).await,
        Code::AlreadyExists,
        "unit_id",
    );

    assert_eq!(
        units_in_store(&mut client).await,
        before,
        "nothing was written"
    );
    for id in tried {
        assert_error(get(&mut client, &id).await, Code::NotFound, "unit_id");
    }
}

async fn invalid_updates_are_refused_and_write_nothing(db: TestDatabase) {
    let running = start(db).await;
    let mut client = running.client.clone();
    load_reference(&mut client).await;
    let id = new_id();
    let unit = create(&mut client, &id, department("UPD")).await.unwrap();
    let before = units_in_store(&mut client).await;

    let patch = |change: &dyn Fn(&mut v1::Unit)| {
        let mut patch = v1::Unit {
            id: id.clone(),
            ..Default::default()
        };
        change(&mut patch);
        patch
    };
    type Case<'a> = (v1::Unit, &'a [&'a str], Option<i64>, Code, &'a str);
    let cases: Vec<Case> = vec![
        (
            patch(&|u| u.name_vi = "x".into()),
            &["nickname"],
            None,
            Code::InvalidArgument,
            "update_mask",
        ),
        (
            patch(&|u| u.name_vi = "x".into()),
            &["name_vi", "id"],
            None,
            Code::InvalidArgument,
            "update_mask",
        ),
        (
            patch(&|u| u.name_vi = "x".into()),
            &[],
            None,
            Code::InvalidArgument,
            "update_mask",
        ),
        (
            patch(&|u| u.name_vi = "x".into()),
            &["name_vi"],
            Some(7),
            Code::FailedPrecondition,
            "expected_version",
        ),
        (
            patch(&|u| u.name_vi.clear()),
            &["name_vi"],
            None,
            Code::InvalidArgument,
            "unit.name_vi",
        ),
        (
            patch(&|u| u.category = 0),
            &["category"],
            None,
            Code::InvalidArgument,
            "unit.category",
        ),
        (
            patch(&|_| {}),
            &["valid_from"],
            None,
            Code::InvalidArgument,
            "unit.valid_from",
        ),
        (
            patch(&|u| u.valid_to = date(2023, 1, 1)),
            &["valid_to"],
            None,
            Code::InvalidArgument,
            "unit.valid_to",
        ),
        (
            patch(&|u| u.region_code = "ATLANTIS".into()),
            &["region_code"],
            None,
            Code::NotFound,
            "unit.region_code",
        ),
        (
            patch(&|u| u.parent_id = new_id()),
            &["parent_id"],
            None,
            Code::NotFound,
            "unit.parent_id",
        ),
        (
            patch(&|u| u.parent_id = id.clone()),
            &["parent_id"],
            None,
            Code::InvalidArgument,
            "unit.parent_id",
        ),
        (
            patch(&|u| u.code = "VP".into()),
            &["code"],
            None,
            Code::AlreadyExists,
            "unit.code",
        ),
        (
            v1::Unit {
                id: "nope".into(),
                ..Default::default()
            },
            &["name_vi"],
            None,
            Code::InvalidArgument,
            "unit.id",
        ),
        (
            v1::Unit {
                id: new_id(),
                name_vi: "x".into(),
                ..Default::default()
            },
            &["name_vi"],
            None,
            Code::NotFound,
            "unit.id",
        ),
    ];
    for (patch, paths, expected_version, code, field) in cases {
        assert_error(
            update(&mut client, patch, paths, expected_version).await,
            code,
            field,
        );
    }
    let request = v1::UpdateUnitRequest {
        unit: Some(unit.clone()),
        update_mask: None,
        expected_version: None,
    };
    assert_error(
        client.update_unit(request).await,
        Code::InvalidArgument,
        "update_mask",
    );

    assert_eq!(
        units_in_store(&mut client).await,
        before,
        "nothing was written"
    );
    assert_eq!(get(&mut client, &id).await.unwrap(), unit);
}

async fn a_stale_expected_version_loses_to_the_first_writer(db: TestDatabase) {
    let running = start(db).await;
    let mut client = running.client.clone();
    load_reference(&mut client).await;
    let id = new_id();
    create(&mut client, &id, department("RACE")).await.unwrap();

    // Eight writers all read version 1; exactly one may apply its change.
    let writers: Vec<_> = (0..8)
        .map(|i| {
            let mut client = client.clone();
            let patch = v1::Unit {
                id: id.clone(),
                name_en: format!("Writer {i}"),
                ..Default::default()
            };
            tokio::spawn(async move { update(&mut client, patch, &["name_en"], Some(1)).await })
        })
        .collect();
    let mut winners = Vec::new();
    for writer in writers {
        match writer.await.unwrap() {
            Ok(unit) => winners.push(unit),
            Err(status) => {
                assert_eq!(status.code(), Code::FailedPrecondition, "{status:?}");
                assert!(status.message().starts_with("expected_version:"));
            }
        }
    }
    assert_eq!(winners.len(), 1);
    let stored = get(&mut client, &id).await.unwrap();
    assert_eq!(stored.version, 2);
    assert_eq!(stored.name_en, winners[0].name_en);
}

async fn get_names_the_unit_id(db: TestDatabase) {
    let running = start(db).await;
    let mut client = running.client.clone();
    assert_error(get(&mut client, "").await, Code::InvalidArgument, "unit_id");
    assert_error(
        get(&mut client, "12345").await,
        Code::InvalidArgument,
        "unit_id",
    );
    assert_error(get(&mut client, &new_id()).await, Code::NotFound, "unit_id");
}

async fn pagination_walks_every_unit_exactly_once(db: TestDatabase) {
    let running = start(db).await;
    let mut client = running.client.clone();
    let (_, total) = load_reference(&mut client).await;

    for page_size in [0, 1, 7, 63, 1000] {
        let request = v1::ListUnitsRequest {
            page_size,
            ..Default::default()
        };
        let units = list_all(&mut client, request).await;
        let ids: HashSet<_> = units.iter().map(|u| u.id.clone()).collect();
        assert_eq!(units.len(), total as usize, "page size {page_size}");
        assert_eq!(
            ids.len(),
            units.len(),
            "no unit twice with page size {page_size}"
        );
        let keys: Vec<_> = units
            .iter()
            .map(|u| (u.code.clone(), u.id.clone()))
            .collect();
        let mut sorted = keys.clone();
        sorted.sort();
        assert_eq!(keys, sorted, "ordered by code, then id");
    }

    let provinces = v1::ListUnitsRequest {
        category: UnitCategory::ProvincialOffice as i32,
        page_size: 10,
        ..Default::default()
    };
    let units = list_all(&mut client, provinces).await;
    let codes: HashSet<_> = units.iter().map(|u| u.code.clone()).collect();
    assert_eq!(units.len(), 63);
    assert_eq!(codes.len(), 63);
    assert!(
        units
            .iter()
            .all(|u| u.category == UnitCategory::ProvincialOffice as i32)
    );

    // The last page has no token; a full first page of exactly all units too.
    let request = v1::ListUnitsRequest {
        category: UnitCategory::ProvincialOffice as i32,
        page_size: 63,
        ..Default::default()
    };
    let page = client.list_units(request).await.unwrap().into_inner();
    assert_eq!(page.units.len(), 63);
    assert!(page.next_page_token.is_empty());
}

async fn list_filters_by_category_parent_region_and_code(db: TestDatabase) {
    let running = start(db).await;
    let mut client = running.client.clone();
    load_reference(&mut client).await;
    let list = |request: v1::ListUnitsRequest| {
        let mut client = client.clone();
        async move {
            list_all(
                &mut client,
                v1::ListUnitsRequest {
                    page_size: 1000,
                    ..request
                },
            )
            .await
        }
    };

    let children = list(v1::ListUnitsRequest {
        parent_id: hq_id(),
        ..Default::default()
    })
    .await;
    assert!(children.iter().all(|u| u.parent_id == hq_id()));
    assert!(children.len() >= 14 + 4 + 63);
    let departments = list(v1::ListUnitsRequest {
        category: UnitCategory::CentralDepartment as i32,
        ..Default::default()
    })
    .await;
    assert_eq!(departments.len(), 14);
    let red_river = list(v1::ListUnitsRequest {
        region_code: "RRD".into(),
        ..Default::default()
    })
    .await;
    assert_eq!(red_river.len(), 11);
    assert!(red_river.iter().any(|u| u.code == "01"));
    let hq = list(v1::ListUnitsRequest {
        code: "TCTK".into(),
        ..Default::default()
    })
    .await;
    assert_eq!(hq.len(), 1);
    assert_eq!(hq[0].id, hq_id());
    assert!(hq[0].parent_id.is_empty());
    let none = list(v1::ListUnitsRequest {
        parent_id: new_id(),
        ..Default::default()
    })
    .await;
    assert!(none.is_empty());
}

async fn as_of_resolves_a_reused_code(db: TestDatabase) {
    let running = start(db).await;
    let mut client = running.client.clone();
    load_reference(&mut client).await;

    // Bình Định's office (52) ends on 30 June 2025; the merged Gia Lai takes 52 the next day.
    let binh_dinh = reference::reference_unit_id(UnitCategory::ProvincialOffice, "52");
    let end = v1::Unit {
        id: binh_dinh.clone(),
        valid_to: date(2025, 6, 30),
        ..Default::default()
    };
    update(&mut client, end, &["valid_to"], None).await.unwrap();
    let gia_lai = create(
        &mut client,
        &new_id(),
        v1::Unit {
            category: UnitCategory::ProvincialOffice as i32,
            parent_id: hq_id(),
            code: "52".into(),
            name_vi: "Cục Thống kê Gia Lai".into(),
            region_code: "CH".into(),
            valid_from: date(2025, 7, 1),
            ..Default::default()
        },
    )
    .await
    .unwrap();

    let by_code = |as_of: Option<v1::Date>| {
        let mut client = client.clone();
        async move {
            let request = v1::ListUnitsRequest {
                code: "52".into(),
                as_of,
                ..Default::default()
            };
            let units = list_all(&mut client, request).await;
            units.into_iter().map(|u| u.id).collect::<Vec<_>>()
        }
    };
    assert_eq!(by_code(date(2024, 6, 30)).await, vec![binh_dinh.clone()]);
    assert_eq!(
        by_code(date(2025, 6, 30)).await,
        vec![binh_dinh.clone()],
        "valid_to is inclusive"
    );
    assert_eq!(by_code(date(2025, 7, 1)).await, vec![gia_lai.id.clone()]);
    assert!(by_code(date(2008, 7, 31)).await.is_empty());
    assert_eq!(by_code(None).await.len(), 2);

    let provinces_on = |as_of| {
        let mut client = client.clone();
        async move {
            let request = v1::ListUnitsRequest {
                category: UnitCategory::ProvincialOffice as i32,
                as_of,
                ..Default::default()
            };
            list_all(&mut client, request).await.len()
        }
    };
    assert_eq!(provinces_on(date(2024, 6, 30)).await, 63);
    assert_eq!(provinces_on(date(2025, 7, 1)).await, 63);
    assert_eq!(provinces_on(None).await, 64);
}

async fn invalid_list_requests_name_the_field(db: TestDatabase) {
    let running = start(db).await;
    let mut client = running.client.clone();
    load_reference(&mut client).await;
    let cases = [
        (
            v1::ListUnitsRequest {
                page_size: 1001,
                ..Default::default()
            },
            "page_size",
        ),
        (
            v1::ListUnitsRequest {
                page_size: -5,
                ..Default::default()
            },
            "page_size",
        ),
        (
            v1::ListUnitsRequest {
                page_token: "not a token".into(),
                ..Default::default()
            },
            "page_token",
        ),
        (
            v1::ListUnitsRequest {
                page_token: "abcd".into(),
                ..Default::default()
            },
            "page_token",
        ),
        (
            v1::ListUnitsRequest {
                as_of: date(2024, 13, 1),
                ..Default::default()
            },
            "as_of",
        ),
        (
            v1::ListUnitsRequest {
                category: 99,
                ..Default::default()
            },
            "category",
        ),
        (
            v1::ListUnitsRequest {
                parent_id: "hq".into(),
                ..Default::default()
            },
            "parent_id",
        ),
    ];
    for (request, field) in cases {
        assert_error(
            client.list_units(request).await,
            Code::InvalidArgument,
            field,
        );
    }

    // A token is only good for the filters it was issued with.
    let first = v1::ListUnitsRequest {
        page_size: 5,
        ..Default::default()
    };
    let token = client
        .list_units(first)
        .await
        .unwrap()
        .into_inner()
        .next_page_token;
    assert!(!token.is_empty());
    let other = v1::ListUnitsRequest {
        page_size: 5,
        category: 4,
        page_token: token,
        ..Default::default()
    };
    assert_error(
        client.list_units(other).await,
        Code::InvalidArgument,
        "page_token",
    );
}

async fn reference_units_load_once(db: TestDatabase) {
    let running = start(db).await;
    let mut client = running.client.clone();
    let (created, total) = load_reference(&mut client).await;
    assert_eq!(created, total);
    assert_eq!(total as usize, reference::reference_units().unwrap().len());
    let after_first = units_in_store(&mut client).await;
    assert_eq!(load_reference(&mut client).await, (0, total));
    assert_eq!(
        units_in_store(&mut client).await,
        after_first,
        "the second load changed nothing"
    );

    let regions = client
        .list_regions(v1::ListRegionsRequest {})
        .await
        .unwrap()
        .into_inner()
        .regions;
    assert_eq!(regions, reference::reference_regions().unwrap());
    assert_eq!(regions.len(), 6);

    let hq = get(&mut client, &hq_id()).await.unwrap();
    assert_eq!(hq.code, "TCTK");
    assert_eq!(hq.name_vi, "Tổng cục Thống kê");
    assert_eq!(hq.name_en, "General Statistics Office");
    let hanoi = get(
        &mut client,
        &reference::reference_unit_id(UnitCategory::ProvincialOffice, "01"),
    )
    .await
    .unwrap();
    assert_eq!(hanoi.name_vi, "Cục Thống kê Hà Nội");
    assert_eq!(hanoi.region_code, "RRD");
    assert_eq!(hanoi.valid_from, date(2008, 8, 1));
    assert_eq!(hanoi.valid_to, None);
    assert_eq!(hanoi.parent_id, hq.id);
}

/// A client tells which field failed from the status details
/// (`google.rpc.BadRequest`), without parsing the message.
async fn the_failed_field_travels_in_the_status_details(db: TestDatabase) {
    let running = start(db).await;
    let mut client = running.client.clone();
    load_reference(&mut client).await;
    let mut unit = department("V9");
    unit.name_vi.clear();
    let status = create(&mut client, &new_id(), unit).await.unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
    let details = status
        .get_details_bad_request()
        .expect("the status carries a BadRequest");
    let violations: Vec<(&str, &str)> = details
        .field_violations
        .iter()
        .map(|v| (v.field.as_str(), v.description.as_str()))
        .collect();
    assert_eq!(violations, [("unit.name_vi", "is required")]);
    // The message still reads "field: what is wrong".
    assert_eq!(status.message(), "unit.name_vi: is required");

    let status = get(&mut client, &new_id()).await.unwrap_err();
    assert_eq!(status.code(), Code::NotFound, "{status:?}");
    let field = status
        .get_details_bad_request()
        .and_then(|details| details.field_violations.into_iter().next())
        .map(|violation| violation.field);
    assert_eq!(field.as_deref(), Some("unit_id"));
}

tasknet_storage::test_on_both_backends!(
    the_failed_field_travels_in_the_status_details,
    creates_gets_and_updates_a_unit,
    repeated_creations_are_acknowledged_once,
    invalid_creations_are_refused_and_write_nothing,
    invalid_updates_are_refused_and_write_nothing,
    a_stale_expected_version_loses_to_the_first_writer,
    get_names_the_unit_id,
    pagination_walks_every_unit_exactly_once,
    list_filters_by_category_parent_region_and_code,
    as_of_resolves_a_reused_code,
    invalid_list_requests_name_the_field,
    reference_units_load_once,
);
