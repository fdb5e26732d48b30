//! Checks that the units, plans and reorganisations a request names exist,
//! before the request enters the writer queue: units and reorganisations
//! through the organisation service's (cached) directory, plans through the
//! task database (plans are never deleted, so a plan once seen is remembered).

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use chrono::NaiveDate;
use sqlx::AnyPool;
use tasknet_directory::{DirectoryError, UnitDirectory};
use tasknet_domain::optional_date_from_proto;
use tasknet_proto::v1;

use crate::access::Access;
use crate::command::{CreatePlan, CreateTask};
use crate::error::{Error, Result};
use crate::store::query;

#[derive(Clone)]
pub struct References {
    directory: UnitDirectory,
    pool: AnyPool,
    /// Plans known to exist, with the unit that owns each (owners never change).
    known_plans: Arc<RwLock<HashMap<String, String>>>,
}

impl References {
    pub fn new(directory: UnitDirectory, pool: AnyPool) -> Self {
        Self {
            directory,
            pool,
            known_plans: Arc::default(),
        }
    }

    pub fn directory(&self) -> &UnitDirectory {
        &self.directory
    }

    /// The units a creation names exist and existed on its assigned date;
    /// its plans exist and `access` may add tasks to each (see
    /// [`Access::check_membership`]).
    pub async fn check_create_task(&self, create: &CreateTask, access: &Access) -> Result<()> {
        let on = create.assigned_date;
        self.check_unit_on("task.assigning_unit_id", &create.assigning_unit_id, on)
            .await?;
        self.check_unit_on("task.assignee_unit_id", &create.assignee_unit_id, on)
            .await?;
        for (plan_id, owner) in self.check_plans("task.plan_ids", &create.plan_ids).await? {
            access.check_membership(&plan_id, &owner)?;
        }
        Ok(())
    }

    pub async fn check_create_plan(&self, create: &CreatePlan) -> Result<()> {
        self.check_unit("plan.owner_unit_id", &create.plan.owner_unit_id)
            .await
            .map(drop)
    }

    /// NOT_FOUND naming `field` unless the organisation service knows the unit.
    pub async fn check_unit(&self, field: &str, unit_id: &str) -> Result<Arc<v1::Unit>> {
        match self.directory.get(unit_id).await {
            Ok(Some(unit)) => Ok(unit),
            Ok(None) => Err(Error::not_found(
                field,
                format!("there is no unit {unit_id}"),
            )),
            Err(DirectoryError::Unavailable(message)) => Err(Error::Unavailable(format!(
                "cannot check {field}: {message}"
            ))),
        }
    }

    /// [`Self::check_unit`], and FAILED_PRECONDITION naming `field` unless
    /// the unit existed on `date` (a unit a reorganisation ended takes no
    /// new work after its last day).
    pub async fn check_unit_on(&self, field: &str, unit_id: &str, date: NaiveDate) -> Result<()> {
        let unit = self.check_unit(field, unit_id).await?;
        let (from, to) = validity(&unit);
        if from.is_some_and(|from| date < from) || to.is_some_and(|to| date > to) {
            let span = match (from, to) {
                (Some(from), Some(to)) => format!("from {from} to {to}"),
                (Some(from), None) => format!("from {from}"),
                (None, Some(to)) => format!("until {to}"),
                (None, None) => String::new(),
            };
            return Err(Error::failed_precondition(
                field,
                format!("unit {unit_id} exists {span}, not on {date}"),
            ));
        }
        Ok(())
    }

    /// NOT_FOUND naming `field` and the first missing plan, if any is
    /// missing; otherwise each plan with its owner.
    pub async fn check_plans(
        &self,
        field: &str,
        plan_ids: &[String],
    ) -> Result<Vec<(String, String)>> {
        let lookup = |known: &HashMap<String, String>| -> Vec<(String, Option<String>)> {
            plan_ids
                .iter()
                .map(|id| (id.clone(), known.get(id).cloned()))
                .collect()
        };
        let mut plans = lookup(&self.known_plans.read().unwrap_or_else(|e| e.into_inner()));
        let unknown: Vec<String> = plans
            .iter()
            .filter(|(_, owner)| owner.is_none())
            .map(|(id, _)| id.clone())
            .collect();
        if !unknown.is_empty() {
            let found = query::plan_owners(&self.pool, &unknown).await?;
            self.remember_plans(found);
            plans = lookup(&self.known_plans.read().unwrap_or_else(|e| e.into_inner()));
        }
        plans
            .into_iter()
            .map(|(id, owner)| match owner {
                Some(owner) => Ok((id, owner)),
                None => Err(Error::not_found(field, format!("there is no plan {id}"))),
            })
            .collect()
    }

    /// The reorganisation a request names, as the organisation service has it.
    pub async fn reorganisation(
        &self,
        reorganisation_id: &str,
    ) -> Result<v1::GetReorganisationResponse> {
        self.directory
            .reorganisation(reorganisation_id)
            .await
            .map_err(|DirectoryError::Unavailable(m)| {
                Error::Unavailable(format!("cannot read the reorganisation: {m}"))
            })?
            .ok_or_else(|| {
                Error::not_found(
                    "reorganisation_id",
                    format!("the organisation service has no reorganisation {reorganisation_id}"),
                )
            })
    }

    /// Records plans known to exist, with their owners (after a lookup, or
    /// after creating them).
    pub fn remember_plans(&self, plans: impl IntoIterator<Item = (String, String)>) {
        let mut known = self.known_plans.write().unwrap_or_else(|e| e.into_inner());
        known.extend(plans);
    }
}

/// A unit's first and last day, as the organisation service has them.
pub fn validity(unit: &v1::Unit) -> (Option<NaiveDate>, Option<NaiveDate>) {
    let day = |date: Option<&v1::Date>| optional_date_from_proto("", date).ok().flatten();
    (day(unit.valid_from.as_ref()), day(unit.valid_to.as_ref()))
}
