//! The key correctness test: a few hundred random tasks with completions,
//! reopenings and deadline changes whose effective dates arrive out of
//! order, applied in random batches (with re-deliveries), must give exactly
//! the counts of an independent computation with `TaskTimeline::classify`.

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::NaiveDate;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use tasknet_domain::{DatePeriod, TaskTimeline, TimelineEvent, date_to_proto, previous_year_date};
use tasknet_proto::v1::{self, GroupBy, PlanKind, TaskEventKind, UnitCategory};
use tasknet_storage::testing::TestDatabase;
use tokio::sync::watch;

use super::{TaskSpec, created, open, plan_created, updated, ymd};
use crate::catalog::Catalog;
use crate::counts::StatusCounts;
use crate::reports::Reports;
use crate::store::ReadModel;

/// A unit that tasks are assigned to but the organisation service does not know.
const GHOST_UNIT: &str = "0190ffff-0000-7000-8000-00000000dead";

fn unit(id: &str, category: UnitCategory, code: &str, region: &str) -> v1::Unit {
    v1::Unit {
        id: id.into(),
        category: category as i32,
        code: code.into(),
        name_vi: format!("Đơn vị {code}"),
        name_en: format!("Unit {code}"),
        region_code: region.into(),
        ..Default::default()
    }
}

pub(super) fn catalog() -> Catalog {
    use UnitCategory::*;
    let units = vec![
        unit("u-hq", Headquarters, "TCTK", ""),
        unit("u-c1", CentralDepartment, "TH", ""),
        unit("u-c2", CentralDepartment, "CN", ""),
        unit("u-s1", PublicServiceUnit, "VKH", ""),
        unit("u-s2", PublicServiceUnit, "CD1", ""),
        unit("u-p01", ProvincialOffice, "01", "RRD"),
        unit("u-p31", ProvincialOffice, "31", "RRD"),
        unit("u-p02", ProvincialOffice, "02", "NMM"),
        unit("u-p79", ProvincialOffice, "79", "SE"),
        unit("u-p92", ProvincialOffice, "92", "MKD"),
    ];
    let region = |code: &str, en: &str| v1::Region {
        code: code.into(),
        name_vi: format!("Vùng {code}"),
        name_en: en.into(),
    };
    let regions = vec![
        region("RRD", "Red River Delta"),
        region("NMM", "Northern Midlands and Mountains"),
        region("SE", "South East"),
        region("MKD", "Mekong River Delta"),
    ];
    Catalog::from_units(units, regions)
}

fn assignees() -> Vec<String> {
    let mut ids: Vec<String> = ["u-hq", "u-c1", "u-c2", "u-s1", "u-s2", "u-p01", "u-p31"]
        .iter()
        .chain(["u-p02", "u-p79", "u-p92", GHOST_UNIT].iter())
        .map(|s| (*s).to_owned())
        .collect();
    // Provincial offices carry most of the work, as in the real system.
    ids.extend(["u-p01", "u-p79", "u-p92"].iter().map(|s| (*s).to_owned()));
    ids
}

struct Plan {
    id: String,
    kind: PlanKind,
    period: DatePeriod,
}

/// The generated history: the change log and, per task, its timeline.
pub(super) struct Model {
    pub log: Vec<v1::Change>,
    pub tasks: Vec<(TaskSpec, TaskTimeline)>,
    plans: Vec<Plan>,
}

fn day_after(date: NaiveDate, days: u64) -> NaiveDate {
    date + chrono::Days::new(days)
}

fn plans() -> Vec<Plan> {
    let plan = |n: u32, kind, label: &str| Plan {
        id: format!("0190aaaa-0000-7000-8000-{n:012x}"),
        kind,
        period: DatePeriod::parse(label).unwrap(),
    };
    vec![
        plan(1, PlanKind::KeyTasks, "2024-H1"),
        plan(2, PlanKind::LegalDocuments, "2024"),
        plan(3, PlanKind::AnnualWorkPlan, "2024"),
        plan(4, PlanKind::KeyTasks, "2023-H2"),
        plan(5, PlanKind::KeyTasks, "2024-H2"),
    ]
}

fn new_task(rng: &mut ChaCha8Rng, n: usize, plans: &[Plan]) -> TaskSpec {
    let units = assignees();
    let assigned = day_after(ymd(2023, 1, 1), rng.random_range(0..730));
    let member_of = plans
        .iter()
        .filter(|_| rng.random_bool(0.25))
        .map(|plan| plan.id.clone())
        .collect();
    TaskSpec {
        id: format!("0190{n:04x}-0000-7000-8000-{n:012x}"),
        assignee: units[rng.random_range(0..units.len())].clone(),
        assigned,
        deadline: day_after(assigned, rng.random_range(0..=90)),
        plans: member_of,
    }
}

