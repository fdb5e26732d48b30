//! Reports across a merger, on both back ends: tasks reassigned by a
//! reorganisation count under the unit holding them on each as-of date
//! (historical basis), or under the units in force on the report's as-of
//! date with the year before restated (current basis). Offices A and B merge
//! into M on 2025-07-01; C is untouched.

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::NaiveDate;
use tasknet_domain::date_to_proto;
use tasknet_proto::v1::{self, GroupBy, ReportBasis, TaskEventKind};
use tasknet_storage::testing::TestDatabase;
use tokio::sync::watch;

use super::{TaskSpec, created, open, updated, ymd};
use crate::catalog::Catalog;
use crate::reports::Reports;

fn unit(id: &str, code: &str, region: &str, valid_to: Option<NaiveDate>) -> v1::Unit {
    v1::Unit {
        id: id.into(),
        category: v1::UnitCategory::ProvincialOffice as i32,
        code: code.into(),
        name_vi: format!("Cục Thống kê {code}"),
        region_code: region.into(),
        valid_to: valid_to.map(date_to_proto),
        ..Default::default()
    }
}

pub(super) fn catalog() -> Catalog {
    let ended = Some(ymd(2025, 6, 30));
    let units = vec![
        unit("a", "52", "NCC", ended),
        unit("b", "64", "CH", ended),
        unit("m", "52", "CH", None),
        unit("c", "01", "RRD", None),
    ];
    let link = |from: &str| v1::LineageLink {
        predecessor_unit_id: from.into(),
        successor_unit_id: "m".into(),
        effective_date: Some(date_to_proto(ymd(2025, 7, 1))),
        kind: v1::LineageKind::Merge as i32,
        reorganisation_id: "r".into(),
        primary: true,
    };
    let links = vec![link("a"), link("b")];
    Catalog::from_units(units, Vec::new()).with_lineage(std::sync::Arc::new(links))
}

fn task(id: &str, assignee: &str, assigned: NaiveDate, deadline: NaiveDate) -> TaskSpec {
    TaskSpec {
        id: id.into(),
        assignee: assignee.into(),
        assigned,
        deadline,
        plans: Vec::new(),
    }
}

fn reassigned(cursor: i64, task: &TaskSpec, to: &str) -> v1::Change {
    let mut moved = task.clone();
    moved.assignee = to.into();
    let mut change = updated(
        cursor,
        &moved,
        TaskEventKind::Reassigned,
        ymd(2025, 7, 1),
        None,
    );
    if let Some(v1::change::Event::TaskEvent(event)) = &mut change.event {
        event.previous_assignee_unit_id = task.assignee.clone();
        event.reorganisation_id = "r".into();
    }
    change
}

/// The log: t1 (B) done in 2024; t2 (A) open until after the merger, passed
/// to M and done there; t3 (M) new in 2025; t4, t5 (C); t6 (A) done before
/// the merger, so it stays with A.
pub(super) fn changes() -> Vec<v1::Change> {
    let t1 = task("t1", "b", ymd(2024, 8, 1), ymd(2024, 8, 30));
    let t2 = task("t2", "a", ymd(2024, 9, 2), ymd(2024, 10, 1));
    let t3 = task("t3", "m", ymd(2025, 8, 1), ymd(2026, 1, 30));
    let t4 = task("t4", "c", ymd(2024, 10, 1), ymd(2024, 10, 30));
    let t5 = task("t5", "c", ymd(2025, 10, 1), ymd(2025, 10, 30));
    let t6 = task("t6", "a", ymd(2025, 6, 1), ymd(2025, 6, 30));
    vec![
        created(1, &t1),
        updated(2, &t1, TaskEventKind::Completed, ymd(2024, 8, 20), None),
        created(3, &t2),
        created(4, &t4),
        created(5, &t6),
        updated(6, &t6, TaskEventKind::Completed, ymd(2025, 6, 20), None),
        reassigned(7, &t2, "m"),
        updated(
            8,
            &task("t2", "m", ymd(2024, 9, 2), ymd(2024, 10, 1)),
            TaskEventKind::Completed,
            ymd(2025, 8, 10),
            None,
        ),
        created(9, &t3),
        created(10, &t5),
    ]
}

/// (unit or group key) -> (current total, previous total).
type Totals = BTreeMap<String, (i64, i64)>;

async fn breakdown(
    reports: &Reports<Catalog>,
    period: &str,
    as_of: NaiveDate,
    group_by: GroupBy,
    basis: ReportBasis,
) -> (Totals, v1::StatusBreakdownResponse) {
    let request = v1::StatusBreakdownRequest {
        period: Some(v1::Period {
            kind: Some(v1::period::Kind::Label(period.into())),
        }),
        as_of: Some(date_to_proto(as_of)),
        group_by: group_by as i32,
        min_cursor: 0,
        basis: basis as i32,
    };
    let response = reports
        .status_breakdown(&request, Duration::from_secs(1))
        .await
        .unwrap();
    let totals = response
        .rows
        .iter()
        .map(|row| {
            let total = |c: &Option<v1::StatusCounts>| c.as_ref().map_or(0, |c| c.total);
            (
                row.group_key.clone(),
                (total(&row.current), total(&row.previous)),
            )
        })
        .collect();
    (totals, response)
}

fn totals(rows: &[(&str, i64, i64)]) -> Totals {
    rows.iter()
        .map(|(key, now, before)| ((*key).to_owned(), (*now, *before)))
        .collect()
}

