//! The reports benchmark: nationwide `StatusBreakdown` with last-year
//! comparison over a bulk-loaded data set (1 M or 10 M tasks), asked of a
//! real reporting process over gRPC, against the naive SQL a dashboard would
//! run on a plain task table, in the same run; a sample of answers is
//! checked against the naive counts (a mismatch fails the run).

mod data;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use chrono::NaiveDate;
use sqlx::{AnyPool, Row};
use tasknet_domain::{date_from_proto, date_to_proto, date_to_storage};
use tasknet_proto::v1::reporting_service_client::ReportingServiceClient;
use tasknet_proto::v1::{self, GroupBy, UnitCategory};
use tasknet_server::{ClientOptions, TracedChannel};
use tasknet_storage::{Backend, Database, DatabaseOptions};

use crate::stats::Latencies;
use data::Unit;
use tasknet_system::ServiceKind;
use tasknet_system::testing::processes::{self, CREDENTIALS_DIR, LISTENING, read_token};

#[derive(Debug, clap::Args)]
pub struct ReportsArgs {
    /// Tasks in the data set.
    #[arg(long, default_value_t = 1_000_000)]
    pub tasks: u64,
    #[arg(long, default_value = "sqlite", value_parser = ["sqlite", "postgres"])]
    pub backend: String,
    /// Server URL for --backend postgres; the benchmark creates and drops its own databases.
    #[arg(long, default_value = "postgres://postgres@127.0.0.1:5432/postgres")]
    pub postgres_url: String,
    /// Repetitions of each question.
    #[arg(long, default_value_t = 30)]
    pub queries: usize,
    /// Where the SQLite files and credentials go (default: a temporary directory).
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
}

const PERIOD: &str = "2025-H1";
/// Arbitrary as-of days: inside the period, at its end, months after it.
const AS_OF: [(i32, u32, u32); 3] = [(2025, 3, 17), (2025, 6, 30), (2025, 11, 20)];
const GROUPINGS: [GroupBy; 4] = [
    GroupBy::None,
    GroupBy::UnitCategory,
    GroupBy::Region,
    GroupBy::Unit,
];

/// Counts by group key: current and previous, each [on time, late, within, overdue].
type Grouped = BTreeMap<String, [[i64; 4]; 2]>;

pub async fn run(args: ReportsArgs, tasknet: &Path) -> anyhow::Result<()> {
    let backend = match args.backend.as_str() {
        "postgres" => Backend::Postgres,
        _ => Backend::Sqlite,
    };
    let temp = tempfile::tempdir()?;
    let dir = args
        .data_dir
        .clone()
        .unwrap_or_else(|| temp.path().to_owned());
    std::fs::create_dir_all(&dir)?;
    let databases = Databases::create(backend, &args.postgres_url, &dir).await?;
    let outcome = bench(&args, backend, tasknet, &dir, &databases).await;
    databases.drop_all().await;
    outcome
}

