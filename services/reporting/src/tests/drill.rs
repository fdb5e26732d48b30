//! Drill-down against an independent computation: for random histories,
//! every page of ListGroupTasks together lists exactly the tasks that a
//! direct classification with `TaskTimeline` puts in the group and class
//! (with the deadline and completion in force then), for nationwide and
//! unit-scoped readers; and each task's timeline holds its log entries in
//! effective order, hidden (as NOT_FOUND) from readers outside its units.

use std::collections::{BTreeMap, HashSet};
use std::time::Duration;

use chrono::NaiveDate;
use tasknet_auth::Coverage;
use tasknet_domain::{DatePeriod, StatusClass as DomainClass, date_from_proto, date_to_proto};
use tasknet_proto::tonic::{Code, Status};
use tasknet_proto::v1::{self, GroupBy, StatusClass};
use tasknet_storage::testing::TestDatabase;
use tokio::sync::watch;

use super::random::{Model, apply_in_random_batches, catalog, expected_key, generate};
use super::{open, ymd};
use crate::catalog::Catalog;
use crate::reports::Reports;

const CLASSES: [StatusClass; 5] = [
    StatusClass::Unspecified,
    StatusClass::CompletedOnTime,
    StatusClass::CompletedLate,
    StatusClass::OpenWithinDeadline,
    StatusClass::OpenOverdue,
];

fn proto_class(class: DomainClass) -> StatusClass {
    match class {
        DomainClass::CompletedOnTime => StatusClass::CompletedOnTime,
        DomainClass::CompletedLate => StatusClass::CompletedLate,
        DomainClass::OpenWithinDeadline => StatusClass::OpenWithinDeadline,
        DomainClass::OpenOverdue => StatusClass::OpenOverdue,
    }
}

/// What a listed task should show, by task id, computed from the model.
type Expected = BTreeMap<String, (StatusClass, NaiveDate, Option<NaiveDate>, i64)>;

fn expected(
    model: &Model,
    question: &Question,
    coverage: &Coverage,
    catalog: &Catalog,
) -> Expected {
    let mut tasks = Expected::new();
    for (task, timeline) in &model.tasks {
        if !question.period.contains(task.assigned) || task.assigned > question.as_of {
            continue;
        }
        if !coverage.contains(&task.assignee) {
            continue;
        }
        let key = expected_key(question.group_by, catalog, &task.assignee).unwrap_or_default();
        if key != question.group_key {
            continue;
        }
        let class = proto_class(timeline.classify(question.as_of));
        if question.class != StatusClass::Unspecified && class != question.class {
            continue;
        }
        let state = timeline.state_as_of(question.as_of);
        let days = match (class, state.completed_on) {
            (StatusClass::OpenOverdue, _) => (question.as_of - state.deadline).num_days(),
            (StatusClass::CompletedLate, Some(done)) => (done - state.deadline).num_days(),
            _ => 0,
        };
        tasks.insert(
            task.id.clone(),
            (class, state.deadline, state.completed_on, days),
        );
    }
    tasks
}

#[derive(Debug, Clone)]
struct Question {
    period: DatePeriod,
    as_of: NaiveDate,
    group_by: GroupBy,
    group_key: String,
    class: StatusClass,
}

impl Question {
    fn request(&self, page_size: i32, page_token: String) -> v1::ListGroupTasksRequest {
        v1::ListGroupTasksRequest {
            period: Some(v1::Period {
                kind: Some(v1::period::Kind::Range(self.period.to_proto())),
            }),
            as_of: Some(date_to_proto(self.as_of)),
            group_by: self.group_by as i32,
            group_key: self.group_key.clone(),
            status_class: self.class as i32,
            // The test units have no reorganisations: both bases agree.
            basis: v1::ReportBasis::HistoricalStructure as i32,
            page_size,
            page_token,
            min_cursor: 0,
        }
    }
}

