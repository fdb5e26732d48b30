//! The dashboard as `tasknet up` serves it, through the real binary: the
//! embedded page at the printed address over HTTP/1.1 with no credential,
//! native gRPC on the same port, the banner's sign-in link carrying a
//! working read-only credential, and `admin token create --link` issuing a
//! unit-scoped one.

use std::time::Duration;

use tasknet_auth::Token;
use tasknet_proto::tonic::Code;
use tasknet_proto::v1;
use tasknet_proto::v1::organisation_service_client::OrganisationServiceClient;
use tasknet_proto::v1::reporting_service_client::ReportingServiceClient;
use tasknet_server::ClientOptions;
use tasknet_system::testing::grpc_web;
use tasknet_system::testing::process::Launch;

const BINARY: &str = env!("CARGO_BIN_EXE_tasknet");
const REPORTING: &str = "/tasknet.v1.ReportingService";

/// The token of a sign-in link (`…/#/signin?token=…`), which must keep it
/// in the fragment.
fn token_of(link: &str) -> String {
    let (page, fragment) = link.split_once('#').expect("a fragment");
    assert!(
        !page.contains("token"),
        "the token stays out of the path: {link}"
    );
    let token = fragment
        .strip_prefix("/signin?token=")
        .unwrap_or_else(|| panic!("not a sign-in link: {link}"));
    assert!(!token.contains('%'), "tokens need no escaping: {token}");
    token.to_owned()
}

async fn scope(endpoint: &str, token: &str) -> v1::GetReaderScopeResponse {
    let rpc = format!("{REPORTING}/GetReaderScope");
    let request = v1::GetReaderScopeRequest {};
    let answer = grpc_web::call(endpoint, &rpc, &request, Some(token), None).await;
    assert_eq!(answer.status, 0, "{}", answer.message);
    answer.decode()
}

async fn the_page_is_served_without_a_credential(endpoint: &str) {
    let page = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/dashboard/dist/index.html"
    ))
    .unwrap();
    for path in ["/", "/overview"] {
        let response = grpc_web::http1()
            .get(format!("{endpoint}{path}"))
            .send()
            .await
            .unwrap();
        assert_eq!(response.version(), reqwest::Version::HTTP_11);
        assert_eq!(response.status(), 200, "GET {path}");
        assert_eq!(
            response.headers()["content-type"],
            "text/html; charset=utf-8"
        );
        assert_eq!(response.text().await.unwrap(), page, "the embedded bundle");
    }
    // The bundle's scripts, gzipped for clients that take it, cached for good.
    let dist = concat!(env!("CARGO_MANIFEST_DIR"), "/dashboard/dist/assets");
    let scripts = std::fs::read_dir(dist).into_iter().flatten().flatten();
    for script in scripts.filter(|f| f.file_name().to_string_lossy().ends_with(".js")) {
        let name = script.file_name().to_string_lossy().into_owned();
        let response = grpc_web::http1()
            .get(format!("{endpoint}/assets/{name}"))
            .header("accept-encoding", "gzip")
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "{name}");
        assert_eq!(response.headers()["content-encoding"], "gzip");
        assert!(
            response.headers()["cache-control"]
                .to_str()
                .unwrap()
                .contains("immutable")
        );
        let sent = response.bytes().await.unwrap().len() as u64;
        assert!(
            sent < script.metadata().unwrap().len(),
            "{name}: {sent} bytes sent"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn up_serves_the_dashboard_and_a_sign_in_link() {
    let dir = tempfile::tempdir().unwrap();
    let up = Launch::new(BINARY)
        .dir(dir.path())
        .args(["up", "--listen", "127.0.0.1:0", "--data-dir", "data"])
        .spawn("up")
        .unwrap();
    let endpoint = format!(
        "http://{}",
        up.listening_address("tasknet is up on").unwrap()
    );
    let banner = up
        .wait_for_line("sign in (read-only, nationwide): ", Duration::from_secs(60))
        .unwrap();
    let link = banner.rsplit(' ').next().unwrap().trim();
    assert!(
        link.starts_with(&format!("{endpoint}/#/signin?token=")),
        "{link}"
    );
    let reader = token_of(link);

    the_page_is_served_without_a_credential(&endpoint).await;
    let nationwide = scope(&endpoint, &reader).await;
    assert!(nationwide.nationwide);
    assert_eq!(nationwide.role, v1::Role::DashboardReader as i32);
    // Native gRPC on the same port, with the same credential.
    let options = ClientOptions::with_token(Token::new(reader.clone()));
    let channel = tasknet_server::connect_lazy_with(&endpoint, &options).unwrap();
    ReportingServiceClient::new(channel)
        .get_sync_state(v1::GetSyncStateRequest {})
        .await
        .unwrap();

    // A provincial director's link: the reader covers Hà Nội (code 01) only.
    let admin_file = dir.path().join("data/admin.token");
    let admin = Token::new(std::fs::read_to_string(&admin_file).unwrap());
    let channel =
        tasknet_server::connect_lazy_with(&endpoint, &ClientOptions::with_token(admin)).unwrap();
    OrganisationServiceClient::new(channel)
        .load_reference_units(v1::LoadReferenceUnitsRequest {})
        .await
        .unwrap();
    let output = Launch::new(BINARY)
        .args(["admin", "token", "create", "--role", "dashboard-reader"])
        .args(["--unit", "01", "--link", "--endpoint", &endpoint])
        .args(["--token-file", admin_file.to_str().unwrap()])
        .run()
        .unwrap();
    let link = output.trim();
    assert!(
        link.starts_with(&format!("{endpoint}/#/signin?token=")),
        "{link}"
    );
    let provincial = token_of(link);
    // Reporting's unit directory finds units created since its last load at
    // most a second after that load (crates/directory): the notification
    // service's first judgement at start may have loaded it just before the
    // reference units were.
    let mut scoped = scope(&endpoint, &provincial).await;
    for _ in 0..30 {
        if scoped.units.iter().any(|unit| unit.code == "01") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        scoped = scope(&endpoint, &provincial).await;
    }
    assert!(!scoped.nationwide);
    assert!(
        scoped.units.iter().any(|unit| unit.code == "01"),
        "{scoped:?}"
    );
    assert!(scoped.units.iter().all(|unit| unit.code != "79"));
    let summary = v1::ReportSummaryRequest {
        period: Some(v1::Period {
            kind: Some(v1::period::Kind::Label("2024-H1".into())),
        }),
        as_of: Some(tasknet_domain::date_to_proto(
            chrono::NaiveDate::from_ymd_opt(2024, 6, 30).unwrap(),
        )),
        ..Default::default()
    };
    let rpc = format!("{REPORTING}/ReportSummary");
    let refused = grpc_web::call(&endpoint, &rpc, &summary, Some(&provincial), None).await;
    assert_eq!(refused.status, Code::PermissionDenied as i32);
    up.terminate().unwrap();
}
