//! Across the 2025 provincial merger, end to end: the demo continuation
//! (H2 2024, H1 2025, the merger applied on 1 July 2025 with the merged
//! offices' open tasks passed on, then H2 2025) pushed through gRPC, and the
//! report for H2 2025 against H2 2024 by province on both bases checked
//! against a count made here, from the requests sent and the merger file
//! alone (not the organisation service's lineage). Also: the reused code 52
//! on each side of the merger, and a second merger refused with nothing
//! changed.

use std::collections::{BTreeMap, HashMap};

use chrono::NaiveDate;
use tasknet_demo::{ClassCounts, ContinuationSpec, DemoDataset, DemoTask};
use tasknet_domain::{
    DatePeriod, TaskTimeline, TimelineEvent, date_from_proto, date_to_proto,
    optional_date_from_proto, timestamp_from_proto, vietnam_date,
};
use tasknet_proto::tonic::Code;
use tasknet_proto::v1::{self, GroupBy, ReportBasis, UnitCategory, update_task_request::Change};

use crate::support::TestSystem;

const MERGER_CSV: &str = include_str!("../../reference/provinces-2025-merger.csv");

fn ymd(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap()
}

/// 2024 province code -> 2025 province code, from the merger file.
fn merged_into() -> HashMap<String, String> {
    MERGER_CSV
        .lines()
        .skip(1)
        .flat_map(|line| {
            let fields: Vec<&str> = line.split(',').collect();
            let new_code = fields[0].to_owned();
            fields[3]
                .split_whitespace()
                .map(move |old| (old.to_owned(), new_code.clone()))
                .collect::<Vec<_>>()
        })
        .collect()
}

/// Who holds which task when, and what reports must count: derived here
/// from the units, the requests and the merger file.
struct Model {
    units: HashMap<String, v1::Unit>,
    /// Old office id -> the office in force from 2025-07-01 (merged ones only).
    successor: HashMap<String, String>,
}

impl Model {
    fn new(units: &[v1::Unit]) -> Self {
        let merged = merged_into();
        let from = |u: &v1::Unit| {
            optional_date_from_proto("", u.valid_from.as_ref())
                .unwrap()
                .unwrap()
        };
        let office_2025: HashMap<&str, &str> = units
            .iter()
            .filter(|u| u.category == UnitCategory::ProvincialOffice as i32)
            .filter(|u| u.valid_to.is_none())
            .map(|u| (u.code.as_str(), u.id.as_str()))
            .collect();
        let mut successor = HashMap::new();
        for unit in units
            .iter()
            .filter(|u| u.category == UnitCategory::ProvincialOffice as i32)
        {
            if from(unit) >= ymd(2025, 7, 1) {
                continue;
            }
            let new_code = &merged[&unit.code];
            let target = office_2025[new_code.as_str()];
            if target != unit.id {
                successor.insert(unit.id.clone(), target.to_owned());
            }
        }
        Self {
            units: units.iter().map(|u| (u.id.clone(), u.clone())).collect(),
            successor,
        }
    }

    fn timeline(task: &DemoTask) -> TaskTimeline {
        let new_task = task.create.task.as_ref().unwrap();
        let deadline = date_from_proto("", new_task.deadline.as_ref()).unwrap();
        let mut timeline = TaskTimeline::new(deadline);
        for update in &task.updates {
            let effective =
                vietnam_date(timestamp_from_proto("", update.effective_time.as_ref()).unwrap());
            let event = match &update.change {
                Some(Change::DeadlineChange(change)) => TimelineEvent::DeadlineChanged {
                    effective,
                    deadline: date_from_proto("", change.new_deadline.as_ref()).unwrap(),
                },
                Some(Change::Complete(_)) => TimelineEvent::Completed { effective },
                Some(Change::Reopen(_)) => TimelineEvent::Reopened { effective },
                _ => continue,
            };
            timeline.events.push(event);
        }
        timeline
    }