/// A random update of `task`: its log entry and what it does to the timeline.
fn random_update(
    rng: &mut ChaCha8Rng,
    cursor: i64,
    task: &TaskSpec,
) -> (v1::Change, Option<TimelineEvent>) {
    // Effective dates anywhere in the task's life, so they arrive out of order.
    let effective = day_after(task.assigned, rng.random_range(0..=240));
    let roll = rng.random_range(0..100);
    let (kind, event, new_deadline) = if roll < 35 {
        let event = TimelineEvent::Completed { effective };
        (TaskEventKind::Completed, Some(event), None)
    } else if roll < 55 {
        let event = TimelineEvent::Reopened { effective };
        (TaskEventKind::Reopened, Some(event), None)
    } else if roll < 85 {
        let deadline = day_after(task.assigned, rng.random_range(0..=150));
        let event = TimelineEvent::DeadlineChanged {
            effective,
            deadline,
        };
        (TaskEventKind::DeadlineChanged, Some(event), Some(deadline))
    } else {
        (TaskEventKind::Note, None, None)
    };
    (updated(cursor, task, kind, effective, new_deadline), event)
}

pub(super) fn generate(seed: u64, task_count: usize, steps: usize) -> Model {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let plans = plans();
    let mut log = Vec::new();
    let mut cursor = 0;
    for (n, plan) in plans.iter().enumerate() {
        cursor += 1;
        let name = format!("plan {n}");
        let (start, end) = (plan.period.start, plan.period.end);
        log.push(plan_created(cursor, &plan.id, &name, plan.kind, start, end));
    }
    let mut tasks: Vec<(TaskSpec, TaskTimeline)> = Vec::new();
    for _ in 0..steps {
        cursor += 1;
        let create = tasks.len() < task_count && (tasks.is_empty() || rng.random_bool(0.3));
        if create {
            let task = new_task(&mut rng, tasks.len(), &plans);
            log.push(created(cursor, &task));
            let timeline = TaskTimeline::new(task.deadline);
            tasks.push((task, timeline));
        } else {
            let index = rng.random_range(0..tasks.len());
            let (task, timeline) = &mut tasks[index];
            let (change, event) = random_update(&mut rng, cursor, task);
            log.push(change);
            timeline.events.extend(event);
        }
    }
    Model { log, tasks, plans }
}

/// Applies the log in random batches, some of them re-delivering entries
/// already applied, as a reconnecting follower would.
pub(super) async fn apply_in_random_batches(store: &ReadModel, log: &[v1::Change], seed: u64) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut position = 0;
    while position < log.len() {
        let start = if rng.random_bool(0.3) {
            position.saturating_sub(rng.random_range(1..=10))
        } else {
            position
        };
        let end = (position + rng.random_range(1..=80)).min(log.len());
        let cursor = store.apply_batch(&log[start..end]).await.unwrap();
        assert_eq!(cursor, log[end - 1].cursor);
        position = end;
    }
}

/// The group key a task falls into, computed without the breakdown module.
pub(super) fn expected_key(group_by: GroupBy, catalog: &Catalog, unit_id: &str) -> Option<String> {
    let unit = catalog.unit(unit_id);
    match (group_by, unit) {
        (GroupBy::None, _) => None,
        (GroupBy::Unit, _) => Some(unit_id.to_owned()),
        (_, None) => Some("unknown".into()),
        (GroupBy::UnitCategory, Some(unit)) => Some(
            UnitCategory::try_from(unit.category)
                .unwrap()
                .as_str_name()
                .to_owned(),
        ),
        (GroupBy::Region, Some(unit)) if unit.region_code.is_empty() => Some("none".into()),
        (_, Some(unit)) => Some(unit.region_code.clone()),
    }
}

/// Counts per group key ("" for the national total) by direct classification.
fn independent_count(
    model: &Model,
    catalog: &Catalog,
    group_by: GroupBy,
    period: DatePeriod,
    as_of: NaiveDate,
) -> BTreeMap<String, StatusCounts> {
    let mut counts: BTreeMap<String, StatusCounts> = BTreeMap::new();
    for (task, timeline) in &model.tasks {
        if !period.contains(task.assigned) || task.assigned > as_of {
            continue;
        }
        let class = timeline.classify(as_of);
        counts.entry(String::new()).or_default().add(class);
        if let Some(key) = expected_key(group_by, catalog, &task.assignee) {
            counts.entry(key).or_default().add(class);
        }
    }
    counts
}

fn from_proto(counts: Option<&v1::StatusCounts>) -> StatusCounts {
    let counts = counts.unwrap();
    let parsed = StatusCounts {
        completed_on_time: counts.completed_on_time,
        completed_late: counts.completed_late,
        open_within_deadline: counts.open_within_deadline,
        open_overdue: counts.open_overdue,
    };
    assert_eq!(
        parsed.total(),
        counts.total,
        "total is the sum of the classes"
    );
    parsed
}

