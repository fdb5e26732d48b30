//! Rolling per-unit counts up into the rows of a status breakdown: by unit
//! category, region or unit, in the order a report prints them, with the
//! national row and the change against the previous year.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use tasknet_domain::{category_name_en, category_name_vi};
use tasknet_proto::v1::{self, GroupBy, UnitCategory};

use crate::catalog::Catalog;
use crate::counts::{StatusCounts, change_percent};
use crate::store::UnitCounts;

/// The group key of tasks whose unit the organisation service does not know.
pub const UNKNOWN_GROUP: &str = "unknown";
/// The group key, in a breakdown by region, of units outside every region.
pub const NO_REGION_GROUP: &str = "none";

/// Where a group sorts: known groups first (by category number or code),
/// then units without a region, then unknown units.
type Rank = (u8, i64, String, String);

#[derive(Debug, Clone, Default)]
struct Group {
    key: String,
    name_vi: String,
    name_en: String,
    code: String,
    current: StatusCounts,
    previous: StatusCounts,
    /// By unit, on the current structure: earlier units counted here.
    restated: BTreeSet<String>,
    /// By unit: the unit's last day, when it has ended.
    valid_to: Option<v1::Date>,
}

impl Group {
    fn named(key: &str, name_vi: &str, name_en: &str) -> Self {
        Self {
            key: key.to_owned(),
            name_vi: name_vi.to_owned(),
            name_en: name_en.to_owned(),
            ..Self::default()
        }
    }

    fn into_row(self) -> v1::BreakdownRow {
        v1::BreakdownRow {
            group_key: self.key,
            group_name_vi: self.name_vi,
            group_name_en: self.name_en,
            group_code: self.code,
            current: Some(self.current.to_proto()),
            previous: Some(self.previous.to_proto()),
            total_change_percent: change_percent(self.current.total(), self.previous.total()),
            restated_unit_ids: self.restated.into_iter().collect(),
            group_valid_to: self.valid_to,
        }
    }
}

fn unknown_group() -> (Rank, Group) {
    let group = Group::named(UNKNOWN_GROUP, "Không xác định", "Unknown");
    ((2, 0, String::new(), UNKNOWN_GROUP.to_owned()), group)
}

fn category_group(unit: &v1::Unit) -> (Rank, Group) {
    let category = UnitCategory::try_from(unit.category).unwrap_or(UnitCategory::Unspecified);
    let key = category.as_str_name();
    let group = Group::named(key, category_name_vi(category), category_name_en(category));
    (
        (0, i64::from(category as i32), String::new(), key.to_owned()),
        group,
    )
}

fn region_group(unit: &v1::Unit, catalog: &Catalog) -> (Rank, Group) {
    let code = unit.region_code.as_str();
    if code.is_empty() {
        let group = Group::named(NO_REGION_GROUP, "Không thuộc vùng", "No region");
        return ((1, 0, String::new(), NO_REGION_GROUP.to_owned()), group);
    }
    let (name_vi, name_en) = catalog.region(code).map_or((code, code), |region| {
        (region.name_vi.as_str(), region.name_en.as_str())
    });
    let mut group = Group::named(code, name_vi, name_en);
    group.code = code.to_owned();
    ((0, 0, code.to_owned(), code.to_owned()), group)
}

fn unit_group(unit_id: &str, unit: Option<&v1::Unit>) -> (Rank, Group) {
    match unit {
        Some(unit) => {
            let mut group = Group::named(unit_id, &unit.name_vi, &unit.name_en);
            group.code = unit.code.clone();
            group.valid_to = unit.valid_to;
            ((0, 0, unit.code.clone(), unit_id.to_owned()), group)
        }
        // Each unknown unit keeps a row of its own: its id is all there is to show.
        None => {
            let group = Group::named(unit_id, "Đơn vị không xác định", "Unknown unit");
            ((2, 0, String::new(), unit_id.to_owned()), group)
        }
    }
}

/// The group a unit's tasks fall into, or `None` for the national-only breakdown.
fn group_of(group_by: GroupBy, unit_id: &str, catalog: &Catalog) -> Option<(Rank, Group)> {
    let unit = catalog.unit(unit_id);
    match (group_by, unit) {
        (GroupBy::Unspecified | GroupBy::None, _) => None,
        (GroupBy::Unit, unit) => Some(unit_group(unit_id, unit)),
        (_, None) => Some(unknown_group()),
        (GroupBy::UnitCategory, Some(unit)) => Some(category_group(unit)),
        (GroupBy::Region, Some(unit)) => Some(region_group(unit, catalog)),
    }
}

/// The key of the row a unit's tasks count in (`None` for the national-only
/// breakdown), as `BreakdownRow.group_key` shows it.
pub fn group_key(group_by: GroupBy, unit_id: &str, catalog: &Catalog) -> Option<String> {
    group_of(group_by, unit_id, catalog).map(|(_, group)| group.key)
}

