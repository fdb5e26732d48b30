//! Authentication, authorisation, audit and limits over real gRPC, with the
//! services on separate servers (task and reporting verify tokens through
//! the organisation service, as `tasknet serve` does): every RPC against
//! every role, forged, expired, revoked and other-unit credentials, writes
//! into another unit through every write path, oversize input, rate limits,
//! the audit records of a change and of a refusal, and TLS.

use std::time::Duration;

use tasknet_auth::principal::{ALL_ROLES, Role, role_name};
use tasknet_domain::{date_to_proto, timestamp_to_proto};
use tasknet_proto::tonic::{Code, Request, Status};
use tasknet_proto::v1;
use tasknet_proto::v1::notification_service_client::NotificationServiceClient;
use tasknet_proto::v1::organisation_service_client::OrganisationServiceClient;
use tasknet_proto::v1::reporting_service_client::ReportingServiceClient;
use tasknet_proto::v1::task_service_client::TaskServiceClient;
use tasknet_server::TracedChannel;

use crate::support::TestSystem;

/// The units the tests act in: two provincial offices and headquarters.
pub(crate) struct Units {
    pub hq: String,
    pub hanoi: String,
    pub haiphong: String,
}

pub(crate) async fn units(system: &TestSystem) -> Units {
    units_of(&mut system.organisation()).await
}

