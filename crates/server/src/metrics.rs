//! Prometheus metrics: one registry per process, the RPC metrics every
//! server records (a tower layer), and the `/metrics` endpoint
//! (`--metrics-listen`, off unless asked). Services and clients define their
//! own metrics next to their code and register them here once.
//!
//! Why Prometheus scraping rather than OTLP metrics: Kubernetes operators
//! already run Prometheus (and its alerting) against pods, a scrape needs no
//! collector pipeline to be up for the numbers to exist, and an office
//! agent's numbers can be read by a node exporter-style scrape on its
//! machine. Names follow the OpenTelemetry semantic conventions translated
//! to Prometheus (`rpc.server.call.duration` → `rpc_server_call_duration_seconds`).

use std::net::SocketAddr;
use std::sync::{LazyLock, Mutex};
use std::task::{Context, Poll};
use std::time::Instant;

use anyhow::Context as _;
use futures::future::BoxFuture;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::{Family, MetricConstructor};
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::{Metric, Registry, Unit};

use tasknet_proto::tonic;

use crate::Shutdown;

static REGISTRY: LazyLock<Mutex<Registry>> = LazyLock::new(|| Mutex::new(Registry::default()));

/// Adds a metric to the process's registry (once per metric: define metrics
/// as `LazyLock` statics that register themselves).
pub fn register(name: &str, help: &str, unit: Option<Unit>, metric: impl Metric) {
    let mut registry = REGISTRY
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    match unit {
        Some(unit) => registry.register_with_unit(name, help, unit, metric),
        None => registry.register(name, help, metric),
    }
}

/// The registry in the text exposition format.
pub fn encode() -> String {
    let registry = REGISTRY
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let mut text = String::new();
    if let Err(error) = prometheus_client::encoding::text::encode(&mut text, &registry) {
        tracing::error!(%error, "cannot encode the metrics");
    }
    text
}

/// Exponential histogram buckets: `count` of them from `start`, doubling.
#[derive(Debug, Clone, Copy)]
pub struct Buckets {
    pub start: f64,
    pub count: u16,
}

impl MetricConstructor<Histogram> for Buckets {
    fn new_metric(&self) -> Histogram {
        Histogram::new(exponential_buckets(self.start, 2.0, self.count))
    }
}

/// A family of histograms, one per label set.
pub type HistogramFamily<L> = Family<L, Histogram, Buckets>;

/// A histogram family with exponential buckets from `start` (×2, `count`).
pub fn histograms<L>(start: f64, count: u16) -> HistogramFamily<L>
where
    L: Clone + std::hash::Hash + Eq,
{
    Family::new_with_constructor(Buckets { start, count })
}

/// The labels of the RPC metrics (OpenTelemetry's RPC attributes).
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RpcLabels {
    pub rpc_system: &'static str,
    pub rpc_service: String,
    pub rpc_method: String,
    pub rpc_grpc_status_code: i32,
}

struct RpcMetrics {
    duration: HistogramFamily<RpcLabels>,
    client_duration: HistogramFamily<RpcLabels>,
    refusals: Family<RpcLabels, Counter>,
}

static RPC: LazyLock<RpcMetrics> = LazyLock::new(|| {
    let metrics = RpcMetrics {
        // 100 µs to ~3 min.
        duration: histograms(0.0001, 21),
        client_duration: histograms(0.0001, 21),
        refusals: Family::default(),
    };
    register(
        "rpc_server_call_duration",
        "Duration of RPCs the server answered, by method and gRPC status code (until the \
         response headers, for streams)",
        Some(Unit::Seconds),
        metrics.duration.clone(),
    );
    register(
        "rpc_client_call_duration",
        "Duration of RPCs this process made, by method and gRPC status code (until the \
         status: for streams, their whole length; 1 CANCELLED when the caller gave up, \
         14 UNAVAILABLE when no server answered)",
        Some(Unit::Seconds),
        metrics.client_duration.clone(),
    );
    register(
        "tasknet_auth_refusals",
        "RPCs refused for their credential: UNAUTHENTICATED (16) or PERMISSION_DENIED (7)",
        None,
        metrics.refusals.clone(),
    );
    metrics
});

/// `/tasknet.v1.TaskService/CreateTask` → ("tasknet.v1.TaskService", "CreateTask").
pub fn split_path(path: &str) -> (&str, &str) {
    path.trim_start_matches('/')
        .split_once('/')
        .unwrap_or((path, ""))
}

