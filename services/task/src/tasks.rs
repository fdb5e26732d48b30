//! The task RPCs (CreateTask, UpdateTask, GetTask, ListTasks), and the
//! admission of a task mutation that they share with Ingest: parse the
//! request, check the caller may make it, check what it names exists.

use std::sync::Arc;

use chrono::Utc;
use tasknet_domain::date_to_storage;
use tasknet_proto::v1;

use crate::access::Access;
use crate::command::Mutation;
use crate::error::{Error, Result};
use crate::pagination::{self, page_size};
use crate::parse;
use crate::references::References;
use crate::state::ServiceState;
use crate::store::query::{self, TaskFilter};
use crate::writer::{Outcome, TaskAck};

/// A creation, ready for the writer: parsed, allowed to the caller, and
/// naming units and plans that exist.
pub async fn admit_create(
    references: &References,
    request: &v1::CreateTaskRequest,
    access: &Access,
) -> Result<Mutation> {
    let create = parse::create_task(request, Utc::now())?;
    access.check_create(&create)?;
    references.check_create_task(&create, access).await?;
    Ok(Mutation::CreateTask(create))
}

/// An update, ready for the writer (whether the caller may make it is
/// judged by the writer, against the task as of its batch).
pub fn admit_update(request: &v1::UpdateTaskRequest) -> Result<Mutation> {
    Ok(Mutation::UpdateTask(parse::update_task(
        request,
        Utc::now(),
    )?))
}

#[tracing::instrument(skip_all, fields(task_id = %request.task_id, update_id = %request.update_id))]
pub async fn create(
    state: &ServiceState,
    request: v1::CreateTaskRequest,
    access: Arc<Access>,
) -> Result<v1::CreateTaskResponse> {
    let mutation = admit_create(&state.references, &request, &access).await?;
    let ack = submit(state, mutation, access).await?;
    Ok(v1::CreateTaskResponse {
        task: Some(task_after(state, &ack).await?),
        duplicate: ack.duplicate,
        cursor: ack.cursor,
    })
}

#[tracing::instrument(skip_all, fields(task_id = %request.task_id, update_id = %request.update_id))]
pub async fn update(
    state: &ServiceState,
    request: v1::UpdateTaskRequest,
    access: Arc<Access>,
) -> Result<v1::UpdateTaskResponse> {
    let mutation = admit_update(&request)?;
    let ack = submit(state, mutation, access).await?;
    Ok(v1::UpdateTaskResponse {
        task: Some(task_after(state, &ack).await?),
        duplicate: ack.duplicate,
        cursor: ack.cursor,
    })
}

/// Submits a task mutation and waits for its acknowledgement.
async fn submit(state: &ServiceState, mutation: Mutation, access: Arc<Access>) -> Result<TaskAck> {
    match state.writer.submit(mutation, access).await? {
        Outcome::Task(ack) => Ok(ack),
        Outcome::Plan { .. } => Err(Error::Internal("a task mutation answered as a plan".into())),
    }
}

/// The task as an acknowledged change left it; for a repeat, as the
/// change log recorded it then.
async fn task_after(state: &ServiceState, ack: &TaskAck) -> Result<v1::Task> {
    if let Some(task) = &ack.task {
        return Ok(task.clone());
    }
    let change = query::change_at(&state.pool, ack.cursor).await?;
    match change.and_then(|change| change.event) {
        Some(v1::change::Event::TaskEvent(event)) => event
            .task
            .ok_or_else(|| Error::Internal(format!("change {} has no task", ack.cursor))),
        _ => Err(Error::Internal(format!(
            "change {} is not a task event",
            ack.cursor
        ))),
    }
}

#[tracing::instrument(skip_all, fields(task_id = %request.task_id))]
pub async fn get(
    state: &ServiceState,
    request: v1::GetTaskRequest,
    access: &Access,
) -> Result<v1::GetTaskResponse> {
    let id = parse::uuid_any("task_id", &request.task_id)?;
    let task = query::get_task(&state.pool, &id)
        .await?
        .ok_or_else(|| crate::access::not_found_task(&id))?;
    access.check_read(&task)?;
    Ok(v1::GetTaskResponse {
        task: Some(task.to_proto()),
    })
}

#[tracing::instrument(skip_all)]
pub async fn list(
    state: &ServiceState,
    request: v1::ListTasksRequest,
    access: &Access,
) -> Result<v1::ListTasksResponse> {
    let status = match v1::TaskStatus::try_from(request.status) {
        Ok(v1::TaskStatus::Unspecified) => None,
        Ok(status) => Some(status),
        Err(_) => {
            return Err(Error::invalid(
                "status",
                format!("{} is not a task status", request.status),
            ));
        }
    };
    let (from, to) = parse::optional_date_range("assigned", request.assigned.as_ref())?;
    let limit = page_size(request.page_size)?;
    let filter = TaskFilter {
        assignee_unit_id: access.list_scope(parse::optional_uuid(
            "assignee_unit_id",
            &request.assignee_unit_id,
        )?)?,
        plan_id: parse::optional_uuid("plan_id", &request.plan_id)?,
        status,
        assigned_from: from.map(date_to_storage),
        assigned_to: to.map(date_to_storage),
        after: pagination::parse_task_token(&request.page_token)?,
        limit: limit + 1,
    };
    let mut tasks = query::list_tasks(&state.pool, &filter).await?;
    let more = tasks.len() as i64 > limit;
    tasks.truncate(limit as usize);
    let next_page_token = match tasks.last() {
        Some(last) if more => pagination::task_token(date_to_storage(last.assigned_date), &last.id),
        _ => String::new(),
    };
    Ok(v1::ListTasksResponse {
        tasks: tasks.iter().map(|task| task.to_proto()).collect(),
        next_page_token,
    })
}
