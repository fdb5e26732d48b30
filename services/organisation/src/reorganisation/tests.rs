//! Reorganisation tests: the plan's own checks, the built-in 2025 merger, and
//! applying on SQLite and PostgreSQL — atomically, once, never overlapping.

use chrono::NaiveDate;
use tasknet_proto::v1::{self, LineageKind, UnitCategory};
use tasknet_storage::testing::TestDatabase;
use tasknet_storage::testing::migrations_up_to;
use tasknet_storage::{Database, DatabaseOptions};

use super::apply::apply;
use super::reference::{PROVINCES_2025, PROVINCES_2025_EFFECTIVE, reference_reorganisation};
use super::{Plan, reorganisation_id_for};
use crate::error::Error;
use crate::lineage;
use crate::model::StoredUnit;
use crate::reference::{HEADQUARTERS_CODE, reference_unit_id, reference_unit_id_at};
use crate::repository::{self as repo, UnitFilter};
use crate::store::Store;

fn ymd(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap()
}

fn office(code: &str) -> String {
    reference_unit_id(UnitCategory::ProvincialOffice, code)
}

fn merger() -> v1::Reorganisation {
    reference_reorganisation(PROVINCES_2025).unwrap().unwrap()
}

fn new_office(code: &str, name: &str) -> v1::Unit {
    v1::Unit {
        category: UnitCategory::ProvincialOffice as i32,
        parent_id: reference_unit_id(UnitCategory::Headquarters, HEADQUARTERS_CODE),
        code: code.into(),
        name_vi: format!("Cục Thống kê {name}"),
        region_code: "CH".into(),
        ..Default::default()
    }
}

/// A small reorganisation: `codes` merge into a new office with `new_code`.
fn merge(name: &str, effective: NaiveDate, codes: &[&str], new_code: &str) -> v1::Reorganisation {
    v1::Reorganisation {
        name: name.into(),
        effective_date: Some(tasknet_domain::date_to_proto(effective)),
        changes: vec![v1::UnitChange {
            kind: LineageKind::Merge as i32,
            predecessor_unit_ids: codes.iter().map(|c| office(c)).collect(),
            successors: vec![new_office(new_code, "mới")],
        }],
        ..Default::default()
    }
}

#[test]
fn the_reference_merger_turns_63_provinces_into_34() {
    let plan = Plan::from_proto(&merger()).unwrap();
    assert_eq!(plan.id, reorganisation_id_for(PROVINCES_2025));
    assert_eq!(plan.effective, PROVINCES_2025_EFFECTIVE);
    // 11 provinces keep their office; 52 offices merge into 23 new ones.
    assert_eq!(plan.changes.len(), 23);
    let ended: usize = plan.changes.iter().map(|c| c.predecessors.len()).sum();
    assert_eq!(ended, 52);
    assert!(plan.changes.iter().all(|c| c.kind == LineageKind::Merge));
    assert_eq!(63 - ended + plan.changes.len(), 34);

    // The new 52 is Gia Lai (Gia Lai 64 + Bình Định 52), in Gia Lai's region.
    let gia_lai = plan
        .changes
        .iter()
        .find(|c| c.successors[0].1.code == "52")
        .unwrap();
    assert_eq!(gia_lai.predecessors, [office("64"), office("52")]);
    let (id, fields) = &gia_lai.successors[0];
    assert_eq!(
        *id,
        reference_unit_id_at(UnitCategory::ProvincialOffice, "52", ymd(2025, 7, 1))
    );
    assert_eq!(fields.name_vi, "Cục Thống kê Gia Lai");
    assert_eq!(fields.name_en, "Gia Lai Statistics Office");
    assert_eq!(fields.region_code.as_deref(), Some("CH"));
    assert_eq!(fields.valid_from, ymd(2025, 7, 1));
    assert_eq!(plan.links().len(), 52);
    assert!(plan.links().iter().all(|l| l.primary));
}

