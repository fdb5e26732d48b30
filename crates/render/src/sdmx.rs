//! SDMX-CSV 2.0 output of a summary: one observation per row, for the data
//! structure documented in `docs/sdmx.md` (dataflow `VN_STAT:DF_TASKS(1.0)`).

use crate::numbers::{Rounding, scaled_percent};
use crate::{Basis, StatusFigures, SummaryFigures};
use tasknet_proto::v1::{PlanKind, UnitCategory};

/// The dataflow every row refers to.
pub const DATAFLOW: &str = "VN_STAT:DF_TASKS(1.0)";

/// Column order: the SDMX-CSV 2.0 leading columns, then the dimensions, the
/// measure, and the attributes.
const HEADER: [&str; 12] = [
    "STRUCTURE",
    "STRUCTURE_ID",
    "ACTION",
    "REF_AREA",
    "UNIT_CATEGORY",
    "PLAN",
    "TASK_STATUS",
    "TRANSFORMATION",
    "TIME_PERIOD",
    "OBS_VALUE",
    "UNIT_MEASURE",
    "COMPARISON_BASIS",
];

/// The code of a basis in the `CL_COMPARISON_BASIS` code list.
pub fn basis_code(basis: Basis) -> &'static str {
    match basis {
        Basis::CurrentStructure => "CUR",
        Basis::HistoricalStructure => "HIS",
    }
}

/// The code of a unit category in the `CL_UNIT_CATEGORY` code list.
pub fn category_code(category: UnitCategory) -> &'static str {
    match category {
        UnitCategory::Unspecified => "_Z",
        UnitCategory::Headquarters => "HQ",
        UnitCategory::CentralDepartment => "CD",
        UnitCategory::PublicServiceUnit => "PSU",
        UnitCategory::ProvincialOffice => "PSO",
    }
}

fn plan_code(kind: PlanKind) -> &'static str {
    match kind {
        PlanKind::Unspecified => "_Z",
        PlanKind::KeyTasks => "KEY",
        PlanKind::LegalDocuments => "LEG",
        PlanKind::AnnualWorkPlan => "AWP",
        PlanKind::Other => "OTH",
    }
}

/// `n / d × 100` as an `OBS_VALUE` with `decimals` places cut by `rounding`
/// (`None` when `d` is 0).
pub fn percent_value(n: i64, d: i64, decimals: u32, rounding: Rounding) -> Option<String> {
    scaled_percent(n, d, decimals, rounding).map(|scaled| {
        let scale = 10_i128.pow(decimals);
        let sign = if scaled < 0 { "-" } else { "" };
        format!(
            "{sign}{}.{:0w$}",
            scaled.abs() / scale,
            scaled.abs() % scale,
            w = decimals as usize
        )
    })
}

struct Row<'a> {
    area: &'a str,
    category: &'a str,
    plan: &'a str,
    status: &'a str,
    transformation: &'a str,
    period: &'a str,
    value: String,
    unit: &'a str,
}

/// The figures as SDMX-CSV 2.0 text. Percentages carry the rounding rule the
/// caller chose and the same decimals the narrative prints; counts are exact.
pub fn sdmx_csv(figures: &SummaryFigures, rounding: Rounding) -> Result<String, csv::Error> {
    let current = figures.period.sdmx_label();
    let previous = figures.previous_period.sdmx_label();
    let mut rows = Vec::new();
    let percent = |n: i64, d: i64, decimals: u32| percent_value(n, d, decimals, rounding);
    let mut totals = vec![("_T", figures.national, figures.national_previous)];
    totals.extend(
        figures
            .categories
            .iter()
            .map(|c| (category_code(c.category), c.current, c.previous)),
    );
    for (category, now, before) in totals {
        for (period, counts) in [(current.as_str(), now), (previous.as_str(), before)] {
            rows.push(Row {
                area: "VN",
                category,
                plan: "_Z",
                status: "_T",
                transformation: "N",
                period,
                value: counts.total.to_string(),
                unit: "TASKS",
            });
        }
        if let Some(growth) = percent(now.total - before.total, before.total, 2) {
            rows.push(Row {
                area: "VN",
                category,
                plan: "_Z",
                status: "_T",
                transformation: "G1",
                period: &current,
                value: growth,
                unit: "PT",
            });
        }
        for (status, count) in status_counts(now) {
            rows.push(Row {
                area: "VN",
                category,
                plan: "_Z",
                status,
                transformation: "N",
                period: &current,
                value: count.to_string(),
                unit: "TASKS",
            });
            if let Some(share) = percent(count, now.total, 2) {
                rows.push(Row {
                    area: "VN",
                    category,
                    plan: "_Z",
                    status,
                    transformation: "SH",
                    period: &current,
                    value: share,
                    unit: "PT",
                });
            }
        }
    }
    // One series per plan kind, each task once (a plan's own figures are in the JSON).
    for plan in &figures.plan_kinds {
        let code = plan_code(plan.kind);
        rows.push(Row {
            area: "VN",
            category: "_T",
            plan: code,
            status: "_T",
            transformation: "N",
            period: &current,
            value: plan.total.to_string(),
            unit: "TASKS",
        });
        rows.push(Row {
            area: "VN",
            category: "_T",
            plan: code,
            status: "C",
            transformation: "N",
            period: &current,
            value: plan.done.to_string(),
            unit: "TASKS",
        });
        if let Some(share) = percent(plan.done, plan.total, 1) {
            rows.push(Row {
                area: "VN",
                category: "_T",
                plan: code,
                status: "C",
                transformation: "SH",
                period: &current,
                value: share,
                unit: "PT",
            });
        }
    }
    let basis = basis_code(figures.basis);
    let mut writer = csv::Writer::from_writer(Vec::new());
    writer.write_record(HEADER)?;
    for row in rows {
        writer.write_record([
            "dataflow",
            DATAFLOW,
            "I",
            row.area,
            row.category,
            row.plan,
            row.status,
            row.transformation,
            row.period,
            &row.value,
            row.unit,
            basis,
        ])?;
    }
    let bytes = writer.into_inner().map_err(|e| e.into_error())?;
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

fn status_counts(counts: StatusFigures) -> [(&'static str, i64); 4] {
    [
        ("CT", counts.completed_on_time),
        ("CL", counts.completed_late),
        ("OW", counts.open_within_deadline),
        ("OO", counts.open_overdue),
    ]
}
