//! The golden test of the seed report: the full H1 2023 / H1 2024 data set,
//! pushed through the task service's ingest RPC as the offices would, must
//! come out of `ReportSummary` with every figure the source publishes, in its
//! own sentences — but one. The source's total change (+2.68 %) cannot be
//! reproduced together with its three category changes (seed/README.md): no
//! integer previous-year total gives all four, so the data set matches the
//! categories and prints +2.67 % for the total, and says so in a note.
//! `tasknet report status` shows the same figures by the same rule, and
//! another demo data set is refused on top of this one.

use tasknet_demo::{DemoSpec, SEED_NOTE_VI};
use tasknet_domain::date_to_proto;
use tasknet_proto::v1;

use crate::support::TestSystem;

/// The seed's sentences (seed/000_42cb1275562bc17a.txt), as published.
const SEED_PLANS: &str = "Sáu tháng đầu năm, Tổng cục thống kê đã hoàn thành 2/11 nhiệm vụ được giao thuộc Chương trình công tác và kế hoạch xây dựng văn bản quy phạm pháp luật năm 2024; Hoàn thành 479/1125 tổng số công việc đạt 42,5% thuộc kế hoạch công tác năm 2024 của cơ quan Thống kê trung ương.";
const SEED_ASSIGNED: &str = "Tính đến hết ngày 30/6/2024, đã có 112.587 công việc được giao thông qua phần mềm quản lý công việc TaskGov (tăng 2,68% so với cùng kỳ năm 2023) trong đó: Đơn vị trực thuộc TCTK được giao 2.886 công việc (tăng 11,38%); Các đơn vị sự nghiệp công lập với 251 công việc (giảm 30,27%); Cục Thống kê các tỉnh, thành phố trực thuộc trung ương có 109.450 đầu việc được giao (tăng 2,57%).";
const SEED_STATUS: &str = "Số công việc hoàn thành đạt mức 87,94%, hoàn thành trễ hạn là 8,44%, chưa hoàn thành nhưng còn thời hạn là 0,54% và chưa hoàn thành và quá thời hạn là 3,07%.";
const SEED_KEY_TASKS: &str =
    "TCTK đã hoàn thành 4/6 nhiệm vụ trọng tâm trong nửa đầu năm 2024, chi tiết gồm:";

async fn summary(
    system: &TestSystem,
    language: v1::Language,
    format: v1::SummaryFormat,
    cursor: i64,
) -> String {
    system
        .reporting()
        .report_summary(v1::ReportSummaryRequest {
            basis: v1::ReportBasis::Unspecified as i32,
            period: Some(v1::Period {
                kind: Some(v1::period::Kind::Label("2024-H1".into())),
            }),
            as_of: Some(date_to_proto(
                chrono::NaiveDate::from_ymd_opt(2024, 6, 30).unwrap(),
            )),
            language: language as i32,
            format: format as i32,
            rounding: v1::PercentRounding::Unspecified as i32,
            min_cursor: cursor,
            system_name: "TaskGov".into(),
        })
        .await
        .unwrap()
        .into_inner()
        .body
}