/// Splits a response into (current, previous) counts per group key.
fn actual_counts(
    response: &v1::StatusBreakdownResponse,
) -> (
    BTreeMap<String, StatusCounts>,
    BTreeMap<String, StatusCounts>,
) {
    let national = response.national.as_ref().unwrap();
    let mut current = BTreeMap::new();
    let mut previous = BTreeMap::new();
    for row in response.rows.iter().chain([national]) {
        let (now, before) = (
            from_proto(row.current.as_ref()),
            from_proto(row.previous.as_ref()),
        );
        // A group with no tasks in one of the two periods appears in the other only.
        if now.total() > 0 {
            current.insert(row.group_key.clone(), now);
        }
        if before.total() > 0 {
            previous.insert(row.group_key.clone(), before);
        }
    }
    (current, previous)
}

fn breakdown_questions() -> Vec<(v1::Period, NaiveDate)> {
    let label = |text: &str| v1::Period {
        kind: Some(v1::period::Kind::Label(text.into())),
    };
    let range = v1::Period {
        kind: Some(v1::period::Kind::Range(v1::DateRange {
            start: Some(date_to_proto(ymd(2023, 6, 15))),
            end: Some(date_to_proto(ymd(2024, 2, 10))),
        })),
    };
    vec![
        (label("2024-H1"), ymd(2024, 6, 30)),
        (label("2024"), ymd(2024, 9, 15)),
        (label("2024-Q3"), ymd(2024, 8, 1)),
        (label("2023"), ymd(2023, 12, 31)),
        (label("2024-03"), ymd(2025, 2, 1)),
        // The first day of a period (a day earlier is refused: nothing to count).
        (label("2024-H2"), ymd(2024, 7, 1)),
        (range, ymd(2024, 1, 20)),
    ]
}

async fn check_breakdowns(reports: &Reports<Catalog>, model: &Model, catalog: &Catalog) {
    let groupings = [
        GroupBy::None,
        GroupBy::UnitCategory,
        GroupBy::Region,
        GroupBy::Unit,
    ];
    let mut checked_tasks = 0;
    for (period, as_of) in breakdown_questions() {
        let parsed = DatePeriod::from_proto("period", Some(&period)).unwrap();
        for group_by in groupings {
            let request = v1::StatusBreakdownRequest {
                basis: v1::ReportBasis::Unspecified as i32,
                period: Some(period.clone()),
                as_of: Some(date_to_proto(as_of)),
                group_by: group_by as i32,
                min_cursor: 0,
            };
            let response = reports
                .status_breakdown(&request, Duration::from_secs(1))
                .await
                .unwrap();
            let (current, previous) = actual_counts(&response);
            let expected = independent_count(model, catalog, group_by, parsed, as_of);
            let what = format!("{period:?} as of {as_of}, {group_by:?}");
            assert_eq!(current, expected, "current figures for {what}");
            let (before, before_as_of) = (parsed.previous_year(), previous_year_date(as_of));
            let expected = independent_count(model, catalog, group_by, before, before_as_of);
            assert_eq!(previous, expected, "previous-year figures for {what}");
            checked_tasks += expected.get("").map_or(0, StatusCounts::total);
        }
    }
    assert!(checked_tasks > 100, "the questions must cover many tasks");
}

async fn check_plans(reports: &Reports<Catalog>, model: &Model) {
    for as_of in [
        ymd(2024, 3, 31),
        ymd(2024, 6, 30),
        ymd(2024, 12, 31),
        ymd(2025, 3, 1),
    ] {
        for plan in &model.plans {
            let members = model
                .tasks
                .iter()
                .filter(|(task, _)| task.plans.contains(&plan.id) && task.assigned <= as_of);
            let total = members.clone().count() as i64;
            let done = members
                .filter(|(_, timeline)| timeline.state_as_of(as_of).completed_on.is_some())
                .count() as i64;
            let request = v1::PlanProgressRequest {
                selector: Some(v1::plan_progress_request::Selector::PlanId(plan.id.clone())),
                as_of: Some(date_to_proto(as_of)),
                min_cursor: 0,
            };
            let response = reports
                .plan_progress(&request, Duration::ZERO)
                .await
                .unwrap();
            let row = &response.plans[0];
            assert_eq!(
                (row.done, row.total),
                (done, total),
                "plan {} as of {as_of}",
                plan.id
            );
        }
    }
    // By kind: key-task plans overlapping 2024 are the two halves of 2024;
    // with no kind, every plan overlapping 2024, by kind.
    let of_kind = |kind: PlanKind| v1::PlanProgressRequest {
        selector: Some(v1::plan_progress_request::Selector::PlansOfKind(
            v1::PlansOfKind {
                kind: kind as i32,
                period: Some(v1::Period {
                    kind: Some(v1::period::Kind::Label("2024".into())),
                }),
            },
        )),
        as_of: Some(date_to_proto(ymd(2024, 12, 31))),
        min_cursor: 0,
    };
    for (kind, expected) in [
        (PlanKind::KeyTasks, vec![0, 4]),
        (PlanKind::Unspecified, vec![0, 4, 1, 2]),
    ] {
        let response = reports
            .plan_progress(&of_kind(kind), Duration::ZERO)
            .await
            .unwrap();
        let ids: Vec<&str> = response
            .plans
            .iter()
            .map(|row| row.plan.as_ref().unwrap().id.as_str())
            .collect();
        let expected: Vec<&str> = expected
            .iter()
            .map(|&i| model.plans[i].id.as_str())
            .collect();
        assert_eq!(ids, expected, "{kind:?}");
        assert!(response.plans[0].total > 0);
    }
}

