//! Pushing: order and acknowledgements, an unreachable centre, the daemon
//! picking up new updates, and the outbox's durability and ownership.

use std::collections::HashMap;
use std::time::Duration;

use tasknet_agent::{Agent, AgentConfig, EntryState, Error, NewTask, Update};
use tasknet_proto::v1;
use tasknet_server::Shutdown;
use tasknet_storage::testing::TestDatabase;
use uuid::Uuid;

use crate::support::*;

const TASKS: usize = 20;

/// Round `round` of the office's work on a task: create, three notes, a
/// deadline change, completion.
fn round_update(round: usize, task_id: Uuid, index: usize) -> Update {
    match round {
        0 => {
            let mut task = NewTask::new(format!("Nhiệm vụ {index}"), ymd(2024, 6, 30));
            task.assigned_date = Some(ymd(2024, 3, 1));
            let mut update = Update::create(task);
            update.task_id = task_id;
            update.effective_on(ymd(2024, 3, 1))
        }
        1..=3 => Update::note(task_id, format!("tiến độ {round} của nhiệm vụ {index}"))
            .effective_on(ymd(2024, 3, 1 + round as u32)),
        4 => Update::deadline(task_id, ymd(2024, 9, 30), "gia hạn").effective_on(ymd(2024, 4, 1)),
        _ => {
            Update::complete(task_id, format!("hoàn thành {index}")).effective_on(ymd(2024, 6, 28))
        }
    }
}

async fn pushes_each_tasks_updates_in_order(db: TestDatabase) {
    let centre = Centre::start(db, "127.0.0.1:0").await;
    let (_dir, agent) = agent(&centre.offices[0], &centre.task_endpoint).await;
    let task_ids: Vec<Uuid> = (0..TASKS).map(|_| Uuid::now_v7()).collect();
    let mut expected: HashMap<String, Vec<String>> = HashMap::new();
    // Interleaved across tasks, as an office works.
    for round in 0..6 {
        for (index, task_id) in task_ids.iter().enumerate() {
            let update_id = agent
                .submit(round_update(round, *task_id, index))
                .await
                .unwrap();
            expected
                .entry(task_id.to_string())
                .or_default()
                .push(update_id.to_string());
        }
    }
    let report = agent.push_until_drained(Shutdown::new()).await.unwrap();
    assert_eq!(
        (report.acknowledged, report.parked, report.duplicates),
        (6 * TASKS as u64, 0, 0)
    );

    let status = agent.status().await.unwrap();
    assert_eq!(
        (status.pending, status.sent, status.parked),
        (0, 6 * TASKS as u64, 0)
    );
    assert!(status.last_push.is_some() && status.oldest_pending.is_none());
    assert!(!status.pusher_running);
    // Each task's acknowledgements carry versions 1, 2, … in the office's order.
    let mut versions: HashMap<Uuid, Vec<i64>> = HashMap::new();
    for entry in agent.entries().await.unwrap() {
        assert_eq!(entry.state, EntryState::Sent);
        versions
            .entry(entry.task_id)
            .or_default()
            .push(entry.ack.unwrap().version);
    }
    assert!(
        versions.values().all(|v| *v == (1..=6).collect::<Vec<_>>()),
        "{versions:?}"
    );

    // The centre's change log holds each update once, in the office's order per task.
    let mut applied: HashMap<String, Vec<String>> = HashMap::new();
    for (task, update_id) in centre.change_log().await {
        applied.entry(task).or_default().push(update_id);
    }
    assert_eq!(applied, expected);
    for (index, task_id) in task_ids.iter().enumerate() {
        let task = centre.task(*task_id).await;
        assert_eq!(task.version, 6);
        assert_eq!(task.status, v1::TaskStatus::Completed as i32);
        assert_eq!(
            task.deadline,
            Some(tasknet_domain::date_to_proto(ymd(2024, 9, 30)))
        );
        assert_eq!(
            task.completed_on,
            Some(tasknet_domain::date_to_proto(ymd(2024, 6, 28)))
        );
        assert_eq!(task.last_note, format!("hoàn thành {index}"));
        assert_eq!(task.assignee_unit_id, centre.offices[0]);
    }
    agent.close().await;
    centre.stop().await;
}

/// A port nothing listens on (until the test starts the centre there).
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

