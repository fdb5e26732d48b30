//! Ingest: every item answered, in the order sent, good or bad.

use tasknet_proto::tonic::Code;
use tasknet_proto::v1;
use tasknet_storage::testing::TestDatabase;
use tokio_stream::StreamExt;
use tokio_stream::wrappers::ReceiverStream;

use crate::support::*;

fn create(request: v1::CreateTaskRequest) -> v1::IngestRequest {
    v1::IngestRequest {
        mutation: Some(v1::ingest_request::Mutation::Create(request)),
    }
}

fn change(request: v1::UpdateTaskRequest) -> v1::IngestRequest {
    v1::IngestRequest {
        mutation: Some(v1::ingest_request::Mutation::Update(request)),
    }
}

/// Sends `items` on one stream (all at once, without waiting for answers) and collects the answers.
async fn ingest(client: &mut Client, items: Vec<v1::IngestRequest>) -> Vec<v1::IngestResponse> {
    let (sender, receiver) = tokio::sync::mpsc::channel(items.len().max(1));
    for item in items {
        sender.send(item).await.unwrap();
    }
    drop(sender);
    let mut answers = client
        .ingest(ReceiverStream::new(receiver))
        .await
        .unwrap()
        .into_inner();
    let mut collected = Vec::new();
    while let Some(answer) = answers.next().await {
        collected.push(answer.unwrap());
    }
    collected
}

fn ack(response: &v1::IngestResponse) -> &v1::IngestAck {
    match &response.outcome {
        Some(v1::ingest_response::Outcome::Ack(ack)) => ack,
        other => panic!("expected an ack for {}, got {other:?}", response.update_id),
    }
}

fn error(response: &v1::IngestResponse) -> (Code, &str) {
    match &response.outcome {
        Some(v1::ingest_response::Outcome::Error(error)) => {
            (Code::from_i32(error.code), error.field.as_str())
        }
        other => panic!(
            "expected an error for {}, got {other:?}",
            response.update_id
        ),
    }
}

async fn ingest_answers_good_duplicate_and_bad_items_in_order(db: TestDatabase) {
    let mut harness = Harness::start(db).await;
    let office = harness.office.clone();
    let a = harness.new_task(&office, ymd(2024, 6, 3), ymd(2024, 6, 28));
    let c = harness.new_task(&office, ymd(2024, 6, 4), ymd(2024, 6, 28));
    let mut bad_id = harness.new_task(&office, ymd(2024, 6, 3), ymd(2024, 6, 28));
    bad_id.update_id = uuid::Uuid::new_v4().to_string();
    let mut unknown_unit = harness.new_task(&office, ymd(2024, 6, 3), ymd(2024, 6, 28));
    unknown_unit.task.as_mut().unwrap().assignee_unit_id = uuid::Uuid::new_v4().to_string();
    let progress = update(&a.task_id, at_noon(ymd(2024, 6, 5)), note("bắt đầu"));
    let done = update(&a.task_id, at_noon(ymd(2024, 6, 20)), complete());
    let nowhere = update(&new_id(), at_noon(ymd(2024, 6, 5)), note("?"));
    let items = vec![
        create(a.clone()),
        change(progress.clone()),
        create(a.clone()),
        create(bad_id.clone()),
        change(nowhere.clone()),
        v1::IngestRequest { mutation: None },
        change(done.clone()),
        create(unknown_unit.clone()),
        create(c.clone()),
    ];
    let answers = ingest(&mut harness.client, items).await;
    let ids: Vec<&str> = answers.iter().map(|a| a.update_id.as_str()).collect();
    assert_eq!(
        ids,
        vec![
            a.update_id.as_str(),
            progress.update_id.as_str(),
            a.update_id.as_str(),
            bad_id.update_id.as_str(),
            nowhere.update_id.as_str(),
            "",
            done.update_id.as_str(),
            unknown_unit.update_id.as_str(),
            c.update_id.as_str(),
        ]
    );
    let created = ack(&answers[0]);
    assert_eq!((created.version, created.duplicate), (1, false));
    assert_eq!(
        (ack(&answers[1]).version, ack(&answers[1]).duplicate),
        (2, false)
    );
    let repeat = ack(&answers[2]);
    assert_eq!(
        (repeat.version, repeat.cursor, repeat.duplicate),
        (1, created.cursor, true)
    );
    assert_eq!(error(&answers[3]), (Code::InvalidArgument, "update_id"));
    assert_eq!(error(&answers[4]), (Code::NotFound, "task_id"));
    assert_eq!(error(&answers[5]), (Code::InvalidArgument, "mutation"));
    assert_eq!(ack(&answers[6]).version, 3);
    assert_eq!(
        error(&answers[7]),
        (Code::NotFound, "task.assignee_unit_id")
    );
    assert_eq!(ack(&answers[8]).version, 1);
    let cursors = [0, 1, 6, 8].map(|i| ack(&answers[i]).cursor);
    assert!(
        cursors.windows(2).all(|pair| pair[0] < pair[1]),
        "{cursors:?}"
    );

    let task = harness
        .client
        .get_task(v1::GetTaskRequest {
            task_id: a.task_id.clone(),
        })
        .await
        .unwrap()
        .into_inner()
        .task
        .unwrap();
    assert_eq!(
        (task.version, task.status),
        (3, v1::TaskStatus::Completed as i32)
    );
    assert_eq!(harness.count("change_log").await, 4);
    assert_eq!(harness.count("tasks").await, 2);
    harness.stop().await;
}

async fn ingest_pipelines_many_items(db: TestDatabase) {
    let mut harness = Harness::start(db).await;
    let office = harness.office.clone();
    let mut items = Vec::new();
    for day in 0..250 {
        let creation = harness.new_task(
            &office,
            ymd(2024, 1, 1) + chrono::Days::new(day),
            ymd(2024, 12, 31),
        );
        let completion = update(&creation.task_id, at_noon(ymd(2024, 12, 1)), complete());
        items.push(create(creation));
        items.push(change(completion));
    }
    let sent: Vec<String> = items
        .iter()
        .map(|item| match &item.mutation {
            Some(v1::ingest_request::Mutation::Create(c)) => c.update_id.clone(),
            Some(v1::ingest_request::Mutation::Update(u)) => u.update_id.clone(),
            None => unreachable!(),
        })
        .collect();
    let answers = ingest(&mut harness.client, items).await;
    let answered: Vec<String> = answers.iter().map(|a| a.update_id.clone()).collect();
    assert_eq!(answered, sent);
    let cursors: Vec<i64> = answers.iter().map(|a| ack(a).cursor).collect();
    assert!(cursors.windows(2).all(|pair| pair[0] < pair[1]));
    let completed = harness
        .client
        .list_tasks(v1::ListTasksRequest {
            status: v1::TaskStatus::Completed as i32,
            page_size: 1000,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(completed.tasks.len(), 250);
    harness.stop().await;
}

tasknet_storage::test_on_both_backends!(
    ingest_answers_good_duplicate_and_bad_items_in_order,
    ingest_pipelines_many_items,
);