async fn reports_restate_a_merger_on_either_basis(db: TestDatabase) {
    let store = open(&db).await;
    store.apply_batch(&changes()).await.unwrap();
    let (_, applied) = watch::channel(10);
    let reports = Reports::new(store.clone(), catalog(), applied);
    let end = ymd(2025, 12, 31);

    // H2 2025 against H2 2024, by unit.
    let (historical, response) = breakdown(
        &reports,
        "2025-H2",
        end,
        GroupBy::Unit,
        ReportBasis::HistoricalStructure,
    )
    .await;
    assert_eq!(
        historical,
        totals(&[("a", 0, 1), ("b", 0, 1), ("c", 1, 1), ("m", 1, 0)])
    );
    assert_eq!(response.basis, ReportBasis::HistoricalStructure as i32);
    assert_eq!(response.structure_date, None);
    let a_row = response.rows.iter().find(|r| r.group_key == "a").unwrap();
    assert_eq!(a_row.group_valid_to, Some(date_to_proto(ymd(2025, 6, 30))));
    let (current, response) = breakdown(
        &reports,
        "2025-H2",
        end,
        GroupBy::Unit,
        ReportBasis::CurrentStructure,
    )
    .await;
    assert_eq!(current, totals(&[("c", 1, 1), ("m", 1, 2)]));
    assert_eq!(response.basis, ReportBasis::CurrentStructure as i32);
    assert_eq!(response.structure_date, Some(date_to_proto(end)));
    let m_row = response.rows.iter().find(|r| r.group_key == "m").unwrap();
    assert_eq!(m_row.restated_unit_ids, ["a", "b"]);
    assert_eq!(m_row.total_change_percent, Some(-50.0));
    // Unspecified is the current structure; national totals agree.
    let (unspecified, national) = breakdown(
        &reports,
        "2025-H2",
        end,
        GroupBy::Unit,
        ReportBasis::Unspecified,
    )
    .await;
    assert_eq!(unspecified, current);
    assert_eq!(national.national.unwrap().current.unwrap().total, 2);

    // By region the merger moves B's figures into M's region on the current basis.
    let (by_region, _) = breakdown(
        &reports,
        "2025-H2",
        end,
        GroupBy::Region,
        ReportBasis::HistoricalStructure,
    )
    .await;
    assert_eq!(
        by_region,
        totals(&[("CH", 1, 1), ("NCC", 0, 1), ("RRD", 1, 1)])
    );
    let (by_region, _) = breakdown(
        &reports,
        "2025-H2",
        end,
        GroupBy::Region,
        ReportBasis::CurrentStructure,
    )
    .await;
    assert_eq!(by_region, totals(&[("CH", 1, 2), ("RRD", 1, 1)]));

    // The 2024 tasks seen from the end of 2025: t2 was passed to M and done
    // there; t1 stays with B, which completed it.
    let (later, _) = breakdown(
        &reports,
        "2024-H2",
        end,
        GroupBy::Unit,
        ReportBasis::HistoricalStructure,
    )
    .await;
    assert_eq!(later, totals(&[("b", 1, 0), ("c", 1, 0), ("m", 1, 0)]));
    // Before the merger t2 was A's.
    let (before, _) = breakdown(
        &reports,
        "2024-H2",
        ymd(2025, 6, 30),
        GroupBy::Unit,
        ReportBasis::HistoricalStructure,
    )
    .await;
    assert_eq!(before, totals(&[("a", 1, 0), ("b", 1, 0), ("c", 1, 0)]));
    // On the structure of 30 June 2025, nothing is restated yet.
    let (structure_then, _) = breakdown(
        &reports,
        "2024-H2",
        ymd(2025, 6, 30),
        GroupBy::Unit,
        ReportBasis::CurrentStructure,
    )
    .await;
    assert_eq!(structure_then, before);
    // t6 was completed by A before the merger and stays A's.
    let (h1, _) = breakdown(
        &reports,
        "2025-H1",
        end,
        GroupBy::Unit,
        ReportBasis::HistoricalStructure,
    )
    .await;
    assert_eq!(h1, totals(&[("a", 1, 0)]));

    // Re-applying the same changes (a re-delivery) changes nothing.
    store.apply_batch(&changes()).await.unwrap();
    let (again, _) = breakdown(
        &reports,
        "2025-H2",
        end,
        GroupBy::Unit,
        ReportBasis::HistoricalStructure,
    )
    .await;
    assert_eq!(again, historical);
}

async fn a_reassignment_applied_in_a_later_batch_resplits_segments(db: TestDatabase) {
    let store = open(&db).await;
    let all = changes();
    // Each change in a batch of its own: the reassignment meets stored segments.
    for change in &all {
        store
            .apply_batch(std::slice::from_ref(change))
            .await
            .unwrap();
    }
    let (_, applied) = watch::channel(10);
    let reports = Reports::new(store.clone(), catalog(), applied);
    let (later, _) = breakdown(
        &reports,
        "2024-H2",
        ymd(2025, 12, 31),
        GroupBy::Unit,
        ReportBasis::HistoricalStructure,
    )
    .await;
    assert_eq!(later, totals(&[("b", 1, 0), ("c", 1, 0), ("m", 1, 0)]));
    let (before, _) = breakdown(
        &reports,
        "2024-H2",
        ymd(2025, 6, 30),
        GroupBy::Unit,
        ReportBasis::HistoricalStructure,
    )
    .await;
    assert_eq!(before, totals(&[("a", 1, 0), ("b", 1, 0), ("c", 1, 0)]));
}

tasknet_storage::test_on_both_backends!(
    reports_restate_a_merger_on_either_basis,
    a_reassignment_applied_in_a_later_batch_resplits_segments,
);
