//! An office's day over real processes (the three services as `tasknet
//! serve` processes, the office's `tasknet agent` commands as processes of
//! their own): headquarters assigns 50 tasks to Hà Nội's office while its
//! agent is offline, and the office lists nothing; the agent comes online
//! and the tasks arrive in its local copy; offline again, staff complete
//! some (one completion twice: refused locally) while headquarters moves a
//! deadline; the agent reconnects, and the centre (`ListTasks`/`GetTask`),
//! the agent's local view (`agent tasks --format json`) and the reports
//! (`StatusBreakdown`) agree on every task. On both back ends.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use chrono::NaiveDate;
use tasknet_domain::{TimelineState, date_from_proto, date_to_proto, timestamp_to_proto};
use tasknet_proto::v1::organisation_service_client::OrganisationServiceClient;
use tasknet_proto::v1::reporting_service_client::ReportingServiceClient;
use tasknet_proto::v1::task_service_client::TaskServiceClient;
use tasknet_proto::v1::{self, GroupBy};
use tasknet_server::TracedChannel;
use tasknet_storage::Backend;
use tasknet_system::testing::process::{Launch, Process};
use tasknet_system::testing::processes::ServeProcesses;

const BINARY: &str = env!("CARGO_BIN_EXE_tasknet");
const TASKS: usize = 50;
/// How long the agent may take to bring the copy in step (a bound on a
/// poll, not a measurement).
const CONVERGE: Duration = Duration::from_secs(120);

fn ymd(month: u32, day: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(2024, month, day).unwrap()
}

/// Noon in Hà Nội on a date.
fn noon(date: NaiveDate) -> tasknet_proto::prost_types::Timestamp {
    timestamp_to_proto(tasknet_domain::vietnam_start_of_day(date) + chrono::TimeDelta::hours(12))
}

/// The office's side: its data directory and `tasknet agent` commands.
struct Office {
    dir: tempfile::TempDir,
    config: String,
}

impl Office {
    fn new(unit: &str, endpoint: &str, token: &str) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("agent.toml");
        std::fs::write(
            &config,
            format!(
                "unit_id = \"{unit}\"\nendpoint = \"{endpoint}\"\ndata_dir = \"{}\"\n\
                 token = \"{token}\"\n\n[push]\nconnect_timeout_ms = 1000\n\
                 backoff_initial_ms = 50\nbackoff_max_ms = 500\npoll_interval_ms = 100\n",
                dir.path().join("data").display(),
            ),
        )
        .unwrap();
        let config = config.display().to_string();
        Self { dir, config }
    }

    fn launch(&self, args: &[&str]) -> Launch {
        Launch::new(BINARY)
            .dir(self.dir.path())
            .args(["agent", "--config", &self.config])
            .args(args)
    }

    /// Runs `tasknet agent ARGS`: (success, stdout, stderr).
    fn command(&self, args: &[&str]) -> (bool, String, String) {
        let output = self.launch(args).output().unwrap();
        (
            output.status.success(),
            String::from_utf8_lossy(&output.stdout).into_owned(),
            String::from_utf8_lossy(&output.stderr).into_owned(),
        )
    }

    fn run_ok(&self, args: &[&str]) -> String {
        let (ok, stdout, stderr) = self.command(args);
        assert!(ok, "tasknet agent {args:?} failed: {stderr}");
        stdout
    }

    /// `agent tasks --format json`: the local view, by task id.
    fn tasks(&self) -> BTreeMap<String, serde_json::Value> {
        let text = self.run_ok(&["tasks", "--format", "json"]);
        let json: serde_json::Value = serde_json::from_str(&text).unwrap();
        json["tasks"]
            .as_array()
            .unwrap()
            .iter()
            .map(|task| (task["task_id"].as_str().unwrap().to_owned(), task.clone()))
            .collect()
    }

    /// `agent run`, in the background.
    fn online(&self) -> Process {
        let process = self.launch(&["run"]).spawn("agent").unwrap();
        process
            .wait_for_line("stop with Ctrl-C", Duration::from_secs(30))
            .unwrap();
        process
    }
}

