//! The loader against the real services, served together on one ephemeral
//! port as `tasknet up` serves them, on SQLite and on PostgreSQL: after
//! loading `DemoSpec::small()`, the reporting service's figures equal the
//! independent count exactly, and a second load changes nothing.
//!
//! `full_seed_load_*` (ignored; run with `--ignored --nocapture`, in
//! release mode) loads the full seed data set and prints how long it took.

use std::time::{Duration, Instant};

// The allocator the `tasknet` binary runs with, so load times match it.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use chrono::NaiveDate;
use tasknet_demo::{DemoSpec, ExpectedCounts, LoadStage, LoadSummary};
use tasknet_domain::DatePeriod;
use tasknet_proto::v1::{self, GroupBy, reporting_service_client::ReportingServiceClient};
use tasknet_server::{TracedChannel, connect_lazy};
use tasknet_storage::Backend;
use tasknet_system::testing::AllInOne;

/// The three services behind one endpoint, each with a database of its own.
struct System(AllInOne);

impl System {
    /// `None` when the back end is PostgreSQL and no test server is configured.
    async fn start(backend: Backend, test_name: &str) -> Option<Self> {
        AllInOne::start(backend, test_name).await.map(Self)
    }

    fn endpoint(&self) -> &str {
        self.0.endpoint()
    }

    fn reporting(&self) -> ReportingServiceClient<TracedChannel> {
        ReportingServiceClient::new(connect_lazy(self.endpoint()).unwrap())
    }

    async fn stop(self) {
        self.0.stop().await;
    }
}

fn ymd(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap()
}

fn date(d: NaiveDate) -> Option<v1::Date> {
    Some(tasknet_domain::date_to_proto(d))
}

async fn breakdown(
    system: &System,
    group_by: GroupBy,
    min_cursor: i64,
) -> v1::StatusBreakdownResponse {
    let mut request = tasknet_proto::tonic::Request::new(v1::StatusBreakdownRequest {
        basis: v1::ReportBasis::Unspecified as i32,
        period: Some(v1::Period {
            kind: Some(v1::period::Kind::Label("2024-H1".into())),
        }),
        as_of: date(ymd(2024, 6, 30)),
        group_by: group_by as i32,
        min_cursor,
    });
    request.set_timeout(Duration::from_secs(120));
    system
        .reporting()
        .status_breakdown(request)
        .await
        .unwrap()
        .into_inner()
}

/// The key the reporting service gives a row, for an expected group.
fn row_key(group_by: GroupBy, key: &str) -> String {
    match group_by {
        GroupBy::Region if key.is_empty() => "none".to_owned(),
        _ => key.to_owned(),
    }
}

fn expected_groups(group_by: GroupBy, counts: &ExpectedCounts) -> Vec<(String, v1::StatusCounts)> {
    let rows: Vec<(String, tasknet_demo::ClassCounts)> = match group_by {
        GroupBy::UnitCategory => counts
            .by_category
            .iter()
            .map(|(c, n)| (c.as_str_name().to_owned(), *n))
            .collect(),
        GroupBy::Region => counts
            .by_region
            .iter()
            .map(|(k, n)| (k.clone(), *n))
            .collect(),
        GroupBy::Unit => counts
            .by_unit
            .iter()
            .map(|(k, n)| (k.clone(), *n))
            .collect(),
        _ => Vec::new(),
    };
    rows.into_iter()
        .map(|(key, n)| (row_key(group_by, &key), n.to_proto()))
        .collect()
}

/// Every group of the answer equals the independent count, current and previous year.
async fn assert_reports_match(system: &System, summary: &LoadSummary) {
    let current = summary
        .expected_breakdown(DatePeriod::parse("2024-H1").unwrap(), ymd(2024, 6, 30))
        .unwrap();
    let previous = summary
        .expected_breakdown(DatePeriod::parse("2023-H1").unwrap(), ymd(2023, 6, 30))
        .unwrap();
    for group_by in [
        GroupBy::None,
        GroupBy::UnitCategory,
        GroupBy::Region,
        GroupBy::Unit,
    ] {
        let answer = breakdown(system, group_by, summary.last_cursor).await;
        let national = answer.national.unwrap();
        assert_eq!(national.current, Some(current.national.to_proto()));
        assert_eq!(national.previous, Some(previous.national.to_proto()));
        let now = expected_groups(group_by, &current);
        let before = expected_groups(group_by, &previous);
        let find = |rows: &[(String, v1::StatusCounts)], key: &str| {
            rows.iter()
                .find(|(k, _)| k == key)
                .map(|(_, n)| *n)
                .unwrap_or_default()
        };
        for row in &answer.rows {
            assert_eq!(
                row.current,
                Some(find(&now, &row.group_key)),
                "{group_by:?} {}",
                row.group_key
            );
            assert_eq!(
                row.previous,
                Some(find(&before, &row.group_key)),
                "{group_by:?} {}",
                row.group_key
            );
        }
        for (key, _) in now.iter().chain(&before) {
            assert!(
                answer.rows.iter().any(|r| &r.group_key == key),
                "{group_by:?}: no row {key}"
            );
        }
    }
}

