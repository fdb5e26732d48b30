//! The centre for one test (organisation with the reference units, and task),
//! agents in temporary directories, and probes of what the centre holds.

use std::time::Duration;

use tasknet_agent::{Agent, AgentConfig, PushSettings};
use tasknet_proto::v1;
use tasknet_proto::v1::task_service_client::TaskServiceClient;
use tasknet_server::{TracedChannel, connect_lazy};
use tasknet_storage::testing::TestDatabase;

pub struct Centre {
    pub task_endpoint: String,
    /// Provincial offices, sorted by id.
    pub offices: Vec<String>,
    centre: tasknet_system::testing::Centre,
}

impl Centre {
    /// Starts both services, the task service on `task_db`'s back end,
    /// listening on `task_listen` (`127.0.0.1:0` for any port).
    pub async fn start(task_db: TestDatabase, task_listen: &str) -> Self {
        let centre = tasknet_system::testing::Centre::start(task_db, task_listen).await;
        Self {
            task_endpoint: centre.task.endpoint().to_owned(),
            offices: centre.unit_ids(v1::UnitCategory::ProvincialOffice).await,
            centre,
        }
    }

    /// Applies the 2025 provincial merger; returns its id.
    pub async fn apply_provinces_2025(&self) -> String {
        self.centre.apply_provinces_2025().await
    }

    /// Headquarters' unit id.
    pub async fn hq(&self) -> String {
        self.centre.unit_ids(v1::UnitCategory::Headquarters).await[0].clone()
    }

    pub fn tasks(&self) -> TaskServiceClient<TracedChannel> {
        TaskServiceClient::new(connect_lazy(&self.task_endpoint).unwrap())
    }

    pub async fn task(&self, task_id: uuid::Uuid) -> v1::Task {
        self.tasks()
            .get_task(v1::GetTaskRequest {
                task_id: task_id.to_string(),
            })
            .await
            .unwrap()
            .into_inner()
            .task
            .unwrap()
    }

    /// The update ids of the change log's task events, in cursor order.
    pub async fn change_log(&self) -> Vec<(String, String)> {
        let mut stream = self
            .tasks()
            .watch_changes(v1::WatchChangesRequest::default())
            .await
            .unwrap()
            .into_inner();
        let mut events = Vec::new();
        // The log is read to its end; the follower then waits for more.
        while let Ok(Some(Ok(batch))) = tokio::time::timeout(
            Duration::from_millis(500),
            futures::StreamExt::next(&mut stream),
        )
        .await
        {
            for change in batch.changes {
                if let Some(v1::change::Event::TaskEvent(event)) = change.event {
                    let task = event.task.map(|t| t.id).unwrap_or_default();
                    events.push((task, event.update_id));
                }
            }
        }
        events
    }

    pub async fn stop(self) {
        self.centre.stop().await;
    }
}

/// Push settings that make a test's retries quick.
pub fn quick() -> PushSettings {
    PushSettings {
        connect_timeout_ms: 1_000,
        ack_timeout_ms: 5_000,
        backoff_initial_ms: 50,
        backoff_max_ms: 400,
        poll_interval_ms: 50,
        ..PushSettings::default()
    }
}

/// An agent for `unit` in a new temporary directory.
pub async fn agent(unit: &str, endpoint: &str) -> (tempfile::TempDir, Agent) {
    let dir = tempfile::tempdir().unwrap();
    let mut config = AgentConfig::new(unit, endpoint, dir.path());
    config.push = quick();
    (dir, Agent::open(config).await.unwrap())
}

pub fn ymd(year: i32, month: u32, day: u32) -> chrono::NaiveDate {
    chrono::NaiveDate::from_ymd_opt(year, month, day).unwrap()
}