/// The fields every view must agree on, from the centre's task.
fn centre_fields(task: &v1::Task) -> (String, Option<String>, String, i64) {
    let date = |d: Option<&v1::Date>| date_from_proto("date", d).ok().map(|d| d.to_string());
    (
        date(task.deadline.as_ref()).unwrap(),
        date(task.completed_on.as_ref()),
        task.last_note.clone(),
        task.version,
    )
}

/// The same fields from the agent's view.
fn local_fields(task: &serde_json::Value) -> (String, Option<String>, String, i64) {
    (
        task["deadline"].as_str().unwrap().to_owned(),
        task["completed_on"].as_str().map(str::to_owned),
        task["last_note"].as_str().unwrap().to_owned(),
        task["version"].as_i64().unwrap(),
    )
}

struct Centre {
    tasks: TaskServiceClient<TracedChannel>,
    reporting: ReportingServiceClient<TracedChannel>,
    hq: String,
    hanoi: String,
}

impl Centre {
    async fn connect(services: &ServeProcesses) -> Self {
        let channel =
            |endpoint: &str| tasknet_server::connect_lazy_with(endpoint, &services.admin).unwrap();
        let mut organisation =
            OrganisationServiceClient::new(channel(services.organisation.endpoint()));
        let units = crate::auth::units_of(&mut organisation).await;
        Self {
            hq: units.hq,
            hanoi: units.hanoi,
            tasks: TaskServiceClient::new(channel(services.task.endpoint())),
            reporting: ReportingServiceClient::new(channel(services.reporting.endpoint())),
        }
    }

