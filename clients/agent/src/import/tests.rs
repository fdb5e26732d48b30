use chrono::TimeZone;

use super::*;
use crate::outbox::EntryState;

const UNIT: &str = "0b9a1c52-5f3e-5b0e-9d36-8c1f2e3a4b5c";

async fn outbox() -> (tempfile::TempDir, Outbox) {
    let dir = tempfile::tempdir().unwrap();
    let outbox = Outbox::open(dir.path(), Uuid::parse_str(UNIT).unwrap())
        .await
        .unwrap();
    (dir, outbox)
}

async fn run(outbox: &Outbox, text: &str) -> Result<ImportReport> {
    import(
        outbox,
        Uuid::parse_str(UNIT).unwrap(),
        "updates.csv",
        text.as_bytes(),
        ImportOptions::default(),
    )
    .await
}

fn row_errors(result: Result<ImportReport>) -> Vec<String> {
    match result {
        Err(Error::Import { rows, .. }) => rows.iter().map(ToString::to_string).collect(),
        other => panic!("expected row errors, got {other:?}"),
    }
}

const GOOD: &str = "\u{feff}action,task,effective,title,deadline,text,plans
create,CV-117,2024-06-03,Báo cáo quý II,30/06/2024,,
note,CV-117,2024-06-10 16:30,,,\"đang tổng hợp, 80%\",
deadline,CV-117,2024-06-20,,2024-07-05,gia hạn theo công văn 45,
complete,CV-117,2024-06-28T09:30:00+07:00,,,đã gửi,
create,,2024-12-01,Kế hoạch năm 2025,2024-12-31,,
";

#[tokio::test]
async fn a_good_file_is_stored_in_order_with_its_references() {
    let (_dir, outbox) = outbox().await;
    let report = run(&outbox, GOOD).await.unwrap();
    assert_eq!((report.rows, report.tasks_created), (5, 2));
    let entries = outbox.entries().await.unwrap();
    let kinds: Vec<_> = entries.iter().map(|e| e.kind.as_str()).collect();
    assert_eq!(kinds, ["create", "note", "deadline", "complete", "create"]);
    assert!(
        entries
            .iter()
            .all(|e| e.state == EntryState::Pending && e.source == "import:updates.csv")
    );
    assert_eq!(
        report.update_ids,
        entries.iter().map(|e| e.update_id).collect::<Vec<_>>()
    );
    let task = entries[0].task_id;
    assert!(entries[..4].iter().all(|e| e.task_id == task));
    assert_ne!(entries[4].task_id, task);
    let known = outbox
        .resolve(&TaskName::Reference("CV-117".into()))
        .await
        .unwrap();
    assert_eq!(known, Some(task));
    // 16:30 in Vietnam is 09:30 UTC; the completion's own offset is kept.
    assert_eq!(
        entries[1].effective_time,
        Utc.with_ymd_and_hms(2024, 6, 10, 9, 30, 0).unwrap()
    );
    assert_eq!(
        entries[3].effective_time,
        Utc.with_ymd_and_hms(2024, 6, 28, 2, 30, 0).unwrap()
    );
}

#[tokio::test]
async fn one_bad_row_is_reported_and_nothing_is_imported() {
    let (_dir, outbox) = outbox().await;
    let bad = GOOD.replace("2024-07-05", "2024-02-30");
    let errors = row_errors(run(&outbox, &bad).await);
    assert_eq!(
        errors,
        ["line 4, column deadline: \"2024-02-30\" is not a date (YYYY-MM-DD or DD/MM/YYYY)"]
    );
    assert!(outbox.entries().await.unwrap().is_empty());
    assert_eq!(
        outbox
            .resolve(&TaskName::Reference("CV-117".into()))
            .await
            .unwrap(),
        None
    );
    // Put right, the same file imports.
    run(&outbox, GOOD).await.unwrap();
    assert_eq!(outbox.entries().await.unwrap().len(), 5);
}

#[tokio::test]
async fn every_bad_row_is_reported_with_line_and_column() {
    let (_dir, outbox) = outbox().await;
    let text = "action,task,title,deadline,text
create,A-1,First,2099-06-30,
note,A-2,,,too early: A-2 is created below
create,A-2,Second,2099-06-30,
close,A-1,,,
note,A-1,,2099-06-30,a note has no deadline
note,A-1,,,
create,A-1,Again,2099-06-30,
complete,A-1,,
";
    let errors = row_errors(run(&outbox, text).await);
    assert_eq!(errors.len(), 6, "{errors:#?}");
    assert!(
        errors[0].starts_with("line 3, column task: \"A-2\" is not a known task reference"),
        "{}",
        errors[0]
    );
    assert!(
        errors[1].starts_with("line 5, column action: \"close\" is not one of"),
        "{}",
        errors[1]
    );
    assert_eq!(
        errors[2],
        "line 6, column deadline: is not used by a note row; leave it empty"
    );
    assert_eq!(errors[3], "line 7, column text: is required");
    assert!(
        errors[4].starts_with("line 8, column task: \"A-1\" already names task"),
        "{}",
        errors[4]
    );
    assert_eq!(errors[5], "line 9: has 4 fields where the header has 5");
    assert!(outbox.entries().await.unwrap().is_empty());
}

#[tokio::test]
async fn the_header_is_checked() {
    let (_dir, outbox) = outbox().await;
    let errors = row_errors(run(&outbox, "action,task,colour\nnote,A,red\n").await);
    assert_eq!(errors.len(), 1);
    assert!(
        errors[0].starts_with("line 1, column colour: is not a column"),
        "{}",
        errors[0]
    );
    let errors = row_errors(run(&outbox, "task,text\nA,x\n").await);
    assert_eq!(errors, ["line 1: the header has no action column"]);
    let errors = row_errors(run(&outbox, "action,task\n").await);
    assert_eq!(errors, ["line 1: the file has a header but no rows"]);
}

#[tokio::test]
async fn a_file_is_not_imported_twice_by_mistake() {
    let (_dir, outbox) = outbox().await;
    run(&outbox, GOOD.replace("CV-117", "CV-1").as_str())
        .await
        .unwrap();
    let again = run(&outbox, GOOD.replace("CV-117", "CV-1").as_str()).await;
    assert!(
        matches!(again, Err(Error::AlreadyImported { .. })),
        "{again:?}"
    );
    assert_eq!(outbox.entries().await.unwrap().len(), 5);
    // Deliberately, with the references renamed (they must stay unique).
    let text = GOOD.replace("CV-117", "CV-2");
    let options = ImportOptions { allow_repeat: true };
    let unit = Uuid::parse_str(UNIT).unwrap();
    import(&outbox, unit, "x.csv", text.as_bytes(), options)
        .await
        .unwrap();
    import(&outbox, unit, "x.csv", text.as_bytes(), options)
        .await
        .unwrap_err();
}

#[test]
fn effective_times_come_in_several_forms() {
    assert_eq!(effective("").unwrap(), None);
    let noon = Utc.with_ymd_and_hms(2024, 6, 28, 5, 0, 0).unwrap();
    assert_eq!(effective("2024-06-28").unwrap(), Some(noon));
    assert_eq!(effective("28/06/2024").unwrap(), Some(noon));
    assert_eq!(effective("2024-06-28 12:00").unwrap(), Some(noon));
    assert_eq!(effective("2024-06-28T05:00:00Z").unwrap(), Some(noon));
    assert_eq!(effective("yesterday").unwrap_err().field, "effective");
}
