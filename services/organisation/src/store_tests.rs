//! Store and repository tests, each run on SQLite and on PostgreSQL.

use chrono::NaiveDate;
use tasknet_proto::v1::{self, UnitCategory};
use tasknet_storage::testing::TestDatabase;
use tasknet_storage::{Database, DatabaseOptions};

use crate::error::Error;
use crate::model::UnitFields;
use crate::reference::{self, HEADQUARTERS_CODE};
use crate::repository::{Cursor, UnitFilter};
use crate::store::Store;

async fn store(db: &TestDatabase) -> Store {
    let database = Database::open(db.url(), &DatabaseOptions::default(), &crate::MIGRATIONS)
        .await
        .unwrap();
    Store::new(database)
}

fn ymd(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap()
}

fn new_id() -> String {
    uuid::Uuid::now_v7().to_string()
}

fn fields(code: &str, from: NaiveDate, to: Option<NaiveDate>) -> UnitFields {
    UnitFields {
        category: UnitCategory::ProvincialOffice,
        parent_id: None,
        code: code.to_owned(),
        name_vi: format!("Cục Thống kê {code}"),
        name_en: String::new(),
        region_code: None,
        valid_from: from,
        valid_to: to,
    }
}

async fn creates_reads_and_acknowledges_repeats(db: TestDatabase) {
    let store = store(&db).await;
    let id = new_id();
    let (unit, created) = store
        .create(
            &id,
            fields("52", ymd(2008, 8, 1), Some(ymd(2025, 6, 30))),
            None,
        )
        .await
        .unwrap();
    assert!(created);
    assert_eq!(unit.version, 1);
    assert_eq!(store.get(&id).await.unwrap().unwrap(), unit);

    let (again, created) = store
        .create(
            &id,
            fields("52", ymd(2008, 8, 1), Some(ymd(2025, 6, 30))),
            None,
        )
        .await
        .unwrap();
    assert!(!created);
    assert_eq!(again, unit);

    let error = store
        .create(&id, fields("53", ymd(2008, 8, 1), None), None)
        .await
        .unwrap_err();
    assert!(matches!(error, Error::AlreadyExists { ref field, .. } if field == "unit_id"));
    assert!(store.get(&new_id()).await.unwrap().is_none());
}

async fn codes_are_reusable_only_on_disjoint_dates(db: TestDatabase) {
    let store = store(&db).await;
    store
        .create(
            &new_id(),
            fields("52", ymd(2008, 8, 1), Some(ymd(2025, 6, 30))),
            None,
        )
        .await
        .unwrap();
    // The merged Gia Lai takes code 52 the day after Bình Định ends.
    store
        .create(&new_id(), fields("52", ymd(2025, 7, 1), None), None)
        .await
        .unwrap();
    for (from, to) in [
        (ymd(2025, 6, 30), Some(ymd(2025, 6, 30))),
        (ymd(2000, 1, 1), Some(ymd(2008, 8, 1))),
        (ymd(2030, 1, 1), None),
    ] {
        let error = store
            .create(&new_id(), fields("52", from, to), None)
            .await
            .unwrap_err();
        assert!(
            matches!(error, Error::AlreadyExists { ref field, .. } if field == "unit.code"),
            "{from} {to:?}: {error}"
        );
    }
    store
        .create(
            &new_id(),
            fields("52", ymd(2000, 1, 1), Some(ymd(2008, 7, 31))),
            None,
        )
        .await
        .unwrap();
    let all = store.list(&UnitFilter::default(), None, 100).await.unwrap();
    assert_eq!(all.len(), 3);
}

async fn references_to_missing_rows_are_refused(db: TestDatabase) {
    let store = store(&db).await;
    let mut orphan = fields("01", ymd(2008, 8, 1), None);
    orphan.parent_id = Some(new_id());
    let error = store.create(&new_id(), orphan, None).await.unwrap_err();
    assert!(matches!(error, Error::NotFound { ref field, .. } if field == "unit.parent_id"));

    let mut nowhere = fields("01", ymd(2008, 8, 1), None);
    nowhere.region_code = Some("XX".into());
    let error = store.create(&new_id(), nowhere, None).await.unwrap_err();
    assert!(matches!(error, Error::NotFound { ref field, .. } if field == "unit.region_code"));
    assert!(
        store
            .list(&UnitFilter::default(), None, 10)
            .await
            .unwrap()
            .is_empty()
    );
}

