//! What a person reads from the `tasknet` command agrees with what it did:
//! `demo load` refuses to mix two data sets before writing anything and
//! says a repeat changed nothing; `report plans` without `--kind` lists
//! every kind, and into a pipe closed early (`| head`) ends without a panic;
//! `up --demo` prints its next steps only
//! once the demo data is in the reports, spelled as they can be typed, with
//! progress as log lines when its output is not a terminal. Also the
//! helper other modules use to run the CLI against a [`TestSystem`].

use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::process::Output;
use std::time::Duration;

use tasknet_domain::date_to_proto;
use tasknet_proto::v1;
use tasknet_system::testing::process::Launch;

use crate::support::TestSystem;

const BINARY: &str = env!("CARGO_BIN_EXE_tasknet");

/// Runs `tasknet ARGS` as the administrator against `system`'s three
/// services; stdout, stderr and the exit status.
pub(crate) fn tasknet(system: &TestSystem, args: &[&str]) -> Output {
    let token = system.admin.token.as_ref().expect("an administrator token");
    tasknet_as(system, token.expose(), args)
}

/// Runs `tasknet ARGS` with the credential `token` against `system`'s
/// three services; stdout, stderr and the exit status.
pub(crate) fn tasknet_as(system: &TestSystem, token: &str, args: &[&str]) -> Output {
    Launch::new(BINARY)
        .args(args)
        .args(endpoints(system))
        .env("TASKNET_TOKEN", token)
        // As a person would run it, not as cargo's child.
        .env_remove("CARGO")
        .output()
        .unwrap_or_else(|e| panic!("tasknet {args:?}: {e:#}"))
}

/// Runs `tasknet ARGS` as the administrator with its standard output a pipe
/// closed before it prints anything.
fn tasknet_into_closed_pipe(system: &TestSystem, args: &[&str]) -> Output {
    let token = system.admin.token.as_ref().expect("an administrator token");
    let mut child = std::process::Command::new(BINARY)
        .args(args)
        .args(endpoints(system))
        .env("TASKNET_TOKEN", token.expose())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("tasknet {args:?}: {e:#}"));
    drop(child.stdout.take());
    child
        .wait_with_output()
        .unwrap_or_else(|e| panic!("tasknet {args:?}: {e:#}"))
}

/// The signal a process gets for writing into a pipe nobody reads.
const SIGPIPE: i32 = 13;

/// The flags that point the CLI at `system`'s services.
fn endpoints(system: &TestSystem) -> [&str; 8] {
    [
        "--endpoint",
        &system.reporting_endpoint,
        "--organisation-endpoint",
        &system.organisation_endpoint,
        "--task-endpoint",
        &system.task_endpoint,
        "--reporting-endpoint",
        &system.reporting_endpoint,
    ]
}

