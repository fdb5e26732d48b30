//! Tasks pushed over gRPC come out of the reporting service exactly as an
//! independent count of the same tasks says, on both back ends; health and
//! reflection answer; bad references are refused and change nothing.

use std::collections::BTreeMap;

use chrono::{Duration, NaiveDate};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use tasknet_domain::{
    DatePeriod, StatusClass, TaskTimeline, TimelineEvent, date_to_proto, previous_year_date,
    timestamp_to_proto, vietnam_start_of_day,
};
use tasknet_proto::tonic::Code;
use tasknet_proto::v1::{self, GroupBy, UnitCategory, ingest_request, update_task_request};

use crate::support::TestSystem;

fn ymd(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap()
}

fn uuid7(rng: &mut ChaCha8Rng, day: NaiveDate) -> String {
    let millis = vietnam_start_of_day(day).timestamp_millis() as u64;
    let bytes: [u8; 10] = rng.random();
    uuid::Builder::from_unix_timestamp_millis(millis, &bytes)
        .into_uuid()
        .to_string()
}

/// 10:00 in Hà Nội on `day`.
fn at(day: NaiveDate) -> tasknet_proto::prost_types::Timestamp {
    timestamp_to_proto(vietnam_start_of_day(day) + Duration::hours(10))
}

/// A task as the test made it, and its timeline for the independent count.
struct MadeTask {
    assignee: v1::Unit,
    assigned: NaiveDate,
    timeline: TaskTimeline,
}

/// Random tasks over H1 2023 and H1 2024 with completions, reopenings and
/// deadline changes whose effective dates fall on both sides of 30 June.
fn scenario(
    units: &[v1::Unit],
    hq: &v1::Unit,
    seed: u64,
) -> (Vec<v1::IngestRequest>, Vec<MadeTask>) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut requests = Vec::new();
    let mut made = Vec::new();
    for _ in 0..240 {
        let assignee = units[rng.random_range(0..units.len())].clone();
        let year = if rng.random_bool(0.5) { 2023 } else { 2024 };
        let assigned = ymd(year, 1, 1) + Duration::days(rng.random_range(0..200));
        let deadline = assigned + Duration::days(rng.random_range(0..90));
        let task_id = uuid7(&mut rng, assigned);
        requests.push(v1::IngestRequest {
            mutation: Some(ingest_request::Mutation::Create(v1::CreateTaskRequest {
                update_id: uuid7(&mut rng, assigned),
                task_id: task_id.clone(),
                effective_time: Some(at(assigned)),
                task: Some(v1::NewTask {
                    title: format!("Nhiệm vụ thử nghiệm {}", made.len()),
                    assigning_unit_id: hq.id.clone(),
                    assignee_unit_id: assignee.id.clone(),
                    assigned_date: Some(date_to_proto(assigned)),
                    deadline: Some(date_to_proto(deadline)),
                    plan_ids: vec![],
                }),
            })),
        });
        let mut timeline = TaskTimeline::new(deadline);
        let mut completed = false;
        let mut day = assigned;
        for _ in 0..rng.random_range(0..4) {
            day += Duration::days(rng.random_range(0..60));
            let change = if completed {
                if rng.random_bool(0.5) {
                    continue;
                }
                completed = false;
                timeline
                    .events
                    .push(TimelineEvent::Reopened { effective: day });
                update_task_request::Change::Reopen(v1::Reopening {
                    reason: "sai số liệu".into(),
                })
            } else if rng.random_bool(0.3) {
                let new_deadline = day + Duration::days(rng.random_range(0..45));
                timeline.events.push(TimelineEvent::DeadlineChanged {
                    effective: day,
                    deadline: new_deadline,
                });
                update_task_request::Change::DeadlineChange(v1::DeadlineChange {
                    new_deadline: Some(date_to_proto(new_deadline)),
                    reason: "gia hạn".into(),
                })
            } else {
                completed = true;
                timeline
                    .events
                    .push(TimelineEvent::Completed { effective: day });
                update_task_request::Change::Complete(v1::Completion {
                    note: String::new(),
                })
            };
            requests.push(v1::IngestRequest {
                mutation: Some(ingest_request::Mutation::Update(v1::UpdateTaskRequest {
                    update_id: uuid7(&mut rng, day),
                    task_id: task_id.clone(),
                    effective_time: Some(at(day)),
                    expected_version: None,
                    change: Some(change),
                })),
            });
        }
        made.push(MadeTask {
            assignee,
            assigned,
            timeline,
        });
    }
    (requests, made)
}

