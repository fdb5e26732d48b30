//! `tasknet report scorecard` and `tasknet report trajectory`: unit
//! scorecards and rankings, and the delivery trajectory of a plan or a unit
//! (docs/scorecards.md), as a table, JSON, CSV or (scorecards) SDMX-CSV.

use anyhow::Context;
use clap::{Args, ValueEnum};
use serde::Serialize;
use tasknet_domain::{DatePeriod, date_to_proto, vietnam_date};
use tasknet_proto::v1::{self, RankingGroup};
use tasknet_render::Rounding;
use tasknet_render::scorecard_sdmx::scorecards_sdmx_csv;

use crate::cli::BasisArg;
use crate::connect::{EndpointArgs, channel};
use crate::endpoints::Service;
use crate::output::{render_table, show_date};
use crate::report::{client, period};

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum RankingGroupArg {
    /// The provincial statistics offices.
    Provincial,
    /// Headquarters' departments and public service units.
    Central,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ScorecardFormatArg {
    Table,
    Json,
    Csv,
    /// SDMX-CSV 2.0, dataflow VN_STAT:DF_TASK_SCORECARDS(1.0) (docs/sdmx.md).
    Sdmx,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum TrajectoryFormatArg {
    Table,
    Json,
    Csv,
}

#[derive(Debug, Args)]
pub struct ScorecardArgs {
    /// 2024-H1, 2024-Q3, 2024, 2024-06, or 2024-01-01..2024-03-31.
    #[arg(long)]
    pub period: String,
    /// The day whose end the state is judged at (default: the period's last
    /// day, or today if the period has not ended).
    #[arg(long)]
    pub as_of: Option<chrono::NaiveDate>,
    /// The structure of units the figures are stated on.
    #[arg(long, value_enum, default_value = "current")]
    pub basis: BasisArg,
    /// One ranking group only (default: both, each ranked within itself).
    #[arg(long, value_enum)]
    pub group: Option<RankingGroupArg>,
    #[arg(long, value_enum, default_value = "table")]
    pub format: ScorecardFormatArg,
    #[command(flatten)]
    pub endpoint: EndpointArgs,
}

#[derive(Debug, Args)]
pub struct TrajectoryArgs {
    /// A plan's member tasks.
    #[arg(long, conflicts_with = "unit", required_unless_present = "unit")]
    pub plan: Option<String>,
    /// A unit's tasks (its id, or its code on the as-of date).
    #[arg(long)]
    pub unit: Option<String>,
    /// Required with --unit; with --plan, the plan's own period by default.
    #[arg(long)]
    pub period: Option<String>,
    /// Default: the period's last day, or today if the period has not ended.
    #[arg(long)]
    pub as_of: Option<chrono::NaiveDate>,
    #[arg(long, value_enum, default_value = "current")]
    pub basis: BasisArg,
    #[arg(long, value_enum, default_value = "table")]
    pub format: TrajectoryFormatArg,
    #[command(flatten)]
    pub endpoint: EndpointArgs,
}

/// The as-of date a command uses: the one given, else the period's last
/// day or today, whichever is earlier (a period's own dates when the label
/// does not parse are left to the service to refuse).
fn default_as_of(as_of: Option<chrono::NaiveDate>, period: Option<&str>) -> chrono::NaiveDate {
    let today = vietnam_date(chrono::Utc::now());
    as_of.unwrap_or_else(|| {
        period
            .and_then(DatePeriod::parse)
            .map_or(today, |period| period.end.min(today))
    })
}

fn group_name(group: i32) -> &'static str {
    match RankingGroup::try_from(group) {
        Ok(RankingGroup::ProvincialOffices) => "PROVINCIAL_OFFICES",
        Ok(RankingGroup::CentralUnits) => "CENTRAL_UNITS",
        _ => "",
    }
}

/// One scorecard as the JSON and CSV print it.
#[derive(Debug, Serialize)]
pub struct ScorecardRow {
    pub group: &'static str,
    /// 0: no tasks, unranked.
    pub rank: i32,
    pub unit_id: String,
    pub code: String,
    pub name_vi: String,
    pub name_en: String,
    pub tasks: i64,
    pub completed_on_time: i64,
    pub completed_late: i64,
    pub open_within_deadline: i64,
    pub open_overdue: i64,
    pub on_time_rate: f64,
    pub late_rate: f64,
    pub overdue_rate: f64,
    pub mean_days_late: f64,
    pub score: Option<f64>,
    pub previous_tasks: i64,
    pub previous_score: Option<f64>,
    pub score_change: Option<f64>,
    /// Month-end scores through the period (JSON only).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub trend: Vec<TrendPoint>,
}

#[derive(Debug, Serialize)]
pub struct TrendPoint {
    pub as_of: String,
    pub score: Option<f64>,
    pub on_time_rate: f64,
}

impl ScorecardRow {
    fn new(card: &v1::UnitScorecard, with_trend: bool) -> Self {
        let unit = card.unit.clone().unwrap_or_default();
        let current = card.current.unwrap_or_default();
        let previous = card.previous.unwrap_or_default();
        let counts = current.counts.unwrap_or_default();
        Self {
            group: group_name(card.group),
            rank: card.rank,
            unit_id: unit.id,
            code: unit.code,
            name_vi: unit.name_vi,
            name_en: unit.name_en,
            tasks: counts.total,
            completed_on_time: counts.completed_on_time,
            completed_late: counts.completed_late,
            open_within_deadline: counts.open_within_deadline,
            open_overdue: counts.open_overdue,
            on_time_rate: current.on_time_rate,
            late_rate: current.late_rate,
            overdue_rate: current.overdue_rate,
            mean_days_late: current.mean_days_late,
            score: current.score,
            previous_tasks: previous.counts.unwrap_or_default().total,
            previous_score: previous.score,
            score_change: card.score_change,
            trend: if with_trend {
                card.trend
                    .iter()
                    .map(|point| TrendPoint {
                        as_of: show_date(point.as_of.as_ref()),
                        score: point.score,
                        on_time_rate: point.on_time_rate,
                    })
                    .collect()
            } else {
                Vec::new()
            },
        }
    }
}

/// The JSON form of a UnitScorecards answer.
#[derive(Debug, Serialize)]
pub struct ScorecardReport {
    pub period: [String; 2],
    pub as_of: String,
    pub previous_period: [String; 2],
    pub previous_as_of: String,
    pub basis: String,
    pub weights: Weights,
    pub scorecards: Vec<ScorecardRow>,
    pub applied_cursor: i64,
}

#[derive(Debug, Serialize)]
pub struct Weights {
    pub completed_on_time: f64,
    pub completed_late: f64,
    pub open_within_deadline: f64,
    pub open_overdue: f64,
    pub per_mean_day_late: f64,
}

fn range(range: Option<&v1::DateRange>) -> [String; 2] {
    let range = range.cloned().unwrap_or_default();
    [
        show_date(range.start.as_ref()),
        show_date(range.end.as_ref()),
    ]
}

fn optional(value: Option<f64>) -> String {
    value.map(|v| format!("{v:.2}")).unwrap_or_default()
}

fn percent(rate: f64) -> String {
    format!("{:.2}", rate * 100.0)
}

impl ScorecardReport {
    fn new(response: &v1::UnitScorecardsResponse) -> Self {
        let weights = response.weights.unwrap_or_default();
        Self {
            period: range(response.period.as_ref()),
            as_of: show_date(response.as_of.as_ref()),
            previous_period: range(response.previous_period.as_ref()),
            previous_as_of: show_date(response.previous_as_of.as_ref()),
            basis: v1::ReportBasis::try_from(response.basis)
                .map(|basis| basis.as_str_name().trim_start_matches("REPORT_BASIS_"))
                .unwrap_or_default()
                .to_owned(),
            weights: Weights {
                completed_on_time: weights.completed_on_time,
                completed_late: weights.completed_late,
                open_within_deadline: weights.open_within_deadline,
                open_overdue: weights.open_overdue,
                per_mean_day_late: weights.per_mean_day_late,
            },
            scorecards: response
                .scorecards
                .iter()
                .map(|card| ScorecardRow::new(card, true))
                .collect(),
            applied_cursor: response.applied_cursor,
        }
    }

    /// One aligned table per group, ranked; rates in percent.
    fn table(&self) -> String {
        let mut out = format!(
            "Xếp hạng đơn vị / Unit scorecards: tasks assigned {} to {}, as of {} (vs {} to {}, as of {}); basis {}\n\
             Điểm / score = 100 × ({} × on time + {} × late + {} × open in time + {} × overdue) − {} × mean days late\n",
            self.period[0],
            self.period[1],
            self.as_of,
            self.previous_period[0],
            self.previous_period[1],
            self.previous_as_of,
            self.basis,
            self.weights.completed_on_time,
            self.weights.completed_late,
            self.weights.open_within_deadline,
            self.weights.open_overdue,
            self.weights.per_mean_day_late,
        );
        for (group, title) in [
            (
                "PROVINCIAL_OFFICES",
                "Cục Thống kê tỉnh / Provincial offices",
            ),
            ("CENTRAL_UNITS", "Đơn vị trung ương / Central units"),
        ] {
            let rows: Vec<&ScorecardRow> = self
                .scorecards
                .iter()
                .filter(|r| r.group == group)
                .collect();
            if rows.is_empty() {
                continue;
            }
            out.push_str(&format!("\n{title}\n"));
            let header = [
                "Rank",
                "Unit",
                "Tasks",
                "On time %",
                "Late %",
                "Overdue %",
                "Days late",
                "Score",
                "Last year",
                "Change",
            ];
            let mut lines: Vec<Vec<String>> =
                vec![header.iter().map(|s| (*s).to_owned()).collect()];
            for row in rows {
                lines.push(vec![
                    if row.rank == 0 {
                        "-".to_owned()
                    } else {
                        row.rank.to_string()
                    },
                    format!("{} {}", row.code, row.name_vi),
                    row.tasks.to_string(),
                    percent(row.on_time_rate),
                    percent(row.late_rate),
                    percent(row.overdue_rate),
                    format!("{:.2}", row.mean_days_late),
                    optional(row.score),
                    optional(row.previous_score),
                    optional(row.score_change),
                ]);
            }
            out.push_str(&render_table(&lines));
        }
        out
    }

    fn csv(&self) -> anyhow::Result<String> {
        let mut writer = csv::Writer::from_writer(Vec::new());
        for row in &self.scorecards {
            writer.serialize(CsvScorecard::from(row))?;
        }
        let bytes = writer.into_inner().map_err(|e| e.into_error())?;
        Ok(String::from_utf8(bytes)?)
    }
}

/// A scorecard row without the trend (CSV has no nested values).
#[derive(Debug, Serialize)]
struct CsvScorecard<'a> {
    group: &'a str,
    rank: i32,
    unit_id: &'a str,
    code: &'a str,
    name_vi: &'a str,
    name_en: &'a str,
    tasks: i64,
    completed_on_time: i64,
    completed_late: i64,
    open_within_deadline: i64,
    open_overdue: i64,
    on_time_rate: f64,
    late_rate: f64,
    overdue_rate: f64,
    mean_days_late: f64,
    score: Option<f64>,
    previous_tasks: i64,
    previous_score: Option<f64>,
    score_change: Option<f64>,
}

