//! End to end over real gRPC: the organisation, task and reporting services
//! each on its own port and database; tasks and updates are sent to the task
//! service, and the reporting service's figures (read-your-writes through
//! `min_cursor`) must equal an independent count — also after the reporting
//! service restarts while the task service goes on taking writes.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use tasknet_domain::{
    DatePeriod, StatusClass, TaskTimeline, TimelineEvent, date_to_proto, previous_year_date,
    timestamp_to_proto, vietnam_date,
};
use tasknet_proto::tonic::{self, Code};
use tasknet_proto::v1::organisation_service_client::OrganisationServiceClient;
use tasknet_proto::v1::reporting_service_client::ReportingServiceClient;
use tasknet_proto::v1::task_service_client::TaskServiceClient;
use tasknet_proto::v1::{self, GroupBy, PlanKind, UnitCategory};
use tasknet_reporting::ReportingApp;
use tasknet_server::TracedChannel;
use tasknet_storage::Backend;
use tasknet_storage::testing::TestDatabase;
use tasknet_system::{Config, ServiceKind, Services, System};

/// A service's configuration here: small pools, a short drain.
fn config(db: &TestDatabase) -> Config {
    let mut config = tasknet_system::testing::config(db.url());
    config.database.max_connections = 4;
    config.drain_timeout_secs = 2;
    config
}

async fn start(kind: ServiceKind, config: Config) -> System {
    System::start_unauthenticated(&config, Services::One(kind))
        .await
        .unwrap()
}

async fn start_reporting(db: &TestDatabase, task_url: &str, org_url: &str) -> System {
    let mut config = config(db);
    config.task_endpoint = Some(task_url.to_owned());
    config.organisation_endpoint = Some(org_url.to_owned());
    start(ServiceKind::Reporting, config).await
}

/// Starts the task service on `addr`.
async fn start_task(db: &TestDatabase, org_url: &str, addr: &str) -> System {
    let mut config = config(db);
    config.listen = addr.to_owned();
    config.organisation_endpoint = Some(org_url.to_owned());
    start(ServiceKind::Task, config).await
}

fn applied_cursor(reporting: &System) -> i64 {
    reporting.app::<ReportingApp>().unwrap().applied_cursor()
}

/// What the test knows of a task, independently of every service.
struct Known {
    assignee: String,
    assigned: NaiveDate,
    in_plan: bool,
    timeline: TaskTimeline,
    id: String,
}

struct World {
    units: HashMap<String, v1::Unit>,
    unit_ids: Vec<String>,
    hq: String,
    plan_id: String,
    tasks: Vec<Known>,
    last_cursor: i64,
    rng: ChaCha8Rng,
}

fn day_after(date: NaiveDate, days: u64) -> NaiveDate {
    date + chrono::Days::new(days)
}

/// An instant whose Vietnam civil date is `date`: sometimes 23:30 UTC of the
/// day before (already `date` in Hà Nội), otherwise an hour of the UTC day.
fn instant_on(rng: &mut ChaCha8Rng, date: NaiveDate) -> DateTime<Utc> {
    let previous = date.pred_opt().unwrap();
    let instant = if rng.random_bool(0.3) {
        // 23:30 UTC the day before is 06:30 on `date` in Vietnam.
        previous.and_hms_opt(23, 30, 0).unwrap()
    } else {
        date.and_hms_opt(rng.random_range(1..=16), 0, 0).unwrap()
    };
    let instant = Utc.from_utc_datetime(&instant);
    assert_eq!(vietnam_date(instant), date);
    instant
}

async fn load_units(org: &mut OrganisationServiceClient<TracedChannel>) -> Vec<v1::Unit> {
    let request = v1::ListUnitsRequest {
        page_size: 1000,
        ..Default::default()
    };
    let units = org.list_units(request).await.unwrap().into_inner();
    assert!(units.next_page_token.is_empty());
    units.units
}

