//! A rough throughput measurement (ignored by default; run it with
//! `cargo test -p tasknet-task --release --test grpc throughput -- --ignored --nocapture`):
//! 63 office clients each push creations, then completions, over Ingest.

use std::time::Instant;

use tasknet_proto::v1;
use tasknet_storage::testing::TestDatabase;
use tokio_stream::StreamExt;
use tokio_stream::wrappers::ReceiverStream;

use crate::support::*;

const CLIENTS: usize = 63;
const TASKS_PER_CLIENT: usize = 400;

/// Pushes `items` on one Ingest stream and checks every answer is an ack.
async fn push(mut client: Client, items: Vec<v1::IngestRequest>) {
    let (sender, receiver) = tokio::sync::mpsc::channel(256);
    let expected = items.len();
    let feeder = tokio::spawn(async move {
        for item in items {
            if sender.send(item).await.is_err() {
                return;
            }
        }
    });
    let mut answers = client
        .ingest(ReceiverStream::new(receiver))
        .await
        .unwrap()
        .into_inner();
    let mut count = 0;
    while let Some(answer) = answers.next().await {
        let answer = answer.unwrap();
        assert!(
            matches!(answer.outcome, Some(v1::ingest_response::Outcome::Ack(_))),
            "{answer:?}"
        );
        count += 1;
    }
    feeder.await.unwrap();
    assert_eq!(count, expected);
}

async fn phase(harness: &Harness, name: &str, per_client: Vec<Vec<v1::IngestRequest>>) {
    let total: usize = per_client.iter().map(Vec::len).sum();
    let started = Instant::now();
    let pushes: Vec<_> = per_client
        .into_iter()
        .map(|items| tokio::spawn(push(harness.client.clone(), items)))
        .collect();
    for push in pushes {
        push.await.unwrap();
    }
    let seconds = started.elapsed().as_secs_f64();
    eprintln!(
        "{name}: {total} items in {seconds:.2} s = {:.0}/s",
        total as f64 / seconds
    );
}

async fn ingest_throughput(db: TestDatabase) {
    let harness = Harness::start(db).await;
    let office = harness.office.clone();
    let mut creations = Vec::new();
    let mut completions = Vec::new();
    for _ in 0..CLIENTS {
        let mut created = Vec::new();
        let mut completed = Vec::new();
        for _ in 0..TASKS_PER_CLIENT {
            let request = harness.new_task(&office, ymd(2024, 3, 1), ymd(2024, 6, 30));
            completed.push(v1::IngestRequest {
                mutation: Some(v1::ingest_request::Mutation::Update(update(
                    &request.task_id,
                    at_noon(ymd(2024, 6, 1)),
                    complete(),
                ))),
            });
            created.push(v1::IngestRequest {
                mutation: Some(v1::ingest_request::Mutation::Create(request)),
            });
        }
        creations.push(created);
        completions.push(completed);
    }
    phase(&harness, "creations", creations).await;
    phase(&harness, "completions", completions).await;
    assert_eq!(
        harness.count("applied_updates").await,
        (2 * CLIENTS * TASKS_PER_CLIENT) as i64
    );
    harness.stop().await;
}

mod measured {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    #[ignore = "a measurement, not a check; run it with --ignored --nocapture"]
    async fn ingest_throughput_on_sqlite() {
        ingest_throughput(TestDatabase::sqlite()).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    #[ignore = "a measurement, not a check; run it with --ignored --nocapture"]
    async fn ingest_throughput_on_postgres() {
        if let Some(db) = TestDatabase::postgres("ingest_throughput").await {
            ingest_throughput(db).await;
        }
    }
}