/// The four classes counted straight from the test's own timelines.
fn independent_counts(
    made: &[MadeTask],
    period: DatePeriod,
    as_of: NaiveDate,
    group: impl Fn(&v1::Unit) -> String,
) -> BTreeMap<String, [i64; 5]> {
    let mut counts: BTreeMap<String, [i64; 5]> = BTreeMap::new();
    for task in made {
        if !(period.start <= task.assigned && task.assigned <= period.end.min(as_of)) {
            continue;
        }
        let class = task.timeline.classify(as_of);
        let index = StatusClass::ALL.iter().position(|c| *c == class).unwrap() + 1;
        let mut keys = vec!["national".to_owned()];
        keys.push(group(&task.assignee));
        keys.dedup();
        for key in keys {
            let entry = counts.entry(key).or_default();
            entry[0] += 1;
            entry[index] += 1;
        }
    }
    counts
}

fn as_array(counts: Option<&v1::StatusCounts>) -> [i64; 5] {
    let c = counts.cloned().unwrap_or_default();
    [
        c.total,
        c.completed_on_time,
        c.completed_late,
        c.open_within_deadline,
        c.open_overdue,
    ]
}

async fn push(system: &TestSystem, requests: Vec<v1::IngestRequest>) -> i64 {
    let count = requests.len();
    let responses = system
        .tasks()
        .ingest(tokio_stream::iter(requests))
        .await
        .unwrap()
        .into_inner();
    let responses: Vec<v1::IngestResponse> = tokio_stream::StreamExt::collect::<Vec<_>>(responses)
        .await
        .into_iter()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(responses.len(), count);
    let mut last_cursor = 0;
    for response in responses {
        match response.outcome {
            Some(v1::ingest_response::Outcome::Ack(ack)) => {
                last_cursor = last_cursor.max(ack.cursor)
            }
            other => panic!("update {} not acknowledged: {other:?}", response.update_id),
        }
    }
    last_cursor
}

