//! Checks that the units, plans and reorganisations a request names exist,
//! before the request enters the writer queue: units and reorganisations
//! through the organisation service's (cached) directory, plans through the
//! task database (plans are never deleted, so a plan once seen is remembered).

use std::collections::HashSet;
use std::sync::{Arc, RwLock};

use sqlx::AnyPool;
use tasknet_directory::{DirectoryError, UnitDirectory};
use tasknet_proto::v1;

use crate::command::{CreatePlan, CreateTask};
use crate::error::{Error, Result};
use crate::store::query;

#[derive(Clone)]
pub struct References {
    directory: UnitDirectory,
    pool: AnyPool,
    known_plans: Arc<RwLock<HashSet<String>>>,
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

    pub async fn check_create_task(&self, create: &CreateTask) -> Result<()> {
        self.check_unit("task.assigning_unit_id", &create.assigning_unit_id)
            .await?;
        self.check_unit("task.assignee_unit_id", &create.assignee_unit_id)
            .await?;
        self.check_plans("task.plan_ids", &create.plan_ids).await
    }

    pub async fn check_create_plan(&self, create: &CreatePlan) -> Result<()> {
        self.check_unit("plan.owner_unit_id", &create.plan.owner_unit_id)
            .await
    }

    /// NOT_FOUND naming `field` unless the organisation service knows the unit.
    pub async fn check_unit(&self, field: &str, unit_id: &str) -> Result<()> {
        match self.directory.get(unit_id).await {
            Ok(Some(_)) => Ok(()),
            Ok(None) => Err(Error::not_found(
                field,
                format!("there is no unit {unit_id}"),
            )),
            Err(DirectoryError::Unavailable(message)) => Err(Error::Unavailable(format!(
                "cannot check {field}: {message}"
            ))),
        }
    }

    /// NOT_FOUND naming `field` and the first missing plan, if any is missing.
    pub async fn check_plans(&self, field: &str, plan_ids: &[String]) -> Result<()> {
        let unknown: Vec<String> = {
            let known = self.known_plans.read().unwrap_or_else(|e| e.into_inner());
            plan_ids
                .iter()
                .filter(|id| !known.contains(*id))
                .cloned()
                .collect()
        };
        if unknown.is_empty() {
            return Ok(());
        }
        let found = query::existing_plans(&self.pool, &unknown).await?;
        let missing = unknown.iter().find(|id| !found.contains(id));
        self.remember_plans(found);
        match missing {
            Some(id) => Err(Error::not_found(field, format!("there is no plan {id}"))),
            None => Ok(()),
        }
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

    /// Records plans known to exist (after a lookup, or after creating them).
    pub fn remember_plans(&self, plan_ids: impl IntoIterator<Item = String>) {
        let mut known = self.known_plans.write().unwrap_or_else(|e| e.into_inner());
        known.extend(plan_ids);
    }
}