impl<'a> From<&'a ScorecardRow> for CsvScorecard<'a> {
    fn from(row: &'a ScorecardRow) -> Self {
        Self {
            group: row.group,
            rank: row.rank,
            unit_id: &row.unit_id,
            code: &row.code,
            name_vi: &row.name_vi,
            name_en: &row.name_en,
            tasks: row.tasks,
            completed_on_time: row.completed_on_time,
            completed_late: row.completed_late,
            open_within_deadline: row.open_within_deadline,
            open_overdue: row.open_overdue,
            on_time_rate: row.on_time_rate,
            late_rate: row.late_rate,
            overdue_rate: row.overdue_rate,
            mean_days_late: row.mean_days_late,
            score: row.score,
            previous_tasks: row.previous_tasks,
            previous_score: row.previous_score,
            score_change: row.score_change,
        }
    }
}

pub async fn scorecard(args: ScorecardArgs) -> anyhow::Result<()> {
    let request = v1::UnitScorecardsRequest {
        period: Some(period(&args.period)),
        as_of: Some(date_to_proto(default_as_of(
            args.as_of,
            Some(args.period.as_str()),
        ))),
        basis: args.basis.to_proto() as i32,
        group: match args.group {
            None => RankingGroup::Unspecified,
            Some(RankingGroupArg::Provincial) => RankingGroup::ProvincialOffices,
            Some(RankingGroupArg::Central) => RankingGroup::CentralUnits,
        } as i32,
        min_cursor: 0,
    };
    let response = client(&args.endpoint)
        .await?
        .unit_scorecards(request)
        .await
        .context("UnitScorecards failed")?
        .into_inner();
    let report = ScorecardReport::new(&response);
    match args.format {
        ScorecardFormatArg::Table => print!("{}", report.table()),
        ScorecardFormatArg::Json => println!("{}", serde_json::to_string_pretty(&report)?),
        ScorecardFormatArg::Csv => print!("{}", report.csv()?),
        ScorecardFormatArg::Sdmx => print!(
            "{}",
            scorecards_sdmx_csv(&response, Rounding::Truncate)
                .map_err(|message| anyhow::anyhow!("cannot write SDMX-CSV: {message}"))?
        ),
    }
    Ok(())
}

