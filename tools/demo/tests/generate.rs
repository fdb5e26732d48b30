//! The generator against the seed's figures: every target of
//! `DemoSpec::seed_report()` and `DemoSpec::small()` met exactly, counted
//! independently by `expected_breakdown`; determinism; the spread of tasks
//! over units; and the as-of cases the data set is meant to exercise.
// A test crate: a panic is how a test reports failure.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{HashMap, HashSet};
use std::sync::OnceLock;

use chrono::{Datelike, NaiveDate};
use tasknet_demo::{
    ClassCounts, DemoDataset, DemoError, DemoSpec, apportion, expected_breakdown,
    expected_plan_progress, generate, province_populations,
};
use tasknet_domain::{DatePeriod, timestamp_from_proto, vietnam_date};
use tasknet_organisation::reference::reference_units;
use tasknet_proto::v1::{self, UnitCategory, update_task_request::Change};

fn units() -> &'static [v1::Unit] {
    static UNITS: OnceLock<Vec<v1::Unit>> = OnceLock::new();
    UNITS.get_or_init(|| reference_units().unwrap())
}

fn seed_dataset() -> &'static DemoDataset {
    static DATASET: OnceLock<DemoDataset> = OnceLock::new();
    DATASET.get_or_init(|| generate(&DemoSpec::seed_report(), units()).unwrap())
}

fn small_dataset() -> &'static DemoDataset {
    static DATASET: OnceLock<DemoDataset> = OnceLock::new();
    DATASET.get_or_init(|| generate(&DemoSpec::small(), units()).unwrap())
}

fn ymd(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap()
}

fn h1(year: i32) -> DatePeriod {
    DatePeriod::parse(&format!("{year}-H1")).unwrap()
}

/// Every category and class of every year, and the plans, exactly as specified.
fn assert_meets_spec(spec: &DemoSpec, dataset: &DemoDataset) {
    assert_eq!(dataset.tasks.len() as u64, spec.task_count());
    for year in &spec.years {
        let counts = expected_breakdown(dataset, units(), year.period(), year.as_of()).unwrap();
        for category in [
            UnitCategory::CentralDepartment,
            UnitCategory::PublicServiceUnit,
            UnitCategory::ProvincialOffice,
        ] {
            assert_eq!(
                counts
                    .by_category
                    .get(&category)
                    .copied()
                    .unwrap_or_default(),
                year.category(category),
                "{} {category:?}",
                year.year
            );
        }
        assert_eq!(counts.national, year.national(), "{}", year.year);
        let by_region: ClassCounts = counts
            .by_region
            .values()
            .fold(ClassCounts::default(), |a, b| a.plus(b));
        let by_unit: ClassCounts = counts
            .by_unit
            .values()
            .fold(ClassCounts::default(), |a, b| a.plus(b));
        assert_eq!(by_region, counts.national);
        assert_eq!(by_unit, counts.national);
    }
    let as_of = ymd(2024, 6, 30);
    let progress = expected_plan_progress(dataset, as_of).unwrap();
    let got: Vec<(String, v1::PlanKind, u64, u64)> = progress
        .iter()
        .map(|p| (p.name.clone(), p.kind, p.done, p.total))
        .collect();
    let want: Vec<(String, v1::PlanKind, u64, u64)> = spec
        .plans
        .iter()
        .map(|p| (p.name.clone(), p.kind, p.done, p.total))
        .collect();
    assert_eq!(got, want);
}

