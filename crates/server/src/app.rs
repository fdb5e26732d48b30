//! What a service offers the process that runs it: the seam between a
//! service crate (organisation, task, reporting) and `crates/system`, which
//! puts one or several of them behind one listener.

use std::any::Any;
use std::future::Future;
use std::pin::Pin;

use tasknet_auth::AuditLog;
use tasknet_proto::tonic::service::Routes;

/// An opened service, ready to be mounted on a [`crate::GrpcServer`]. It is
/// `Any`, so a caller holding many can reach one by its type (tests read
/// e.g. reporting's applied cursor).
pub trait ServiceApp: Any + Send + Sync {
    /// The fully qualified gRPC name (`tasknet.v1.…Service`), taken from its
    /// tonic server's `NamedService::NAME`: what health reports SERVING for
    /// and what the auth layer keys audit records by.
    fn name(&self) -> &'static str;

    /// `routes` with this service's tonic server added.
    fn add_to(&self, routes: Routes) -> Routes;

    /// The service's audit log (for the auth layer's rejection records).
    fn audit_log(&self) -> AuditLog;

    /// After shutdown: waits for the service's background tasks, then
    /// closes its database pool.
    fn close(self: Box<Self>) -> Pin<Box<dyn Future<Output = ()> + Send>>;
}

/// The names of `apps`, for health registration.
pub fn service_names(apps: &[&dyn ServiceApp]) -> Vec<&'static str> {
    apps.iter().map(|app| app.name()).collect()
}