async fn assert_plans_match(system: &System, summary: &LoadSummary) {
    let as_of = ymd(2024, 6, 30);
    let expected = summary.expected_plan_progress(as_of).unwrap();
    let mut reporting = system.reporting();
    for plan in &expected {
        let answer = reporting
            .plan_progress(v1::PlanProgressRequest {
                selector: Some(v1::plan_progress_request::Selector::PlanId(
                    plan.plan_id.clone(),
                )),
                as_of: date(as_of),
                min_cursor: summary.last_cursor,
            })
            .await
            .unwrap()
            .into_inner();
        let row = &answer.plans[0];
        assert_eq!(row.plan.as_ref().unwrap().name, plan.name);
        assert_eq!(
            (row.done, row.total),
            (plan.done as i64, plan.total as i64),
            "{}",
            plan.name
        );
    }
    let done: Vec<(u64, u64)> = expected.iter().map(|p| (p.done, p.total)).collect();
    assert_eq!(done, [(4, 6), (2, 11), (20, 40)]);
}

async fn load_small_and_compare(backend: Backend, name: &str) {
    let Some(system) = System::start(backend, name).await else {
        return;
    };
    let spec = DemoSpec::small();
    let seen = std::sync::Mutex::new(Vec::new());
    let summary = tasknet_demo::load(system.endpoint(), &Default::default(), &spec, |p| {
        seen.lock().unwrap().push(p)
    })
    .await
    .unwrap();
    println!("{backend:?}: small demo data set: {summary}");
    assert_eq!(summary.tasks() as u64, spec.task_count());
    assert_eq!(summary.duplicates, 0);
    assert!(summary.last_cursor >= (summary.plans() + summary.tasks() + summary.updates()) as i64);
    let seen = seen.into_inner().unwrap();
    let last = seen.last().unwrap();
    assert_eq!(last.stage, LoadStage::Tasks);
    assert_eq!(last.acknowledged, summary.dataset.mutation_count() as u64);
    assert_eq!(last.total_mutations, last.acknowledged);

    assert_reports_match(&system, &summary).await;
    assert_plans_match(&system, &summary).await;

    // A second load (as after a crash) is acknowledged as duplicates and changes nothing.
    let again = tasknet_demo::load(system.endpoint(), &Default::default(), &spec, |_| {})
        .await
        .unwrap();
    assert_eq!(again.duplicates, summary.dataset.mutation_count() as u64);
    assert_eq!(again.dataset.encode(), summary.dataset.encode());
    assert_reports_match(&system, &summary).await;
    system.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn small_data_set_loads_and_reports_match_on_sqlite() {
    load_small_and_compare(Backend::Sqlite, "demo::small_sqlite").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn small_data_set_loads_and_reports_match_on_postgres() {
    load_small_and_compare(Backend::Postgres, "demo::small_postgres").await;
}

/// Loads the full seed data set and prints the time it took, then checks the
/// figures the seed publishes.
async fn full_seed_load(backend: Backend, name: &str) {
    let Some(system) = System::start(backend, name).await else {
        return;
    };
    let started = Instant::now();
    let summary = tasknet_demo::load(
        system.endpoint(),
        &Default::default(),
        &DemoSpec::seed_report(),
        |_| {},
    )
    .await
    .unwrap();
    println!("{backend:?}: full seed data set: {summary}");
    let answer = breakdown(&system, GroupBy::UnitCategory, summary.last_cursor).await;
    println!(
        "{backend:?}: reporting caught up {:.1} s after the load began",
        started.elapsed().as_secs_f64()
    );
    let national = answer.national.unwrap().current.unwrap();
    assert_eq!(
        [
            national.total,
            national.completed_on_time,
            national.completed_late,
            national.open_within_deadline,
            national.open_overdue
        ],
        [112_587, 99_010, 9_503, 612, 3_462]
    );
    assert_reports_match(&system, &summary).await;
    system.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "full size: run in release mode with --ignored --nocapture to measure"]
async fn full_seed_load_on_sqlite() {
    full_seed_load(Backend::Sqlite, "demo::full_sqlite").await;
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "full size: run in release mode with --ignored --nocapture to measure"]
async fn full_seed_load_on_postgres() {
    full_seed_load(Backend::Postgres, "demo::full_postgres").await;
}
