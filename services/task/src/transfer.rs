//! TransferOpenTasks: after a reorganisation is applied in the organisation
//! service, the tasks its ended units still hold pass to their primary
//! successors, effective on its date. The task service reads the
//! reorganisation from the organisation service (the caller only names it,
//! so it cannot hand over a wrong mapping) and reassigns through the writer,
//! each task an idempotent update recorded in the change log.
//!
//! Which tasks pass: those open on the day before the effective date pass
//! on that date (and the successor completes them). Tasks completed before
//! it stay with the unit that completed them — unless they are reopened
//! later, when the ended unit can no longer act on them: they pass from
//! their reopening. A transfer only sees reopenings recorded by then, so it
//! is run again after late updates; repeating it changes nothing else.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use chrono::{NaiveDate, TimeDelta, Utc};
use sqlx::Row;
use tasknet_domain::{
    TaskTimeline, TimelineEvent, date_from_proto, date_to_proto, date_to_storage,
    optional_date_from_proto, vietnam_date,
};
use tasknet_proto::prost::Message;
use tasknet_proto::v1;

use crate::access::Access;
use crate::error::{Error, Result};
use crate::reassign::Reassign;
use crate::request;
use crate::service::TaskGrpc;
use crate::store::{Arg, Sql};
use crate::writer::{self, Outcome};

/// Predecessors per statement (well under both back ends' parameter limits).
const UNITS_PER_QUERY: usize = 500;

/// Per predecessor: (successor, transferred now, found already transferred).
type Tally = BTreeMap<String, (String, i64, i64)>;

impl TaskGrpc {
    #[tracing::instrument(skip_all, fields(reorganisation_id = %request.reorganisation_id))]
    pub(crate) async fn transfer_open_tasks(
        &self,
        request: v1::TransferOpenTasksRequest,
        access: Arc<Access>,
    ) -> Result<v1::TransferOpenTasksResponse> {
        let reorganisation_id = request::uuid_any("reorganisation_id", &request.reorganisation_id)?;
        let (effective, successors) = self.successors_of(&reorganisation_id).await?;
        let today = vietnam_date(Utc::now());
        if effective > today {
            return Err(Error::failed_precondition(
                "reorganisation_id",
                format!(
                    "the reorganisation takes effect on {effective}; its open tasks pass on that day or later"
                ),
            ));
        }
        let tasks = self.tasks_to_transfer(&successors, effective).await?;
        let ids: Vec<String> = tasks.iter().map(|(id, _)| id.clone()).collect();
        let dates = transfer_dates(&self.pool, &ids, effective).await?;
        let mut tally: Tally = successors
            .iter()
            .map(|(from, to)| (from.clone(), (to.clone(), 0, 0)))
            .collect();
        let mut pending = Vec::with_capacity(tasks.len());
        for (task_id, from) in &tasks {
            let (Some(to), Some(date)) = (successors.get(from), dates.get(task_id)) else {
                continue;
            };
            let reassign = Reassign::new(task_id, from, to, *date, &reorganisation_id);
            let receiver = self
                .writer
                .enqueue(crate::request::Mutation::Reassign(reassign), access.clone())
                .await?;
            pending.push((from.clone(), receiver));
        }
        let last_cursor = collect(pending, &mut tally).await?;
        tracing::info!(%reorganisation_id, tasks = tasks.len(), "transferred open tasks");
        Ok(response(effective, tally, last_cursor))
    }

    /// The reorganisation's effective date and each ended unit's primary
    /// successor (dissolved units have none: their tasks stay).
    async fn successors_of(
        &self,
        reorganisation_id: &str,
    ) -> Result<(NaiveDate, BTreeMap<String, String>)> {
        let found = self
            .references
            .directory()
            .reorganisation(reorganisation_id)
            .await
            .map_err(|tasknet_directory::DirectoryError::Unavailable(m)| {
                Error::Unavailable(format!("cannot read the reorganisation: {m}"))
            })?
            .ok_or_else(|| {
                Error::not_found(
                    "reorganisation_id",
                    format!("the organisation service has no reorganisation {reorganisation_id}"),
                )
            })?;
        let reorganisation = found.reorganisation.unwrap_or_default();
        let effective =
            date_from_proto("effective_date", reorganisation.effective_date.as_ref())
                .map_err(|e| Error::Internal(format!("reorganisation {reorganisation_id}: {e}")))?;
        let successors = found
            .links
            .iter()
            .filter(|link| link.primary && !link.successor_unit_id.is_empty())
            .map(|link| {
                (
                    link.predecessor_unit_id.clone(),
                    link.successor_unit_id.clone(),
                )
            })
            .collect();
        Ok((effective, successors))
    }

