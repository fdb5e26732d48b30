//! SDMX-CSV 2.0 output of unit scorecards: one observation per row, for the
//! data structure documented in `docs/sdmx.md` (dataflow
//! `VN_STAT:DF_TASK_SCORECARDS(1.0)`).

use tasknet_domain::{DatePeriod, date_from_proto};
use tasknet_proto::v1::{self, RankingGroup, ReportBasis};

use crate::Basis;
use crate::numbers::Rounding;
use crate::sdmx::{basis_code, percent_value};

/// The dataflow every row refers to.
pub const DATAFLOW: &str = "VN_STAT:DF_TASK_SCORECARDS(1.0)";

/// The SDMX-CSV 2.0 leading columns, the dimensions, the measure, the attributes.
const HEADER: [&str; 11] = [
    "STRUCTURE",
    "STRUCTURE_ID",
    "ACTION",
    "UNIT",
    "RANKING_GROUP",
    "INDICATOR",
    "TIME_PERIOD",
    "OBS_VALUE",
    "UNIT_MEASURE",
    "COMPARISON_BASIS",
    "UNIT_NAME",
];

/// The code of a ranking group in the `CL_RANKING_GROUP` code list.
pub fn group_code(group: i32) -> &'static str {
    match RankingGroup::try_from(group) {
        Ok(RankingGroup::ProvincialOffices) => "PSO",
        Ok(RankingGroup::CentralUnits) => "CU",
        _ => "_Z",
    }
}

/// A decimal figure with two places (scores, mean days late).
fn decimal(value: f64) -> String {
    format!("{value:.2}")
}

fn period_label(range: Option<&v1::DateRange>) -> Result<String, String> {
    let range = range.ok_or("the answer has no period")?;
    let start = date_from_proto("start", range.start.as_ref()).map_err(|e| e.to_string())?;
    let end = date_from_proto("end", range.end.as_ref()).map_err(|e| e.to_string())?;
    DatePeriod::new(start, end)
        .map(DatePeriod::sdmx_label)
        .ok_or_else(|| "the answer's period ends before it starts".to_owned())
}

/// The observations of one set of figures: tasks, the three rates (exact
/// shares of the counts, cut by `rounding`), mean days late and the score.
fn figure_rows(
    figures: &v1::ScorecardFigures,
    rounding: Rounding,
) -> Vec<(&'static str, String, &'static str)> {
    let counts = figures.counts.unwrap_or_default();
    let mut rows = vec![("TASKS", counts.total.to_string(), "TASKS")];
    for (indicator, count) in [
        ("ON_TIME_RATE", counts.completed_on_time),
        ("LATE_RATE", counts.completed_late),
        ("OVERDUE_RATE", counts.open_overdue),
    ] {
        if let Some(value) = percent_value(count, counts.total, 2, rounding) {
            rows.push((indicator, value, "PT"));
        }
    }
    if counts.total > 0 {
        rows.push(("MEAN_DAYS_LATE", decimal(figures.mean_days_late), "DAYS"));
    }
    if let Some(score) = figures.score {
        rows.push(("SCORE", decimal(score), "POINTS"));
    }
    rows
}

/// The scorecards as SDMX-CSV 2.0 text: per unit its figures for the period
/// and the year before, its rank and its change of score.
pub fn scorecards_sdmx_csv(
    response: &v1::UnitScorecardsResponse,
    rounding: Rounding,
) -> Result<String, String> {
    let current = period_label(response.period.as_ref())?;
    let previous = period_label(response.previous_period.as_ref())?;
    let basis = basis_code(match ReportBasis::try_from(response.basis) {
        Ok(ReportBasis::HistoricalStructure) => Basis::HistoricalStructure,
        _ => Basis::CurrentStructure,
    });
    let mut writer = csv::Writer::from_writer(Vec::new());
    writer.write_record(HEADER).map_err(|e| e.to_string())?;
    for card in &response.scorecards {
        let unit = card.unit.clone().unwrap_or_default();
        let group = group_code(card.group);
        let mut rows: Vec<(&str, &str, String, &str)> = Vec::new();
        for (period, figures) in [(&current, &card.current), (&previous, &card.previous)] {
            if let Some(figures) = figures {
                for (indicator, value, measure) in figure_rows(figures, rounding) {
                    rows.push((indicator, period, value, measure));
                }
            }
        }
        if card.rank > 0 {
            rows.push(("RANK", &current, card.rank.to_string(), "RANK"));
        }
        if let Some(change) = card.score_change {
            rows.push(("SCORE_CHANGE", &current, decimal(change), "POINTS"));
        }
        for (indicator, period, value, measure) in rows {
            writer
                .write_record([
                    "dataflow",
                    DATAFLOW,
                    "I",
                    &unit.code,
                    group,
                    indicator,
                    period,
                    &value,
                    measure,
                    basis,
                    &unit.name_vi,
                ])
                .map_err(|e| e.to_string())?;
        }
    }
    let bytes = writer.into_inner().map_err(|e| e.to_string())?;
    String::from_utf8(bytes).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(year: i32, month: i32, day: i32) -> Option<v1::Date> {
        Some(v1::Date { year, month, day })
    }

    #[test]
    fn one_observation_per_figure() {
        let figures = v1::ScorecardFigures {
            counts: Some(v1::StatusCounts {
                total: 3,
                completed_on_time: 1,
                completed_late: 1,
                open_within_deadline: 0,
                open_overdue: 1,
            }),
            on_time_rate: 1.0 / 3.0,
            late_rate: 1.0 / 3.0,
            overdue_rate: 1.0 / 3.0,
            mean_days_late: 4.5,
            score: Some(49.1),
        };
        let response = v1::UnitScorecardsResponse {
            period: Some(v1::DateRange {
                start: date(2024, 1, 1),
                end: date(2024, 6, 30),
            }),
            previous_period: Some(v1::DateRange {
                start: date(2023, 1, 1),
                end: date(2023, 6, 30),
            }),
            basis: ReportBasis::HistoricalStructure as i32,
            scorecards: vec![v1::UnitScorecard {
                unit: Some(v1::UnitLabel {
                    code: "01".into(),
                    name_vi: "Cục Thống kê Hà Nội, \"TP\"".into(),
                    ..Default::default()
                }),
                group: RankingGroup::ProvincialOffices as i32,
                rank: 2,
                current: Some(figures),
                previous: Some(v1::ScorecardFigures {
                    counts: Some(v1::StatusCounts::default()),
                    ..Default::default()
                }),
                score_change: None,
                trend: Vec::new(),
            }],
            ..Default::default()
        };
        let text = scorecards_sdmx_csv(&response, Rounding::Truncate).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], HEADER.join(","));
        // Six current figures, the previous period's task count, the rank.
        assert_eq!(lines.len(), 1 + 6 + 1 + 1);
        assert!(lines.contains(
            &"dataflow,VN_STAT:DF_TASK_SCORECARDS(1.0),I,01,PSO,ON_TIME_RATE,2024-S1,33.33,PT,HIS,\"Cục Thống kê Hà Nội, \"\"TP\"\"\""
        ));
        assert!(
            lines
                .iter()
                .any(|l| l.contains(",SCORE,2024-S1,49.10,POINTS,"))
        );
        assert!(lines.iter().any(|l| l.contains(",TASKS,2023-S1,0,TASKS,")));
        assert!(lines.iter().any(|l| l.contains(",RANK,2024-S1,2,RANK,")));
    }
}
