//! The provincial office agent under faults (issue 4). Each test has several
//! offices push a few thousand updates to the real `tasknet serve task`
//! process while something breaks — the task service SIGKILLed, an agent
//! process SIGKILLed, the link dropped, reset and stalled, PostgreSQL
//! restarted — and then checks exactly: every update applied once, none
//! lost, each task's updates in the office's order, final states as entered.
//! The scale test has the 63 provincial offices push at once and prints the
//! throughput and the time for every outbox to drain.

mod centre;
mod check;
mod cli;
mod offices;
mod postgres;
mod process;
mod process_agent;
mod proxy;
mod workload;

use std::time::{Duration, Instant};

use centre::Centre;
use offices::{Offices, finish};

/// Offices per fault test, and each office's tasks × updates per task.
const OFFICES: usize = 3;
const TASKS: usize = 150;
const UPDATES: usize = 10;

/// Runs blocking process control (spawning, waiting) off the async workers' path.
fn blocking<T>(work: impl FnOnce() -> T) -> T {
    tokio::task::block_in_place(work)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn task_service_killed_mid_push_and_restarted() {
    let mut centre = Centre::start(None).await;
    let offices = Offices::enter(&centre, OFFICES, &centre.task_endpoint(), TASKS, UPDATES).await;
    let total = offices.total();
    let started = Instant::now();
    let pushes = offices.push_all();
    for fraction in [4, 2] {
        let at = offices.wait_until_sent(total / fraction).await;
        blocking(|| centre.kill_task());
        assert!(at < total, "the kill came after the push");
        tokio::time::sleep(Duration::from_millis(500)).await;
        blocking(|| centre.start_task());
        eprintln!(
            "task service SIGKILLed at {at} of {total} acknowledged, restarted on {}",
            centre.task_address
        );
    }
    let report = finish(pushes).await;
    assert!(
        report.link_failures > 0,
        "the kills went unnoticed: {report:?}"
    );
    let checked = offices.check(&centre).await;
    eprintln!(
        "{} updates of {} tasks applied exactly once in {:.1} s across {} task-service starts; {} resent and acknowledged as repeats, {report:?}",
        checked.updates,
        checked.tasks,
        started.elapsed().as_secs_f64(),
        centre.task_starts,
        checked.duplicates
    );
    blocking(|| centre.stop());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn agent_processes_killed_mid_push_and_restarted() {
    let centre = Centre::start(None).await;
    let mut agents = Vec::new();
    for (index, office) in centre.offices[..OFFICES].iter().enumerate() {
        agents.push(
            process_agent::ProcessAgent::import(&centre, office, index, TASKS, UPDATES).await,
        );
    }
    let total: u64 = agents.iter().map(|a| a.work.update_count() as u64).sum();
    let started = Instant::now();
    for agent in &mut agents {
        agent.start();
    }
    // Each agent is killed once a third of its own updates are through; the first again at two thirds.
    let mut kills = 0;
    for (index, numerator, denominator) in [(0, 1, 3), (1, 1, 3), (2, 1, 3), (0, 2, 3)] {
        let agent = &mut agents[index];
        let count = agent.work.update_count() as u64;
        let at = agent.wait_until_sent(count * numerator / denominator).await;
        assert!(at < count, "the kill came after the push");
        blocking(|| agent.kill_and_restart());
        kills += 1;
        eprintln!("agent {index} SIGKILLed at {at} of {count} acknowledged, restarted");
    }
    for agent in &agents {
        agent
            .wait_until_sent(agent.work.update_count() as u64)
            .await;
    }
    let json = agents[0].status_json();
    assert_eq!(json["pending"], 0, "{json}");
    assert_eq!(json["sent"], agents[0].work.update_count() as u64, "{json}");
    let mut entries = Vec::new();
    for agent in &agents {
        entries.push(agent.agent.entries().await.unwrap());
    }
    let work: Vec<_> = agents.iter().map(|a| &a.work).collect();
    let checked = check::exact_check(
        centre.admin_channel(&centre.task_endpoint()),
        &work,
        &entries,
    )
    .await;
    eprintln!(
        "{} updates ({total} entered) applied exactly once in {:.1} s with {kills} agent kills; {} resent and acknowledged as repeats",
        checked.updates,
        started.elapsed().as_secs_f64(),
        checked.duplicates
    );
    for agent in agents {
        blocking(|| agent.stop());
    }
    blocking(|| centre.stop());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn link_dropped_reset_and_stalled_mid_push() {
    use proxy::{FaultyLink, Mode};
    let centre = Centre::start(None).await;
    let link = FaultyLink::start(centre.task_address.clone()).await;
    let offices = Offices::enter(&centre, OFFICES, &link.endpoint(), TASKS, UPDATES).await;
    let total = offices.total();
    let started = Instant::now();
    let pushes = offices.push_all();
    let at = offices.wait_until_sent(total / 8).await;
    link.drop_connections();
    eprintln!("link dropped at {at} of {total}");
    let at = offices.wait_until_sent(total / 4).await;
    link.reset_connections();
    eprintln!("link reset at {at} of {total}");
    let at = offices.wait_until_sent(total * 2 / 5).await;
    link.set(Mode::Stall);
    eprintln!("link stalled at {at} of {total}");
    tokio::time::sleep(Duration::from_secs(3)).await;
    link.set(Mode::Pass);
    let at = offices.wait_until_sent(total * 3 / 5).await;
    link.set(Mode::Refuse);
    link.reset_connections();
    eprintln!("link cut (connections reset, new ones refused) at {at} of {total}");
    tokio::time::sleep(Duration::from_millis(1500)).await;
    link.set(Mode::Pass);
    let at = offices.wait_until_sent(total * 4 / 5).await;
    link.reset_connections();
    eprintln!("link reset at {at} of {total}");
    let report = finish(pushes).await;
    assert!(report.link_failures >= 4, "{report:?}");
    let checked = offices.check(&centre).await;
    eprintln!(
        "{} updates of {} tasks applied exactly once in {:.1} s through the faulty link; {} repeats, {report:?}",
        checked.updates,
        checked.tasks,
        started.elapsed().as_secs_f64(),
        checked.duplicates
    );
    drop(link);
    blocking(|| centre.stop());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_restarted_mid_push() {
    let Some(mut cluster) = blocking(postgres::OwnCluster::start) else {
        return;
    };
    let centre = Centre::start(Some(cluster.url())).await;
    let offices = Offices::enter(&centre, OFFICES, &centre.task_endpoint(), TASKS, UPDATES).await;
    let total = offices.total();
    let started = Instant::now();
    let pushes = offices.push_all();
    for (fraction, mode) in [(4, "fast"), (2, "immediate")] {
        let at = offices.wait_until_sent(total / fraction).await;
        blocking(|| cluster.stop_server(mode));
        assert!(at < total, "the restart came after the push");
        tokio::time::sleep(Duration::from_secs(1)).await;
        blocking(|| cluster.start_server());
        eprintln!("PostgreSQL stopped ({mode}) at {at} of {total} acknowledged, and started again");
    }
    let report = finish(pushes).await;
    // The outages reached the agents: as refused batches or as broken streams.
    assert!(
        report.retried + report.link_failures > 0,
        "the restarts went unnoticed: {report:?}"
    );
    let checked = offices.check(&centre).await;
    eprintln!(
        "{} updates of {} tasks applied exactly once in {:.1} s across two PostgreSQL restarts; {} repeats, {report:?}",
        checked.updates,
        checked.tasks,
        started.elapsed().as_secs_f64(),
        checked.duplicates
    );
    blocking(|| centre.stop());
    drop(cluster);
}

/// The 63 provincial offices push at once to one task service. A
/// measurement as much as a check: it prints throughput and drain time
/// (`cargo test --test e2e scale -- --nocapture`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scale_63_offices_push_at_once() {
    const SCALE_TASKS: usize = 30;
    const SCALE_UPDATES: usize = 5;
    let centre = Centre::start(None).await;
    let offices = Offices::enter(
        &centre,
        63,
        &centre.task_endpoint(),
        SCALE_TASKS,
        SCALE_UPDATES,
    )
    .await;
    let total = offices.total();
    let started = Instant::now();
    let report = finish(offices.push_all()).await;
    let drain = started.elapsed();
    assert_eq!(report.acknowledged, total);
    let checked = offices.check(&centre).await;
    println!(
        "scale: 63 offices drained {total} updates ({} tasks) in {:.2} s: {:.0} updates/s; {report:?}",
        checked.tasks,
        drain.as_secs_f64(),
        total as f64 / drain.as_secs_f64()
    );
    blocking(|| centre.stop());
}
