//! The plan RPCs: CreatePlan (through the writer), GetPlan and ListPlans.

use std::sync::Arc;

use tasknet_domain::{DatePeriod, date_to_storage};
use tasknet_proto::v1;

use crate::access::Access;
use crate::command::Mutation;
use crate::error::{Error, Result};
use crate::pagination::{self, page_size};
use crate::parse;
use crate::state::ServiceState;
use crate::store::query::{self, PlanFilter};
use crate::writer::Outcome;

#[tracing::instrument(skip_all, fields(plan_id = %request.plan_id))]
pub async fn create(
    state: &ServiceState,
    request: v1::CreatePlanRequest,
    access: Arc<Access>,
) -> Result<v1::CreatePlanResponse> {
    let create = parse::create_plan(&request)?;
    access.check_plan(&create.plan)?;
    state.references.check_create_plan(&create).await?;
    match state
        .writer
        .submit(Mutation::CreatePlan(create), access)
        .await?
    {
        Outcome::Plan { plan, .. } => {
            state
                .references
                .remember_plans([(plan.id.clone(), plan.owner_unit_id.clone())]);
            Ok(v1::CreatePlanResponse {
                plan: Some(plan.to_proto()),
            })
        }
        Outcome::Task(_) => Err(Error::Internal("a plan mutation answered as a task".into())),
    }
}

#[tracing::instrument(skip_all, fields(plan_id = %request.plan_id))]
pub async fn get(state: &ServiceState, request: v1::GetPlanRequest) -> Result<v1::GetPlanResponse> {
    let id = parse::uuid_any("plan_id", &request.plan_id)?;
    let plan = query::get_plan(&state.pool, &id)
        .await?
        .ok_or_else(|| Error::not_found("plan_id", format!("there is no plan {id}")))?;
    Ok(v1::GetPlanResponse {
        plan: Some(plan.to_proto()),
    })
}

#[tracing::instrument(skip_all)]
pub async fn list(
    state: &ServiceState,
    request: v1::ListPlansRequest,
) -> Result<v1::ListPlansResponse> {
    let kind = match v1::PlanKind::try_from(request.kind) {
        Ok(v1::PlanKind::Unspecified) => None,
        Ok(kind) => Some(kind),
        Err(_) => {
            return Err(Error::invalid(
                "kind",
                format!("{} is not a plan kind", request.kind),
            ));
        }
    };
    let overlaps = match request
        .period
        .as_ref()
        .filter(|period| period.kind.is_some())
    {
        Some(period) => {
            let period = DatePeriod::from_proto("period", Some(period))?;
            Some((date_to_storage(period.start), date_to_storage(period.end)))
        }
        None => None,
    };
    let limit = page_size(request.page_size)?;
    let filter = PlanFilter {
        kind,
        owner_unit_id: parse::optional_uuid("owner_unit_id", &request.owner_unit_id)?,
        overlaps,
        after: pagination::parse_plan_token(&request.page_token)?,
        limit: limit + 1,
    };
    let mut plans = query::list_plans(&state.pool, &filter).await?;
    let more = plans.len() as i64 > limit;
    plans.truncate(limit as usize);
    let next_page_token = match plans.last() {
        Some(last) if more => pagination::plan_token(&last.id),
        _ => String::new(),
    };
    Ok(v1::ListPlansResponse {
        plans: plans.iter().map(|plan| plan.to_proto()).collect(),
        next_page_token,
    })
}