fn labels(path: &str, code: i32) -> RpcLabels {
    let (service, method) = split_path(path);
    RpcLabels {
        rpc_system: "grpc",
        rpc_service: service.to_owned(),
        rpc_method: method.to_owned(),
        rpc_grpc_status_code: code,
    }
}

/// Health checks and reflection are not the services' work.
fn counted(path: &str) -> bool {
    !path.starts_with("/grpc.")
}

/// Records one RPC this process made, ended with `code`.
pub(crate) fn record_client_call(path: &str, code: i32, started: Instant) {
    if counted(path) {
        RPC.client_duration
            .get_or_create(&labels(path, code))
            .observe(started.elapsed().as_secs_f64());
    }
}

/// Records one answered RPC.
fn record(path: &str, code: i32, started: Instant) {
    let labels = labels(path, code);
    RPC.duration
        .get_or_create(&labels)
        .observe(started.elapsed().as_secs_f64());
    if code == tonic::Code::Unauthenticated as i32 || code == tonic::Code::PermissionDenied as i32 {
        RPC.refusals.get_or_create(&labels).inc();
    }
}

/// The gRPC status of a response from its headers: present there when the
/// call failed before any message (trailers-only); absent means OK so far.
pub fn status_code(headers: &http::HeaderMap) -> i32 {
    headers
        .get("grpc-status")
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.parse().ok())
        .unwrap_or(0)
}

/// Records every RPC's duration and status.
#[derive(Debug, Clone, Copy, Default)]
pub struct RpcMetricsLayer;

impl<S> tower::Layer<S> for RpcMetricsLayer {
    type Service = RpcMetricsService<S>;
    fn layer(&self, inner: S) -> Self::Service {
        RpcMetricsService { inner }
    }
}

#[derive(Debug, Clone)]
pub struct RpcMetricsService<S> {
    inner: S,
}

impl<S, B, R> tower::Service<http::Request<B>> for RpcMetricsService<S>
where
    S: tower::Service<http::Request<B>, Response = http::Response<R>> + Send,
    S::Future: Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = BoxFuture<'static, Result<Self::Response, Self::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        let path = request.uri().path().to_owned();
        let started = Instant::now();
        let answered = self.inner.call(request);
        Box::pin(async move {
            let response = answered.await;
            let code = match &response {
                Ok(response) => status_code(response.headers()),
                Err(_) => tonic::Code::Internal as i32,
            };
            if counted(&path) {
                record(&path, code, started);
            }
            response
        })
    }
}

/// Serves `/metrics` on `addr` until shutdown; returns the bound address.
pub async fn serve(addr: &str, shutdown: Shutdown) -> anyhow::Result<SocketAddr> {
    LazyLock::force(&RPC);
    crate::connections::register_metrics();
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("failed to listen for metrics on {addr}"))?;
    let local = listener.local_addr()?;
    let app = axum::Router::new().route(
        "/metrics",
        axum::routing::get(|| async {
            (
                [(
                    http::header::CONTENT_TYPE,
                    "application/openmetrics-text; version=1.0.0; charset=utf-8",
                )],
                encode(),
            )
        }),
    );
    tokio::spawn(async move {
        let stopped = async move { shutdown.wait().await };
        if let Err(error) = axum::serve(listener, app)
            .with_graceful_shutdown(stopped)
            .await
        {
            tracing::error!(%error, "the metrics endpoint failed");
        }
    });
    tracing::info!(%local, "metrics on http://{local}/metrics");
    Ok(local)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_split_into_service_and_method() {
        assert_eq!(
            split_path("/tasknet.v1.TaskService/CreateTask"),
            ("tasknet.v1.TaskService", "CreateTask")
        );
    }

    #[test]
    fn recorded_rpcs_appear_in_the_exposition() {
        record("/tasknet.v1.Test/Ok", 0, Instant::now());
        record("/tasknet.v1.Test/Refused", 16, Instant::now());
        let text = encode();
        assert!(
            text.contains("rpc_server_call_duration_seconds_count{rpc_system=\"grpc\",rpc_service=\"tasknet.v1.Test\",rpc_method=\"Ok\",rpc_grpc_status_code=\"0\"} 1"),
            "{text}"
        );
        assert!(
            text.contains("tasknet_auth_refusals_total{rpc_system=\"grpc\",rpc_service=\"tasknet.v1.Test\",rpc_method=\"Refused\",rpc_grpc_status_code=\"16\"} 1"),
            "{text}"
        );
    }
}
