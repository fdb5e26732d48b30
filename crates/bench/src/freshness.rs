//! The freshness benchmark (placeholder until it is written; see BENCHMARKS.md).

use std::path::Path;

#[derive(Debug, clap::Args)]
pub struct FreshnessArgs {}

pub async fn run(_args: FreshnessArgs, _tasknet: &Path) -> anyhow::Result<()> {
    anyhow::bail!("the freshness benchmark is not written yet")
}
