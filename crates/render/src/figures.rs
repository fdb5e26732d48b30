//! The figures a summary report is made of, independent of where they came from.

use chrono::NaiveDate;
use serde::Serialize;
use tasknet_domain::DatePeriod;
use tasknet_proto::v1::{PlanKind, UnitCategory};

/// The four-way split of a set of tasks as of a date.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct StatusFigures {
    pub total: i64,
    pub completed_on_time: i64,
    pub completed_late: i64,
    pub open_within_deadline: i64,
    pub open_overdue: i64,
}

/// Tasks of one unit category, now and in the same period a year earlier.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CategoryFigures {
    #[serde(serialize_with = "category_name")]
    pub category: UnitCategory,
    pub current: StatusFigures,
    pub previous: StatusFigures,
}

/// Progress of one plan as of the report date: one row per plan, never a
/// sum over several.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PlanFigures {
    pub id: String,
    #[serde(serialize_with = "plan_kind_name")]
    pub kind: PlanKind,
    pub name: String,
    #[serde(serialize_with = "period")]
    pub period: DatePeriod,
    /// Owned by the central agency (the headquarters unit): the annual work
    /// plan the report quotes is the central agency's.
    pub central: bool,
    pub done: i64,
    pub total: i64,
    /// Titles of the completed tasks, for plans the report lists one by one
    /// (key tasks).
    pub done_titles: Vec<String>,
}

/// The plans of one kind overlapping the period taken together: each task
/// counted once, however many of those plans it belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct PlanKindFigures {
    #[serde(serialize_with = "plan_kind_name")]
    pub kind: PlanKind,
    /// How many plans of the kind overlap the period.
    pub plans: i64,
    /// Distinct tasks of those plans completed as of the date.
    pub done: i64,
    /// Distinct tasks of those plans assigned on or before the date.
    pub total: i64,
}

/// The structure of units the figures are stated on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Basis {
    /// The units in force on the as-of date; the year-earlier figures of
    /// units reorganised since are counted under their successors.
    CurrentStructure,
    /// The units as they were in each period.
    HistoricalStructure,
}

/// Everything a half-year review report states.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SummaryFigures {
    #[serde(serialize_with = "period")]
    pub period: DatePeriod,
    pub as_of: NaiveDate,
    #[serde(serialize_with = "period")]
    pub previous_period: DatePeriod,
    pub previous_as_of: NaiveDate,
    pub national: StatusFigures,
    pub national_previous: StatusFigures,
    /// In the order the report names them.
    pub categories: Vec<CategoryFigures>,
    /// One row per plan of a reported kind overlapping the period.
    pub plans: Vec<PlanFigures>,
    /// Per reported kind, the distinct tasks of its plans.
    pub plan_kinds: Vec<PlanKindFigures>,
    /// The name of the task system as the report calls it.
    pub system_name: String,
    /// Caveats printed with the figures (e.g. a figure that cannot match its source).
    pub notes: Vec<String>,
    /// The structure of units the figures are stated on (always printed).
    pub basis: Basis,
}

fn category_name<S: serde::Serializer>(category: &UnitCategory, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(category.as_str_name())
}

fn plan_kind_name<S: serde::Serializer>(kind: &PlanKind, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(kind.as_str_name())
}

fn period<S: serde::Serializer>(period: &DatePeriod, s: S) -> Result<S::Ok, S::Error> {
    use serde::ser::SerializeStruct;
    let mut out = s.serialize_struct("Period", 2)?;
    out.serialize_field("start", &period.start)?;
    out.serialize_field("end", &period.end)?;
    out.end()
}

/// The plan a sentence about `kind` is about, among `plans`: the key-task
/// plan of the report's period (the half-year), the legal-document
/// programme and the central agency's annual work plan of its year. A plan
/// covering exactly that span wins, then the shortest plan covering it,
/// then the one overlapping it most; names and ids break ties.
pub fn headline_plan(
    plans: &[PlanFigures],
    kind: PlanKind,
    period: DatePeriod,
) -> Option<&PlanFigures> {
    use chrono::Datelike;
    let target = match kind {
        PlanKind::KeyTasks => period,
        _ => {
            let year = period.start.year();
            DatePeriod {
                start: NaiveDate::from_ymd_opt(year, 1, 1).unwrap_or(period.start),
                end: NaiveDate::from_ymd_opt(year, 12, 31).unwrap_or(period.end),
            }
        }
    };
    let of_kind = plans.iter().filter(|plan| plan.kind == kind);
    let central_only =
        kind == PlanKind::AnnualWorkPlan && plans.iter().any(|p| p.kind == kind && p.central);
    of_kind
        .filter(|plan| !central_only || plan.central)
        .min_by_key(|plan| {
            let exact = plan.period == target;
            let covers = plan.period.start <= target.start && plan.period.end >= target.end;
            let length = (plan.period.end - plan.period.start).num_days();
            let overlap =
                (plan.period.end.min(target.end) - plan.period.start.max(target.start)).num_days();
            (
                !exact,
                !covers,
                if covers { length } else { -overlap },
                plan.name.clone(),
                plan.id.clone(),
            )
        })
}