    /// (task id, assignee) of every task of the ended units that passes on.
    async fn tasks_to_transfer(
        &self,
        successors: &BTreeMap<String, String>,
        effective: NaiveDate,
    ) -> Result<Vec<(String, String)>> {
        let units: Vec<&String> = successors.keys().collect();
        let mut tasks = Vec::new();
        for chunk in units.chunks(UNITS_PER_QUERY) {
            let mut sql = Sql::new(
                "SELECT id, assignee_unit_id FROM tasks \
                 WHERE (completed_on IS NULL OR completed_on >= ",
            );
            sql.arg(Arg::Int(date_to_storage(effective)))
                .push(") AND assignee_unit_id IN ")
                .list(chunk.iter().map(|id| Arg::Text((*id).clone())))
                .push(" ORDER BY assignee_unit_id, id");
            for row in sql.numbered().fetch_all(&self.pool).await? {
                tasks.push((row.try_get("id")?, row.try_get("assignee_unit_id")?));
            }
        }
        Ok(tasks)
    }
}

/// The day each task passes on: the effective date if it was open the day
/// before; else (completed then, open or completed again since) the day it
/// was first reopened on or after it. Read from the change log's effective
/// dates, so late entries count as of the day they took effect.
async fn transfer_dates(
    pool: &sqlx::AnyPool,
    task_ids: &[String],
    effective: NaiveDate,
) -> Result<HashMap<String, NaiveDate>> {
    let mut timelines: HashMap<String, (TaskTimeline, Vec<NaiveDate>)> = HashMap::new();
    for chunk in task_ids.chunks(UNITS_PER_QUERY) {
        let mut sql = Sql::new("SELECT task_id, payload FROM change_log WHERE task_id IN ");
        sql.list(chunk.iter().map(|id| Arg::Text(id.clone())))
            .push(" ORDER BY task_id, cursor");
        for row in sql.numbered().fetch_all(pool).await? {
            let task_id: String = row.try_get("task_id")?;
            let payload: Vec<u8> = row.try_get("payload")?;
            let change = v1::Change::decode(payload.as_slice())
                .map_err(|e| Error::Internal(format!("change of task {task_id}: {e}")))?;
            let Some(v1::change::Event::TaskEvent(event)) = change.event else {
                continue;
            };
            let (timeline, reopenings) = timelines
                .entry(task_id)
                .or_insert_with(|| (TaskTimeline::new(effective), Vec::new()));
            let Ok(Some(day)) = optional_date_from_proto("", event.effective_date.as_ref()) else {
                continue;
            };
            match v1::TaskEventKind::try_from(event.kind) {
                Ok(v1::TaskEventKind::Completed) => {
                    timeline
                        .events
                        .push(TimelineEvent::Completed { effective: day });
                }
                Ok(v1::TaskEventKind::Reopened) => {
                    timeline
                        .events
                        .push(TimelineEvent::Reopened { effective: day });
                    reopenings.push(day);
                }
                _ => {}
            }
        }
    }
    let day_before = effective - TimeDelta::days(1);
    Ok(timelines
        .into_iter()
        .filter_map(|(task_id, (timeline, reopenings))| {
            let date = if timeline.state_as_of(day_before).completed_on.is_none() {
                Some(effective)
            } else {
                reopenings.into_iter().filter(|day| *day >= effective).min()
            };
            date.map(|date| (task_id, date))
        })
        .collect())
}

/// Waits for every queued reassignment; returns the last new cursor. A task
/// that changed meanwhile (completed, reassigned) is left as it is.
async fn collect(
    pending: Vec<(String, writer::OutcomeReceiver)>,
    tally: &mut Tally,
) -> Result<i64> {
    let mut last_cursor = 0;
    for (from, receiver) in pending {
        let counts = tally.get_mut(&from);
        match writer::wait(receiver).await {
            Ok(Outcome::Task(ack)) => {
                if let Some((_, transferred, already)) = counts {
                    if ack.duplicate {
                        *already += 1;
                    } else {
                        *transferred += 1;
                    }
                }
                last_cursor = last_cursor.max(ack.cursor);
            }
            Ok(Outcome::Plan { .. }) => {
                return Err(Error::Internal("a reassignment answered as a plan".into()));
            }
            Err(Error::FailedPrecondition(reason)) => {
                tracing::debug!(%reason, "task changed before its transfer; left as it is");
            }
            Err(error) => return Err(error),
        }
    }
    Ok(last_cursor)
}

fn response(effective: NaiveDate, tally: Tally, last_cursor: i64) -> v1::TransferOpenTasksResponse {
    let units: Vec<v1::UnitTransfer> = tally
        .into_iter()
        .map(|(from, (to, transferred, already))| v1::UnitTransfer {
            predecessor_unit_id: from,
            successor_unit_id: to,
            transferred,
            already_transferred: already,
        })
        .collect();
    v1::TransferOpenTasksResponse {
        effective_date: Some(date_to_proto(effective)),
        transferred: units.iter().map(|u| u.transferred).sum(),
        already_transferred: units.iter().map(|u| u.already_transferred).sum(),
        units,
        last_cursor,
    }
}
