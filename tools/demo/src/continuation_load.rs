//! Loading the continuation as it happened: the tasks and updates of before
//! 1 July 2025, then the provincial merger (applied in the organisation
//! service if it is not already) and the transfer of the merged offices'
//! open tasks to their successors, then everything after, and a last
//! transfer for the merged offices' tasks reopened after the merger. Like [`load`],
//! a re-run completes what is missing and changes nothing else.
//!
//! [`load`]: crate::load()

use std::sync::Arc;
use std::time::Instant;

use anyhow::Context;
use tasknet_domain::date::vietnam_start_of_day;
use tasknet_proto::tonic::Code;
use tasknet_proto::v1;
use tasknet_proto::v1::organisation_service_client::OrganisationServiceClient;
use tasknet_proto::v1::task_service_client::TaskServiceClient;
use tasknet_server::ClientOptions;

use crate::continuation::{ContinuationSpec, generate_continuation, merger_date};
use crate::load::{
    DEFAULT_STREAMS, LoadProgress, LoadStage, LoadSummary, Slice, channel, ingest, load_units,
};

/// The built-in reorganisation the continuation crosses.
pub const MERGER: &str = "vn-provinces-2025";

/// What loading the continuation did.
#[derive(Debug, Clone)]
pub struct ContinuationSummary {
    /// The units after the merger (ended offices included) and the data set.
    pub load: LoadSummary,
    pub reorganisation_id: String,
    /// Open tasks passed to successors by this load's transfer.
    pub transferred: i64,
}

impl std::fmt::Display for ContinuationSummary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}; {} open tasks passed to the merged offices (from 2025-07-01)",
            self.load, self.transferred
        )
    }
}

/// Loads `spec`'s continuation into the services at the two endpoints,
/// applying the 2025 provincial merger between its halves.
pub async fn load_continuation(
    organisation_endpoint: &str,
    task_endpoint: &str,
    client: &ClientOptions,
    spec: &ContinuationSpec,
    progress: impl Fn(LoadProgress),
) -> anyhow::Result<ContinuationSummary> {
    let started = Instant::now();
    let report = |stage, acknowledged, total_mutations| LoadProgress {
        stage,
        acknowledged,
        total_mutations,
    };
    progress(report(LoadStage::Units, 0, 0));
    load_units(organisation_endpoint, client).await?;
    progress(report(LoadStage::Reorganising, 0, 0));
    let reorganisation_id = apply_merger(organisation_endpoint, client).await?;
    let units: Arc<[v1::Unit]> = load_units(organisation_endpoint, client).await?.into();
    progress(report(LoadStage::Generating, 0, 0));
    let dataset = Arc::new(
        generate_continuation(spec, &units).context("failed to generate the continuation")?,
    );
    let total = dataset.mutation_count() as u64;
    let cut = vietnam_start_of_day(merger_date()).timestamp();
    let before = ingest(
        task_endpoint,
        client,
        &dataset,
        DEFAULT_STREAMS,
        Slice::Before(cut),
        &|p: LoadProgress| {
            progress(report(p.stage, p.acknowledged, total));
        },
    )
    .await?;
    let sent = dataset.mutation_count() as u64 - count_from(&dataset, cut);
    progress(report(LoadStage::Reorganising, sent, total));
    let merged = transfer(task_endpoint, client, &reorganisation_id).await?;
    let mut after = ingest(
        task_endpoint,
        client,
        &dataset,
        DEFAULT_STREAMS,
        Slice::From(cut),
        &|p: LoadProgress| {
            progress(report(p.stage, sent + p.acknowledged, total));
        },
    )
    .await?;
    // Again, for tasks completed before the merger and reopened after it:
    // the ended office cannot redo them.
    let reopened = transfer(task_endpoint, client, &reorganisation_id).await?;
    after.last_cursor = after.last_cursor.max(reopened.last_cursor);
    let load = LoadSummary {
        units,
        dataset,
        duplicates: before.duplicates + after.duplicates,
        last_cursor: before
            .last_cursor
            .max(after.last_cursor)
            .max(merged.last_cursor),
        elapsed: started.elapsed(),
    };
    Ok(ContinuationSummary {
        load,
        reorganisation_id,
        transferred: merged.transferred + reopened.transferred,
    })
}

/// Mutations at or after the instant `cut` (seconds).
fn count_from(dataset: &crate::DemoDataset, cut: i64) -> u64 {
    let from = |time: Option<&tasknet_proto::prost_types::Timestamp>| {
        time.is_some_and(|t| t.seconds >= cut)
    };
    dataset
        .tasks
        .iter()
        .map(|task| {
            u64::from(from(task.create.effective_time.as_ref()))
                + task
                    .updates
                    .iter()
                    .filter(|u| from(u.effective_time.as_ref()))
                    .count() as u64
        })
        .sum()
}

/// Applies the merger, or finds it applied already; returns its id.
async fn apply_merger(endpoint: &str, client: &ClientOptions) -> anyhow::Result<String> {
    let mut organisation = OrganisationServiceClient::new(channel(endpoint, client)?);
    let request = v1::ApplyReferenceReorganisationRequest {
        name: MERGER.to_owned(),
        validate_only: false,
    };
    let reorganisation = match organisation.apply_reference_reorganisation(request).await {
        Ok(response) => response.into_inner().reorganisation,
        Err(status) if status.code() == Code::AlreadyExists => {
            organisation
                .get_reorganisation(v1::GetReorganisationRequest {
                    reorganisation: MERGER.to_owned(),
                })
                .await
                .context("GetReorganisation failed")?
                .into_inner()
                .reorganisation
        }
        Err(status) => return Err(status).context("ApplyReferenceReorganisation failed"),
    };
    reorganisation
        .map(|r| r.id)
        .context("the organisation service answered without the reorganisation")
}

async fn transfer(
    endpoint: &str,
    client: &ClientOptions,
    reorganisation_id: &str,
) -> anyhow::Result<v1::TransferOpenTasksResponse> {
    let mut tasks = TaskServiceClient::new(channel(endpoint, client)?);
    let request = v1::TransferOpenTasksRequest {
        reorganisation_id: reorganisation_id.to_owned(),
    };
    Ok(tasks
        .transfer_open_tasks(request)
        .await
        .context("TransferOpenTasks failed")?
        .into_inner())
}
