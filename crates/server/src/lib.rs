//! Plumbing every tasknet service shares: telemetry set-up, the gRPC server
//! (health, reflection, per-RPC spans, trace-context propagation, graceful
//! shutdown), clients that carry trace context, and shutdown signals.

pub mod client;
pub mod grpc;
pub mod propagation;
pub mod shutdown;
pub mod telemetry;

pub use client::{TracedChannel, connect_lazy};
pub use grpc::{GrpcServer, ServeOptions};
pub use shutdown::{Shutdown, shutdown_signal};