/// Every page of a question's answer, checked for order on the way.
async fn all_pages(
    reports: &Reports<Catalog>,
    question: &Question,
    coverage: &Coverage,
) -> Vec<v1::GroupTask> {
    let mut tasks: Vec<v1::GroupTask> = Vec::new();
    let mut token = String::new();
    for _ in 0..1000 {
        let response = reports
            .list_group_tasks(&question.request(7, token), Duration::ZERO, coverage)
            .await
            .unwrap();
        assert!(response.tasks.len() <= 7);
        for task in &response.tasks {
            let known: HashSet<&str> = response.units.iter().map(|u| u.id.as_str()).collect();
            assert!(known.contains(task.assignee_unit_id.as_str()));
        }
        tasks.extend(response.tasks);
        if response.next_page_token.is_empty() {
            let keys: Vec<_> = tasks
                .iter()
                .map(|t| {
                    (
                        date_from_proto("", t.deadline.as_ref()).unwrap(),
                        &t.task_id,
                    )
                })
                .collect();
            assert!(keys.is_sorted(), "by deadline, then task id");
            return tasks;
        }
        token = response.next_page_token;
    }
    panic!("pages never ended");
}

fn actual(tasks: &[v1::GroupTask]) -> Expected {
    tasks
        .iter()
        .map(|task| {
            let class = StatusClass::try_from(task.status_class).unwrap();
            let deadline = date_from_proto("", task.deadline.as_ref()).unwrap();
            let done = task
                .completed_on
                .as_ref()
                .map(|d| date_from_proto("", Some(d)).unwrap());
            (
                task.task_id.clone(),
                (class, deadline, done, task.days_overdue),
            )
        })
        .collect()
}

fn questions(catalog: &Catalog) -> Vec<Question> {
    let mut questions = Vec::new();
    let asked = [
        (DatePeriod::parse("2024-H1").unwrap(), ymd(2024, 6, 30)),
        (DatePeriod::parse("2024").unwrap(), ymd(2024, 9, 15)),
        (DatePeriod::parse("2023").unwrap(), ymd(2024, 2, 1)),
    ];
    let groups = [
        (GroupBy::None, String::new()),
        (
            GroupBy::UnitCategory,
            "UNIT_CATEGORY_PROVINCIAL_OFFICE".to_owned(),
        ),
        (GroupBy::UnitCategory, "unknown".to_owned()),
        (GroupBy::Region, "RRD".to_owned()),
        (GroupBy::Region, "none".to_owned()),
        (GroupBy::Unit, "u-p79".to_owned()),
    ];
    assert!(catalog.unit("u-p79").is_some());
    for (period, as_of) in asked {
        for (group_by, group_key) in &groups {
            for class in CLASSES {
                questions.push(Question {
                    period,
                    as_of,
                    group_by: *group_by,
                    group_key: group_key.clone(),
                    class,
                });
            }
        }
    }
    questions
}

async fn check_lists(reports: &Reports<Catalog>, model: &Model, catalog: &Catalog) {
    let scoped = Coverage::Units(HashSet::from(["u-p01".to_owned(), "u-p31".to_owned()]));
    let mut listed = 0;
    for coverage in [Coverage::All, scoped] {
        for question in questions(catalog) {
            let tasks = all_pages(reports, &question, &coverage).await;
            let expected = expected(model, &question, &coverage, catalog);
            assert_eq!(actual(&tasks), expected, "{question:?} for {coverage:?}");
            if !coverage.is_all() {
                assert!(
                    tasks.iter().all(|t| coverage.contains(&t.assignee_unit_id)),
                    "a unit-scoped reader sees its units only"
                );
            }
            listed += tasks.len();
        }
    }
    assert!(
        listed > 1000,
        "the questions must list many tasks ({listed})"
    );
}

