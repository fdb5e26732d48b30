//! tasknet's benchmark harness, behind `tasknet bench …`: each benchmark runs
//! the real services as separate `tasknet serve` processes and measures one
//! figure against its baseline in the same run (BENCHMARKS.md).

pub mod driver;
pub mod footprint;
pub mod freshness;
pub mod ingest;
pub mod raw;
pub mod reports;
pub mod setup;
pub mod stats;
pub mod system;
pub mod workload;

use clap::Subcommand;

/// `tasknet bench …`.
#[derive(Debug, Subcommand)]
pub enum BenchCommand {
    /// Office clients pushing updates through Ingest, against raw batched inserts.
    Ingest(ingest::IngestArgs),
    /// Nationwide StatusBreakdown over a bulk-loaded data set, against the naive SQL.
    Reports(reports::ReportsArgs),
    /// Time from an update's acknowledgement to its effect in StatusBreakdown.
    Freshness(freshness::FreshnessArgs),
    /// Peak RSS of each service and start-up time of `tasknet up` on a large data directory.
    Footprint(footprint::FootprintArgs),
}

/// Runs one benchmark; `tasknet` is the path of the `tasknet` binary the
/// services are started from (normally the running executable).
pub async fn run(command: BenchCommand, tasknet: &std::path::Path) -> anyhow::Result<()> {
    match command {
        BenchCommand::Ingest(args) => ingest::run(args, tasknet).await,
        BenchCommand::Reports(args) => reports::run(args, tasknet).await,
        BenchCommand::Freshness(args) => freshness::run(args, tasknet).await,
        BenchCommand::Footprint(args) => footprint::run(args, tasknet).await,
    }
}
