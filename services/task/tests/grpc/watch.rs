//! WatchChanges: the log from any cursor, then live.

use std::time::Duration;

use tasknet_proto::tonic::Streaming;
use tasknet_proto::v1;
use tasknet_storage::testing::TestDatabase;
use tokio_stream::StreamExt;

use crate::support::*;

/// Reads changes until `count` have arrived (each message at most `max_batch`).
async fn take(
    stream: &mut Streaming<v1::WatchChangesResponse>,
    count: usize,
    max_batch: usize,
) -> Vec<v1::Change> {
    let mut changes = Vec::new();
    while changes.len() < count {
        let message = tokio::time::timeout(Duration::from_secs(10), stream.next())
            .await
            .expect("changes within 10 s")
            .expect("the stream stays open")
            .unwrap();
        assert!(!message.changes.is_empty() && message.changes.len() <= max_batch);
        changes.extend(message.changes);
    }
    assert_eq!(changes.len(), count, "no more than asked for");
    changes
}

async fn watch(
    client: &mut Client,
    after_cursor: i64,
    max_batch: i32,
) -> Streaming<v1::WatchChangesResponse> {
    client
        .watch_changes(v1::WatchChangesRequest {
            after_cursor,
            max_batch,
        })
        .await
        .unwrap()
        .into_inner()
}

fn task_id(change: &v1::Change) -> &str {
    match &change.event {
        Some(v1::change::Event::TaskEvent(event)) => &event.task.as_ref().unwrap().id,
        other => panic!("expected a task event, got {other:?}"),
    }
}

async fn watch_streams_from_zero_follows_live_and_resumes(db: TestDatabase) {
    let mut harness = Harness::start(db).await;
    let office = harness.office.clone();
    let mut created = Vec::new();
    for day in 1..=4 {
        created.push(
            harness
                .create(harness.new_task(&office, ymd(2024, 6, day), ymd(2024, 6, 30)))
                .await,
        );
    }
    let done = update(&created[0].id, at_noon(ymd(2024, 6, 10)), complete());
    harness.client.update_task(done.clone()).await.unwrap();

    let mut stream = watch(&mut harness.client, 0, 2).await;
    let mut log = take(&mut stream, 5, 2).await;
    assert!(log[0].cursor > 0);
    assert!(log.windows(2).all(|pair| pair[0].cursor < pair[1].cursor));
    let order: Vec<&str> = log.iter().map(task_id).collect();
    let expected: Vec<&str> = created
        .iter()
        .map(|t| t.id.as_str())
        .chain([created[0].id.as_str()])
        .collect();
    assert_eq!(order, expected);
    let Some(v1::change::Event::TaskEvent(completion)) = &log[4].event else {
        unreachable!()
    };
    assert_eq!(completion.kind, v1::TaskEventKind::Completed as i32);
    assert_eq!(completion.update_id, done.update_id);
    assert_eq!(completion.task.as_ref().unwrap().version, 2);

    // Caught up, the stream waits; a new change arrives live.
    let live = harness
        .create(harness.new_task(&office, ymd(2024, 6, 20), ymd(2024, 6, 30)))
        .await;
    let next = take(&mut stream, 1, 2).await;
    assert_eq!(task_id(&next[0]), live.id);
    assert!(next[0].cursor > log[4].cursor);
    assert!(next[0].record_time.is_some());
    log.extend(next);

    // Resuming from a middle cursor yields exactly the rest, then nothing more.
    let mut resumed = watch(&mut harness.client, log[1].cursor, 0).await;
    let rest = take(&mut resumed, 4, 500).await;
    assert_eq!(rest, log[2..].to_vec());
    let quiet = tokio::time::timeout(Duration::from_millis(1500), resumed.next()).await;
    assert!(quiet.is_err(), "nothing beyond the head: {quiet:?}");

    // Shutdown ends open streams rather than holding the server up.
    drop(stream);
    harness.stop().await;
    let ended = tokio::time::timeout(Duration::from_secs(5), async {
        while let Some(Ok(_)) = resumed.next().await {}
    })
    .await;
    assert!(ended.is_ok(), "the stream ends at shutdown");
}

tasknet_storage::test_on_both_backends!(watch_streams_from_zero_follows_live_and_resumes);
