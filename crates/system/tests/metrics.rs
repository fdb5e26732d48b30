//! The Prometheus endpoint of a running system: after known calls, a scrape
//! shows exactly those calls in `rpc_server_call_duration_seconds` by method
//! and status code (and the test's own calls in
//! `rpc_client_call_duration_seconds`), and the refused ones in
//! `tasknet_auth_refusals_total`;
//! one created task is one accepted mutation, one writer batch and commit,
//! and one more change-log entry, which reporting applies (its lag back to
//! zero); the connections opened are counted open, and the one over the
//! per-address limit refused. (A binary of its own: the registry is the
//! process's, so no other test may call anything meanwhile.)
// A test crate: a panic is how a test reports failure.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::Duration;

use tasknet_proto::tonic::Code;
use tasknet_proto::v1;
use tasknet_proto::v1::organisation_service_client::OrganisationServiceClient;
use tasknet_proto::v1::task_service_client::TaskServiceClient;
use tasknet_server::{ClientOptions, ConnectionLimits, connect_lazy_with, testing};
use tasknet_system::{Config, Services, System};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Connections one address may hold in this test.
const PER_ADDRESS: usize = 8;
/// How long the test waits for what must happen before it fails.
const PATIENCE: Duration = Duration::from_secs(60);

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
        .find_map(|line| {
            let value = line.strip_prefix(series)?.trim();
            // Gauges of floats print as `3.0`.
            value
                .parse()
                .ok()
                .or_else(|| value.strip_suffix(".0")?.parse().ok())
        })
        .unwrap_or(0)
}

/// How much `series` grew from `before` to `after`.
fn grew(before: &str, after: &str, series: &str) -> u64 {
    sample(after, series) - sample(before, series)
}

/// A task headquarters assigns to Hải Phòng in June 2024.
fn new_task(units: &HashMap<String, String>) -> v1::CreateTaskRequest {
    let date = |day| {
        Some(v1::Date {
            year: 2024,
            month: 6,
            day,
        })
    };
    v1::CreateTaskRequest {
        update_id: "01900000-0000-7000-8000-000000000001".to_owned(),
        task_id: "01900000-0000-7000-8000-000000000002".to_owned(),
        effective_time: Some(tasknet_proto::prost_types::Timestamp {
            seconds: 1_717_390_800, // 2024-06-03T05:00:00Z
            nanos: 0,
        }),
        task: Some(v1::NewTask {
            title: "Báo cáo tình hình kinh tế - xã hội tháng 6".to_owned(),
            assigning_unit_id: units["TCTK"].clone(),
            assignee_unit_id: units["31"].clone(),
            assigned_date: date(3),
            deadline: date(28),
            plan_ids: Vec::new(),
        }),
    }
}

/// Scrapes until reporting has applied the whole change log; returns that scrape.
async fn caught_up(metrics: SocketAddr) -> String {
    tokio::time::timeout(PATIENCE, async {
        loop {
            let text = scrape(metrics).await;
            let head = sample(&text, "tasknet_change_log_head ");
            if sample(&text, "tasknet_reporting_applied_cursor ") == head {
                return text;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .expect("reporting did not apply the change log")
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
        connections: ConnectionLimits {
            max_connections_per_address: PER_ADDRESS,
            // The idle sockets below must stay until the test closes them.
            handshake_timeout_secs: 0,
            ..ConnectionLimits::default()
        },
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
    // This test's own calls, as the client saw them (same process, same registry).
    for (code, calls) in [(Code::Ok, 3), (Code::Unauthenticated, 2)] {
        let series = list_credentials_series("rpc_client_call_duration_seconds_count", code);
        assert_eq!(grew(&before, &after, &series), calls, "{after}");
    }

    // One task created: one accepted mutation, one writer transaction of
    // one mutation, one more change, applied by reporting.
    let before = caught_up(metrics).await;
    let units = testing::reference_unit_ids(connect_lazy_with(system.endpoint(), &admin).unwrap())
        .await
        .unwrap();
    let mut tasks = TaskServiceClient::new(connect_lazy_with(system.endpoint(), &admin).unwrap());
    tasks.create_task(new_task(&units)).await.unwrap();
    let after = caught_up(metrics).await;
    let accepted = "tasknet_ingest_mutations_total{outcome=\"accepted\"}";
    assert_eq!(grew(&before, &after, accepted), 1, "{after}");
    assert_eq!(grew(&before, &after, "tasknet_writer_batch_size_count "), 1);
    assert_eq!(grew(&before, &after, "tasknet_writer_batch_size_sum "), 1);
    assert_eq!(
        grew(
            &before,
            &after,
            "tasknet_writer_commit_duration_seconds_count "
        ),
        1
    );
    assert_eq!(
        grew(&before, &after, "tasknet_change_log_head "),
        1,
        "{after}"
    );
    assert_eq!(
        grew(&before, &after, "tasknet_reporting_applied_cursor "),
        1,
        "{after}"
    );

    // Connections: the per-address limit filled from 127.0.0.3, one more refused.
    let before = scrape(metrics).await;
    let mut held = Vec::new();
    for _ in 0..PER_ADDRESS {
        held.push(
            testing::idle_socket("127.0.0.3", system.local_addr())
                .await
                .unwrap(),
        );
    }
    let mut refused = testing::idle_socket("127.0.0.3", system.local_addr())
        .await
        .unwrap();
    // Accepted in order: the one refused came after all those held.
    assert!(testing::closed_by_server(&mut refused, PATIENCE).await);
    let after = scrape(metrics).await;
    assert_eq!(
        grew(&before, &after, "tasknet_server_connections "),
        PER_ADDRESS as u64,
        "{after}"
    );
    let per_address = "tasknet_server_refused_connections_total\
                       {limit=\"connections.max_connections_per_address\"}";
    assert_eq!(grew(&before, &after, per_address), 1, "{after}");
    let total = "tasknet_server_refused_connections_total{limit=\"connections.max_connections\"}";
    assert!(after.contains(total), "{after}");
    drop(held);
    system.stop().await.unwrap();
}