impl World {
    async fn new(org_url: &str, task: &mut TaskServiceClient<TracedChannel>) -> Self {
        let mut org =
            OrganisationServiceClient::new(tasknet_server::connect_lazy(org_url).unwrap());
        let units = load_units(&mut org).await;
        let hq = units
            .iter()
            .find(|u| u.category == UnitCategory::Headquarters as i32)
            .unwrap()
            .id
            .clone();
        let plan = v1::Plan {
            name: "Nhiệm vụ trọng tâm 2024".into(),
            kind: PlanKind::KeyTasks as i32,
            owner_unit_id: hq.clone(),
            period: Some(DatePeriod::parse("2024").unwrap().to_proto()),
            ..Default::default()
        };
        let request = v1::CreatePlanRequest {
            plan_id: String::new(),
            plan: Some(plan),
        };
        let plan_id = task
            .create_plan(request)
            .await
            .unwrap()
            .into_inner()
            .plan
            .unwrap()
            .id;
        let unit_ids = units.iter().map(|u| u.id.clone()).collect();
        Self {
            units: units.into_iter().map(|u| (u.id.clone(), u)).collect(),
            unit_ids,
            hq,
            plan_id,
            tasks: Vec::new(),
            last_cursor: 0,
            rng: ChaCha8Rng::seed_from_u64(2024),
        }
    }

    async fn create_task(&mut self, client: &mut TaskServiceClient<TracedChannel>) {
        let assigned = day_after(
            NaiveDate::from_ymd_opt(2023, 1, 1).unwrap(),
            self.rng.random_range(0..730),
        );
        let deadline = day_after(assigned, self.rng.random_range(0..=60));
        let assignee = self.unit_ids[self.rng.random_range(0..self.unit_ids.len())].clone();
        let in_plan = self.rng.random_bool(0.3);
        let id = uuid::Uuid::now_v7().to_string();
        let request = v1::CreateTaskRequest {
            update_id: uuid::Uuid::now_v7().to_string(),
            task_id: id.clone(),
            effective_time: Some(timestamp_to_proto(instant_on(&mut self.rng, assigned))),
            task: Some(v1::NewTask {
                title: format!("Nhiệm vụ {}", self.tasks.len() + 1),
                assigning_unit_id: self.hq.clone(),
                assignee_unit_id: assignee.clone(),
                assigned_date: Some(date_to_proto(assigned)),
                deadline: Some(date_to_proto(deadline)),
                plan_ids: if in_plan {
                    vec![self.plan_id.clone()]
                } else {
                    vec![]
                },
            }),
        };
        let response = client.create_task(request).await.unwrap().into_inner();
        self.last_cursor = self.last_cursor.max(response.cursor);
        self.tasks.push(Known {
            assignee,
            assigned,
            in_plan,
            timeline: TaskTimeline::new(deadline),
            id,
        });
    }

    /// A random update; the model records it only if the task service accepts it.
    async fn update_task(&mut self, client: &mut TaskServiceClient<TracedChannel>) {
        use v1::update_task_request::Change;
        let index = self.rng.random_range(0..self.tasks.len());
        let assigned = self.tasks[index].assigned;
        let effective = day_after(assigned, self.rng.random_range(0..=200));
        let (change, event) = match self.rng.random_range(0..10) {
            0..=3 => (
                Change::Complete(v1::Completion::default()),
                TimelineEvent::Completed { effective },
            ),
            4..=5 => (
                Change::Reopen(v1::Reopening::default()),
                TimelineEvent::Reopened { effective },
            ),
            _ => {
                let deadline = day_after(assigned, self.rng.random_range(0..=120));
                let change = Change::DeadlineChange(v1::DeadlineChange {
                    new_deadline: Some(date_to_proto(deadline)),
                    reason: "điều chỉnh".into(),
                });
                (
                    change,
                    TimelineEvent::DeadlineChanged {
                        effective,
                        deadline,
                    },
                )
            }
        };
        let request = v1::UpdateTaskRequest {
            update_id: uuid::Uuid::now_v7().to_string(),
            task_id: self.tasks[index].id.clone(),
            effective_time: Some(timestamp_to_proto(instant_on(&mut self.rng, effective))),
            expected_version: None,
            change: Some(change),
        };
        match client.update_task(request).await {
            Ok(response) => {
                self.last_cursor = self.last_cursor.max(response.into_inner().cursor);
                self.tasks[index].timeline.events.push(event);
            }
            // Completing a completed task, reopening an open one: refused, not recorded.
            Err(status) if status.code() == Code::FailedPrecondition => {}
            Err(status) => panic!("update refused: {status:?}"),
        }
    }

