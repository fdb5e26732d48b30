//! `tasknet report …`: queries the reporting service and prints the figures
//! as an aligned table (Vietnamese group names first) or as JSON.

use anyhow::Context;
use serde::Serialize;
use tasknet_domain::date_to_proto;
use tasknet_proto::v1::reporting_service_client::ReportingServiceClient;
use tasknet_proto::v1::{self, GroupBy, PlanKind};
use tasknet_render::numbers::scaled_percent;
use tasknet_render::{NumberStyle, Rounding, format_percent};

use crate::cli::{
    GroupByArg, LanguageArg, PlanKindArg, PlansArgs, ReportCommand, RoundingArg, StatusArgs,
    SummaryArgs, SummaryFormatArg,
};
use crate::connect::{EndpointArgs, channel};
use crate::endpoints::Service;
use crate::output::{OutputFormat, render_table, show_date};

pub async fn run(command: ReportCommand) -> anyhow::Result<()> {
    match command {
        ReportCommand::Status(args) => status(args).await,
        ReportCommand::Plans(args) => plans(args).await,
        ReportCommand::Summary(args) => summary(args).await,
        ReportCommand::Scorecard(args) => crate::scorecard_cli::scorecard(args).await,
        ReportCommand::Trajectory(args) => crate::scorecard_cli::trajectory(args).await,
    }
}

async fn summary(args: SummaryArgs) -> anyhow::Result<()> {
    let request = v1::ReportSummaryRequest {
        basis: args.basis.to_proto() as i32,
        period: Some(period(&args.period)),
        as_of: Some(date_to_proto(args.as_of)),
        language: match args.lang {
            LanguageArg::Vi => v1::Language::Vi,
            LanguageArg::En => v1::Language::En,
        } as i32,
        format: match args.format {
            SummaryFormatArg::Text => v1::SummaryFormat::Text,
            SummaryFormatArg::Json => v1::SummaryFormat::Json,
            SummaryFormatArg::SdmxCsv => v1::SummaryFormat::SdmxCsv,
        } as i32,
        rounding: match args.rounding {
            RoundingArg::Truncate => v1::PercentRounding::Truncate,
            RoundingArg::HalfEven => v1::PercentRounding::HalfEven,
        } as i32,
        min_cursor: 0,
        system_name: args.system_name,
    };
    let response = client(&args.endpoint)
        .await?
        .report_summary(request)
        .await
        .context("ReportSummary failed")?
        .into_inner();
    print!("{}", response.body);
    Ok(())
}

pub async fn client(
    endpoint: &EndpointArgs,
) -> anyhow::Result<ReportingServiceClient<tasknet_server::TracedChannel>> {
    let channel = channel(endpoint, Service::Reporting)?;
    Ok(ReportingServiceClient::new(channel))
}

pub fn period(label: &str) -> v1::Period {
    v1::Period {
        kind: Some(v1::period::Kind::Label(label.to_owned())),
    }
}

async fn status(args: StatusArgs) -> anyhow::Result<()> {
    let group_by = match args.group_by {
        GroupByArg::None => GroupBy::None,
        GroupByArg::Category => GroupBy::UnitCategory,
        GroupByArg::Region => GroupBy::Region,
        GroupByArg::Unit => GroupBy::Unit,
    };
    let request = v1::StatusBreakdownRequest {
        basis: args.basis.to_proto() as i32,
        period: Some(period(&args.period)),
        as_of: Some(date_to_proto(args.as_of)),
        group_by: group_by as i32,
        min_cursor: 0,
    };
    let response = client(&args.endpoint)
        .await?
        .status_breakdown(request)
        .await
        .context("StatusBreakdown failed")?
        .into_inner();
    let report = StatusReport::new(&response, args.rounding.into());
    match args.format {
        OutputFormat::Json => println!("{}", serde_json::to_string_pretty(&report)?),
        OutputFormat::Table => print!("{}", report.table()),
    }
    Ok(())
}

