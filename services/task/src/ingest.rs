//! `Ingest`: the office clients' stream. Each request is validated and
//! queued to the writer as it arrives (pipelined: many can share one batch),
//! and the answers go back in the order the requests came, whatever order
//! the batches finish in. A failed or malformed item is answered with its
//! error and the stream goes on.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use futures::StreamExt;
use futures::stream::FuturesOrdered;
use tasknet_proto::tonic::{Status, Streaming};
use tasknet_proto::v1;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;

use crate::access::Access;
use crate::command::Mutation;
use crate::error::{Error, Result};
use crate::state::ServiceState;
use crate::tasks::{admit_create, admit_update};
use crate::writer::{self, Outcome};

/// Items read ahead of their answers; past this the stream is not read
/// until answers go out (backpressure on a client that does not read).
const MAX_IN_FLIGHT: usize = 1024;

type Answer = Pin<Box<dyn Future<Output = v1::IngestResponse> + Send>>;
type Sender = mpsc::Sender<std::result::Result<v1::IngestResponse, Status>>;

/// The answers of one Ingest stream.
pub type IngestStream = ReceiverStream<std::result::Result<v1::IngestResponse, Status>>;

/// Starts serving one Ingest stream.
/// Every item is checked against `access`, the caller's.
pub fn start(
    state: ServiceState,
    access: Arc<Access>,
    input: Streaming<v1::IngestRequest>,
) -> IngestStream {
    let (sender, receiver) = mpsc::channel(256);
    let shutdown = state.shutdown.clone();
    shutdown.spawn(run(state, access, input, sender));
    ReceiverStream::new(receiver)
}

#[tracing::instrument(name = "ingest", skip_all)]
async fn run(
    state: ServiceState,
    access: Arc<Access>,
    mut input: Streaming<v1::IngestRequest>,
    output: Sender,
) {
    let mut pending: FuturesOrdered<Answer> = FuturesOrdered::new();
    let mut reading = true;
    let mut items = 0_u64;
    // Why the stream ends early, once the accepted items are answered.
    let mut ending: Option<Status> = None;
    while reading || !pending.is_empty() {
        tokio::select! {
            message = input.message(), if reading && pending.len() < MAX_IN_FLIGHT => {
                match message {
                    Ok(Some(request)) => {
                        items += 1;
                        pending.push_back(submit(&state, &access, request).await);
                    }
                    Ok(None) => reading = false,
                    Err(status) => {
                        // An item over the size limit, a credential that no
                        // longer admits the stream, or a client that broke it:
                        // answer what was read, then end with the reason
                        // (never OK: the items after it were not read).
                        tracing::debug!(%status, "ingest stream ended with an error");
                        reading = false;
                        ending = Some(stream_error(&state, &access, status));
                    }
                }
            }
            Some(answer) = pending.next(), if !pending.is_empty() => {
                if output.send(Ok(answer)).await.is_err() {
                    // The client is gone; queued items still apply (they are idempotent).
                    return;
                }
            }
            () = state.shutdown.wait(), if reading => {
                // Stop taking new items; answer the accepted ones so the
                // client knows exactly what to resend after reconnecting.
                reading = false;
            }
        }
    }
    if let Some(status) = ending {
        let _ = output.send(Err(status)).await;
    }
    tracing::debug!(items, "ingest stream finished");
}

/// The status that ends a stream whose input failed: an oversize item is
/// RESOURCE_EXHAUSTED naming the limit (tonic says OUT_OF_RANGE), audited
/// like any refused request.
fn stream_error(state: &ServiceState, access: &Access, status: Status) -> Status {
    if status.code() != tasknet_proto::tonic::Code::OutOfRange {
        return status;
    }
    let status = Status::resource_exhausted(format!(
        "an Ingest item is over the message size limit ({}); the stream ends here and \
         the items after it were not read: resend them, and split what is too large",
        status.message()
    ));
    state
        .audit
        .record_rejection(tasknet_auth::AuditEntry::rejected(
            Some(&access.context.principal),
            &access.context.rpc,
            access.context.peer_text(),
            v1::AuditOutcome::Invalid,
            status.message(),
        ));
    status
}

/// Validates an item and queues it; the returned future yields its answer.
/// Items are queued in arrival order, so a creation and an update of the same
/// task sent one after the other are applied in that order.
async fn submit(state: &ServiceState, access: &Arc<Access>, request: v1::IngestRequest) -> Answer {
    let update_id = match &request.mutation {
        Some(v1::ingest_request::Mutation::Create(create)) => create.update_id.clone(),
        Some(v1::ingest_request::Mutation::Update(update)) => update.update_id.clone(),
        None => String::new(),
    };
    let queued = match admit(state, access, request).await {
        Ok(mutation) => state.writer.enqueue(mutation, access.clone()).await,
        Err(error) => Err(error),
    };
    match queued {
        Ok(receiver) => {
            let (state, access) = (state.clone(), access.clone());
            Box::pin(async move {
                let outcome = writer::wait(receiver).await;
                record_denial(&state, &access, &outcome);
                answer(update_id, outcome)
            })
        }
        Err(error) => {
            let outcome = Err(error);
            record_denial(state, access, &outcome);
            let answer = answer(update_id, outcome);
            Box::pin(async move { answer })
        }
    }
}

/// Items refused for access or as invalid are audited like refused calls
/// (the stream as a whole was admitted, so the auth layer does not see
/// them), rate-limited per credential by the audit log.
fn record_denial(state: &ServiceState, access: &Access, outcome: &Result<Outcome>) {
    let outcome_kind = match outcome {
        Err(Error::PermissionDenied(_)) => v1::AuditOutcome::Denied,
        Err(Error::Invalid(_)) => v1::AuditOutcome::Invalid,
        _ => return,
    };
    if let Err(error) = outcome {
        state
            .audit
            .record_rejection(tasknet_auth::AuditEntry::rejected(
                Some(&access.context.principal),
                &access.context.rpc,
                access.context.peer_text(),
                outcome_kind,
                &error.to_string(),
            ));
    }
}

async fn admit(
    state: &ServiceState,
    access: &Access,
    request: v1::IngestRequest,
) -> Result<Mutation> {
    match request.mutation {
        Some(v1::ingest_request::Mutation::Create(create)) => {
            admit_create(&state.references, &create, access).await
        }
        Some(v1::ingest_request::Mutation::Update(update)) => admit_update(&update),
        None => Err(Error::invalid("mutation", "is required: create or update")),
    }
}

fn answer(update_id: String, outcome: Result<Outcome>) -> v1::IngestResponse {
    use v1::ingest_response::Outcome as Wire;
    let outcome = match outcome {
        Ok(Outcome::Task(ack)) => Wire::Ack(v1::IngestAck {
            version: ack.version,
            cursor: ack.cursor,
            duplicate: ack.duplicate,
        }),
        Ok(Outcome::Plan { .. }) => {
            Wire::Error(Error::Internal("a task mutation answered as a plan".into()).into())
        }
        Err(error) => Wire::Error(error.into()),
    };
    v1::IngestResponse {
        update_id,
        outcome: Some(outcome),
    }
}
