//! The two bases a report can be stated on. Historical: each task under the
//! unit that held it on the period's as-of date. Current: the same counts
//! restated for the units in force on the report's as-of date, every earlier
//! unit's figures added to its (primary) successor's, following lineage
//! through as many reorganisations as there were.

use std::collections::{BTreeSet, HashMap};

use chrono::NaiveDate;
use tasknet_domain::{FieldError, optional_date_from_proto};
use tasknet_proto::v1::{self, ReportBasis};

use crate::store::UnitCounts;

/// The basis a request asks for; unspecified means the current structure.
pub fn parse(field: &str, value: i32) -> Result<ReportBasis, FieldError> {
    match ReportBasis::try_from(value) {
        Ok(ReportBasis::Unspecified) => Ok(ReportBasis::CurrentStructure),
        Ok(basis) => Ok(basis),
        Err(_) => Err(FieldError::new(
            field,
            format!("{value} is not a report basis"),
        )),
    }
}

/// Where each unit's figures go on the current structure of one day.
#[derive(Debug, Default)]
pub struct Restatement {
    /// Primary successor links by predecessor, with their effective dates.
    successors: HashMap<String, Vec<(NaiveDate, String)>>,
    day: Option<NaiveDate>,
}

impl Restatement {
    /// The structure in force on `day`, from lineage `links`.
    pub fn on(day: NaiveDate, links: &[v1::LineageLink]) -> Self {
        let mut successors: HashMap<String, Vec<(NaiveDate, String)>> = HashMap::new();
        for link in links
            .iter()
            .filter(|l| l.primary && !l.successor_unit_id.is_empty())
        {
            let Ok(Some(effective)) = optional_date_from_proto("", link.effective_date.as_ref())
            else {
                continue;
            };
            successors
                .entry(link.predecessor_unit_id.clone())
                .or_default()
                .push((effective, link.successor_unit_id.clone()));
        }
        for list in successors.values_mut() {
            list.sort();
        }
        Self {
            successors,
            day: Some(day),
        }
    }

    /// The unit `unit_id`'s figures belong to on the day: itself while it
    /// has no successor in force by then, else its successor's unit. A unit
    /// dissolved without successor stays itself.
    pub fn unit_for<'a>(&'a self, unit_id: &'a str) -> &'a str {
        let Some(day) = self.day else { return unit_id };
        let mut unit = unit_id;
        // Lineage is acyclic by construction (successors are new units);
        // the bound guards against a corrupt store all the same.
        for _ in 0..64 {
            let next = self
                .successors
                .get(unit)
                .and_then(|list| list.iter().find(|(effective, _)| *effective <= day));
            match next {
                Some((_, successor)) => unit = successor,
                None => break,
            }
        }
        unit
    }

    /// `counts` restated: summed per unit in force, and, per unit in force,
    /// the earlier units whose figures it took.
    pub fn restate(
        &self,
        counts: UnitCounts,
        absorbed: &mut HashMap<String, BTreeSet<String>>,
    ) -> UnitCounts {
        let mut restated = UnitCounts::new();
        for (unit, unit_counts) in counts {
            let target = self.unit_for(&unit).to_owned();
            if target != unit {
                absorbed.entry(target.clone()).or_default().insert(unit);
            }
            *restated.entry(target).or_default() += unit_counts;
        }
        restated
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::counts::StatusCounts;

    fn link(from: &str, to: &str, year: i32, primary: bool) -> v1::LineageLink {
        v1::LineageLink {
            predecessor_unit_id: from.into(),
            successor_unit_id: to.into(),
            effective_date: Some(v1::Date {
                year,
                month: 7,
                day: 1,
            }),
            primary,
            ..Default::default()
        }
    }

    fn counts(total: i64) -> StatusCounts {
        StatusCounts {
            completed_on_time: total,
            ..Default::default()
        }
    }

    #[test]
    fn figures_follow_primary_successors_in_force_on_the_day() {
        let links = [
            link("binh-dinh", "gia-lai-2025", 2025, true),
            link("gia-lai", "gia-lai-2025", 2025, true),
            link("gia-lai-2025", "tay-nguyen", 2030, true),
            link("split", "north", 2025, true),
            link("split", "south", 2025, false),
            link("gone", "", 2025, false),
        ];
        let in_2026 = Restatement::on(NaiveDate::from_ymd_opt(2026, 1, 1).unwrap(), &links);
        assert_eq!(in_2026.unit_for("binh-dinh"), "gia-lai-2025");
        assert_eq!(in_2026.unit_for("split"), "north");
        assert_eq!(in_2026.unit_for("gone"), "gone");
        assert_eq!(in_2026.unit_for("ha-noi"), "ha-noi");
        let in_2031 = Restatement::on(NaiveDate::from_ymd_opt(2031, 1, 1).unwrap(), &links);
        assert_eq!(in_2031.unit_for("binh-dinh"), "tay-nguyen");
        let in_2024 = Restatement::on(NaiveDate::from_ymd_opt(2024, 12, 31).unwrap(), &links);
        assert_eq!(in_2024.unit_for("binh-dinh"), "binh-dinh");

        let mut absorbed = HashMap::new();
        let before: UnitCounts = [
            ("binh-dinh".to_owned(), counts(3)),
            ("gia-lai".to_owned(), counts(4)),
            ("ha-noi".to_owned(), counts(5)),
        ]
        .into();
        let after = in_2026.restate(before, &mut absorbed);
        assert_eq!(after["gia-lai-2025"].total(), 7);
        assert_eq!(after["ha-noi"].total(), 5);
        assert_eq!(after.len(), 2);
        assert_eq!(absorbed["gia-lai-2025"].len(), 2);
    }

    #[test]
    fn unspecified_means_current() {
        assert_eq!(parse("basis", 0).unwrap(), ReportBasis::CurrentStructure);
        assert_eq!(parse("basis", 2).unwrap(), ReportBasis::HistoricalStructure);
        assert_eq!(parse("basis", 9).unwrap_err().field, "basis");
    }
}
