//! Plumbing every tasknet service shares: telemetry set-up, the gRPC server
//! (health, reflection, per-RPC spans, trace-context propagation, graceful
//! shutdown), clients that carry trace context, and shutdown signals.

pub mod client;
pub mod grpc;
pub mod propagation;
pub mod remote_auth;
pub mod shutdown;
pub mod telemetry;
pub mod web;

pub use client::{ClientOptions, ClientTls, TracedChannel, connect_lazy, connect_lazy_with};
pub use grpc::{GrpcServer, ServeOptions, ServerTls};
pub use remote_auth::RemoteAuthenticator;
pub use shutdown::{Shutdown, shutdown_signal};
pub use web::{StaticAssets, WebOptions};