    /// Hà Nội's tasks as the centre has them, by id.
    async fn office_tasks(&mut self) -> BTreeMap<String, v1::Task> {
        let tasks = self
            .tasks
            .list_tasks(v1::ListTasksRequest {
                assignee_unit_id: self.hanoi.clone(),
                page_size: 1000,
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner()
            .tasks;
        tasks.into_iter().map(|t| (t.id.clone(), t)).collect()
    }
}

/// Polls until the agent's view equals the centre's on every task; returns both.
async fn converged(
    office: &Office,
    centre: &mut Centre,
) -> (
    BTreeMap<String, serde_json::Value>,
    BTreeMap<String, v1::Task>,
) {
    let started = Instant::now();
    loop {
        let local = tokio::task::block_in_place(|| office.tasks());
        let central = centre.office_tasks().await;
        let agree = local.len() == central.len()
            && central.iter().all(|(id, task)| {
                local
                    .get(id)
                    .is_some_and(|l| local_fields(l) == centre_fields(task) && l["pending"] == 0)
            });
        if agree {
            return (local, central);
        }
        assert!(
            started.elapsed() < CONVERGE,
            "the agent's copy never agreed with the centre:\nlocal {local:#?}\ncentre {central:#?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

async fn an_office_day(backend: Backend) {
    let name = "office_day::an_office_receives_works_offline_and_reconnects";
    let dir = tempfile::tempdir().unwrap();
    let Some((services, _databases)) =
        crate::processes::serve_processes(backend, name, dir.path()).await
    else {
        return;
    };
    let mut centre = Centre::connect(&services).await;
    let admin_token = services.credentials_dir.join("admin.token");
    let token = Launch::new(BINARY)
        .args([
            "admin",
            "token",
            "create",
            "--role",
            "office-agent",
            "--unit",
            "01",
        ])
        .args(["--endpoint", services.organisation.endpoint()])
        .args(["--token-file", admin_token.to_str().unwrap()])
        .run()
        .unwrap();
    let office = Office::new(&centre.hanoi, services.task.endpoint(), token.trim());

    // Headquarters assigns 50 tasks, due 10 June to 29 July; the office's
    // agent has never run: its staff list nothing.
    let mut ids = Vec::new();
    for i in 0..TASKS {
        let deadline = ymd(6, 10) + chrono::TimeDelta::days(i as i64);
        let task_id = uuid::Uuid::now_v7().to_string();
        let request = v1::CreateTaskRequest {
            update_id: uuid::Uuid::now_v7().to_string(),
            task_id: task_id.clone(),
            effective_time: Some(noon(ymd(6, 3))),
            task: Some(v1::NewTask {
                title: format!("Báo cáo chuyên đề số {i}"),
                assigning_unit_id: centre.hq.clone(),
                assignee_unit_id: centre.hanoi.clone(),
                assigned_date: Some(date_to_proto(ymd(6, 3))),
                deadline: Some(date_to_proto(deadline)),
                plan_ids: Vec::new(),
            }),
        };
        centre.tasks.create_task(request).await.unwrap();
        ids.push(task_id);
    }
    assert!(tokio::task::block_in_place(|| office.tasks()).is_empty());
    let listed = tokio::task::block_in_place(|| office.run_ok(&["tasks"]));
    assert!(listed.starts_with("0 task(s) of this office"), "{listed}");

    // Online: the tasks arrive.
    let agent = office.online();
    let (local, _) = converged(&office, &mut centre).await;
    assert_eq!(local.len(), TASKS);
    agent.terminate().unwrap();
    // The same list as CSV, for a spreadsheet: a header, then a record per task.
    let csv = tokio::task::block_in_place(|| office.run_ok(&["tasks", "--format", "csv"]));
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(
        lines[0],
        "task,ref,title,assigned,deadline,status,completed_on,class,version,pending"
    );
    assert_eq!(lines.len(), TASKS + 1, "{csv}");
    assert!(
        lines[1..]
            .iter()
            .all(|line| line.contains(",Báo cáo chuyên đề số ")),
        "{csv}"
    );

    // Offline: staff complete every fifth task on 25 June; completing one
    // of them again is refused locally, naming the completion in force.
    let completed: Vec<&String> = ids.iter().step_by(5).collect();
    for id in &completed {
        let stdout = tokio::task::block_in_place(|| {
            office.run_ok(&["submit", "complete", "--task", id, "--on", "2024-06-25"])
        });
        assert!(
            stdout.contains("the centre will most likely accept it"),
            "{stdout}"
        );
    }
    let (ok, _, stderr) = tokio::task::block_in_place(|| {
        office.command(&[
            "submit",
            "complete",
            "--task",
            completed[1],
            "--on",
            "2024-06-26",
        ])
    });
    assert!(!ok);
    assert!(stderr.contains("not stored"), "{stderr}");
    assert!(stderr.contains("already completed"), "{stderr}");
    let offline = tokio::task::block_in_place(|| office.tasks());
    for id in &completed {
        assert_eq!(offline[*id]["completed_on"], "2024-06-25");
        assert_eq!(offline[*id]["pending"], 1);
        assert_eq!(offline[*id]["version"], 1, "the centre has not seen it");
    }
    // The last of them was due 24 July: on time, as far as the office knows.
    let moved = completed[completed.len() - 1].clone();
    assert_eq!(offline[&moved]["class"], "completed_on_time");

    // Meanwhile headquarters moves that task's deadline to 20 June, effective
    // 12 June: in effective order, the office's completion comes after it, late.
    let moved_cursor = centre
        .tasks
        .update_task(v1::UpdateTaskRequest {
            update_id: uuid::Uuid::now_v7().to_string(),
            task_id: moved.clone(),
            effective_time: Some(noon(ymd(6, 12))),
            expected_version: None,
            change: Some(v1::update_task_request::Change::DeadlineChange(
                v1::DeadlineChange {
                    new_deadline: Some(date_to_proto(ymd(6, 20))),
                    reason: "công văn 45".to_owned(),
                },
            )),
        })
        .await
        .unwrap()
        .into_inner()
        .cursor;

    // Reconnect: the office's completions go up, headquarters' change comes
    // down, and every view agrees.
    let agent = office.online();
    let (local, central) = converged(&office, &mut centre).await;
    agent.terminate().unwrap();
    assert_eq!(central.len(), TASKS);
    for id in &ids {
        let get = centre
            .tasks
            .get_task(v1::GetTaskRequest {
                task_id: id.clone(),
            })
            .await
            .unwrap()
            .into_inner()
            .task
            .unwrap();
        assert_eq!(&get, &central[id], "GetTask and ListTasks agree");
        assert_eq!(local_fields(&local[id]), centre_fields(&get));
    }
    assert_eq!(local[&moved]["deadline"], "2024-06-20");
    assert_eq!(local[&moved]["class"], "completed_late");
    assert_eq!(local[&moved]["version"], 3);
    let status = tokio::task::block_in_place(|| office.run_ok(&["status", "--format", "json"]));
    let status: serde_json::Value = serde_json::from_str(&status).unwrap();
    assert_eq!(status["pending"], 0, "{status}");
    assert_eq!(status["parked"], 0, "{status}");
    assert_eq!(status["sent"], completed.len(), "{status}");

    // The reports: Hà Nội's row as of three dates, against the agent's view,
    // once reporting has applied every change up to the newest.
    let outbox = tasknet_agent::Agent::open(tasknet_agent::AgentConfig::new(
        centre.hanoi.clone(),
        services.task.endpoint(),
        office.dir.path().join("data"),
    ))
    .await
    .unwrap();
    let acknowledged = outbox.entries().await.unwrap();
    outbox.close().await;
    let head = acknowledged
        .iter()
        .filter_map(|entry| entry.ack.as_ref().map(|ack| ack.cursor))
        .chain([moved_cursor])
        .max()
        .unwrap();
    for as_of in [ymd(6, 22), ymd(6, 30), ymd(7, 31)] {
        let mut expected = [0i64; 5];
        for task in local.values() {
            let completed_on = task["completed_on"].as_str().map(|d| d.parse().unwrap());
            let state = TimelineState {
                deadline: task["deadline"].as_str().unwrap().parse().unwrap(),
                // A completion after the as-of date is not in force then.
                completed_on: completed_on.filter(|done| *done <= as_of),
            };
            expected[0] += 1;
            expected[1 + state.classify(as_of) as usize] += 1;
        }
        let row = breakdown_row(&mut centre, as_of, head).await;
        assert_eq!(row, expected, "Hà Nội as of {as_of}");
    }
    // Worked out by hand for 30 June: of the ten completed on 25 June, six
    // were on time and four late (due 10, 15 and 20 June, and the moved one).
    assert_eq!(
        breakdown_row(&mut centre, ymd(6, 30), head).await,
        [50, 6, 4, 24, 16]
    );
    services.stop().unwrap();
}

/// Hà Nội's counts for 2024 as of `as_of`, read once reporting has
/// applied the change log up to `head` (read-your-writes: `min_cursor`).
async fn breakdown_row(centre: &mut Centre, as_of: NaiveDate, head: i64) -> [i64; 5] {
    let mut request = tonic_request(v1::StatusBreakdownRequest {
        period: Some(v1::Period {
            kind: Some(v1::period::Kind::Label("2024".into())),
        }),
        as_of: Some(date_to_proto(as_of)),
        group_by: GroupBy::Unit as i32,
        min_cursor: head,
        basis: v1::ReportBasis::Unspecified as i32,
    });
    request.set_timeout(CONVERGE);
    let response = centre
        .reporting
        .status_breakdown(request)
        .await
        .unwrap()
        .into_inner();
    assert!(response.applied_cursor >= head);
    let counts = response
        .rows
        .iter()
        .find(|row| row.group_key == centre.hanoi)
        .and_then(|row| row.current)
        .unwrap_or_default();
    [
        counts.total,
        counts.completed_on_time,
        counts.completed_late,
        counts.open_within_deadline,
        counts.open_overdue,
    ]
}

fn tonic_request<T>(message: T) -> tasknet_proto::tonic::Request<T> {
    tasknet_proto::tonic::Request::new(message)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_sqlite() {
    an_office_day(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_postgres() {
    an_office_day(Backend::Postgres).await;
}
