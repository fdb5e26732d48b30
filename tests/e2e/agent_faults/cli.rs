//! `tasknet agent` as an office uses it: an import with a bad row reports
//! the row and stores nothing (offline: no centre needed); then, against
//! the real services, an import pushed with `--wait`, a refused update
//! parked with its task's later update held behind it, `status`, and
//! `discard`.

use std::path::Path;

use super::centre::Centre;
use super::process::run;

const FILE: &str = "action,task,effective,title,deadline,text
create,CV-117,2024-05-02,Báo cáo tình hình quý II,30/06/2024,
note,CV-117,2024-05-20,,,đã thu thập 80% số liệu
deadline,CV-117,2024-06-10,,2024-02-30,gia hạn theo công văn 45
complete,CV-117,2024-06-28,,,đã gửi báo cáo
";

fn agent(dir: &Path, args: &[&str]) -> (bool, String, String) {
    tokio::task::block_in_place(|| {
        let mut all = vec!["agent", "--config", "agent.toml"];
        all.extend_from_slice(args);
        run(&all, dir)
    })
}

fn write_config(dir: &Path, unit: &str, endpoint: &str, token: &str) {
    let config = format!(
        "unit_id = \"{unit}\"\nendpoint = \"{endpoint}\"\ndata_dir = \"outbox\"\ntoken = \"{token}\"\n\n\
         [push]\nbackoff_initial_ms = 50\nbackoff_max_ms = 500\n"
    );
    std::fs::write(dir.join("agent.toml"), config).unwrap();
}

fn status(dir: &Path) -> serde_json::Value {
    let (ok, stdout, stderr) = agent(dir, &["status", "--format", "json"]);
    assert!(ok, "{stderr}");
    serde_json::from_str(&stdout).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn import_with_a_bad_row_reports_it_and_imports_nothing() {
    let dir = tempfile::tempdir().unwrap();
    // No centre at all: entering updates works offline.
    write_config(
        dir.path(),
        "0fd59ec0-bc66-50e6-9697-430a745c0884",
        "http://127.0.0.1:9",
        "",
    );
    std::fs::write(dir.path().join("updates.csv"), FILE).unwrap();
    let (ok, stdout, stderr) = agent(dir.path(), &["import", "updates.csv"]);
    assert!(!ok, "{stdout}");
    assert!(
        stderr.contains("updates.csv: 1 invalid row(s); nothing was imported"),
        "{stderr}"
    );
    assert!(
        stderr.contains(
            "line 4, column deadline: \"2024-02-30\" is not a date (YYYY-MM-DD or DD/MM/YYYY)"
        ),
        "{stderr}"
    );
    let json = status(dir.path());
    assert_eq!(
        (json["pending"].as_u64(), json["sent"].as_u64()),
        (Some(0), Some(0)),
        "{json}"
    );
    // Put right, it imports: all four rows, pending until pushed.
    std::fs::write(
        dir.path().join("updates.csv"),
        FILE.replace("2024-02-30", "2024-07-15"),
    )
    .unwrap();
    let (ok, stdout, stderr) = agent(dir.path(), &["import", "updates.csv"]);
    assert!(ok, "{stderr}");
    assert!(
        stdout.contains("imported 4 update(s) (1 new task(s)) from updates.csv"),
        "{stdout}"
    );
    assert_eq!(status(dir.path())["pending"], 4);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn submit_import_status_and_discard_against_the_centre() {
    let centre = Centre::start(None).await;
    let office = centre.offices[0].clone();
    let dir = tempfile::tempdir().unwrap();
    write_config(
        dir.path(),
        &office,
        &centre.task_endpoint(),
        &centre.office_token(&office).await,
    );
    std::fs::write(
        dir.path().join("updates.csv"),
        FILE.replace("2024-02-30", "2024-07-15"),
    )
    .unwrap();
    let (ok, stdout, stderr) = agent(dir.path(), &["import", "updates.csv", "--wait"]);
    assert!(ok, "{stderr}");
    assert!(
        stdout.contains("sent 4, parked 0, still pending 0"),
        "{stdout}"
    );

    // Completed already: the agent's own record says so, and refuses it
    // before storing anything...
    let complete_again = [
        "submit",
        "complete",
        "--task",
        "CV-117",
        "--on",
        "2024-06-29",
        "--wait",
    ];
    let (ok, _, stderr) = agent(dir.path(), &complete_again);
    assert!(!ok);
    assert!(
        stderr.contains("not stored") && stderr.contains("FAILED_PRECONDITION"),
        "{stderr}"
    );
    assert_eq!(status(dir.path())["pending"], 0);
    // ...and with --force the centre refuses it: parked; the note after it is held.
    let forced: Vec<&str> = complete_again.iter().copied().chain(["--force"]).collect();
    let (ok, stdout, _) = agent(dir.path(), &forced);
    assert!(!ok);
    assert!(
        stdout.contains("parked: ") && stdout.contains("FAILED_PRECONDITION"),
        "{stdout}"
    );
    let (ok, _, stderr) = agent(
        dir.path(),
        &[
            "submit",
            "note",
            "--task",
            "CV-117",
            "--text",
            "bổ sung",
            "--on",
            "2024-06-30",
        ],
    );
    assert!(ok, "{stderr}");
    let json = status(dir.path());
    assert_eq!(
        (
            json["sent"].as_u64(),
            json["parked"].as_u64(),
            json["held"].as_u64()
        ),
        (Some(4), Some(1), Some(1)),
        "{json}"
    );
    let parked = json["parked_updates"][0]["update_id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(json["parked_updates"][0]["refusal"]["field"], "complete");

    let (ok, _, stderr) = agent(dir.path(), &["discard", &parked]);
    assert!(ok, "{stderr}");
    let (ok, stdout, stderr) = agent(
        dir.path(),
        &[
            "submit",
            "reopen",
            "--task",
            "CV-117",
            "--reason",
            "thiếu phụ lục",
            "--on",
            "2024-07-01",
            "--wait",
        ],
    );
    assert!(ok, "{stderr}");
    assert!(
        stdout.contains("sent: the centre applied it (task version 6"),
        "{stdout}"
    );
    let json = status(dir.path());
    assert_eq!(
        (
            json["pending"].as_u64(),
            json["sent"].as_u64(),
            json["parked"].as_u64()
        ),
        (Some(0), Some(6), Some(0)),
        "{json}"
    );
    let (ok, table, _) = agent(dir.path(), &["status"]);
    assert!(
        ok && table.contains("sent            6") && table.contains("discarded       1"),
        "{table}"
    );
    tokio::task::block_in_place(|| centre.stop());
}
