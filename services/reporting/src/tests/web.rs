//! Browsers on a real server: gRPC-Web calls over HTTP/1.1 (framed by hand,
//! as a browser's client frames them) answer what native gRPC answers on
//! the same port, with the same authentication and scoping; CORS preflights
//! are answered only for configured origins; plain GETs get the dashboard's
//! files without a credential.

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::Arc;

use futures::future::BoxFuture;
use tasknet_auth::principal::{AuthError, Authenticate, Principal, Role};
use tasknet_auth::{AuthConfig, AuthLayer, Policy};
use tasknet_domain::date_to_proto;
use tasknet_proto::prost::Message;
use tasknet_proto::tonic::{self, Code};
use tasknet_proto::v1::reporting_service_client::ReportingServiceClient;
use tasknet_proto::v1::reporting_service_server::ReportingServiceServer;
use tasknet_proto::v1::{self, GroupBy};
use tasknet_server::{ClientOptions, GrpcServer, ServeOptions, Shutdown, StaticAssets, WebOptions};
use tasknet_storage::testing::TestDatabase;
use tasknet_system::testing::grpc_web::{self, WebAnswer};
use tokio::sync::watch;

use super::random::{apply_in_random_batches, catalog, generate};
use super::{open, ymd};
use crate::reports::Reports;
use crate::service::ReportingHandler;
use crate::store::ReadModel;

const PAGE: &str = "<!doctype html><title>tasknet</title>";
const ALLOWED: &str = "http://127.0.0.1:5173";

/// Three tokens: a nationwide dashboard, the staff of one office, and the rest.
struct FakeCredentials;

impl Authenticate for FakeCredentials {
    fn authenticate<'a>(&'a self, token: &'a str) -> BoxFuture<'a, Result<Principal, AuthError>> {
        let principal = |role, unit: Option<&str>| Principal {
            credential_id: token.to_owned(),
            unit_id: unit.map(str::to_owned),
            role,
            expire_time: None,
        };
        let answer = match token {
            "tn_dashboard" => Ok(principal(Role::DashboardReader, None)),
            "tn_p01" => Ok(principal(Role::UnitStaff, Some("u-p01"))),
            _ => Err(AuthError::Invalid("unknown credential".into())),
        };
        Box::pin(async move { answer })
    }
}

/// Serves reporting over `store` with authentication and `web`; returns its URL.
async fn serve(store: &ReadModel, shutdown: &Shutdown, web: WebOptions) -> String {
    let cursor = store.sync_state().await.unwrap().0;
    let (_sender, applied) = watch::channel(cursor);
    let reports = Reports::new(store.clone(), catalog(), applied);
    let audit = tasknet_auth::AuditLog::new(store.pool().clone());
    let handler = ReportingHandler::new(reports, audit.clone());
    let routes = tonic::service::Routes::new(ReportingServiceServer::new(handler));
    let auth = AuthLayer::new(AuthConfig {
        authenticator: Arc::new(FakeCredentials),
        policy: Policy::new().with(crate::POLICY),
        rate: tasknet_auth::layer::DEFAULT_RATE,
        audit: HashMap::from([(crate::SERVICE_NAME.to_owned(), audit)]),
    });
    let server = GrpcServer::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", server.local_addr());
    let options = ServeOptions {
        auth,
        web,
        ..ServeOptions::default()
    };
    tokio::spawn(server.serve(routes, &[crate::SERVICE_NAME], shutdown.clone(), options));
    url
}

/// A ReportingService call as a page makes it.
async fn grpc_web(
    url: &str,
    method: &str,
    request: &impl Message,
    token: Option<&str>,
    origin: Option<&str>,
) -> WebAnswer {
    let rpc = format!("/tasknet.v1.ReportingService/{method}");
    grpc_web::call(url, &rpc, request, token, origin).await
}

fn question() -> v1::StatusBreakdownRequest {
    v1::StatusBreakdownRequest {
        period: Some(v1::Period {
            kind: Some(v1::period::Kind::Label("2024-H1".into())),
        }),
        as_of: Some(date_to_proto(ymd(2024, 6, 30))),
        group_by: GroupBy::Unit as i32,
        min_cursor: 0,
        basis: v1::ReportBasis::HistoricalStructure as i32,
    }
}

async fn native(url: &str, token: &str) -> ReportingServiceClient<tasknet_server::TracedChannel> {
    let options = ClientOptions::with_token(tasknet_auth::Token::new(token));
    ReportingServiceClient::new(tasknet_server::connect_lazy_with(url, &options).unwrap())
}