/// One day of a trajectory as JSON and CSV print it.
#[derive(Debug, Serialize)]
pub struct TrajectoryRow {
    pub date: String,
    pub assigned: i64,
    pub expected: i64,
    /// Empty after the as-of date.
    pub actual: Option<i64>,
}

#[derive(Debug, Serialize)]
pub struct TrajectoryReport {
    pub range: [String; 2],
    pub as_of: String,
    pub total: i64,
    pub points: Vec<TrajectoryRow>,
    pub applied_cursor: i64,
}

pub async fn trajectory(args: TrajectoryArgs) -> anyhow::Result<()> {
    use v1::get_trajectory_request::Subject;
    let as_of = default_as_of(args.as_of, args.period.as_deref());
    let subject = match (&args.plan, &args.unit) {
        (Some(plan), _) => Subject::PlanId(plan.clone()),
        (None, Some(unit)) => {
            let mut organisation = v1::organisation_service_client::OrganisationServiceClient::new(
                channel(&args.endpoint, Service::Organisation)?,
            );
            Subject::UnitId(crate::units::unit_id_on(&mut organisation, unit, as_of).await?)
        }
        (None, None) => anyhow::bail!("give --plan ID or --unit ID-or-code"),
    };
    if args.unit.is_some() && args.period.is_none() {
        anyhow::bail!("--period is required with --unit");
    }
    let request = v1::GetTrajectoryRequest {
        subject: Some(subject),
        period: args.period.as_deref().map(period),
        as_of: Some(date_to_proto(as_of)),
        basis: args.basis.to_proto() as i32,
        min_cursor: 0,
    };
    let response = client(&args.endpoint)
        .await?
        .get_trajectory(request)
        .await
        .context("GetTrajectory failed")?
        .into_inner();
    let report = TrajectoryReport {
        range: range(response.range.as_ref()),
        as_of: as_of.to_string(),
        total: response.total,
        points: response
            .points
            .iter()
            .map(|point| TrajectoryRow {
                date: show_date(point.date.as_ref()),
                assigned: point.assigned,
                expected: point.expected,
                actual: point.actual,
            })
            .collect(),
        applied_cursor: response.applied_cursor,
    };
    match args.format {
        TrajectoryFormatArg::Json => println!("{}", serde_json::to_string_pretty(&report)?),
        TrajectoryFormatArg::Csv => {
            let mut writer = csv::Writer::from_writer(Vec::new());
            for row in &report.points {
                writer.serialize(row)?;
            }
            let bytes = writer.into_inner().map_err(|e| e.into_error())?;
            print!("{}", String::from_utf8(bytes)?);
        }
        TrajectoryFormatArg::Table => print!("{}", trajectory_table(&report)),
    }
    Ok(())
}

/// The table: the first day, each week's last day, and the last day, so a
/// half-year fits a screen (JSON and CSV carry every day).
fn trajectory_table(report: &TrajectoryReport) -> String {
    let mut out = format!(
        "Tiến độ / Delivery trajectory {} to {}, as of {}: {} tasks\n",
        report.range[0], report.range[1], report.as_of, report.total
    );
    let header = ["Date", "Assigned", "Due (expected)", "Done (actual)", "Gap"];
    let mut lines: Vec<Vec<String>> = vec![header.iter().map(|s| (*s).to_owned()).collect()];
    let last = report.points.len().saturating_sub(1);
    for (index, point) in report.points.iter().enumerate() {
        if index != 0 && index != last && index % 7 != 6 {
            continue;
        }
        lines.push(vec![
            point.date.clone(),
            point.assigned.to_string(),
            point.expected.to_string(),
            point.actual.map(|a| a.to_string()).unwrap_or_default(),
            point
                .actual
                .map(|actual| (actual - point.expected).to_string())
                .unwrap_or_default(),
        ]);
    }
    out.push_str(&render_table(&lines));
    out
}
