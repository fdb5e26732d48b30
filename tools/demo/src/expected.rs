//! The figures a correct reporting service must give for a data set,
//! counted independently: straight from the requests, through the domain's
//! `TaskTimeline`, with no database in between. End-to-end tests compare the
//! reporting service's answers with these.

use std::collections::{BTreeMap, HashMap};

use chrono::NaiveDate;
use tasknet_domain::{
    DatePeriod, FieldError, TaskTimeline, TimelineEvent, date_from_proto, timestamp_from_proto,
    vietnam_date,
};
use tasknet_proto::v1::{self, UnitCategory, update_task_request::Change};

use crate::generate::{DemoDataset, DemoError, DemoTask};
use crate::spec::ClassCounts;

/// Tasks assigned in a period (up to the as-of day), by status class as of that day.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExpectedCounts {
    pub period: DatePeriod,
    pub as_of: NaiveDate,
    pub national: ClassCounts,
    pub by_category: BTreeMap<UnitCategory, ClassCounts>,
    /// By the assignee's `region_code` (empty for units without one).
    pub by_region: BTreeMap<String, ClassCounts>,
    /// By assignee unit id.
    pub by_unit: BTreeMap<String, ClassCounts>,
}

/// A plan's expected progress as of a date.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExpectedPlanProgress {
    pub plan_id: String,
    pub name: String,
    pub kind: v1::PlanKind,
    /// Members completed as of the date.
    pub done: u64,
    /// Members assigned on or before the date.
    pub total: u64,
}

/// A task as the reports see it: assigned date, assignee, plans, timeline.
struct Parsed<'a> {
    assigned: NaiveDate,
    assignee: &'a str,
    plan_ids: &'a [String],
    timeline: TaskTimeline,
}

fn malformed(task: &DemoTask, error: FieldError) -> DemoError {
    DemoError::Malformed {
        task_id: task.create.task_id.clone(),
        field: error.field.clone(),
        message: error.to_string(),
    }
}

fn parse(task: &DemoTask) -> Result<Parsed<'_>, DemoError> {
    let new_task = task
        .create
        .task
        .as_ref()
        .ok_or_else(|| malformed(task, FieldError::missing("task")))?;
    let assigned = date_from_proto("task.assigned_date", new_task.assigned_date.as_ref())
        .map_err(|e| malformed(task, e))?;
    let deadline = date_from_proto("task.deadline", new_task.deadline.as_ref())
        .map_err(|e| malformed(task, e))?;
    let mut timeline = TaskTimeline::new(deadline);
    for update in &task.updates {
        let effective = timestamp_from_proto("effective_time", update.effective_time.as_ref())
            .map(vietnam_date)
            .map_err(|e| malformed(task, e))?;
        let event = match &update.change {
            Some(Change::DeadlineChange(change)) => TimelineEvent::DeadlineChanged {
                effective,
                deadline: date_from_proto(
                    "deadline_change.new_deadline",
                    change.new_deadline.as_ref(),
                )
                .map_err(|e| malformed(task, e))?,
            },
            Some(Change::Complete(_)) => TimelineEvent::Completed { effective },
            Some(Change::Reopen(_)) => TimelineEvent::Reopened { effective },
            Some(Change::Note(_)) | None => continue,
        };
        timeline.events.push(event);
    }
    Ok(Parsed {
        assigned,
        assignee: &new_task.assignee_unit_id,
        plan_ids: &new_task.plan_ids,
        timeline,
    })
}

/// Counts the tasks assigned in `period` and on or before `as_of` (tasks do
/// not exist before they are assigned) by their class as of the end of
/// `as_of`, nationally and per category, region and unit of the assignee.
/// Units not in `units` count nationally and under `UNSPECIFIED` / "".
pub fn expected_breakdown(
    dataset: &DemoDataset,
    units: &[v1::Unit],
    period: DatePeriod,
    as_of: NaiveDate,
) -> Result<ExpectedCounts, DemoError> {
    let by_id: HashMap<&str, &v1::Unit> = units.iter().map(|u| (u.id.as_str(), u)).collect();
    let mut counts = ExpectedCounts {
        period,
        as_of,
        national: ClassCounts::default(),
        by_category: BTreeMap::new(),
        by_region: BTreeMap::new(),
        by_unit: BTreeMap::new(),
    };
    for task in &dataset.tasks {
        let parsed = parse(task)?;
        if !period.contains(parsed.assigned) || parsed.assigned > as_of {
            continue;
        }
        let class = parsed.timeline.classify(as_of);
        let unit = by_id.get(parsed.assignee);
        let category = unit
            .and_then(|u| UnitCategory::try_from(u.category).ok())
            .unwrap_or(UnitCategory::Unspecified);
        let region = unit.map(|u| u.region_code.clone()).unwrap_or_default();
        counts.national.add(class);
        counts.by_category.entry(category).or_default().add(class);
        counts.by_region.entry(region).or_default().add(class);
        counts
            .by_unit
            .entry(parsed.assignee.to_owned())
            .or_default()
            .add(class);
    }
    Ok(counts)
}

/// Every plan of the data set, in order, with its members assigned on or
/// before `as_of` and those of them completed as of `as_of`.
pub fn expected_plan_progress(
    dataset: &DemoDataset,
    as_of: NaiveDate,
) -> Result<Vec<ExpectedPlanProgress>, DemoError> {
    let mut progress: Vec<ExpectedPlanProgress> = dataset
        .plans
        .iter()
        .map(|request| {
            let plan = request.plan.clone().unwrap_or_default();
            ExpectedPlanProgress {
                plan_id: request.plan_id.clone(),
                name: plan.name,
                kind: v1::PlanKind::try_from(plan.kind).unwrap_or(v1::PlanKind::Unspecified),
                done: 0,
                total: 0,
            }
        })
        .collect();
    let index: HashMap<String, usize> = progress
        .iter()
        .enumerate()
        .map(|(i, p)| (p.plan_id.clone(), i))
        .collect();
    for task in &dataset.tasks {
        let parsed = parse(task)?;
        if parsed.assigned > as_of {
            continue;
        }
        let done = parsed.timeline.state_as_of(as_of).completed_on.is_some();
        for plan_id in parsed.plan_ids {
            if let Some(&i) = index.get(plan_id) {
                progress[i].total += 1;
                progress[i].done += u64::from(done);
            }
        }
    }
    Ok(progress)
}
