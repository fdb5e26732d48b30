//! An agent as the office runs it: `tasknet agent import` to enter the work,
//! then `tasknet agent run` as a process of its own (killed and restarted
//! by the test), watched through the library on the same outbox.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use tasknet_agent::{Agent, AgentConfig};

use super::centre::Centre;
use super::process::{TasknetProcess, run, tasknet};
use super::workload::{OfficeWork, office_work};

pub struct ProcessAgent {
    pub work: OfficeWork,
    /// The same outbox, opened by the test to read its status and entries.
    pub agent: Agent,
    dir: tempfile::TempDir,
    config: PathBuf,
    process: Option<TasknetProcess>,
}

impl ProcessAgent {
    /// Writes the agent's configuration and its work as a CSV file, and
    /// imports the file with `tasknet agent import`.
    pub async fn import(
        centre: &Centre,
        office: &str,
        index: usize,
        tasks: usize,
        updates: usize,
    ) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let data_dir = dir.path().join("outbox");
        let config = dir.path().join("agent.toml");
        std::fs::write(
            &config,
            format!(
                "unit_id = \"{office}\"\nendpoint = \"{}\"\ndata_dir = \"{}\"\ntoken = \"{}\"\n\n[push]\n\
                 connect_timeout_ms = 1000\nack_timeout_ms = 2000\nbackoff_initial_ms = 50\n\
                 backoff_max_ms = 500\npoll_interval_ms = 100\n",
                centre.task_endpoint(),
                data_dir.display(),
                centre.office_token(office).await,
            ),
        )
        .unwrap();
        let work = office_work(office, index, tasks, updates);
        std::fs::write(dir.path().join("updates.csv"), work.to_csv()).unwrap();
        let config_arg = config.display().to_string();
        let (ok, stdout, stderr) = tokio::task::block_in_place(|| {
            run(
                &["agent", "--config", &config_arg, "import", "updates.csv"],
                dir.path(),
            )
        });
        assert!(ok, "import failed: {stderr}");
        assert!(
            stdout.contains(&format!("imported {} update(s)", work.update_count())),
            "{stdout}"
        );
        let agent = Agent::open(AgentConfig::new(office, centre.task_endpoint(), &data_dir))
            .await
            .unwrap();
        Self {
            work,
            agent,
            dir,
            config,
            process: None,
        }
    }

    /// Starts `tasknet agent run`.
    pub fn start(&mut self) {
        let config = self.config.display().to_string();
        let process = tasknet(self.dir.path())
            .args(["agent", "--config", &config, "run"])
            .spawn("agent")
            .unwrap();
        process
            .wait_for_line("pushing to", Duration::from_secs(60))
            .unwrap();
        self.process = Some(process);
    }

    /// SIGKILL, then a new `tasknet agent run` on the same outbox.
    pub fn kill_and_restart(&mut self) {
        if let Some(process) = self.process.take() {
            process.kill_hard();
        }
        self.start();
    }

    /// Waits until at least `count` of its updates are acknowledged.
    pub async fn wait_until_sent(&self, count: u64) -> u64 {
        let deadline = Instant::now() + Duration::from_secs(180);
        loop {
            let sent = self.agent.status().await.unwrap().sent;
            if sent >= count {
                return sent;
            }
            assert!(
                Instant::now() < deadline,
                "agent stuck at {sent} of {count}"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// `tasknet agent status --format json`.
    pub fn status_json(&self) -> serde_json::Value {
        let config = self.config.display().to_string();
        let (ok, stdout, stderr) = tokio::task::block_in_place(|| {
            run(
                &["agent", "--config", &config, "status", "--format", "json"],
                self.dir.path(),
            )
        });
        assert!(ok, "status failed: {stderr}");
        serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("not JSON ({e}): {stdout}"))
    }

    /// SIGTERM: the pusher stops cleanly.
    pub fn stop(mut self) {
        if let Some(process) = self.process.take() {
            process.terminate().unwrap();
        }
    }
}
