//! `tasknet report …`: queries the reporting service and prints the figures
//! as an aligned table (Vietnamese group names first) or as JSON.

use anyhow::Context;
use serde::Serialize;
use tasknet_domain::date_to_proto;
use tasknet_proto::v1::reporting_service_client::ReportingServiceClient;
use tasknet_proto::v1::{self, GroupBy, PlanKind};

use crate::cli::{
    GroupByArg, LanguageArg, PlanKindArg, PlansArgs, ReportCommand, RoundingArg, StatusArgs,
    SummaryArgs, SummaryFormatArg,
};
use crate::connect::{EndpointArgs, channel};
use crate::output::{OutputFormat, render_table, show_date};

pub async fn run(command: ReportCommand) -> anyhow::Result<()> {
    match command {
        ReportCommand::Status(args) => status(args).await,
        ReportCommand::Plans(args) => plans(args).await,
        ReportCommand::Summary(args) => summary(args).await,
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

async fn client(
    endpoint: &EndpointArgs,
) -> anyhow::Result<ReportingServiceClient<tasknet_server::TracedChannel>> {
    let channel =
        channel(endpoint).with_context(|| format!("cannot connect to {}", endpoint.endpoint))?;
    Ok(ReportingServiceClient::new(channel))
}

fn period(label: &str) -> v1::Period {
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
    let report = StatusReport::from(&response);
    match args.format {
        OutputFormat::Json => println!("{}", serde_json::to_string_pretty(&report)?),
        OutputFormat::Table => print!("{}", report.table()),
    }
    Ok(())
}

/// The JSON form of a status breakdown: every count exact, shares derived.
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
}

#[derive(Debug, Clone, Serialize)]
pub struct StatusRow {
    pub key: String,
    pub code: String,
    pub name_vi: String,
    pub name_en: String,
    pub current: Counts,
    pub previous: Counts,
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

impl Counts {
    fn share(&self, count: i64) -> String {
        if self.total == 0 {
            "-".to_owned()
        } else {
            format!("{:.2}%", count as f64 * 100.0 / self.total as f64)
        }
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

impl From<&v1::BreakdownRow> for StatusRow {
    fn from(row: &v1::BreakdownRow) -> Self {
        Self {
            key: row.group_key.clone(),
            code: row.group_code.clone(),
            name_vi: row.group_name_vi.clone(),
            name_en: row.group_name_en.clone(),
            current: row.current.as_ref().into(),
            previous: row.previous.as_ref().into(),
            total_change_percent: row.total_change_percent,
            restated_unit_ids: row.restated_unit_ids.clone(),
            valid_to: show_date(row.group_valid_to.as_ref()),
        }
    }
}

impl From<&v1::StatusBreakdownResponse> for StatusReport {
    fn from(response: &v1::StatusBreakdownResponse) -> Self {
        let range = |range: Option<&v1::DateRange>| {
            [
                show_date(range.and_then(|r| r.start.as_ref())),
                show_date(range.and_then(|r| r.end.as_ref())),
            ]
        };
        Self {
            period: range(response.period.as_ref()),
            as_of: show_date(response.as_of.as_ref()),
            previous_period: range(response.previous_period.as_ref()),
            previous_as_of: show_date(response.previous_as_of.as_ref()),
            rows: response.rows.iter().map(StatusRow::from).collect(),
            national: response
                .national
                .as_ref()
                .map(StatusRow::from)
                .unwrap_or_else(|| StatusRow::from(&v1::BreakdownRow::default())),
            applied_cursor: response.applied_cursor,
            basis: response
                .basis()
                .as_str_name()
                .trim_start_matches("REPORT_BASIS_")
                .to_owned(),
            structure_date: show_date(response.structure_date.as_ref()),
        }
    }
}

impl StatusReport {
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
            lines.push(vec![
                label,
                row.current.total.to_string(),
                row.current.share(row.current.completed_on_time),
                row.current.share(row.current.completed_late),
                row.current.share(row.current.open_within_deadline),
                row.current.share(row.current.open_overdue),
                row.previous.total.to_string(),
                row.total_change_percent
                    .map_or_else(|| "-".to_owned(), |p| format!("{p:+.2}%")),
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
        out
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
    let selector = match (&args.plan_id, args.kind) {
        (Some(plan_id), _) => Selector::PlanId(plan_id.clone()),
        (None, kind) => Selector::PlansOfKind(v1::PlansOfKind {
            kind: kind.map_or(PlanKind::Unspecified, plan_kind) as i32,
            period: args.period.as_deref().map(period),
        }),
    };
    let request = v1::PlanProgressRequest {
        selector: Some(selector),
        as_of: Some(date_to_proto(args.as_of)),
        min_cursor: 0,
    };
    let response = client(&args.endpoint)
        .await?
        .plan_progress(request)
        .await
        .context("PlanProgress failed")?
        .into_inner();
    let rows: Vec<PlanRow> = response.plans.iter().map(PlanRow::from).collect();
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
            for row in &rows {
                let share = if row.total == 0 {
                    "-".to_owned()
                } else {
                    format!("{:.2}%", row.done as f64 * 100.0 / row.total as f64)
                };
                lines.push(vec![
                    row.name.clone(),
                    row.kind.clone(),
                    row.done.to_string(),
                    row.total.to_string(),
                    share,
                ]);
            }
            print!("{}", render_table(&lines));
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
