//! The centre as the fault tests run it: `tasknet serve organisation` and
//! `tasknet serve task` as separate OS processes, the task service killed
//! and restarted on the same port at will.

use std::time::Duration;

use tasknet_auth::Token;
use tasknet_proto::v1;
use tasknet_proto::v1::organisation_service_client::OrganisationServiceClient;
use tasknet_server::{ClientOptions, TracedChannel, connect_lazy_with};

use tasknet_system::testing::process::address_in;

use super::process::{TasknetProcess, tasknet};

pub struct Centre {
    dir: tempfile::TempDir,
    organisation: Option<TasknetProcess>,
    task: Option<TasknetProcess>,
    pub organisation_endpoint: String,
    /// `127.0.0.1:PORT`, kept across restarts.
    pub task_address: String,
    task_database_url: String,
    /// The 63 provincial offices, by province code.
    pub offices: Vec<String>,
    /// How many times the task service was started.
    pub task_starts: usize,
    /// The administrator credential the organisation service created.
    admin: ClientOptions,
}

impl Centre {
    /// Starts both services; the task service on `task_database_url`, or on
    /// a SQLite file of its own when `None`.
    pub async fn start(task_database_url: Option<String>) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let organisation_url = tasknet_storage::sqlite_url(&dir.path().join("organisation.db"));
        let organisation = tasknet(dir.path())
            .args([
                "serve",
                "organisation",
                "--listen",
                "127.0.0.1:0",
                "--database-url",
                &organisation_url,
                "--credentials-dir",
                "credentials",
            ])
            .spawn("organisation")
            .unwrap();
        let organisation_endpoint = format!(
            "http://{}",
            organisation.listening_address("listening on").unwrap()
        );
        organisation
            .wait_for_line("administrator token in", Duration::from_secs(60))
            .unwrap();
        let admin = std::fs::read_to_string(dir.path().join("credentials/admin.token")).unwrap();
        let task_database_url = task_database_url
            .unwrap_or_else(|| tasknet_storage::sqlite_url(&dir.path().join("task.db")));
        let mut centre = Self {
            dir,
            organisation: Some(organisation),
            task: None,
            organisation_endpoint,
            task_address: "127.0.0.1:0".to_owned(),
            task_database_url,
            offices: Vec::new(),
            task_starts: 0,
            admin: ClientOptions::with_token(Token::new(admin)),
        };
        tokio::task::block_in_place(|| centre.start_task());
        centre.offices = offices(centre.admin_channel(&centre.organisation_endpoint)).await;
        centre
    }

    /// A channel to `endpoint` with the administrator's credential.
    pub fn admin_channel(&self, endpoint: &str) -> TracedChannel {
        connect_lazy_with(endpoint, &self.admin).unwrap()
    }

    /// A new office-agent credential of `office`.
    pub async fn office_token(&self, office: &str) -> String {
        let mut client =
            OrganisationServiceClient::new(self.admin_channel(&self.organisation_endpoint));
        client
            .issue_credential(v1::IssueCredentialRequest {
                unit_id: office.to_owned(),
                role: v1::Role::OfficeAgent as i32,
                label: "agent fault test".to_owned(),
                expire_time: None,
            })
            .await
            .unwrap()
            .into_inner()
            .token
    }

    pub fn task_endpoint(&self) -> String {
        format!("http://{}", self.task_address)
    }

    /// Starts the task service on its address (the first time: any port).
    /// The port may take a moment to be free after a kill.
    pub fn start_task(&mut self) {
        for _ in 0..50 {
            let process = tasknet(self.dir.path())
                .args([
                    "serve",
                    "task",
                    "--listen",
                    &self.task_address,
                    "--database-url",
                    &self.task_database_url,
                    "--organisation-endpoint",
                    &self.organisation_endpoint,
                    "--credentials-dir",
                    "credentials",
                ])
                .spawn("task")
                .unwrap();
            if let Some(line) = process.try_wait_for_line("listening on", Duration::from_secs(30)) {
                self.task_address = address_in(&line).unwrap();
                self.task = Some(process);
                self.task_starts += 1;
                return;
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        panic!("the task service did not start on {}", self.task_address);
    }

    /// SIGKILLs the task service.
    pub fn kill_task(&mut self) {
        if let Some(task) = self.task.take() {
            task.kill_hard();
        }
    }

    /// Both services stop cleanly on SIGTERM.
    pub fn stop(mut self) {
        if let Some(task) = self.task.take() {
            task.terminate().unwrap();
        }
        if let Some(organisation) = self.organisation.take() {
            organisation.terminate().unwrap();
        }
    }
}

/// Loads the reference units and returns the provincial offices by code.
async fn offices(channel: TracedChannel) -> Vec<String> {
    let mut client = OrganisationServiceClient::new(channel);
    client
        .load_reference_units(v1::LoadReferenceUnitsRequest {})
        .await
        .unwrap();
    let mut units = client
        .list_units(v1::ListUnitsRequest {
            category: v1::UnitCategory::ProvincialOffice as i32,
            page_size: 100,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .units;
    units.sort_by(|a, b| a.code.cmp(&b.code));
    assert_eq!(units.len(), 63);
    units.into_iter().map(|unit| unit.id).collect()
}
