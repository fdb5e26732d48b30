//! The Prometheus endpoint of a running system: after known calls, a scrape
//! shows exactly those calls in `rpc_server_call_duration_seconds` by method
//! and status code, and the refused ones in `tasknet_auth_refusals_total`.
// A test crate: a panic is how a test reports failure.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use tasknet_proto::tonic::Code;
use tasknet_proto::v1;
use tasknet_proto::v1::organisation_service_client::OrganisationServiceClient;
use tasknet_server::{ClientOptions, connect_lazy_with};
use tasknet_system::{Config, Services, System};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// GET /metrics over plain HTTP/1.0.
async fn scrape(addr: std::net::SocketAddr) -> String {
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    stream
        .write_all(b"GET /metrics HTTP/1.0\r\nHost: localhost\r\n\r\n")
        .await
        .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).await.unwrap();
    assert!(response.starts_with("HTTP/1.0 200"), "{response}");
    response
}

/// The value of the sample whose name and labels are exactly `series` (0 if absent).
fn sample(text: &str, series: &str) -> u64 {
    text.lines()
        .find_map(|line| line.strip_prefix(series)?.trim().parse().ok())
        .unwrap_or(0)
}

fn list_credentials_series(metric: &str, code: Code) -> String {
    format!(
        "{metric}{{rpc_system=\"grpc\",rpc_service=\"tasknet.v1.OrganisationService\",\
         rpc_method=\"ListCredentials\",rpc_grpc_status_code=\"{}\"}}",
        code as i32
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scrape_counts_the_calls_made() {
    let dir = tempfile::tempdir().unwrap();
    let config = Config {
        listen: "127.0.0.1:0".to_owned(),
        data_dir: dir.path().to_owned(),
        metrics_listen: Some("127.0.0.1:0".to_owned()),
        ..Config::default()
    };
    let system = System::start(&config, Services::All).await.unwrap();
    let metrics = system
        .metrics_addr()
        .expect("metrics are served when asked");
    let admin = system.admin().expect("tasknet up's administrator").clone();
    let ok = list_credentials_series("rpc_server_call_duration_seconds_count", Code::Ok);
    let refused = list_credentials_series(
        "rpc_server_call_duration_seconds_count",
        Code::Unauthenticated,
    );
    let refusals = list_credentials_series("tasknet_auth_refusals_total", Code::Unauthenticated);
    let before = scrape(metrics).await;

    let mut client =
        OrganisationServiceClient::new(connect_lazy_with(system.endpoint(), &admin).unwrap());
    for _ in 0..3 {
        client
            .list_credentials(v1::ListCredentialsRequest::default())
            .await
            .unwrap();
    }
    let stranger = ClientOptions::with_token(tasknet_auth::Token::new("tn_not_a_credential"));
    let mut stranger =
        OrganisationServiceClient::new(connect_lazy_with(system.endpoint(), &stranger).unwrap());
    for _ in 0..2 {
        let refusal = stranger
            .list_credentials(v1::ListCredentialsRequest::default())
            .await
            .unwrap_err();
        assert_eq!(refusal.code(), Code::Unauthenticated);
    }

    let after = scrape(metrics).await;
    assert_eq!(sample(&after, &ok) - sample(&before, &ok), 3, "{after}");
    assert_eq!(
        sample(&after, &refused) - sample(&before, &refused),
        2,
        "{after}"
    );
    assert_eq!(
        sample(&after, &refusals) - sample(&before, &refusals),
        2,
        "{after}"
    );
    assert!(
        after.contains("# TYPE rpc_server_call_duration_seconds histogram"),
        "{after}"
    );
    assert!(after.contains("tasknet_change_log_head "), "{after}");
    assert!(
        after.contains("tasknet_reporting_applied_cursor "),
        "{after}"
    );
    system.stop().await.unwrap();
}
