//! A client pushing `Ingest` items as fast as it can, one HTTP/2 DATA frame
//! per item, on four streams of one connection: the server slows it down
//! (flow control) and answers every item; it never closes the connection
//! (GOAWAY `ENHANCE_YOUR_CALM`, "too_many_data_frames", as h2 0.4.20 did
//! with the default windows).

use futures::Stream;
use tasknet_proto::v1;
use tasknet_proto::v1::ingest_request::Mutation;
use tasknet_proto::v1::ingest_response::Outcome;
use tasknet_proto::v1::update_task_request::Change;

use crate::auth::{creation, new_id, noon, units};
use crate::support::TestSystem;

const STREAMS: usize = 4;
const ITEMS_PER_STREAM: usize = 20_000;

/// `count` short progress notes on `task_id` (the smallest items, the most
/// frames), each yielded after the encoder has flushed the last: a pending
/// poll between items makes tonic send every item in a DATA frame of its
/// own (the agent's outbox feeds its stream the same way).
fn one_frame_per_note(task_id: String, count: usize) -> impl Stream<Item = v1::IngestRequest> {
    futures::stream::unfold(0, move |sent| {
        let task_id = task_id.clone();
        async move {
            if sent == count {
                return None;
            }
            tokio::task::yield_now().await;
            let note = v1::UpdateTaskRequest {
                update_id: new_id(),
                task_id,
                effective_time: Some(noon(10)),
                expected_version: None,
                change: Some(Change::Note(v1::ProgressNote {
                    note: format!("{sent}"),
                })),
            };
            let item = v1::IngestRequest {
                mutation: Some(Mutation::Update(note)),
            };
            Some((item, sent + 1))
        }
    })
}

async fn ingest_as_fast_as_possible(system: &TestSystem) {
    let units = units(system).await;
    // One connection for the four streams and the unary calls after them.
    let client = system.tasks();
    let mut task_ids = Vec::new();
    for _ in 0..STREAMS {
        let create = creation(&units.hq, &units.hanoi);
        task_ids.push(create.task_id.clone());
        client.clone().create_task(create).await.unwrap();
    }
    let pushes =
        task_ids.into_iter().enumerate().map(|(stream, task_id)| {
            let mut client = client.clone();
            let items = one_frame_per_note(task_id, ITEMS_PER_STREAM);
            async move {
                let mut responses = client
                    .ingest(items)
                    .await
                    .unwrap_or_else(|status| panic!("stream {stream}: {status:?}"))
                    .into_inner();
                let mut acknowledged = 0;
                while let Some(response) = responses.message().await.unwrap_or_else(|status| {
                    panic!("stream {stream} after {acknowledged}: {status:?}")
                }) {
                    match response.outcome {
                        Some(Outcome::Ack(_)) => acknowledged += 1,
                        other => panic!("stream {stream}: {other:?}"),
                    }
                }
                acknowledged
            }
        });
    let acknowledged = futures::future::join_all(pushes).await;
    assert_eq!(acknowledged, vec![ITEMS_PER_STREAM; STREAMS]);
    // The connection is still good for everything else.
    let listed = client
        .clone()
        .list_tasks(v1::ListTasksRequest {
            assignee_unit_id: units.hanoi.clone(),
            page_size: 10,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(listed.tasks.len(), STREAMS);
    for task in listed.tasks {
        assert_eq!(task.version, 1 + ITEMS_PER_STREAM as i64, "{}", task.id);
    }
}

mod on_sqlite {
    // One back end is enough: this is the transport, not storage.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn ingest_as_fast_as_possible() {
        let name = concat!(module_path!(), "::ingest_as_fast_as_possible");
        let system = crate::support::TestSystem::start(tasknet_storage::Backend::Sqlite, name)
            .await
            .unwrap();
        super::ingest_as_fast_as_possible(&system).await;
        system.stop().await;
    }
}