async fn bench(
    args: &ReportsArgs,
    backend: Backend,
    tasknet: &Path,
    dir: &Path,
    databases: &Databases,
) -> anyhow::Result<()> {
    // The reporting service logs when its status index is loaded.
    let launch = |kind: ServiceKind, url: &str| {
        processes::serve(tasknet, kind, url, dir)
            .rust_log("warn,tasknet_reporting=info")
            .merge_stderr()
    };
    let organisation = processes::start(
        &launch(ServiceKind::Organisation, &databases.urls[0]),
        ServiceKind::Organisation,
    )
    .await?;
    let organisation_endpoint = organisation.endpoint().to_owned();
    let client = read_token(&dir.join(CREDENTIALS_DIR).join("admin.token"))?;
    let units = reference_units(&organisation_endpoint, &client).await?;
    println!(
        "units: {} (reference data of the organisation service)",
        units.len()
    );

    let started = Instant::now();
    // `tasknet serve` keeps each service's tables in a schema of its name on
    // PostgreSQL: create and fill them there.
    let options = DatabaseOptions {
        schema: (backend == Backend::Postgres).then(|| "reporting".to_owned()),
        ..DatabaseOptions::default()
    };
    Database::open(&databases.urls[2], &options, &tasknet_reporting::MIGRATIONS)
        .await?
        .close()
        .await;
    let reporting_tables = match backend {
        Backend::Postgres => format!("{}?options=-c%20search_path%3Dreporting", databases.urls[2]),
        Backend::Sqlite => databases.urls[2].clone(),
    };
    let segments = data::load(backend, &reporting_tables, args.tasks, &units).await?;
    let load_time = started.elapsed();
    let pool = sqlx::any::AnyPoolOptions::new()
        .max_connections(1)
        .connect(&reporting_tables)
        .await?;
    println!("segments: {segments}");
    println!(
        "generated and loaded {} tasks in {:.1} s",
        args.tasks,
        load_time.as_secs_f64()
    );

    let task = processes::with_endpoints(
        launch(ServiceKind::Task, &databases.urls[1]),
        &organisation_endpoint,
        None,
    );
    let task = processes::start(&task, ServiceKind::Task).await?;
    let started = Instant::now();
    let mut reporting = processes::with_endpoints(
        launch(ServiceKind::Reporting, &databases.urls[2]),
        &organisation_endpoint,
        Some(task.endpoint()),
    )
    .spawn("reporting")?;
    let reporting_endpoint = reporting.ready(LISTENING, "").await?.to_owned();
    let loaded = reporting.wait_for_line("status index loaded", Duration::from_secs(1800))?;
    let startup = started.elapsed();
    println!("reporting: {loaded}");

    let channel = tasknet_server::connect_lazy_with(&reporting_endpoint, &client)?;
    let mut reports = ReportingServiceClient::new(channel);
    let figures = measure(args, &mut reports, &pool, &units).await;
    pool.close().await;
    let peak = ["VmHWM", "RssAnon", "RssFile"]
        .map(|field| reporting.status_bytes(field).map(|bytes| bytes / 1024));
    for stopped in [
        reporting.terminate(),
        task.terminate(),
        organisation.terminate(),
    ] {
        if let Err(error) = stopped {
            eprintln!("{error:#}");
        }
    }
    let mut figures = figures?;
    let [peak, anon, file] = peak;
    let peak = [peak?, anon?, file?];
    figures.print(args, backend, load_time, startup, peak);
    if !figures.mismatches.is_empty() {
        for mismatch in &figures.mismatches {
            eprintln!("MISMATCH {mismatch}");
        }
        bail!(
            "{} answers differ from the naive SQL",
            figures.mismatches.len()
        );
    }
    Ok(())
}

/// The databases of the three services (files, or PostgreSQL databases of
/// this run that are dropped at the end).
struct Databases {
    urls: Vec<String>,
    postgres: Option<(String, Vec<String>)>,
}

impl Databases {
    async fn create(backend: Backend, server: &str, dir: &Path) -> anyhow::Result<Self> {
        let names = ["organisation", "task", "reporting"];
        if backend == Backend::Sqlite {
            let urls = names
                .iter()
                .map(|name| tasknet_storage::sqlite_url(&dir.join(format!("bench-{name}.db"))))
                .collect();
            return Ok(Self {
                urls,
                postgres: None,
            });
        }
        let admin = admin_pool(server).await?;
        let mut created = Vec::new();
        let mut urls = Vec::new();
        let base = server.rsplit_once('/').map_or(server, |(base, _)| base);
        for name in names {
            let db = format!("tasknet_bench_{}_{name}", std::process::id());
            sqlx::query(&format!("CREATE DATABASE {db}"))
                .execute(&admin)
                .await?;
            urls.push(format!("{base}/{db}"));
            created.push(db);
        }
        admin.close().await;
        Ok(Self {
            urls,
            postgres: Some((server.to_owned(), created)),
        })
    }

    async fn drop_all(&self) {
        let Some((server, names)) = &self.postgres else {
            return;
        };
        let Ok(admin) = admin_pool(server).await else {
            eprintln!("could not connect to drop the benchmark databases {names:?}");
            return;
        };
        for name in names {
            let sql = format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)");
            if let Err(error) = sqlx::query(&sql).execute(&admin).await {
                eprintln!("could not drop {name}: {error}");
            }
        }
        admin.close().await;
    }
}

async fn admin_pool(server: &str) -> anyhow::Result<AnyPool> {
    sqlx::any::install_default_drivers();
    sqlx::any::AnyPoolOptions::new()
        .max_connections(1)
        .connect(server)
        .await
        .context("failed to connect to PostgreSQL")
}

