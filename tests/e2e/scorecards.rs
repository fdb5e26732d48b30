//! Unit scorecards and trajectories over the small demo, through the real
//! `tasknet` command against the three services, on both back ends: every
//! unit's counts equal the demo generator's own count, the 63 offices of
//! 2024-H1 and the 34 of 2025-H2 are ranked, the table, JSON, CSV and
//! SDMX-CSV say what the RPC says, and bad input is refused naming its field.

use std::collections::BTreeMap;

use tasknet_domain::date_to_proto;
use tasknet_proto::v1::{self, RankingGroup, ReportBasis};

use crate::support::TestSystem;
use crate::user_output::{tasknet, texts};

fn ymd(y: i32, m: u32, d: u32) -> chrono::NaiveDate {
    chrono::NaiveDate::from_ymd_opt(y, m, d).unwrap()
}

/// The small demo's per-unit counts of 2024-H1 as of 30 June, from the
/// generator (not from the services).
fn expected_by_unit() -> BTreeMap<String, [i64; 4]> {
    let units = tasknet_organisation::reference::reference_units().unwrap();
    let dataset = tasknet_demo::generate(&tasknet_demo::DemoSpec::small(), &units).unwrap();
    let period = tasknet_domain::DatePeriod::parse("2024-H1").unwrap();
    tasknet_demo::expected_breakdown(&dataset, &units, period, ymd(2024, 6, 30))
        .unwrap()
        .by_unit
        .into_iter()
        .map(|(unit, c)| {
            let n = |x: u64| i64::try_from(x).unwrap();
            (
                unit,
                [
                    n(c.completed_on_time),
                    n(c.completed_late),
                    n(c.open_within_deadline),
                    n(c.open_overdue),
                ],
            )
        })
        .collect()
}

async fn scorecards(
    system: &TestSystem,
    period: &str,
    as_of: chrono::NaiveDate,
    basis: ReportBasis,
) -> v1::UnitScorecardsResponse {
    system
        .reporting()
        .unit_scorecards(v1::UnitScorecardsRequest {
            period: Some(v1::Period {
                kind: Some(v1::period::Kind::Label(period.into())),
            }),
            as_of: Some(date_to_proto(as_of)),
            basis: basis as i32,
            group: RankingGroup::Unspecified as i32,
            min_cursor: 0,
        })
        .await
        .unwrap()
        .into_inner()
}

fn in_group(response: &v1::UnitScorecardsResponse, group: RankingGroup) -> Vec<&v1::UnitScorecard> {
    response
        .scorecards
        .iter()
        .filter(|card| card.group == group as i32)
        .collect()
}

fn run(system: &TestSystem, args: &[&str]) -> String {
    let output = tasknet(system, args);
    let (stdout, stderr) = texts(&output);
    assert!(output.status.success(), "tasknet {args:?}: {stderr}");
    stdout
}