    /// The unit holding `task` at the end of `day`: a merged office's task
    /// still open on 30 June 2025 is its successor's from 1 July; one it had
    /// completed by then, from the day it was first reopened after.
    fn holder(&self, task: &DemoTask, timeline: &TaskTimeline, day: NaiveDate) -> String {
        let assignee = task.create.task.as_ref().unwrap().assignee_unit_id.clone();
        let Some(successor) = self.successor.get(&assignee) else {
            return assignee;
        };
        let merger = ymd(2025, 7, 1);
        let passes_on = if timeline
            .state_as_of(ymd(2025, 6, 30))
            .completed_on
            .is_none()
        {
            Some(merger)
        } else {
            timeline
                .events
                .iter()
                .filter_map(|event| match event {
                    TimelineEvent::Reopened { effective } if *effective >= merger => {
                        Some(*effective)
                    }
                    _ => None,
                })
                .min()
        };
        match passes_on {
            Some(from) if day >= from => successor.clone(),
            _ => assignee,
        }
    }

    /// On the current structure of `structure`: the office in force then.
    fn in_force(&self, unit: &str, structure: NaiveDate) -> String {
        match self.successor.get(unit) {
            Some(successor) if structure >= ymd(2025, 7, 1) => successor.clone(),
            _ => unit.to_owned(),
        }
    }

    /// Counts per group of the tasks assigned in `period` (up to `as_of`).
    fn count(
        &self,
        dataset: &DemoDataset,
        period: DatePeriod,
        as_of: NaiveDate,
        group: &dyn Fn(&str) -> String,
    ) -> BTreeMap<String, ClassCounts> {
        let mut counts: BTreeMap<String, ClassCounts> = BTreeMap::new();
        for task in &dataset.tasks {
            let new_task = task.create.task.as_ref().unwrap();
            let assigned = date_from_proto("", new_task.assigned_date.as_ref()).unwrap();
            if !period.contains(assigned) || assigned > as_of {
                continue;
            }
            let timeline = Self::timeline(task);
            let holder = self.holder(task, &timeline, as_of);
            counts
                .entry(group(&holder))
                .or_default()
                .add(timeline.classify(as_of));
        }
        counts
    }
}

/// Expected rows keyed by group: (current, previous) as wire counts.
type Rows = BTreeMap<String, (v1::StatusCounts, v1::StatusCounts)>;

fn expected_rows(
    model: &Model,
    dataset: &DemoDataset,
    basis: ReportBasis,
    group: impl Fn(&v1::Unit) -> String,
) -> Rows {
    let (now, then) = (ymd(2025, 12, 31), ymd(2024, 12, 31));
    let key = |holder: &str| {
        let unit = match basis {
            ReportBasis::HistoricalStructure => holder.to_owned(),
            _ => model.in_force(holder, now),
        };
        group(&model.units[&unit])
    };
    let current = model.count(dataset, DatePeriod::parse("2025-H2").unwrap(), now, &key);
    let previous = model.count(dataset, DatePeriod::parse("2024-H2").unwrap(), then, &key);
    let mut rows = Rows::new();
    for (group, counts) in &current {
        rows.entry(group.clone()).or_default().0 = counts.to_proto();
    }
    for (group, counts) in &previous {
        rows.entry(group.clone()).or_default().1 = counts.to_proto();
    }
    rows
}

async fn breakdown(
    system: &TestSystem,
    group_by: GroupBy,
    basis: ReportBasis,
    cursor: i64,
) -> v1::StatusBreakdownResponse {
    system
        .reporting()
        .status_breakdown(v1::StatusBreakdownRequest {
            period: Some(v1::Period {
                kind: Some(v1::period::Kind::Label("2025-H2".into())),
            }),
            as_of: Some(date_to_proto(ymd(2025, 12, 31))),
            group_by: group_by as i32,
            min_cursor: cursor,
            basis: basis as i32,
        })
        .await
        .unwrap()
        .into_inner()
}

fn actual_rows(response: &v1::StatusBreakdownResponse) -> Rows {
    response
        .rows
        .iter()
        .map(|row| {
            let counts = (
                row.current.unwrap_or_default(),
                row.previous.unwrap_or_default(),
            );
            (row.group_key.clone(), counts)
        })
        .collect()
}

async fn lookup(
    system: &TestSystem,
    code: &str,
    on: NaiveDate,
) -> Result<v1::Unit, tasknet_proto::tonic::Status> {
    let request = v1::LookupUnitRequest {
        code: code.into(),
        on: Some(date_to_proto(on)),
    };
    Ok(system
        .organisation()
        .lookup_unit(request)
        .await?
        .into_inner()
        .unit
        .unwrap())
}

