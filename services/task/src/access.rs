//! Object-level access: which tasks and plans a caller may read and write,
//! judged from its principal (put in the request by the auth layer) and the
//! units its role covers. Creations are checked before they are queued;
//! updates in the writer, against the task as of the batch, so that no
//! write path (CreateTask, UpdateTask, Ingest) can reach another unit's task.

use std::sync::Arc;

use chrono::{DateTime, NaiveDate, Utc};
use tasknet_domain::vietnam_date;

use tasknet_auth::principal::{Principal, Role, role_name};
use tasknet_auth::{AuditEntry, AuthContext, Coverage};
use tasknet_directory::{DirectoryError, UnitDirectory};

use crate::command::CreateTask;
use crate::error::{Error, Result};
use crate::model::{PlanRecord, TaskState, validity};

/// A caller and the units its rights reach.
#[derive(Debug, Clone)]
pub struct Access {
    pub context: AuthContext,
    pub coverage: Coverage,
    /// The last day of the caller's unit, when a reorganisation ended it:
    /// its credentials write nothing that takes effect after that day.
    pub unit_ended: Option<NaiveDate>,
}

impl Access {
    /// Everything allowed (writer tests).
    #[cfg(test)]
    pub fn unrestricted() -> Arc<Self> {
        Arc::new(Self {
            context: AuthContext {
                principal: Principal::unrestricted(),
                peer: None,
                rpc: String::new(),
            },
            coverage: Coverage::All,
            unit_ended: None,
        })
    }

    /// The caller's access; unit leadership needs the unit hierarchy.
    pub async fn resolve(context: &AuthContext, directory: &UnitDirectory) -> Result<Arc<Self>> {
        let coverage = match Coverage::without_hierarchy(&context.principal) {
            Some(coverage) => coverage,
            None => {
                let units = directory
                    .all()
                    .await
                    .map_err(|DirectoryError::Unavailable(m)| {
                        Error::Unavailable(format!(
                            "cannot resolve the units this credential covers: {m}"
                        ))
                    })?;
                Coverage::of(&context.principal, &units)
            }
        };
        let unit_ended = match &context.principal.unit_id {
            Some(unit_id) => match directory.get(unit_id).await {
                Ok(unit) => unit.and_then(|unit| validity(&unit).1),
                Err(DirectoryError::Unavailable(m)) => {
                    return Err(Error::Unavailable(format!(
                        "cannot read the unit of this credential: {m}"
                    )));
                }
            },
            None => None,
        };
        Ok(Arc::new(Self {
            context: context.clone(),
            coverage,
            unit_ended,
        }))
    }

    fn principal(&self) -> &Principal {
        &self.context.principal
    }

    fn writes(&self) -> bool {
        matches!(
            self.principal().role,
            Role::Administrator | Role::OfficeAgent | Role::UnitLeadership
        )
    }

    fn denied(&self, field: &str, what: &str) -> Error {
        let scope = match &self.principal().unit_id {
            Some(unit) if self.principal().role == Role::UnitLeadership => {
                format!("unit {unit} and the units below it")
            }
            Some(unit) => format!("unit {unit} only"),
            None => "no unit".to_owned(),
        };
        Error::permission_denied(
            field,
            format!(
                "{what}; a {} credential covers {scope}",
                role_name(self.principal().role)
            ),
        )
    }

    /// Writes by a unit a reorganisation ended: nothing that takes effect
    /// after its last day (its history, recorded late, is still accepted).
    pub fn check_still_exists(&self, effective_time: DateTime<Utc>) -> Result<()> {
        match self.unit_ended {
            Some(ended) if vietnam_date(effective_time) > ended => Err(self.denied(
                "effective_time",
                &format!("the credential's unit ended on {ended} and takes no work after it"),
            )),
            _ => Ok(()),
        }
    }

    /// A new task: its assignee and its assigning unit must be among the
    /// covered units (an office assigns work in its own name only), and the
    /// caller's unit must still exist when it takes effect.
    pub fn check_create(&self, create: &CreateTask) -> Result<()> {
        if !self.writes() {
            return Err(self.denied("task", "this credential cannot write tasks"));
        }
        self.check_still_exists(create.effective_time)?;
        if !self.coverage.contains(&create.assignee_unit_id) {
            let what = format!(
                "may not create tasks assigned to unit {}",
                create.assignee_unit_id
            );
            return Err(self.denied("task.assignee_unit_id", &what));
        }
        if !self.coverage.contains(&create.assigning_unit_id) {
            let what = format!(
                "may not assign tasks on behalf of unit {}",
                create.assigning_unit_id
            );
            return Err(self.denied("task.assigning_unit_id", &what));
        }
        Ok(())
    }

