//! The demo's continuation across the 2025 provincial merger: the tasks of
//! the second half of 2024 and the first half of 2025 for the 63 provincial
//! offices (and the central units), then, after the merger of 1 July 2025,
//! those of the second half of 2025 for the 34 offices in force. Deterministic
//! like the seed data set (its own fixed seed, [`CONTINUATION_SEED`]), and
//! counted independently by `expected_breakdown` for each half-year.
//!
//! Smaller than the seed's half-years (about a third), so that `tasknet up
//! --demo` stays quick; the shape (status classes, as-of cases, spread over
//! provinces by population) is the seed's.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use tasknet_domain::{DatePeriod, StatusClass, date_to_proto, optional_date_from_proto};
use tasknet_proto::v1::{self, UnitCategory};

use crate::apportion::apportion;
use crate::generate::{DemoDataset, DemoError, DemoTask, build_requests, headquarters, units_of};
use crate::population::province_populations;
use crate::scenario::{Window, scenario};
use crate::spec::ClassCounts;
use crate::titles;

/// The continuation's seed: the day the 34-province structure took effect.
pub const CONTINUATION_SEED: u64 = 20_250_701;

/// The first day after the merger.
pub fn merger_date() -> NaiveDate {
    NaiveDate::from_ymd_opt(2025, 7, 1).unwrap_or_default()
}

/// `reference/provinces-2025-merger.csv`: each 2025 province and the 2024
/// provinces it was made of.
const MERGER_CSV: &str = include_str!("../../../reference/provinces-2025-merger.csv");

/// 2025 code -> the 2024 codes of its provinces (the name-giver first).
pub fn provinces_2025() -> BTreeMap<&'static str, Vec<&'static str>> {
    MERGER_CSV
        .lines()
        .skip(1)
        .filter_map(|line| {
            let mut fields = line.split(',');
            let code = fields.next()?;
            let predecessors = fields.nth(2)?.split_whitespace().collect();
            Some((code, predecessors))
        })
        .collect()
}

/// The tasks assigned in one half-year, per unit category, by their class
/// as of the half-year's last day.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HalfSpec {
    pub period: DatePeriod,
    pub central: ClassCounts,
    pub public_service: ClassCounts,
    pub provincial: ClassCounts,
}

impl HalfSpec {
    pub fn as_of(&self) -> NaiveDate {
        self.period.end
    }

    pub fn category(&self, category: UnitCategory) -> ClassCounts {
        match category {
            UnitCategory::CentralDepartment => self.central,
            UnitCategory::PublicServiceUnit => self.public_service,
            UnitCategory::ProvincialOffice => self.provincial,
            _ => ClassCounts::default(),
        }
    }
}

/// The continuation's targets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContinuationSpec {
    pub seed: u64,
    pub halves: Vec<HalfSpec>,
    /// Percent of provincial offices' tasks assigned by headquarters.
    pub provincial_from_headquarters_percent: u32,
}

fn half(
    label: &str,
    central: ClassCounts,
    public: ClassCounts,
    provincial: ClassCounts,
) -> HalfSpec {
    HalfSpec {
        period: DatePeriod::parse(label).unwrap_or(DatePeriod {
            start: NaiveDate::MIN,
            end: NaiveDate::MIN,
        }),
        central,
        public_service: public,
        provincial,
    }
}

impl ContinuationSpec {
    /// H2 2024, H1 2025 and H2 2025 at about a third of the seed's size
    /// (95,517 tasks).
    pub fn full() -> Self {
        let c = ClassCounts::new;
        Self {
            seed: CONTINUATION_SEED,
            halves: vec![
                half(
                    "2024-H2",
                    c(780, 75, 27, 18),
                    c(70, 6, 2, 2),
                    c(25_950, 2_700, 450, 900),
                ),
                half(
                    "2025-H1",
                    c(795, 77, 28, 20),
                    c(71, 7, 2, 2),
                    c(26_800, 2_790, 470, 940),
                ),
                half(
                    "2025-H2",
                    c(825, 76, 29, 20),
                    c(74, 7, 2, 2),
                    c(27_400, 2_700, 480, 920),
                ),
            ],
            provincial_from_headquarters_percent: 30,
        }
    }

    /// The same shape with about 5,000 tasks.
    pub fn small() -> Self {
        let c = ClassCounts::new;
        Self {
            seed: CONTINUATION_SEED,
            halves: vec![
                half(
                    "2024-H2",
                    c(52, 5, 2, 1),
                    c(10, 1, 1, 0),
                    c(1_290, 135, 30, 45),
                ),
                half(
                    "2025-H1",
                    c(54, 5, 2, 1),
                    c(10, 1, 1, 0),
                    c(1_335, 140, 30, 45),
                ),
                half(
                    "2025-H2",
                    c(55, 6, 2, 1),
                    c(11, 1, 1, 0),
                    c(1_380, 140, 32, 48),
                ),
            ],
            provincial_from_headquarters_percent: 30,
        }
    }

    pub fn task_count(&self) -> u64 {
        self.halves
            .iter()
            .map(|h| {
                h.central
                    .plus(&h.public_service)
                    .plus(&h.provincial)
                    .total()
            })
            .sum()
    }
}

