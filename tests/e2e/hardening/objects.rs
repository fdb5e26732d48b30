//! Object-level rules for every field of a write: an office assigns work in
//! its own name only, adds tasks only to its own unit's plans, and neither
//! it nor anyone assigns work to a unit that did not exist on the task's
//! dates; an ended office's credential writes nothing that takes effect
//! after its last day (its history stays readable). Another unit's task
//! reads as an unknown id; refusals inside Ingest name their field and are
//! audited; titles and report names refuse control and bidi characters.

use tasknet_auth::principal::Role;
use tasknet_domain::{date_to_proto, timestamp_to_proto};
use tasknet_proto::tonic::Code;
use tasknet_proto::v1;
use tasknet_proto::v1::ingest_request::Mutation;
use tasknet_proto::v1::ingest_response::Outcome;

use crate::auth::{audited_eventually, completion, creation, issue, tasks_as, units};
use crate::support::TestSystem;

fn day(year: i32, month: u32, day: u32) -> chrono::NaiveDate {
    chrono::NaiveDate::from_ymd_opt(year, month, day).unwrap()
}

/// `request` assigned on `assigned`, due a month later, effective at noon then.
fn dated(mut request: v1::CreateTaskRequest, assigned: chrono::NaiveDate) -> v1::CreateTaskRequest {
    let task = request.task.as_mut().unwrap();
    task.assigned_date = Some(date_to_proto(assigned));
    task.deadline = Some(date_to_proto(assigned + chrono::Days::new(30)));
    request.effective_time = Some(noon_of(assigned));
    request
}

fn noon_of(date: chrono::NaiveDate) -> tasknet_proto::prost_types::Timestamp {
    timestamp_to_proto(date.and_hms_opt(5, 0, 0).unwrap().and_utc())
}

async fn an_office_assigns_only_in_its_own_name(system: &TestSystem) {
    let units = units(system).await;
    let agent = issue(system, Role::OfficeAgent, Some(&units.hanoi)).await;
    let mut client = tasks_as(system, Some(&agent));
    for assigning in [&units.haiphong, &units.hq] {
        let status = client
            .create_task(creation(assigning, &units.hanoi))
            .await
            .unwrap_err();
        assert_eq!(status.code(), Code::PermissionDenied, "{status:?}");
        assert!(
            status.message().starts_with("task.assigning_unit_id"),
            "{status:?}"
        );
    }
    client
        .create_task(creation(&units.hanoi, &units.hanoi))
        .await
        .unwrap();
    // Through Ingest the refusal names the field too.
    let item = v1::IngestRequest {
        mutation: Some(Mutation::Create(creation(&units.hq, &units.hanoi))),
    };
    let answer = client
        .ingest(tokio_stream::iter([item]))
        .await
        .unwrap()
        .into_inner()
        .message()
        .await
        .unwrap()
        .unwrap();
    let Some(Outcome::Error(error)) = answer.outcome else {
        panic!("accepted: {answer:?}");
    };
    assert_eq!(Code::from_i32(error.code), Code::PermissionDenied);
    assert_eq!(error.field, "task.assigning_unit_id");
}

async fn plan(system: &TestSystem, owner: &str) -> String {
    system
        .tasks()
        .create_plan(v1::CreatePlanRequest {
            plan_id: String::new(),
            plan: Some(v1::Plan {
                name: "Kế hoạch công tác năm 2024".to_owned(),
                kind: v1::PlanKind::AnnualWorkPlan as i32,
                owner_unit_id: owner.to_owned(),
                period: Some(v1::DateRange {
                    start: Some(date_to_proto(day(2024, 1, 1))),
                    end: Some(date_to_proto(day(2024, 12, 31))),
                }),
                ..Default::default()
            }),
        })
        .await
        .unwrap()
        .into_inner()
        .plan
        .unwrap()
        .id
}