/// The JSON form of a status breakdown: every count exact; shares and
/// changes cut to two decimals by the one rule named in `rounding`.
#[derive(Debug, Serialize)]
pub struct StatusReport {
    pub period: [String; 2],
    pub as_of: String,
    pub previous_period: [String; 2],
    pub previous_as_of: String,
    pub rows: Vec<StatusRow>,
    pub national: StatusRow,
    pub applied_cursor: i64,
    /// `CURRENT_STRUCTURE` or `HISTORICAL_STRUCTURE`.
    pub basis: String,
    /// On the current structure: the day whose units the figures are for.
    pub structure_date: String,
    /// How every percentage here was cut to two decimals: `TRUNCATE` (the
    /// source report's rule, the default) or `HALF_EVEN`.
    pub rounding: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct StatusRow {
    pub key: String,
    pub code: String,
    pub name_vi: String,
    pub name_en: String,
    pub current: Counts,
    pub previous: Counts,
    /// The current period's share of each class, in percent, by the report's rule.
    pub shares: Shares,
    /// The change of the total against the previous period, in percent, by
    /// the report's rule (none when the previous period had no tasks).
    pub total_change_percent: Option<f64>,
    /// By unit on the current structure: earlier units counted in this row.
    pub restated_unit_ids: Vec<String>,
    /// By unit: the unit's last day, when it has ended.
    pub valid_to: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Counts {
    pub total: i64,
    pub completed_on_time: i64,
    pub completed_late: i64,
    pub open_within_deadline: i64,
    pub open_overdue: i64,
}

/// Shares of the four classes in percent (none when there are no tasks).
#[derive(Debug, Clone, Serialize)]
pub struct Shares {
    pub completed_on_time: Option<f64>,
    pub completed_late: Option<f64>,
    pub open_within_deadline: Option<f64>,
    pub open_overdue: Option<f64>,
}

/// Decimals every percentage of the table and its JSON is cut to, as in the
/// source report.
const DECIMALS: u32 = 2;

/// `numerator / denominator` in percent by `rounding`, as a number for JSON.
/// Computed exactly by the renderer's integer arithmetic, then shown as f64:
/// two decimals survive the conversion.
fn percent_value(numerator: i64, denominator: i64, rounding: Rounding) -> Option<f64> {
    scaled_percent(numerator, denominator, DECIMALS, rounding)
        .map(|hundredths| hundredths as f64 / 10_f64.powi(DECIMALS as i32))
}

/// The same percentage as the table prints it: `87.94%`, or `-` for none.
fn percent_text(numerator: i64, denominator: i64, rounding: Rounding, signed: bool) -> String {
    match format_percent(
        numerator,
        denominator,
        DECIMALS,
        rounding,
        NumberStyle::English,
    ) {
        None => "-".to_owned(),
        Some(text) if signed && !text.starts_with('-') => format!("+{text}%"),
        Some(text) => format!("{text}%"),
    }
}

impl From<RoundingArg> for Rounding {
    fn from(rounding: RoundingArg) -> Self {
        match rounding {
            RoundingArg::Truncate => Rounding::Truncate,
            RoundingArg::HalfEven => Rounding::HalfEven,
        }
    }
}

/// The name the JSON gives a rule, as the protobuf enum spells it.
fn rounding_name(rounding: Rounding) -> &'static str {
    match rounding {
        Rounding::Truncate => "TRUNCATE",
        Rounding::HalfEven => "HALF_EVEN",
    }
}

impl From<Option<&v1::StatusCounts>> for Counts {
    fn from(counts: Option<&v1::StatusCounts>) -> Self {
        let counts = counts.cloned().unwrap_or_default();
        Self {
            total: counts.total,
            completed_on_time: counts.completed_on_time,
            completed_late: counts.completed_late,
            open_within_deadline: counts.open_within_deadline,
            open_overdue: counts.open_overdue,
        }
    }
}

impl StatusRow {
    /// A row with its percentages cut by `rounding`, from the counts (the
    /// service's own change figure is a float, cut by no stated rule).
    fn new(row: &v1::BreakdownRow, rounding: Rounding) -> Self {
        let current = Counts::from(row.current.as_ref());
        let previous = Counts::from(row.previous.as_ref());
        let share = |count: i64| percent_value(count, current.total, rounding);
        Self {
            key: row.group_key.clone(),
            code: row.group_code.clone(),
            name_vi: row.group_name_vi.clone(),
            name_en: row.group_name_en.clone(),
            shares: Shares {
                completed_on_time: share(current.completed_on_time),
                completed_late: share(current.completed_late),
                open_within_deadline: share(current.open_within_deadline),
                open_overdue: share(current.open_overdue),
            },
            total_change_percent: percent_value(
                current.total - previous.total,
                previous.total,
                rounding,
            ),
            current,
            previous,
            restated_unit_ids: row.restated_unit_ids.clone(),
            valid_to: show_date(row.group_valid_to.as_ref()),
        }
    }
}

impl StatusReport {
    pub fn new(response: &v1::StatusBreakdownResponse, rounding: Rounding) -> Self {
        let range = |range: Option<&v1::DateRange>| {
            [
                show_date(range.and_then(|r| r.start.as_ref())),
                show_date(range.and_then(|r| r.end.as_ref())),
            ]
        };
        let default_row = v1::BreakdownRow::default();
        Self {
            period: range(response.period.as_ref()),
            as_of: show_date(response.as_of.as_ref()),
            previous_period: range(response.previous_period.as_ref()),
            previous_as_of: show_date(response.previous_as_of.as_ref()),
            rows: response
                .rows
                .iter()
                .map(|row| StatusRow::new(row, rounding))
                .collect(),
            national: StatusRow::new(response.national.as_ref().unwrap_or(&default_row), rounding),
            applied_cursor: response.applied_cursor,
            basis: response
                .basis()
                .as_str_name()
                .trim_start_matches("REPORT_BASIS_")
                .to_owned(),
            structure_date: show_date(response.structure_date.as_ref()),
            rounding: rounding_name(rounding).to_owned(),
        }
    }