/// Generates the continuation over `units`, which must include the offices
/// of before and after the merger (as `ListUnits` returns them once it is
/// applied). Same spec and units, same bytes.
pub fn generate_continuation(
    spec: &ContinuationSpec,
    units: &[v1::Unit],
) -> Result<DemoDataset, DemoError> {
    let mut rng = ChaCha8Rng::seed_from_u64(spec.seed);
    let mut sorted: Vec<&v1::Unit> = units.iter().collect();
    sorted.sort_by(|a, b| (&a.code, &a.id).cmp(&(&b.code, &b.id)));
    let mut dataset = DemoDataset::default();
    for half in &spec.halves {
        let hq = headquarters(&sorted, half.period)?;
        for category in [
            UnitCategory::CentralDepartment,
            UnitCategory::PublicServiceUnit,
            UnitCategory::ProvincialOffice,
        ] {
            let context = Half {
                spec,
                half,
                hq,
                category,
            };
            context.generate(&mut rng, &sorted, &mut dataset.tasks)?;
        }
    }
    Ok(dataset)
}

/// One category of one half-year.
struct Half<'a> {
    spec: &'a ContinuationSpec,
    half: &'a HalfSpec,
    hq: &'a v1::Unit,
    category: UnitCategory,
}

impl Half<'_> {
    fn generate(
        &self,
        rng: &mut ChaCha8Rng,
        units: &[&v1::Unit],
        tasks: &mut Vec<DemoTask>,
    ) -> Result<(), DemoError> {
        let targets = self.half.category(self.category);
        if targets.total() == 0 {
            return Ok(());
        }
        let period = self.half.period;
        let units = units_of(units, self.category, period);
        if units.is_empty() {
            return Err(DemoError::NoUnits {
                category: self.category,
                period,
            });
        }
        let weights = self.weights(rng, &units)?;
        let per_unit = apportion(targets.total(), &weights);
        let mut classes: Vec<StatusClass> = StatusClass::ALL
            .iter()
            .flat_map(|&class| std::iter::repeat_n(class, targets.get(class) as usize))
            .collect();
        classes.shuffle(rng);
        let assignees = units
            .iter()
            .zip(&per_unit)
            .flat_map(|(unit, &count)| std::iter::repeat_n(*unit, count as usize));
        let window = Window {
            start: period.start,
            as_of: self.half.as_of(),
        };
        for (class, assignee) in classes.iter().zip(assignees) {
            tasks.push(self.task(rng, *class, window, assignee));
        }
        Ok(())
    }

    /// Provincial offices: as the seed spreads them over the 63 provinces
    /// (half an equal share, half a population share), a merged office
    /// taking the shares of its provinces, so that the merger by itself
    /// changes no province's share of the work. Others: seeded random weights.
    fn weights(&self, rng: &mut ChaCha8Rng, units: &[&v1::Unit]) -> Result<Vec<u64>, DemoError> {
        if self.category != UnitCategory::ProvincialOffice {
            return Ok(units.iter().map(|_| titles::unit_weight(rng)).collect());
        }
        units.iter().map(|unit| province_weight(unit)).collect()
    }

    fn task(
        &self,
        rng: &mut ChaCha8Rng,
        class: StatusClass,
        window: Window,
        assignee: &v1::Unit,
    ) -> DemoTask {
        let scenario = scenario(rng, class, window);
        let from_headquarters = self.category != UnitCategory::ProvincialOffice
            || rng.random_range(0..100) < self.spec.provincial_from_headquarters_percent;
        let assigning = if from_headquarters { self.hq } else { assignee };
        let new_task = v1::NewTask {
            title: titles::task_title(rng, self.category, scenario.assigned),
            assigning_unit_id: assigning.id.clone(),
            assignee_unit_id: assignee.id.clone(),
            assigned_date: Some(date_to_proto(scenario.assigned)),
            deadline: Some(date_to_proto(scenario.deadline)),
            plan_ids: Vec::new(),
        };
        build_requests(rng, new_task, &scenario)
    }
}

/// A provincial office's weight: its 2024 province's `S + n·p` (S the
/// total population of the n = 63 provinces, p its own, as the seed weighs
/// them), or for an office created by the merger, the sum of its provinces'.
fn province_weight(unit: &v1::Unit) -> Result<u64, DemoError> {
    let populations = province_populations();
    let total: u64 = populations.values().sum();
    let n = populations.len() as u64;
    let unknown = || DemoError::UnknownProvince {
        code: unit.code.clone(),
    };
    let weight = |code: &str| {
        populations
            .get(code)
            .map(|people| total + n * people)
            .ok_or_else(unknown)
    };
    let from = optional_date_from_proto("", unit.valid_from.as_ref())
        .ok()
        .flatten();
    if from.is_some_and(|from| from >= merger_date()) {
        let provinces = provinces_2025();
        let predecessors = provinces.get(unit.code.as_str()).ok_or_else(unknown)?;
        return predecessors.iter().map(|code| weight(code)).sum();
    }
    weight(&unit.code)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_merger_file_has_34_provinces_from_63() {
        let provinces = provinces_2025();
        assert_eq!(provinces.len(), 34);
        assert_eq!(provinces.values().map(Vec::len).sum::<usize>(), 63);
        assert_eq!(provinces["52"], ["64", "52"]);
    }

    #[test]
    fn specs_add_up() {
        assert_eq!(ContinuationSpec::small().task_count(), 4_873);
        assert_eq!(ContinuationSpec::full().task_count(), 95_517);
        for spec in [ContinuationSpec::small(), ContinuationSpec::full()] {
            let labels: Vec<String> = spec.halves.iter().map(|h| h.period.sdmx_label()).collect();
            assert_eq!(labels, ["2024-S2", "2025-S1", "2025-S2"]);
        }
    }
}
