//! The renderer reproduces the seed report's sentences from the seed's figures.

use chrono::NaiveDate;
use tasknet_domain::DatePeriod;
use tasknet_proto::v1::{PlanKind, UnitCategory};
use tasknet_render::{
    Basis, CategoryFigures, Language, PlanFigures, PlanKindFigures, Rounding, StatusFigures,
    SummaryFigures, narrative, sdmx_csv,
};

fn total(total: i64) -> StatusFigures {
    StatusFigures {
        total,
        ..StatusFigures::default()
    }
}

fn kind_total(kind: PlanKind, done: i64, total: i64) -> PlanKindFigures {
    PlanKindFigures {
        kind,
        plans: 1,
        done,
        total,
    }
}

/// The seed's figures, with the previous-year total the seed implies (109,649:
/// central 2,591 + public service 360 + provincial 106,698).
fn seed_figures() -> SummaryFigures {
    let period = DatePeriod::parse("2024-H1").unwrap();
    let year = DatePeriod::parse("2024").unwrap();
    SummaryFigures {
        period,
        as_of: NaiveDate::from_ymd_opt(2024, 6, 30).unwrap(),
        previous_period: period.previous_year(),
        previous_as_of: NaiveDate::from_ymd_opt(2023, 6, 30).unwrap(),
        national: StatusFigures {
            total: 112_587,
            completed_on_time: 99_010,
            completed_late: 9_503,
            open_within_deadline: 612,
            open_overdue: 3_462,
        },
        national_previous: total(109_649),
        categories: vec![
            CategoryFigures {
                category: UnitCategory::CentralDepartment,
                current: total(2_886),
                previous: total(2_591),
            },
            CategoryFigures {
                category: UnitCategory::PublicServiceUnit,
                current: total(251),
                previous: total(360),
            },
            CategoryFigures {
                category: UnitCategory::ProvincialOffice,
                current: total(109_450),
                previous: total(106_698),
            },
        ],
        plans: vec![
            PlanFigures {
                id: "keytasks".into(),
                kind: PlanKind::KeyTasks,
                name: "Nhiệm vụ trọng tâm".into(),
                period,
                central: true,
                done: 4,
                total: 6,
                done_titles: vec![],
            },
            PlanFigures {
                id: "legaldocuments".into(),
                kind: PlanKind::LegalDocuments,
                name: "VBQPPL".into(),
                period: year,
                central: true,
                done: 2,
                total: 11,
                done_titles: vec![],
            },
            PlanFigures {
                id: "annualworkplan".into(),
                kind: PlanKind::AnnualWorkPlan,
                name: "Kế hoạch".into(),
                period: year,
                central: true,
                done: 479,
                total: 1125,
                done_titles: vec![],
            },
        ],
        plan_kinds: vec![
            kind_total(PlanKind::KeyTasks, 4, 6),
            kind_total(PlanKind::LegalDocuments, 2, 11),
            kind_total(PlanKind::AnnualWorkPlan, 479, 1125),
        ],
        system_name: "TaskGov".into(),
        notes: vec![],
        basis: Basis::CurrentStructure,
    }
}

#[test]
fn vietnamese_sentences_match_the_seed_but_for_the_total_change() {
    let text = narrative(&seed_figures(), Language::Vietnamese, Rounding::Truncate).join("\n");
    for sentence in [
        "TCTK đã hoàn thành 4/6 nhiệm vụ trọng tâm trong nửa đầu năm 2024",
        "Sáu tháng đầu năm, Tổng cục thống kê đã hoàn thành 2/11 nhiệm vụ được giao thuộc Chương trình công tác và kế hoạch xây dựng văn bản quy phạm pháp luật năm 2024; Hoàn thành 479/1125 tổng số công việc đạt 42,5% thuộc kế hoạch công tác năm 2024 của cơ quan Thống kê trung ương.",
        // The seed prints "tăng 2,68%": no previous-year total matches it and the categories at once.
        "Tính đến hết ngày 30/6/2024, đã có 112.587 công việc được giao thông qua phần mềm quản lý công việc TaskGov (tăng 2,67% so với cùng kỳ năm 2023) trong đó: Đơn vị trực thuộc TCTK được giao 2.886 công việc (tăng 11,38%); Các đơn vị sự nghiệp công lập với 251 công việc (giảm 30,27%); Cục Thống kê các tỉnh, thành phố trực thuộc trung ương có 109.450 đầu việc được giao (tăng 2,57%).",
        "Số công việc hoàn thành đạt mức 87,94%, hoàn thành trễ hạn là 8,44%, chưa hoàn thành nhưng còn thời hạn là 0,54% và chưa hoàn thành và quá thời hạn là 3,07%.",
    ] {
        assert!(text.contains(sentence), "missing:\n{sentence}\nin:\n{text}");
    }
}

