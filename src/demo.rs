//! Demo data: the seed period's tasks, pushed through the public gRPC API as
//! the offices would push them, with a progress bar (log lines without a
//! terminal); then the half-years after it, across the 2025 provincial
//! merger; and the contacts notifications go to. Refuses before writing
//! when another data set is loaded.

use std::io::IsTerminal;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use anyhow::Context;
use indicatif::{ProgressBar, ProgressStyle};
use tasknet_demo::{DemoSpec, LoadProgress};
use tasknet_proto::v1;
use tasknet_proto::v1::reporting_service_client::ReportingServiceClient;

use crate::cli::{DemoCommand, DemoSize};
use crate::endpoints::Service;

pub async fn run(command: DemoCommand) -> anyhow::Result<()> {
    match command {
        DemoCommand::Load(args) => {
            let client = crate::connect::client_options(&args.endpoint)?;
            let endpoints = DemoEndpoints {
                organisation: args.endpoint.of(Service::Organisation),
                task: args.endpoint.of(Service::Task),
                reporting: args.endpoint.of(Service::Reporting),
            };
            load(&endpoints, &client, args.size).await
        }
    }
}

/// Where the demo loader finds each service.
pub struct DemoEndpoints<'a> {
    pub organisation: &'a str,
    pub task: &'a str,
    pub reporting: &'a str,
}

impl<'a> DemoEndpoints<'a> {
    /// All three services on one address (`tasknet up`).
    pub fn one(endpoint: &'a str) -> Self {
        Self {
            organisation: endpoint,
            task: endpoint,
            reporting: endpoint,
        }
    }
}

/// Loads the reference units and the seed data set into the system at
/// `endpoints`. `client` carries an administrator's credential. Refuses,
/// before writing anything, when the system holds another data set.
pub async fn load(
    endpoints: &DemoEndpoints<'_>,
    client: &tasknet_server::ClientOptions,
    size: DemoSize,
) -> anyhow::Result<()> {
    let progress = Progress::new("loading demo data (H1 2023, H1 2024)", "updates");
    let spec = match size {
        DemoSize::Seed => DemoSpec::seed_report(),
        DemoSize::Small => DemoSpec::small(),
    };
    let summary = tasknet_demo::load_split(
        endpoints.organisation,
        endpoints.task,
        client,
        &spec,
        |p: LoadProgress| progress.update(p.acknowledged, p.total_mutations),
    )
    .await?;
    progress.finish();
    if matches!(size, DemoSize::Seed) {
        tasknet_demo::add_seed_note(endpoints.reporting, client).await?;
    }
    let continued = continuation(endpoints, client, size).await?;
    let contacts = contacts(endpoints, client, &continued, size).await?;
    let last_cursor = summary.last_cursor.max(continued.load.last_cursor);
    wait_for_reports(endpoints.reporting, client, last_cursor).await?;
    let nothing_changed = summary.duplicates == summary.dataset.mutation_count() as u64
        && continued.load.duplicates == continued.load.dataset.mutation_count() as u64
        && continued.transferred == 0
        && contacts.created == 0;
    // Printed once the reports include everything: scripts wait for this line.
    if nothing_changed {
        println!(
            "demo data loaded: the {} demo data set was already loaded, nothing changed \
             ({} tasks, {} updates, the 2025 merger and {} unit contacts checked)",
            tasknet_demo::demo_name(&spec),
            summary.tasks() + continued.load.tasks(),
            summary.updates() + continued.load.updates(),
            contacts.total,
        );
    } else {
        println!("demo data loaded: {summary}");
        println!("continued across the 2025 provincial merger: {continued}");
        println!("notification recipients: {contacts}");
    }
    Ok(())
}

fn continuation_spec(size: DemoSize) -> tasknet_demo::ContinuationSpec {
    match size {
        DemoSize::Seed => tasknet_demo::ContinuationSpec::full(),
        DemoSize::Small => tasknet_demo::ContinuationSpec::small(),
    }
}

/// The demo's unit contacts, for the units in force on its last day.
async fn contacts(
    endpoints: &DemoEndpoints<'_>,
    client: &tasknet_server::ClientOptions,
    continued: &tasknet_demo::ContinuationSummary,
    size: DemoSize,
) -> anyhow::Result<tasknet_demo::ContactsSummary> {
    let spec = continuation_spec(size);
    let last_day = spec
        .halves
        .iter()
        .map(tasknet_demo::HalfSpec::as_of)
        .max()
        .context("the continuation has no half-years")?;
    tasknet_demo::load_contacts(
        endpoints.organisation,
        client,
        &continued.load.units,
        last_day,
    )
    .await
    .context("failed to add the demo's unit contacts")
}

/// H2 2024 to H2 2025, across the merger of 1 July 2025 (which it applies).
async fn continuation(
    endpoints: &DemoEndpoints<'_>,
    client: &tasknet_server::ClientOptions,
    size: DemoSize,
) -> anyhow::Result<tasknet_demo::ContinuationSummary> {
    let progress = Progress::new("H2 2024 – H2 2025, across the 2025 merger", "updates");
    let spec = continuation_spec(size);
    let continued = tasknet_demo::load_continuation(
        endpoints.organisation,
        endpoints.task,
        client,
        &spec,
        |p| progress.update(p.acknowledged, p.total_mutations),
    )
    .await
    .context("failed to load the demo's continuation across the 2025 merger")?;
    progress.finish();
    Ok(continued)
}

