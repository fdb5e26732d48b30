//! The tasknet task service: tasks, plans, idempotent client updates, and
//! the ordered change log that reporting follows through `WatchChanges`.
//!
//! Every mutation goes through one writer task that applies concurrent
//! requests in one transaction (group commit) and appends each accepted change
//! to the change log in that same transaction (see docs/design.md).

mod access;
mod app;
mod error;
mod ingest;
mod model;
mod pagination;
mod policy;
mod reassign;
mod references;
mod request;
mod service;
mod store;
#[cfg(test)]
mod test_support;
mod transfer;
mod transition;
mod watch;
mod writer;

pub use app::{TaskApp, TaskSettings};
pub use error::Error;
pub use policy::POLICY;
pub use service::TaskGrpc;
/// The task database's migrations (benchmarks build the same schema for their raw baselines).
pub use store::MIGRATIONS;
pub use writer::DEFAULT_MAX_BATCH;

/// The fully qualified gRPC service name, for health checks.
pub const SERVICE_NAME: &str = app::NAME;