async fn grpc_web_answers_as_grpc_does(url: &str) {
    let answer = grpc_web(
        url,
        "StatusBreakdown",
        &question(),
        Some("tn_dashboard"),
        None,
    )
    .await;
    assert_eq!(answer.status, 0, "{}", answer.message);
    assert_eq!(answer.headers["content-type"], "application/grpc-web+proto");
    let over_web = answer.decode::<v1::StatusBreakdownResponse>();
    let over_grpc = native(url, "tn_dashboard")
        .await
        .status_breakdown(question())
        .await
        .unwrap()
        .into_inner();
    assert_eq!(over_web, over_grpc);
    assert!(over_web.national.unwrap().current.unwrap().total > 0);

    // The same authentication: no credential, a bad one.
    let answer = grpc_web(url, "StatusBreakdown", &question(), None, None).await;
    assert_eq!(answer.status, Code::Unauthenticated as i32);
    assert!(answer.messages.is_empty());
    let answer = grpc_web(url, "StatusBreakdown", &question(), Some("tn_x"), None).await;
    assert_eq!(answer.status, Code::Unauthenticated as i32);

    // The same scoping: one office's staff count their office only and
    // are refused the nationwide summary.
    let answer = grpc_web(url, "StatusBreakdown", &question(), Some("tn_p01"), None).await;
    let scoped = answer.decode::<v1::StatusBreakdownResponse>();
    let keys: Vec<&str> = scoped.rows.iter().map(|r| r.group_key.as_str()).collect();
    assert_eq!(keys, ["u-p01"]);
    let scope = grpc_web(
        url,
        "GetReaderScope",
        &v1::GetReaderScopeRequest {},
        Some("tn_p01"),
        None,
    )
    .await;
    let scope = scope.decode::<v1::GetReaderScopeResponse>();
    assert!(!scope.nationwide);
    assert_eq!(scope.role, Role::UnitStaff as i32);
    assert_eq!(scope.units.len(), 1);
    assert_eq!(scope.units[0].code, "01");
    let summary = v1::ReportSummaryRequest {
        period: question().period,
        as_of: question().as_of,
        ..Default::default()
    };
    let answer = grpc_web(url, "ReportSummary", &summary, Some("tn_p01"), None).await;
    assert_eq!(answer.status, Code::PermissionDenied as i32);
}

async fn preflight(url: &str, origin: &str) -> reqwest::Response {
    reqwest::Client::new()
        .request(
            reqwest::Method::OPTIONS,
            format!("{url}/tasknet.v1.ReportingService/StatusBreakdown"),
        )
        .header("origin", origin)
        .header("access-control-request-method", "POST")
        .header(
            "access-control-request-headers",
            "authorization,content-type,x-grpc-web",
        )
        .send()
        .await
        .unwrap()
}

/// GetReaderScope as a page from the allowed origin calls it.
async fn scope_from_page(url: &str) -> WebAnswer {
    let request = v1::GetReaderScopeRequest {};
    grpc_web(
        url,
        "GetReaderScope",
        &request,
        Some("tn_dashboard"),
        Some(ALLOWED),
    )
    .await
}

async fn cors_only_for_configured_origins(closed: &str, open: &str) {
    // Off by default: no CORS headers at all.
    let response = preflight(closed, ALLOWED).await;
    assert!(
        response
            .headers()
            .get("access-control-allow-origin")
            .is_none()
    );
    let answer = scope_from_page(closed).await;
    assert!(answer.headers.get("access-control-allow-origin").is_none());

    let response = preflight(open, ALLOWED).await;
    assert!(response.status().is_success());
    assert_eq!(response.headers()["access-control-allow-origin"], ALLOWED);
    let allowed = response.headers()["access-control-allow-headers"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(allowed.contains("authorization") && allowed.contains("x-grpc-web"));
    let response = preflight(open, "http://elsewhere.example").await;
    assert!(
        response
            .headers()
            .get("access-control-allow-origin")
            .is_none()
    );

    let answer = scope_from_page(open).await;
    assert_eq!(answer.status, 0);
    assert_eq!(answer.headers["access-control-allow-origin"], ALLOWED);
    let exposed = answer.headers["access-control-expose-headers"]
        .to_str()
        .unwrap();
    assert!(exposed.contains("grpc-status"), "{exposed}");
}

async fn files_on_the_grpc_port(url: &str) {
    let client = grpc_web::http1();
    // No credential needed; every route of the app gets the page.
    for path in ["/", "/units", "/drill/x"] {
        let response = client.get(format!("{url}{path}")).send().await.unwrap();
        assert_eq!(response.version(), reqwest::Version::HTTP_11);
        assert_eq!(response.status(), 200, "{path}");
        assert_eq!(
            response.headers()["content-type"],
            "text/html; charset=utf-8"
        );
        assert_eq!(response.headers()["cache-control"], "no-cache");
        assert_eq!(response.text().await.unwrap(), PAGE);
    }
    let response = client
        .get(format!("{url}/assets/app-1a2b.js"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        response.headers()["content-type"],
        "text/javascript; charset=utf-8"
    );
    assert!(
        response.headers()["cache-control"]
            .to_str()
            .unwrap()
            .contains("max-age=31536000")
    );
    let response = client
        .get(format!("{url}/assets/none.js"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 404);
    // Native gRPC (HTTP/2) on the same port still works.
    let sync = native(url, "tn_dashboard")
        .await
        .get_sync_state(v1::GetSyncStateRequest {})
        .await
        .unwrap()
        .into_inner();
    assert!(sync.applied_cursor > 0);
}

async fn browsers_reach_reporting_on_its_port(db: TestDatabase) {
    let model = generate(7, 300, 1_200);
    let store = open(&db).await;
    apply_in_random_batches(&store, &model.log, 3).await;
    let shutdown = Shutdown::new();
    let assets = StaticAssets::new(|path| match path {
        "index.html" => Some(Cow::Borrowed(PAGE.as_bytes())),
        "assets/app-1a2b.js" => Some(Cow::Borrowed(b"export {}".as_slice())),
        _ => None,
    });
    let closed = serve(
        &store,
        &shutdown,
        WebOptions {
            cors_allowed_origins: Vec::new(),
            assets: Some(assets),
        },
    )
    .await;
    let open = serve(
        &store,
        &shutdown,
        WebOptions {
            cors_allowed_origins: vec![ALLOWED.to_owned()],
            assets: None,
        },
    )
    .await;
    grpc_web_answers_as_grpc_does(&closed).await;
    cors_only_for_configured_origins(&closed, &open).await;
    files_on_the_grpc_port(&closed).await;
    shutdown.trigger();
    store.close().await;
}

tasknet_storage::test_on_both_backends!(browsers_reach_reporting_on_its_port);
