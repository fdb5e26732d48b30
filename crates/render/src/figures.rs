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

/// Progress of one plan as of the report date.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PlanFigures {
    #[serde(serialize_with = "plan_kind_name")]
    pub kind: PlanKind,
    pub name: String,
    pub done: i64,
    pub total: i64,
    /// Titles of the completed tasks, for plans the report lists one by one
    /// (key tasks).
    pub done_titles: Vec<String>,
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
    pub plans: Vec<PlanFigures>,
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