    fn rounding(&self) -> Rounding {
        if self.rounding == rounding_name(Rounding::HalfEven) {
            Rounding::HalfEven
        } else {
            Rounding::Truncate
        }
    }

    /// An aligned table a person can read; widths count characters, not bytes,
    /// so Vietnamese names line up.
    pub fn table(&self) -> String {
        let header = [
            "Đơn vị / Group",
            "Tasks",
            "On time",
            "Late",
            "Open, in time",
            "Overdue",
            "Last year",
            "Change",
        ];
        let mut lines: Vec<Vec<String>> = vec![header.iter().map(|s| (*s).to_owned()).collect()];
        let national = StatusRow {
            name_vi: "Toàn quốc / National".to_owned(),
            code: String::new(),
            ..self.national.clone()
        };
        let rounding = self.rounding();
        for row in self.rows.iter().chain(std::iter::once(&national)) {
            let mut label = if row.code.is_empty() || row.code == row.name_vi {
                row.name_vi.clone()
            } else {
                format!("{} {}", row.code, row.name_vi)
            };
            if !row.valid_to.is_empty() {
                label.push_str(&format!(" (đến/to {})", row.valid_to));
            }
            if !row.restated_unit_ids.is_empty() {
                let count = row.restated_unit_ids.len();
                label.push_str(&format!(" (+{count} đơn vị cũ/earlier units)"));
            }
            let (current, previous) = (&row.current, &row.previous);
            let share = |count: i64| percent_text(count, current.total, rounding, false);
            lines.push(vec![
                label,
                current.total.to_string(),
                share(current.completed_on_time),
                share(current.completed_late),
                share(current.open_within_deadline),
                share(current.open_overdue),
                previous.total.to_string(),
                percent_text(
                    current.total - previous.total,
                    previous.total,
                    rounding,
                    true,
                ),
            ]);
        }
        let mut out = format!(
            "Tasks assigned {} to {}, status as of {} (vs {} to {}, as of {})\n{}\n",
            self.period[0],
            self.period[1],
            self.as_of,
            self.previous_period[0],
            self.previous_period[1],
            self.previous_as_of,
            self.basis_line()
        );
        out.push_str(&render_table(&lines));
        out.push_str(rounding_line(rounding));
        out.push('\n');
        out
    }
}

/// The table's footer: the rule every percentage above follows.
fn rounding_line(rounding: Rounding) -> &'static str {
    match rounding {
        Rounding::Truncate => {
            "Tỷ lệ cắt bỏ sau hai chữ số thập phân, như báo cáo gốc / \
             Percentages truncated to two decimals (not rounded), as in the source report \
             (--rounding half-even to round)"
        }
        Rounding::HalfEven => {
            "Tỷ lệ làm tròn đến hai chữ số thập phân (nửa về số chẵn) / \
             Percentages rounded to two decimals, half to even (--rounding truncate to cut \
             as the source report does)"
        }
    }
}