/// The summary's plan rows are PlanProgress's, one per plan; its kind totals
/// count each task once, though many tasks are in two plans of a kind.
async fn check_summary_plans(reports: &Reports<Catalog>, model: &Model) {
    for (label, as_of) in [("2024-H1", ymd(2024, 6, 30)), ("2024", ymd(2024, 12, 31))] {
        let request = v1::ReportSummaryRequest {
            period: Some(v1::Period {
                kind: Some(v1::period::Kind::Label(label.into())),
            }),
            as_of: Some(date_to_proto(as_of)),
            format: v1::SummaryFormat::Json as i32,
            ..Default::default()
        };
        let response = reports
            .report_summary(&request, Duration::ZERO)
            .await
            .unwrap();
        let json: serde_json::Value = serde_json::from_str(&response.body).unwrap();
        let rows = json["figures"]["plans"].as_array().unwrap();
        let period = DatePeriod::parse(label).unwrap();
        let overlapping: Vec<&Plan> = model
            .plans
            .iter()
            .filter(|p| p.period.start <= period.end && p.period.end >= period.start)
            .collect();
        assert_eq!(
            rows.len(),
            overlapping.len(),
            "one row per plan for {label}"
        );
        for row in rows {
            let id = row["id"].as_str().unwrap();
            let request = v1::PlanProgressRequest {
                selector: Some(v1::plan_progress_request::Selector::PlanId(id.into())),
                as_of: Some(date_to_proto(as_of)),
                min_cursor: 0,
            };
            let progress = reports
                .plan_progress(&request, Duration::ZERO)
                .await
                .unwrap();
            let expected = &progress.plans[0];
            assert_eq!(
                (row["done"].as_i64(), row["total"].as_i64()),
                (Some(expected.done), Some(expected.total)),
                "plan {id} in the summary of {label}"
            );
        }
        for kind_row in json["figures"]["plan_kinds"].as_array().unwrap() {
            let kind = PlanKind::from_str_name(kind_row["kind"].as_str().unwrap()).unwrap();
            let ids: Vec<&str> = overlapping
                .iter()
                .filter(|p| p.kind == kind)
                .map(|p| p.id.as_str())
                .collect();
            let members: Vec<_> = model
                .tasks
                .iter()
                .filter(|(task, _)| {
                    task.assigned <= as_of && task.plans.iter().any(|p| ids.contains(&p.as_str()))
                })
                .collect();
            let done = members
                .iter()
                .filter(|(_, timeline)| timeline.state_as_of(as_of).completed_on.is_some())
                .count() as i64;
            assert_eq!(
                (kind_row["done"].as_i64(), kind_row["total"].as_i64()),
                (Some(done), Some(members.len() as i64)),
                "{kind:?} in {label}"
            );
            let summed: i64 = rows
                .iter()
                .filter(|row| row["kind"] == kind_row["kind"])
                .map(|row| row["total"].as_i64().unwrap())
                .sum();
            if ids.len() > 1 {
                assert!(summed > members.len() as i64, "tasks in two {kind:?} plans");
            }
        }
    }
}

async fn random_timelines_match_an_independent_count(db: TestDatabase) {
    let model = generate(20_240_630, 300, 1_500);
    let store = open(&db).await;
    apply_in_random_batches(&store, &model.log, 7).await;
    let last = model.log.last().unwrap().cursor;
    assert_eq!(store.sync_state().await.unwrap().0, last);

    let catalog = catalog();
    let (_sender, applied) = watch::channel(last);
    let reports = Reports::new(store.clone(), catalog.clone(), applied);
    check_breakdowns(&reports, &model, &catalog).await;
    check_plans(&reports, &model).await;
    check_summary_plans(&reports, &model).await;
    store.close().await;
}

tasknet_storage::test_on_both_backends!(random_timelines_match_an_independent_count);
