//! Reads behind TransferOpenTasks: the tasks ended units still hold, and
//! those tasks' changes, from which the day each passes on is decided.

use sqlx::{AnyPool, Row};
use tasknet_proto::prost::Message;
use tasknet_proto::v1;

use super::{Arg, IN_LIST_CHUNK, Sql, text_args};
use crate::error::{Error, Result};

/// (task id, assignee) of every task of `units` open on `completed_since`
/// or completed on or after it, by assignee and id.
pub async fn tasks_held_by(
    pool: &AnyPool,
    units: &[String],
    completed_since: i64,
) -> Result<Vec<(String, String)>> {
    let mut tasks = Vec::new();
    for chunk in units.chunks(IN_LIST_CHUNK) {
        let mut sql = Sql::new(
            "SELECT id, assignee_unit_id FROM tasks \
             WHERE (completed_on IS NULL OR completed_on >= ",
        );
        sql.arg(Arg::Int(completed_since))
            .push(") AND assignee_unit_id IN ")
            .list(text_args(chunk))
            .push(" ORDER BY assignee_unit_id, id");
        for row in sql.numbered().fetch_all(pool).await? {
            tasks.push((row.try_get("id")?, row.try_get("assignee_unit_id")?));
        }
    }
    Ok(tasks)
}

/// Every change of these tasks, each task's in log order.
pub async fn task_changes(
    pool: &AnyPool,
    task_ids: &[String],
) -> Result<Vec<(String, v1::Change)>> {
    let mut changes = Vec::new();
    for chunk in task_ids.chunks(IN_LIST_CHUNK) {
        let mut sql = Sql::new("SELECT task_id, payload FROM change_log WHERE task_id IN ");
        sql.list(text_args(chunk)).push(" ORDER BY task_id, cursor");
        for row in sql.numbered().fetch_all(pool).await? {
            let task_id: String = row.try_get("task_id")?;
            let payload: Vec<u8> = row.try_get("payload")?;
            let change = v1::Change::decode(payload.as_slice())
                .map_err(|e| Error::Internal(format!("change of task {task_id}: {e}")))?;
            changes.push((task_id, change));
        }
    }
    Ok(changes)
}