#[test]
fn english_uses_english_number_format() {
    let text = narrative(&seed_figures(), Language::English, Rounding::Truncate).join("\n");
    assert!(text.contains("112,587 tasks"), "{text}");
    assert!(text.contains("(down 30.27%)"), "{text}");
    assert!(
        text.contains("87.94% of tasks were completed on time"),
        "{text}"
    );
    assert!(text.contains("479 of 1125 tasks"), "{text}");
    assert!(text.contains("(42.5%)"), "{text}");
    assert!(
        text.contains("stated on the structure of units in force on 30 June 2024"),
        "the basis is stated: {text}"
    );
}

#[test]
fn half_even_rounding_is_a_setting() {
    let text = narrative(&seed_figures(), Language::Vietnamese, Rounding::HalfEven).join("\n");
    assert!(text.contains("đạt 42,6%"), "{text}");
    assert!(text.contains("(giảm 30,28%)"), "{text}");
}

#[test]
fn sdmx_csv_has_one_observation_per_row() {
    let csv = sdmx_csv(&seed_figures(), Rounding::Truncate).unwrap();
    let mut lines = csv.lines();
    assert_eq!(
        lines.next().unwrap(),
        "STRUCTURE,STRUCTURE_ID,ACTION,REF_AREA,UNIT_CATEGORY,PLAN,TASK_STATUS,TRANSFORMATION,TIME_PERIOD,OBS_VALUE,UNIT_MEASURE,COMPARISON_BASIS"
    );
    let rows: Vec<&str> = lines.collect();
    assert!(
        rows.contains(&"dataflow,VN_STAT:DF_TASKS(1.0),I,VN,_T,_Z,_T,N,2024-S1,112587,TASKS,CUR")
    );
    assert!(
        rows.contains(&"dataflow,VN_STAT:DF_TASKS(1.0),I,VN,_T,_Z,_T,N,2023-S1,109649,TASKS,CUR")
    );
    assert!(
        rows.contains(&"dataflow,VN_STAT:DF_TASKS(1.0),I,VN,PSU,_Z,_T,G1,2024-S1,-30.27,PT,CUR")
    );
    assert!(rows.contains(&"dataflow,VN_STAT:DF_TASKS(1.0),I,VN,_T,_Z,CT,SH,2024-S1,87.94,PT,CUR"));
    assert!(rows.contains(&"dataflow,VN_STAT:DF_TASKS(1.0),I,VN,_T,AWP,C,SH,2024-S1,42.5,PT,CUR"));
    assert!(rows.iter().all(|row| row.split(',').count() == 12), "{csv}");
    assert!(
        rows.iter().all(|row| row.ends_with(",CUR")),
        "the basis is stated: {csv}"
    );
}

#[test]
fn each_sentence_quotes_the_plan_it_is_about_not_a_sum() {
    let mut figures = seed_figures();
    let year = DatePeriod::parse("2024").unwrap();
    let q2 = DatePeriod::parse("2024-Q2").unwrap();
    let extra = |id: &str, kind, period, central, done, total| PlanFigures {
        id: id.into(),
        kind,
        name: format!("plan {id}"),
        period,
        central,
        done,
        total,
        done_titles: vec![],
    };
    // A year-long and a quarter's key-task plan beside the half-year's; a
    // department's annual plan beside the central agency's, listed first.
    figures
        .plans
        .insert(0, extra("k-year", PlanKind::KeyTasks, year, true, 9, 20));
    figures
        .plans
        .insert(0, extra("k-q2", PlanKind::KeyTasks, q2, true, 1, 3));
    figures.plans.insert(
        0,
        extra("a-dept", PlanKind::AnnualWorkPlan, year, false, 5, 50),
    );
    let text = narrative(&figures, Language::Vietnamese, Rounding::Truncate).join("\n");
    assert!(
        text.contains("TCTK đã hoàn thành 4/6 nhiệm vụ trọng tâm"),
        "{text}"
    );
    assert!(
        text.contains("Hoàn thành 479/1125 tổng số công việc"),
        "{text}"
    );
    let h1 = figures.period;
    let pick = |kind| tasknet_render::headline_plan(&figures.plans, kind, h1).map(|p| p.id.clone());
    assert_eq!(pick(PlanKind::KeyTasks).as_deref(), Some("keytasks"));
    assert_eq!(
        pick(PlanKind::AnnualWorkPlan).as_deref(),
        Some("annualworkplan")
    );
    // Without the half-year's plan, the one covering the half-year is next.
    figures.plans.retain(|p| p.id != "keytasks");
    let pick = tasknet_render::headline_plan(&figures.plans, PlanKind::KeyTasks, h1);
    assert_eq!(pick.map(|p| p.id.as_str()), Some("k-year"));
}