#[test]
fn a_plan_names_the_field_at_fault() {
    type Mutation = Box<dyn Fn(&mut v1::Reorganisation)>;
    let cases: Vec<(&str, Mutation)> = vec![
        ("reorganisation.name", Box::new(|r| r.name.clear())),
        (
            "reorganisation.name",
            Box::new(|r| r.name = "Gộp tỉnh".into()),
        ),
        ("reorganisation.id", Box::new(|r| r.id = "x".into())),
        (
            "reorganisation.effective_date",
            Box::new(|r| r.effective_date = None),
        ),
        ("reorganisation.changes", Box::new(|r| r.changes.clear())),
        (
            "reorganisation.changes[0].kind",
            Box::new(|r| r.changes[0].kind = 0),
        ),
        (
            "reorganisation.changes[0].kind",
            Box::new(|r| r.changes[0].kind = 42),
        ),
        (
            "reorganisation.changes[0].predecessor_unit_ids",
            Box::new(|r| r.changes[0].predecessor_unit_ids.truncate(1)),
        ),
        (
            "reorganisation.changes[0].predecessor_unit_ids[1]",
            Box::new(|r| r.changes[0].predecessor_unit_ids[1] = "52".into()),
        ),
        (
            "reorganisation.changes[0].successors",
            Box::new(|r| r.changes[0].successors.clear()),
        ),
        (
            "reorganisation.changes[0].successors[0].valid_from",
            Box::new(|r| {
                r.changes[0].successors[0].valid_from =
                    Some(tasknet_domain::date_to_proto(ymd(2025, 7, 2)))
            }),
        ),
        (
            "reorganisation.changes[0].successors[0].valid_to",
            Box::new(|r| {
                r.changes[0].successors[0].valid_to =
                    Some(tasknet_domain::date_to_proto(ymd(2030, 1, 1)))
            }),
        ),
        (
            "reorganisation.changes[0].successors[0].code",
            Box::new(|r| r.changes[0].successors[0].code.clear()),
        ),
        (
            "reorganisation.changes[1].predecessor_unit_ids[0]",
            Box::new(|r| {
                let again = r.changes[0].clone();
                r.changes.push(again);
            }),
        ),
        (
            "reorganisation.changes[1].successors[0].code",
            Box::new(|r| {
                let mut other = r.changes[0].clone();
                other.predecessor_unit_ids = vec![office("01"), office("04")];
                other.successors[0].id.clear();
                r.changes.push(other);
            }),
        ),
        (
            "reorganisation.changes[0].successors",
            Box::new(|r| r.changes[0].kind = LineageKind::Dissolve as i32),
        ),
    ];
    for (field, mutate) in cases {
        let mut reorganisation = merge("test", ymd(2026, 1, 1), &["64", "52"], "99");
        mutate(&mut reorganisation);
        let error = Plan::from_proto(&reorganisation).unwrap_err();
        assert_eq!(error.field, field, "{error}");
    }
}

async fn store(db: &TestDatabase) -> Store {
    let database = Database::open(db.url(), &DatabaseOptions::default(), &crate::MIGRATIONS)
        .await
        .unwrap();
    let store = Store::new(database);
    store.load_reference(None).await.unwrap();
    store
}

/// Every unit and every lineage link, to compare before and after.
async fn snapshot(store: &Store) -> (Vec<StoredUnit>, Vec<v1::LineageLink>, usize) {
    let units = store
        .list(&UnitFilter::default(), None, 10_000)
        .await
        .unwrap();
    let mut conn = store.database().pool().acquire().await.unwrap();
    let links = lineage::list_links(&mut conn, None).await.unwrap();
    let reorganisations = lineage::list_reorganisations(&mut conn)
        .await
        .unwrap()
        .len();
    (units, links, reorganisations)
}

async fn units_with_code(store: &Store, code: &str, on: NaiveDate) -> Vec<String> {
    let filter = UnitFilter {
        code: Some(code.to_owned()),
        as_of: Some(on),
        ..UnitFilter::default()
    };
    let units = store.list(&filter, None, 10).await.unwrap();
    units.into_iter().map(|unit| unit.id).collect()
}

async fn provinces_on(store: &Store, on: NaiveDate) -> usize {
    let filter = UnitFilter {
        category: Some(UnitCategory::ProvincialOffice),
        as_of: Some(on),
        ..UnitFilter::default()
    };
    store.list(&filter, None, 1000).await.unwrap().len()
}

