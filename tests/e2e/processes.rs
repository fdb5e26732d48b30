//! The real `tasknet` binary as separate OS processes: three `serve`
//! processes talking over TCP, and `tasknet up --demo`; queried through the
//! CLI, stopped with SIGTERM, and expected to exit cleanly.

use std::path::Path;
use std::time::Duration;

use tasknet_storage::Backend;
use tasknet_storage::testing::TestDatabase;
use tasknet_system::ServiceKind;
use tasknet_system::testing::process::{Launch, Process};
use tasknet_system::testing::processes::ServeProcesses;

const BINARY: &str = env!("CARGO_BIN_EXE_tasknet");

/// Starts `tasknet ARGS` in `dir`; killed if the test ends without stopping it.
fn spawn(name: &str, args: &[&str], dir: &Path) -> Process {
    Launch::new(BINARY)
        .dir(dir)
        .args(args)
        .spawn(name)
        .unwrap_or_else(|e| panic!("spawn {name}: {e:#}"))
}

/// Runs a `tasknet` client command to completion and returns its stdout.
fn run_cli(args: &[&str]) -> String {
    Launch::new(BINARY)
        .args(args)
        .run()
        .unwrap_or_else(|e| panic!("{e:#}"))
}

fn json(text: &str) -> serde_json::Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
}

/// The national counts of a `report status --format json` answer.
/// The independent count of the small demo's 2024-H1 nationwide figures as
/// of 30 June: the same generator over the same reference units.
pub(crate) fn small_demo_national_2024_h1() -> tasknet_demo::ClassCounts {
    let units = tasknet_organisation::reference::reference_units().unwrap();
    let dataset = tasknet_demo::generate(&tasknet_demo::DemoSpec::small(), &units).unwrap();
    let period = tasknet_domain::DatePeriod::parse("2024-H1").unwrap();
    let as_of = chrono::NaiveDate::from_ymd_opt(2024, 6, 30).unwrap();
    tasknet_demo::expected_breakdown(&dataset, &units, period, as_of)
        .unwrap()
        .national
}

fn national_counts(report: &serde_json::Value) -> [i64; 5] {
    let c = &report["national"]["current"];
    [
        "total",
        "completed_on_time",
        "completed_late",
        "open_within_deadline",
        "open_overdue",
    ]
    .map(|k| {
        c[k].as_i64()
            .unwrap_or_else(|| panic!("{k} missing in {report}"))
    })
}

/// The three services as `tasknet serve` processes in `dir`, each on a
/// database of its own on `backend` (`None` when that back end is not
/// available); the databases live as long as the returned vector.
pub(crate) async fn serve_processes(
    backend: Backend,
    test_name: &str,
    dir: &Path,
) -> Option<(ServeProcesses, Vec<TestDatabase>)> {
    let mut databases = Vec::new();
    for _ in 0..3 {
        databases.push(TestDatabase::of(backend, test_name).await?);
    }
    // The organisation service creates admin.token and service.token in
    // credentials/ on first start; task and reporting read service.token.
    let services = ServeProcesses::start(Path::new(BINARY), dir, |kind| {
        let index = match kind {
            ServiceKind::Organisation => 0,
            ServiceKind::Task => 1,
            ServiceKind::Reporting => 2,
            ServiceKind::Notification => panic!("ServeProcesses starts the first three only"),
        };
        databases[index].url().to_owned()
    })
    .await
    .unwrap();
    Some((services, databases))
}