async fn reports_across_the_merger_match_an_independent_count(system: &TestSystem) {
    let loaded = tasknet_demo::load_continuation(
        &system.organisation_endpoint,
        &system.task_endpoint,
        &system.admin,
        &ContinuationSpec::small(),
        |_| {},
    )
    .await
    .unwrap();
    eprintln!("continuation loaded: {loaded}");
    assert!(
        loaded.transferred > 0,
        "some offices' tasks were open on 30 June 2025"
    );
    let dataset = &loaded.load.dataset;
    let model = Model::new(&loaded.load.units);
    assert_eq!(model.successor.len(), 52, "52 offices merged into others");
    let cursor = loaded.load.last_cursor;

    // By province (unit), on both bases.
    let by_unit = |unit: &v1::Unit| unit.id.clone();
    for basis in [
        ReportBasis::HistoricalStructure,
        ReportBasis::CurrentStructure,
    ] {
        let response = breakdown(system, GroupBy::Unit, basis, cursor).await;
        assert_eq!(response.basis, basis as i32);
        let expected = expected_rows(&model, dataset, basis, by_unit);
        assert_eq!(actual_rows(&response), expected, "{basis:?} by unit");
    }
    // By region, and the national totals agree between the bases.
    let by_region = |unit: &v1::Unit| match unit.region_code.as_str() {
        "" => tasknet_reporting::NO_REGION_GROUP.to_owned(),
        code => code.to_owned(),
    };
    let mut nationals = Vec::new();
    for basis in [
        ReportBasis::HistoricalStructure,
        ReportBasis::CurrentStructure,
    ] {
        let response = breakdown(system, GroupBy::Region, basis, cursor).await;
        let expected = expected_rows(&model, dataset, basis, by_region);
        assert_eq!(actual_rows(&response), expected, "{basis:?} by region");
        nationals.push(response.national.unwrap());
    }
    assert_eq!(nationals[0].current, nationals[1].current);
    assert_eq!(nationals[0].previous, nationals[1].previous);

    // Code 52: Bình Định until 30 June 2025, the merged Gia Lai after.
    let binh_dinh = lookup(system, "52", ymd(2025, 6, 30)).await.unwrap();
    let gia_lai = lookup(system, "52", ymd(2025, 7, 1)).await.unwrap();
    assert_eq!(binh_dinh.name_vi, "Cục Thống kê Bình Định");
    assert_eq!(gia_lai.name_vi, "Cục Thống kê Gia Lai");
    assert_ne!(binh_dinh.id, gia_lai.id);
    let historical = breakdown(
        system,
        GroupBy::Unit,
        ReportBasis::HistoricalStructure,
        cursor,
    )
    .await;
    let rows_52: Vec<&v1::BreakdownRow> = historical
        .rows
        .iter()
        .filter(|r| r.group_code == "52")
        .collect();
    assert_eq!(rows_52.len(), 2, "historically, 52 is two units");
    let current = breakdown(system, GroupBy::Unit, ReportBasis::CurrentStructure, cursor).await;
    let row_52 = current.rows.iter().find(|r| r.group_code == "52").unwrap();
    assert_eq!(row_52.group_key, gia_lai.id);
    assert_eq!(
        row_52.restated_unit_ids.len(),
        2,
        "Gia Lai restates old Gia Lai and Bình Định"
    );
    assert!(row_52.restated_unit_ids.contains(&binh_dinh.id));
    let old_rows: i64 = rows_52
        .iter()
        .map(|r| r.previous.unwrap().total)
        .sum::<i64>()
        + historical
            .rows
            .iter()
            .filter(|r| r.group_code == "64")
            .map(|r| r.previous.unwrap().total)
            .sum::<i64>();
    assert_eq!(row_52.previous.unwrap().total, old_rows);

    // Tasks assigned before the merger, seen at the end of 2025: those open
    // on 30 June 2025 are their successors', the rest their own offices'.
    let h1 = DatePeriod::parse("2025-H1").unwrap();
    let expected = model.count(dataset, h1, ymd(2025, 12, 31), &|holder| holder.to_owned());
    let response = system
        .reporting()
        .status_breakdown(v1::StatusBreakdownRequest {
            period: Some(v1::Period {
                kind: Some(v1::period::Kind::Range(h1.to_proto())),
            }),
            as_of: Some(date_to_proto(ymd(2025, 12, 31))),
            group_by: GroupBy::Unit as i32,
            min_cursor: cursor,
            basis: ReportBasis::HistoricalStructure as i32,
        })
        .await
        .unwrap()
        .into_inner();
    let got: BTreeMap<String, v1::StatusCounts> = response
        .rows
        .iter()
        .map(|r| (r.group_key.clone(), r.current.unwrap()))
        .collect();
    let expected: BTreeMap<String, v1::StatusCounts> = expected
        .iter()
        .map(|(k, c)| (k.clone(), c.to_proto()))
        .collect();
    assert_eq!(got, expected, "2025-H1 as of 2025-12-31, historical");

    // The summary states its basis in every form.
    for (basis, sentence, code) in [
        (
            ReportBasis::CurrentStructure,
            "structure of units in force on 31 December 2025",
            ",CUR",
        ),
        (
            ReportBasis::HistoricalStructure,
            "in force in each period",
            ",HIS",
        ),
    ] {
        let summary = |format: v1::SummaryFormat| v1::ReportSummaryRequest {
            period: Some(v1::Period {
                kind: Some(v1::period::Kind::Label("2025-H2".into())),
            }),
            as_of: Some(date_to_proto(ymd(2025, 12, 31))),
            language: v1::Language::En as i32,
            format: format as i32,
            min_cursor: cursor,
            basis: basis as i32,
            ..Default::default()
        };
        let text = system
            .reporting()
            .report_summary(summary(v1::SummaryFormat::Text))
            .await
            .unwrap()
            .into_inner()
            .body;
        assert!(text.contains(sentence), "{text}");
        let csv = system
            .reporting()
            .report_summary(summary(v1::SummaryFormat::SdmxCsv))
            .await
            .unwrap()
            .into_inner()
            .body;
        assert!(
            csv.lines().skip(1).all(|line| line.ends_with(code)),
            "{csv}"
        );
    }

    // Loading again (as after a crash) finds the merger applied and changes nothing.
    let again = tasknet_demo::load_continuation(
        &system.organisation_endpoint,
        &system.task_endpoint,
        &system.admin,
        &ContinuationSpec::small(),
        |_| {},
    )
    .await
    .unwrap();
    assert_eq!(again.load.duplicates, dataset.mutation_count() as u64);
    assert_eq!(again.transferred, 0);
}

