//! The reporting service over real gRPC (a fixed unit catalog standing in for
//! the organisation service): validation errors name their field and change
//! nothing, `min_cursor` waits or fails with DEADLINE_EXCEEDED, sync state.

use std::time::Duration;

use tasknet_domain::date_to_proto;
use tasknet_proto::tonic::{self, Code};
use tasknet_proto::v1::reporting_service_client::ReportingServiceClient;
use tasknet_proto::v1::reporting_service_server::ReportingServiceServer;
use tasknet_proto::v1::{self, GroupBy, PlanKind, plan_progress_request::Selector};
use tasknet_server::{GrpcServer, ServeOptions, Shutdown, TracedChannel};
use tasknet_storage::testing::TestDatabase;
use tokio::sync::watch;

use super::random::{catalog, generate};
use super::{open, ymd};
use crate::reports::Reports;
use crate::service::ReportingHandler;
use crate::store::ReadModel;

type Client = ReportingServiceClient<TracedChannel>;

/// Serves a handler over `store` on an ephemeral port; the returned sender
/// plays the follower's part.
async fn serve(store: &ReadModel, shutdown: &Shutdown) -> (Client, watch::Sender<i64>) {
    let cursor = store.sync_state().await.unwrap().0;
    let (sender, applied) = watch::channel(cursor);
    let reports = Reports::new(store.clone(), catalog(), applied);
    let audit = tasknet_auth::AuditLog::new(store.pool().clone());
    let routes = tonic::service::Routes::new(ReportingServiceServer::new(ReportingHandler::new(
        reports, audit,
    )));
    let server = GrpcServer::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", server.local_addr());
    tokio::spawn(server.serve(
        routes,
        &[crate::SERVICE_NAME],
        shutdown.clone(),
        ServeOptions::default(),
    ));
    let client = ReportingServiceClient::new(tasknet_server::connect_lazy(&url).unwrap());
    (client, sender)
}

fn label(text: &str) -> Option<v1::Period> {
    Some(v1::Period {
        kind: Some(v1::period::Kind::Label(text.into())),
    })
}

fn breakdown(period: &str, as_of: Option<v1::Date>) -> v1::StatusBreakdownRequest {
    v1::StatusBreakdownRequest {
        basis: v1::ReportBasis::Unspecified as i32,
        period: label(period),
        as_of,
        group_by: GroupBy::UnitCategory as i32,
        min_cursor: 0,
    }
}

fn assert_invalid(status: &tonic::Status, code: Code, field: &str) {
    assert_eq!(status.code(), code, "{status:?}");
    assert!(
        status.message().starts_with(&format!("{field}:")),
        "{field}: {}",
        status.message()
    );
}

