//! Scorecards, rankings and trajectories on both back ends, from the SQL and
//! from the status index, against a count made here from the tasks the test
//! creates (never by calling the code under test): figures, the documented
//! tie-break, unranked units, coverage, the year before, month-end trend,
//! restatement across a merger, and bad input naming its field.

use std::collections::{BTreeMap, HashSet};
use std::time::Duration;

use chrono::NaiveDate;
use tasknet_auth::Coverage;
use tasknet_domain::date_to_proto;
use tasknet_proto::tonic::{Code, Status};
use tasknet_proto::v1::{self, RankingGroup, ReportBasis, TaskEventKind, UnitCategory};
use tasknet_storage::testing::TestDatabase;
use tokio::sync::watch;

use super::{TaskSpec, created, open, plan_created, updated, ymd};
use crate::catalog::Catalog;
use crate::error::Error;
use crate::reports::Reports;
use crate::store::ReadModel;

const PLAN: &str = "0190d1c2-0000-7000-8000-000000000001";

fn unit(id: &str, code: &str, category: UnitCategory) -> v1::Unit {
    v1::Unit {
        id: id.into(),
        category: category as i32,
        code: code.into(),
        name_vi: format!("Đơn vị {code}"),
        name_en: format!("Unit {code}"),
        ..Default::default()
    }
}

fn catalog() -> Catalog {
    use UnitCategory::{CentralDepartment, Headquarters, ProvincialOffice, PublicServiceUnit};
    Catalog::from_units(
        vec![
            unit("p1", "01", ProvincialOffice),
            unit("p2", "02", ProvincialOffice),
            unit("p3", "03", ProvincialOffice),
            unit("p4", "04", ProvincialOffice),
            unit("p5", "05", ProvincialOffice),
            unit("p6", "06", ProvincialOffice),
            unit("p7", "07", ProvincialOffice),
            unit("c1", "TH", CentralDepartment),
            unit("c2", "VDT", PublicServiceUnit),
            unit("hq", "TCTK", Headquarters),
        ],
        Vec::new(),
    )
}

/// A task and, if it is ever completed, the day it was.
#[derive(Debug, Clone)]
struct Made {
    spec: TaskSpec,
    completed: Option<NaiveDate>,
}

fn made(
    id: usize,
    unit: &str,
    assigned: NaiveDate,
    days: i64,
    completed_after: Option<i64>,
) -> Made {
    let deadline = assigned + chrono::Days::new(days.unsigned_abs());
    Made {
        spec: TaskSpec {
            id: format!("t{id:04}"),
            assignee: unit.into(),
            assigned,
            deadline,
            plans: if id.is_multiple_of(3) {
                vec![PLAN.to_owned()]
            } else {
                Vec::new()
            },
        },
        completed: completed_after.map(|after| assigned + chrono::Days::new(after.unsigned_abs())),
    }
}

/// The tasks: p1 and p2 identical (a tie down to the code); p3 with the
/// score of p4 but a better on-time rate; p5 with p4's score and rate but
/// more tasks; p6 a mixed record over several months, with the year before;
/// p7 no tasks; c1 and c2 ranked among central units; hq ranked nowhere.
fn tasks() -> Vec<Made> {
    let mut all = Vec::new();
    let mut next = 0;
    let mut add = |unit: &str, assigned: NaiveDate, days: i64, done: Option<i64>| {
        next += 1;
        all.push(made(next, unit, assigned, days, done));
    };
    for unit in ["p1", "p2"] {
        add(unit, ymd(2024, 1, 10), 20, Some(5));
        add(unit, ymd(2024, 2, 10), 20, Some(30));
    }
    // p3: 2 on time, 1 open not yet due (on-time rate 2/3, score 100).
    add("p3", ymd(2024, 3, 1), 10, Some(2));
    add("p3", ymd(2024, 3, 1), 10, Some(3));
    add("p3", ymd(2024, 6, 20), 30, None);
    // p4: 1 on time, 1 open not yet due (rate 1/2, score 100).
    add("p4", ymd(2024, 3, 1), 10, Some(1));
    add("p4", ymd(2024, 6, 25), 30, None);
    // p5: twice p4.
    for _ in 0..2 {
        add("p5", ymd(2024, 3, 1), 10, Some(1));
        add("p5", ymd(2024, 6, 25), 30, None);
    }
    for month in 1..=6 {
        add("p6", ymd(2024, month, 3), 7, Some(3));
        add("p6", ymd(2024, month, 3), 7, Some(7 + i64::from(month)));
        add("p6", ymd(2024, month, 3), 7, None);
        add(
            "p6",
            ymd(2024, month, 3),
            7,
            if month < 4 { Some(40) } else { None },
        );
        add("p6", ymd(2023, month, 5), 10, Some(12));
    }
    add("c1", ymd(2024, 2, 1), 10, Some(4));
    add("c1", ymd(2024, 2, 1), 10, None);
    add("c2", ymd(2024, 4, 1), 10, Some(25));
    add("hq", ymd(2024, 4, 1), 10, None);
    add("p1", ymd(2023, 2, 1), 10, None);
    all
}