impl StatusReport {
    /// Which units the figures are for, in both languages.
    fn basis_line(&self) -> String {
        if self.basis == "HISTORICAL_STRUCTURE" {
            "Cơ cấu từng kỳ / Historical structure: units as they were in each period".to_owned()
        } else {
            format!(
                "Cơ cấu hiện hành / Current structure: units in force on {}, earlier units counted under their successors",
                self.structure_date
            )
        }
    }
}

async fn plans(args: PlansArgs) -> anyhow::Result<()> {
    use v1::plan_progress_request::Selector;
    let selectors = match (&args.plan_id, args.kind) {
        (Some(plan_id), _) => vec![Selector::PlanId(plan_id.clone())],
        (None, kind) => {
            // The service answers one kind per request: without --kind, ask
            // for each in turn, as the help promises.
            let kinds = kind.map_or_else(
                || {
                    vec![
                        PlanKind::KeyTasks,
                        PlanKind::LegalDocuments,
                        PlanKind::AnnualWorkPlan,
                        PlanKind::Other,
                    ]
                },
                |kind| vec![plan_kind(kind)],
            );
            kinds
                .into_iter()
                .map(|kind| {
                    Selector::PlansOfKind(v1::PlansOfKind {
                        kind: kind as i32,
                        period: args.period.as_deref().map(period),
                    })
                })
                .collect()
        }
    };
    let mut client = client(&args.endpoint).await?;
    let mut rows: Vec<PlanRow> = Vec::new();
    for selector in selectors {
        let request = v1::PlanProgressRequest {
            selector: Some(selector),
            as_of: Some(date_to_proto(args.as_of)),
            min_cursor: 0,
        };
        let response = client
            .plan_progress(request)
            .await
            .context("PlanProgress failed")?
            .into_inner();
        rows.extend(response.plans.iter().map(PlanRow::from));
    }
    match args.format {
        OutputFormat::Json => println!("{}", serde_json::to_string_pretty(&rows)?),
        OutputFormat::Table => {
            let mut lines = vec![vec![
                "Plan".to_owned(),
                "Kind".to_owned(),
                "Done".to_owned(),
                "Total".to_owned(),
                "Done %".to_owned(),
            ]];
            let rounding = Rounding::from(args.rounding);
            for row in &rows {
                lines.push(vec![
                    row.name.clone(),
                    row.kind.clone(),
                    row.done.to_string(),
                    row.total.to_string(),
                    percent_text(row.done, row.total, rounding, false),
                ]);
            }
            print!("{}", render_table(&lines));
            println!("{}", rounding_line(rounding));
        }
    }
    Ok(())
}

fn plan_kind(kind: PlanKindArg) -> PlanKind {
    match kind {
        PlanKindArg::KeyTasks => PlanKind::KeyTasks,
        PlanKindArg::LegalDocuments => PlanKind::LegalDocuments,
        PlanKindArg::AnnualWorkPlan => PlanKind::AnnualWorkPlan,
        PlanKindArg::Other => PlanKind::Other,
    }
}

#[derive(Debug, Serialize)]
pub struct PlanRow {
    pub id: String,
    pub name: String,
    pub kind: String,
    pub period: [String; 2],
    pub done: i64,
    pub total: i64,
}

impl From<&v1::PlanProgressRow> for PlanRow {
    fn from(row: &v1::PlanProgressRow) -> Self {
        let plan = row.plan.clone().unwrap_or_default();
        let period = plan.period.as_ref();
        Self {
            kind: plan
                .kind()
                .as_str_name()
                .trim_start_matches("PLAN_KIND_")
                .to_owned(),
            period: [
                show_date(period.and_then(|p| p.start.as_ref())),
                show_date(period.and_then(|p| p.end.as_ref())),
            ],
            id: plan.id,
            name: plan.name,
            done: row.done,
            total: row.total,
        }
    }
}
