//! Traces as production exports them: the organisation and task services run
//! as `tasknet serve` processes with `OTEL_EXPORTER_OTLP_ENDPOINT` pointing at
//! an OTLP receiver in this test, so their own telemetry set-up and exporter
//! are what is checked. One CreateTask, sent with a credential the task
//! service has not seen, makes one trace: the task service's server span
//! `tasknet.v1.TaskService/CreateTask` → its client span for the outgoing
//! `tasknet.v1.OrganisationService/AuthenticateToken` → the organisation
//! service's server span of that call, each with the RPC conventions'
//! attributes; refused calls' spans carry their code and an error status,
//! the CLI's client span of a refused call as well as the server's, and a
//! call that reached no server is UNAVAILABLE.
//! (It replaces an in-process test with an in-memory exporter, which never
//! saw the exporter or the filters that decide what is traced — `RUST_LOG=warn`
//! once silenced every span — and whose per-test subscriber raced other test
//! threads over tracing's callsite interest cache.)

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex};

use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{
    TraceService, TraceServiceServer,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use opentelemetry_proto::tonic::common::v1::any_value::Value;
use opentelemetry_proto::tonic::trace::v1::Span;
use opentelemetry_proto::tonic::trace::v1::span::SpanKind;
use opentelemetry_proto::tonic::trace::v1::status::StatusCode;
use tasknet_proto::tonic::transport::Server;
use tasknet_proto::tonic::transport::server::TcpIncoming;
use tasknet_proto::tonic::{self, Code, Request, Response, Status};
use tasknet_proto::v1;
use tasknet_proto::v1::organisation_service_client::OrganisationServiceClient;
use tasknet_proto::v1::task_service_client::TaskServiceClient;
use tasknet_server::{ClientOptions, connect_lazy_with, testing};
use tasknet_storage::Backend;
use tasknet_storage::testing::TestDatabase;
use tasknet_system::ServiceKind;
use tasknet_system::testing::process::Launch;
use tasknet_system::testing::processes::{
    CREDENTIALS_DIR, read_token, serve, start, with_endpoints,
};

use crate::auth::creation;

const BINARY: &str = env!("CARGO_BIN_EXE_tasknet");

/// A span as received, with the `service.name` of the process that sent it.
#[derive(Debug, Clone)]
struct Received {
    service: String,
    span: Span,
}

/// The OTLP trace receiver: keeps every span exported to it.
#[derive(Clone, Default)]
struct Receiver {
    spans: Arc<Mutex<Vec<Received>>>,
}

#[tonic::async_trait]
impl TraceService for Receiver {
    async fn export(
        &self,
        request: Request<ExportTraceServiceRequest>,
    ) -> Result<Response<ExportTraceServiceResponse>, Status> {
        let mut spans = self.spans.lock().unwrap();
        for resource_spans in request.into_inner().resource_spans {
            let service = resource_spans
                .resource
                .iter()
                .flat_map(|resource| &resource.attributes)
                .find(|kv| kv.key == "service.name")
                .and_then(|kv| text(kv.value.as_ref()?.value.as_ref()?))
                .unwrap_or_default();
            for scope in resource_spans.scope_spans {
                spans.extend(scope.spans.into_iter().map(|span| Received {
                    service: service.clone(),
                    span,
                }));
            }
        }
        Ok(Response::new(ExportTraceServiceResponse::default()))
    }
}

fn text(value: &Value) -> Option<String> {
    match value {
        Value::StringValue(text) => Some(text.clone()),
        Value::IntValue(number) => Some(number.to_string()),
        Value::BoolValue(flag) => Some(flag.to_string()),
        _ => None,
    }
}

fn attribute(span: &Span, key: &str) -> Option<String> {
    span.attributes
        .iter()
        .find(|kv| kv.key == key)
        .and_then(|kv| text(kv.value.as_ref()?.value.as_ref()?))
}

/// Checks the RPC conventions' attributes of `span` (a call of `path`
/// that ended with `code`) and its error status, and returns it.
fn check_rpc<'a>(received: &'a Received, kind: SpanKind, path: &str, code: Code) -> &'a Span {
    let span = &received.span;
    let (service, method) = path.split_once('/').unwrap();
    let described = format!("{} {span:?}", received.service);
    assert_eq!(span.name, path, "{described}");
    assert_eq!(span.kind, kind as i32, "{described}");
    assert_eq!(
        attribute(span, "rpc.system").as_deref(),
        Some("grpc"),
        "{described}"
    );
    assert_eq!(
        attribute(span, "rpc.service").as_deref(),
        Some(service),
        "{described}"
    );
    assert_eq!(
        attribute(span, "rpc.method").as_deref(),
        Some(method),
        "{described}"
    );
    assert_eq!(
        attribute(span, "rpc.grpc.status_code"),
        Some((code as i32).to_string()),
        "{described}"
    );
    let status = span.status.as_ref().map_or(0, |status| status.code);
    if code == Code::Ok {
        assert_ne!(status, StatusCode::Error as i32, "{described}");
    } else {
        assert_eq!(status, StatusCode::Error as i32, "{described}");
    }
    span
}