    async fn write(
        &mut self,
        client: &mut TaskServiceClient<TracedChannel>,
        tasks: usize,
        updates: usize,
    ) {
        for _ in 0..tasks {
            self.create_task(client).await;
        }
        for _ in 0..updates {
            self.update_task(client).await;
        }
    }

    fn key(&self, group_by: GroupBy, unit_id: &str) -> String {
        let unit = &self.units[unit_id];
        match group_by {
            GroupBy::UnitCategory => UnitCategory::try_from(unit.category)
                .unwrap()
                .as_str_name()
                .to_owned(),
            GroupBy::Region if unit.region_code.is_empty() => "none".into(),
            GroupBy::Region => unit.region_code.clone(),
            _ => unit_id.to_owned(),
        }
    }

    /// Classes per group key ("" for the national row), counted directly.
    fn count(
        &self,
        group_by: GroupBy,
        period: DatePeriod,
        as_of: NaiveDate,
    ) -> BTreeMap<String, [i64; 4]> {
        let mut counts: BTreeMap<String, [i64; 4]> = BTreeMap::new();
        for task in &self.tasks {
            if !period.contains(task.assigned) || task.assigned > as_of {
                continue;
            }
            let class = task.timeline.classify(as_of);
            let index = StatusClass::ALL.iter().position(|c| *c == class).unwrap();
            counts.entry(String::new()).or_default()[index] += 1;
            counts
                .entry(self.key(group_by, &task.assignee))
                .or_default()[index] += 1;
        }
        counts
    }
}

fn classes(counts: &v1::StatusCounts) -> [i64; 4] {
    let classes = [
        counts.completed_on_time,
        counts.completed_late,
        counts.open_within_deadline,
        counts.open_overdue,
    ];
    assert_eq!(classes.iter().sum::<i64>(), counts.total);
    classes
}

async fn check_breakdown(
    world: &World,
    client: &mut ReportingServiceClient<TracedChannel>,
    label: &str,
    as_of: NaiveDate,
    group_by: GroupBy,
) {
    let mut request = tonic::Request::new(v1::StatusBreakdownRequest {
        basis: v1::ReportBasis::Unspecified as i32,
        period: Some(v1::Period {
            kind: Some(v1::period::Kind::Label(label.into())),
        }),
        as_of: Some(date_to_proto(as_of)),
        group_by: group_by as i32,
        min_cursor: world.last_cursor,
    });
    request.set_timeout(Duration::from_secs(20));
    let response = client.status_breakdown(request).await.unwrap().into_inner();
    assert!(response.applied_cursor >= world.last_cursor);
    let mut current = BTreeMap::new();
    let mut previous = BTreeMap::new();
    for row in response.rows.iter().chain(response.national.as_ref()) {
        let (now, before) = (
            classes(row.current.as_ref().unwrap()),
            classes(row.previous.as_ref().unwrap()),
        );
        if now.iter().sum::<i64>() > 0 {
            current.insert(row.group_key.clone(), now);
        }
        if before.iter().sum::<i64>() > 0 {
            previous.insert(row.group_key.clone(), before);
        }
    }
    let period = DatePeriod::parse(label).unwrap();
    let what = format!("{label} as of {as_of} by {group_by:?}");
    assert!(
        current[""].iter().sum::<i64>() >= 20,
        "{what} counts too few tasks"
    );
    assert_eq!(current, world.count(group_by, period, as_of), "{what}");
    let expected = world.count(group_by, period.previous_year(), previous_year_date(as_of));
    assert_eq!(previous, expected, "previous year of {what}");
}