async fn the_merger_applies_and_reused_codes_resolve_by_date(db: TestDatabase) {
    let store = store(&db).await;
    let plan = Plan::from_proto(&merger()).unwrap();
    let applied = apply(&store, &plan, false, None).await.unwrap();
    assert_eq!((applied.ended, applied.created), (52, 23));
    assert_eq!(provinces_on(&store, ymd(2025, 6, 30)).await, 63);
    assert_eq!(provinces_on(&store, ymd(2025, 7, 1)).await, 34);

    let new_gia_lai = reference_unit_id_at(UnitCategory::ProvincialOffice, "52", ymd(2025, 7, 1));
    assert_eq!(
        units_with_code(&store, "52", ymd(2025, 6, 30)).await,
        [office("52")]
    );
    assert_eq!(
        units_with_code(&store, "52", ymd(2025, 7, 1)).await,
        [new_gia_lai.as_str()]
    );
    // A retired code names nothing after the merger.
    assert!(
        units_with_code(&store, "64", ymd(2025, 7, 1))
            .await
            .is_empty()
    );
    // An unchanged province keeps its office.
    assert_eq!(
        units_with_code(&store, "01", ymd(2026, 1, 1)).await,
        [office("01")]
    );

    let binh_dinh = store.get(&office("52")).await.unwrap().unwrap();
    assert_eq!(binh_dinh.fields.valid_to, Some(ymd(2025, 6, 30)));
    assert_eq!(binh_dinh.version, 2);
    let (_, links, count) = snapshot(&store).await;
    assert_eq!((links.len(), count), (52, 1));
    let into_gia_lai: Vec<_> = links
        .iter()
        .filter(|l| l.successor_unit_id == new_gia_lai)
        .map(|l| l.predecessor_unit_id.clone())
        .collect();
    assert_eq!(into_gia_lai.len(), 2);
    assert!(into_gia_lai.contains(&office("64")) && into_gia_lai.contains(&office("52")));
}

async fn a_repeated_or_overlapping_reorganisation_changes_nothing(db: TestDatabase) {
    let store = store(&db).await;
    let plan = Plan::from_proto(&merger()).unwrap();
    apply(&store, &plan, false, None).await.unwrap();
    let before = snapshot(&store).await;

    // The same reorganisation again.
    let error = apply(&store, &plan, false, None).await.unwrap_err();
    let Error::AlreadyExists { field, message } = &error else {
        panic!("{error:?}");
    };
    assert_eq!(field, "reorganisation.name");
    assert!(
        message.contains("already applied") && message.contains("nothing was changed"),
        "{message}"
    );
    assert_eq!(snapshot(&store).await, before);

    // Another one that ends an office the merger ended already; its first
    // change (two unchanged provinces) would be fine on its own.
    let mut overlapping = merge("overlap", ymd(2026, 1, 1), &["01", "04"], "98");
    overlapping.changes.push(
        merge("x", ymd(2026, 1, 1), &["12", "52"], "97")
            .changes
            .remove(0),
    );
    let plan = Plan::from_proto(&overlapping).unwrap();
    let error = apply(&store, &plan, false, None).await.unwrap_err();
    let Error::FailedPrecondition { field, message } = &error else {
        panic!("{error:?}");
    };
    assert_eq!(field, "reorganisation.changes[1].predecessor_unit_ids[1]");
    assert!(message.contains("already ended on 2025-06-30"), "{message}");
    assert!(message.contains("vn-provinces-2025"), "{message}");
    assert_eq!(
        snapshot(&store).await,
        before,
        "the first change was rolled back"
    );

    // One that takes a code the merger gave a new office.
    let plan = Plan::from_proto(&merge("taken", ymd(2026, 1, 1), &["01", "04"], "52")).unwrap();
    let error = apply(&store, &plan, false, None).await.unwrap_err();
    let Error::AlreadyExists { field, .. } = &error else {
        panic!("{error:?}");
    };
    assert_eq!(field, "reorganisation.changes[0].successors[0].code");
    assert_eq!(snapshot(&store).await, before);
}

async fn validating_only_changes_nothing(db: TestDatabase) {
    let store = store(&db).await;
    let before = snapshot(&store).await;
    let plan = Plan::from_proto(&merger()).unwrap();
    let checked = apply(&store, &plan, true, None).await.unwrap();
    assert!(checked.validated_only);
    assert_eq!((checked.ended, checked.created), (52, 23));
    assert_eq!(snapshot(&store).await, before);
    // It can then be applied for real.
    apply(&store, &plan, false, None).await.unwrap();
    assert_eq!(provinces_on(&store, ymd(2025, 7, 1)).await, 34);
}