async fn a_second_or_overlapping_merger_is_refused_and_changes_nothing(system: &TestSystem) {
    let mut organisation = system.organisation();
    organisation
        .load_reference_units(v1::LoadReferenceUnitsRequest {})
        .await
        .unwrap();
    let merger = v1::ApplyReferenceReorganisationRequest {
        name: "vn-provinces-2025".into(),
        validate_only: false,
    };
    organisation
        .apply_reference_reorganisation(merger.clone())
        .await
        .unwrap();
    let before = everything(system).await;
    let status = organisation
        .apply_reference_reorganisation(merger)
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::AlreadyExists, "{status:?}");
    assert!(status.message().contains("already applied"), "{status:?}");

    let binh_dinh = lookup(system, "52", ymd(2025, 6, 30)).await.unwrap();
    let overlapping = v1::Reorganisation {
        name: "central-highlands-2026".into(),
        effective_date: Some(date_to_proto(ymd(2026, 1, 1))),
        changes: vec![v1::UnitChange {
            kind: v1::LineageKind::Rename as i32,
            predecessor_unit_ids: vec![binh_dinh.id],
            successors: vec![v1::Unit {
                category: UnitCategory::ProvincialOffice as i32,
                parent_id: binh_dinh.parent_id,
                code: "52B".into(),
                name_vi: "Cục Thống kê Bình Định (mới)".into(),
                ..Default::default()
            }],
        }],
        ..Default::default()
    };
    let status = organisation
        .apply_reorganisation(v1::ApplyReorganisationRequest {
            reorganisation: Some(overlapping),
            validate_only: false,
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::FailedPrecondition, "{status:?}");
    assert!(
        status.message().contains("already ended on 2025-06-30"),
        "{status:?}"
    );
    assert_eq!(everything(system).await, before, "nothing changed");
}

