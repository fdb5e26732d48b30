//! Unit scorecards (UnitScorecards): per unit, its record over the tasks
//! assigned to it in a period as of a date, a weighted score, its rank
//! within its group (provincial offices, or central units), the same record
//! a year earlier and the score month by month. Counted from the same status
//! index and on the same bases and coverage as StatusBreakdown
//! (docs/scorecards.md).

use std::cmp::Ordering;
use std::collections::{BTreeSet, HashMap};
use std::time::Duration;

use chrono::{Datelike, NaiveDate};
use tasknet_auth::Coverage;
use tasknet_domain::{DatePeriod, FieldError, date_from_proto, date_to_proto, previous_year_date};
use tasknet_proto::v1::{self, RankingGroup, ReportBasis, UnitCategory};

use crate::basis::{self, Restatement};
use crate::catalog::{Catalog, UnitSource};
use crate::counts::StatusCounts;
use crate::drill::label;
use crate::error::Error;
use crate::reports::Reports;
use crate::store::{StatusQuery, UnitCounts, UnitDaysLate};
use crate::wait::{validate_min_cursor, wait_for_cursor};

/// The weights of the score (set by the emulation committee; see
/// `ScoreWeights` in reporting.proto for the formula).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ScoreWeights {
    pub completed_on_time: f64,
    pub completed_late: f64,
    pub open_within_deadline: f64,
    pub open_overdue: f64,
    pub per_mean_day_late: f64,
}

impl Default for ScoreWeights {
    /// Work done on time, and work not yet due, count fully; late work half;
    /// overdue work nothing; and each mean day late costs 0.2 points, so a
    /// unit whose late work is a month late on average loses 6 points.
    fn default() -> Self {
        Self {
            completed_on_time: 1.0,
            completed_late: 0.5,
            open_within_deadline: 1.0,
            open_overdue: 0.0,
            per_mean_day_late: 0.2,
        }
    }
}

impl ScoreWeights {
    /// Every weight must be a finite number (a configuration error otherwise).
    pub fn validate(&self) -> Result<(), String> {
        for (name, value) in self.named() {
            if !value.is_finite() {
                return Err(format!("scorecard.{name}: {value} is not a finite number"));
            }
        }
        Ok(())
    }