/// stdout and stderr as text.
pub(crate) fn texts(output: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// The national counts of `period` (current and previous year) as of its
/// last day: what a refused load must leave as they were.
async fn national(system: &TestSystem, period: &str, as_of: (i32, u32, u32)) -> Vec<i64> {
    let as_of = chrono::NaiveDate::from_ymd_opt(as_of.0, as_of.1, as_of.2).unwrap();
    let response = system
        .reporting()
        .status_breakdown(v1::StatusBreakdownRequest {
            basis: v1::ReportBasis::Unspecified as i32,
            period: Some(v1::Period {
                kind: Some(v1::period::Kind::Label(period.into())),
            }),
            as_of: Some(date_to_proto(as_of)),
            group_by: v1::GroupBy::UnitCategory as i32,
            min_cursor: 0,
        })
        .await
        .unwrap()
        .into_inner();
    let counts = |c: Option<&v1::StatusCounts>| {
        let c = c.cloned().unwrap_or_default();
        [
            c.total,
            c.completed_on_time,
            c.completed_late,
            c.open_within_deadline,
            c.open_overdue,
        ]
    };
    response
        .rows
        .iter()
        .chain(response.national.as_ref())
        .flat_map(|row| {
            counts(row.current.as_ref())
                .into_iter()
                .chain(counts(row.previous.as_ref()))
        })
        .collect()
}

/// Every figure the demo's periods show, before and after a refusal.
async fn figures(system: &TestSystem) -> Vec<Vec<i64>> {
    vec![
        national(system, "2024-H1", (2024, 6, 30)).await,
        national(system, "2025-H2", (2025, 12, 31)).await,
    ]
}

async fn demo_load_refuses_to_mix_data_sets_and_a_repeat_changes_nothing(system: &TestSystem) {
    let first = tasknet(system, &["demo", "load", "--size", "small"]);
    let (stdout, stderr) = texts(&first);
    assert!(first.status.success(), "{stdout}\n{stderr}");
    assert!(stdout.contains("demo data loaded: "), "{stdout}");
    // No terminal here: progress comes as log lines with counts and a rate.
    assert!(
        stderr.contains("loading demo data (H1 2023, H1 2024): ")
            && stderr.contains(" updates (100%), ")
            && stderr.contains("/s, done in "),
        "{stderr}"
    );
    let loaded = figures(system).await;
    assert!(loaded[0][0] > 0, "{loaded:?}");
    let contacts = demo_contacts(system).await;
    assert_eq!(contacts.len(), expected_demo_contacts(system).await);
    assert!(
        stdout.contains(&format!(
            "notification recipients: {} unit contacts",
            contacts.len()
        )),
        "{stdout}"
    );
    // The README's form: without --kind, every kind's plans.
    const PLANS: [&str; 6] = [
        "report",
        "plans",
        "--period",
        "2024",
        "--as-of",
        "2024-06-30",
    ];
    let plans = tasknet(system, &PLANS);
    let (table, stderr) = texts(&plans);
    assert!(plans.status.success(), "{stderr}");
    for kind in ["KEY_TASKS", "LEGAL_DOCUMENTS", "ANNUAL_WORK_PLAN"] {
        assert!(table.contains(kind), "{kind} missing from\n{table}");
    }
    // 4 of 6 key tasks: 66.66 % cut, as the summary cuts it.
    assert!(
        table.contains("66.66%") && table.contains("truncated"),
        "{table}"
    );
    // Into a pipe whose reader has gone (`… | head`): a quiet end, no panic.
    let closed = tasknet_into_closed_pipe(system, &PLANS);
    let (_, stderr) = texts(&closed);
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(
        closed.status.success() || closed.status.signal() == Some(SIGPIPE),
        "{:?}: {stderr}",
        closed.status
    );

    let again = tasknet(system, &["demo", "load", "--size", "small"]);
    let (stdout, stderr) = texts(&again);
    assert!(again.status.success(), "{stdout}\n{stderr}");
    assert!(
        stdout.contains("the small demo data set was already loaded, nothing changed"),
        "{stdout}"
    );
    assert_eq!(figures(system).await, loaded);
    assert_eq!(demo_contacts(system).await, contacts);

    let other = tasknet(system, &["demo", "load", "--size", "seed"]);
    let (stdout, stderr) = texts(&other);
    assert_eq!(other.status.code(), Some(1), "{stdout}\n{stderr}");
    for expected in [
        "refusing to load the seed demo data set",
        "That is the size of the small demo data set",
        "nothing was written",
        "--demo-size seed",
    ] {
        assert!(stderr.contains(expected), "{expected:?} missing: {stderr}");
    }
    assert!(
        !stderr.contains("already used for a different change"),
        "{stderr}"
    );
    assert_eq!(figures(system).await, loaded, "the refusal changed nothing");
    assert_eq!(demo_contacts(system).await, contacts);
}

/// Every unit contact the system holds.
async fn demo_contacts(system: &TestSystem) -> Vec<v1::UnitContact> {
    let response = system
        .organisation()
        .list_unit_contacts(v1::ListUnitContactsRequest {
            page_size: 1000,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert!(response.next_page_token.is_empty());
    response.contacts
}

/// Counted from the units, not from the loader: a focal point for each
/// unit in force on the demo's last day (2025-12-31), and a head for each
/// provincial office among them.
async fn expected_demo_contacts(system: &TestSystem) -> usize {
    let units = system
        .organisation()
        .list_units(v1::ListUnitsRequest {
            as_of: Some(v1::Date {
                year: 2025,
                month: 12,
                day: 31,
            }),
            page_size: 1000,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .units;
    let offices = units
        .iter()
        .filter(|u| u.category == v1::UnitCategory::ProvincialOffice as i32)
        .count();
    assert_eq!(offices, 34, "the 34 offices after the 2025 merger");
    units.len() + offices
}

crate::system_tests!(demo_load_refuses_to_mix_data_sets_and_a_repeat_changes_nothing);

/// Lines of the file `path` once one contains `marker` (the process writes
/// it as it goes).
fn lines_once(path: &Path, marker: &str) -> String {
    for _ in 0..3000 {
        let text = std::fs::read_to_string(path).unwrap_or_default();
        if text.contains(marker) {
            return text;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("no {marker:?} in {}", path.display());
}

/// `tasknet up --demo` with its output going to files, as in a container:
/// the next steps come after the load and reporting's catch-up, name this
/// binary as it can be run, and run as printed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn up_prints_next_steps_once_the_demo_is_in_the_reports() {
    let dir = tempfile::tempdir().unwrap();
    // Through a shell only to send stdout and stderr to files (not a terminal).
    let up = Launch::new("sh")
        .dir(dir.path())
        .env_remove("CARGO")
        .args([
            "-c",
            &format!(
                "exec '{BINARY}' up --listen 127.0.0.1:0 --data-dir data --demo \
                 --demo-size small > up.out 2> up.err"
            ),
        ])
        .spawn("up")
        .unwrap();
    let stdout = lines_once(&dir.path().join("up.out"), "Stop with Ctrl-C.");
    let loaded = stdout.find("demo data loaded").expect(&stdout);
    let try_at = stdout.find("Try:").expect(&stdout);
    assert!(
        loaded < try_at,
        "next steps before the load ended:\n{stdout}"
    );
    let stderr = std::fs::read_to_string(dir.path().join("up.err")).unwrap();
    assert!(
        stderr.contains("H2 2024 – H2 2025, across the 2025 merger: ")
            && stderr.contains(" updates (100%), "),
        "{stderr}"
    );
    // The command as printed: this binary's path (not on the PATH, not
    // started by cargo) and the credential `up` wrote.
    let command = stdout
        .lines()
        .find(|line| line.contains(" report status "))
        .expect(&stdout)
        .trim();
    assert!(
        command.starts_with(&format!("{BINARY} report status ")),
        "{command}"
    );
    assert!(
        command.contains("--token-file data/admin.token"),
        "{command}"
    );
    let words: Vec<&str> = command.split_whitespace().collect();
    let table = Launch::new(words[0])
        .dir(dir.path())
        .args(&words[1..])
        .run()
        .unwrap();
    let expected = crate::processes::small_demo_national_2024_h1();
    let national = table
        .lines()
        .find(|line| line.starts_with("Toàn quốc / National"))
        .expect(&table);
    assert!(
        national
            .split_whitespace()
            .any(|word| word == expected.total().to_string()),
        "all {} tasks reported at once: {national}",
        expected.total()
    );
    up.terminate().unwrap();
}