fn changes(tasks: &[Made]) -> Vec<v1::Change> {
    let mut changes = vec![plan_created(
        1,
        PLAN,
        "Key tasks 2024",
        v1::PlanKind::KeyTasks,
        ymd(2024, 1, 1),
        ymd(2024, 6, 30),
    )];
    for task in tasks {
        let cursor = i64::try_from(changes.len()).unwrap() + 1;
        changes.push(created(cursor, &task.spec));
        if let Some(done) = task.completed {
            changes.push(updated(
                cursor + 1,
                &task.spec,
                TaskEventKind::Completed,
                done,
                None,
            ));
        }
    }
    changes
}

/// (on time, late, open in time, overdue, days late) as the test counts them.
type Tally = [i64; 5];

fn tally(tasks: &[Made], unit: &str, start: NaiveDate, end: NaiveDate, as_of: NaiveDate) -> Tally {
    let mut tally = [0; 5];
    for task in tasks.iter().filter(|t| {
        t.spec.assignee == unit
            && t.spec.assigned >= start
            && t.spec.assigned <= end
            && t.spec.assigned <= as_of
    }) {
        let deadline = task.spec.deadline;
        match task.completed.filter(|done| *done <= as_of) {
            Some(done) if done <= deadline => tally[0] += 1,
            Some(done) => {
                tally[1] += 1;
                tally[4] += (done - deadline).num_days();
            }
            None if deadline >= as_of => tally[2] += 1,
            None => {
                tally[3] += 1;
                tally[4] += (as_of - deadline).num_days();
            }
        }
    }
    tally
}

/// The default weights' score, written out: 100 × (on time + ½ late + open
/// in time) / total − 0.2 × mean days late.
fn score_of(tally: Tally) -> Option<f64> {
    let total = (tally[0] + tally[1] + tally[2] + tally[3]) as f64;
    let late = (tally[1] + tally[3]) as f64;
    let mean = if late > 0.0 {
        tally[4] as f64 / late
    } else {
        0.0
    };
    (total > 0.0).then(|| {
        100.0 * (tally[0] as f64 + 0.5 * tally[1] as f64 + tally[2] as f64) / total - 0.2 * mean
    })
}

fn request(period: &str, as_of: NaiveDate, group: RankingGroup) -> v1::UnitScorecardsRequest {
    v1::UnitScorecardsRequest {
        period: Some(v1::Period {
            kind: Some(v1::period::Kind::Label(period.into())),
        }),
        as_of: Some(date_to_proto(as_of)),
        basis: ReportBasis::HistoricalStructure as i32,
        group: group as i32,
        min_cursor: 0,
    }
}

fn close(a: Option<f64>, b: Option<f64>) -> bool {
    match (a, b) {
        (Some(a), Some(b)) => (a - b).abs() < 1e-9,
        (None, None) => true,
        _ => false,
    }
}

