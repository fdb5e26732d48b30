//! TransferOpenTasks: after a reorganisation is applied in the organisation
//! service, the tasks its ended units still hold pass to their primary
//! successors. The task service reads the reorganisation from the
//! organisation service (the caller only names it, so it cannot hand over a
//! wrong mapping), plans the transfer with [`crate::reassign`], and
//! reassigns through the writer, each task an idempotent update recorded in
//! the change log. Which tasks pass, and from when, is decided there.

use std::sync::Arc;

use chrono::Utc;
use tasknet_domain::{date_to_storage, vietnam_date};
use tasknet_proto::v1;

use crate::access::Access;
use crate::command::Mutation;
use crate::error::{Error, Result};
use crate::parse;
use crate::reassign::{Succession, Tally, transfer_dates};
use crate::state::ServiceState;
use crate::store::reassign::{task_changes, tasks_held_by};
use crate::writer::{self, Outcome};

#[tracing::instrument(skip_all, fields(reorganisation_id = %request.reorganisation_id))]
pub async fn transfer_open_tasks(
    state: &ServiceState,
    request: v1::TransferOpenTasksRequest,
    access: Arc<Access>,
) -> Result<v1::TransferOpenTasksResponse> {
    let reorganisation_id = parse::uuid_any("reorganisation_id", &request.reorganisation_id)?;
    let found = state.references.reorganisation(&reorganisation_id).await?;
    let succession = Succession::from_proto(&reorganisation_id, &found)?;
    succession.check_in_force(vietnam_date(Utc::now()))?;
    let effective = succession.effective;
    let tasks = tasks_held_by(
        &state.pool,
        &succession.ended_units(),
        date_to_storage(effective),
    )
    .await?;
    let ids: Vec<String> = tasks.iter().map(|(id, _)| id.clone()).collect();
    let dates = transfer_dates(task_changes(&state.pool, &ids).await?, effective);
    let mut pending = Vec::with_capacity(tasks.len());
    for reassign in succession.reassignments(&tasks, &dates) {
        let from = reassign.from_unit_id.clone();
        let receiver = state
            .writer
            .enqueue(Mutation::Reassign(reassign), access.clone())
            .await?;
        pending.push((from, receiver));
    }
    let mut tally = Tally::new(&succession);
    collect(pending, &mut tally).await?;
    tracing::info!(%reorganisation_id, tasks = tasks.len(), "transferred open tasks");
    Ok(tally.into_response())
}

/// Waits for every queued reassignment and counts it. A task that changed
/// meanwhile (completed, reassigned) is left as it is.
async fn collect(pending: Vec<(String, writer::OutcomeReceiver)>, tally: &mut Tally) -> Result<()> {
    for (from, receiver) in pending {
        match writer::wait(receiver).await {
            Ok(Outcome::Task(ack)) => tally.passed(&from, ack.duplicate, ack.cursor),
            Ok(Outcome::Plan { .. }) => {
                return Err(Error::Internal("a reassignment answered as a plan".into()));
            }
            Err(Error::FailedPrecondition(reason)) => {
                tracing::debug!(%reason, "task changed before its transfer; left as it is");
            }
            Err(error) => return Err(error),
        }
    }
    Ok(())
}