async fn three_processes(backend: Backend) {
    let name = "processes::three_services_as_separate_processes";
    let dir = tempfile::tempdir().unwrap();
    let Some((services, _databases)) = serve_processes(backend, name, dir.path()).await else {
        return;
    };
    let organisation_endpoint = services.organisation.endpoint().to_owned();
    let task_endpoint = services.task.endpoint().to_owned();
    let reporting_endpoint = services.reporting.endpoint().to_owned();
    let admin_token = services.credentials_dir.join("admin.token");
    let admin_token = admin_token.to_str().unwrap();
    let admin = services.admin.clone();

    // The demo loader talks to one endpoint for everything; here the services
    // are apart, so push through the services' own endpoints with the library.
    let summary = tasknet_demo::load_split(
        &organisation_endpoint,
        &task_endpoint,
        &admin,
        &tasknet_demo::DemoSpec::small(),
        |_| {},
    )
    .await
    .unwrap();
    wait_until_applied(&reporting_endpoint, &admin, summary.last_cursor).await;

    let report = json(&run_cli(&[
        "report",
        "status",
        "--period",
        "2024-H1",
        "--as-of",
        "2024-06-30",
        "--by",
        "category",
        "--format",
        "json",
        "--endpoint",
        &reporting_endpoint,
        "--token-file",
        admin_token,
    ]));
    let expected = summary.expected_national("2024-H1", "2024-06-30").unwrap();
    assert_eq!(national_counts(&report), expected);
    let table = run_cli(&[
        "report",
        "status",
        "--period",
        "2024-H1",
        "--as-of",
        "2024-06-30",
        "--by",
        "category",
        "--endpoint",
        &reporting_endpoint,
        "--token-file",
        admin_token,
    ]);
    assert!(table.contains("Cục Thống kê tỉnh, thành phố"), "{table}");

    services.stop().unwrap();
}

/// `tasknet admin`: an office agent's credential for Hà Nội (which may not
/// read reports), the credential list, and the audit record of its issue.
fn administration_through_the_cli(endpoint: &str, admin_token: &str) {
    let admin = |args: &[&str]| {
        let mut args = args.to_vec();
        args.extend(["--endpoint", endpoint, "--token-file", admin_token]);
        run_cli(&args)
    };
    let token = admin(&[
        "admin",
        "token",
        "create",
        "--role",
        "office-agent",
        "--unit",
        "01",
    ]);
    let token = token.trim();
    assert!(token.starts_with("tn_"), "{token}");
    let refused = Launch::new(BINARY)
        .args([
            "report",
            "status",
            "--period",
            "2024-H1",
            "--as-of",
            "2024-06-30",
        ])
        .args(["--endpoint", endpoint, "--token", token])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(!refused.status.success());
    assert!(
        stderr.contains("not allowed for the office-agent role"),
        "{stderr}"
    );
    assert!(admin(&["admin", "token", "list"]).contains("office-agent"));
    let audit = json(&admin(&["admin", "audit", "--format", "json"]));
    let records = audit.as_array().unwrap();
    assert!(
        records.iter().any(
            |r| r["rpc"] == "/tasknet.v1.OrganisationService/IssueCredential"
                && r["outcome"] == "ACCEPTED"
        ),
        "{audit}"
    );
    // Newest first, a page at a time, saying when older records exist.
    let page = |token: Option<&str>| {
        let mut args = vec!["admin", "audit", "--limit", "2", "--format", "json"];
        if let Some(token) = token {
            args.extend(["--page-token", token]);
        }
        args.extend(["--endpoint", endpoint, "--token-file", admin_token]);
        let output = Launch::new(BINARY).args(&args).output().unwrap();
        assert!(output.status.success(), "{output:?}");
        let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
        let next = stderr
            .split("--page-token ")
            .nth(1)
            .and_then(|rest| rest.split_whitespace().next())
            .map(str::to_owned);
        (json(&String::from_utf8_lossy(&output.stdout)), next)
    };
    let times = |rows: &serde_json::Value| -> Vec<String> {
        rows.as_array()
            .unwrap()
            .iter()
            .map(|r| r["time"].as_str().unwrap().to_owned())
            .collect()
    };
    let (newest, next) = page(None);
    assert_eq!(newest.as_array().unwrap().len(), 2, "{newest}");
    let first = times(&newest);
    assert!(first[0] >= first[1], "{first:?}");
    let next = next.expect("more than two records exist, and the command says so");
    let (older, _) = page(Some(&next));
    assert!(!older.as_array().unwrap().is_empty());
    assert!(times(&older)[0] <= first[1], "{older} after {newest}");
    assert!(
        older
            .as_array()
            .unwrap()
            .iter()
            .all(|r| !newest.as_array().unwrap().contains(r))
    );
    let rejected = json(&admin(&[
        "admin",
        "audit",
        "--rejected",
        "--format",
        "json",
    ]));
    assert!(
        rejected
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r["outcome"] != "ACCEPTED")
    );
}