/// How often a log line reports progress when stderr is not a terminal.
const LOG_INTERVAL: Duration = Duration::from_secs(5);

/// A load's progress: a bar on a terminal; without one (a container's log,
/// a file) a bar draws nothing, so log lines with counts, rate and time left.
enum Progress {
    Bar(ProgressBar),
    Log(Mutex<LogLines>),
}

struct LogLines {
    label: &'static str,
    /// What is counted: "updates", "changes".
    unit: &'static str,
    /// When the first count came, and what it was: the rate is over what
    /// this run did (reporting's cursor does not start at 0).
    started: Instant,
    baseline: Option<u64>,
    last_line: Option<Instant>,
    done: u64,
    total: u64,
}

impl Progress {
    fn new(label: &'static str, unit: &'static str) -> Self {
        if std::io::stderr().is_terminal() {
            let bar = ProgressBar::new(0);
            bar.set_style(
                ProgressStyle::with_template(&format!(
                    "{label} {{bar:40}} {{pos}}/{{len}} {unit} ({{per_sec}}, eta {{eta}})"
                ))
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
            );
            bar.enable_steady_tick(Duration::from_millis(250));
            Progress::Bar(bar)
        } else {
            Progress::Log(Mutex::new(LogLines {
                label,
                unit,
                started: Instant::now(),
                baseline: None,
                last_line: None,
                done: 0,
                total: 0,
            }))
        }
    }

    fn update(&self, done: u64, total: u64) {
        match self {
            Progress::Bar(bar) => {
                bar.set_length(total);
                bar.set_position(done);
            }
            Progress::Log(lines) => {
                let Ok(mut lines) = lines.lock() else { return };
                if lines.baseline.is_none() && total > 0 {
                    lines.baseline = Some(done);
                    lines.started = Instant::now();
                }
                lines.done = done;
                lines.total = total;
                let due = lines
                    .last_line
                    .is_none_or(|last| last.elapsed() >= LOG_INTERVAL);
                if due && total > 0 && done > lines.baseline.unwrap_or(0) && done < total {
                    lines.last_line = Some(Instant::now());
                    eprintln!("{}", lines.line());
                }
            }
        }
    }

    fn finish(&self) {
        match self {
            Progress::Bar(bar) => bar.finish_and_clear(),
            Progress::Log(lines) => {
                if let Ok(lines) = lines.lock() {
                    eprintln!("{}", lines.line());
                }
            }
        }
    }
}

impl LogLines {
    /// "loading demo data: 120,000 of 450,000 updates (26%), 2,650/s, about 2 min 05 s left".
    fn line(&self) -> String {
        let elapsed = self.started.elapsed().as_secs_f64();
        let rate = self.done.saturating_sub(self.baseline.unwrap_or(0)) as f64 / elapsed.max(1e-3);
        let percent = (self.done * 100).checked_div(self.total).unwrap_or(100);
        let left = self.total.saturating_sub(self.done);
        let time_left = if left == 0 {
            format!("done in {}", duration(elapsed))
        } else if rate >= 1.0 {
            format!("about {} left", duration(left as f64 / rate))
        } else {
            "time left not known yet".to_owned()
        };
        format!(
            "{}: {} of {} {} ({percent}%), {:.0}/s, {time_left}",
            self.label, self.done, self.total, self.unit, rate
        )
    }
}

/// "2 min 05 s" or "42 s".
fn duration(seconds: f64) -> String {
    let seconds = seconds.round() as u64;
    if seconds >= 60 {
        format!("{} min {:02} s", seconds / 60, seconds % 60)
    } else {
        format!("{seconds} s")
    }
}

/// Waits until the reporting service has applied everything loaded, so the
/// first report a person asks for already shows all of it.
async fn wait_for_reports(
    endpoint: &str,
    options: &tasknet_server::ClientOptions,
    cursor: i64,
) -> anyhow::Result<()> {
    let mut client =
        ReportingServiceClient::new(tasknet_server::connect_lazy_with(endpoint, options)?);
    let mut progress: Option<Progress> = None;
    loop {
        let applied = client
            .get_sync_state(v1::GetSyncStateRequest {})
            .await
            .context("GetSyncState failed")?
            .into_inner()
            .applied_cursor;
        if applied >= cursor {
            if let Some(progress) = progress {
                let total = u64::try_from(cursor).unwrap_or(0);
                progress.update(total, total);
                progress.finish();
            }
            return Ok(());
        }
        // Shown only when there is something to wait for.
        let shown = progress.get_or_insert_with(|| {
            Progress::new("reporting catching up with the change log", "changes")
        });
        shown.update(
            u64::try_from(applied).unwrap_or(0),
            u64::try_from(cursor).unwrap_or(0),
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_lines_say_counts_rate_and_time_left() {
        let lines = LogLines {
            label: "loading demo data",
            unit: "updates",
            started: Instant::now() - Duration::from_secs(10),
            baseline: Some(0),
            last_line: None,
            done: 1_000,
            total: 13_000,
        };
        let line = lines.line();
        assert!(
            line.starts_with("loading demo data: 1000 of 13000 updates (7%), "),
            "{line}"
        );
        assert!(line.contains("/s, about 2 min 0"), "{line}");
        assert_eq!(duration(42.2), "42 s");
        assert_eq!(duration(125.0), "2 min 05 s");
    }
}