async fn plan_membership_respects_the_owner(system: &TestSystem) {
    let units = units(system).await;
    let theirs = plan(system, &units.haiphong).await;
    let own = plan(system, &units.hanoi).await;
    let agent = issue(system, Role::OfficeAgent, Some(&units.hanoi)).await;
    let mut client = tasks_as(system, Some(&agent));
    let mut into_theirs = creation(&units.hanoi, &units.hanoi);
    into_theirs.task.as_mut().unwrap().plan_ids = vec![theirs.clone()];
    let status = client.create_task(into_theirs).await.unwrap_err();
    assert_eq!(status.code(), Code::PermissionDenied, "{status:?}");
    assert!(status.message().starts_with("task.plan_ids"), "{status:?}");
    assert!(status.message().contains(&theirs), "{status:?}");
    let members = system
        .tasks()
        .list_tasks(v1::ListTasksRequest {
            plan_id: theirs,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .tasks;
    assert!(members.is_empty(), "{members:?}");
    let mut into_own = creation(&units.hanoi, &units.hanoi);
    into_own.task.as_mut().unwrap().plan_ids = vec![own];
    client.create_task(into_own).await.unwrap();
}

/// A provincial office that existed until 30 June 2025 (as the 2025 merger
/// ended most of them).
async fn ended_office(system: &TestSystem, parent: &str) -> String {
    system
        .organisation()
        .create_unit(v1::CreateUnitRequest {
            unit_id: String::new(),
            unit: Some(v1::Unit {
                category: v1::UnitCategory::ProvincialOffice as i32,
                parent_id: parent.to_owned(),
                code: "98".to_owned(),
                name_vi: "Cục Thống kê tỉnh Thử nghiệm".to_owned(),
                name_en: "Test Province Statistics Office".to_owned(),
                valid_from: Some(date_to_proto(day(2008, 8, 1))),
                valid_to: Some(date_to_proto(day(2025, 6, 30))),
                ..Default::default()
            }),
        })
        .await
        .unwrap()
        .into_inner()
        .unit
        .unwrap()
        .id
}

async fn ended_units_take_no_new_work(system: &TestSystem) {
    let units = units(system).await;
    let ended = ended_office(system, &units.hq).await;
    let mut admin = system.tasks();
    // Not even an administrator assigns work to it after its last day...
    let status = admin
        .create_task(dated(creation(&units.hq, &ended), day(2026, 1, 5)))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::FailedPrecondition, "{status:?}");
    assert!(
        status.message().starts_with("task.assignee_unit_id"),
        "{status:?}"
    );
    // ...nor in its name.
    let status = admin
        .create_task(dated(creation(&ended, &units.hanoi), day(2026, 1, 5)))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::FailedPrecondition, "{status:?}");
    assert!(
        status.message().starts_with("task.assigning_unit_id"),
        "{status:?}"
    );
    // Work dated while it existed is history, and accepted.
    let history = dated(creation(&units.hq, &ended), day(2025, 3, 3));
    admin.create_task(history.clone()).await.unwrap();

    // Its own credential: nothing that takes effect after its last day.
    let agent = issue(system, Role::OfficeAgent, Some(&ended)).await;
    let mut client = tasks_as(system, Some(&agent));
    let status = client
        .create_task(dated(creation(&ended, &ended), day(2026, 1, 5)))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::PermissionDenied, "{status:?}");
    let mut late_note = completion(&history.task_id);
    late_note.effective_time = Some(noon_of(day(2025, 8, 1)));
    let status = client.update_task(late_note).await.unwrap_err();
    assert_eq!(status.code(), Code::PermissionDenied, "{status:?}");
    assert!(status.message().starts_with("effective_time"), "{status:?}");
    // An update it made before its end, pushed late, is accepted; its
    // history stays readable.
    let mut on_time = completion(&history.task_id);
    on_time.effective_time = Some(noon_of(day(2025, 6, 20)));
    client.update_task(on_time).await.unwrap();
    let task = client
        .get_task(v1::GetTaskRequest {
            task_id: history.task_id.clone(),
        })
        .await
        .unwrap()
        .into_inner()
        .task
        .unwrap();
    assert_eq!(task.status, v1::TaskStatus::Completed as i32);
}

async fn another_units_task_reads_as_unknown(system: &TestSystem) {
    let units = units(system).await;
    let theirs = creation(&units.hq, &units.haiphong);
    system.tasks().create_task(theirs.clone()).await.unwrap();
    let agent = issue(system, Role::OfficeAgent, Some(&units.hanoi)).await;
    let client = tasks_as(system, Some(&agent));
    let read = async |task_id: &str| {
        client
            .clone()
            .get_task(v1::GetTaskRequest {
                task_id: task_id.to_owned(),
            })
            .await
            .unwrap_err()
    };
    let unknown_id = uuid::Uuid::now_v7().to_string();
    let (existing, unknown) = (read(&theirs.task_id).await, read(&unknown_id).await);
    assert_eq!(existing.code(), unknown.code());
    assert_eq!(
        existing.message().replace(&theirs.task_id, "ID"),
        unknown.message().replace(&unknown_id, "ID")
    );
    assert!(
        !existing.message().contains(&units.haiphong),
        "{existing:?}"
    );
}