async fn bad_requests_name_their_field(client: &mut Client) {
    let as_of = Some(date_to_proto(ymd(2024, 6, 30)));
    let cases: Vec<(v1::StatusBreakdownRequest, &str)> = vec![
        (breakdown("2024-H1", None), "as_of"),
        (breakdown("2024-H9", as_of), "period"),
        (
            v1::StatusBreakdownRequest {
                period: None,
                ..breakdown("2024", as_of)
            },
            "period",
        ),
        (
            v1::StatusBreakdownRequest {
                as_of: Some(v1::Date {
                    year: 2024,
                    month: 2,
                    day: 30,
                }),
                ..breakdown("2024", None)
            },
            "as_of",
        ),
        (
            v1::StatusBreakdownRequest {
                group_by: 42,
                ..breakdown("2024", as_of)
            },
            "group_by",
        ),
        (
            v1::StatusBreakdownRequest {
                min_cursor: -1,
                ..breakdown("2024", as_of)
            },
            "min_cursor",
        ),
    ];
    for (request, field) in cases {
        let status = client.status_breakdown(request).await.unwrap_err();
        assert_invalid(&status, Code::InvalidArgument, field);
    }

    let plans = |selector, as_of| v1::PlanProgressRequest {
        selector,
        as_of,
        min_cursor: 0,
    };
    let of_kind = |kind: PlanKind, period| {
        Some(Selector::PlansOfKind(v1::PlansOfKind {
            kind: kind as i32,
            period,
        }))
    };
    let unknown_plan = Some(Selector::PlanId(
        "0190aaaa-0000-7000-8000-0000000000ff".into(),
    ));
    let cases = vec![
        (plans(None, as_of), Code::InvalidArgument, "selector"),
        (
            plans(Some(Selector::PlanId("nope".into())), as_of),
            Code::InvalidArgument,
            "plan_id",
        ),
        (
            plans(unknown_plan.clone(), None),
            Code::InvalidArgument,
            "as_of",
        ),
        (plans(unknown_plan, as_of), Code::NotFound, "plan_id"),
        (
            plans(
                Some(Selector::PlansOfKind(v1::PlansOfKind {
                    kind: 99,
                    period: label("2024"),
                })),
                as_of,
            ),
            Code::InvalidArgument,
            "plans_of_kind.kind",
        ),
        (
            plans(of_kind(PlanKind::KeyTasks, None), as_of),
            Code::InvalidArgument,
            "plans_of_kind.period",
        ),
    ];
    for (request, code, field) in cases {
        let status = client.plan_progress(request).await.unwrap_err();
        assert_invalid(&status, code, field);
    }
}

async fn rejects_bad_input_and_waits_for_min_cursor(db: TestDatabase) {
    let store = open(&db).await;
    let model = generate(5, 40, 200);
    store.apply_batch(&model.log[..150]).await.unwrap();
    let shutdown = Shutdown::new();
    let (mut client, follower) = serve(&store, &shutdown).await;
    let before = client
        .get_sync_state(v1::GetSyncStateRequest {})
        .await
        .unwrap()
        .into_inner();
    assert_eq!(before.applied_cursor, model.log[149].cursor);
    assert!(before.last_applied_time.is_some());

    bad_requests_name_their_field(&mut client).await;
    // Reads never write: the read model is exactly as before.
    let after = client
        .get_sync_state(v1::GetSyncStateRequest {})
        .await
        .unwrap()
        .into_inner();
    assert_eq!(after, before);

    // A cursor not yet applied: DEADLINE_EXCEEDED naming min_cursor…
    let as_of = Some(date_to_proto(ymd(2024, 6, 30)));
    let ahead = model.log[199].cursor;
    let mut request = tonic::Request::new(v1::StatusBreakdownRequest {
        min_cursor: ahead,
        ..breakdown("2024", as_of)
    });
    request.set_timeout(Duration::from_millis(300));
    let status = client.status_breakdown(request).await.unwrap_err();
    assert_invalid(&status, Code::DeadlineExceeded, "min_cursor");

    // …and an answer that includes it once the follower gets there.
    let waiting = tokio::spawn({
        let mut client = client.clone();
        let request = v1::StatusBreakdownRequest {
            min_cursor: ahead,
            ..breakdown("2024", as_of)
        };
        async move { client.status_breakdown(request).await }
    });
    tokio::time::sleep(Duration::from_millis(100)).await;
    let cursor = store.apply_batch(&model.log[150..]).await.unwrap();
    follower.send_replace(cursor);
    let response = waiting.await.unwrap().unwrap().into_inner();
    assert_eq!(response.applied_cursor, cursor);
    assert!(cursor >= ahead);
    assert_eq!(
        response.previous_as_of,
        Some(date_to_proto(ymd(2023, 6, 30)))
    );
    let total: i64 = response
        .rows
        .iter()
        .map(|row| row.current.unwrap().total)
        .sum();
    assert_eq!(total, response.national.unwrap().current.unwrap().total);

    shutdown.trigger();
    store.close().await;
}

tasknet_storage::test_on_both_backends!(rejects_bad_input_and_waits_for_min_cursor);
