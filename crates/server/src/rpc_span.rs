//! The span of each RPC a server answers or a client makes, named and
//! described per the OpenTelemetry RPC conventions:
//! `tasknet.v1.TaskService/CreateTask` (kind server or client) with
//! `rpc.system`, `rpc.service`, `rpc.method`, `rpc.grpc.status_code`, and
//! an error status when the call fails. A server span continues the
//! caller's trace; a client span is a child of the span it is made in.

use std::time::Duration;

use opentelemetry::trace::TraceContextExt;
use tasknet_proto::tonic;
use tower_http::classify::GrpcFailureClass;
use tracing::Span;
use tracing::field::Empty;
use tracing_opentelemetry::OpenTelemetrySpanExt;

use crate::metrics::{split_path, status_code};
use crate::propagation::set_parent_from_headers;

/// The span of `request`, a child of the caller's trace context.
pub fn make_span<B>(request: &http::Request<B>) -> Span {
    let path = request.uri().path();
    let (service, method) = split_path(path);
    let span = tracing::info_span!(
        "grpc",
        otel.name = %path.trim_start_matches('/'),
        otel.kind = "server",
        otel.status_code = Empty,
        rpc.system = "grpc",
        rpc.service = %service,
        rpc.method = %method,
        rpc.grpc.status_code = Empty,
        trace_id = Empty,
        span_id = Empty,
    );
    set_parent_from_headers(&span, request.headers());
    // The ids in the span's fields, so JSON log lines inside it carry them
    // (only when spans are exported or the caller sent a trace context).
    let context = span.context();
    let ids = context.span().span_context().clone();
    if ids.is_valid() {
        span.record("trace_id", ids.trace_id().to_string());
        span.record("span_id", ids.span_id().to_string());
    }
    span
}

/// The client span of a call to `path`, a child of the current span.
pub fn client_span(path: &str) -> Span {
    let (service, method) = split_path(path);
    tracing::info_span!(
        "grpc_client",
        otel.name = %path.trim_start_matches('/'),
        otel.kind = "client",
        otel.status_code = Empty,
        otel.status_description = Empty,
        rpc.system = "grpc",
        rpc.service = %service,
        rpc.method = %method,
        rpc.grpc.status_code = Empty,
    )
}

/// The gRPC status `code` a call ended with; any but OK is an error.
pub fn record_code(span: &Span, code: i32) {
    span.record("rpc.grpc.status_code", code);
    if code != 0 {
        span.record("otel.status_code", "ERROR");
    }
}

/// Why a client call failed before any response (no connection).
pub fn record_transport_error(span: &Span, error: &tonic::transport::Error) {
    span.record("otel.status_description", error.to_string());
}

/// Records the status the response headers carry (OK unless the call
/// failed before any message; a failure in the trailers is recorded by
/// [`on_failure`]).
pub fn on_response<B>(response: &http::Response<B>, latency: Duration, span: &Span) {
    let code = status_code(response.headers());
    record_code(span, code);
    tracing::debug!(latency_us = latency.as_micros() as u64, code, "answered");
}

/// A call that failed (in its headers or its trailers): the code and an
/// error status.
pub fn on_failure(failure: GrpcFailureClass, latency: Duration, span: &Span) {
    span.record("otel.status_code", "ERROR");
    match failure {
        GrpcFailureClass::Code(code) => {
            span.record("rpc.grpc.status_code", code.get());
            tracing::debug!(
                latency_us = latency.as_micros() as u64,
                code = code.get(),
                "failed"
            );
        }
        GrpcFailureClass::Error(error) => {
            tracing::warn!(latency_us = latency.as_micros() as u64, %error, "failed");
        }
    }
}