/// The reference units tasks go to: central departments, public service
/// units and provincial offices in force now, with their breakdown keys.
async fn reference_units(endpoint: &str, client: &ClientOptions) -> anyhow::Result<Vec<Unit>> {
    let mut units = Vec::new();
    for unit in tasknet_demo::load_units(endpoint, client).await? {
        let category = UnitCategory::try_from(unit.category).unwrap_or_default();
        let wanted = matches!(
            category,
            UnitCategory::CentralDepartment
                | UnitCategory::PublicServiceUnit
                | UnitCategory::ProvincialOffice
        );
        if wanted && unit.valid_to.is_none() {
            units.push(Unit {
                category_key: category.as_str_name().to_owned(),
                region_key: if unit.region_code.is_empty() {
                    tasknet_reporting::NO_REGION_GROUP.to_owned()
                } else {
                    unit.region_code.clone()
                },
                provincial: category == UnitCategory::ProvincialOffice,
                id: unit.id,
            });
        }
    }
    if units.is_empty() {
        bail!("the organisation service lists no reference units");
    }
    Ok(units)
}

/// What one run measured.
struct Figures {
    grpc: Vec<(GroupBy, Latencies)>,
    naive: Latencies,
    verified: usize,
    mismatches: Vec<String>,
}

impl Figures {
    fn print(
        &mut self,
        args: &ReportsArgs,
        backend: Backend,
        load: Duration,
        startup: Duration,
        [peak_kib, anon_kib, file_kib]: [u64; 3],
    ) {
        let naive_p50 = self.naive.percentile(50.0).unwrap_or_default();
        println!();
        println!(
            "reports benchmark: {} tasks on {backend:?}, period {PERIOD} vs a year earlier, {} as-of days, {} repetitions each",
            args.tasks,
            AS_OF.len(),
            args.queries
        );
        let row = |what: &str, figure: String| println!("{what:<44} {figure}");
        row(
            "data set generated and bulk-loaded",
            format!("{:.1} s", load.as_secs_f64()),
        );
        row(
            "reporting start-up to index loaded",
            format!("{:.1} s", startup.as_secs_f64()),
        );
        for (group_by, latencies) in &mut self.grpc {
            let p50 = latencies.percentile(50.0).unwrap_or_default();
            let ratio = naive_p50.as_secs_f64() / p50.as_secs_f64().max(1e-9);
            row(
                &format!("StatusBreakdown over gRPC, {}", group_by.as_str_name()),
                format!("{}  ({ratio:.0}x the naive p50)", latencies.summary()),
            );
        }
        row(
            "naive SQL (GROUP BY + CASE, both years)",
            self.naive.summary(),
        );
        row(
            "verified answers (grouping x as-of)",
            format!("{} equal, {} differ", self.verified, self.mismatches.len()),
        );
        row(
            "reporting peak RSS (VmHWM)",
            format!("{:.1} MB", peak_kib as f64 / 1024.0),
        );
        row(
            "reporting RSS at the end: heap / files",
            format!(
                "{:.1} MB / {:.1} MB",
                anon_kib as f64 / 1024.0,
                file_kib as f64 / 1024.0
            ),
        );
    }
}

async fn measure(
    args: &ReportsArgs,
    reports: &mut ReportingServiceClient<TracedChannel>,
    pool: &AnyPool,
    units: &[Unit],
) -> anyhow::Result<Figures> {
    let mut figures = Figures {
        grpc: GROUPINGS
            .iter()
            .map(|g| (*g, Latencies::default()))
            .collect(),
        naive: Latencies::default(),
        verified: 0,
        mismatches: Vec::new(),
    };
    for (year, month, day) in AS_OF {
        let as_of = NaiveDate::from_ymd_opt(year, month, day).context("as-of day")?;
        let mut naive_answer = None;
        for (group_by, latencies) in &mut figures.grpc {
            let request = v1::StatusBreakdownRequest {
                period: Some(v1::Period {
                    kind: Some(v1::period::Kind::Label(PERIOD.into())),
                }),
                as_of: Some(date_to_proto(as_of)),
                group_by: *group_by as i32,
                ..Default::default()
            };
            let mut last = None;
            for _ in 0..args.queries.max(1) {
                let started = Instant::now();
                let response = reports
                    .status_breakdown(request.clone())
                    .await?
                    .into_inner();
                latencies.record(started.elapsed());
                last = Some(response);
            }
            let response = last.context("no response")?;
            if naive_answer.is_none() {
                let sql = naive_for(&response)?;
                let mut answer = None;
                for _ in 0..args.queries.max(1) {
                    let started = Instant::now();
                    let rows = sqlx::query(&sql).fetch_all(pool).await?;
                    figures.naive.record(started.elapsed());
                    answer = Some(rows);
                }
                naive_answer = Some(per_unit(&answer.unwrap_or_default())?);
            }
            let expected = group(
                naive_answer.as_ref().context("naive answer")?,
                units,
                *group_by,
            );
            let actual = grouped(&response);
            if expected == actual {
                figures.verified += 1;
            } else {
                // The first differing group is enough to start from.
                let key = expected
                    .keys()
                    .chain(actual.keys())
                    .find(|key| expected.get(*key) != actual.get(*key))
                    .cloned()
                    .unwrap_or_default();
                figures.mismatches.push(format!(
                    "{} as of {as_of}, group {key:?}: gRPC {:?} naive {:?}",
                    group_by.as_str_name(),
                    actual.get(&key),
                    expected.get(&key),
                ));
            }
        }
    }
    Ok(figures)
}