    /// An update of `task` as it stands.
    pub fn check_update(&self, task: &TaskState) -> Result<()> {
        if !self.writes() {
            return Err(self.denied("task_id", "this credential cannot write tasks"));
        }
        if !self.coverage.contains(&task.assignee_unit_id) {
            let what = format!(
                "task {} is assigned to unit {}",
                task.id, task.assignee_unit_id
            );
            return Err(self.denied("task_id", &what));
        }
        Ok(())
    }

    /// A new plan: leadership plans only for units it covers.
    pub fn check_plan(&self, plan: &PlanRecord) -> Result<()> {
        match self.principal().role {
            Role::Administrator => Ok(()),
            Role::UnitLeadership if self.coverage.contains(&plan.owner_unit_id) => Ok(()),
            _ => Err(self.denied(
                "plan.owner_unit_id",
                &format!("may not create plans of unit {}", plan.owner_unit_id),
            )),
        }
    }

    /// Adding a task to `plan_id`, owned by `owner_unit_id`: only to plans
    /// of units the caller covers (an office, its own unit's plans).
    pub fn check_membership(&self, plan_id: &str, owner_unit_id: &str) -> Result<()> {
        if self.coverage.contains(owner_unit_id) {
            return Ok(());
        }
        Err(self.denied(
            "task.plan_ids",
            &format!("may not add tasks to plan {plan_id} of unit {owner_unit_id}"),
        ))
    }

    /// Whether the caller may read `task`. Another unit's task answers
    /// exactly as a task that does not exist: a caller learns nothing of it.
    pub fn check_read(&self, task: &TaskState) -> Result<()> {
        if self.coverage.contains(&task.assignee_unit_id) {
            return Ok(());
        }
        Err(not_found_task(&task.id))
    }

    /// The assignee filter a ListTasks request runs with: as asked when the
    /// caller covers it; the caller's own unit when it asked for none and
    /// covers one unit only; refused otherwise.
    pub fn list_scope(&self, requested: Option<String>) -> Result<Option<String>> {
        match (&self.coverage, requested) {
            (Coverage::All, requested) => Ok(requested),
            (coverage, Some(unit)) if coverage.contains(&unit) => Ok(Some(unit)),
            (_, Some(unit)) => Err(self.denied(
                "assignee_unit_id",
                &format!("may not list the tasks of unit {unit}"),
            )),
            (Coverage::Units(units), None) if units.len() == 1 => Ok(units.iter().next().cloned()),
            (_, None) => Err(self.denied(
                "assignee_unit_id",
                "is required: name one of the units this credential covers",
            )),
        }
    }

    /// The unit a `WatchUnitTasks` request follows: an office agent its
    /// own unit only (the one it names, or none), administrators and
    /// services any unit they name; no other credential follows a unit.
    pub fn feed_unit(&self, requested: &str) -> Result<String> {
        let principal = self.principal();
        match (principal.role, principal.unit_id.as_deref()) {
            (Role::Administrator | Role::Service, _) if requested.is_empty() => Err(
                Error::invalid("unit_id", "is required: the unit whose tasks to follow"),
            ),
            (Role::Administrator | Role::Service, _) => Ok(requested.to_owned()),
            (Role::OfficeAgent, Some(own)) if requested.is_empty() || requested == own => {
                Ok(own.to_owned())
            }
            (Role::OfficeAgent, Some(_)) => Err(self.denied(
                "unit_id",
                &format!("may not follow the tasks of unit {requested}"),
            )),
            _ => Err(self.denied("unit_id", "this credential cannot follow a unit's tasks")),
        }
    }

    /// An audit record of an accepted change by this caller.
    pub fn audit(&self, target: String, subject_unit_id: &str) -> AuditEntry {
        AuditEntry::accepted(&self.context, target, subject_unit_id)
    }
}

/// The answer for a task id that names no task (or none the caller may see).
pub fn not_found_task(id: &str) -> Error {
    Error::not_found("task_id", format!("there is no task {id}"))
}
