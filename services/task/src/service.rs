//! The `tasknet.v1.TaskService` RPCs. Each handler validates its request,
//! checks references, and either submits a mutation to the writer or reads
//! the database; errors become `Status` through `From<Error>` only.

use chrono::Utc;
use sqlx::AnyPool;
use tasknet_domain::{DatePeriod, date_to_storage};
use tasknet_proto::tonic::{self, Request, Response, Status};
use tasknet_proto::v1;
use tasknet_server::Shutdown;
use tokio::sync::watch;
use tokio_stream::wrappers::ReceiverStream;

use std::sync::Arc;

use tasknet_auth::{AuditLog, AuthContext};

use crate::access::Access;
use crate::error::{Error, Result};
use crate::pagination::{self, page_size};
use crate::references::References;
use crate::request::{self, Mutation};
use crate::store::query::{self, PlanFilter, TaskFilter};
use crate::writer::{Outcome, TaskAck, WriterHandle};
use crate::{ingest, watch as follow};

/// The service's shared state; one clone per connection.
#[derive(Clone)]
pub struct TaskGrpc {
    pub(crate) pool: AnyPool,
    pub(crate) writer: WriterHandle,
    pub(crate) references: References,
    pub(crate) newest: watch::Receiver<i64>,
    pub(crate) shutdown: Shutdown,
    pub(crate) audit: AuditLog,
}

impl TaskGrpc {
    /// The caller's access (the units its credential covers).
    pub(crate) async fn access(&self, context: &AuthContext) -> Result<Arc<Access>> {
        Access::resolve(context, self.references.directory()).await
    }

    /// Validates a creation, checks the caller may make it, and checks the
    /// units and plans it names.
    pub(crate) async fn prepare_create(
        &self,
        request: &v1::CreateTaskRequest,
        access: &Access,
    ) -> Result<Mutation> {
        let create = request::validate_create_task(request, Utc::now())?;
        access.check_create(&create)?;
        self.references.check_create_task(&create).await?;
        Ok(Mutation::CreateTask(create))
    }

    pub(crate) fn prepare_update(&self, request: &v1::UpdateTaskRequest) -> Result<Mutation> {
        Ok(Mutation::UpdateTask(request::validate_update_task(
            request,
            Utc::now(),
        )?))
    }

    /// Submits a task mutation and waits for its acknowledgement.
    async fn submit_task(&self, mutation: Mutation, access: Arc<Access>) -> Result<TaskAck> {
        match self.writer.submit(mutation, access).await? {
            Outcome::Task(ack) => Ok(ack),
            Outcome::Plan { .. } => {
                Err(Error::Internal("a task mutation answered as a plan".into()))
            }
        }
    }

    /// The task as an acknowledged change left it; for a repeat, as the
    /// change log recorded it then.
    async fn task_after(&self, ack: &TaskAck) -> Result<v1::Task> {
        if let Some(task) = &ack.task {
            return Ok(task.clone());
        }
        let change = query::change_at(&self.pool, ack.cursor).await?;
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

    #[tracing::instrument(skip_all, fields(task_id = %request.task_id, update_id = %request.update_id))]
    async fn create_task(
        &self,
        request: v1::CreateTaskRequest,
        access: Arc<Access>,
    ) -> Result<v1::CreateTaskResponse> {
        let mutation = self.prepare_create(&request, &access).await?;
        let ack = self.submit_task(mutation, access).await?;
        Ok(v1::CreateTaskResponse {
            task: Some(self.task_after(&ack).await?),
            duplicate: ack.duplicate,
            cursor: ack.cursor,
        })
    }

    #[tracing::instrument(skip_all, fields(task_id = %request.task_id, update_id = %request.update_id))]
    async fn update_task(
        &self,
        request: v1::UpdateTaskRequest,
        access: Arc<Access>,
    ) -> Result<v1::UpdateTaskResponse> {
        let mutation = self.prepare_update(&request)?;
        let ack = self.submit_task(mutation, access).await?;
        Ok(v1::UpdateTaskResponse {
            task: Some(self.task_after(&ack).await?),
            duplicate: ack.duplicate,
            cursor: ack.cursor,
        })
    }

    #[tracing::instrument(skip_all, fields(task_id = %request.task_id))]
    async fn get_task(
        &self,
        request: v1::GetTaskRequest,
        access: &Access,
    ) -> Result<v1::GetTaskResponse> {
        let id = request::uuid_any("task_id", &request.task_id)?;
        let task = query::get_task(&self.pool, &id)
            .await?
            .ok_or_else(|| Error::not_found("task_id", format!("there is no task {id}")))?;
        access.check_read(&task)?;
        Ok(v1::GetTaskResponse {
            task: Some(task.to_proto()),
        })
    }

    #[tracing::instrument(skip_all)]
    async fn list_tasks(
        &self,
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
        let (from, to) = request::optional_date_range("assigned", request.assigned.as_ref())?;
        let limit = page_size(request.page_size)?;
        let filter = TaskFilter {
            assignee_unit_id: access.list_scope(request::optional_uuid(
                "assignee_unit_id",
                &request.assignee_unit_id,
            )?)?,
            plan_id: request::optional_uuid("plan_id", &request.plan_id)?,
            status,
            assigned_from: from.map(date_to_storage),
            assigned_to: to.map(date_to_storage),
            after: pagination::parse_task_token(&request.page_token)?,
            limit: limit + 1,
        };
        let mut tasks = query::list_tasks(&self.pool, &filter).await?;
        let more = tasks.len() as i64 > limit;
        tasks.truncate(limit as usize);
        let next_page_token = match tasks.last() {
            Some(last) if more => {
                pagination::task_token(date_to_storage(last.assigned_date), &last.id)
            }
            _ => String::new(),
        };
        Ok(v1::ListTasksResponse {
            tasks: tasks.iter().map(|task| task.to_proto()).collect(),
            next_page_token,
        })
    }

    #[tracing::instrument(skip_all, fields(plan_id = %request.plan_id))]
    async fn create_plan(
        &self,
        request: v1::CreatePlanRequest,
        access: Arc<Access>,
    ) -> Result<v1::CreatePlanResponse> {
        let create = request::validate_create_plan(&request)?;
        access.check_plan(&create.plan)?;
        self.references.check_create_plan(&create).await?;
        match self
            .writer
            .submit(Mutation::CreatePlan(create), access)
            .await?
        {
            Outcome::Plan { plan, .. } => {
                self.references.remember_plans([plan.id.clone()]);
                Ok(v1::CreatePlanResponse {
                    plan: Some(plan.to_proto()),
                })
            }
            Outcome::Task(_) => Err(Error::Internal("a plan mutation answered as a task".into())),
        }
    }

    #[tracing::instrument(skip_all, fields(plan_id = %request.plan_id))]
    async fn get_plan(&self, request: v1::GetPlanRequest) -> Result<v1::GetPlanResponse> {
        let id = request::uuid_any("plan_id", &request.plan_id)?;
        let plan = query::get_plan(&self.pool, &id)
            .await?
            .ok_or_else(|| Error::not_found("plan_id", format!("there is no plan {id}")))?;
        Ok(v1::GetPlanResponse {
            plan: Some(plan.to_proto()),
        })
    }

    #[tracing::instrument(skip_all)]
    async fn list_plans(&self, request: v1::ListPlansRequest) -> Result<v1::ListPlansResponse> {
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
            owner_unit_id: request::optional_uuid("owner_unit_id", &request.owner_unit_id)?,
            overlaps,
            after: pagination::parse_plan_token(&request.page_token)?,
            limit: limit + 1,
        };
        let mut plans = query::list_plans(&self.pool, &filter).await?;
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
}

type Reply<T> = std::result::Result<Response<T>, Status>;

#[tonic::async_trait]
impl v1::task_service_server::TaskService for TaskGrpc {
    async fn create_plan(
        &self,
        request: Request<v1::CreatePlanRequest>,
    ) -> Reply<v1::CreatePlanResponse> {
        let access = self.access(AuthContext::of(&request)?).await?;
        Ok(Response::new(
            TaskGrpc::create_plan(self, request.into_inner(), access).await?,
        ))
    }

