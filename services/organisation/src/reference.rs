//! The built-in reference data: the statistics headquarters (GSO), its
//! central departments and public service units, the 63 provincial
//! statistics offices of 2008–2025, and the six socio-economic regions.
//!
//! The data files live in the repository's top-level `reference/` directory
//! and are compiled in, so `tasknet up` needs no files at run time. Ids are
//! UUIDv5 of a fixed namespace and a name built from category, code and
//! valid-from date: every machine, and every load, gives a unit the same id,
//! and a code reused by a later unit (52 is Gia Lai from 1 July 2025) gets a
//! different id because its valid-from date differs.

use chrono::NaiveDate;
use serde::Deserialize;
use tasknet_proto::v1::{self, UnitCategory};
use uuid::Uuid;

use crate::ascii;
use crate::error::Error;

const CENTRAL_UNITS_CSV: &str = include_str!("../../../reference/central-units.csv");
const PROVINCES_2024_CSV: &str = include_str!("../../../reference/provinces-2024.csv");

/// Namespace of reference-unit ids. Fixed forever: changing it changes every id.
pub const REFERENCE_NAMESPACE: Uuid = Uuid::from_u128(0x5f1c_2a8e_4b7d_4e39_9a61_0c3e_7d2b_8f40);

/// Code of the headquarters, the root of the reference hierarchy.
pub const HEADQUARTERS_CODE: &str = "TCTK";

/// Start of validity of the headquarters and its central units. The data
/// describes their structure as it stood in 2023–2024 (the departments of
/// Decision 10/2020/QĐ-TTg); their earlier history is not recorded, so they
/// get a conventional date before any period the system reports on, and
/// before the provincial offices (a parent should exist before its children).
/// Reorganisation history, when added, records real dates as events.
pub const CENTRAL_VALID_FROM: NaiveDate = date(2008, 1, 1);

/// Start of validity of the 63 provincial offices: the 63-province
/// structure dates from Hà Tây's merger into Hà Nội on 1 August 2008.
pub const PROVINCES_VALID_FROM: NaiveDate = date(2008, 8, 1);

const fn date(year: i32, month: u32, day: u32) -> NaiveDate {
    match NaiveDate::from_ymd_opt(year, month, day) {
        Some(date) => date,
        None => panic!("invalid constant date"),
    }
}

#[derive(Debug, Deserialize)]
struct CentralRow {
    code: String,
    category: String,
    parent_code: String,
    name_vi: String,
    name_en: String,
}

#[derive(Debug, Deserialize)]
struct ProvinceRow {
    code: String,
    name_vi: String,
    region_code: String,
    region_vi: String,
    region_en: String,
}

/// The deterministic id of the unit of `category` and `code` that became
/// valid on `valid_from`.
pub fn reference_unit_id_at(category: UnitCategory, code: &str, valid_from: NaiveDate) -> String {
    let category = category.as_str_name().trim_start_matches("UNIT_CATEGORY_");
    let name = format!("unit:{category}:{code}:{}", valid_from.format("%Y-%m-%d"));
    Uuid::new_v5(&REFERENCE_NAMESPACE, name.as_bytes())
        .hyphenated()
        .to_string()
}

/// The id of a unit of the built-in (2024) reference set, e.g.
/// `reference_unit_id(UnitCategory::ProvincialOffice, "01")` for Hà Nội's office.
pub fn reference_unit_id(category: UnitCategory, code: &str) -> String {
    let valid_from = match category {
        UnitCategory::ProvincialOffice => PROVINCES_VALID_FROM,
        _ => CENTRAL_VALID_FROM,
    };
    reference_unit_id_at(category, code, valid_from)
}

/// Every reference unit, parents before children (headquarters first).
pub fn reference_units() -> Result<Vec<v1::Unit>, Error> {
    let mut units = central_units()?;
    let headquarters = reference_unit_id(UnitCategory::Headquarters, HEADQUARTERS_CODE);
    if !units.iter().any(|unit| unit.id == headquarters) {
        return Err(Error::ReferenceData(format!("no {HEADQUARTERS_CODE} row")));
    }
    for row in rows::<ProvinceRow>("provinces-2024.csv", PROVINCES_2024_CSV)? {
        let category = UnitCategory::ProvincialOffice;
        units.push(v1::Unit {
            id: reference_unit_id(category, &row.code),
            category: category as i32,
            parent_id: headquarters.clone(),
            name_vi: format!("Cục Thống kê {}", row.name_vi),
            name_en: format!("{} Statistics Office", ascii::fold(&row.name_vi)),
            region_code: row.region_code,
            valid_from: Some(tasknet_domain::date_to_proto(PROVINCES_VALID_FROM)),
            code: row.code,
            ..Default::default()
        });
    }
    Ok(units)
}

/// The socio-economic regions of the provinces file, by code.
pub fn reference_regions() -> Result<Vec<v1::Region>, Error> {
    let mut regions: Vec<v1::Region> = Vec::new();
    for row in rows::<ProvinceRow>("provinces-2024.csv", PROVINCES_2024_CSV)? {
        let region = v1::Region {
            code: row.region_code,
            name_vi: row.region_vi,
            name_en: row.region_en,
        };
        match regions.iter().find(|known| known.code == region.code) {
            None => regions.push(region),
            Some(known) if *known == region => {}
            Some(_) => {
                return Err(Error::ReferenceData(format!(
                    "region {} has two names",
                    region.code
                )));
            }
        }
    }
    regions.sort_by(|a, b| a.code.cmp(&b.code));
    Ok(regions)
}

