//! The tasknet task service: tasks, plans, idempotent client updates, and
//! the ordered change log that reporting follows through `WatchChanges`
//! (the change feed).
//!
//! Every mutation goes through one writer task that applies concurrent
//! requests in one transaction (group commit) and appends each accepted change
//! to the change log in that same transaction (see docs/design.md).

// Layers, each module using only modules of the layers before its own (no
// import circles): error, model, pagination, policy; reassign; command;
// parse, transition, access, store; references; writer; change_feed; state;
// tasks, plans, transfer; ingest; service; app.
mod access;
mod app;
#[cfg(feature = "bulk-load")]
pub mod bulk_load;
mod change_feed;
mod command;
mod error;
mod ingest;
mod metrics;
mod model;
mod pagination;
mod parse;
mod plans;
mod policy;
mod reassign;
mod references;
mod service;
mod state;
mod store;
mod tasks;
#[cfg(test)]
mod test_support;
mod transfer;
mod transition;
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