/// The read model follows the log behind the writes; a full data set takes a while.
async fn wait_until_applied(system: &TestSystem, cursor: i64) {
    let started = std::time::Instant::now();
    loop {
        let applied = system
            .reporting()
            .get_sync_state(v1::GetSyncStateRequest {})
            .await
            .unwrap()
            .into_inner()
            .applied_cursor;
        if applied >= cursor {
            eprintln!(
                "reporting caught up {:.1} s after the load",
                started.elapsed().as_secs_f64()
            );
            return;
        }
        assert!(
            started.elapsed().as_secs() < 900,
            "reporting stuck at {applied} of {cursor}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    }
}

async fn seed_report_is_reproduced(system: &TestSystem) {
    let loaded = tasknet_demo::load_split(
        &system.organisation_endpoint,
        &system.task_endpoint,
        &system.admin,
        &DemoSpec::seed_report(),
        |_| {},
    )
    .await
    .unwrap();
    eprintln!("golden data set loaded: {loaded}");
    tasknet_demo::add_seed_note(&system.reporting_endpoint, &system.admin)
        .await
        .unwrap();
    wait_until_applied(system, loaded.last_cursor).await;

    let text = summary(
        system,
        v1::Language::Vi,
        v1::SummaryFormat::Text,
        loaded.last_cursor,
    )
    .await;
    assert!(text.contains(SEED_KEY_TASKS), "{text}");
    assert!(text.contains(SEED_PLANS), "{text}");
    assert!(text.contains(SEED_STATUS), "{text}");
    // The one figure that differs, and why: see the module comment.
    let ours = SEED_ASSIGNED.replace("(tăng 2,68% so với", "(tăng 2,67% so với");
    assert_ne!(ours, SEED_ASSIGNED);
    assert!(text.contains(&ours), "{text}");
    assert!(
        text.contains(SEED_NOTE_VI),
        "the note saying which figure differs is printed: {text}"
    );

    let english = summary(
        system,
        v1::Language::En,
        v1::SummaryFormat::Text,
        loaded.last_cursor,
    )
    .await;
    for expected in [
        "112,587 tasks",
        "(up 2.67% on the same period of 2023)",
        "2,886 tasks (up 11.38%)",
        "251 tasks (down 30.27%)",
        "109,450 tasks (up 2.57%)",
        "87.94% of tasks were completed on time",
        "8.44% were completed late",
        "0.54% were not completed but still within",
        "3.07% were not completed and overdue",
        "4 of 6 key tasks",
        "2 of 11 tasks",
        "479 of 1125 tasks",
        "(42.5%)",
    ] {
        assert!(
            english.contains(expected),
            "{expected:?} missing from {english}"
        );
    }

    let json: serde_json::Value = serde_json::from_str(
        &summary(
            system,
            v1::Language::Vi,
            v1::SummaryFormat::Json,
            loaded.last_cursor,
        )
        .await,
    )
    .unwrap();
    let figures = &json["figures"];
    assert_eq!(figures["national"]["total"], 112_587);
    assert_eq!(figures["national"]["completed_on_time"], 99_010);
    assert_eq!(figures["national"]["completed_late"], 9_503);
    assert_eq!(figures["national"]["open_within_deadline"], 612);
    assert_eq!(figures["national"]["open_overdue"], 3_462);
    assert_eq!(figures["national_previous"]["total"], 109_651);
    let categories: Vec<(String, i64, i64)> = figures["categories"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["category"].as_str().unwrap().to_owned(),
                c["current"]["total"].as_i64().unwrap(),
                c["previous"]["total"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        categories,
        [
            ("UNIT_CATEGORY_CENTRAL_DEPARTMENT".to_owned(), 2_886, 2_591),
            ("UNIT_CATEGORY_PUBLIC_SERVICE_UNIT".to_owned(), 251, 360),
            (
                "UNIT_CATEGORY_PROVINCIAL_OFFICE".to_owned(),
                109_450,
                106_700
            ),
        ]
    );
    let plans: Vec<(i64, i64)> = figures["plans"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| (p["done"].as_i64().unwrap(), p["total"].as_i64().unwrap()))
        .collect();
    assert_eq!(plans, [(4, 6), (2, 11), (479, 1125)]);

    let csv = summary(
        system,
        v1::Language::Vi,
        v1::SummaryFormat::SdmxCsv,
        loaded.last_cursor,
    )
    .await;
    for row in [
        "dataflow,VN_STAT:DF_TASKS(1.0),I,VN,_T,_Z,_T,N,2024-S1,112587,TASKS",
        "dataflow,VN_STAT:DF_TASKS(1.0),I,VN,_T,_Z,_T,G1,2024-S1,2.67,PT",
        "dataflow,VN_STAT:DF_TASKS(1.0),I,VN,CD,_Z,_T,G1,2024-S1,11.38,PT",
        "dataflow,VN_STAT:DF_TASKS(1.0),I,VN,PSU,_Z,_T,G1,2024-S1,-30.27,PT",
        "dataflow,VN_STAT:DF_TASKS(1.0),I,VN,PSO,_Z,_T,G1,2024-S1,2.57,PT",
        "dataflow,VN_STAT:DF_TASKS(1.0),I,VN,_T,_Z,CT,SH,2024-S1,87.94,PT",
        "dataflow,VN_STAT:DF_TASKS(1.0),I,VN,_T,_Z,CL,SH,2024-S1,8.44,PT",
        "dataflow,VN_STAT:DF_TASKS(1.0),I,VN,_T,_Z,OW,SH,2024-S1,0.54,PT",
        "dataflow,VN_STAT:DF_TASKS(1.0),I,VN,_T,_Z,OO,SH,2024-S1,3.07,PT",
        "dataflow,VN_STAT:DF_TASKS(1.0),I,VN,_T,KEY,C,N,2024-S1,4,TASKS",
        "dataflow,VN_STAT:DF_TASKS(1.0),I,VN,_T,AWP,C,SH,2024-S1,42.5,PT",
    ] {
        // Every row states the basis (current structure: the default).
        let row = format!("{row},CUR");
        assert!(
            csv.lines().any(|line| line == row),
            "{row} missing from\n{csv}"
        );
    }

    status_table_agrees_with_the_summary(system, &english);
    another_demo_is_refused_and_changes_nothing(system, &english).await;
}

/// `tasknet report status` prints the summary's figures, cut by the same
/// rule (truncation unless asked), and says which rule in its footer and JSON.
fn status_table_agrees_with_the_summary(system: &TestSystem, english: &str) {
    let status = |extra: &[&str]| {
        let mut args = vec![
            "report",
            "status",
            "--period",
            "2024-H1",
            "--as-of",
            "2024-06-30",
            "--by",
            "category",
        ];
        args.extend(extra);
        let output = crate::user_output::tasknet(system, &args);
        let (stdout, stderr) = crate::user_output::texts(&output);
        assert!(output.status.success(), "{stderr}");
        stdout
    };
    let table = status(&[]);
    // (the summary's words, the table's cell): the same figure.
    for (summary, cell) in [
        ("(up 2.67% on the same period", "+2.67%"),
        ("2,886 tasks (up 11.38%)", "+11.38%"),
        ("251 tasks (down 30.27%)", "-30.27%"),
        ("109,450 tasks (up 2.57%)", "+2.57%"),
        ("87.94% of tasks were completed on time", "87.94%"),
        ("8.44% were completed late", "8.44%"),
        ("0.54% were not completed but still within", "0.54%"),
        ("3.07% were not completed and overdue", "3.07%"),
    ] {
        assert!(
            english.contains(summary),
            "{summary:?} missing from {english}"
        );
        assert!(table.contains(cell), "{cell:?} missing from\n{table}");
    }
    assert!(!table.contains("+2.68%"), "{table}");
    assert!(table.contains("truncated to two decimals"), "{table}");
    let json: serde_json::Value = serde_json::from_str(&status(&["--format", "json"])).unwrap();
    assert_eq!(json["rounding"], "TRUNCATE");
    assert_eq!(json["national"]["total_change_percent"], 2.67);
    assert_eq!(json["national"]["shares"]["completed_on_time"], 87.94);
    // Asked for, rounding applies to every figure alike.
    let rounded = status(&["--rounding", "half-even"]);
    for cell in ["+2.68%", "+11.39%", "-30.28%"] {
        assert!(rounded.contains(cell), "{cell:?} missing from\n{rounded}");
    }
    assert!(
        rounded.contains("rounded to two decimals, half to even"),
        "{rounded}"
    );
}

/// Loading the small demo on top of the seed's is refused before anything
/// is written; the seed report reads as before.
async fn another_demo_is_refused_and_changes_nothing(system: &TestSystem, english: &str) {
    let error = tasknet_demo::load_split(
        &system.organisation_endpoint,
        &system.task_endpoint,
        &system.admin,
        &DemoSpec::small(),
        |_| {},
    )
    .await
    .unwrap_err();
    let conflict = error
        .downcast_ref::<tasknet_demo::DemoConflict>()
        .unwrap_or_else(|| panic!("not a conflict: {error:#}"));
    assert_eq!(conflict.requested, "small");
    let message = conflict.to_string();
    assert!(
        message.contains("That is the size of the seed demo data set"),
        "{message}"
    );
    let after = summary(system, v1::Language::En, v1::SummaryFormat::Text, 0).await;
    assert_eq!(after, english, "the refused load changed the report");
}

crate::system_tests!(seed_report_is_reproduced);
