//! Starting both services for one test, request builders, and database probes.

use chrono::{DateTime, NaiveDate, Utc};
use sqlx::Row;
use tasknet_domain::{date_to_proto, timestamp_to_proto};
use tasknet_proto::tonic::{Code, Status};
use tasknet_proto::v1;
use tasknet_proto::v1::task_service_client::TaskServiceClient;
use tasknet_server::TracedChannel;
use tasknet_storage::Database;
use tasknet_storage::testing::TestDatabase;
use tasknet_system::testing::Centre;
use tasknet_task::TaskApp;

pub use tasknet_domain::testing::{complete, new_id, note, reopen, ymd};

pub type Client = TaskServiceClient<TracedChannel>;

/// Both services running, with a few real unit ids.
pub struct Harness {
    pub client: Client,
    /// Where the organisation service listens.
    pub organisation_endpoint: String,
    /// Headquarters: assigns tasks.
    pub hq: String,
    /// Two provincial offices: receive tasks.
    pub office: String,
    pub other_office: String,
    task_database: Database,
    centre: Centre,
}

impl Harness {
    /// Starts organisation (with the reference units loaded) and task on `task_db`'s back end.
    pub async fn start(task_db: TestDatabase) -> Self {
        let centre = Centre::start(task_db, "127.0.0.1:0").await;
        let task_database = centre
            .task
            .app::<TaskApp>()
            .expect("a task system")
            .database()
            .clone();
        let hq = centre.unit_ids(v1::UnitCategory::Headquarters).await;
        let offices = centre.unit_ids(v1::UnitCategory::ProvincialOffice).await;
        assert!(!hq.is_empty() && offices.len() > 1, "no reference units");
        Self {
            client: TaskServiceClient::new(
                tasknet_server::connect_lazy(centre.task.endpoint()).unwrap(),
            ),
            organisation_endpoint: centre.organisation.endpoint().to_owned(),
            hq: hq[0].clone(),
            office: offices[0].clone(),
            other_office: offices[1].clone(),
            task_database,
            centre,
        }
    }

    /// The newest change-log cursor, read from the database directly.
    pub async fn head(&self) -> i64 {
        self.scalar("SELECT COALESCE(MAX(cursor), 0) AS n FROM change_log")
            .await
    }

    /// Rows in a table of the task database.
    pub async fn count(&self, table: &str) -> i64 {
        self.scalar(&format!("SELECT COUNT(*) AS n FROM {table}"))
            .await
    }

    async fn scalar(&self, sql: &str) -> i64 {
        let row = sqlx::query(sql)
            .fetch_one(self.task_database.pool())
            .await
            .unwrap();
        row.try_get("n").unwrap()
    }

    /// A creation by headquarters for `assignee`, valid as it stands.
    pub fn new_task(
        &self,
        assignee: &str,
        assigned: NaiveDate,
        deadline: NaiveDate,
    ) -> v1::CreateTaskRequest {
        v1::CreateTaskRequest {
            update_id: new_id(),
            task_id: new_id(),
            effective_time: Some(at_noon(assigned)),
            task: Some(v1::NewTask {
                title: format!("Báo cáo tình hình kinh tế - xã hội {assigned}"),
                assigning_unit_id: self.hq.clone(),
                assignee_unit_id: assignee.to_owned(),
                assigned_date: Some(date_to_proto(assigned)),
                deadline: Some(date_to_proto(deadline)),
                plan_ids: Vec::new(),
            }),
        }
    }

    /// Creates a task and returns it.
    pub async fn create(&mut self, request: v1::CreateTaskRequest) -> v1::Task {
        let response = self.client.create_task(request).await.unwrap().into_inner();
        assert!(!response.duplicate);
        response.task.unwrap()
    }

    /// Applies the 2025 provincial merger at the organisation service;
    /// returns the reorganisation's id.
    pub async fn apply_provinces_2025(&self) -> String {
        self.centre.apply_provinces_2025().await
    }

    /// Stops both servers and waits for them.
    pub async fn stop(self) {
        self.centre.stop().await;
    }
}

/// Noon in Vietnam on a date (05:00 UTC).
pub fn at_noon(date: NaiveDate) -> tasknet_proto::prost_types::Timestamp {
    let instant = date.and_hms_opt(5, 0, 0).unwrap().and_utc();
    timestamp_to_proto(instant)
}

pub fn instant(text: &str) -> tasknet_proto::prost_types::Timestamp {
    timestamp_to_proto(text.parse::<DateTime<Utc>>().unwrap())
}

pub fn update(
    task_id: &str,
    effective: tasknet_proto::prost_types::Timestamp,
    change: v1::update_task_request::Change,
) -> v1::UpdateTaskRequest {
    v1::UpdateTaskRequest {
        update_id: new_id(),
        task_id: task_id.to_owned(),
        effective_time: Some(effective),
        expected_version: None,
        change: Some(change),
    }
}

pub fn deadline(date: NaiveDate) -> v1::update_task_request::Change {
    tasknet_domain::testing::deadline_change(date, "more time needed")
}

/// Asserts a refusal: its code, and a message that starts with the field.
pub fn assert_refused(status: &Status, code: Code, field: &str) {
    assert_eq!(status.code(), code, "{status:?}");
    assert!(
        status.message().starts_with(&format!("{field}: ")),
        "message {:?} should start with {field:?}",
        status.message()
    );
}
