//! Offices for the fault tests: agents (the library, in this process) with
//! their work entered, pushed concurrently, watched, and checked.

use std::time::{Duration, Instant};

use tasknet_agent::{Agent, AgentConfig, OutboxEntry, PushReport, PushSettings, SecretString};
use tasknet_server::Shutdown;
use tokio::task::JoinHandle;

use super::centre::Centre;
use super::check::{Checked, exact_check};
use super::workload::{OfficeWork, office_work};

/// Quick retries and stall detection, so faults cost seconds, not minutes.
pub fn test_push_settings() -> PushSettings {
    PushSettings {
        connect_timeout_ms: 1_000,
        ack_timeout_ms: 2_000,
        backoff_initial_ms: 50,
        backoff_max_ms: 500,
        poll_interval_ms: 100,
        ..PushSettings::default()
    }
}

pub struct Offices {
    pub work: Vec<OfficeWork>,
    pub agents: Vec<Agent>,
    _dirs: Vec<tempfile::TempDir>,
}

impl Offices {
    /// One agent for each of the first `count` offices, pointed at
    /// `endpoint` with an office-agent credential of its own, each with
    /// `tasks` tasks of `updates` updates entered (one transaction per office).
    pub async fn enter(
        centre: &Centre,
        count: usize,
        endpoint: &str,
        tasks: usize,
        updates: usize,
    ) -> Self {
        let mut work = Vec::new();
        let mut agents = Vec::new();
        let mut dirs = Vec::new();
        for (index, office) in centre.offices[..count].iter().enumerate() {
            let dir = tempfile::tempdir().unwrap();
            let mut config = AgentConfig::new(office, endpoint, dir.path());
            config.token = Some(SecretString::from(centre.office_token(office).await));
            config.push = test_push_settings();
            let agent = Agent::open(config).await.unwrap();
            let office_work = office_work(office, index, tasks, updates);
            agent
                .submit_batch(&office_work.in_entry_order(), "test")
                .await
                .unwrap();
            work.push(office_work);
            agents.push(agent);
            dirs.push(dir);
        }
        Self {
            work,
            agents,
            _dirs: dirs,
        }
    }

    pub fn total(&self) -> u64 {
        self.work.iter().map(|w| w.update_count() as u64).sum()
    }

    /// Every agent pushing until its outbox is drained.
    pub fn push_all(&self) -> Vec<JoinHandle<PushReport>> {
        self.agents
            .iter()
            .map(|agent| {
                let agent = agent.clone();
                tokio::spawn(
                    async move { agent.push_until_drained(Shutdown::new()).await.unwrap() },
                )
            })
            .collect()
    }

    /// Updates acknowledged so far, over all offices.
    pub async fn sent(&self) -> u64 {
        let mut sent = 0;
        for agent in &self.agents {
            sent += agent.status().await.unwrap().sent;
        }
        sent
    }

    /// Waits until at least `count` updates are acknowledged; returns how many.
    pub async fn wait_until_sent(&self, count: u64) -> u64 {
        let deadline = Instant::now() + Duration::from_secs(180);
        loop {
            let sent = self.sent().await;
            if sent >= count {
                return sent;
            }
            assert!(
                Instant::now() < deadline,
                "stuck at {sent} of {count} acknowledged"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    pub async fn entries(&self) -> Vec<Vec<OutboxEntry>> {
        let mut entries = Vec::new();
        for agent in &self.agents {
            entries.push(agent.entries().await.unwrap());
        }
        entries
    }

    pub async fn check(&self, centre: &Centre) -> Checked {
        let work: Vec<&OfficeWork> = self.work.iter().collect();
        exact_check(
            centre.admin_channel(&centre.task_endpoint()),
            &work,
            &self.entries().await,
        )
        .await
    }
}

/// Waits for every push, within a limit, and adds up their reports.
pub async fn finish(pushes: Vec<JoinHandle<PushReport>>) -> PushReport {
    let mut total = PushReport::default();
    for push in pushes {
        let report = tokio::time::timeout(Duration::from_secs(180), push)
            .await
            .expect("a push did not finish")
            .unwrap();
        total.acknowledged += report.acknowledged;
        total.duplicates += report.duplicates;
        total.parked += report.parked;
        total.retried += report.retried;
        total.link_failures += report.link_failures;
    }
    total
}