async fn wait_until_applied(endpoint: &str, client: &tasknet_server::ClientOptions, cursor: i64) {
    use tasknet_proto::v1::reporting_service_client::ReportingServiceClient;
    let mut client =
        ReportingServiceClient::new(tasknet_server::connect_lazy_with(endpoint, client).unwrap());
    for _ in 0..600 {
        let state = client
            .get_sync_state(tasknet_proto::v1::GetSyncStateRequest {})
            .await
            .map(|r| r.into_inner().applied_cursor);
        if state.as_ref().is_ok_and(|applied| *applied >= cursor) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("reporting did not reach cursor {cursor}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_services_as_separate_processes_on_sqlite() {
    three_processes(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_services_as_separate_processes_on_postgres() {
    three_processes(Backend::Postgres).await;
}

/// The README's start command, on a fresh data directory, with the small data set.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn up_with_demo_data_answers_reports() {
    let dir = tempfile::tempdir().unwrap();
    let up = spawn(
        "up",
        &[
            "up",
            "--listen",
            "127.0.0.1:0",
            "--data-dir",
            "data",
            "--demo",
            "--demo-size",
            "small",
        ],
        dir.path(),
    );
    let endpoint = format!(
        "http://{}",
        up.listening_address("tasknet is up on").unwrap()
    );
    up.wait_for_line("demo data loaded", Duration::from_secs(300))
        .unwrap();
    // The day the notification calendar judged at start, before the demo
    // was there, is judged again with it: every demo unit has open overdue
    // tasks today, so its contacts have a digest to receive.
    let judged = up
        .wait_for_line("judged again with the demo data: ", Duration::from_secs(60))
        .unwrap();
    let to_send: u64 = judged
        .split("judged again with the demo data: ")
        .nth(1)
        .and_then(|rest| rest.split(' ').next())
        .and_then(|count| count.parse().ok())
        .unwrap_or_else(|| panic!("{judged}"));
    assert!(to_send > 0, "{judged}");
    // The administrator credential `up` created, private to its owner.
    let admin_token = dir.path().join("data/admin.token");
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&admin_token)
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "admin.token mode {mode:o}");
    }
    let admin_token = admin_token.to_str().unwrap();
    let report = json(&run_cli(&[
        "report",
        "status",
        "--period",
        "2024-H1",
        "--as-of",
        "2024-06-30",
        "--format",
        "json",
        "--endpoint",
        &endpoint,
        "--token-file",
        admin_token,
    ]));
    assert_eq!(
        national_counts(&report),
        small_demo_national_2024_h1().to_array()
    );
    assert!(dir.path().join("data/task.db").is_file());
    administration_through_the_cli(&endpoint, admin_token);
    // What `grpcurl -plaintext ADDR list` shows (grpcurl 1.8 asks reflection v1alpha,
    // which lists the registered services and itself).
    let services = crate::support::reflected_services(&endpoint).await;
    for expected in [
        "tasknet.v1.OrganisationService",
        "tasknet.v1.TaskService",
        "tasknet.v1.ReportingService",
        "grpc.health.v1.Health",
        "grpc.reflection.v1alpha.ServerReflection",
    ] {
        assert!(
            services.iter().any(|s| s == expected),
            "{expected} missing from {services:?}"
        );
    }
    up.terminate().unwrap();
}