#[test]
fn the_seed_report_figures_are_met_exactly() {
    let spec = DemoSpec::seed_report();
    let dataset = seed_dataset();
    assert_meets_spec(&spec, dataset);

    let now = expected_breakdown(dataset, units(), h1(2024), ymd(2024, 6, 30)).unwrap();
    assert_eq!(now.national, ClassCounts::new(99_010, 9_503, 612, 3_462));
    let central = &now.by_category[&UnitCategory::CentralDepartment];
    let public = &now.by_category[&UnitCategory::PublicServiceUnit];
    let provincial = &now.by_category[&UnitCategory::ProvincialOffice];
    assert_eq!(
        (
            central.total(),
            public.total(),
            provincial.total(),
            now.national.total()
        ),
        (2_886, 251, 109_450, 112_587)
    );
    let before = expected_breakdown(dataset, units(), h1(2023), ymd(2023, 6, 30)).unwrap();
    let totals = |c: UnitCategory| before.by_category[&c].total();
    assert_eq!(
        (
            totals(UnitCategory::CentralDepartment),
            totals(UnitCategory::PublicServiceUnit),
            totals(UnitCategory::ProvincialOffice),
            before.national.total()
        ),
        (2_591, 360, 106_700, 109_651)
    );

    let progress = expected_plan_progress(dataset, ymd(2024, 6, 30)).unwrap();
    let done: Vec<(u64, u64)> = progress.iter().map(|p| (p.done, p.total)).collect();
    assert_eq!(done, [(4, 6), (2, 11), (479, 1_125)]);
}

/// The one figure that differs from the source: the total change prints
/// +2.67 % (truncated), where the source prints +2.68 %.
#[test]
fn the_total_change_is_the_one_figure_that_differs() {
    let dataset = seed_dataset();
    let now = expected_breakdown(dataset, units(), h1(2024), ymd(2024, 6, 30)).unwrap();
    let before = expected_breakdown(dataset, units(), h1(2023), ymd(2023, 6, 30)).unwrap();
    let change = |now: u64, before: u64| (now as i64 - before as i64) * 10_000 / before as i64;
    let category = |counts: &tasknet_demo::ExpectedCounts, c| counts.by_category[&c].total();
    for (c, hundredths) in [
        (UnitCategory::CentralDepartment, 1_138),
        (UnitCategory::PublicServiceUnit, -3_027),
        (UnitCategory::ProvincialOffice, 257),
    ] {
        assert_eq!(
            change(category(&now, c), category(&before, c)),
            hundredths,
            "{c:?}"
        );
    }
    assert_eq!(change(now.national.total(), before.national.total()), 267);
    assert!(tasknet_demo::SEED_NOTE_EN.contains("+2.68%"));
}

#[test]
fn the_small_spec_is_met_exactly() {
    assert_meets_spec(&DemoSpec::small(), small_dataset());
    let total = small_dataset().tasks.len();
    assert!((5_000..8_000).contains(&total), "{total}");
}

#[test]
fn the_same_spec_and_units_give_the_same_bytes() {
    let spec = DemoSpec::small();
    let first = generate(&spec, units()).unwrap();
    let mut shuffled = units().to_vec();
    shuffled.reverse();
    let second = generate(&spec, &shuffled).unwrap();
    assert_eq!(first, second);
    assert_eq!(first.encode(), second.encode());
    assert_eq!(first.encode(), small_dataset().encode());

    let other = generate(
        &DemoSpec {
            seed: 1,
            ..DemoSpec::small()
        },
        units(),
    )
    .unwrap();
    assert_ne!(first.encode(), other.encode());
}

#[test]
fn plan_tasks_are_central_with_the_seed_titles() {
    let dataset = seed_dataset();
    let central: HashSet<&str> = units()
        .iter()
        .filter(|u| u.category == UnitCategory::CentralDepartment as i32)
        .map(|u| u.id.as_str())
        .collect();
    let key_plan = &dataset.plans[0].plan_id;
    let mut key_titles = Vec::new();
    for task in &dataset.tasks {
        let new = task.create.task.as_ref().unwrap();
        if new.plan_ids.is_empty() {
            continue;
        }
        assert!(central.contains(new.assignee_unit_id.as_str()));
        let assigned = tasknet_domain::date_from_proto("", new.assigned_date.as_ref()).unwrap();
        assert!(h1(2024).contains(assigned));
        if new.plan_ids.contains(key_plan) {
            key_titles.push(new.title.clone());
        }
    }
    assert_eq!(key_titles.len(), 6);
    for title in [
        "Quyết định về Tổng điều tra nông thôn, nông nghiệp năm 2025",
        "Nghị định sửa đổi, bổ sung quy định về thống kê",
        "Đề án vị trí việc làm",
        "Điều tra dân số và nhà ở giữa kỳ năm 2024",
    ] {
        assert!(key_titles.iter().any(|t| t == title), "{title}");
    }
    let plan = dataset.plans[0].plan.as_ref().unwrap();
    let headquarters = units().iter().find(|u| u.code == "TCTK").unwrap();
    assert_eq!(plan.owner_unit_id, headquarters.id);
    assert_eq!(plan.kind, v1::PlanKind::KeyTasks as i32);
}

