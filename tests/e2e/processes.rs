//! The real `tasknet` binary as separate OS processes: three `serve`
//! processes talking over TCP, and `tasknet up --demo`; queried through the
//! CLI, stopped with SIGTERM, and expected to exit cleanly.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, ChildStdout, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use tasknet_storage::Backend;
use tasknet_storage::testing::TestDatabase;

const BINARY: &str = env!("CARGO_BIN_EXE_tasknet");

/// A child process that is killed if the test ends without stopping it.
struct Process {
    name: String,
    child: Child,
    lines: mpsc::Receiver<String>,
}

impl Process {
    fn spawn(name: &str, args: &[&str], data_dir: &Path) -> Self {
        let mut child = Command::new(BINARY)
            .args(args)
            .current_dir(data_dir)
            .env("RUST_LOG", "warn")
            .env_remove("TASKNET_CONFIG")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap_or_else(|e| panic!("spawn {name}: {e}"));
        let stdout: ChildStdout = child.stdout.take().unwrap();
        let (sender, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if sender.send(line).is_err() {
                    break;
                }
            }
        });
        Self {
            name: name.to_owned(),
            child,
            lines,
        }
    }

    /// Waits for a stdout line containing `marker` and returns it.
    fn wait_for_line(&self, marker: &str, timeout: Duration) -> String {
        let deadline = std::time::Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) if line.contains(marker) => return line,
                Ok(_) => {}
                Err(error) => panic!("{}: no line with {marker:?} ({error})", self.name),
            }
        }
    }

    /// The `http://ADDR` a server process printed it listens on.
    fn endpoint(&self, marker: &str) -> String {
        let line = self.wait_for_line(marker, Duration::from_secs(60));
        let addr = line
            .split_whitespace()
            .find(|word| word.starts_with("127.0.0.1:"))
            .unwrap_or_else(|| panic!("no address in {line:?}"));
        format!("http://{}", addr.trim_end_matches([',', ')', '(']))
    }

    /// SIGTERM, then the exit status must be success within the drain limit.
    fn terminate(mut self) {
        let pid = Pid::from_raw(self.child.id() as i32);
        kill(pid, Signal::SIGTERM).unwrap();
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                assert!(status.success(), "{} exited with {status}", self.name);
                return;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "{} did not stop on SIGTERM",
                self.name
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs a `tasknet` client command to completion and returns its stdout.
fn run_cli(args: &[&str]) -> String {
    let output = Command::new(BINARY)
        .args(args)
        .env("RUST_LOG", "warn")
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "tasknet {args:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}

fn json(text: &str) -> serde_json::Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
}

/// The national counts of a `report status --format json` answer.
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

async fn three_processes(backend: Backend) {
    let name = "processes::three_services_as_separate_processes";
    let mut databases = Vec::new();
    for _ in 0..3 {
        let Some(database) = TestDatabase::of(backend, name).await else {
            return;
        };
        databases.push(database);
    }
    let dir = tempfile::tempdir().unwrap();
    let organisation = Process::spawn(
        "organisation",
        &[
            "serve",
            "organisation",
            "--listen",
            "127.0.0.1:0",
            "--database-url",
            databases[0].url(),
            "--credentials-dir",
            "credentials",
        ],
        dir.path(),
    );
    let organisation_endpoint = organisation.endpoint("listening on");
    // The organisation service creates admin.token and service.token there
    // on first start; task and reporting read service.token.
    organisation.wait_for_line("credentials:", Duration::from_secs(60));
    let admin_token = dir.path().join("credentials/admin.token");
    let admin_token = admin_token.to_str().unwrap();
    let admin = tasknet_server::ClientOptions::with_token(tasknet_auth::Token::new(
        std::fs::read_to_string(admin_token).unwrap(),
    ));
    let task = Process::spawn(
        "task",
        &[
            "serve",
            "task",
            "--listen",
            "127.0.0.1:0",
            "--database-url",
            databases[1].url(),
            "--organisation-endpoint",
            &organisation_endpoint,
            "--credentials-dir",
            "credentials",
        ],
        dir.path(),
    );
    let task_endpoint = task.endpoint("listening on");
    let reporting = Process::spawn(
        "reporting",
        &[
            "serve",
            "reporting",
            "--listen",
            "127.0.0.1:0",
            "--database-url",
            databases[2].url(),
            "--organisation-endpoint",
            &organisation_endpoint,
            "--task-endpoint",
            &task_endpoint,
            "--credentials-dir",
            "credentials",
        ],
        dir.path(),
    );
    let reporting_endpoint = reporting.endpoint("listening on");

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

    reporting.terminate();
    task.terminate();
    organisation.terminate();
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
    let refused = Command::new(BINARY)
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
    let up = Process::spawn(
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
    let endpoint = up.endpoint("tasknet is up on");
    up.wait_for_line("demo data loaded", Duration::from_secs(300));
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
    // The independent count: the same generator over the same reference units.
    let units = tasknet_organisation::reference::reference_units().unwrap();
    let dataset = tasknet_demo::generate(&tasknet_demo::DemoSpec::small(), &units).unwrap();
    let period = tasknet_domain::DatePeriod::parse("2024-H1").unwrap();
    let as_of = chrono::NaiveDate::from_ymd_opt(2024, 6, 30).unwrap();
    let expected = tasknet_demo::expected_breakdown(&dataset, &units, period, as_of)
        .unwrap()
        .national
        .to_array();
    assert_eq!(national_counts(&report), expected);
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
    up.terminate();
}