async fn check_scorecards(reports: &Reports<Catalog>, tasks: &[Made]) {
    let as_of = ymd(2024, 6, 30);
    let (start, end) = (ymd(2024, 1, 1), ymd(2024, 6, 30));
    let response = reports
        .unit_scorecards(
            &request("2024-H1", as_of, RankingGroup::Unspecified),
            Duration::from_secs(1),
            &Coverage::All,
        )
        .await
        .unwrap();
    let order: Vec<(&str, i32, i32)> = response
        .scorecards
        .iter()
        .map(|c| (c.unit.as_ref().unwrap().id.as_str(), c.group, c.rank))
        .collect();
    let (pso, cu) = (
        RankingGroup::ProvincialOffices as i32,
        RankingGroup::CentralUnits as i32,
    );
    // p1/p2 and p3/p4/p5 scores come from the test's own tally: p1, p2:
    // 1 on time + 1 late by 10 days → 75 − 0.2 × 10 = 73; p3..p5: 100.
    assert!(close(
        score_of(tally(tasks, "p1", start, end, as_of)),
        Some(73.0)
    ));
    assert!(close(
        score_of(tally(tasks, "p3", start, end, as_of)),
        Some(100.0)
    ));
    let p6 = score_of(tally(tasks, "p6", start, end, as_of)).unwrap();
    let c1 = score_of(tally(tasks, "c1", start, end, as_of)).unwrap();
    let c2 = score_of(tally(tasks, "c2", start, end, as_of)).unwrap();
    assert!(p6 < 73.0, "{p6}");
    // c1: half done on time, half 140 days overdue (22); c2: late by 15 days (47).
    assert!(c2 > c1, "{c1} {c2}");
    assert_eq!(
        order,
        [
            ("p3", pso, 1),
            ("p5", pso, 2),
            ("p4", pso, 3),
            ("p1", pso, 4),
            ("p2", pso, 5),
            ("p6", pso, 6),
            ("p7", pso, 0),
            ("c2", cu, 1),
            ("c1", cu, 2),
        ]
    );
    let previous_start = ymd(2023, 1, 1);
    let previous_end = ymd(2023, 6, 30);
    for card in &response.scorecards {
        let id = card.unit.as_ref().unwrap().id.as_str();
        let now = tally(tasks, id, start, end, as_of);
        let before = tally(tasks, id, previous_start, previous_end, previous_end);
        let current = card.current.as_ref().unwrap();
        let counts = current.counts.unwrap();
        assert_eq!(
            [
                counts.completed_on_time,
                counts.completed_late,
                counts.open_within_deadline,
                counts.open_overdue
            ],
            now[..4],
            "{id}"
        );
        let total = now[..4].iter().sum::<i64>();
        assert_eq!(counts.total, total);
        if total > 0 {
            assert!((current.on_time_rate - now[0] as f64 / total as f64).abs() < 1e-12);
            assert!((current.late_rate - now[1] as f64 / total as f64).abs() < 1e-12);
            assert!((current.overdue_rate - now[3] as f64 / total as f64).abs() < 1e-12);
        }
        let late = now[1] + now[3];
        let mean = if late > 0 {
            now[4] as f64 / late as f64
        } else {
            0.0
        };
        assert!((current.mean_days_late - mean).abs() < 1e-12, "{id}");
        assert!(close(current.score, score_of(now)), "{id}");
        let previous = card.previous.as_ref().unwrap();
        assert_eq!(
            previous.counts.unwrap().total,
            before[..4].iter().sum::<i64>()
        );
        assert!(close(previous.score, score_of(before)), "{id}");
        let change = score_of(now).zip(score_of(before)).map(|(a, b)| a - b);
        assert!(close(card.score_change, change), "{id}");
        // Month ends, the last one the as-of date: each point the tally then.
        assert_eq!(card.trend.len(), 6, "{id}");
        for point in &card.trend {
            let day = tasknet_domain::date_from_proto("", point.as_of.as_ref()).unwrap();
            assert!(close(
                point.score,
                score_of(tally(tasks, id, start, end, day))
            ));
        }
    }
    let p6_card = &response.scorecards[5];
    assert_eq!(
        p6_card.trend[0].as_of,
        Some(date_to_proto(ymd(2024, 1, 31)))
    );
    assert!(p6_card.score_change.is_some());
    assert_eq!(response.weights.unwrap().completed_late, 0.5);

    // One group; and a reader covering three offices sees them ranked among themselves.
    let central = reports
        .unit_scorecards(
            &request("2024-H1", as_of, RankingGroup::CentralUnits),
            Duration::from_secs(1),
            &Coverage::All,
        )
        .await
        .unwrap();
    assert_eq!(central.scorecards.len(), 2);
    let scoped = Coverage::Units(HashSet::from(["p1".into(), "p6".into(), "p7".into()]));
    let scoped = reports
        .unit_scorecards(
            &request("2024-H1", as_of, RankingGroup::Unspecified),
            Duration::from_secs(1),
            &scoped,
        )
        .await
        .unwrap();
    let ranks: Vec<(&str, i32)> = scoped
        .scorecards
        .iter()
        .map(|c| (c.unit.as_ref().unwrap().id.as_str(), c.rank))
        .collect();
    assert_eq!(ranks, [("p1", 1), ("p6", 2), ("p7", 0)]);
}