#[test]
fn larger_provinces_get_more_tasks_and_totals_are_apportioned_exactly() {
    let dataset = seed_dataset();
    let counts = expected_breakdown(dataset, units(), h1(2024), ymd(2024, 6, 30)).unwrap();
    let by_code: HashMap<&str, u64> = units()
        .iter()
        .filter(|u| u.category == UnitCategory::ProvincialOffice as i32)
        .map(|u| {
            (
                u.code.as_str(),
                counts.by_unit.get(&u.id).map_or(0, |c| c.total()),
            )
        })
        .collect();
    assert_eq!(by_code.len(), 63);
    assert!(by_code["79"] > by_code["01"] && by_code["01"] > by_code["38"]);
    assert!(by_code["38"] > by_code["06"]);
    // Exactly the largest-remainder split of the weights, in code order.
    let populations = province_populations();
    let mut codes: Vec<&str> = by_code.keys().copied().collect();
    codes.sort();
    let sum: u64 = populations.values().sum();
    let weights: Vec<u64> = codes.iter().map(|c| sum + 63 * populations[c]).collect();
    let shares = apportion(109_450, &weights);
    for (code, share) in codes.iter().zip(shares) {
        assert_eq!(by_code[code], share, "{code}");
    }
    // Half equal, half by population: the smallest gets more than half the
    // mean, the largest (TP.HCM, 9.5 % of the people) under four times it.
    let mean = 109_450 / 63;
    assert!(by_code["06"] > mean / 2 && by_code["79"] < mean * 4);
    // Every central department and public service unit has tasks.
    for unit in units() {
        if unit.category == UnitCategory::CentralDepartment as i32
            || unit.category == UnitCategory::PublicServiceUnit as i32
        {
            assert!(
                counts.by_unit.get(&unit.id).is_some_and(|c| c.total() > 0),
                "{}",
                unit.code
            );
        }
    }
}

#[test]
fn ids_and_times_are_well_formed() {
    let dataset = small_dataset();
    let mut ids = HashSet::new();
    for plan in &dataset.plans {
        assert!(ids.insert(plan.plan_id.clone()));
    }
    for task in &dataset.tasks {
        let task_id = uuid::Uuid::parse_str(&task.create.task_id).unwrap();
        assert_eq!(task_id.get_version_num(), 7);
        assert!(ids.insert(task.create.task_id.clone()));
        assert!(ids.insert(task.create.update_id.clone()));
        let created = timestamp_from_proto("", task.create.effective_time.as_ref()).unwrap();
        let (seconds, _) = task_id.get_timestamp().unwrap().to_unix();
        assert_eq!(seconds as i64, created.timestamp());
        let new = task.create.task.as_ref().unwrap();
        let assigned = tasknet_domain::date_from_proto("", new.assigned_date.as_ref()).unwrap();
        assert_eq!(vietnam_date(created), assigned);
        let local_hour = (created.timestamp() + 7 * 3600).rem_euclid(86_400) / 3600;
        assert!((8..17).contains(&local_hour));
        let mut previous = created;
        for update in &task.updates {
            assert_eq!(update.task_id, task.create.task_id);
            assert!(ids.insert(update.update_id.clone()));
            let at = timestamp_from_proto("", update.effective_time.as_ref()).unwrap();
            assert!(at > previous, "{}", task.create.task_id);
            previous = at;
        }
    }
}

