//! The `tasknet.v1.ReportingService` gRPC handlers: thin wrappers that take
//! the caller's deadline, call [`Reports`] and map errors to `Status`.

use tasknet_proto::tonic::{self, Request, Response, Status};
use tasknet_proto::v1;
use tasknet_proto::v1::reporting_service_server::ReportingService;

use tasknet_auth::{AuditEntry, AuditLog, AuthContext};

use crate::catalog::UnitSource;
use crate::error::Error;
use crate::reports::Reports;
use crate::wait::wait_budget;

/// The service implementation over a read model and a unit source.
#[derive(Debug, Clone)]
pub struct ReportingHandler<U> {
    reports: Reports<U>,
    audit: AuditLog,
}

impl<U> ReportingHandler<U> {
    pub fn new(reports: Reports<U>, audit: AuditLog) -> Self {
        Self { reports, audit }
    }
}

impl<U: UnitSource> ReportingHandler<U> {
    /// Nationwide reports are refused to callers who cover fewer units.
    async fn require_nationwide(&self, context: &AuthContext, what: &str) -> Result<(), Status> {
        let coverage = self.reports.coverage(&context.principal).await?;
        if coverage.is_all() {
            return Ok(());
        }
        Err(Error::PermissionDenied(format!(
            "{what} is a nationwide report; a {} credential covers only some units \
             (ask StatusBreakdown for those)",
            tasknet_auth::principal::role_name(context.principal.role)
        ))
        .into())
    }
}

#[tonic::async_trait]
impl<U: UnitSource> ReportingService for ReportingHandler<U> {
    #[tracing::instrument(skip_all, fields(group_by = request.get_ref().group_by, min_cursor = request.get_ref().min_cursor))]
    async fn status_breakdown(
        &self,
        request: Request<v1::StatusBreakdownRequest>,
    ) -> Result<Response<v1::StatusBreakdownResponse>, Status> {
        let budget = wait_budget(request.metadata());
        let context = AuthContext::of(&request)?;
        let coverage = self.reports.coverage(&context.principal).await?;
        let response = self
            .reports
            .status_breakdown_for(request.get_ref(), budget, &coverage)
            .await?;
        Ok(Response::new(response))
    }

    #[tracing::instrument(skip_all, fields(min_cursor = request.get_ref().min_cursor))]
    async fn plan_progress(
        &self,
        request: Request<v1::PlanProgressRequest>,
    ) -> Result<Response<v1::PlanProgressResponse>, Status> {
        self.require_nationwide(AuthContext::of(&request)?, "PlanProgress")
            .await?;
        let budget = wait_budget(request.metadata());
        let response = self
            .reports
            .plan_progress(request.get_ref(), budget)
            .await?;
        Ok(Response::new(response))
    }

    #[tracing::instrument(skip_all, fields(format = request.get_ref().format, language = request.get_ref().language))]
    async fn report_summary(
        &self,
        request: Request<v1::ReportSummaryRequest>,
    ) -> Result<Response<v1::ReportSummaryResponse>, Status> {
        self.require_nationwide(AuthContext::of(&request)?, "ReportSummary")
            .await?;
        let budget = wait_budget(request.metadata());
        let response = self
            .reports
            .report_summary(request.get_ref(), budget)
            .await?;
        Ok(Response::new(response))
    }

    #[tracing::instrument(skip_all)]
    async fn add_report_note(
        &self,
        request: Request<v1::AddReportNoteRequest>,
    ) -> Result<Response<v1::AddReportNoteResponse>, Status> {
        let audit = AuditEntry::accepted(AuthContext::of(&request)?, String::new(), "");
        self.reports
            .add_report_note(request.get_ref(), Some(audit))
            .await?;
        Ok(Response::new(v1::AddReportNoteResponse {}))
    }

    #[tracing::instrument(skip_all)]
    async fn list_audit_records(
        &self,
        request: Request<v1::ListAuditRecordsRequest>,
    ) -> Result<Response<v1::ListAuditRecordsResponse>, Status> {
        Ok(Response::new(self.audit.list_rpc(request.get_ref()).await?))
    }

    #[tracing::instrument(skip_all, fields(group_by = request.get_ref().group_by, status_class = request.get_ref().status_class))]
    async fn list_group_tasks(
        &self,
        request: Request<v1::ListGroupTasksRequest>,
    ) -> Result<Response<v1::ListGroupTasksResponse>, Status> {
        let budget = wait_budget(request.metadata());
        let context = AuthContext::of(&request)?;
        let coverage = self.reports.coverage(&context.principal).await?;
        let response = self
            .reports
            .list_group_tasks(request.get_ref(), budget, &coverage)
            .await?;
        Ok(Response::new(response))
    }

    #[tracing::instrument(skip_all)]
    async fn get_task_timeline(
        &self,
        request: Request<v1::GetTaskTimelineRequest>,
    ) -> Result<Response<v1::GetTaskTimelineResponse>, Status> {
        let budget = wait_budget(request.metadata());
        let context = AuthContext::of(&request)?;
        let coverage = self.reports.coverage(&context.principal).await?;
        let response = self
            .reports
            .task_timeline(request.get_ref(), budget, &coverage)
            .await?;
        Ok(Response::new(response))
    }

    #[tracing::instrument(skip_all)]
    async fn get_reader_scope(
        &self,
        request: Request<v1::GetReaderScopeRequest>,
    ) -> Result<Response<v1::GetReaderScopeResponse>, Status> {
        let context = AuthContext::of(&request)?;
        let response = self.reports.reader_scope(&context.principal).await?;
        Ok(Response::new(response))
    }

    #[tracing::instrument(skip_all)]
    async fn get_sync_state(
        &self,
        _request: Request<v1::GetSyncStateRequest>,
    ) -> Result<Response<v1::GetSyncStateResponse>, Status> {
        Ok(Response::new(self.reports.sync_state().await?))
    }

    #[tracing::instrument(skip_all, fields(group = request.get_ref().group, min_cursor = request.get_ref().min_cursor))]
    async fn unit_scorecards(
        &self,
        request: Request<v1::UnitScorecardsRequest>,
    ) -> Result<Response<v1::UnitScorecardsResponse>, Status> {
        let budget = wait_budget(request.metadata());
        let context = AuthContext::of(&request)?;
        let coverage = self.reports.coverage(&context.principal).await?;
        let response = self
            .reports
            .unit_scorecards(request.get_ref(), budget, &coverage)
            .await?;
        Ok(Response::new(response))
    }

    #[tracing::instrument(skip_all, fields(min_cursor = request.get_ref().min_cursor))]
    async fn get_trajectory(
        &self,
        request: Request<v1::GetTrajectoryRequest>,
    ) -> Result<Response<v1::GetTrajectoryResponse>, Status> {
        let budget = wait_budget(request.metadata());
        let context = AuthContext::of(&request)?;
        let coverage = self.reports.coverage(&context.principal).await?;
        let response = self
            .reports
            .trajectory(request.get_ref(), budget, &coverage)
            .await?;
        Ok(Response::new(response))
    }
}
