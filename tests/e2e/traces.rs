//! Traces across services: one CreateTask, sent with a credential the task
//! service has not seen, makes one trace in which the task service's server
//! span (`tasknet.v1.TaskService/CreateTask`) leads to the organisation
//! service's (`tasknet.v1.OrganisationService/AuthenticateToken`), each
//! named per the OpenTelemetry RPC conventions with rpc.system, rpc.service,
//! rpc.method and rpc.grpc.status_code. Spans are collected in memory
//! (the exporter the OTLP one replaces in production).

use opentelemetry::trace::{Status, TraceId, TracerProvider as _};
use opentelemetry_sdk::trace::{InMemorySpanExporter, SdkTracerProvider, SpanData};
use tasknet_proto::v1;
use tasknet_proto::v1::task_service_client::TaskServiceClient;
use tasknet_storage::Backend;
use tasknet_system::testing::TestSystem;
use tracing_subscriber::layer::SubscriberExt;

use crate::auth::{creation, units};

fn attribute(span: &SpanData, key: &str) -> Option<String> {
    span.attributes
        .iter()
        .find(|kv| kv.key.as_str() == key)
        .map(|kv| kv.value.to_string())
}

// One thread: the subscriber set here is the one every service task uses.
#[tokio::test(flavor = "current_thread")]
async fn one_create_task_is_one_trace_across_task_and_organisation() {
    opentelemetry::global::set_text_map_propagator(
        opentelemetry_sdk::propagation::TraceContextPropagator::new(),
    );
    let exporter = InMemorySpanExporter::default();
    let provider = SdkTracerProvider::builder()
        .with_simple_exporter(exporter.clone())
        .build();
    let subscriber = tracing_subscriber::registry()
        .with(tracing_opentelemetry::layer().with_tracer(provider.tracer("test")));
    let _guard = tracing::subscriber::set_default(subscriber);

    let Some(system) = TestSystem::start(Backend::Sqlite, "traces").await else {
        return;
    };
    let units = units(&system).await;
    let token = system
        .organisation()
        .issue_credential(v1::IssueCredentialRequest {
            role: v1::Role::Administrator as i32,
            label: "trace test".to_owned(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .token;
    exporter.reset();
    // Other tests in this binary run on other threads with no subscriber;
    // one of them may have registered the server-span callsite while this
    // subscriber was being set, leaving it cached as "never" (tracing-core
    // computes a callsite's interest once, outside the dispatcher lock).
    // Every callsite used so far is registered by now: recompute them all
    // with this subscriber present.
    tracing::callsite::rebuild_interest_cache();
    let mut tasks = TaskServiceClient::new(system.channel_as(&system.task_endpoint, Some(&token)));
    tasks
        .create_task(creation(&units.hq, &units.haiphong))
        .await
        .unwrap();
    // A refused call: its span carries the code and an error status.
    let refused = tasks
        .create_task(v1::CreateTaskRequest::default())
        .await
        .unwrap_err();
    system.stop().await;
    provider.force_flush().unwrap();

    let spans = exporter.get_finished_spans().unwrap();
    let named =
        |name: &str| -> Vec<&SpanData> { spans.iter().filter(|span| span.name == name).collect() };
    let creates = named("tasknet.v1.TaskService/CreateTask");
    assert_eq!(
        creates.len(),
        2,
        "{:?}",
        spans.iter().map(|s| &s.name).collect::<Vec<_>>()
    );
    let (ok, failed): (Vec<_>, Vec<_>) = creates
        .into_iter()
        .partition(|span| attribute(span, "rpc.grpc.status_code").as_deref() == Some("0"));
    let (create, failed) = (ok[0], failed[0]);
    assert_eq!(attribute(create, "rpc.system").as_deref(), Some("grpc"));
    assert_eq!(
        attribute(create, "rpc.service").as_deref(),
        Some("tasknet.v1.TaskService")
    );
    assert_eq!(
        attribute(create, "rpc.method").as_deref(),
        Some("CreateTask")
    );
    assert_ne!(create.span_context.trace_id(), TraceId::INVALID);
    assert_eq!(
        attribute(failed, "rpc.grpc.status_code"),
        Some((refused.code() as i32).to_string())
    );
    assert!(
        matches!(failed.status, Status::Error { .. }),
        "{:?}",
        failed.status
    );

    let trace = create.span_context.trace_id();
    let in_trace: Vec<&SpanData> = spans
        .iter()
        .filter(|span| span.span_context.trace_id() == trace)
        .collect();
    let authenticate = in_trace
        .iter()
        .find(|span| span.name == "tasknet.v1.OrganisationService/AuthenticateToken")
        .unwrap_or_else(|| {
            panic!(
                "no organisation span in the trace: {:?}",
                in_trace.iter().map(|s| &s.name).collect::<Vec<_>>()
            )
        });
    assert_eq!(
        attribute(authenticate, "rpc.service").as_deref(),
        Some("tasknet.v1.OrganisationService")
    );
    // The organisation span descends from the task span, not a trace of its own.
    assert_ne!(
        authenticate.parent_span_id,
        opentelemetry::trace::SpanId::INVALID
    );
}
