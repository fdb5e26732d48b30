//! The continuation across the 2025 merger: every half-year's targets met
//! exactly (counted independently by `expected_breakdown`), the same bytes
//! every time, tasks before the merger only for the 63 offices and after it
//! only for the 34.
// A test crate: a panic is how a test reports failure.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashSet;
use std::sync::OnceLock;

use chrono::NaiveDate;
use tasknet_demo::{ContinuationSpec, DemoDataset, expected_breakdown, generate_continuation};
use tasknet_domain::{date_from_proto, date_to_proto};
use tasknet_organisation::reference::reference_units;
use tasknet_organisation::reorganisation::reference::{PROVINCES_2025, reference_reorganisation};
use tasknet_proto::v1::{self, UnitCategory};

fn ymd(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap()
}

/// The units as ListUnits returns them once the merger is applied.
fn units() -> &'static [v1::Unit] {
    static UNITS: OnceLock<Vec<v1::Unit>> = OnceLock::new();
    UNITS.get_or_init(|| {
        let merger = reference_reorganisation(PROVINCES_2025).unwrap().unwrap();
        let ended: HashSet<String> = merger
            .changes
            .iter()
            .flat_map(|c| c.predecessor_unit_ids.clone())
            .collect();
        let mut units = reference_units().unwrap();
        for unit in &mut units {
            if ended.contains(&unit.id) {
                unit.valid_to = Some(date_to_proto(ymd(2025, 6, 30)));
            }
        }
        for change in merger.changes {
            for mut successor in change.successors {
                successor.valid_from = Some(date_to_proto(ymd(2025, 7, 1)));
                units.push(successor);
            }
        }
        units
    })
}

fn small() -> &'static DemoDataset {
    static DATASET: OnceLock<DemoDataset> = OnceLock::new();
    DATASET.get_or_init(|| generate_continuation(&ContinuationSpec::small(), units()).unwrap())
}

fn assert_meets_spec(spec: &ContinuationSpec, dataset: &DemoDataset) {
    assert_eq!(dataset.tasks.len() as u64, spec.task_count());
    for half in &spec.halves {
        let counts = expected_breakdown(dataset, units(), half.period, half.as_of()).unwrap();
        for category in [
            UnitCategory::CentralDepartment,
            UnitCategory::PublicServiceUnit,
            UnitCategory::ProvincialOffice,
        ] {
            let got = counts
                .by_category
                .get(&category)
                .copied()
                .unwrap_or_default();
            assert_eq!(
                got,
                half.category(category),
                "{:?} {category:?}",
                half.period
            );
        }
    }
}

#[test]
fn every_half_year_meets_its_targets() {
    assert_meets_spec(&ContinuationSpec::small(), small());
    let full = generate_continuation(&ContinuationSpec::full(), units()).unwrap();
    assert_meets_spec(&ContinuationSpec::full(), &full);
}

#[test]
fn the_same_spec_gives_the_same_bytes() {
    let mut shuffled = units().to_vec();
    shuffled.reverse();
    let again = generate_continuation(&ContinuationSpec::small(), &shuffled).unwrap();
    assert_eq!(again.encode(), small().encode());
}

#[test]
fn offices_get_tasks_only_while_they_exist() {
    let by_id: std::collections::HashMap<&str, &v1::Unit> =
        units().iter().map(|u| (u.id.as_str(), u)).collect();
    let mut before = HashSet::new();
    let mut after = HashSet::new();
    for task in &small().tasks {
        let new_task = task.create.task.as_ref().unwrap();
        let unit = by_id[new_task.assignee_unit_id.as_str()];
        if unit.category != UnitCategory::ProvincialOffice as i32 {
            continue;
        }
        let assigned = date_from_proto("", new_task.assigned_date.as_ref()).unwrap();
        if assigned < ymd(2025, 7, 1) {
            assert!(unit.valid_from.unwrap().year < 2025, "{unit:?}");
            before.insert(unit.id.clone());
        } else {
            assert!(unit.valid_to.is_none(), "{unit:?}");
            after.insert(unit.id.clone());
        }
    }
    assert_eq!(before.len(), 63);
    assert_eq!(after.len(), 34);
}