/// The trajectory's points against the test's own count, on a few days.
async fn check_trajectories(reports: &Reports<Catalog>, tasks: &[Made]) {
    let as_of = ymd(2024, 5, 15);
    let plan = reports
        .trajectory(
            &v1::GetTrajectoryRequest {
                subject: Some(v1::get_trajectory_request::Subject::PlanId(PLAN.into())),
                period: None,
                as_of: Some(date_to_proto(as_of)),
                basis: 0,
                min_cursor: 0,
            },
            Duration::from_secs(1),
            &Coverage::All,
        )
        .await
        .unwrap();
    let members: Vec<&Made> = tasks
        .iter()
        .filter(|t| t.spec.plans.iter().any(|p| p == PLAN) && t.spec.assigned <= as_of)
        .collect();
    assert_eq!(plan.points.len(), 182);
    assert_eq!(plan.total, i64::try_from(members.len()).unwrap());
    let unit = reports
        .trajectory(
            &v1::GetTrajectoryRequest {
                subject: Some(v1::get_trajectory_request::Subject::UnitId("p6".into())),
                period: Some(v1::Period {
                    kind: Some(v1::period::Kind::Label("2024-H1".into())),
                }),
                as_of: Some(date_to_proto(as_of)),
                basis: 0,
                min_cursor: 0,
            },
            Duration::from_secs(1),
            &Coverage::All,
        )
        .await
        .unwrap();
    let p6: Vec<&Made> = tasks
        .iter()
        .filter(|t| {
            t.spec.assignee == "p6"
                && t.spec.assigned >= ymd(2024, 1, 1)
                && t.spec.assigned <= as_of
        })
        .collect();
    for (response, chosen) in [(&plan, &members), (&unit, &p6)] {
        for point in &response.points {
            let day = tasknet_domain::date_from_proto("", point.date.as_ref()).unwrap();
            let count = |f: &dyn Fn(&Made) -> bool| {
                i64::try_from(chosen.iter().filter(|t| f(t)).count()).unwrap()
            };
            assert_eq!(point.assigned, count(&|t| t.spec.assigned <= day), "{day}");
            assert_eq!(point.expected, count(&|t| t.spec.deadline <= day), "{day}");
            let done = count(&|t| t.completed.is_some_and(|c| c <= day && c <= as_of));
            assert_eq!(point.actual, (day <= as_of).then_some(done), "{day}");
        }
    }
    assert!(unit.points.iter().any(|p| p.actual.is_some_and(|a| a > 0)));
}

fn assert_field(error: Error, code: Code, field: &str) {
    let status = Status::from(error);
    assert_eq!(status.code(), code, "{status:?}");
    assert!(
        status.message().starts_with(&format!("{field}:")),
        "{field}: {}",
        status.message()
    );
}

async fn check_bad_input(reports: &Reports<Catalog>) {
    let budget = Duration::from_secs(1);
    let all = &Coverage::All;
    let mut bad = request("2024-H1", ymd(2024, 6, 30), RankingGroup::Unspecified);
    bad.group = 7;
    let error = reports
        .unit_scorecards(&bad, budget, all)
        .await
        .unwrap_err();
    assert_field(error, Code::InvalidArgument, "group");
    let mut bad = request("2024-H9", ymd(2024, 6, 30), RankingGroup::Unspecified);
    let error = reports
        .unit_scorecards(&bad, budget, all)
        .await
        .unwrap_err();
    assert_field(error, Code::InvalidArgument, "period");
    bad.period = request("2024-H1", ymd(2024, 6, 30), RankingGroup::Unspecified).period;
    bad.as_of = Some(date_to_proto(ymd(2023, 12, 31)));
    let error = reports
        .unit_scorecards(&bad, budget, all)
        .await
        .unwrap_err();
    assert_field(error, Code::InvalidArgument, "as_of");
    bad.as_of = Some(date_to_proto(ymd(2024, 6, 30)));
    bad.basis = 9;
    let error = reports
        .unit_scorecards(&bad, budget, all)
        .await
        .unwrap_err();
    assert_field(error, Code::InvalidArgument, "basis");

    use v1::get_trajectory_request::Subject;
    let trajectory = |subject: Option<Subject>, period: Option<&str>| v1::GetTrajectoryRequest {
        subject,
        period: period.map(|p| v1::Period {
            kind: Some(v1::period::Kind::Label(p.into())),
        }),
        as_of: Some(date_to_proto(ymd(2024, 6, 30))),
        basis: 0,
        min_cursor: 0,
    };
    for (request, code, field) in [
        (trajectory(None, None), Code::InvalidArgument, "subject"),
        (
            trajectory(Some(Subject::PlanId("nope".into())), None),
            Code::InvalidArgument,
            "plan_id",
        ),
        (
            trajectory(Some(Subject::UnitId("p1".into())), None),
            Code::InvalidArgument,
            "period",
        ),
        (
            trajectory(Some(Subject::UnitId(String::new())), Some("2024-H1")),
            Code::InvalidArgument,
            "unit_id",
        ),
        (
            trajectory(Some(Subject::UnitId("ghost".into())), Some("2024-H1")),
            Code::NotFound,
            "unit_id",
        ),
        (
            trajectory(
                Some(Subject::PlanId(
                    "0190d1c2-0000-7000-8000-00000000dead".into(),
                )),
                None,
            ),
            Code::NotFound,
            "plan_id",
        ),
    ] {
        let error = reports.trajectory(&request, budget, all).await.unwrap_err();
        assert_field(error, code, field);
    }
    // A reader of p1 may not read p2's trajectory nor a plan's.
    let p1 = Coverage::Units(HashSet::from(["p1".to_owned()]));
    let error = reports
        .trajectory(
            &trajectory(Some(Subject::UnitId("p2".into())), Some("2024-H1")),
            budget,
            &p1,
        )
        .await
        .unwrap_err();
    assert_eq!(Status::from(error).code(), Code::PermissionDenied);
    let error = reports
        .trajectory(
            &trajectory(Some(Subject::PlanId(PLAN.into())), None),
            budget,
            &p1,
        )
        .await
        .unwrap_err();
    assert_eq!(Status::from(error).code(), Code::PermissionDenied);
}

