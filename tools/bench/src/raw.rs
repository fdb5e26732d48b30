//! The ingest ceiling: the rows the task service durably writes for each
//! update (a change-log row, the task row, the applied-update record and the
//! audit record), written straight into a fresh PostgreSQL database with the
//! task service's schema by one process with `COPY`, in transactions of the
//! service's batch size, each committed durably (the task service's
//! `bulk-load` feature writes them). No reads, no validation, no gRPC: what
//! PostgreSQL on this machine can take.

use std::time::{Duration, Instant};

use anyhow::Context;
use tasknet_storage::scratch::ScratchDatabase;
use tasknet_task::bulk_load::BulkWriter;

use crate::workload::Workload;

/// Transactions hold this many updates. The task writer's batches are
/// whatever queued while the previous one committed (under the ingest
/// benchmark's 63 clients, about this many); the ceiling keeps the size its
/// earlier figures in BENCHMARKS.md were measured with, so they compare.
pub const BATCH: usize = 2048;

/// The outcome of the raw run.
pub struct RawReport {
    pub updates: u64,
    pub elapsed: Duration,
}

/// Writes `updates` updates from `workloads`, taken in turn (as concurrent
/// clients' items interleave in the service's batches), into a fresh
/// database on `server_url`.
pub async fn run(
    server_url: &str,
    mut workloads: Vec<Workload>,
    updates: u64,
) -> anyhow::Result<RawReport> {
    anyhow::ensure!(!workloads.is_empty(), "no workloads");
    let scratch = ScratchDatabase::create(server_url, &crate::setup::database_name("raw")).await?;
    let mut writer = BulkWriter::open(scratch.url()).await?;
    let started = Instant::now();
    let mut written = 0_u64;
    let mut next = 0_usize;
    while written < updates {
        let size = BATCH.min((updates - written) as usize);
        for _ in 0..size {
            let index = next % workloads.len();
            let workload = &mut workloads[index];
            next += 1;
            let (_, request) = workload.next().context("workload ended")?;
            writer.add(&request)?;
        }
        writer.commit().await?;
        written += size as u64;
    }
    let elapsed = started.elapsed();
    writer.close().await;
    drop(scratch);
    Ok(RawReport {
        updates: written,
        elapsed,
    })
}
