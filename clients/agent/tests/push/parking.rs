//! Updates the centre refuses: parked with the reason, later updates of the
//! same task held behind them, other tasks unaffected; retry and discard.

use tasknet_agent::{EntryState, Error, NewTask, Update};
use tasknet_server::Shutdown;
use tasknet_storage::testing::TestDatabase;
use uuid::Uuid;

use crate::support::*;

fn create(plan: Option<Uuid>) -> Update {
    let mut task = NewTask::new("Điều tra doanh nghiệp", ymd(2024, 6, 30));
    task.assigned_date = Some(ymd(2024, 3, 1));
    task.plan_ids = plan.into_iter().collect();
    Update::create(task).effective_on(ymd(2024, 3, 1))
}

async fn refused_updates_are_parked_and_hold_back_their_task(db: TestDatabase) {
    let centre = Centre::start(db, "127.0.0.1:0").await;
    let (_dir, agent) = agent(&centre.offices[2], &centre.task_endpoint).await;
    let push = || agent.push_until_drained(Shutdown::new());

    // A: completed twice (the second is refused), then a note, held behind it.
    let a = create(None);
    let a_id = a.task_id;
    agent.submit(a).await.unwrap();
    agent
        .submit(Update::complete(a_id, "xong").effective_on(ymd(2024, 6, 1)))
        .await
        .unwrap();
    let twice = agent
        .submit(Update::complete(a_id, "xong lần hai").effective_on(ymd(2024, 6, 2)))
        .await
        .unwrap();
    let held = agent
        .submit(Update::note(a_id, "ghi chú sau").effective_on(ymd(2024, 6, 3)))
        .await
        .unwrap();
    // B: in a plan the centre does not know (another unit as assignee is
    // refused locally, before it is stored); its note waits.
    let b = create(Some(Uuid::now_v7()));
    let b_id = b.task_id;
    let b_create = agent.submit(b).await.unwrap();
    agent
        .submit(Update::note(b_id, "không gửi được"))
        .await
        .unwrap();
    // C: fine. X: an update of a task the centre never heard of.
    let c = create(None);
    let c_id = c.task_id;
    agent.submit(c).await.unwrap();
    agent.submit(Update::note(c_id, "ổn")).await.unwrap();
    let stray = agent
        .submit(Update::note(Uuid::now_v7(), "lạc"))
        .await
        .unwrap();

    let report = push().await.unwrap();
    assert_eq!((report.acknowledged, report.parked), (4, 3));
    let status = agent.status().await.unwrap();
    assert_eq!(
        (status.sent, status.parked, status.pending, status.held),
        (4, 3, 2, 2)
    );
    let refusals: Vec<(Uuid, String, String)> = agent
        .parked(10)
        .await
        .unwrap()
        .into_iter()
        .map(|entry| {
            let refusal = entry.refusal.unwrap();
            (entry.update_id, refusal.code, refusal.field)
        })
        .collect();
    assert_eq!(
        refusals,
        [
            (twice, "FAILED_PRECONDITION".into(), "complete".into()),
            (b_create, "NOT_FOUND".into(), "task.plan_ids".into()),
            (stray, "NOT_FOUND".into(), "task_id".into()),
        ]
    );
    assert_eq!(centre.task(a_id).await.version, 2);
    assert_eq!(centre.task(c_id).await.version, 2);
    // The effective-order refusal keeps the centre's message, which names
    // the completion in force (what `tasknet agent status` prints).
    let refused = agent.entry(twice).await.unwrap().unwrap().refusal.unwrap();
    let first = agent.entries().await.unwrap()[1].update_id;
    assert!(
        refused.message.contains(&first.to_string())
            && refused.message.contains("already completed"),
        "{refused:?}"
    );

    // Retried as it is, the second completion is refused again.
    agent.retry_parked(twice).await.unwrap();
    assert_eq!(agent.status().await.unwrap().held, 1);
    assert_eq!(push().await.unwrap().parked, 1);
    // Discarded, the note behind it goes on.
    agent.discard_parked(twice).await.unwrap();
    assert_eq!(push().await.unwrap().acknowledged, 1);
    assert_eq!(
        agent.entry(held).await.unwrap().unwrap().state,
        EntryState::Sent
    );
    let a_task = centre.task(a_id).await;
    assert_eq!(
        (a_task.version, a_task.last_note.as_str()),
        (3, "ghi chú sau")
    );
    let status = agent.status().await.unwrap();
    assert_eq!(
        (status.sent, status.parked, status.held, status.discarded),
        (5, 2, 1, 1)
    );

    assert!(matches!(
        agent.retry_parked(held).await,
        Err(Error::NotParked { .. })
    ));
    assert!(matches!(
        agent.discard_parked(Uuid::now_v7()).await,
        Err(Error::UnknownUpdate(_))
    ));
    agent.close().await;
    centre.stop().await;
}

tasknet_storage::test_on_both_backends!(refused_updates_are_parked_and_hold_back_their_task);