/// `tasknet org reorganise` says what it did: applied and one open task
/// passed on; on a repeat, nothing applied and none passed on — never
/// "already applied" beside a count of tasks passed; `--dry-run` answers a
/// first run and a repeat in the same words as the real run, exit 0.
async fn a_repeated_reorganisation_says_what_it_did(system: &TestSystem) {
    let units = crate::reports::reference_units(system).await;
    let hq = units
        .iter()
        .find(|u| u.category() == UnitCategory::Headquarters)
        .unwrap();
    let binh_dinh = lookup(system, "52", ymd(2025, 6, 30)).await.unwrap();
    let assigned = ymd(2025, 6, 2);
    let at = tasknet_domain::vietnam_start_of_day(assigned) + chrono::Duration::hours(10);
    let id = |n: u64| {
        let millis = at.timestamp_millis() as u64;
        uuid::Builder::from_unix_timestamp_millis(millis, &[n as u8; 10])
            .into_uuid()
            .to_string()
    };
    system
        .tasks()
        .create_task(v1::CreateTaskRequest {
            update_id: id(1),
            task_id: id(2),
            effective_time: Some(tasknet_domain::timestamp_to_proto(at)),
            task: Some(v1::NewTask {
                title: "Điều tra lao động việc làm tháng 6".into(),
                assigning_unit_id: hq.id.clone(),
                assignee_unit_id: binh_dinh.id.clone(),
                assigned_date: Some(date_to_proto(assigned)),
                deadline: Some(date_to_proto(ymd(2025, 8, 31))),
                plan_ids: vec![],
            }),
        })
        .await
        .unwrap();
    let reorganise = |dry_run: bool| {
        let mut args = vec!["org", "reorganise", "--reference", "vn-provinces-2025"];
        if dry_run {
            args.push("--dry-run");
        }
        let output = crate::user_output::tasknet(system, &args);
        let (stdout, stderr) = crate::user_output::texts(&output);
        assert_eq!(output.status.code(), Some(0), "{stdout}\n{stderr}");
        stdout
    };
    let checked = reorganise(true);
    assert!(
        checked.contains("checks out (dry run, nothing changed)"),
        "{checked}"
    );
    assert!(
        checked.contains(
            "1 open task left to pass on: they would be passed to the successors (dry run)"
        ),
        "{checked}"
    );
    let applied = reorganise(false);
    assert!(
        applied.contains("(effective 2025-07-01) applied: 52 units end"),
        "{applied}"
    );
    assert!(
        applied.contains("1 open task passed on now to the successors"),
        "{applied}"
    );
    let before = everything(system).await;

    let repeated = reorganise(false);
    let dry_repeat = reorganise(true);
    for output in [&repeated, &dry_repeat] {
        assert!(
            output.contains("was applied before (on ") && output.contains("nothing applied now"),
            "{output}"
        );
        assert!(!output.contains("passed on now to"), "{output}");
    }
    assert!(
        repeated.contains("No open tasks were left to pass on: none passed on now."),
        "{repeated}"
    );
    assert!(
        dry_repeat
            .contains("No open tasks are left to pass on: none would be passed on (dry run)."),
        "{dry_repeat}"
    );
    // The same first line, word for word.
    assert_eq!(repeated.lines().next(), dry_repeat.lines().next());
    assert_eq!(everything(system).await, before, "a repeat changes nothing");
    let task = system
        .tasks()
        .get_task(v1::GetTaskRequest { task_id: id(2) })
        .await
        .unwrap()
        .into_inner()
        .task
        .unwrap();
    assert_ne!(task.assignee_unit_id, binh_dinh.id, "passed on once");
}

/// Every unit and every lineage link.
async fn everything(system: &TestSystem) -> (Vec<v1::Unit>, v1::ListReorganisationsResponse) {
    let mut client = system.organisation();
    let units = client
        .list_units(v1::ListUnitsRequest {
            page_size: 1000,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .units;
    let lineage = client
        .list_reorganisations(v1::ListReorganisationsRequest {})
        .await
        .unwrap()
        .into_inner();
    (units, lineage)
}

crate::system_tests!(
    reports_across_the_merger_match_an_independent_count,
    a_second_or_overlapping_merger_is_refused_and_changes_nothing,
    a_repeated_reorganisation_says_what_it_did,
);