/// Loads the reference units through `organisation` (an administrator's)
/// and finds the three the tests act in.
pub(crate) async fn units_of(organisation: &mut OrganisationServiceClient<TracedChannel>) -> Units {
    organisation
        .load_reference_units(v1::LoadReferenceUnitsRequest {})
        .await
        .unwrap();
    let mut by_code = async |code: &str| {
        let units = organisation
            .list_units(v1::ListUnitsRequest {
                code: code.to_owned(),
                as_of: Some(v1::Date {
                    year: 2024,
                    month: 6,
                    day: 30,
                }),
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner()
            .units;
        assert_eq!(units.len(), 1, "code {code}");
        units[0].id.clone()
    };
    Units {
        hq: by_code("TCTK").await,
        hanoi: by_code("01").await,
        haiphong: by_code("31").await,
    }
}

/// Issues a credential as the administrator and returns its token.
pub(crate) async fn issue(system: &TestSystem, role: Role, unit: Option<&str>) -> String {
    issue_expiring(system, role, unit, None).await
}

pub(crate) async fn issue_expiring(
    system: &TestSystem,
    role: Role,
    unit: Option<&str>,
    expire_time: Option<chrono::DateTime<chrono::Utc>>,
) -> String {
    system
        .organisation()
        .issue_credential(v1::IssueCredentialRequest {
            unit_id: unit.unwrap_or_default().to_owned(),
            role: role as i32,
            label: format!("test {}", role_name(role)),
            expire_time: expire_time.map(timestamp_to_proto),
        })
        .await
        .unwrap()
        .into_inner()
        .token
}

pub(crate) fn organisation_as(
    system: &TestSystem,
    token: Option<&str>,
) -> OrganisationServiceClient<TracedChannel> {
    OrganisationServiceClient::new(system.channel_as(&system.organisation_endpoint, token))
}

pub(crate) fn tasks_as(
    system: &TestSystem,
    token: Option<&str>,
) -> TaskServiceClient<TracedChannel> {
    TaskServiceClient::new(system.channel_as(&system.task_endpoint, token))
}

pub(crate) fn reporting_as(
    system: &TestSystem,
    token: Option<&str>,
) -> ReportingServiceClient<TracedChannel> {
    ReportingServiceClient::new(system.channel_as(&system.reporting_endpoint, token))
}

pub(crate) fn notification_as(
    system: &TestSystem,
    token: Option<&str>,
) -> NotificationServiceClient<TracedChannel> {
    NotificationServiceClient::new(system.channel_as(&system.notification_endpoint, token))
}

/// The outcome code of calling `rpc` with an empty request (streams: with
/// no items). Requests are deliberately minimal: an admitted caller gets a
/// validation error or an empty answer, a refused one PERMISSION_DENIED.
async fn call(system: &TestSystem, rpc: &str, token: Option<&str>) -> Code {
    let (service, method) = rpc.trim_start_matches('/').split_once('/').unwrap();
    let result: Result<(), Status> = match service {
        "tasknet.v1.OrganisationService" => {
            call_organisation(organisation_as(system, token), method).await
        }
        "tasknet.v1.TaskService" => call_task(tasks_as(system, token), method).await,
        "tasknet.v1.ReportingService" => call_reporting(reporting_as(system, token), method).await,
        "tasknet.v1.NotificationService" => {
            call_notification(notification_as(system, token), method).await
        }
        other => panic!("unknown service {other}"),
    };
    match result {
        Ok(()) => Code::Ok,
        Err(status) => status.code(),
    }
}

async fn call_organisation(
    mut c: OrganisationServiceClient<TracedChannel>,
    method: &str,
) -> Result<(), Status> {
    match method {
        "CreateUnit" => c
            .create_unit(v1::CreateUnitRequest::default())
            .await
            .map(drop),
        "UpdateUnit" => c
            .update_unit(v1::UpdateUnitRequest::default())
            .await
            .map(drop),
        "GetUnit" => c.get_unit(v1::GetUnitRequest::default()).await.map(drop),
        "ListUnits" => c
            .list_units(v1::ListUnitsRequest::default())
            .await
            .map(drop),
        "ListRegions" => c
            .list_regions(v1::ListRegionsRequest::default())
            .await
            .map(drop),
        "LoadReferenceUnits" => c
            .load_reference_units(v1::LoadReferenceUnitsRequest::default())
            .await
            .map(drop),
        "IssueCredential" => c
            .issue_credential(v1::IssueCredentialRequest::default())
            .await
            .map(drop),
        "ListCredentials" => c
            .list_credentials(v1::ListCredentialsRequest::default())
            .await
            .map(drop),
        "RevokeCredential" => c
            .revoke_credential(v1::RevokeCredentialRequest::default())
            .await
            .map(drop),
        "AuthenticateToken" => c
            .authenticate_token(v1::AuthenticateTokenRequest::default())
            .await
            .map(drop),
        "ListAuditRecords" => c
            .list_audit_records(v1::ListAuditRecordsRequest::default())
            .await
            .map(drop),
        "ApplyReorganisation" => c
            .apply_reorganisation(v1::ApplyReorganisationRequest::default())
            .await
            .map(drop),
        "ApplyReferenceReorganisation" => c
            .apply_reference_reorganisation(v1::ApplyReferenceReorganisationRequest::default())
            .await
            .map(drop),
        "GetReorganisation" => c
            .get_reorganisation(v1::GetReorganisationRequest::default())
            .await
            .map(drop),
        "ListReorganisations" => c
            .list_reorganisations(v1::ListReorganisationsRequest::default())
            .await
            .map(drop),
        "GetLineage" => c
            .get_lineage(v1::GetLineageRequest::default())
            .await
            .map(drop),
        "LookupUnit" => c
            .lookup_unit(v1::LookupUnitRequest::default())
            .await
            .map(drop),
        "CreateUnitContact" => c
            .create_unit_contact(v1::CreateUnitContactRequest::default())
            .await
            .map(drop),
        "UpdateUnitContact" => c
            .update_unit_contact(v1::UpdateUnitContactRequest::default())
            .await
            .map(drop),
        "DeleteUnitContact" => c
            .delete_unit_contact(v1::DeleteUnitContactRequest::default())
            .await
            .map(drop),
        "GetUnitContact" => c
            .get_unit_contact(v1::GetUnitContactRequest::default())
            .await
            .map(drop),
        "ListUnitContacts" => c
            .list_unit_contacts(v1::ListUnitContactsRequest::default())
            .await
            .map(drop),
        other => panic!("no call for OrganisationService/{other}: add it to the matrix"),
    }
}

async fn call_task(mut c: TaskServiceClient<TracedChannel>, method: &str) -> Result<(), Status> {
    match method {
        "CreatePlan" => c
            .create_plan(v1::CreatePlanRequest::default())
            .await
            .map(drop),
        "GetPlan" => c.get_plan(v1::GetPlanRequest::default()).await.map(drop),
        "ListPlans" => c
            .list_plans(v1::ListPlansRequest::default())
            .await
            .map(drop),
        "CreateTask" => c
            .create_task(v1::CreateTaskRequest::default())
            .await
            .map(drop),
        "UpdateTask" => c
            .update_task(v1::UpdateTaskRequest::default())
            .await
            .map(drop),
        "GetTask" => c.get_task(v1::GetTaskRequest::default()).await.map(drop),
        "ListTasks" => c
            .list_tasks(v1::ListTasksRequest::default())
            .await
            .map(drop),
        "Ingest" => c
            .ingest(tokio_stream::iter(Vec::<v1::IngestRequest>::new()))
            .await
            .map(drop),
        "WatchChanges" => c
            .watch_changes(v1::WatchChangesRequest::default())
            .await
            .map(drop),
        "WatchUnitTasks" => c
            .watch_unit_tasks(v1::WatchUnitTasksRequest::default())
            .await
            .map(drop),
        "ListAuditRecords" => c
            .list_audit_records(v1::ListAuditRecordsRequest::default())
            .await
            .map(drop),
        "TransferOpenTasks" => c
            .transfer_open_tasks(v1::TransferOpenTasksRequest::default())
            .await
            .map(drop),
        other => panic!("no call for TaskService/{other}: add it to the matrix"),
    }
}

async fn call_notification(
    mut c: NotificationServiceClient<TracedChannel>,
    method: &str,
) -> Result<(), Status> {
    match method {
        "GetNotificationStatus" => c
            .get_notification_status(v1::GetNotificationStatusRequest::default())
            .await
            .map(drop),
        "JudgeDay" => c.judge_day(v1::JudgeDayRequest::default()).await.map(drop),
        "ListNotifications" => c
            .list_notifications(v1::ListNotificationsRequest::default())
            .await
            .map(drop),
        "RetryNotification" => c
            .retry_notification(v1::RetryNotificationRequest::default())
            .await
            .map(drop),
        "CreateWebhookSubscription" => c
            .create_webhook_subscription(v1::CreateWebhookSubscriptionRequest::default())
            .await
            .map(drop),
        "ListWebhookSubscriptions" => c
            .list_webhook_subscriptions(v1::ListWebhookSubscriptionsRequest::default())
            .await
            .map(drop),
        "DeleteWebhookSubscription" => c
            .delete_webhook_subscription(v1::DeleteWebhookSubscriptionRequest::default())
            .await
            .map(drop),
        other => panic!("no call for NotificationService/{other}: add it to the matrix"),
    }
}

async fn call_reporting(
    mut c: ReportingServiceClient<TracedChannel>,
    method: &str,
) -> Result<(), Status> {
    match method {
        "StatusBreakdown" => c
            .status_breakdown(v1::StatusBreakdownRequest::default())
            .await
            .map(drop),
        "PlanProgress" => c
            .plan_progress(v1::PlanProgressRequest::default())
            .await
            .map(drop),
        "GetSyncState" => c
            .get_sync_state(v1::GetSyncStateRequest::default())
            .await
            .map(drop),
        "ReportSummary" => c
            .report_summary(v1::ReportSummaryRequest::default())
            .await
            .map(drop),
        "ListGroupTasks" => c
            .list_group_tasks(v1::ListGroupTasksRequest::default())
            .await
            .map(drop),
        "GetTaskTimeline" => c
            .get_task_timeline(v1::GetTaskTimelineRequest::default())
            .await
            .map(drop),
        "GetReaderScope" => c
            .get_reader_scope(v1::GetReaderScopeRequest::default())
            .await
            .map(drop),
        "UnitScorecards" => c
            .unit_scorecards(v1::UnitScorecardsRequest::default())
            .await
            .map(drop),
        "GetTrajectory" => c
            .get_trajectory(v1::GetTrajectoryRequest::default())
            .await
            .map(drop),
        "AddReportNote" => c
            .add_report_note(v1::AddReportNoteRequest::default())
            .await
            .map(drop),
        "ListAuditRecords" => c
            .list_audit_records(v1::ListAuditRecordsRequest::default())
            .await
            .map(drop),
        other => panic!("no call for ReportingService/{other}: add it to the matrix"),
    }
}

use Role::{
    Administrator as A, DashboardReader as D, OfficeAgent as O, Service as S, UnitLeadership as L,
    UnitStaff as U,
};

/// Who may call what, written out by hand (not derived from the services'
/// tables): the roles that get past authorisation with the minimal request
/// of [`call`]. Unit credentials are of Hà Nội's office, so its leadership
/// does not cover the nation: the nationwide reports refuse it and staff.
const MATRIX: &[(&str, &[Role])] = &[
    ("/tasknet.v1.OrganisationService/CreateUnit", &[A]),
    ("/tasknet.v1.OrganisationService/UpdateUnit", &[A]),
    (
        "/tasknet.v1.OrganisationService/GetUnit",
        &[O, U, L, D, A, S],
    ),
    (
        "/tasknet.v1.OrganisationService/ListUnits",
        &[O, U, L, D, A, S],
    ),
    (
        "/tasknet.v1.OrganisationService/ListRegions",
        &[O, U, L, D, A, S],
    ),
    ("/tasknet.v1.OrganisationService/LoadReferenceUnits", &[A]),
    ("/tasknet.v1.OrganisationService/IssueCredential", &[A]),
    ("/tasknet.v1.OrganisationService/ListCredentials", &[A]),
    ("/tasknet.v1.OrganisationService/RevokeCredential", &[A]),
    ("/tasknet.v1.OrganisationService/AuthenticateToken", &[S]),
    ("/tasknet.v1.OrganisationService/ListAuditRecords", &[A]),
    ("/tasknet.v1.OrganisationService/ApplyReorganisation", &[A]),
    (
        "/tasknet.v1.OrganisationService/ApplyReferenceReorganisation",
        &[A],
    ),
    (
        "/tasknet.v1.OrganisationService/GetReorganisation",
        &[O, U, L, D, A, S],
    ),
    (
        "/tasknet.v1.OrganisationService/ListReorganisations",
        &[O, U, L, D, A, S],
    ),
    (
        "/tasknet.v1.OrganisationService/GetLineage",
        &[O, U, L, D, A, S],
    ),
    (
        "/tasknet.v1.OrganisationService/LookupUnit",
        &[O, U, L, D, A, S],
    ),
    // Contacts are personal data: administrators manage them, the
    // notification service reads them.
    ("/tasknet.v1.OrganisationService/CreateUnitContact", &[A]),
    ("/tasknet.v1.OrganisationService/UpdateUnitContact", &[A]),
    ("/tasknet.v1.OrganisationService/DeleteUnitContact", &[A]),
    ("/tasknet.v1.OrganisationService/GetUnitContact", &[A, S]),
    ("/tasknet.v1.OrganisationService/ListUnitContacts", &[A, S]),
    ("/tasknet.v1.TaskService/CreatePlan", &[L, A]),
    ("/tasknet.v1.TaskService/GetPlan", &[O, U, L, D, A, S]),
    ("/tasknet.v1.TaskService/ListPlans", &[O, U, L, D, A, S]),
    ("/tasknet.v1.TaskService/CreateTask", &[O, L, A]),
    ("/tasknet.v1.TaskService/UpdateTask", &[O, L, A]),
    ("/tasknet.v1.TaskService/GetTask", &[O, U, L, A]),
    ("/tasknet.v1.TaskService/ListTasks", &[O, U, L, A]),
    ("/tasknet.v1.TaskService/Ingest", &[O, L, A]),
    ("/tasknet.v1.TaskService/WatchChanges", &[A, S]),
    ("/tasknet.v1.TaskService/WatchUnitTasks", &[O, A, S]),
    ("/tasknet.v1.TaskService/ListAuditRecords", &[A]),
    ("/tasknet.v1.TaskService/TransferOpenTasks", &[A]),
    (
        "/tasknet.v1.ReportingService/StatusBreakdown",
        &[U, L, D, A],
    ),
    ("/tasknet.v1.ReportingService/PlanProgress", &[D, A]),
    (
        "/tasknet.v1.ReportingService/GetSyncState",
        &[U, L, D, A, S],
    ),
    ("/tasknet.v1.ReportingService/ReportSummary", &[D, A]),
    (
        "/tasknet.v1.ReportingService/ListGroupTasks",
        &[U, L, D, A, S],
    ),
    (
        "/tasknet.v1.ReportingService/GetTaskTimeline",
        &[U, L, D, A],
    ),
    ("/tasknet.v1.ReportingService/GetReaderScope", &[U, L, D, A]),
    ("/tasknet.v1.ReportingService/UnitScorecards", &[U, L, D, A]),
    ("/tasknet.v1.ReportingService/GetTrajectory", &[U, L, D, A]),
    ("/tasknet.v1.ReportingService/AddReportNote", &[A]),
    ("/tasknet.v1.ReportingService/ListAuditRecords", &[A]),
    (
        "/tasknet.v1.NotificationService/GetNotificationStatus",
        &[A],
    ),
    ("/tasknet.v1.NotificationService/JudgeDay", &[A]),
    ("/tasknet.v1.NotificationService/ListNotifications", &[A]),
    ("/tasknet.v1.NotificationService/RetryNotification", &[A]),
    (
        "/tasknet.v1.NotificationService/CreateWebhookSubscription",
        &[A],
    ),
    (
        "/tasknet.v1.NotificationService/ListWebhookSubscriptions",
        &[A],
    ),
    (
        "/tasknet.v1.NotificationService/DeleteWebhookSubscription",
        &[A],
    ),
];

async fn every_rpc_against_every_role(system: &TestSystem) {
    let units = units(system).await;
    // The matrix names every RPC the servers have a rule for.
    let mut covered: Vec<&str> = MATRIX.iter().map(|(rpc, _)| *rpc).collect();
    let mut ruled: Vec<&str> = crate::support::policy().rpcs().collect();
    covered.sort_unstable();
    ruled.sort_unstable();
    assert_eq!(
        covered, ruled,
        "the matrix and the policy tables name different RPCs"
    );

    let mut tokens = Vec::new();
    for role in ALL_ROLES {
        let unit = tasknet_auth::principal::role_needs_unit(role).then_some(units.hanoi.as_str());
        tokens.push((role, issue(system, role, unit).await));
    }
    let mut failures = Vec::new();
    let mut checked = 0;
    for (rpc, allowed) in MATRIX {
        let code = call(system, rpc, None).await;
        if code != Code::Unauthenticated {
            failures.push(format!("{rpc} without a credential: {code:?}"));
        }
        for (role, token) in &tokens {
            let code = call(system, rpc, Some(token)).await;
            checked += 1;
            let admitted = !matches!(code, Code::PermissionDenied | Code::Unauthenticated);
            if admitted != allowed.contains(role) {
                failures.push(format!("{rpc} as {}: {code:?}", role_name(*role)));
            }
        }
    }
    assert_eq!(checked, MATRIX.len() * ALL_ROLES.len());
    assert!(
        failures.is_empty(),
        "{} cells wrong:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

async fn forged_expired_and_revoked_credentials_are_refused(system: &TestSystem) {
    let units = units(system).await;
    let real = issue(system, Role::UnitStaff, Some(&units.hanoi)).await;
    let list = v1::ListTasksRequest::default();
    assert!(
        tasks_as(system, Some(&real))
            .list_tasks(list.clone())
            .await
            .is_ok()
    );

    // Forged: the real credential id with another secret; a made-up id;
    // not a token at all. Each on every service.
    let (id_part, _) = real.rsplit_once('_').unwrap();
    let forged_secret = format!("{id_part}_{}", "0".repeat(64));
    let made_up = tasknet_auth::token::issue().token;
    for token in [
        forged_secret.as_str(),
        made_up.as_str(),
        "tn_nonsense",
        "Bearer",
    ] {
        let status = tasks_as(system, Some(token))
            .list_tasks(list.clone())
            .await
            .unwrap_err();
        assert_eq!(status.code(), Code::Unauthenticated, "{token}: {status:?}");
        let status = organisation_as(system, Some(token))
            .list_regions(v1::ListRegionsRequest {})
            .await
            .unwrap_err();
        assert_eq!(status.code(), Code::Unauthenticated, "{token}: {status:?}");
        let status = reporting_as(system, Some(token))
            .get_sync_state(v1::GetSyncStateRequest {})
            .await
            .unwrap_err();
        assert_eq!(status.code(), Code::Unauthenticated, "{token}: {status:?}");
    }

    // Expired: works until its expiry, refused after (also from the cache).
    let expiring = issue_expiring(
        system,
        Role::UnitStaff,
        Some(&units.hanoi),
        Some(chrono::Utc::now() + chrono::TimeDelta::milliseconds(1500)),
    )
    .await;
    assert!(
        tasks_as(system, Some(&expiring))
            .list_tasks(list.clone())
            .await
            .is_ok()
    );
    tokio::time::sleep(Duration::from_millis(1800)).await;
    let status = tasks_as(system, Some(&expiring))
        .list_tasks(list.clone())
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::Unauthenticated, "{status:?}");
    assert!(status.message().contains("expired"), "{status:?}");

    // Expiry in the past is refused at issue.
    let status = system
        .organisation()
        .issue_credential(v1::IssueCredentialRequest {
            role: Role::DashboardReader as i32,
            expire_time: Some(timestamp_to_proto(
                chrono::Utc::now() - chrono::TimeDelta::hours(1),
            )),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument);
    assert!(status.message().starts_with("expire_time"), "{status:?}");

    // Revoked: refused everywhere within the cache's lifetime (10 s).
    let credential_id = tasknet_auth::token::parse(&real).unwrap().credential_id;
    system
        .organisation()
        .revoke_credential(v1::RevokeCredentialRequest { credential_id })
        .await
        .unwrap();
    let started = std::time::Instant::now();
    loop {
        match tasks_as(system, Some(&real)).list_tasks(list.clone()).await {
            Err(status) if status.code() == Code::Unauthenticated => break,
            other => assert!(
                started.elapsed() < Duration::from_secs(15),
                "still admitted: {other:?}"
            ),
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let status = organisation_as(system, Some(&real))
        .list_regions(v1::ListRegionsRequest {})
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::Unauthenticated);
    assert!(status.message().contains("revoked"), "{status:?}");
}

pub(crate) fn new_id() -> String {
    uuid::Uuid::now_v7().to_string()
}

pub(crate) fn noon(day: u32) -> tasknet_proto::prost_types::Timestamp {
    timestamp_to_proto(format!("2024-06-{day:02}T05:00:00Z").parse().unwrap())
}

pub(crate) fn creation(assigning: &str, assignee: &str) -> v1::CreateTaskRequest {
    let date = |day| {
        Some(date_to_proto(
            chrono::NaiveDate::from_ymd_opt(2024, 6, day).unwrap(),
        ))
    };
    v1::CreateTaskRequest {
        update_id: new_id(),
        task_id: new_id(),
        effective_time: Some(noon(3)),
        task: Some(v1::NewTask {
            title: "Báo cáo tình hình kinh tế - xã hội tháng 6".to_owned(),
            assigning_unit_id: assigning.to_owned(),
            assignee_unit_id: assignee.to_owned(),
            assigned_date: date(3),
            deadline: date(28),
            plan_ids: Vec::new(),
        }),
    }
}

pub(crate) fn completion(task_id: &str) -> v1::UpdateTaskRequest {
    v1::UpdateTaskRequest {
        update_id: new_id(),
        task_id: task_id.to_owned(),
        effective_time: Some(noon(20)),
        expected_version: None,
        change: Some(v1::update_task_request::Change::Complete(
            v1::Completion::default(),
        )),
    }
}

/// The task as the administrator sees it.
pub(crate) async fn version_of(system: &TestSystem, task_id: &str) -> i64 {
    let task = system
        .tasks()
        .get_task(v1::GetTaskRequest {
            task_id: task_id.to_owned(),
        })
        .await
        .unwrap()
        .into_inner()
        .task
        .unwrap();
    task.version
}

pub(crate) async fn change_log_head(system: &TestSystem) -> i64 {
    system
        .reporting()
        .get_sync_state(v1::GetSyncStateRequest {})
        .await
        .unwrap();
    let mut stream = system
        .tasks()
        .watch_changes(v1::WatchChangesRequest {
            after_cursor: 0,
            max_batch: 5000,
        })
        .await
        .unwrap()
        .into_inner();
    let mut head = 0;
    while let Ok(Ok(Some(response))) =
        tokio::time::timeout(Duration::from_millis(300), stream.message()).await
    {
        if let Some(last) = response.changes.last() {
            head = last.cursor;
        }
    }
    head
}

async fn cross_unit_writes_are_refused_on_every_path(system: &TestSystem) {
    let units = units(system).await;
    let hanoi_agent = issue(system, Role::OfficeAgent, Some(&units.hanoi)).await;
    let haiphong_task = creation(&units.hq, &units.haiphong);
    system
        .tasks()
        .create_task(haiphong_task.clone())
        .await
        .unwrap();
    let haiphong_id = haiphong_task.task_id.clone();
    let head = change_log_head(system).await;
    let mut agent = tasks_as(system, Some(&hanoi_agent));

    // CreateTask naming another office as assignee.
    let status = agent
        .create_task(creation(&units.hq, &units.haiphong))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::PermissionDenied, "{status:?}");
    assert!(
        status.message().starts_with("task.assignee_unit_id"),
        "{status:?}"
    );
    // UpdateTask of another office's task.
    let status = agent
        .update_task(completion(&haiphong_id))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::PermissionDenied, "{status:?}");
    assert!(status.message().starts_with("task_id"), "{status:?}");
    // Ingest: a creation for another office and an update of its task,
    // each answered PERMISSION_DENIED; the agent's own item goes through.
    let own = creation(&units.hanoi, &units.hanoi);
    let items = vec![
        v1::IngestRequest {
            mutation: Some(v1::ingest_request::Mutation::Create(creation(
                &units.hq,
                &units.haiphong,
            ))),
        },
        v1::IngestRequest {
            mutation: Some(v1::ingest_request::Mutation::Update(completion(
                &haiphong_id,
            ))),
        },
        v1::IngestRequest {
            mutation: Some(v1::ingest_request::Mutation::Create(own.clone())),
        },
    ];
    let mut answers = agent
        .ingest(tokio_stream::iter(items))
        .await
        .unwrap()
        .into_inner();
    let mut outcomes = Vec::new();
    while let Some(answer) = answers.message().await.unwrap() {
        outcomes.push(answer.outcome.unwrap());
    }
    assert_eq!(outcomes.len(), 3);
    for outcome in &outcomes[..2] {
        let v1::ingest_response::Outcome::Error(error) = outcome else {
            panic!("accepted: {outcome:?}");
        };
        assert_eq!(
            Code::from_i32(error.code),
            Code::PermissionDenied,
            "{error:?}"
        );
    }
    assert!(
        matches!(outcomes[2], v1::ingest_response::Outcome::Ack(_)),
        "{:?}",
        outcomes[2]
    );
    // Nothing of the refused writes reached the task or the change log:
    // exactly one change (the agent's own creation) was added.
    assert_eq!(version_of(system, &haiphong_id).await, 1);
    assert_eq!(change_log_head(system).await, head + 1);

    // Reads of the other office's task and list are refused too (the task
    // as if it did not exist).
    let status = agent
        .get_task(v1::GetTaskRequest {
            task_id: haiphong_id.clone(),
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::NotFound);
    let status = agent
        .list_tasks(v1::ListTasksRequest {
            assignee_unit_id: units.haiphong.clone(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::PermissionDenied);
    let own_list = agent
        .list_tasks(v1::ListTasksRequest::default())
        .await
        .unwrap()
        .into_inner();
    assert_eq!(own_list.tasks.len(), 1);
    assert_eq!(own_list.tasks[0].assignee_unit_id, units.hanoi);
    // The agent may update its own task; it may not create plans.
    agent.update_task(completion(&own.task_id)).await.unwrap();
    let status = agent
        .create_plan(v1::CreatePlanRequest::default())
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::PermissionDenied);

    // Leadership of Hà Nội's office cannot assign in Hải Phòng's name or to it.
    let leadership = issue(system, Role::UnitLeadership, Some(&units.hanoi)).await;
    let mut leader = tasks_as(system, Some(&leadership));
    let status = leader
        .create_task(creation(&units.hanoi, &units.haiphong))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::PermissionDenied);
    let status = leader
        .create_task(creation(&units.haiphong, &units.hanoi))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::PermissionDenied);
    assert!(
        status.message().starts_with("task.assigning_unit_id"),
        "{status:?}"
    );
    leader
        .create_task(creation(&units.hanoi, &units.hanoi))
        .await
        .unwrap();
    // Headquarters' leadership covers every unit.
    let hq_leadership = issue(system, Role::UnitLeadership, Some(&units.hq)).await;
    tasks_as(system, Some(&hq_leadership))
        .create_task(creation(&units.hq, &units.haiphong))
        .await
        .unwrap();
}

async fn reports_cover_only_the_readers_units(system: &TestSystem) {
    let units = units(system).await;
    let mut last = 0;
    for assignee in [&units.hanoi, &units.hanoi, &units.haiphong] {
        last = system
            .tasks()
            .create_task(creation(&units.hq, assignee))
            .await
            .unwrap()
            .into_inner()
            .cursor;
    }
    let request = |group_by: v1::GroupBy| v1::StatusBreakdownRequest {
        period: Some(v1::Period {
            kind: Some(v1::period::Kind::Label("2024-H1".into())),
        }),
        as_of: Some(v1::Date {
            year: 2024,
            month: 6,
            day: 30,
        }),
        group_by: group_by as i32,
        min_cursor: last,
        ..Default::default()
    };
    let ask = async |token: &str| {
        let mut request = Request::new(request(v1::GroupBy::Unit));
        request.set_timeout(Duration::from_secs(20));
        reporting_as(system, Some(token))
            .status_breakdown(request)
            .await
            .unwrap()
            .into_inner()
    };
    let staff = issue(system, Role::UnitStaff, Some(&units.hanoi)).await;
    let answer = ask(&staff).await;
    let keys: Vec<&str> = answer
        .rows
        .iter()
        .map(|row| row.group_key.as_str())
        .collect();
    assert_eq!(keys, [units.hanoi.as_str()]);
    assert_eq!(answer.national.unwrap().current.unwrap().total, 2);

    let dashboard = issue(system, Role::DashboardReader, None).await;
    let answer = ask(&dashboard).await;
    assert_eq!(answer.rows.len(), 2);
    assert_eq!(answer.national.unwrap().current.unwrap().total, 3);

    // The nationwide summary is refused to a unit's staff, not to a dashboard.
    let summary = v1::ReportSummaryRequest {
        period: Some(v1::Period {
            kind: Some(v1::period::Kind::Label("2024-H1".into())),
        }),
        as_of: Some(v1::Date {
            year: 2024,
            month: 6,
            day: 30,
        }),
        ..Default::default()
    };
    let status = reporting_as(system, Some(&staff))
        .report_summary(summary.clone())
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::PermissionDenied);
    reporting_as(system, Some(&dashboard))
        .report_summary(summary)
        .await
        .unwrap();
}

/// The task service's audit records, as the administrator reads them.
pub(crate) async fn task_audit(
    system: &TestSystem,
    outcome: v1::AuditOutcome,
) -> Vec<v1::AuditRecord> {
    system
        .tasks()
        .list_audit_records(v1::ListAuditRecordsRequest {
            outcome: outcome as i32,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .records
}

/// The first task-service audit record with `outcome` that `wanted`
/// accepts, waiting for it: refusals are recorded in the background (a
/// refusal never waits on the database), so one appears shortly after.
pub(crate) async fn audited_eventually(
    system: &TestSystem,
    outcome: v1::AuditOutcome,
    wanted: impl Fn(&v1::AuditRecord) -> bool,
) -> v1::AuditRecord {
    let found = async {
        loop {
            let records = task_audit(system, outcome).await;
            if let Some(record) = records.into_iter().find(|r| wanted(r)) {
                return record;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    };
    tokio::time::timeout(Duration::from_secs(30), found)
        .await
        .unwrap_or_else(|_| panic!("no such {outcome:?} record in the task service's audit log"))
}

async fn changes_and_refusals_are_audited(system: &TestSystem) {
    let units = units(system).await;
    let agent = issue(system, Role::OfficeAgent, Some(&units.hanoi)).await;
    let agent_id = tasknet_auth::token::parse(&agent).unwrap().credential_id;
    let mut client = tasks_as(system, Some(&agent));
    let own = creation(&units.hanoi, &units.hanoi);
    client.create_task(own.clone()).await.unwrap();
    client.update_task(completion(&own.task_id)).await.unwrap();

    let accepted = task_audit(system, v1::AuditOutcome::Accepted).await;
    let mine: Vec<_> = accepted
        .iter()
        .filter(|r| r.credential_id == agent_id)
        .collect();
    assert_eq!(mine.len(), 2, "{accepted:#?}");
    let (created, completed) = (mine[0], mine[1]);
    assert_eq!(created.rpc, "/tasknet.v1.TaskService/CreateTask");
    assert_eq!(created.unit_id, units.hanoi);
    assert_eq!(created.role, Role::OfficeAgent as i32);
    assert_eq!(created.target, format!("task/{}", own.task_id));
    assert_eq!(created.subject_unit_id, units.hanoi);
    assert!(created.peer.starts_with("127.0.0.1:"), "{created:?}");
    assert!(created.before.is_empty());
    let after: serde_json::Value = serde_json::from_str(&created.after).unwrap();
    assert_eq!(after["version"], 1);
    assert_eq!(completed.rpc, "/tasknet.v1.TaskService/UpdateTask");
    let before: serde_json::Value = serde_json::from_str(&completed.before).unwrap();
    let after: serde_json::Value = serde_json::from_str(&completed.after).unwrap();
    assert_eq!(
        (
            before["completed_on"].clone(),
            after["completed_on"].clone()
        ),
        (serde_json::Value::Null, "2024-06-20".into())
    );
    assert!(created.time.is_some());

    // A refused attempt (another unit's task) is recorded too, in the background.
    let status = client
        .create_task(creation(&units.hq, &units.haiphong))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::PermissionDenied);
    let denied = audited_eventually(system, v1::AuditOutcome::Denied, |r| {
        r.credential_id == agent_id
    })
    .await;
    assert_eq!(denied.rpc, "/tasknet.v1.TaskService/CreateTask");
    assert!(
        denied.message.contains("task.assignee_unit_id"),
        "{denied:?}"
    );
    assert_eq!(denied.unit_id, units.hanoi);

    // Unit and credential changes are audited by the organisation service,
    // and the records can be filtered by unit.
    let records = system
        .organisation()
        .list_audit_records(v1::ListAuditRecordsRequest {
            unit_id: units.hanoi.clone(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .records;
    assert!(
        records
            .iter()
            .any(|r| r.rpc.ends_with("/IssueCredential")
                && r.target == format!("credential/{agent_id}")),
        "{records:#?}"
    );
    assert!(
        records
            .iter()
            .all(|r| r.unit_id == units.hanoi || r.subject_unit_id == units.hanoi)
    );
}

async fn oversize_and_malformed_input_is_refused_naming_the_limit(system: &TestSystem) {
    let units = units(system).await;
    let head = change_log_head(system).await;
    let mut tasks = system.tasks();
    // Larger than the task service's 1 MiB message limit.
    let mut huge = creation(&units.hq, &units.hanoi);
    huge.task.as_mut().unwrap().title = "x".repeat(2 * 1024 * 1024);
    let status = tasks.create_task(huge).await.unwrap_err();
    assert_eq!(status.code(), Code::ResourceExhausted, "{status:?}");
    assert!(status.message().contains("limit"), "{status:?}");
    // Within the message limit but over the field's.
    let mut long = creation(&units.hq, &units.hanoi);
    long.task.as_mut().unwrap().title = "x".repeat(501);
    let status = tasks.create_task(long).await.unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument);
    assert!(
        status
            .message()
            .starts_with("task.title: is 501 characters long; at most 500"),
        "{status:?}"
    );
    // Page sizes.
    let status = system
        .organisation()
        .list_units(v1::ListUnitsRequest {
            page_size: 5000,
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument);
    assert!(status.message().starts_with("page_size"), "{status:?}");
    let status = tasks
        .list_audit_records(v1::ListAuditRecordsRequest {
            page_size: 1001,
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert!(status.message().contains("page size limit"), "{status:?}");
    // Reporting's messages are small: 64 KiB.
    let status = system
        .reporting()
        .add_report_note(v1::AddReportNoteRequest {
            text_vi: "x".repeat(100_000),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::ResourceExhausted, "{status:?}");
    // Labels of credentials.
    let status = system
        .organisation()
        .issue_credential(v1::IssueCredentialRequest {
            role: Role::DashboardReader as i32,
            label: "l".repeat(201),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert!(status.message().starts_with("label"), "{status:?}");
    // A unit role without a unit.
    let status = system
        .organisation()
        .issue_credential(v1::IssueCredentialRequest {
            role: Role::OfficeAgent as i32,
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert!(status.message().starts_with("unit_id"), "{status:?}");
    assert_eq!(
        change_log_head(system).await,
        head,
        "a refused request wrote to the change log"
    );
}

/// WatchUnitTasks by credential: an office agent follows its own unit (named
/// or not) and no other, naming `unit_id` in the refusal; an administrator
/// and a service any unit; an unknown unit is NOT_FOUND; and a revoked
/// office credential ends the open stream.
async fn an_office_agent_follows_its_own_unit_only(system: &TestSystem) {
    let units = units(system).await;
    let hanoi_task = creation(&units.hq, &units.hanoi);
    let haiphong_task = creation(&units.hq, &units.haiphong);
    for task in [&hanoi_task, &haiphong_task] {
        system.tasks().create_task(task.clone()).await.unwrap();
    }
    let hanoi_agent = issue(system, Role::OfficeAgent, Some(&units.hanoi)).await;
    let follow = async |token: &str, unit: &str| {
        tasks_as(system, Some(token))
            .watch_unit_tasks(v1::WatchUnitTasksRequest {
                unit_id: unit.to_owned(),
                ..Default::default()
            })
            .await
            .map(|response| response.into_inner())
    };
    let first_task =
        async |stream: &mut tasknet_proto::tonic::Streaming<v1::WatchUnitTasksResponse>| {
            let response = stream.message().await.unwrap().unwrap();
            let Some(v1::change::Event::TaskEvent(event)) = &response.changes[0].event else {
                panic!("not a task event: {response:?}");
            };
            event.task.as_ref().unwrap().id.clone()
        };
    // Its own unit, named or left empty: only Hà Nội's task.
    let mut own = follow(&hanoi_agent, "").await.unwrap();
    assert_eq!(first_task(&mut own).await, hanoi_task.task_id);
    let mut named = follow(&hanoi_agent, &units.hanoi).await.unwrap();
    assert_eq!(first_task(&mut named).await, hanoi_task.task_id);
    // Another office's: refused, naming the field.
    let status = follow(&hanoi_agent, &units.haiphong).await.unwrap_err();
    assert_eq!(status.code(), Code::PermissionDenied, "{status:?}");
    assert!(status.message().starts_with("unit_id: "), "{status:?}");
    // Administrators and services: any unit; an unknown one is NOT_FOUND.
    for role in [Role::Administrator, Role::Service] {
        let token = issue(system, role, None).await;
        let mut theirs = follow(&token, &units.haiphong).await.unwrap();
        assert_eq!(first_task(&mut theirs).await, haiphong_task.task_id);
        let status = follow(&token, &new_id()).await.unwrap_err();
        assert_eq!(status.code(), Code::NotFound, "{status:?}");
        assert!(status.message().starts_with("unit_id: "), "{status:?}");
    }
    // Staff read their tasks with ListTasks; the feed is the agent's.
    let staff = issue(system, Role::UnitStaff, Some(&units.hanoi)).await;
    let status = follow(&staff, &units.hanoi).await.unwrap_err();
    assert_eq!(status.code(), Code::PermissionDenied, "{status:?}");

    // Revoking the agent's credential ends its open stream (the stream
    // re-validation every long-lived call has), however quiet the feed.
    let credential_id = tasknet_auth::token::parse(&hanoi_agent)
        .unwrap()
        .credential_id;
    system
        .organisation()
        .revoke_credential(v1::RevokeCredentialRequest { credential_id })
        .await
        .unwrap();
    let ended = tokio::time::timeout(Duration::from_secs(30), async {
        loop {
            match own.message().await {
                Ok(Some(_)) => {}
                Ok(None) => panic!("the stream ended without a status"),
                Err(status) => return status,
            }
        }
    })
    .await
    .expect("a revoked credential's stream ends");
    assert_eq!(ended.code(), Code::Unauthenticated, "{ended:?}");
}

crate::system_tests!(
    an_office_agent_follows_its_own_unit_only,
    every_rpc_against_every_role,
    forged_expired_and_revoked_credentials_are_refused,
    cross_unit_writes_are_refused_on_every_path,
    reports_cover_only_the_readers_units,
    changes_and_refusals_are_audited,
    oversize_and_malformed_input_is_refused_naming_the_limit,
);

/// An organisation service alone on an ephemeral port, its credentials in
/// `credentials`, limited to `rate` and behind `tls`; returns its address,
/// an administrator token and the running system.
async fn lone_organisation(
    database: &tasknet_storage::testing::TestDatabase,
    credentials: &std::path::Path,
    rate: tasknet_auth::rate::Rate,
    tls: Option<tasknet_server::ServerTls>,
) -> (std::net::SocketAddr, String, tasknet_system::System) {
    let mut config = tasknet_system::testing::config(database.url());
    config.credentials_dir = Some(credentials.to_owned());
    config.rate_limit_per_second = rate.per_second;
    config.rate_limit_burst = rate.burst;
    if let Some(tls) = tls {
        let write = |name: &str, pem: &[u8]| {
            let path = credentials.join(name);
            std::fs::write(&path, pem).unwrap();
            Some(path)
        };
        config.tls.cert_file = write("server.pem", &tls.cert_pem);
        config.tls.key_file = write("server.key", &tls.key_pem);
        config.tls.client_ca_file = tls
            .client_ca_pem
            .as_deref()
            .and_then(|ca| write("ca.pem", ca));
        config.tls.require_client_cert = tls.require_client_cert;
    }
    let organisation = tasknet_system::ServiceKind::Organisation;
    let system =
        tasknet_system::System::start(&config, tasknet_system::Services::One(organisation))
            .await
            .unwrap();
    let admin = std::fs::read_to_string(system.admin_path().unwrap()).unwrap();
    (system.local_addr(), admin.trim().to_owned(), system)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_credential_is_rate_limited() {
    let database = tasknet_storage::testing::TestDatabase::sqlite();
    let credentials = tempfile::tempdir().unwrap();
    let rate = tasknet_auth::rate::Rate::new(0.1, 3.0);
    let (addr, admin, system) = lone_organisation(&database, credentials.path(), rate, None).await;
    let endpoint = format!("http://{addr}");
    let client = |token: &str| {
        let options = tasknet_server::ClientOptions::with_token(tasknet_auth::Token::new(token));
        OrganisationServiceClient::new(
            tasknet_server::connect_lazy_with(&endpoint, &options).unwrap(),
        )
    };
    let mut organisation = client(&admin);
    let other = organisation
        .issue_credential(v1::IssueCredentialRequest {
            role: Role::DashboardReader as i32,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .token;
    for _ in 0..2 {
        organisation
            .list_regions(v1::ListRegionsRequest {})
            .await
            .unwrap();
    }
    let status = organisation
        .list_regions(v1::ListRegionsRequest {})
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::ResourceExhausted);
    assert!(
        status.message().starts_with("rate limit: credential"),
        "{status:?}"
    );
    // The limit is per credential: another one is not affected.
    client(&other)
        .list_regions(v1::ListRegionsRequest {})
        .await
        .unwrap();
    system.stop().await.unwrap();
}

/// A CA, a server certificate for `localhost` and a client certificate, in PEM.
struct Pki {
    ca: String,
    server: (String, String),
    client: (String, String),
}

fn pki() -> Pki {
    use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair};
    let ca_key = KeyPair::generate().unwrap();
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca = ca_params.self_signed(&ca_key).unwrap();
    let issuer = Issuer::new(ca_params, ca_key);
    let leaf = |name: &str| {
        let key = KeyPair::generate().unwrap();
        let cert = CertificateParams::new(vec![name.to_owned()])
            .unwrap()
            .signed_by(&key, &issuer)
            .unwrap();
        (cert.pem(), key.serialize_pem())
    };
    Pki {
        ca: ca.pem(),
        server: leaf("localhost"),
        client: leaf("agent-01"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_listeners_and_mutual_tls() {
    let pki = pki();
    let database = tasknet_storage::testing::TestDatabase::sqlite();
    let credentials = tempfile::tempdir().unwrap();
    let tls = tasknet_server::ServerTls {
        cert_pem: pki.server.0.clone().into_bytes(),
        key_pem: pki.server.1.clone().into_bytes(),
        client_ca_pem: Some(pki.ca.clone().into_bytes()),
        require_client_cert: true,
    };
    let (addr, admin, system) = lone_organisation(
        &database,
        credentials.path(),
        tasknet_auth::layer::DEFAULT_RATE,
        Some(tls),
    )
    .await;
    let call = async |url: String, identity: Option<(String, String)>| {
        let options = tasknet_server::ClientOptions {
            token: Some(tasknet_auth::Token::new(admin.clone())),
            tls: url.starts_with("https").then(|| tasknet_server::ClientTls {
                ca_pem: Some(pki.ca.clone().into_bytes()),
                identity: identity.map(|(cert, key)| (cert.into_bytes(), key.into_bytes())),
                domain: Some("localhost".to_owned()),
            }),
        };
        let mut request = Request::new(v1::ListRegionsRequest {});
        request.set_timeout(Duration::from_secs(5));
        OrganisationServiceClient::new(tasknet_server::connect_lazy_with(&url, &options).unwrap())
            .list_regions(request)
            .await
    };
    // TLS with a client certificate from the agents' CA: served.
    call(format!("https://{addr}"), Some(pki.client.clone()))
        .await
        .unwrap();
    // No client certificate, where one is required: the handshake fails.
    assert!(call(format!("https://{addr}"), None).await.is_err());
    // Plain text to a TLS listener: refused.
    assert!(call(format!("http://{addr}"), None).await.is_err());
    system.stop().await.unwrap();
}
