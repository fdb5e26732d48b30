//! Object-level access: which tasks and plans a caller may read and write,
//! judged from its principal (put in the request by the auth layer) and the
//! units its role covers. Creations are checked before they are queued;
//! updates in the writer, against the task as of the batch, so that no
//! write path (CreateTask, UpdateTask, Ingest) can reach another unit's task.

use std::sync::Arc;

use tasknet_auth::principal::{Principal, Role, role_name};
use tasknet_auth::{AuditEntry, AuthContext, Coverage};
use tasknet_directory::{DirectoryError, UnitDirectory};

use crate::command::CreateTask;
use crate::error::{Error, Result};
use crate::model::{PlanRecord, TaskState};

/// A caller and the units its rights reach.
#[derive(Debug, Clone)]
pub struct Access {
    pub context: AuthContext,
    pub coverage: Coverage,
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
        Ok(Arc::new(Self {
            context: context.clone(),
            coverage,
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
        Error::PermissionDenied(format!(
            "{field}: {what}; a {} credential covers {scope}",
            role_name(self.principal().role)
        ))
    }

    /// A new task: its assignee (and, for leadership, its assigning unit)
    /// must be among the covered units.
    pub fn check_create(&self, create: &CreateTask) -> Result<()> {
        if !self.writes() {
            return Err(self.denied("task", "this credential cannot write tasks"));
        }
        if !self.coverage.contains(&create.assignee_unit_id) {
            let what = format!(
                "may not create tasks assigned to unit {}",
                create.assignee_unit_id
            );
            return Err(self.denied("task.assignee_unit_id", &what));
        }
        if self.principal().role == Role::UnitLeadership
            && !self.coverage.contains(&create.assigning_unit_id)
        {
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

    /// Whether the caller may read `task`.
    pub fn check_read(&self, task: &TaskState) -> Result<()> {
        if self.coverage.contains(&task.assignee_unit_id) {
            return Ok(());
        }
        let what = format!(
            "task {} is assigned to unit {}",
            task.id, task.assignee_unit_id
        );
        Err(self.denied("task_id", &what))
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

    /// An audit record of an accepted change by this caller.
    pub fn audit(&self, target: String, subject_unit_id: &str) -> AuditEntry {
        AuditEntry::accepted(&self.context, target, subject_unit_id)
    }
}