    async fn get_plan(&self, request: Request<v1::GetPlanRequest>) -> Reply<v1::GetPlanResponse> {
        Ok(Response::new(
            TaskGrpc::get_plan(self, request.into_inner()).await?,
        ))
    }

    async fn list_plans(
        &self,
        request: Request<v1::ListPlansRequest>,
    ) -> Reply<v1::ListPlansResponse> {
        Ok(Response::new(
            TaskGrpc::list_plans(self, request.into_inner()).await?,
        ))
    }

    async fn create_task(
        &self,
        request: Request<v1::CreateTaskRequest>,
    ) -> Reply<v1::CreateTaskResponse> {
        let access = self.access(AuthContext::of(&request)?).await?;
        Ok(Response::new(
            TaskGrpc::create_task(self, request.into_inner(), access).await?,
        ))
    }

    async fn update_task(
        &self,
        request: Request<v1::UpdateTaskRequest>,
    ) -> Reply<v1::UpdateTaskResponse> {
        let access = self.access(AuthContext::of(&request)?).await?;
        Ok(Response::new(
            TaskGrpc::update_task(self, request.into_inner(), access).await?,
        ))
    }

    async fn get_task(&self, request: Request<v1::GetTaskRequest>) -> Reply<v1::GetTaskResponse> {
        let access = self.access(AuthContext::of(&request)?).await?;
        Ok(Response::new(
            TaskGrpc::get_task(self, request.into_inner(), &access).await?,
        ))
    }

    async fn list_tasks(
        &self,
        request: Request<v1::ListTasksRequest>,
    ) -> Reply<v1::ListTasksResponse> {
        let access = self.access(AuthContext::of(&request)?).await?;
        Ok(Response::new(
            TaskGrpc::list_tasks(self, request.into_inner(), &access).await?,
        ))
    }

    type IngestStream = ReceiverStream<std::result::Result<v1::IngestResponse, Status>>;

    async fn ingest(
        &self,
        request: Request<tonic::Streaming<v1::IngestRequest>>,
    ) -> Reply<Self::IngestStream> {
        let access = self.access(AuthContext::of(&request)?).await?;
        Ok(Response::new(ingest::start(
            self.clone(),
            access,
            request.into_inner(),
        )))
    }

    type WatchChangesStream = ReceiverStream<std::result::Result<v1::WatchChangesResponse, Status>>;

    async fn watch_changes(
        &self,
        request: Request<v1::WatchChangesRequest>,
    ) -> Reply<Self::WatchChangesStream> {
        Ok(Response::new(follow::start(
            self.clone(),
            request.into_inner(),
        )?))
    }

    async fn list_audit_records(
        &self,
        request: Request<v1::ListAuditRecordsRequest>,
    ) -> Reply<v1::ListAuditRecordsResponse> {
        Ok(Response::new(self.audit.list_rpc(request.get_ref()).await?))
    }

    async fn transfer_open_tasks(
        &self,
        request: Request<v1::TransferOpenTasksRequest>,
    ) -> Reply<v1::TransferOpenTasksResponse> {
        let access = self.access(AuthContext::of(&request)?).await?;
        Ok(Response::new(
            TaskGrpc::transfer_open_tasks(self, request.into_inner(), access).await?,
        ))
    }
}