/// Serves the receiver on an ephemeral loopback port; returns its URL.
async fn receive(receiver: Receiver) -> (String, tokio::task::JoinHandle<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let serving = tokio::spawn(async move {
        Server::builder()
            .add_service(TraceServiceServer::new(receiver))
            .serve_with_incoming(TcpIncoming::from(listener))
            .await
            .unwrap();
    });
    (url, serving)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_create_task_is_one_exported_trace_across_task_and_organisation() {
    let name = "traces::one_create_task";
    let (Some(organisation_db), Some(task_db)) = (
        TestDatabase::of(Backend::Sqlite, name).await,
        TestDatabase::of(Backend::Sqlite, name).await,
    ) else {
        return;
    };
    let receiver = Receiver::default();
    let (collector, receiving) = receive(receiver.clone()).await;
    let dir = tempfile::tempdir().unwrap();
    let exporting = |launch: Launch| launch.env("OTEL_EXPORTER_OTLP_ENDPOINT", &collector);
    let organisation = exporting(serve(
        Path::new(BINARY),
        ServiceKind::Organisation,
        organisation_db.url(),
        dir.path(),
    ));
    let organisation = start(&organisation, ServiceKind::Organisation)
        .await
        .unwrap();
    let task = with_endpoints(
        exporting(serve(
            Path::new(BINARY),
            ServiceKind::Task,
            task_db.url(),
            dir.path(),
        )),
        organisation.endpoint(),
        None,
    );
    let task = start(&task, ServiceKind::Task).await.unwrap();

    let admin = read_token(&dir.path().join(CREDENTIALS_DIR).join("admin.token")).unwrap();
    let mut org =
        OrganisationServiceClient::new(connect_lazy_with(organisation.endpoint(), &admin).unwrap());
    let units =
        testing::reference_unit_ids(connect_lazy_with(organisation.endpoint(), &admin).unwrap())
            .await
            .unwrap();
    let (hq, haiphong) = (&units["TCTK"], &units["31"]);
    // A credential the task service has never seen, so CreateTask asks
    // the organisation service about it.
    let token = org
        .issue_credential(v1::IssueCredentialRequest {
            role: v1::Role::Administrator as i32,
            label: "otlp trace test".to_owned(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .token;
    let as_new = ClientOptions::with_token(tasknet_auth::Token::new(token));
    let mut tasks = TaskServiceClient::new(connect_lazy_with(task.endpoint(), &as_new).unwrap());
    tasks.create_task(creation(hq, haiphong)).await.unwrap();
    // Refused: an invalid request, and a credential nobody issued.
    let invalid = tasks
        .create_task(v1::CreateTaskRequest::default())
        .await
        .unwrap_err();
    assert_eq!(invalid.code(), Code::InvalidArgument);
    let stranger = ClientOptions::with_token(tasknet_auth::Token::new("tn_not_a_credential"));
    let mut strangers =
        TaskServiceClient::new(connect_lazy_with(task.endpoint(), &stranger).unwrap());
    let unknown = strangers
        .create_task(creation(hq, haiphong))
        .await
        .unwrap_err();
    assert_eq!(unknown.code(), Code::Unauthenticated);
    // The CLI exports its calls too: one refused for its credential, one
    // to a port where nothing listens.
    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://{}", listener.local_addr().unwrap())
    };
    for endpoint in [organisation.endpoint(), closed.as_str()] {
        let cli = Launch::new(BINARY)
            .env("OTEL_EXPORTER_OTLP_ENDPOINT", &collector)
            .env_remove("TASKNET_TOKEN_FILE")
            .args(["admin", "token", "list", "--endpoint", endpoint])
            .args(["--token", "tn_not_a_credential"])
            .output()
            .unwrap();
        assert!(!cli.status.success());
    }

    // SIGTERM: each process flushes its spans to the receiver before it exits.
    task.terminate().unwrap();
    organisation.terminate().unwrap();
    receiving.abort();
    let spans = receiver.spans.lock().unwrap().clone();
    let names = || -> Vec<String> {
        spans
            .iter()
            .map(|received| format!("{}: {}", received.service, received.span.name))
            .collect()
    };

    // The task service's spans of the three CreateTask calls, by status code.
    let creates: HashMap<String, &Received> = spans
        .iter()
        .filter(|received| {
            received.service == "tasknet-task"
                && received.span.name == "tasknet.v1.TaskService/CreateTask"
        })
        .map(|received| {
            (
                attribute(&received.span, "rpc.grpc.status_code").unwrap_or_default(),
                received,
            )
        })
        .collect();
    assert_eq!(creates.len(), 3, "{:?}", names());
    let code = |code: Code| (code as i32).to_string();
    let create = check_rpc(
        creates[&code(Code::Ok)],
        SpanKind::Server,
        "tasknet.v1.TaskService/CreateTask",
        Code::Ok,
    );
    for refused in [Code::InvalidArgument, Code::Unauthenticated] {
        check_rpc(
            creates[&code(refused)],
            SpanKind::Server,
            "tasknet.v1.TaskService/CreateTask",
            refused,
        );
    }
    // Called with no trace context (this test exports nothing): a root.
    assert!(create.parent_span_id.is_empty(), "{create:?}");

    // Everything in the successful call's trace.
    let trace: Vec<&Received> = spans
        .iter()
        .filter(|received| received.span.trace_id == create.trace_id)
        .collect();
    let trace_names: Vec<String> = trace
        .iter()
        .map(|received| format!("{}: {}", received.service, received.span.name))
        .collect();
    let by_id: HashMap<&[u8], &Span> = trace
        .iter()
        .map(|received| (received.span.span_id.as_slice(), &received.span))
        .collect();
    // Whether `span` descends from the CreateTask server span.
    let under_create = |span: &Span| {
        let mut parent = span.parent_span_id.as_slice();
        while let Some(ancestor) = by_id.get(parent) {
            if ancestor.span_id == create.span_id {
                return true;
            }
            parent = ancestor.parent_span_id.as_slice();
        }
        false
    };
    let authenticate = "tasknet.v1.OrganisationService/AuthenticateToken";
    let client = trace
        .iter()
        .find(|received| {
            received.service == "tasknet-task"
                && received.span.name == authenticate
                && received.span.kind == SpanKind::Client as i32
        })
        .unwrap_or_else(|| panic!("no client span for AuthenticateToken: {trace_names:?}"));
    let client = check_rpc(client, SpanKind::Client, authenticate, Code::Ok);
    assert!(under_create(client), "{trace_names:?}");
    let server = trace
        .iter()
        .find(|received| {
            received.service == "tasknet-organisation" && received.span.name == authenticate
        })
        .unwrap_or_else(|| panic!("no organisation span in the trace: {trace_names:?}"));
    let server = check_rpc(server, SpanKind::Server, authenticate, Code::Ok);
    // The organisation's span continues the task service's client span.
    assert_eq!(server.parent_span_id, client.span_id, "{trace_names:?}");
    // Every span of the trace is the task's or the organisation's, and
    // none of them stands outside the CreateTask call.
    for received in &trace {
        assert!(
            received.service == "tasknet-task" || received.service == "tasknet-organisation",
            "{trace_names:?}"
        );
        assert!(
            received.span.span_id == create.span_id || under_create(&received.span),
            "{trace_names:?}"
        );
    }

    // The CLI's refused call: its client span and the organisation's server
    // span, one trace, both with the code and an error status.
    let list = "tasknet.v1.OrganisationService/ListCredentials";
    let cli_span = |code: Code| {
        spans
            .iter()
            .find(|received| {
                received.service == "tasknet-cli"
                    && received.span.name == list
                    && attribute(&received.span, "rpc.grpc.status_code")
                        == Some((code as i32).to_string())
            })
            .unwrap_or_else(|| panic!("no CLI span with {code:?}: {:?}", names()))
    };
    let cli = check_rpc(
        cli_span(Code::Unauthenticated),
        SpanKind::Client,
        list,
        Code::Unauthenticated,
    );
    let answered = spans
        .iter()
        .find(|received| {
            received.service == "tasknet-organisation"
                && received.span.name == list
                && received.span.parent_span_id == cli.span_id
        })
        .unwrap_or_else(|| panic!("no organisation span under the CLI's: {:?}", names()));
    let answered = check_rpc(answered, SpanKind::Server, list, Code::Unauthenticated);
    assert_eq!(answered.trace_id, cli.trace_id);
    // Nobody answered: the call never reached a server.
    let unanswered = check_rpc(
        cli_span(Code::Unavailable),
        SpanKind::Client,
        list,
        Code::Unavailable,
    );
    assert!(
        spans
            .iter()
            .all(|received| received.span.parent_span_id != unanswered.span_id),
        "{:?}",
        names()
    );
}