async fn check_plan(
    world: &World,
    client: &mut ReportingServiceClient<TracedChannel>,
    as_of: NaiveDate,
) {
    let request = v1::PlanProgressRequest {
        selector: Some(v1::plan_progress_request::Selector::PlanId(
            world.plan_id.clone(),
        )),
        as_of: Some(date_to_proto(as_of)),
        min_cursor: world.last_cursor,
    };
    let response = client.plan_progress(request).await.unwrap().into_inner();
    let members = world
        .tasks
        .iter()
        .filter(|t| t.in_plan && t.assigned <= as_of);
    let total = members.clone().count() as i64;
    let done = members
        .filter(|t| t.timeline.state_as_of(as_of).completed_on.is_some())
        .count() as i64;
    assert_eq!(
        (response.plans[0].done, response.plans[0].total),
        (done, total),
        "plan as of {as_of}"
    );
}

async fn check_all(world: &World, reporting_url: &str) {
    let mut client =
        ReportingServiceClient::new(tasknet_server::connect_lazy(reporting_url).unwrap());
    let h1 = NaiveDate::from_ymd_opt(2024, 6, 30).unwrap();
    for group_by in [GroupBy::UnitCategory, GroupBy::Region] {
        check_breakdown(world, &mut client, "2024-H1", h1, group_by).await;
    }
    let year_end = NaiveDate::from_ymd_opt(2024, 12, 31).unwrap();
    check_breakdown(world, &mut client, "2024", year_end, GroupBy::Unit).await;
    check_plan(world, &mut client, h1).await;
    check_plan(world, &mut client, year_end).await;
}

async fn services_agree_with_an_independent_count(db: TestDatabase) {
    let backend: Backend = db.backend();
    let task_db = TestDatabase::of(backend, "e2e-task").await.unwrap();
    let org_db = TestDatabase::of(backend, "e2e-organisation").await.unwrap();

    let org = tasknet_system::testing::organisation(org_db.url(), true).await;
    let org_url = org.endpoint().to_owned();

    let task = start_task(&task_db, &org_url, "127.0.0.1:0").await;
    let task_url = task.endpoint().to_owned();
    let mut task_client = TaskServiceClient::new(tasknet_server::connect_lazy(&task_url).unwrap());
    let reporting = start_reporting(&db, &task_url, &org_url).await;
    let reporting_url = reporting.endpoint().to_owned();
    let mut world = World::new(&org_url, &mut task_client).await;
    world.write(&mut task_client, 150, 220).await;
    let events: usize = world.tasks.iter().map(|t| t.timeline.events.len()).sum();
    assert!(events >= 120, "only {events} updates were accepted");
    check_all(&world, &reporting_url).await;

    // Reporting stops; the task service goes on taking writes meanwhile.
    let applied = applied_cursor(&reporting);
    assert!(applied >= world.last_cursor);
    reporting.stop().await.unwrap();
    world.write(&mut task_client, 30, 60).await;

    // Then the task service stops too, and reporting restarts while it is
    // down: it resumes at its stored cursor and retries until the task
    // service is back (on the same address).
    task.stop().await.unwrap();
    let reporting = start_reporting(&db, &task_url, &org_url).await;
    let reporting_url = reporting.endpoint().to_owned();
    assert_eq!(applied_cursor(&reporting), applied);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let task_addr = task_url.trim_start_matches("http://");
    let task = start_task(&task_db, &org_url, task_addr).await;
    world.write(&mut task_client, 20, 40).await;

    // Caught up, nothing lost or doubled.
    check_all(&world, &reporting_url).await;
    let mut client =
        ReportingServiceClient::new(tasknet_server::connect_lazy(&reporting_url).unwrap());
    let sync = client
        .get_sync_state(v1::GetSyncStateRequest {})
        .await
        .unwrap()
        .into_inner();
    assert_eq!(sync.applied_cursor, world.last_cursor);
    assert_eq!(applied_cursor(&reporting), world.last_cursor);

    reporting.stop().await.unwrap();
    task.stop().await.unwrap();
    org.stop().await.unwrap();
}

tasknet_storage::test_on_both_backends!(services_agree_with_an_independent_count);
