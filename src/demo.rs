//! Demo data: the seed period's tasks, pushed through the public gRPC API as
//! the offices would push them, with a progress bar; then the half-years
//! after it, across the 2025 provincial merger.

use std::time::Duration;

use anyhow::Context;
use indicatif::{ProgressBar, ProgressStyle};
use tasknet_demo::{DemoSpec, LoadProgress};
use tasknet_proto::v1;
use tasknet_proto::v1::reporting_service_client::ReportingServiceClient;

use crate::cli::{DemoCommand, DemoSize};

pub async fn run(command: DemoCommand) -> anyhow::Result<()> {
    match command {
        DemoCommand::Load(args) => {
            let client = crate::connect::client_options(&args.endpoint)?;
            load(&args.endpoint.endpoint, &client, args.size).await
        }
    }
}

/// Loads the reference units and the seed data set into the system at `endpoint`.
/// `client` carries an administrator's credential.
pub async fn load(
    endpoint: &str,
    client: &tasknet_server::ClientOptions,
    size: DemoSize,
) -> anyhow::Result<()> {
    let bar = ProgressBar::new(0);
    bar.set_style(
        ProgressStyle::with_template(
            "loading demo data {bar:40} {pos}/{len} updates ({per_sec}, eta {eta})",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    bar.enable_steady_tick(Duration::from_millis(250));
    let spec = match size {
        DemoSize::Seed => DemoSpec::seed_report(),
        DemoSize::Small => DemoSpec::small(),
    };
    let summary = tasknet_demo::load(endpoint, client, &spec, |progress: LoadProgress| {
        bar.set_length(progress.total_mutations);
        bar.set_position(progress.acknowledged);
    })
    .await?;
    bar.finish_and_clear();
    if matches!(size, DemoSize::Seed) {
        tasknet_demo::add_seed_note(endpoint, client).await?;
    }
    let continued = continuation(endpoint, client, size).await?;
    let last_cursor = summary.last_cursor.max(continued.load.last_cursor);
    wait_for_reports(endpoint, client, last_cursor).await?;
    // Printed once the reports include everything: scripts wait for this line.
    println!("demo data loaded: {summary}");
    println!("continued across the 2025 provincial merger: {continued}");
    Ok(())
}

/// H2 2024 to H2 2025, across the merger of 1 July 2025 (which it applies).
async fn continuation(
    endpoint: &str,
    client: &tasknet_server::ClientOptions,
    size: DemoSize,
) -> anyhow::Result<tasknet_demo::ContinuationSummary> {
    let bar = ProgressBar::new(0);
    bar.set_style(
        ProgressStyle::with_template(
            "H2 2024 – H2 2025, across the 2025 merger {bar:40} {pos}/{len} updates ({per_sec}, eta {eta})",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    bar.enable_steady_tick(Duration::from_millis(250));
    let spec = match size {
        DemoSize::Seed => tasknet_demo::ContinuationSpec::full(),
        DemoSize::Small => tasknet_demo::ContinuationSpec::small(),
    };
    let continued =
        tasknet_demo::load_continuation(endpoint, endpoint, client, &spec, |progress| {
            bar.set_length(progress.total_mutations);
            bar.set_position(progress.acknowledged);
        })
        .await
        .context("failed to load the demo's continuation across the 2025 merger")?;
    bar.finish_and_clear();
    Ok(continued)
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
    let spinner = ProgressBar::new_spinner();
    spinner.enable_steady_tick(Duration::from_millis(250));
    loop {
        let applied = client
            .get_sync_state(v1::GetSyncStateRequest {})
            .await
            .context("GetSyncState failed")?
            .into_inner()
            .applied_cursor;
        if applied >= cursor {
            spinner.finish_and_clear();
            return Ok(());
        }
        spinner.set_message(format!(
            "reporting has applied {applied} of {cursor} changes"
        ));
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
