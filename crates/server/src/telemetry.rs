//! Logging and tracing set-up, in one place: `RUST_LOG` filters, text or JSON
//! logs (`TASKNET_LOG_FORMAT=json`), and OpenTelemetry export over OTLP when
//! `OTEL_EXPORTER_OTLP_ENDPOINT` is set. Keep the returned guard alive: its
//! drop flushes and shuts down the tracer provider.

use opentelemetry::trace::TracerProvider as _;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer};

/// Flushes spans on drop.
#[must_use = "dropping the guard shuts telemetry down"]
pub struct TelemetryGuard {
    provider: Option<SdkTracerProvider>,
}

impl Drop for TelemetryGuard {
    fn drop(&mut self) {
        if let Some(provider) = self.provider.take()
            && let Err(error) = provider.shutdown()
        {
            eprintln!("failed to flush OpenTelemetry spans: {error}");
        }
    }
}

/// Installs the global subscriber. `default_filter` applies when `RUST_LOG`
/// is unset. Safe to call more than once (later calls change nothing).
pub fn init(service_name: &str, default_filter: &str) -> TelemetryGuard {
    opentelemetry::global::set_text_map_propagator(TraceContextPropagator::new());

    // `RUST_LOG` chooses what is logged; it must not choose what is traced:
    // an operator quieting the logs (`RUST_LOG=warn`) still wants the RPC
    // spans, which are at INFO. So each layer has its own filter.
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default_filter));
    let json = std::env::var("TASKNET_LOG_FORMAT").is_ok_and(|format| format == "json");
    let fmt_layer = if json {
        tracing_subscriber::fmt::layer()
            .json()
            .with_writer(std::io::stderr)
            .boxed()
    } else {
        tracing_subscriber::fmt::layer()
            .with_writer(std::io::stderr)
            .boxed()
    };

    // The OpenTelemetry SDK's own informational events carry a `message`
    // field of their own besides the event's message: in JSON that is a
    // duplicated key. Its warnings and errors are still logged.
    let fmt_layer =
        fmt_layer
            .with_filter(filter)
            .with_filter(tracing_subscriber::filter::filter_fn(|metadata| {
                !(metadata.target().starts_with("opentelemetry")
                    && *metadata.level() > tracing::Level::WARN)
            }));

    let provider = otlp_provider(service_name);
    let otel_layer = provider.as_ref().map(|provider| {
        tracing_opentelemetry::layer()
            .with_tracer(provider.tracer("tasknet"))
            .with_filter(trace_filter())
    });

    let installed = tracing_subscriber::registry()
        .with(fmt_layer)
        .with(otel_layer)
        .try_init();
    if installed.is_err() {
        // Another subscriber (a test's, or an earlier call) is in place.
        return TelemetryGuard { provider: None };
    }
    if let Some(provider) = &provider {
        opentelemetry::global::set_tracer_provider(provider.clone());
        tracing::info!("exporting traces over OTLP");
    }
    TelemetryGuard { provider }
}

/// What is exported as spans: INFO and above (the RPC spans and the
/// services' own), never the exporter's own work (its HTTP/2 client would
/// otherwise trace the export of its traces).
fn trace_filter() -> tracing_subscriber::filter::Targets {
    tracing_subscriber::filter::Targets::new()
        .with_default(tracing::Level::INFO)
        .with_target("opentelemetry", tracing::level_filters::LevelFilter::OFF)
        .with_target(
            "opentelemetry_sdk",
            tracing::level_filters::LevelFilter::OFF,
        )
        .with_target(
            "opentelemetry_otlp",
            tracing::level_filters::LevelFilter::OFF,
        )
}

fn otlp_provider(service_name: &str) -> Option<SdkTracerProvider> {
    std::env::var_os("OTEL_EXPORTER_OTLP_ENDPOINT")?;
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_tonic()
        .build();
    let exporter = match exporter {
        Ok(exporter) => exporter,
        Err(error) => {
            eprintln!("OTLP export disabled: {error}");
            return None;
        }
    };
    let resource = opentelemetry_sdk::Resource::builder()
        .with_service_name(service_name.to_owned())
        .build();
    Some(
        SdkTracerProvider::builder()
            .with_batch_exporter(exporter)
            .with_resource(resource)
            .build(),
    )
}
