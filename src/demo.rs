//! Demo data: the seed period's tasks, pushed through the public gRPC API as
//! the offices would push them, with a progress bar.

use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};
use tasknet_demo::{DemoSpec, LoadProgress};

use crate::cli::{DemoCommand, DemoSize};

pub async fn run(command: DemoCommand) -> anyhow::Result<()> {
    match command {
        DemoCommand::Load(args) => load(&args.endpoint.endpoint, args.size).await,
    }
}

/// Loads the reference units and the seed data set into the system at `endpoint`.
pub async fn load(endpoint: &str, size: DemoSize) -> anyhow::Result<()> {
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
    let summary = tasknet_demo::load(endpoint, &spec, |progress: LoadProgress| {
        bar.set_length(progress.total_mutations);
        bar.set_position(progress.acknowledged);
    })
    .await?;
    bar.finish_and_clear();
    println!("demo data loaded: {summary}");
    Ok(())
}