    fn named(&self) -> [(&'static str, f64); 5] {
        [
            ("completed_on_time", self.completed_on_time),
            ("completed_late", self.completed_late),
            ("open_within_deadline", self.open_within_deadline),
            ("open_overdue", self.open_overdue),
            ("per_mean_day_late", self.per_mean_day_late),
        ]
    }

    pub fn to_proto(self) -> v1::ScoreWeights {
        v1::ScoreWeights {
            completed_on_time: self.completed_on_time,
            completed_late: self.completed_late,
            open_within_deadline: self.open_within_deadline,
            open_overdue: self.open_overdue,
            per_mean_day_late: self.per_mean_day_late,
        }
    }

    /// The figures of `counts` with `days_late` days past deadlines in all.
    pub fn figures(&self, counts: StatusCounts, days_late: i64) -> v1::ScorecardFigures {
        let total = counts.total();
        // Counts stay far below 2^53, so the conversions are exact.
        let share = |count: i64| {
            if total == 0 {
                0.0
            } else {
                count as f64 / total as f64
            }
        };
        let late_tasks = counts.completed_late + counts.open_overdue;
        let mean_days_late = if late_tasks == 0 {
            0.0
        } else {
            days_late as f64 / late_tasks as f64
        };
        let score = (total > 0).then(|| {
            100.0
                * (self.completed_on_time * share(counts.completed_on_time)
                    + self.completed_late * share(counts.completed_late)
                    + self.open_within_deadline * share(counts.open_within_deadline)
                    + self.open_overdue * share(counts.open_overdue))
                - self.per_mean_day_late * mean_days_late
        });
        v1::ScorecardFigures {
            counts: Some(counts.to_proto()),
            on_time_rate: share(counts.completed_on_time),
            late_rate: share(counts.completed_late),
            overdue_rate: share(counts.open_overdue),
            mean_days_late,
            score,
        }
    }
}

/// The ranking group of a unit category; `None` for units ranked in neither
/// (headquarters itself, units of no category).
pub fn ranking_group(category: i32) -> Option<RankingGroup> {
    match UnitCategory::try_from(category).ok()? {
        UnitCategory::ProvincialOffice => Some(RankingGroup::ProvincialOffices),
        UnitCategory::CentralDepartment | UnitCategory::PublicServiceUnit => {
            Some(RankingGroup::CentralUnits)
        }
        UnitCategory::Headquarters | UnitCategory::Unspecified => None,
    }
}

/// A validated UnitScorecards request.
#[derive(Debug, Clone, Copy)]
struct ScorecardQuestion {
    period: DatePeriod,
    as_of: NaiveDate,
    basis: ReportBasis,
    /// `None`: both groups.
    group: Option<RankingGroup>,
    min_cursor: i64,
}

impl ScorecardQuestion {
    fn parse(request: &v1::UnitScorecardsRequest) -> Result<Self, FieldError> {
        let period = DatePeriod::from_proto("period", request.period.as_ref())?;
        let as_of = period.as_of_from_proto("as_of", request.as_of.as_ref())?;
        let group = match RankingGroup::try_from(request.group) {
            Ok(RankingGroup::Unspecified) => None,
            Ok(group) => Some(group),
            Err(_) => {
                let message = format!("{} is not a ranking group", request.group);
                return Err(FieldError::new("group", message));
            }
        };
        Ok(Self {
            period,
            as_of,
            basis: basis::parse("basis", request.basis)?,
            group,
            min_cursor: validate_min_cursor(request.min_cursor)?,
        })
    }
}

/// The days the trend is read on: each month end of the period before the
/// as-of date, then the as-of date itself (so the last point is the
/// scorecard's own figures).
pub fn trend_dates(period: DatePeriod, as_of: NaiveDate) -> Vec<NaiveDate> {
    let mut dates = Vec::new();
    let mut month = NaiveDate::from_ymd_opt(period.start.year(), period.start.month(), 1);
    while let Some(first) = month {
        let next = first.checked_add_months(chrono::Months::new(1));
        let Some(month_end) = next.and_then(|next| next.pred_opt()) else {
            break;
        };
        let end = month_end.min(period.end);
        if end >= as_of {
            break;
        }
        dates.push(end);
        if end == period.end {
            break;
        }
        month = next;
    }
    dates.push(as_of);
    dates
}

/// Rounded for comparing: scores equal to six decimals are tied.
fn rounded(value: f64) -> i64 {
    // Scores lie within a few hundred points either side of zero.
    (value * 1e6).round() as i64
}

/// The tie-break order among ranked cards: score (higher first), then
/// on-time rate (higher first), then tasks assigned (more first), then unit
/// code, then unit id.
fn rank_order(a: &v1::UnitScorecard, b: &v1::UnitScorecard) -> Ordering {
    let key = |card: &v1::UnitScorecard| {
        let figures = card.current.as_ref();
        (
            figures.and_then(|f| f.score).map_or(i64::MIN, rounded),
            figures.map_or(0, |f| rounded(f.on_time_rate)),
            figures
                .and_then(|f| f.counts.as_ref())
                .map_or(0, |c| c.total),
        )
    };
    let unit = |card: &v1::UnitScorecard| {
        card.unit
            .as_ref()
            .map(|u| (u.code.clone(), u.id.clone()))
            .unwrap_or_default()
    };
    key(b).cmp(&key(a)).then_with(|| unit(a).cmp(&unit(b)))
}

/// Sorts `cards` (one group's) and numbers the ranked ones from 1; cards
/// without tasks stay at rank 0, after them.
pub fn rank(cards: &mut [v1::UnitScorecard]) {
    let ranked = |card: &v1::UnitScorecard| card.current.as_ref().and_then(|f| f.score).is_some();
    cards.sort_by(|a, b| ranked(b).cmp(&ranked(a)).then_with(|| rank_order(a, b)));
    let mut next = 1;
    for card in cards.iter_mut() {
        card.rank = if ranked(card) {
            next += 1;
            next - 1
        } else {
            0
        };
    }
}

/// Counts and days late of one question, on the basis, keyed by unit.
struct Record {
    counts: UnitCounts,
    days_late: UnitDaysLate,
}

impl Record {
    fn restated(self, restatement: Option<&Restatement>) -> Self {
        let Some(restatement) = restatement else {
            return self;
        };
        let mut counts = UnitCounts::new();
        for (unit, unit_counts) in self.counts {
            *counts
                .entry(restatement.unit_for(&unit).to_owned())
                .or_default() += unit_counts;
        }
        let mut days_late = UnitDaysLate::new();
        for (unit, days) in self.days_late {
            *days_late
                .entry(restatement.unit_for(&unit).to_owned())
                .or_default() += days;
        }
        Self { counts, days_late }
    }