async fn splits_and_dissolutions_keep_lineage(db: TestDatabase) {
    let store = store(&db).await;
    let mut north = new_office("01N", "Bắc");
    north.id = uuid::Uuid::now_v7().to_string();
    let mut south = new_office("01S", "Nam");
    south.region_code = "MD".into();
    let reorganisation = v1::Reorganisation {
        name: "split-and-dissolve".into(),
        effective_date: Some(tasknet_domain::date_to_proto(ymd(2026, 1, 1))),
        changes: vec![
            v1::UnitChange {
                kind: LineageKind::Split as i32,
                predecessor_unit_ids: vec![office("01")],
                successors: vec![north.clone(), south],
            },
            v1::UnitChange {
                kind: LineageKind::Dissolve as i32,
                predecessor_unit_ids: vec![office("04")],
                successors: vec![],
            },
        ],
        ..Default::default()
    };
    let plan = Plan::from_proto(&reorganisation).unwrap();
    let applied = apply(&store, &plan, false, None).await.unwrap();
    assert_eq!((applied.ended, applied.created), (2, 2));
    let links = applied.links;
    assert_eq!(links.len(), 3);
    assert!(
        links
            .iter()
            .any(|l| l.successor_unit_id == north.id && l.primary)
    );
    assert_eq!(links.iter().filter(|l| l.primary).count(), 1);
    let dissolved = links
        .iter()
        .find(|l| l.predecessor_unit_id == office("04"))
        .unwrap();
    assert!(dissolved.successor_unit_id.is_empty());
    let (_, mut stored, _) = snapshot(&store).await;
    let mut links = links;
    let key = |l: &v1::LineageLink| (l.predecessor_unit_id.clone(), l.successor_unit_id.clone());
    stored.sort_by_key(key);
    links.sort_by_key(key);
    assert_eq!(stored, links, "the stored links are the applied ones");
}

/// A database the previous release made and filled (the reference units,
/// then the 2025 merger, which reuses codes) opens under today's migrations
/// with the same units and lineage; from then on the database itself
/// refuses two units with one code on the same day, whoever writes.
async fn a_database_of_the_previous_release_is_upgraded_in_place(db: TestDatabase) {
    let options = DatabaseOptions::default();
    let old = Store::new(
        Database::open(db.url(), &options, migrations_up_to(&crate::MIGRATIONS, 4))
            .await
            .unwrap(),
    );
    old.load_reference(None).await.unwrap();
    let plan = Plan::from_proto(&merger()).unwrap();
    apply(&old, &plan, false, None).await.unwrap();
    let before = snapshot(&old).await;
    old.database().close().await;

    let store = Store::new(
        Database::open(db.url(), &options, &crate::MIGRATIONS)
            .await
            .unwrap(),
    );
    assert_eq!(snapshot(&store).await, before, "the upgrade changed data");
    let new_gia_lai = reference_unit_id_at(UnitCategory::ProvincialOffice, "52", ymd(2025, 7, 1));
    assert_eq!(
        units_with_code(&store, "52", ymd(2025, 7, 1)).await,
        [new_gia_lai.as_str()]
    );

    // Past the service's own checks, straight to the table.
    let mut conn = store.database().pool().acquire().await.unwrap();
    let mut second_52 = store.get(&office("01")).await.unwrap().unwrap();
    second_52.id = uuid::Uuid::now_v7().to_string();
    second_52.fields.code = "52".into();
    let refused = repo::insert_unit(&mut conn, &second_52).await.unwrap_err();
    assert!(
        matches!(&refused, Error::AlreadyExists { field, .. } if field == "unit.code"),
        "{refused:?}"
    );
    // Bình Định's office made open-ended again would overlap the new Gia Lai's.
    let mut binh_dinh = store.get(&office("52")).await.unwrap().unwrap();
    binh_dinh.fields.valid_to = None;
    let refused = repo::update_unit(&mut conn, &binh_dinh).await.unwrap_err();
    assert!(
        matches!(&refused, Error::AlreadyExists { field, .. } if field == "unit.code"),
        "{refused:?}"
    );
    // The same code on days no other unit holds it is accepted.
    second_52.fields.valid_from = ymd(2000, 1, 1);
    second_52.fields.valid_to = Some(ymd(2000, 12, 31));
    repo::insert_unit(&mut conn, &second_52).await.unwrap();
    drop(conn);
    let mut expected = before.0;
    expected.push(second_52);
    let mut units = snapshot(&store).await.0;
    let by_id = |unit: &StoredUnit| unit.id.clone();
    expected.sort_by_key(by_id);
    units.sort_by_key(by_id);
    assert_eq!(units, expected, "only the accepted unit was added");
}

tasknet_storage::test_on_both_backends!(
    a_database_of_the_previous_release_is_upgraded_in_place,
    the_merger_applies_and_reused_codes_resolve_by_date,
    a_repeated_or_overlapping_reorganisation_changes_nothing,
    validating_only_changes_nothing,
    splits_and_dissolutions_keep_lineage,
);
