//! The `tasknet.v1.TaskService` RPCs, dispatch only: each resolves the
//! caller's access where it needs one (the auth layer has authenticated the
//! call) and hands the request to the module that serves it; errors become
//! `Status` through `From<Error>` only.

use tasknet_auth::AuthContext;
use tasknet_proto::tonic::{self, Request, Response, Status};
use tasknet_proto::v1;

use crate::change_feed::{ChangeStream, UnitTaskStream};
use crate::state::ServiceState;
use crate::{ingest, plans, tasks, transfer};

/// The tonic service: the shared state, one clone per connection.
#[derive(Clone)]
pub struct TaskGrpc {
    state: ServiceState,
}

impl TaskGrpc {
    pub(crate) fn new(state: ServiceState) -> Self {
        Self { state }
    }
}

type Reply<T> = std::result::Result<Response<T>, Status>;

#[tonic::async_trait]
impl v1::task_service_server::TaskService for TaskGrpc {
    async fn create_plan(
        &self,
        request: Request<v1::CreatePlanRequest>,
    ) -> Reply<v1::CreatePlanResponse> {
        let access = self.state.access(AuthContext::of(&request)?).await?;
        Ok(Response::new(
            plans::create(&self.state, request.into_inner(), access).await?,
        ))
    }

    async fn get_plan(&self, request: Request<v1::GetPlanRequest>) -> Reply<v1::GetPlanResponse> {
        Ok(Response::new(
            plans::get(&self.state, request.into_inner()).await?,
        ))
    }

    async fn list_plans(
        &self,
        request: Request<v1::ListPlansRequest>,
    ) -> Reply<v1::ListPlansResponse> {
        Ok(Response::new(
            plans::list(&self.state, request.into_inner()).await?,
        ))
    }

    async fn create_task(
        &self,
        request: Request<v1::CreateTaskRequest>,
    ) -> Reply<v1::CreateTaskResponse> {
        let access = self.state.access(AuthContext::of(&request)?).await?;
        Ok(Response::new(
            tasks::create(&self.state, request.into_inner(), access).await?,
        ))
    }

    async fn update_task(
        &self,
        request: Request<v1::UpdateTaskRequest>,
    ) -> Reply<v1::UpdateTaskResponse> {
        let access = self.state.access(AuthContext::of(&request)?).await?;
        Ok(Response::new(
            tasks::update(&self.state, request.into_inner(), access).await?,
        ))
    }

    async fn get_task(&self, request: Request<v1::GetTaskRequest>) -> Reply<v1::GetTaskResponse> {
        let access = self.state.access(AuthContext::of(&request)?).await?;
        Ok(Response::new(
            tasks::get(&self.state, request.into_inner(), &access).await?,
        ))
    }

    async fn list_tasks(
        &self,
        request: Request<v1::ListTasksRequest>,
    ) -> Reply<v1::ListTasksResponse> {
        let access = self.state.access(AuthContext::of(&request)?).await?;
        Ok(Response::new(
            tasks::list(&self.state, request.into_inner(), &access).await?,
        ))
    }

    type IngestStream = ingest::IngestStream;

    async fn ingest(
        &self,
        request: Request<tonic::Streaming<v1::IngestRequest>>,
    ) -> Reply<Self::IngestStream> {
        let access = self.state.access(AuthContext::of(&request)?).await?;
        Ok(Response::new(ingest::start(
            self.state.clone(),
            access,
            request.into_inner(),
        )))
    }

    type WatchChangesStream = ChangeStream;

    async fn watch_changes(
        &self,
        request: Request<v1::WatchChangesRequest>,
    ) -> Reply<Self::WatchChangesStream> {
        let credential = AuthContext::of(&request)?.principal.credential_id.clone();
        Ok(Response::new(
            self.state.feed.watch(request.into_inner(), &credential)?,
        ))
    }

    type WatchUnitTasksStream = UnitTaskStream;

    async fn watch_unit_tasks(
        &self,
        request: Request<v1::WatchUnitTasksRequest>,
    ) -> Reply<Self::WatchUnitTasksStream> {
        let access = self.state.access(AuthContext::of(&request)?).await?;
        let unit_id = access.feed_unit(&request.get_ref().unit_id)?;
        self.state
            .references
            .check_unit("unit_id", &unit_id)
            .await?;
        let credential = &access.context.principal.credential_id;
        Ok(Response::new(self.state.feed.watch_unit(
            unit_id,
            request.get_ref(),
            credential,
        )?))
    }

    async fn list_audit_records(
        &self,
        request: Request<v1::ListAuditRecordsRequest>,
    ) -> Reply<v1::ListAuditRecordsResponse> {
        Ok(Response::new(
            self.state.audit.list_rpc(request.get_ref()).await?,
        ))
    }

    async fn transfer_open_tasks(
        &self,
        request: Request<v1::TransferOpenTasksRequest>,
    ) -> Reply<v1::TransferOpenTasksResponse> {
        let access = self.state.access(AuthContext::of(&request)?).await?;
        Ok(Response::new(
            transfer::transfer_open_tasks(&self.state, request.into_inner(), access).await?,
        ))
    }
}