async fn scorecards_match_an_independent_count(db: TestDatabase) {
    let store: ReadModel = open(&db).await;
    let tasks = tasks();
    let log = changes(&tasks);
    store.apply_batch(&log).await.unwrap();
    let (_, applied) = watch::channel(i64::try_from(log.len()).unwrap());
    let reports = Reports::new(store.clone(), catalog(), applied);
    // First the SQL answers, then the status index: the same figures.
    assert!(!store.index().is_ready());
    check_scorecards(&reports, &tasks).await;
    let queries = [crate::store::StatusQuery {
        period: tasknet_domain::DatePeriod::parse("2024-H1").unwrap(),
        as_of: ymd(2024, 6, 30),
    }];
    let sql = store.scorecard_by_unit_sql(&queries).await.unwrap();
    store.load_index().await.unwrap();
    assert!(store.index().is_ready());
    let indexed = store.scorecard_by_unit(&queries).await.unwrap();
    assert_eq!(sql, indexed);
    check_scorecards(&reports, &tasks).await;
    check_trajectories(&reports, &tasks).await;
    check_bad_input(&reports).await;
}

/// Across the merger of `reorganised.rs` (A and B into M on 2025-07-01):
/// on the current structure M's card takes A's and B's tasks of the year
/// before; on the historical structure A and B, ended, have no card.
async fn scorecards_follow_the_basis_across_a_merger(db: TestDatabase) {
    let store = open(&db).await;
    store
        .apply_batch(&super::reorganised::changes())
        .await
        .unwrap();
    let (_, applied) = watch::channel(10);
    let reports = Reports::new(store.clone(), super::reorganised::catalog(), applied);
    let end = ymd(2025, 12, 31);
    let mut cards: BTreeMap<ReportBasis, Vec<(String, i64, i64)>> = BTreeMap::new();
    for basis in [
        ReportBasis::CurrentStructure,
        ReportBasis::HistoricalStructure,
    ] {
        let mut asked = request("2025-H2", end, RankingGroup::Unspecified);
        asked.basis = basis as i32;
        let response = reports
            .unit_scorecards(&asked, Duration::from_secs(1), &Coverage::All)
            .await
            .unwrap();
        let total = |f: &Option<v1::ScorecardFigures>| {
            f.as_ref().and_then(|f| f.counts).map_or(0, |c| c.total)
        };
        cards.insert(
            basis,
            response
                .scorecards
                .iter()
                .map(|c| {
                    (
                        c.unit.as_ref().unwrap().id.clone(),
                        total(&c.current),
                        total(&c.previous),
                    )
                })
                .collect(),
        );
    }
    let sorted = |mut v: Vec<(String, i64, i64)>| {
        v.sort();
        v
    };
    let expect = |rows: &[(&str, i64, i64)]| {
        rows.iter()
            .map(|(id, now, before)| ((*id).to_owned(), *now, *before))
            .collect::<Vec<_>>()
    };
    assert_eq!(
        sorted(cards[&ReportBasis::CurrentStructure].clone()),
        expect(&[("c", 1, 1), ("m", 1, 2)])
    );
    assert_eq!(
        sorted(cards[&ReportBasis::HistoricalStructure].clone()),
        expect(&[("c", 1, 1), ("m", 1, 0)])
    );
}

tasknet_storage::test_on_both_backends!(
    scorecards_match_an_independent_count,
    scorecards_follow_the_basis_across_a_merger,
);