async fn waits_out_an_unreachable_centre(db: TestDatabase) {
    let port = free_port();
    let endpoint = format!("http://127.0.0.1:{port}");
    // The office's unit id is known before the centre is: the reference ids are fixed.
    let office = tasknet_organisation::reference::reference_unit_id(
        v1::UnitCategory::ProvincialOffice,
        "01",
    );
    let (_dir, agent) = agent(&office, &endpoint).await;
    for index in 0..5 {
        let update = round_update(0, Uuid::now_v7(), index);
        let task_id = update.task_id;
        agent.submit(update).await.unwrap();
        agent.submit(round_update(1, task_id, index)).await.unwrap();
    }
    let pushing = tokio::spawn({
        let agent = agent.clone();
        async move { agent.push_until_drained(Shutdown::new()).await }
    });
    tokio::time::sleep(Duration::from_millis(800)).await;
    let status = agent.status().await.unwrap();
    assert_eq!((status.pending, status.sent), (10, 0));
    assert!(status.pusher_running);
    let error = status.last_error.unwrap_or_default();
    assert!(error.contains("cannot connect"), "{error}");
    assert!(status.last_error_at.is_some(), "the error's time is shown");

    let centre = Centre::start(db, &format!("127.0.0.1:{port}")).await;
    let report = tokio::time::timeout(Duration::from_secs(30), pushing)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(report.acknowledged, 10);
    assert!(report.link_failures >= 1, "{report:?}");
    let status = agent.status().await.unwrap();
    assert_eq!(status.sent, 10);
    // Pushes succeeded since: the old error is no longer the last word.
    assert_eq!(status.last_error, None, "{status:?}");
    assert_eq!(status.last_error_at, None);
    agent.close().await;
    centre.stop().await;
}

async fn wait_until_sent(agent: &Agent, sent: u64) {
    for _ in 0..200 {
        if agent.status().await.unwrap().sent == sent {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the pusher did not send {sent} updates");
}

async fn the_daemon_picks_up_new_updates_alone(db: TestDatabase) {
    let centre = Centre::start(db, "127.0.0.1:0").await;
    let (_dir, agent) = agent(&centre.offices[1], &centre.task_endpoint).await;
    let shutdown = Shutdown::new();
    let daemon = tokio::spawn({
        let (agent, shutdown) = (agent.clone(), shutdown.clone());
        async move { agent.run_pusher(shutdown).await }
    });
    let create = round_update(0, Uuid::now_v7(), 1);
    let task_id = create.task_id;
    agent.submit(create).await.unwrap();
    wait_until_sent(&agent, 1).await;
    // One pusher per outbox.
    let second = agent.push_until_drained(Shutdown::new()).await;
    assert!(matches!(second, Err(Error::PusherBusy(_))), "{second:?}");
    assert!(agent.status().await.unwrap().pusher_running);
    agent.submit(round_update(5, task_id, 1)).await.unwrap();
    wait_until_sent(&agent, 2).await;
    shutdown.trigger();
    let report = daemon.await.unwrap().unwrap();
    assert_eq!(report.acknowledged, 2);
    assert!(!agent.status().await.unwrap().pusher_running);
    assert_eq!(centre.task(task_id).await.version, 2);
    agent.close().await;
    centre.stop().await;
}

tasknet_storage::test_on_both_backends!(
    pushes_each_tasks_updates_in_order,
    waits_out_an_unreachable_centre,
    the_daemon_picks_up_new_updates_alone,
);

#[tokio::test]
async fn the_outbox_survives_a_reopen_and_belongs_to_one_unit() {
    let dir = tempfile::tempdir().unwrap();
    let office = Uuid::now_v7().to_string();
    let config = AgentConfig::new(&office, "http://127.0.0.1:9", dir.path());
    let agent = Agent::open(config.clone()).await.unwrap();
    let update_id = agent
        .submit(Update::note(Uuid::now_v7(), "x"))
        .await
        .unwrap();
    // No close: the process could have died right after submit returned.
    drop(agent);
    let agent = Agent::open(config.clone()).await.unwrap();
    let entry = agent.entry(update_id).await.unwrap().unwrap();
    assert_eq!(
        (entry.state, entry.source.as_str()),
        (EntryState::Pending, "api")
    );
    agent.close().await;
    let other = AgentConfig::new(Uuid::now_v7().to_string(), "http://127.0.0.1:9", dir.path());
    assert!(matches!(
        Agent::open(other).await,
        Err(Error::UnitMismatch { .. })
    ));
    let invalid = AgentConfig::new("not-a-unit", "http://127.0.0.1:9", dir.path());
    assert!(matches!(Agent::open(invalid).await, Err(Error::Invalid(e)) if e.field == "unit_id"));
}