async fn check_refusals(reports: &Reports<Catalog>, catalog: &Catalog) {
    let question = &questions(catalog)[0];
    let first = reports
        .list_group_tasks(
            &question.request(3, String::new()),
            Duration::ZERO,
            &Coverage::All,
        )
        .await
        .unwrap();
    assert!(!first.next_page_token.is_empty());
    // A token answers only the question it came from.
    let mut other = question.request(3, first.next_page_token.clone());
    other.status_class = StatusClass::OpenOverdue as i32;
    let status = reports
        .list_group_tasks(&other, Duration::ZERO, &Coverage::All)
        .await
        .map_err(Status::from)
        .unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument);
    assert!(status.message().starts_with("page_token:"), "{status:?}");
    for (mutate, field) in [
        (
            (|r: &mut v1::ListGroupTasksRequest| r.page_size = 1001) as fn(&mut _),
            "page_size",
        ),
        (|r| r.group_key = "x".into(), "group_key"),
        (|r| r.status_class = 9, "status_class"),
        (|r| r.page_token = "zz".into(), "page_token"),
        (
            |r| {
                r.group_by = GroupBy::Unit as i32;
                r.group_key.clear();
            },
            "group_key",
        ),
    ] {
        let mut request = question.request(3, String::new());
        mutate(&mut request);
        let status = reports
            .list_group_tasks(&request, Duration::ZERO, &Coverage::All)
            .await
            .map_err(Status::from)
            .unwrap_err();
        assert_eq!(status.code(), Code::InvalidArgument, "{field}");
        assert!(
            status.message().starts_with(&format!("{field}:")),
            "{status:?}"
        );
    }
}

async fn check_timelines(reports: &Reports<Catalog>, model: &Model) {
    let scoped = Coverage::Units(HashSet::from(["u-p01".to_owned()]));
    let mut hidden = 0;
    for (task, _) in model.tasks.iter().take(60) {
        // The task's log entries in effective order (ties: arrival).
        let mut expected: Vec<(NaiveDate, i64)> = model
            .log
            .iter()
            .filter_map(|change| match &change.event {
                Some(v1::change::Event::TaskEvent(event))
                    if event.task.as_ref().is_some_and(|t| t.id == task.id) =>
                {
                    let date = date_from_proto("", event.effective_date.as_ref()).unwrap();
                    Some((date, change.cursor))
                }
                _ => None,
            })
            .collect();
        expected.sort();
        let request = v1::GetTaskTimelineRequest {
            task_id: task.id.clone(),
            min_cursor: 0,
        };
        let timeline = reports
            .task_timeline(&request, Duration::ZERO, &Coverage::All)
            .await
            .unwrap();
        let entries: Vec<(NaiveDate, i64)> = timeline
            .entries
            .iter()
            .map(|e| {
                let date = date_from_proto("", e.effective_date.as_ref()).unwrap();
                (date, e.cursor)
            })
            .collect();
        assert_eq!(entries, expected, "timeline of {}", task.id);
        assert_eq!(timeline.entries[0].kind, v1::TaskEventKind::Created as i32);
        assert_eq!(timeline.assigning_unit_id, "hq");
        assert_eq!(timeline.title, format!("task {}", task.id));

        let scoped_answer = reports
            .task_timeline(&request, Duration::ZERO, &scoped)
            .await;
        if task.assignee == "u-p01" {
            assert!(scoped_answer.is_ok());
        } else {
            let status = Status::from(scoped_answer.unwrap_err());
            assert_eq!(status.code(), Code::NotFound);
            assert_eq!(status.message(), format!("task_id: no task {}", task.id));
            hidden += 1;
        }
    }
    assert!(hidden > 0);
    let unknown = "0190ffff-ffff-7fff-8fff-ffffffffffff";
    let status = reports
        .task_timeline(
            &v1::GetTaskTimelineRequest {
                task_id: unknown.into(),
                min_cursor: 0,
            },
            Duration::ZERO,
            &Coverage::All,
        )
        .await
        .map_err(Status::from)
        .unwrap_err();
    assert_eq!(status.code(), Code::NotFound);
    assert_eq!(status.message(), format!("task_id: no task {unknown}"));
}

async fn drill_down_matches_an_independent_count(db: TestDatabase) {
    let model = generate(20_251_130, 400, 2_000);
    let store = open(&db).await;
    apply_in_random_batches(&store, &model.log, 11).await;
    let last = model.log.last().unwrap().cursor;
    let catalog = catalog();
    let (_sender, applied) = watch::channel(last);
    let reports = Reports::new(store.clone(), catalog.clone(), applied);
    check_lists(&reports, &model, &catalog).await;
    check_refusals(&reports, &catalog).await;
    check_timelines(&reports, &model).await;
    store.close().await;
}

tasknet_storage::test_on_both_backends!(drill_down_matches_an_independent_count);
