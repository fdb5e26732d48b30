//! The check before a load writes anything: is the task service empty for
//! the demo's periods, or does it hold this same data set (fully or in part,
//! as after a crash), or something else — another demo's tasks, or real
//! ones? Only the first two may load: ingesting one data set on top of
//! another fails halfway (an update id both use for different changes) and
//! leaves thousands of tasks behind that change every report of the period.

use std::collections::HashSet;

use tasknet_domain::DatePeriod;
use tasknet_proto::tonic::Code;
use tasknet_proto::v1::{self, task_service_client::TaskServiceClient};
use tasknet_server::{ClientOptions, TracedChannel};

use crate::generate::DemoDataset;
use crate::load::channel;
use crate::spec::DemoSpec;

/// Tasks of the data set looked up one by one: spread over all of it, so a
/// partly loaded data set shows as such.
const PROBES: usize = 48;
/// ListTasks page size while looking for tasks that are not the data set's.
const PAGE_SIZE: i32 = 1000;

/// What the task service holds of a data set, before loading it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Preflight {
    /// None of its tasks, and nothing else in its periods.
    Empty,
    /// Some of its tasks and nothing else in its periods: a load that
    /// stopped halfway; loading again completes it.
    Partly,
    /// Every task looked up is there, as generated: loading again changes
    /// nothing.
    Loaded,
}

/// The task service holds tasks a load would clash with; nothing was written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DemoConflict {
    /// The data set asked for: "seed", "small" or "custom".
    pub requested: &'static str,
    /// What the periods hold: tasks assigned in each of the demo's periods.
    pub held: Vec<(DatePeriod, u64)>,
    /// Of those, tasks that are not in the requested data set.
    pub foreign: u64,
    /// One of them, or a task of the data set stored with other content.
    pub example: String,
}

impl std::fmt::Display for DemoConflict {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let held: u64 = self.held.iter().map(|(_, n)| n).sum();
        let periods: Vec<String> = self
            .held
            .iter()
            .map(|(p, n)| format!("{n} assigned {} to {}", p.start, p.end))
            .collect();
        write!(
            f,
            "refusing to load the {} demo data set: the system already holds {held} tasks in its \
             periods ({}), {} of them not in this data set (e.g. {}). {} Loading on top would mix \
             two data sets and change every report of those periods, so nothing was written. \
             Load the demo that is there again (that changes nothing), or load this one into a \
             fresh system: `tasknet up --data-dir NEW-DIR --demo --demo-size {}` (or an empty \
             database).",
            self.requested,
            periods.join(", "),
            self.foreign,
            self.example,
            identify(held),
            self.requested,
        )
    }
}

impl std::error::Error for DemoConflict {}

/// The built-in demo a spec is, by name.
pub fn demo_name(spec: &DemoSpec) -> &'static str {
    if *spec == DemoSpec::seed_report() {
        "seed"
    } else if *spec == DemoSpec::small() {
        "small"
    } else {
        "custom"
    }
}

/// Which built-in demo has `tasks` tasks in its periods, if one has.
fn identify(tasks: u64) -> String {
    let size = |spec: &DemoSpec| spec.years.iter().map(|y| y.national().total()).sum::<u64>();
    match [
        ("seed", DemoSpec::seed_report()),
        ("small", DemoSpec::small()),
    ]
    .iter()
    .find(|(_, spec)| size(spec) == tasks)
    {
        Some((name, _)) => format!(
            "That is the size of the {name} demo data set: it looks loaded (`tasknet demo load \
             --size {name}`)."
        ),
        None => "That is no built-in demo's size: other data is loaded.".to_owned(),
    }
}

/// Looks at what the task service at `endpoint` holds of `dataset`
/// (generated from `spec`) without writing anything; a [`DemoConflict`]
/// error when loading it would clash.
pub async fn preflight(
    endpoint: &str,
    options: &ClientOptions,
    spec: &DemoSpec,
    dataset: &DemoDataset,
) -> anyhow::Result<Preflight> {
    let mut client = TaskServiceClient::new(channel(endpoint, options)?);
    let requested = demo_name(spec);
    let tasks = &dataset.tasks;
    let step = (tasks.len() / PROBES).max(1);
    let (mut found, mut probed) = (0, 0);
    // A task of the data set stored with other content: another data set.
    let mut clash = None;
    for task in tasks.iter().step_by(step) {
        probed += 1;
        let create = &task.create;
        let stored = match client
            .get_task(v1::GetTaskRequest {
                task_id: create.task_id.clone(),
            })
            .await
        {
            Ok(response) => response.into_inner().task.unwrap_or_default(),
            Err(status) if status.code() == Code::NotFound => continue,
            Err(status) => return Err(anyhow::Error::new(status).context("GetTask failed")),
        };
        let new = create.task.clone().unwrap_or_default();
        // The assignee is left out: a reorganisation passes open tasks on.
        if (
            &stored.title,
            &stored.assigning_unit_id,
            &stored.assigned_date,
        ) != (&new.title, &new.assigning_unit_id, &new.assigned_date)
        {
            clash = Some(format!(
                "task {} is stored as {:?}, where this data set has {:?}",
                create.task_id, stored.title, new.title
            ));
            break;
        }
        found += 1;
    }
    if clash.is_none() && probed > 0 && found == probed {
        return Ok(Preflight::Loaded);
    }
    let census = census(&mut client, spec, dataset).await?;
    if let Some(example) = clash.or(census.example) {
        return Err(DemoConflict {
            requested,
            held: census.held,
            foreign: census.foreign,
            example,
        }
        .into());
    }
    Ok(if found == 0 {
        Preflight::Empty
    } else {
        Preflight::Partly
    })
}

/// What `spec`'s periods hold.
struct Census {
    /// Tasks assigned in each period.
    held: Vec<(DatePeriod, u64)>,
    /// Of all of them, those not in the data set.
    foreign: u64,
    /// The first of those, described.
    example: Option<String>,
}

/// Counts the tasks assigned in `spec`'s periods and those not in `dataset`.
async fn census(
    client: &mut TaskServiceClient<TracedChannel>,
    spec: &DemoSpec,
    dataset: &DemoDataset,
) -> anyhow::Result<Census> {
    let ours: HashSet<&str> = dataset
        .tasks
        .iter()
        .map(|t| t.create.task_id.as_str())
        .collect();
    let mut census = Census {
        held: Vec::new(),
        foreign: 0,
        example: None,
    };
    for year in &spec.years {
        let period = year.period();
        let mut count = 0;
        scan(client, period, |task| {
            count += 1;
            if !ours.contains(task.id.as_str()) {
                census.foreign += 1;
                census
                    .example
                    .get_or_insert_with(|| format!("task {} {:?}", task.id, task.title));
            }
        })
        .await?;
        census.held.push((period, count));
    }
    Ok(census)
}

/// Calls `each` on every task assigned in `period`, page by page.
async fn scan(
    client: &mut TaskServiceClient<TracedChannel>,
    period: DatePeriod,
    mut each: impl FnMut(&v1::Task),
) -> anyhow::Result<()> {
    let mut page_token = String::new();
    loop {
        let page = client
            .list_tasks(v1::ListTasksRequest {
                assigned: Some(period.to_proto()),
                page_size: PAGE_SIZE,
                page_token,
                ..Default::default()
            })
            .await
            .map_err(|status| anyhow::Error::new(status).context("ListTasks failed"))?
            .into_inner();
        page.tasks.iter().for_each(&mut each);
        if page.next_page_token.is_empty() {
            return Ok(());
        }
        page_token = page.next_page_token;
    }
}
