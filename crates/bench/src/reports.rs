//! The reports benchmark (placeholder until it is written; see BENCHMARKS.md).

use std::path::Path;

#[derive(Debug, clap::Args)]
pub struct ReportsArgs {}

pub async fn run(_args: ReportsArgs, _tasknet: &Path) -> anyhow::Result<()> {
    anyhow::bail!("the reports benchmark is not written yet")
}
