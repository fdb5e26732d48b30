//! Plumbing every tasknet service shares: telemetry set-up, the gRPC server
//! (health, reflection, per-RPC spans, trace-context propagation, graceful
//! shutdown), clients that carry trace context, shutdown signals and task
//! tracking, and the retry backoff.

pub mod activity;
pub mod app;
pub mod backoff;
pub mod client;
pub mod connections;
pub mod grpc;
pub mod limits;
pub mod metrics;
pub mod propagation;
pub mod readiness;
pub mod remote_auth;
pub mod rpc_span;
pub mod shutdown;
pub mod telemetry;
pub mod testing;
pub mod web;

pub use app::ServiceApp;
pub use backoff::Backoff;
pub use client::{ClientOptions, ClientTls, TracedChannel, connect_lazy, connect_lazy_with};
pub use connections::ConnectionTable;
pub use grpc::{GrpcServer, ServeOptions, ServerTls};
pub use limits::ConnectionLimits;
pub use readiness::Readiness;
pub use remote_auth::RemoteAuthenticator;
pub use shutdown::{Shutdown, shutdown_signal};
pub use web::{StaticAssets, WebOptions};