/// Counts the tasks whose updates show each as-of case.
#[test]
fn the_as_of_cases_are_all_present() {
    let dataset = seed_dataset();
    let mut completed_after = 0;
    let mut extended_after = 0;
    let mut extended_before = 0;
    let mut reopened_before = 0;
    let mut reopened_after = 0;
    let mut notes = 0;
    for task in &dataset.tasks {
        let new = task.create.task.as_ref().unwrap();
        let assigned = tasknet_domain::date_from_proto("", new.assigned_date.as_ref()).unwrap();
        let as_of = ymd(assigned.year(), 6, 30);
        for update in &task.updates {
            let at = timestamp_from_proto("", update.effective_time.as_ref()).unwrap();
            let after = vietnam_date(at) > as_of;
            match update.change.as_ref().unwrap() {
                Change::Complete(_) if after => completed_after += 1,
                Change::DeadlineChange(_) if after => extended_after += 1,
                Change::DeadlineChange(_) => extended_before += 1,
                Change::Reopen(_) if after => reopened_after += 1,
                Change::Reopen(_) => reopened_before += 1,
                Change::Note(_) => notes += 1,
                Change::Complete(_) => {}
            }
        }
    }
    let tasks = dataset.tasks.len();
    println!("{tasks} tasks, {} mutations", dataset.mutation_count());
    for (name, count) in [
        ("completed after 30/6", completed_after),
        ("extended after 30/6", extended_after),
        ("extended before 30/6", extended_before),
        ("reopened before 30/6", reopened_before),
        ("reopened after 30/6", reopened_after),
        ("progress notes", notes),
    ] {
        println!("{name}: {count}");
        assert!(count > 100, "{name}: {count}");
        assert!(count < tasks / 4, "{name}: {count} of {tasks}");
    }
    // The as-of date matters: the same tasks split differently at year end.
    let mid = expected_breakdown(dataset, units(), h1(2024), ymd(2024, 6, 30)).unwrap();
    let later = expected_breakdown(dataset, units(), h1(2024), ymd(2024, 12, 31)).unwrap();
    assert_eq!(mid.national.total(), later.national.total());
    assert!(later.national.completed() > mid.national.completed());
    assert!(later.national.open() < mid.national.open());
}

#[test]
fn assigning_units_follow_the_hierarchy() {
    let dataset = seed_dataset();
    let headquarters = &units().iter().find(|u| u.code == "TCTK").unwrap().id;
    let category: HashMap<&str, i32> = units()
        .iter()
        .map(|u| (u.id.as_str(), u.category))
        .collect();
    let (mut provincial, mut provincial_from_hq) = (0, 0);
    for task in &dataset.tasks {
        let new = task.create.task.as_ref().unwrap();
        let assignee_category = category[new.assignee_unit_id.as_str()];
        if assignee_category == UnitCategory::ProvincialOffice as i32 {
            provincial += 1;
            if &new.assigning_unit_id == headquarters {
                provincial_from_hq += 1;
            } else {
                assert_eq!(new.assigning_unit_id, new.assignee_unit_id);
            }
        } else {
            assert_eq!(&new.assigning_unit_id, headquarters);
        }
    }
    let percent = provincial_from_hq * 100 / provincial;
    assert!((28..=32).contains(&percent), "{percent}");
}

#[test]
fn impossible_specs_and_unit_lists_are_refused() {
    let mut spec = DemoSpec::small();
    spec.plans[2].total = 1_000;
    assert!(matches!(
        generate(&spec, units()),
        Err(DemoError::InvalidSpec(_))
    ));

    let without_hq: Vec<v1::Unit> = units()
        .iter()
        .filter(|u| u.code != "TCTK")
        .cloned()
        .collect();
    assert!(matches!(
        generate(&DemoSpec::small(), &without_hq),
        Err(DemoError::NoHeadquarters { .. })
    ));

    let mut unknown = units().to_vec();
    let office = unknown
        .iter_mut()
        .find(|u| u.category == UnitCategory::ProvincialOffice as i32)
        .unwrap();
    office.code = "99".into();
    assert!(matches!(
        generate(&DemoSpec::small(), &unknown),
        Err(DemoError::UnknownProvince { code }) if code == "99"
    ));

    // Units not valid over the period are not used: none left for 2023.
    let mut late = units().to_vec();
    for unit in late
        .iter_mut()
        .filter(|u| u.category == UnitCategory::PublicServiceUnit as i32)
    {
        unit.valid_from = Some(tasknet_domain::date_to_proto(ymd(2023, 3, 1)));
    }
    assert!(matches!(
        generate(&DemoSpec::small(), &late),
        Err(DemoError::NoUnits {
            category: UnitCategory::PublicServiceUnit,
            ..
        })
    ));
}