    fn figures(&self, weights: &ScoreWeights, unit: &str) -> v1::ScorecardFigures {
        weights.figures(
            self.counts.get(unit).copied().unwrap_or_default(),
            self.days_late.get(unit).copied().unwrap_or_default(),
        )
    }
}

/// Whether a unit is in force on `day` (from its validity dates).
fn in_force(unit: &v1::Unit, day: NaiveDate) -> bool {
    let from = date_from_proto("", unit.valid_from.as_ref()).ok();
    let to = date_from_proto("", unit.valid_to.as_ref()).ok();
    from.is_none_or(|from| from <= day) && to.is_none_or(|to| day <= to)
}

impl<U: UnitSource> Reports<U> {
    /// UnitScorecards for a caller covering `coverage`: only the units it
    /// covers are shown, and ranked among themselves.
    pub async fn unit_scorecards(
        &self,
        request: &v1::UnitScorecardsRequest,
        budget: Duration,
        coverage: &Coverage,
    ) -> Result<v1::UnitScorecardsResponse, Error> {
        let question = ScorecardQuestion::parse(request)?;
        let applied = wait_for_cursor(&self.applied, question.min_cursor, budget).await?;
        let trend = trend_dates(question.period, question.as_of);
        let previous = StatusQuery {
            period: question.period.previous_year(),
            as_of: previous_year_date(question.as_of),
        };
        // The trend's last question is the current one.
        let mut queries: Vec<StatusQuery> = trend
            .iter()
            .map(|day| StatusQuery {
                period: question.period,
                as_of: *day,
            })
            .collect();
        queries.push(previous);
        let (counts, days_late) = self.store.scorecard_by_unit(&queries).await?;
        let mut ids: BTreeSet<String> = BTreeSet::new();
        for unit_counts in &counts {
            ids.extend(unit_counts.keys().cloned());
        }
        let catalog = self
            .units
            .catalog(ids.into_iter().collect())
            .await
            .map_err(Error::Directory)?;
        let restatement = (question.basis == ReportBasis::CurrentStructure)
            .then(|| Restatement::on(question.as_of, catalog.lineage()));
        let mut records: Vec<Record> = counts
            .into_iter()
            .zip(days_late)
            .map(|(counts, days_late)| Record { counts, days_late }.restated(restatement.as_ref()))
            .collect();
        let previous_record = records.pop().unwrap_or(Record {
            counts: UnitCounts::new(),
            days_late: UnitDaysLate::new(),
        });
        let current_record = records
            .last()
            .ok_or_else(|| Error::Render("a scorecard has at least one trend point".to_owned()))?;
        let shown = Self::shown_units(&question, &catalog, &current_record.counts, coverage);
        let weights = self.weights;
        let mut groups: HashMap<RankingGroup, Vec<v1::UnitScorecard>> = HashMap::new();
        for (unit_id, group) in shown {
            let current = current_record.figures(&weights, &unit_id);
            let previous = previous_record.figures(&weights, &unit_id);
            let score_change = current
                .score
                .zip(previous.score)
                .map(|(now, then)| now - then);
            let trend = trend
                .iter()
                .zip(&records)
                .map(|(day, record)| {
                    let figures = record.figures(&weights, &unit_id);
                    v1::ScorePoint {
                        as_of: Some(date_to_proto(*day)),
                        score: figures.score,
                        on_time_rate: figures.on_time_rate,
                    }
                })
                .collect();
            groups.entry(group).or_default().push(v1::UnitScorecard {
                unit: Some(label(&catalog, &unit_id)),
                group: group as i32,
                rank: 0,
                current: Some(current),
                previous: Some(previous),
                score_change,
                trend,
            });
        }
        let mut scorecards = Vec::new();
        for group in [RankingGroup::ProvincialOffices, RankingGroup::CentralUnits] {
            if let Some(mut cards) = groups.remove(&group) {
                rank(&mut cards);
                scorecards.extend(cards);
            }
        }
        Ok(v1::UnitScorecardsResponse {
            period: Some(question.period.to_proto()),
            as_of: Some(date_to_proto(question.as_of)),
            previous_period: Some(previous.period.to_proto()),
            previous_as_of: Some(date_to_proto(previous.as_of)),
            basis: question.basis as i32,
            weights: Some(weights.to_proto()),
            scorecards,
            applied_cursor: applied,
        })
    }

