//! The built-in reorganisations. `vn-provinces-2025`: from 1 July 2025 the 63
//! provinces became 34 (Resolution 202/2025/QH15), and their statistics
//! offices followed (`reference/provinces-2025-merger.csv`).
//!
//! Each new province with more than one predecessor is a MERGE into a new
//! office (a new unit id, as a merged province is a new administrative
//! unit); the 11 provinces that kept their territory keep their office
//! unchanged and are not part of the reorganisation. The new office takes
//! the name, and the socio-economic region, of the predecessor listed first
//! in the file (the province whose name the new one keeps: Gia Lai, not
//! Bình Định, for the new code 52). Its id is the reference id of its code
//! from 2025-07-01, so every machine gives it the same id.

use chrono::NaiveDate;
use serde::Deserialize;
use tasknet_proto::v1::{self, LineageKind, UnitCategory};

use crate::ascii;
use crate::error::Error;
use crate::reference::{
    HEADQUARTERS_CODE, reference_unit_id, reference_unit_id_at, reference_units,
};

const MERGER_CSV: &str = include_str!("../../../../reference/provinces-2025-merger.csv");

/// The name of the 2025 provincial merger.
pub const PROVINCES_2025: &str = "vn-provinces-2025";

/// The first day of the 34-province structure.
pub const PROVINCES_2025_EFFECTIVE: NaiveDate = match NaiveDate::from_ymd_opt(2025, 7, 1) {
    Some(date) => date,
    None => panic!("invalid constant date"),
};

/// The names [`reference_reorganisation`] knows.
pub const REFERENCE_REORGANISATIONS: &[&str] = &[PROVINCES_2025];

#[derive(Debug, Deserialize)]
struct MergerRow {
    new_code: String,
    new_name_vi: String,
    predecessor_codes: String,
}

/// One row of the merger file: the new province and its predecessors' codes
/// (2024 codes), the name-giver first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MergedProvince {
    pub new_code: String,
    pub new_name_vi: String,
    pub predecessor_codes: Vec<String>,
}

impl MergedProvince {
    /// Whether the province kept its territory (and its office).
    pub fn is_unchanged(&self) -> bool {
        self.predecessor_codes == [self.new_code.clone()]
    }
}

/// Every row of `reference/provinces-2025-merger.csv`.
pub fn provinces_2025() -> Result<Vec<MergedProvince>, Error> {
    let rows: Vec<MergerRow> = csv::Reader::from_reader(MERGER_CSV.as_bytes())
        .deserialize()
        .collect::<Result<_, _>>()
        .map_err(|e| Error::ReferenceData(format!("provinces-2025-merger.csv: {e}")))?;
    Ok(rows
        .into_iter()
        .map(|row| MergedProvince {
            new_code: row.new_code,
            new_name_vi: row.new_name_vi,
            predecessor_codes: row
                .predecessor_codes
                .split_whitespace()
                .map(str::to_owned)
                .collect(),
        })
        .collect())
}

/// The built-in reorganisation called `name`, if there is one.
pub fn reference_reorganisation(name: &str) -> Result<Option<v1::Reorganisation>, Error> {
    match name {
        PROVINCES_2025 => provinces_2025_reorganisation().map(Some),
        _ => Ok(None),
    }
}

fn provinces_2025_reorganisation() -> Result<v1::Reorganisation, Error> {
    let units = reference_units()?;
    let office = |code: &str| {
        let id = reference_unit_id(UnitCategory::ProvincialOffice, code);
        units
            .iter()
            .find(|unit| unit.id == id)
            .ok_or_else(|| Error::ReferenceData(format!("merger: no 2024 province {code}")))
    };
    let headquarters = reference_unit_id(UnitCategory::Headquarters, HEADQUARTERS_CODE);
    let mut changes = Vec::new();
    for province in provinces_2025()?.iter().filter(|p| !p.is_unchanged()) {
        let predecessors = province
            .predecessor_codes
            .iter()
            .map(|code| office(code).map(|unit| unit.id.clone()))
            .collect::<Result<Vec<_>, _>>()?;
        let name_giver = office(&province.predecessor_codes[0])?;
        let category = UnitCategory::ProvincialOffice;
        let successor = v1::Unit {
            id: reference_unit_id_at(category, &province.new_code, PROVINCES_2025_EFFECTIVE),
            category: category as i32,
            parent_id: headquarters.clone(),
            code: province.new_code.clone(),
            name_vi: format!("Cục Thống kê {}", province.new_name_vi),
            name_en: format!("{} Statistics Office", ascii::fold(&province.new_name_vi)),
            region_code: name_giver.region_code.clone(),
            ..Default::default()
        };
        let kind = if predecessors.len() > 1 {
            LineageKind::Merge
        } else {
            LineageKind::Rename
        };
        changes.push(v1::UnitChange {
            kind: kind as i32,
            predecessor_unit_ids: predecessors,
            successors: vec![successor],
        });
    }
    Ok(v1::Reorganisation {
        id: String::new(),
        name: PROVINCES_2025.to_owned(),
        description: "Sắp xếp đơn vị hành chính cấp tỉnh năm 2025 (Nghị quyết 202/2025/QH15): \
                      63 tỉnh, thành phố thành 34 từ ngày 1/7/2025; các Cục Thống kê hợp nhất theo. \
                      The 2025 provincial merger: 63 provinces became 34 on 1 July 2025, and their \
                      statistics offices merged with them."
            .to_owned(),
        effective_date: Some(tasknet_domain::date_to_proto(PROVINCES_2025_EFFECTIVE)),
        changes,
        apply_time: None,
    })
}