async fn scorecards_rank_the_demo_offices_in_every_format(system: &TestSystem) {
    run(system, &["demo", "load", "--size", "small"]);
    let expected = expected_by_unit();

    let h1 = scorecards(
        system,
        "2024-H1",
        ymd(2024, 6, 30),
        ReportBasis::HistoricalStructure,
    )
    .await;
    let offices = in_group(&h1, RankingGroup::ProvincialOffices);
    assert_eq!(offices.len(), 63);
    assert!(!in_group(&h1, RankingGroup::CentralUnits).is_empty());
    for card in &h1.scorecards {
        let unit = card.unit.as_ref().unwrap();
        let counts = card.current.as_ref().unwrap().counts.unwrap();
        let shown = [
            counts.completed_on_time,
            counts.completed_late,
            counts.open_within_deadline,
            counts.open_overdue,
        ];
        assert_eq!(
            shown,
            expected.get(&unit.id).copied().unwrap_or_default(),
            "{}",
            unit.code
        );
        assert_eq!(card.rank == 0, counts.total == 0, "{}", unit.code);
    }
    let ranks: Vec<i32> = offices.iter().map(|c| c.rank).filter(|r| *r > 0).collect();
    assert_eq!(
        ranks,
        (1..=i32::try_from(ranks.len()).unwrap()).collect::<Vec<_>>()
    );
    // Ranked by score, highest first.
    let scores: Vec<f64> = offices
        .iter()
        .filter_map(|c| c.current.as_ref().and_then(|f| f.score))
        .collect();
    assert!(scores.windows(2).all(|w| w[0] >= w[1]), "{scores:?}");

    let h2 = scorecards(
        system,
        "2025-H2",
        ymd(2025, 12, 31),
        ReportBasis::CurrentStructure,
    )
    .await;
    assert_eq!(in_group(&h2, RankingGroup::ProvincialOffices).len(), 34);

    // The command, in each format, says what the RPC says.
    let base = [
        "report",
        "scorecard",
        "--period",
        "2024-H1",
        "--as-of",
        "2024-06-30",
        "--basis",
        "historical",
    ];
    let with = |format: &str| {
        let mut args = base.to_vec();
        args.extend(["--format", format]);
        run(system, &args)
    };
    let json: serde_json::Value = serde_json::from_str(&with("json")).unwrap();
    let from_json: Vec<(String, i64)> = json["scorecards"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["unit_id"].as_str().unwrap().to_owned(),
                c["rank"].as_i64().unwrap(),
            )
        })
        .collect();
    let from_rpc: Vec<(String, i64)> = h1
        .scorecards
        .iter()
        .map(|c| (c.unit.as_ref().unwrap().id.clone(), i64::from(c.rank)))
        .collect();
    assert_eq!(from_json, from_rpc);
    assert_eq!(json["weights"]["completed_late"], 0.5);

    let csv = with("csv");
    let mut lines = csv.lines();
    assert!(
        lines
            .next()
            .unwrap()
            .starts_with("group,rank,unit_id,code,")
    );
    assert_eq!(lines.count(), h1.scorecards.len());

    let sdmx = with("sdmx");
    assert!(sdmx.starts_with("STRUCTURE,STRUCTURE_ID,ACTION,UNIT,RANKING_GROUP,INDICATOR,"));
    let rank_rows = sdmx
        .lines()
        .filter(|l| l.contains(",RANK,2024-S1,"))
        .count();
    let ranked = h1.scorecards.iter().filter(|c| c.rank > 0).count();
    assert_eq!(rank_rows, ranked);
    let first = &offices[0];
    let first_row = format!(
        "dataflow,VN_STAT:DF_TASK_SCORECARDS(1.0),I,{},PSO,RANK,2024-S1,1,RANK,HIS,",
        first.unit.as_ref().unwrap().code
    );
    assert!(sdmx.contains(&first_row), "{first_row} missing");

    let table = with("table");
    assert!(
        table.contains("Cục Thống kê tỉnh / Provincial offices"),
        "{table}"
    );
    assert!(
        table.contains(&first.unit.as_ref().unwrap().name_vi),
        "{table}"
    );

    // A unit's trajectory, by code, against the RPC.
    let trajectory = run(
        system,
        &[
            "report",
            "trajectory",
            "--unit",
            "01",
            "--period",
            "2024-H1",
            "--as-of",
            "2024-05-31",
            "--format",
            "json",
        ],
    );
    let trajectory: serde_json::Value = serde_json::from_str(&trajectory).unwrap();
    let points = trajectory["points"].as_array().unwrap();
    assert_eq!(points.len(), 182);
    let hanoi = h1
        .scorecards
        .iter()
        .find(|c| c.unit.as_ref().unwrap().code == "01")
        .unwrap();
    let answer = system
        .reporting()
        .get_trajectory(v1::GetTrajectoryRequest {
            subject: Some(v1::get_trajectory_request::Subject::UnitId(
                hanoi.unit.as_ref().unwrap().id.clone(),
            )),
            period: Some(v1::Period {
                kind: Some(v1::period::Kind::Label("2024-H1".into())),
            }),
            as_of: Some(date_to_proto(ymd(2024, 5, 31))),
            basis: 0,
            min_cursor: 0,
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(trajectory["total"].as_i64(), Some(answer.total));
    for (printed, point) in points.iter().zip(&answer.points) {
        assert_eq!(printed["expected"].as_i64(), Some(point.expected));
        assert_eq!(printed["actual"].as_i64(), point.actual);
    }
    assert!(points[151]["actual"].is_i64() && points[152]["actual"].is_null());
    let csv = run(
        system,
        &[
            "report",
            "trajectory",
            "--unit",
            "01",
            "--period",
            "2024-H1",
            "--as-of",
            "2024-05-31",
            "--format",
            "csv",
        ],
    );
    assert_eq!(csv.lines().count(), 1 + 182);
    assert_eq!(csv.lines().next(), Some("date,assigned,expected,actual"));

    // Bad input: the field at fault is named, and the command fails.
    for (args, field) in [
        (vec!["report", "scorecard", "--period", "2024-H9"], "period"),
        (
            vec![
                "report",
                "scorecard",
                "--period",
                "2024-H1",
                "--as-of",
                "2023-12-31",
            ],
            "as_of",
        ),
        (
            vec![
                "report",
                "trajectory",
                "--plan",
                "not-a-plan",
                "--as-of",
                "2024-06-30",
            ],
            "plan_id",
        ),
    ] {
        let output = tasknet(system, &args);
        let (_, stderr) = texts(&output);
        assert!(!output.status.success(), "{args:?}");
        assert!(
            stderr.contains("InvalidArgument") || stderr.contains("invalid argument"),
            "{args:?}: {stderr}"
        );
        assert!(stderr.contains(&format!("{field}:")), "{args:?}: {stderr}");
    }
}

crate::system_tests!(scorecards_rank_the_demo_offices_in_every_format);
