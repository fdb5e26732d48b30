//! The footprint benchmark (placeholder until it is written; see BENCHMARKS.md).

use std::path::Path;

#[derive(Debug, clap::Args)]
pub struct FootprintArgs {}

pub async fn run(_args: FootprintArgs, _tasknet: &Path) -> anyhow::Result<()> {
    anyhow::bail!("the footprint benchmark is not written yet")
}