/// The naive SQL for the periods and as-of days a response states.
fn naive_for(response: &v1::StatusBreakdownResponse) -> anyhow::Result<String> {
    let range = |range: Option<&v1::DateRange>,
                 as_of: Option<&v1::Date>|
     -> anyhow::Result<(i64, i64, i64)> {
        let range = range.context("response without a period")?;
        let start =
            date_from_proto("start", range.start.as_ref()).map_err(|e| anyhow::anyhow!("{e:?}"))?;
        let end =
            date_from_proto("end", range.end.as_ref()).map_err(|e| anyhow::anyhow!("{e:?}"))?;
        let as_of = date_from_proto("as_of", as_of).map_err(|e| anyhow::anyhow!("{e:?}"))?;
        Ok((
            date_to_storage(start),
            date_to_storage(end.min(as_of)),
            date_to_storage(as_of),
        ))
    };
    let current = range(response.period.as_ref(), response.as_of.as_ref())?;
    let previous = range(
        response.previous_period.as_ref(),
        response.previous_as_of.as_ref(),
    )?;
    Ok(data::naive_sql(current, previous))
}

/// Naive rows as unit id -> [current, previous] counts.
fn per_unit(rows: &[sqlx::any::AnyRow]) -> anyhow::Result<Grouped> {
    let mut counts = Grouped::new();
    for row in rows {
        let unit: String = row.try_get(0)?;
        let period: i64 = row.try_get(1)?;
        let entry = counts.entry(unit).or_default();
        let slot = &mut entry[usize::from(period != 0)];
        for (i, value) in slot.iter_mut().enumerate() {
            *value += row.try_get::<i64, _>(i + 2)?;
        }
    }
    Ok(counts)
}

/// Per-unit counts grouped as the service groups them ("" is national).
fn group(per_unit: &Grouped, units: &[Unit], group_by: GroupBy) -> Grouped {
    let mut grouped = Grouped::new();
    for (id, counts) in per_unit {
        let unit = units.iter().find(|unit| &unit.id == id);
        let key = match (group_by, unit) {
            (GroupBy::Unit, _) => Some(id.clone()),
            (GroupBy::UnitCategory, Some(unit)) => Some(unit.category_key.clone()),
            (GroupBy::Region, Some(unit)) => Some(unit.region_key.clone()),
            (GroupBy::UnitCategory | GroupBy::Region, None) => {
                Some(tasknet_reporting::UNKNOWN_GROUP.to_owned())
            }
            _ => None,
        };
        for key in [Some(String::new()), key].into_iter().flatten() {
            let entry = grouped.entry(key).or_default();
            for (sums, adds) in entry.iter_mut().zip(counts) {
                for (sum, add) in sums.iter_mut().zip(adds) {
                    *sum += add;
                }
            }
        }
    }
    grouped
}

/// A response as group key -> counts, leaving out groups without tasks.
fn grouped(response: &v1::StatusBreakdownResponse) -> Grouped {
    let counts = |c: Option<&v1::StatusCounts>| {
        c.map_or([0; 4], |c| {
            [
                c.completed_on_time,
                c.completed_late,
                c.open_within_deadline,
                c.open_overdue,
            ]
        })
    };
    response
        .national
        .iter()
        .chain(&response.rows)
        .map(|row| {
            (
                row.group_key.clone(),
                [counts(row.current.as_ref()), counts(row.previous.as_ref())],
            )
        })
        .filter(|(_, counts)| counts.iter().flatten().any(|c| *c != 0))
        .collect()
}