async fn ingest_refusals_name_their_field_and_are_audited(system: &TestSystem) {
    let units = units(system).await;
    let theirs = creation(&units.hq, &units.haiphong);
    system.tasks().create_task(theirs.clone()).await.unwrap();
    let agent = issue(system, Role::OfficeAgent, Some(&units.hanoi)).await;
    let agent_id = tasknet_auth::token::parse(&agent).unwrap().credential_id;
    let mut untitled = creation(&units.hanoi, &units.hanoi);
    untitled.task.as_mut().unwrap().title = String::new();
    let items = [
        Mutation::Update(completion(&theirs.task_id)),
        Mutation::Create(untitled),
    ]
    .map(|mutation| v1::IngestRequest {
        mutation: Some(mutation),
    });
    let mut answers = tasks_as(system, Some(&agent))
        .ingest(tokio_stream::iter(items))
        .await
        .unwrap()
        .into_inner();
    let mut errors = Vec::new();
    while let Some(answer) = answers.message().await.unwrap() {
        let Some(Outcome::Error(error)) = answer.outcome else {
            panic!("accepted: {answer:?}");
        };
        errors.push((Code::from_i32(error.code), error.field));
    }
    assert_eq!(
        errors,
        vec![
            (Code::PermissionDenied, "task_id".to_owned()),
            (Code::InvalidArgument, "task.title".to_owned()),
        ]
    );
    // Both are in the audit log (written in the background).
    for outcome in [v1::AuditOutcome::Denied, v1::AuditOutcome::Invalid] {
        audited_eventually(system, outcome, |r| {
            r.credential_id == agent_id && r.rpc.ends_with("/Ingest")
        })
        .await;
    }
}

async fn display_text_refuses_controls_and_bidi(system: &TestSystem) {
    let units = units(system).await;
    for title in [
        "Báo cáo\u{1b}[2J",
        "dòng 1\ndòng 2",
        "hợp đồng \u{202E}fdp.exe",
    ] {
        let mut request = creation(&units.hq, &units.hanoi);
        request.task.as_mut().unwrap().title = title.to_owned();
        let status = system.tasks().create_task(request).await.unwrap_err();
        assert_eq!(status.code(), Code::InvalidArgument, "{title:?}");
        assert!(status.message().starts_with("task.title"), "{status:?}");
        assert!(status.message().contains("refused"), "{status:?}");
    }
    let status = system
        .reporting()
        .report_summary(v1::ReportSummaryRequest {
            period: Some(v1::Period {
                kind: Some(v1::period::Kind::Label("2024-H1".to_owned())),
            }),
            as_of: Some(date_to_proto(day(2024, 6, 30))),
            system_name: "tasknet\u{202E}".to_owned(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
    assert!(status.message().starts_with("system_name"), "{status:?}");
}

async fn report_periods_and_as_of_are_checked(system: &TestSystem) {
    let mut reporting = system.reporting();
    for label in [
        "0000",
        "0000-Q1",
        "+202",
        "2024-+1",
        "0001-01-01..9999-12-31",
    ] {
        let status = reporting
            .status_breakdown(v1::StatusBreakdownRequest {
                period: Some(v1::Period {
                    kind: Some(v1::period::Kind::Label(label.to_owned())),
                }),
                as_of: Some(date_to_proto(day(2024, 6, 30))),
                ..Default::default()
            })
            .await
            .unwrap_err();
        assert_eq!(status.code(), Code::InvalidArgument, "{label}");
        assert!(status.message().starts_with("period"), "{status:?}");
    }
    let status = reporting
        .report_summary(v1::ReportSummaryRequest {
            period: Some(v1::Period {
                kind: Some(v1::period::Kind::Label("2024-Q3".to_owned())),
            }),
            as_of: Some(date_to_proto(day(2024, 6, 30))),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
    assert!(status.message().starts_with("as_of"), "{status:?}");
}

crate::system_tests!(
    an_office_assigns_only_in_its_own_name,
    plan_membership_respects_the_owner,
    ended_units_take_no_new_work,
    another_units_task_reads_as_unknown,
    ingest_refusals_name_their_field_and_are_audited,
    display_text_refuses_controls_and_bidi,
    report_periods_and_as_of_are_checked,
);
