//! Creating, updating, reading and listing tasks and plans.

use std::collections::BTreeSet;

use tasknet_domain::date_to_proto;
use tasknet_proto::v1;
use tasknet_storage::testing::TestDatabase;

use crate::support::*;

async fn creates_updates_and_reads_a_task(db: TestDatabase) {
    let mut harness = Harness::start(db).await;
    let office = harness.office.clone();
    let creation = harness.new_task(&office, ymd(2024, 6, 3), ymd(2024, 6, 28));
    let created = harness
        .client
        .create_task(creation.clone())
        .await
        .unwrap()
        .into_inner();
    let task = created.task.clone().unwrap();
    assert!(!created.duplicate);
    assert!(created.cursor > 0);
    assert_eq!(
        (task.id.as_str(), task.version),
        (creation.task_id.as_str(), 1)
    );
    assert_eq!(task.status, v1::TaskStatus::Open as i32);
    assert_eq!(task.assignee_unit_id, office);
    assert!(task.create_time.is_some());

    // A retried creation is acknowledged with the state it produced.
    let repeat = harness
        .client
        .create_task(creation.clone())
        .await
        .unwrap()
        .into_inner();
    assert!(repeat.duplicate);
    assert_eq!(repeat.cursor, created.cursor);
    assert_eq!(repeat.task, created.task);

    let mut progress = update(&task.id, at_noon(ymd(2024, 6, 10)), note("đã triển khai"));
    progress.expected_version = Some(1);
    let progressed = harness
        .client
        .update_task(progress)
        .await
        .unwrap()
        .into_inner();
    assert_eq!(progressed.task.as_ref().unwrap().version, 2);
    assert_eq!(progressed.task.as_ref().unwrap().last_note, "đã triển khai");
    assert!(progressed.cursor > created.cursor);

    // Completed at 23:30 UTC on 27 June, which is 28 June in Vietnam.
    let done = update(&task.id, instant("2024-06-27T23:30:00Z"), complete());
    let completed = harness
        .client
        .update_task(done.clone())
        .await
        .unwrap()
        .into_inner();
    let completed_task = completed.task.unwrap();
    assert_eq!(completed_task.status, v1::TaskStatus::Completed as i32);
    assert_eq!(
        completed_task.completed_on,
        Some(date_to_proto(ymd(2024, 6, 28)))
    );
    let again = harness.client.update_task(done).await.unwrap().into_inner();
    assert!(again.duplicate);
    assert_eq!(again.task.unwrap(), completed_task);

    let fetched = harness
        .client
        .get_task(v1::GetTaskRequest {
            task_id: task.id.to_uppercase(),
        })
        .await
        .unwrap()
        .into_inner()
        .task
        .unwrap();
    assert_eq!(fetched, completed_task);
    assert_eq!(harness.count("change_log").await, 3);
    harness.stop().await;
}

/// Collects every page of a listing.
async fn list_all(client: &mut Client, mut request: v1::ListTasksRequest) -> Vec<v1::Task> {
    let mut tasks = Vec::new();
    loop {
        let page = client
            .list_tasks(request.clone())
            .await
            .unwrap()
            .into_inner();
        assert!(page.tasks.len() <= request.page_size.max(1) as usize || request.page_size == 0);
        tasks.extend(page.tasks);
        if page.next_page_token.is_empty() {
            return tasks;
        }
        request.page_token = page.next_page_token;
    }
}

fn ids(tasks: &[v1::Task]) -> BTreeSet<String> {
    tasks.iter().map(|task| task.id.clone()).collect()
}

