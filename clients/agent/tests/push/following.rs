//! The local copy of an office's tasks, followed from the centre: tasks
//! headquarters assigns arrive, pending updates are folded on top, a
//! restarted follower resumes from its stored cursor, and a reorganisation
//! passes a task away from the office (and to its successor, with its history).

use std::time::Duration;

use tasknet_agent::{Agent, Forecast, LocalTask, Update};
use tasknet_domain::{date_to_proto, timestamp_to_proto};
use tasknet_organisation::reference::{reference_unit_id, reference_unit_id_at};
use tasknet_proto::v1::{self, UnitCategory};
use tasknet_server::Shutdown;
use tasknet_storage::testing::TestDatabase;
use uuid::Uuid;

use crate::support::*;

/// Headquarters assigns a task to `office`, due `deadline`; returns its id.
async fn assign(centre: &Centre, hq: &str, office: &str, deadline: chrono::NaiveDate) -> Uuid {
    let task_id = Uuid::now_v7();
    let assigned = ymd(2025, 6, 2);
    centre
        .tasks()
        .create_task(v1::CreateTaskRequest {
            update_id: Uuid::now_v7().to_string(),
            task_id: task_id.to_string(),
            effective_time: Some(timestamp_to_proto(tasknet_agent::noon_in_vietnam(assigned))),
            task: Some(v1::NewTask {
                title: "Báo cáo tình hình kinh tế - xã hội".to_owned(),
                assigning_unit_id: hq.to_owned(),
                assignee_unit_id: office.to_owned(),
                assigned_date: Some(date_to_proto(assigned)),
                deadline: Some(date_to_proto(deadline)),
                plan_ids: Vec::new(),
            }),
        })
        .await
        .unwrap();
    task_id
}

/// The follower of `agent`, until the returned shutdown fires.
fn follow(agent: &Agent) -> (Shutdown, tokio::task::JoinHandle<()>) {
    let shutdown = Shutdown::new();
    let follower = {
        let (agent, shutdown) = (agent.clone(), shutdown.clone());
        tokio::spawn(async move { agent.follow_tasks(shutdown).await.unwrap() })
    };
    (shutdown, follower)
}

/// The agent's view once `done` holds of it (the follower is asynchronous).
async fn view_when(agent: &Agent, done: impl Fn(&[LocalTask]) -> bool) -> Vec<LocalTask> {
    for _ in 0..200 {
        let tasks = agent.tasks().await.unwrap();
        if done(&tasks) {
            return tasks;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!(
        "the local copy never got there: {:?}",
        agent.tasks().await.unwrap()
    );
}

async fn the_copy_follows_the_centre_through_a_reorganisation(db: TestDatabase) {
    let centre = Centre::start(db, "127.0.0.1:0").await;
    let hq = centre.hq().await;
    let binh_dinh = reference_unit_id(UnitCategory::ProvincialOffice, "52");
    let gia_lai = reference_unit_id_at(UnitCategory::ProvincialOffice, "52", ymd(2025, 7, 1));
    let open = assign(&centre, &hq, &binh_dinh, ymd(2025, 7, 25)).await;
    let done = assign(&centre, &hq, &binh_dinh, ymd(2025, 6, 30)).await;
    let (_dir, agent) = agent(&binh_dinh, &centre.task_endpoint).await;
    assert!(agent.tasks().await.unwrap().is_empty());

    // Online: both arrive, as the centre has them.
    let (shutdown, follower) = follow(&agent);
    let tasks = view_when(&agent, |tasks| tasks.len() == 2).await;
    assert!(
        tasks
            .iter()
            .all(|t| t.version == 1 && t.pending == 0 && t.is_open())
    );
    shutdown.trigger();
    follower.await.unwrap();

    // Offline: the office completes one (pending, folded on top).
    agent
        .submit(Update::complete(done, "xong").effective_on(ymd(2025, 6, 20)))
        .await
        .unwrap();
    let view = agent.tasks().await.unwrap();
    let local = view.iter().find(|t| t.task_id == done.to_string()).unwrap();
    assert_eq!(
        (local.completed_on, local.pending, local.class),
        (Some(ymd(2025, 6, 20)), 1, "completed_on_time")
    );
    agent.push_until_drained(Shutdown::new()).await.unwrap();

    // The merger passes the open task to Gia Lai from 1 July.
    let reorganisation_id = centre.apply_provinces_2025().await;
    centre
        .tasks()
        .transfer_open_tasks(v1::TransferOpenTasksRequest { reorganisation_id })
        .await
        .unwrap();

    // Resumed from its cursor: the completion comes back, the open task leaves.
    let before = agent.feed_state().await.unwrap().cursor;
    let (shutdown, follower) = follow(&agent);
    let tasks = view_when(&agent, |tasks| {
        tasks.len() == 1 && tasks[0].pending == 0 && tasks[0].version == 2
    })
    .await;
    assert_eq!(tasks[0].task_id, done.to_string());
    assert!(agent.feed_state().await.unwrap().cursor > before);
    shutdown.trigger();
    follower.await.unwrap();
    match agent
        .forecast(&Update::note(open, "vẫn làm"))
        .await
        .unwrap()
    {
        Forecast::Refuse(reason) => {
            assert!(reason.starts_with("PERMISSION_DENIED"), "{reason}");
            assert!(reason.contains(&gia_lai), "{reason}");
        }
        other => panic!("{other:?}"),
    }

    // The successor's agent gets the task with its history, open.
    let (_successor_dir, successor) = crate::support::agent(&gia_lai, &centre.task_endpoint).await;
    let (shutdown, follower) = follow(&successor);
    let tasks = view_when(&successor, |tasks| tasks.len() == 1).await;
    assert_eq!(tasks[0].task_id, open.to_string());
    assert_eq!(tasks[0].assignee_unit_id, gia_lai);
    assert_eq!(tasks[0].version, 2, "created, then reassigned");
    shutdown.trigger();
    follower.await.unwrap();

    agent.close().await;
    successor.close().await;
    centre.stop().await;
}

/// A centre that cannot be reached: the copy says why, and keeps trying.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_centre_is_recorded() {
    let office = Uuid::now_v7().to_string();
    let (_dir, agent) = agent(&office, "http://127.0.0.1:1").await;
    let (shutdown, follower) = follow(&agent);
    let mut error = None;
    for _ in 0..200 {
        error = agent.feed_state().await.unwrap().last_error;
        if error.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let error = error.expect("the failure is recorded");
    assert!(error.contains("cannot connect to"), "{error}");
    shutdown.trigger();
    follower.await.unwrap();
    agent.close().await;
}

tasknet_storage::test_on_both_backends!(the_copy_follows_the_centre_through_a_reorganisation);