/// The rows (sorted) and the national row of a breakdown. `absorbed` names,
/// per unit, the earlier units whose figures its counts include (a
/// breakdown on the current structure), listed in its row by unit.
pub fn breakdown_rows(
    group_by: GroupBy,
    current: &UnitCounts,
    previous: &UnitCounts,
    catalog: &Catalog,
    absorbed: &HashMap<String, BTreeSet<String>>,
) -> (Vec<v1::BreakdownRow>, v1::BreakdownRow) {
    let mut groups: BTreeMap<Rank, Group> = BTreeMap::new();
    let mut national = Group::named("", "Cả nước", "Nationwide");
    for (is_current, counts) in [(true, current), (false, previous)] {
        for (unit_id, unit_counts) in counts {
            let target = if is_current {
                &mut national.current
            } else {
                &mut national.previous
            };
            *target += *unit_counts;
            let Some((rank, group)) = group_of(group_by, unit_id, catalog) else {
                continue;
            };
            let group = groups.entry(rank).or_insert(group);
            if group_by == GroupBy::Unit
                && let Some(earlier) = absorbed.get(unit_id)
            {
                group.restated.extend(earlier.iter().cloned());
            }
            if is_current {
                group.current += *unit_counts;
            } else {
                group.previous += *unit_counts;
            }
        }
    }
    let rows = groups.into_values().map(Group::into_row).collect();
    (rows, national.into_row())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unit(id: &str, category: UnitCategory, code: &str, region: &str) -> v1::Unit {
        v1::Unit {
            id: id.into(),
            category: category as i32,
            code: code.into(),
            name_vi: format!("Đơn vị {code}"),
            name_en: format!("Unit {code}"),
            region_code: region.into(),
            ..Default::default()
        }
    }

    fn counts(on_time: i64, overdue: i64) -> StatusCounts {
        StatusCounts {
            completed_on_time: on_time,
            open_overdue: overdue,
            ..Default::default()
        }
    }

    #[test]
    fn groups_sort_and_unknown_units_come_last() {
        let catalog = Catalog::from_units(
            vec![
                unit("p1", UnitCategory::ProvincialOffice, "02", "NMM"),
                unit("p2", UnitCategory::ProvincialOffice, "01", "RRD"),
                unit("c1", UnitCategory::CentralDepartment, "TH", ""),
            ],
            vec![v1::Region {
                code: "RRD".into(),
                name_vi: "Đồng bằng sông Hồng".into(),
                name_en: "Red River Delta".into(),
            }],
        );
        let current: UnitCounts = [
            ("p1".to_owned(), counts(1, 1)),
            ("p2".to_owned(), counts(2, 0)),
            ("c1".to_owned(), counts(0, 3)),
            ("ghost".to_owned(), counts(1, 0)),
        ]
        .into();
        let previous: UnitCounts = [("p2".to_owned(), counts(1, 0))].into();

        let (rows, national) = breakdown_rows(
            GroupBy::UnitCategory,
            &current,
            &previous,
            &catalog,
            &HashMap::new(),
        );
        let keys: Vec<_> = rows.iter().map(|r| r.group_key.as_str()).collect();
        assert_eq!(
            keys,
            [
                "UNIT_CATEGORY_CENTRAL_DEPARTMENT",
                "UNIT_CATEGORY_PROVINCIAL_OFFICE",
                "unknown"
            ]
        );
        assert_eq!(rows[1].current.unwrap().total, 4);
        assert_eq!(rows[1].total_change_percent, Some(300.0));
        assert_eq!(rows[0].total_change_percent, None);
        assert_eq!(national.current.unwrap().total, 8);
        assert_eq!(national.previous.unwrap().total, 1);

        let (rows, _) = breakdown_rows(
            GroupBy::Region,
            &current,
            &previous,
            &catalog,
            &HashMap::new(),
        );
        let keys: Vec<_> = rows.iter().map(|r| r.group_key.as_str()).collect();
        assert_eq!(keys, ["NMM", "RRD", "none", "unknown"]);
        assert_eq!(rows[1].group_name_en, "Red River Delta");
        assert_eq!(rows[0].group_name_en, "NMM");

        let (rows, _) = breakdown_rows(
            GroupBy::Unit,
            &current,
            &previous,
            &catalog,
            &HashMap::new(),
        );
        let codes: Vec<_> = rows.iter().map(|r| r.group_code.as_str()).collect();
        assert_eq!(codes, ["01", "02", "TH", ""]);
        assert_eq!(rows[3].group_key, "ghost");

        let (rows, national) = breakdown_rows(
            GroupBy::None,
            &current,
            &previous,
            &catalog,
            &HashMap::new(),
        );
        assert!(rows.is_empty());
        assert_eq!(national.current.unwrap().open_overdue, 4);
    }
}