    /// The units a scorecard is shown for, with their group: those of the
    /// asked groups in force on the as-of date, and any other unit of those
    /// groups with tasks counted (on the historical basis, a unit that ended
    /// after completing its tasks), that the caller covers. Tasks of units
    /// the directory does not know are in StatusBreakdown's "unknown" row
    /// and in no ranking group.
    fn shown_units(
        question: &ScorecardQuestion,
        catalog: &Catalog,
        current: &UnitCounts,
        coverage: &Coverage,
    ) -> Vec<(String, RankingGroup)> {
        let mut shown: BTreeSet<String> = catalog
            .units()
            .values()
            .filter(|unit| in_force(unit, question.as_of))
            .map(|unit| unit.id.clone())
            .collect();
        shown.extend(current.keys().cloned());
        shown
            .into_iter()
            .filter(|id| coverage.contains(id))
            .filter_map(|id| {
                let group = ranking_group(catalog.unit(&id)?.category)?;
                question
                    .group
                    .is_none_or(|asked| asked == group)
                    .then_some((id, group))
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ymd(year: i32, month: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(year, month, day).unwrap()
    }

    #[test]
    fn trend_reads_month_ends_then_the_as_of_date() {
        let h1 = DatePeriod::parse("2024-H1").unwrap();
        let days = trend_dates(h1, ymd(2024, 6, 30));
        assert_eq!(days.len(), 6);
        assert_eq!(days[1], ymd(2024, 2, 29));
        assert_eq!(days[5], ymd(2024, 6, 30));
        assert_eq!(
            trend_dates(h1, ymd(2024, 3, 15)),
            [ymd(2024, 1, 31), ymd(2024, 2, 29), ymd(2024, 3, 15)]
        );
        assert_eq!(trend_dates(h1, ymd(2024, 1, 1)), [ymd(2024, 1, 1)]);
        let late = trend_dates(h1, ymd(2024, 9, 1));
        assert_eq!(late.len(), 7);
        assert_eq!(late[5], ymd(2024, 6, 30));
        assert_eq!(late[6], ymd(2024, 9, 1));
    }

    #[test]
    fn score_follows_the_formula() {
        let weights = ScoreWeights::default();
        let counts = StatusCounts {
            completed_on_time: 5,
            completed_late: 2,
            open_within_deadline: 1,
            open_overdue: 2,
        };
        // 4 late tasks, 20 days past deadlines: a mean of 5 days.
        let figures = weights.figures(counts, 20);
        let expected = 100.0 * (5.0 + 0.5 * 2.0 + 1.0) / 10.0 - 0.2 * 5.0;
        assert!((figures.score.unwrap() - expected).abs() < 1e-9);
        assert_eq!(figures.mean_days_late, 5.0);
        assert_eq!(figures.overdue_rate, 0.2);
        let empty = weights.figures(StatusCounts::default(), 0);
        assert_eq!(empty.score, None);
        assert_eq!(empty.on_time_rate, 0.0);
        let bad = ScoreWeights {
            open_overdue: f64::NAN,
            ..weights
        };
        assert!(bad.validate().unwrap_err().contains("open_overdue"));
    }

    fn card(code: &str, on_time: i64, late: i64, open: i64) -> v1::UnitScorecard {
        let counts = StatusCounts {
            completed_on_time: on_time,
            completed_late: late,
            open_within_deadline: open,
            open_overdue: 0,
        };
        v1::UnitScorecard {
            unit: Some(v1::UnitLabel {
                id: format!("id-{code}"),
                code: code.into(),
                ..Default::default()
            }),
            current: Some(ScoreWeights::default().figures(counts, 0)),
            ..Default::default()
        }
    }

    #[test]
    fn ties_break_by_on_time_rate_then_size_then_code() {
        // All four score 100 except "09"; "03" and "02" tie on everything
        // but the code; "04" has the same score and rate as "01" but fewer tasks.
        let mut cards = vec![
            card("05", 0, 0, 0),
            card("09", 1, 1, 0),
            card("03", 1, 0, 1),
            card("02", 1, 0, 1),
            card("04", 1, 0, 0),
            card("01", 2, 0, 0),
        ];
        rank(&mut cards);
        let order: Vec<(&str, i32)> = cards
            .iter()
            .map(|c| (c.unit.as_ref().unwrap().code.as_str(), c.rank))
            .collect();
        assert_eq!(
            order,
            [
                ("01", 1),
                ("04", 2),
                ("02", 3),
                ("03", 4),
                ("09", 5),
                ("05", 0)
            ]
        );
    }
}