async fn lists_tasks_by_filter_a_page_at_a_time(db: TestDatabase) {
    let mut harness = Harness::start(db).await;
    let plan = harness
        .client
        .create_plan(v1::CreatePlanRequest {
            plan_id: String::new(),
            plan: Some(v1::Plan {
                name: "Nhiệm vụ trọng tâm 6 tháng đầu năm 2024".into(),
                kind: v1::PlanKind::KeyTasks as i32,
                owner_unit_id: harness.hq.clone(),
                period: Some(v1::DateRange {
                    start: Some(date_to_proto(ymd(2024, 1, 1))),
                    end: Some(date_to_proto(ymd(2024, 6, 30))),
                }),
                ..Default::default()
            }),
        })
        .await
        .unwrap()
        .into_inner()
        .plan
        .unwrap();

    // 24 tasks: two offices, assigned over 12 days, every third in the plan,
    // every fourth completed.
    let mut all = Vec::new();
    for i in 0..24_u32 {
        let assignee = if i % 2 == 0 {
            harness.office.clone()
        } else {
            harness.other_office.clone()
        };
        let assigned = ymd(2024, 3, 1 + i / 2);
        let mut request = harness.new_task(&assignee, assigned, ymd(2024, 6, 30));
        if i % 3 == 0 {
            request.task.as_mut().unwrap().plan_ids = vec![plan.id.clone()];
        }
        let mut task = harness.create(request).await;
        if i % 4 == 0 {
            let done = update(&task.id, at_noon(ymd(2024, 4, 1)), complete());
            task = harness
                .client
                .update_task(done)
                .await
                .unwrap()
                .into_inner()
                .task
                .unwrap();
        }
        all.push(task);
    }

    let everything = list_all(
        &mut harness.client,
        v1::ListTasksRequest {
            page_size: 5,
            ..Default::default()
        },
    )
    .await;
    assert_eq!(everything.len(), 24);
    assert_eq!(ids(&everything), ids(&all));
    let keys: Vec<_> = everything
        .iter()
        .map(|t| {
            (
                t.assigned_date.as_ref().map(|d| (d.year, d.month, d.day)),
                t.id.clone(),
            )
        })
        .collect();
    assert!(
        keys.windows(2).all(|pair| pair[0] < pair[1]),
        "ordered by assigned date, then id"
    );
    assert_eq!(everything.iter().find(|t| t.id == all[0].id), Some(&all[0]));

    let expect = |keep: &dyn Fn(usize, &v1::Task) -> bool| -> BTreeSet<String> {
        all.iter()
            .enumerate()
            .filter(|(i, t)| keep(*i, t))
            .map(|(_, t)| t.id.clone())
            .collect()
    };
    let office = harness.office.clone();
    let filtered = list_all(
        &mut harness.client,
        v1::ListTasksRequest {
            assignee_unit_id: office.clone(),
            page_size: 4,
            ..Default::default()
        },
    )
    .await;
    assert_eq!(ids(&filtered), expect(&|i, _| i % 2 == 0));

    let in_plan = list_all(
        &mut harness.client,
        v1::ListTasksRequest {
            plan_id: plan.id.clone(),
            page_size: 3,
            ..Default::default()
        },
    )
    .await;
    assert_eq!(ids(&in_plan), expect(&|i, _| i % 3 == 0));
    assert!(in_plan.iter().all(|t| t.plan_ids == vec![plan.id.clone()]));

    let completed = list_all(
        &mut harness.client,
        v1::ListTasksRequest {
            status: v1::TaskStatus::Completed as i32,
            ..Default::default()
        },
    )
    .await;
    assert_eq!(ids(&completed), expect(&|i, _| i % 4 == 0));

    // Assigned 3..=5 March, open, at the first office.
    let narrow = list_all(
        &mut harness.client,
        v1::ListTasksRequest {
            assignee_unit_id: office,
            status: v1::TaskStatus::Open as i32,
            assigned: Some(v1::DateRange {
                start: Some(date_to_proto(ymd(2024, 3, 3))),
                end: Some(date_to_proto(ymd(2024, 3, 5))),
            }),
            page_size: 1,
            ..Default::default()
        },
    )
    .await;
    assert_eq!(
        ids(&narrow),
        expect(&|i, _| i % 2 == 0 && i % 4 != 0 && (4..=9).contains(&i))
    );
    harness.stop().await;
}

async fn creates_gets_and_lists_plans(db: TestDatabase) {
    let mut harness = Harness::start(db).await;
    let plan = |id: &str, name: &str, kind: v1::PlanKind, start: (i32, u32), end: (i32, u32)| {
        v1::CreatePlanRequest {
            plan_id: id.to_owned(),
            plan: Some(v1::Plan {
                name: name.to_owned(),
                kind: kind as i32,
                owner_unit_id: harness.hq.clone(),
                period: Some(v1::DateRange {
                    start: Some(date_to_proto(ymd(start.0, start.1, 1))),
                    end: Some(date_to_proto(ymd(end.0, end.1, 28))),
                }),
                ..Default::default()
            }),
        }
    };
    let legal_id = new_id();
    let requests = vec![
        plan(
            &new_id(),
            "Key tasks 2024-H1",
            v1::PlanKind::KeyTasks,
            (2024, 1),
            (2024, 6),
        ),
        plan(
            &legal_id,
            "Legal documents 2024",
            v1::PlanKind::LegalDocuments,
            (2024, 1),
            (2024, 12),
        ),
        plan(
            &new_id(),
            "Annual work plan 2024",
            v1::PlanKind::AnnualWorkPlan,
            (2024, 1),
            (2024, 12),
        ),
        plan(
            &new_id(),
            "Key tasks 2023-H2",
            v1::PlanKind::KeyTasks,
            (2023, 7),
            (2023, 12),
        ),
    ];
    let head = harness.head().await;
    for request in &requests {
        harness.client.create_plan(request.clone()).await.unwrap();
    }
    // Repeating a creation creates nothing.
    let repeated = harness
        .client
        .create_plan(requests[1].clone())
        .await
        .unwrap()
        .into_inner()
        .plan
        .unwrap();
    assert_eq!(repeated.id, legal_id);
    assert_eq!(harness.count("plans").await, 4);
    assert_eq!(harness.head().await, head + 4);

    let fetched = harness
        .client
        .get_plan(v1::GetPlanRequest {
            plan_id: legal_id.clone(),
        })
        .await
        .unwrap()
        .into_inner()
        .plan
        .unwrap();
    assert_eq!(fetched, repeated);
    assert_eq!(fetched.kind, v1::PlanKind::LegalDocuments as i32);

    let mut request = v1::ListPlansRequest {
        page_size: 1,
        ..Default::default()
    };
    let mut names = Vec::new();
    loop {
        let page = harness
            .client
            .list_plans(request.clone())
            .await
            .unwrap()
            .into_inner();
        names.extend(page.plans.into_iter().map(|p| p.name));
        if page.next_page_token.is_empty() {
            break;
        }
        request.page_token = page.next_page_token;
    }
    assert_eq!(names.len(), 4);

    let key_tasks_2024 = harness
        .client
        .list_plans(v1::ListPlansRequest {
            kind: v1::PlanKind::KeyTasks as i32,
            period: Some(v1::Period {
                kind: Some(v1::period::Kind::Label("2024-Q2".into())),
            }),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    let names: Vec<_> = key_tasks_2024
        .plans
        .iter()
        .map(|p| p.name.as_str())
        .collect();
    assert_eq!(names, vec!["Key tasks 2024-H1"]);
    harness.stop().await;
}

tasknet_storage::test_on_both_backends!(
    creates_updates_and_reads_a_task,
    lists_tasks_by_filter_a_page_at_a_time,
    creates_gets_and_lists_plans,
);