async fn updates_bump_versions_and_refuse_stale_ones(db: TestDatabase) {
    let store = store(&db).await;
    let parent = new_id();
    store
        .create(&parent, fields("P", ymd(2008, 1, 1), None), None)
        .await
        .unwrap();
    let id = new_id();
    store
        .create(&id, fields("01", ymd(2008, 8, 1), None), None)
        .await
        .unwrap();

    let patch = v1::Unit {
        name_en: "Ha Noi Statistics Office".into(),
        parent_id: parent.clone(),
        ..Default::default()
    };
    let paths = ["name_en".to_owned(), "parent_id".to_owned()];
    let updated = store
        .update(&id, &paths, &patch, Some(1), None)
        .await
        .unwrap();
    assert_eq!(updated.version, 2);
    assert_eq!(updated.fields.parent_id.as_deref(), Some(parent.as_str()));
    assert_eq!(store.get(&id).await.unwrap().unwrap(), updated);

    // The same change again is a no-op and keeps the version.
    let same = store.update(&id, &paths, &patch, None, None).await.unwrap();
    assert_eq!(same.version, 2);

    let rename = v1::Unit {
        name_vi: "Cục Thống kê thành phố Hà Nội".into(),
        ..Default::default()
    };
    let error = store
        .update(&id, &["name_vi".to_owned()], &rename, Some(1), None)
        .await
        .unwrap_err();
    assert!(matches!(error, Error::FailedPrecondition { .. }));
    assert_eq!(store.get(&id).await.unwrap().unwrap().version, 2);

    // A unit cannot move under its own descendant.
    let cycle = v1::Unit {
        parent_id: id.clone(),
        ..Default::default()
    };
    let error = store
        .update(&parent, &["parent_id".to_owned()], &cycle, None, None)
        .await
        .unwrap_err();
    assert!(
        matches!(error, Error::Invalid(ref e) if e.field == "unit.parent_id"),
        "{error}"
    );
}

async fn lists_filter_and_page_in_code_order(db: TestDatabase) {
    let store = store(&db).await;
    let (created, total) = store.load_reference(None).await.unwrap();
    assert_eq!(created, total);
    let ended = new_id();
    store
        .create(
            &ended,
            fields("99", ymd(2008, 8, 1), Some(ymd(2020, 12, 31))),
            None,
        )
        .await
        .unwrap();

    let mut seen = Vec::new();
    let mut cursor: Option<Cursor> = None;
    loop {
        let page = store
            .list(&UnitFilter::default(), cursor.as_ref(), 7)
            .await
            .unwrap();
        if page.is_empty() {
            break;
        }
        let last = page.last().unwrap();
        cursor = Some(Cursor {
            code: last.fields.code.clone(),
            id: last.id.clone(),
        });
        seen.extend(page.into_iter().map(|u| (u.fields.code, u.id)));
    }
    assert_eq!(seen.len(), total + 1);
    let mut sorted = seen.clone();
    sorted.sort();
    assert_eq!(seen, sorted, "byte-wise (code, id) order on both back ends");

    let as_of = |date| UnitFilter {
        as_of: Some(date),
        ..Default::default()
    };
    let count = |units: Vec<_>| units.len();
    assert_eq!(
        count(
            store
                .list(&as_of(ymd(2020, 12, 31)), None, 1000)
                .await
                .unwrap()
        ),
        total + 1
    );
    assert_eq!(
        count(
            store
                .list(&as_of(ymd(2021, 1, 1)), None, 1000)
                .await
                .unwrap()
        ),
        total
    );
    // Before the provinces' 2008-08-01 start only the central units exist.
    assert_eq!(
        count(
            store
                .list(&as_of(ymd(2008, 7, 31)), None, 1000)
                .await
                .unwrap()
        ),
        total - 63
    );

    let provinces = UnitFilter {
        category: Some(UnitCategory::ProvincialOffice),
        region_code: Some("MD".into()),
        parent_id: Some(reference::reference_unit_id(
            UnitCategory::Headquarters,
            HEADQUARTERS_CODE,
        )),
        ..Default::default()
    };
    assert_eq!(count(store.list(&provinces, None, 1000).await.unwrap()), 13);
    let by_code = UnitFilter {
        code: Some("TCTK".into()),
        ..Default::default()
    };
    let hq = store.list(&by_code, None, 10).await.unwrap();
    assert_eq!(hq.len(), 1);
    assert_eq!(hq[0].fields.category, UnitCategory::Headquarters);
}

async fn reference_load_is_idempotent(db: TestDatabase) {
    let store = store(&db).await;
    let (created, total) = store.load_reference(None).await.unwrap();
    assert!(total >= 1 + 14 + 4 + 63);
    assert_eq!(created, total);
    assert_eq!(store.load_reference(None).await.unwrap(), (0, total));
    assert_eq!(store.regions().await.unwrap().len(), 6);
    let hanoi = reference::reference_unit_id(UnitCategory::ProvincialOffice, "01");
    let stored = store.get(&hanoi).await.unwrap().unwrap();
    assert_eq!(stored.fields.region_code.as_deref(), Some("RRD"));
    assert_eq!(stored.fields.valid_from, reference::PROVINCES_VALID_FROM);
}

tasknet_storage::test_on_both_backends!(
    creates_reads_and_acknowledges_repeats,
    codes_are_reusable_only_on_disjoint_dates,
    references_to_missing_rows_are_refused,
    updates_bump_versions_and_refuse_stale_ones,
    lists_filter_and_page_in_code_order,
    reference_load_is_idempotent,
);