fn central_units() -> Result<Vec<v1::Unit>, Error> {
    let mut units: Vec<v1::Unit> = Vec::new();
    for row in rows::<CentralRow>("central-units.csv", CENTRAL_UNITS_CSV)? {
        let category = UnitCategory::from_str_name(&format!("UNIT_CATEGORY_{}", row.category))
            .ok_or_else(|| Error::ReferenceData(format!("unknown category {}", row.category)))?;
        // Parents come first in the file, so the parent is already in `units`.
        let parent_id = if row.parent_code.is_empty() {
            String::new()
        } else {
            units
                .iter()
                .find(|unit| unit.code == row.parent_code)
                .map(|unit| unit.id.clone())
                .ok_or_else(|| {
                    Error::ReferenceData(format!(
                        "{}: parent {} not above it",
                        row.code, row.parent_code
                    ))
                })?
        };
        units.push(v1::Unit {
            id: reference_unit_id(category, &row.code),
            category: category as i32,
            parent_id,
            code: row.code,
            name_vi: row.name_vi,
            name_en: row.name_en,
            valid_from: Some(tasknet_domain::date_to_proto(CENTRAL_VALID_FROM)),
            ..Default::default()
        });
    }
    Ok(units)
}

fn rows<T: serde::de::DeserializeOwned>(file: &str, text: &str) -> Result<Vec<T>, Error> {
    csv::Reader::from_reader(text.as_bytes())
        .deserialize()
        .collect::<Result<Vec<T>, _>>()
        .map_err(|error| Error::ReferenceData(format!("{file}: {error}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn the_reference_set_is_complete_and_well_formed() {
        let units = reference_units().unwrap();
        let count = |category: UnitCategory| {
            units
                .iter()
                .filter(|u| u.category == category as i32)
                .count()
        };
        assert_eq!(count(UnitCategory::Headquarters), 1);
        assert_eq!(count(UnitCategory::CentralDepartment), 14);
        assert!(count(UnitCategory::PublicServiceUnit) >= 4);
        assert_eq!(count(UnitCategory::ProvincialOffice), 63);

        let ids: HashSet<_> = units.iter().map(|u| u.id.as_str()).collect();
        let codes: HashSet<_> = units.iter().map(|u| u.code.as_str()).collect();
        assert_eq!(ids.len(), units.len());
        assert_eq!(codes.len(), units.len());
        for unit in &units {
            crate::model::fields_from_proto("unit", unit).unwrap();
            assert!(unit.name_en.is_ascii(), "{}", unit.name_en);
        }
        // Parents come before their children, so the units load in order.
        let mut seen = HashSet::new();
        for unit in &units {
            assert!(unit.parent_id.is_empty() || seen.contains(unit.parent_id.as_str()));
            seen.insert(unit.id.as_str());
        }
    }

    #[test]
    fn provincial_offices_are_named_from_the_provinces_file() {
        let units = reference_units().unwrap();
        let hanoi = units.iter().find(|u| u.code == "01").unwrap();
        assert_eq!(hanoi.name_vi, "Cục Thống kê Hà Nội");
        assert_eq!(hanoi.name_en, "Ha Noi Statistics Office");
        assert_eq!(hanoi.region_code, "RRD");
        assert_eq!(
            hanoi.id,
            reference_unit_id(UnitCategory::ProvincialOffice, "01")
        );
        assert_eq!(
            hanoi.parent_id,
            reference_unit_id(UnitCategory::Headquarters, HEADQUARTERS_CODE)
        );
    }

    #[test]
    fn ids_are_deterministic_and_distinguish_reused_codes() {
        let id = reference_unit_id(UnitCategory::ProvincialOffice, "52");
        assert_eq!(id, reference_unit_id(UnitCategory::ProvincialOffice, "52"));
        // Pinned: ids are stored by every service; they must never change.
        // (The values are uuid5 of the namespace and the name, computed independently.)
        assert_eq!(id, "acd1605d-98e4-5dac-8909-92592388db6d");
        assert_eq!(
            reference_unit_id(UnitCategory::Headquarters, HEADQUARTERS_CODE),
            "f4060245-174e-5d76-b579-81ec2273e6c4"
        );
        assert_eq!(
            reference_unit_id(UnitCategory::ProvincialOffice, "01"),
            "0fd59ec0-bc66-50e6-9697-430a745c0884"
        );
        let gia_lai_2025 =
            reference_unit_id_at(UnitCategory::ProvincialOffice, "52", date(2025, 7, 1));
        assert_ne!(id, gia_lai_2025);
    }

    #[test]
    fn regions_come_from_the_provinces_file() {
        let regions = reference_regions().unwrap();
        let codes: Vec<_> = regions.iter().map(|r| r.code.as_str()).collect();
        assert_eq!(codes, ["CH", "MD", "NCC", "NMM", "RRD", "SE"]);
        let units = reference_units().unwrap();
        for unit in units.iter().filter(|u| !u.region_code.is_empty()) {
            assert!(codes.contains(&unit.region_code.as_str()));
        }
    }
}
