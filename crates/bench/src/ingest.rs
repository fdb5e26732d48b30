//! The ingest benchmark (placeholder until it is written; see BENCHMARKS.md).

use std::path::Path;

#[derive(Debug, clap::Args)]
pub struct IngestArgs {}

pub async fn run(_args: IngestArgs, _tasknet: &Path) -> anyhow::Result<()> {
    anyhow::bail!("the ingest benchmark is not written yet")
}