pub(crate) async fn reference_units(system: &TestSystem) -> Vec<v1::Unit> {
    system
        .organisation()
        .load_reference_units(v1::LoadReferenceUnitsRequest {})
        .await
        .unwrap();
    let mut units = Vec::new();
    let mut page_token = String::new();
    loop {
        let page = system
            .organisation()
            .list_units(v1::ListUnitsRequest {
                page_size: 1000,
                page_token: page_token.clone(),
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner();
        units.extend(page.units);
        if page.next_page_token.is_empty() {
            return units;
        }
        page_token = page.next_page_token;
    }
}

async fn breakdowns_match_an_independent_count(system: &TestSystem) {
    let units = reference_units(system).await;
    let hq = units
        .iter()
        .find(|u| u.category() == UnitCategory::Headquarters)
        .unwrap()
        .clone();
    let assignees: Vec<v1::Unit> = units
        .iter()
        .filter(|u| u.category() != UnitCategory::Headquarters)
        .cloned()
        .collect();
    let (requests, made) = scenario(&assignees, &hq, 7);
    let cursor = push(system, requests).await;

    for (period_label, as_of) in [
        ("2024-H1", ymd(2024, 6, 30)),
        ("2024-H1", ymd(2024, 5, 15)),
        ("2024", ymd(2024, 9, 1)),
    ] {
        let period = DatePeriod::parse(period_label).unwrap();
        for group_by in [
            GroupBy::None,
            GroupBy::UnitCategory,
            GroupBy::Region,
            GroupBy::Unit,
        ] {
            let response = system
                .reporting()
                .status_breakdown(v1::StatusBreakdownRequest {
                    basis: v1::ReportBasis::Unspecified as i32,
                    period: Some(v1::Period {
                        kind: Some(v1::period::Kind::Label(period_label.into())),
                    }),
                    as_of: Some(date_to_proto(as_of)),
                    group_by: group_by as i32,
                    min_cursor: cursor,
                })
                .await
                .unwrap()
                .into_inner();
            let key = |unit: &v1::Unit| match group_by {
                GroupBy::UnitCategory => unit.category().as_str_name().to_owned(),
                GroupBy::Region if unit.region_code.is_empty() => {
                    tasknet_reporting::NO_REGION_GROUP.to_owned()
                }
                GroupBy::Region => unit.region_code.clone(),
                GroupBy::Unit => unit.id.clone(),
                _ => "national".to_owned(),
            };
            let current = independent_counts(&made, period, as_of, key);
            let previous = independent_counts(
                &made,
                period.previous_year(),
                previous_year_date(as_of),
                key,
            );
            let context = format!("{period_label} as of {as_of} by {group_by:?}");
            assert_eq!(
                as_array(response.national.as_ref().and_then(|r| r.current.as_ref())),
                current["national"],
                "{context}: national"
            );
            assert_eq!(
                as_array(response.national.as_ref().and_then(|r| r.previous.as_ref())),
                previous.get("national").copied().unwrap_or_default(),
                "{context}: national, previous year"
            );
            if group_by != GroupBy::None {
                for row in &response.rows {
                    let expected = current.get(&row.group_key).copied().unwrap_or_default();
                    assert_eq!(
                        as_array(row.current.as_ref()),
                        expected,
                        "{context}: {}",
                        row.group_key
                    );
                }
                let reported: i64 = response
                    .rows
                    .iter()
                    .map(|r| as_array(r.current.as_ref())[0])
                    .sum();
                assert_eq!(reported, current["national"][0], "{context}: rows add up");
            }
        }
    }
}

async fn unknown_units_are_refused_and_change_nothing(system: &TestSystem) {
    let units = reference_units(system).await;
    let office = units.iter().find(|u| u.code == "01").unwrap();
    let mut rng = ChaCha8Rng::seed_from_u64(1);
    let assigned = ymd(2024, 3, 1);
    let missing_unit = uuid::Uuid::now_v7().to_string();
    let status = system
        .tasks()
        .create_task(v1::CreateTaskRequest {
            update_id: uuid7(&mut rng, assigned),
            task_id: uuid7(&mut rng, assigned),
            effective_time: Some(at(assigned)),
            task: Some(v1::NewTask {
                title: "Báo cáo tháng".into(),
                assigning_unit_id: office.id.clone(),
                assignee_unit_id: missing_unit,
                assigned_date: Some(date_to_proto(assigned)),
                deadline: Some(date_to_proto(assigned)),
                plan_ids: vec![],
            }),
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::NotFound);
    assert!(
        status.message().contains("task.assignee_unit_id"),
        "{}",
        status.message()
    );
    let listed = system
        .tasks()
        .list_tasks(v1::ListTasksRequest::default())
        .await
        .unwrap()
        .into_inner();
    assert!(listed.tasks.is_empty());
}

async fn health_and_reflection_answer(system: &TestSystem) {
    use tonic_health::pb::health_client::HealthClient;

    let channel = tasknet_server::connect_lazy(&system.task_endpoint).unwrap();
    let health = HealthClient::new(channel)
        .check(tonic_health::pb::HealthCheckRequest {
            service: tasknet_task::SERVICE_NAME.into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        health.status(),
        tonic_health::pb::health_check_response::ServingStatus::Serving
    );

    let names = crate::support::reflected_services(&system.task_endpoint).await;
    for expected in [
        tasknet_task::SERVICE_NAME,
        "grpc.health.v1.Health",
        "grpc.reflection.v1alpha.ServerReflection",
    ] {
        assert!(
            names.iter().any(|n| n == expected),
            "{expected} missing from {names:?}"
        );
    }
}

crate::system_tests!(
    breakdowns_match_an_independent_count,
    unknown_units_are_refused_and_change_nothing,
    health_and_reflection_answer,
);
