//! Deciding a reassignment within a batch, like any other task update:
//! access first, then a repeat of its update id, then the transition.

use super::{Batch, Pending, task_json};
use crate::access::Access;
use crate::error::{Error, Result};
use crate::reassign::{self, Reassign};

impl Batch {
    pub(super) fn reassign(&mut self, reassign: &Reassign, access: &Access) -> Result<Pending> {
        if let Some(current) = self.tasks.get(&reassign.task_id) {
            access.check_update(current)?;
        }
        if let Some(repeat) = self.repeat(&reassign.update_id, &reassign.digest) {
            return repeat;
        }
        let current = self.tasks.get(&reassign.task_id).ok_or_else(|| {
            Error::not_found("task_id", format!("there is no task {}", reassign.task_id))
        })?;
        let transition = reassign::transition(current, reassign, self.record_time_us)?;
        let audit = access
            .audit(format!("task/{}", current.id), &current.assignee_unit_id)
            .with_change(Some(task_json(current)), None);
        Ok(self.record(&reassign.update_id, &reassign.digest, transition, audit))
    }
}
