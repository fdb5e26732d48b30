//! The loader: reference units, the generated plans, then every task
//! creation and update through several concurrent `Ingest` streams, as
//! offices would send them — pipelined, each acknowledgement checked.
//!
//! Each task travels on one stream (its creation and updates in order); each
//! stream sends in effective-time order with a bounded number of mutations
//! awaiting acknowledgement, so the task service's group commit always has a
//! batch to write. Duplicates are acknowledged as such, which makes a re-run
//! after a crash safe: it completes what is missing and changes nothing else.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use chrono::NaiveDate;
use tasknet_domain::DatePeriod;

use anyhow::{Context, bail};
use tasknet_proto::v1::{
    self, ingest_request::Mutation, ingest_response::Outcome,
    organisation_service_client::OrganisationServiceClient, task_service_client::TaskServiceClient,
};
use tasknet_server::{ClientOptions, TracedChannel};
use tokio::sync::{Semaphore, mpsc};
use tokio_stream::wrappers::ReceiverStream;

use crate::expected::{
    ExpectedCounts, ExpectedPlanProgress, expected_breakdown, expected_plan_progress,
};
use crate::generate::{DemoDataset, DemoError, generate};
use crate::preflight::preflight;
use crate::spec::DemoSpec;

/// Concurrent `Ingest` streams [`load`] uses.
pub const DEFAULT_STREAMS: usize = 8;
/// Mutations sent on one stream and not yet acknowledged, at most.
const WINDOW: usize = 512;
/// ListUnits page size.
const PAGE_SIZE: i32 = 500;
/// How often the progress callback hears about the ingest.
const PROGRESS_INTERVAL: Duration = Duration::from_millis(100);

/// What the loader is doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoadStage {
    /// Loading the reference units and listing them.
    Units,
    /// Generating the data set.
    Generating,
    /// Creating the plans.
    Plans,
    /// Ingesting task creations and updates.
    Tasks,
    /// Applying a reorganisation and passing open tasks on.
    Reorganising,
}

/// A progress report, for a progress bar over the mutations.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LoadProgress {
    pub stage: LoadStage,
    /// Task creations and updates acknowledged so far.
    pub acknowledged: u64,
    /// Task creations and updates to send in all (0 until generated).
    pub total_mutations: u64,
}

/// What a load did, and what it loaded (to compute the expected figures).
#[derive(Debug, Clone)]
pub struct LoadSummary {
    /// The units the data set was generated over.
    pub units: Arc<[v1::Unit]>,
    pub dataset: Arc<DemoDataset>,
    /// Mutations the task service had applied before (a re-run).
    pub duplicates: u64,
    /// The largest change-log cursor acknowledged: pass it as `min_cursor` to
    /// reports to read them only once they include everything loaded.
    pub last_cursor: i64,
    pub elapsed: Duration,
}

impl LoadSummary {
    pub fn tasks(&self) -> usize {
        self.dataset.tasks.len()
    }

    pub fn updates(&self) -> usize {
        self.dataset.update_count()
    }

    pub fn plans(&self) -> usize {
        self.dataset.plans.len()
    }

    pub fn mutations_per_second(&self) -> f64 {
        self.dataset.mutation_count() as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }

    /// What `StatusBreakdown` must answer for the loaded data.
    pub fn expected_breakdown(
        &self,
        period: DatePeriod,
        as_of: NaiveDate,
    ) -> Result<ExpectedCounts, DemoError> {
        expected_breakdown(&self.dataset, &self.units, period, as_of)
    }

    /// What `PlanProgress` must answer for the loaded plans.
    pub fn expected_plan_progress(
        &self,
        as_of: NaiveDate,
    ) -> Result<Vec<ExpectedPlanProgress>, DemoError> {
        expected_plan_progress(&self.dataset, as_of)
    }

    /// The national row for a period label ("2024-H1") and an as-of date
    /// ("2024-06-30"), as `[total, on time, late, open within, open overdue]`.
    pub fn expected_national(&self, period: &str, as_of: &str) -> Result<[i64; 5], DemoError> {
        let bad = |what: &str| DemoError::InvalidQuery(what.to_owned());
        let period = DatePeriod::parse(period).ok_or_else(|| bad(period))?;
        let as_of = NaiveDate::parse_from_str(as_of, "%Y-%m-%d").map_err(|_| bad(as_of))?;
        Ok(self.expected_breakdown(period, as_of)?.national.to_array())
    }
}

impl std::fmt::Display for LoadSummary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} tasks and {} updates ({} already there), {} plans, in {:.1} s \
             ({:.0} mutations/s); last cursor {}",
            self.tasks(),
            self.updates(),
            self.duplicates,
            self.plans(),
            self.elapsed.as_secs_f64(),
            self.mutations_per_second(),
            self.last_cursor
        )
    }
}

/// Loads the reference units, generates `spec`'s data set over them, and
/// pushes it into the services at `endpoint` (`http://host:port`, all three
/// services behind it, as `tasknet up` serves them) through
/// [`DEFAULT_STREAMS`] ingest streams.
/// `client` carries the credential (an administrator's: the loader
/// creates units' reference data, plans and every unit's tasks).
pub async fn load(
    endpoint: &str,
    client: &ClientOptions,
    spec: &DemoSpec,
    progress: impl Fn(LoadProgress),
) -> anyhow::Result<LoadSummary> {
    load_split(endpoint, endpoint, client, spec, progress).await
}

/// [`load`] for services that run apart: units from the organisation
/// service, plans and tasks to the task service.
pub async fn load_split(
    organisation_endpoint: &str,
    task_endpoint: &str,
    client: &ClientOptions,
    spec: &DemoSpec,
    progress: impl Fn(LoadProgress),
) -> anyhow::Result<LoadSummary> {
    let started = Instant::now();
    let stage = |stage, total_mutations| LoadProgress {
        stage,
        acknowledged: 0,
        total_mutations,
    };
    progress(stage(LoadStage::Units, 0));
    let units: Arc<[v1::Unit]> = load_units(organisation_endpoint, client).await?.into();
    progress(stage(LoadStage::Generating, 0));
    let dataset = generate(spec, &units).context("failed to generate the demo data set")?;
    // Before writing anything (plans included): refuses to mix data sets.
    preflight(task_endpoint, client, spec, &dataset).await?;
    let dataset = Arc::new(dataset);
    let mut summary = load_dataset(
        task_endpoint,
        client,
        dataset,
        units,
        DEFAULT_STREAMS,
        progress,
    )
    .await?;
    summary.elapsed = started.elapsed();
    Ok(summary)
}

pub(crate) fn channel(endpoint: &str, client: &ClientOptions) -> anyhow::Result<TracedChannel> {
    tasknet_server::connect_lazy_with(endpoint, client)
        .with_context(|| format!("invalid endpoint {endpoint:?}"))
}

/// Loads the organisation service's built-in reference units (a no-op when
/// they are there) and returns every unit, all pages.
pub async fn load_units(endpoint: &str, options: &ClientOptions) -> anyhow::Result<Vec<v1::Unit>> {
    let mut client = OrganisationServiceClient::new(channel(endpoint, options)?);
    client
        .load_reference_units(v1::LoadReferenceUnitsRequest {})
        .await
        .context("LoadReferenceUnits failed")?;
    let mut units = Vec::new();
    let mut page_token = String::new();
    loop {
        let page = client
            .list_units(v1::ListUnitsRequest {
                page_size: PAGE_SIZE,
                page_token,
                ..Default::default()
            })
            .await
            .context("ListUnits failed")?
            .into_inner();
        units.extend(page.units);
        if page.next_page_token.is_empty() {
            return Ok(units);
        }
        page_token = page.next_page_token;
    }
}

/// Creates `dataset`'s plans in the task service at `task_endpoint`, then
/// ingests its tasks over `streams` concurrent streams. Fails on the first
/// mutation the service refuses. `units` are those the data set was
/// generated over; the summary keeps them for the expected figures.
pub async fn load_dataset(
    task_endpoint: &str,
    options: &ClientOptions,
    dataset: Arc<DemoDataset>,
    units: Arc<[v1::Unit]>,
    streams: usize,
    progress: impl Fn(LoadProgress),
) -> anyhow::Result<LoadSummary> {
    let started = Instant::now();
    let total_mutations = dataset.mutation_count() as u64;
    progress(LoadProgress {
        stage: LoadStage::Plans,
        acknowledged: 0,
        total_mutations,
    });
    let mut client = TaskServiceClient::new(channel(task_endpoint, options)?);
    for plan in &dataset.plans {
        client
            .create_plan(plan.clone())
            .await
            .with_context(|| format!("CreatePlan {} failed", plan.plan_id))?;
    }
    let ingested = ingest(
        task_endpoint,
        options,
        &dataset,
        streams.max(1),
        Slice::All,
        &progress,
    )
    .await?;
    Ok(LoadSummary {
        units,
        dataset,
        duplicates: ingested.duplicates,
        last_cursor: ingested.last_cursor,
        elapsed: started.elapsed(),
    })
}

/// One mutation of the data set, borrowed.
#[derive(Clone, Copy)]
enum Item<'a> {
    Create(&'a v1::CreateTaskRequest),
    Update(&'a v1::UpdateTaskRequest),
}

impl<'a> Item<'a> {
    fn update_id(self) -> &'a str {
        match self {
            Item::Create(create) => &create.update_id,
            Item::Update(update) => &update.update_id,
        }
    }

    /// (seconds, nanos) of the effective time; missing sorts first.
    fn effective(self) -> (i64, i32) {
        let time = match self {
            Item::Create(create) => create.effective_time.as_ref(),
            Item::Update(update) => update.effective_time.as_ref(),
        };
        time.map(|t| (t.seconds, t.nanos)).unwrap_or_default()
    }

    fn request(self) -> v1::IngestRequest {
        let mutation = match self {
            Item::Create(create) => Mutation::Create(create.clone()),
            Item::Update(update) => Mutation::Update(update.clone()),
        };
        v1::IngestRequest {
            mutation: Some(mutation),
        }
    }
}

/// Which of a data set's mutations to send, by effective time (seconds
/// since the epoch): all of them, or those before or from an instant (the
/// continuation sends what happened before the merger, transfers the open
/// tasks, then sends the rest).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Slice {
    All,
    Before(i64),
    From(i64),
}

impl Slice {
    fn keeps(self, item: Item<'_>) -> bool {
        let (seconds, _) = item.effective();
        match self {
            Slice::All => true,
            Slice::Before(instant) => seconds < instant,
            Slice::From(instant) => seconds >= instant,
        }
    }
}

/// Every task's mutations on stream `task index % streams`, each stream in
/// effective-time order. A task's own mutations have increasing effective
/// times, so the stable sort keeps them in their order.
fn partition(dataset: &DemoDataset, streams: usize, slice: Slice) -> Vec<Vec<Item<'_>>> {
    let mut items: Vec<(usize, Item<'_>)> = Vec::with_capacity(dataset.mutation_count());
    for (index, task) in dataset.tasks.iter().enumerate() {
        items.push((index % streams, Item::Create(&task.create)));
        items.extend(
            task.updates
                .iter()
                .map(|u| (index % streams, Item::Update(u))),
        );
    }
    items.retain(|(_, item)| slice.keeps(*item));
    items.sort_by_key(|(_, item)| item.effective());
    let mut partitions = vec![Vec::new(); streams];
    for (stream, item) in items {
        partitions[stream].push(item);
    }
    partitions
}

#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct Ingested {
    pub duplicates: u64,
    pub last_cursor: i64,
}

/// Sends `slice` of `dataset`'s task mutations over `streams` ingest streams.
pub(crate) async fn ingest(
    endpoint: &str,
    options: &ClientOptions,
    dataset: &DemoDataset,
    streams: usize,
    slice: Slice,
    progress: &impl Fn(LoadProgress),
) -> anyhow::Result<Ingested> {
    let acknowledged = AtomicU64::new(0);
    let partitions = partition(dataset, streams, slice);
    let total = partitions.iter().map(Vec::len).sum::<usize>() as u64;
    let mut drivers = Vec::with_capacity(streams);
    for (stream, items) in partitions.iter().enumerate() {
        // A connection per stream, so the server can spread them over its threads.
        let client = TaskServiceClient::new(channel(endpoint, options)?);
        drivers.push(drive(stream, client, items, &acknowledged));
    }
    let work = futures::future::try_join_all(drivers);
    tokio::pin!(work);
    let mut tick = tokio::time::interval(PROGRESS_INTERVAL);
    let report = |acknowledged| LoadProgress {
        stage: LoadStage::Tasks,
        acknowledged,
        total_mutations: total,
    };
    let outcomes = loop {
        tokio::select! {
            outcomes = &mut work => break outcomes?,
            _ = tick.tick() => progress(report(acknowledged.load(Ordering::Relaxed))),
        }
    };
    progress(report(acknowledged.load(Ordering::Relaxed)));
    Ok(outcomes
        .iter()
        .fold(Ingested::default(), |sum, one| Ingested {
            duplicates: sum.duplicates + one.duplicates,
            last_cursor: sum.last_cursor.max(one.last_cursor),
        }))
}

/// Runs one `Ingest` stream: sends `items` with at most [`WINDOW`] awaiting
/// acknowledgement, and checks the acknowledgements, which come in order.
async fn drive(
    stream: usize,
    mut client: TaskServiceClient<TracedChannel>,
    items: &[Item<'_>],
    acknowledged: &AtomicU64,
) -> anyhow::Result<Ingested> {
    if items.is_empty() {
        return Ok(Ingested::default());
    }
    let (sender, receiver) = mpsc::channel(WINDOW);
    let window = Semaphore::new(WINDOW);
    let send = async {
        for item in items {
            let Ok(permit) = window.acquire().await else {
                break;
            };
            permit.forget();
            // A closed channel means the call failed: the receiving side reports why.
            if sender.send(item.request()).await.is_err() {
                break;
            }
        }
        drop(sender);
        Ok::<_, anyhow::Error>(())
    };
    let receive = async {
        let mut responses = client
            .ingest(ReceiverStream::new(receiver))
            .await
            .with_context(|| format!("ingest stream {stream}: Ingest failed"))?
            .into_inner();
        let mut ingested = Ingested::default();
        for item in items {
            let response = responses
                .message()
                .await
                .with_context(|| format!("ingest stream {stream} failed"))?
                .with_context(|| format!("ingest stream {stream} ended early"))?;
            check(&response, item.update_id(), &mut ingested)?;
            window.add_permits(1);
            acknowledged.fetch_add(1, Ordering::Relaxed);
        }
        Ok(ingested)
    };
    let ((), ingested) = tokio::try_join!(send, receive)?;
    Ok(ingested)
}

/// An acknowledgement of `update_id`, or the error the service answered.
fn check(
    response: &v1::IngestResponse,
    update_id: &str,
    into: &mut Ingested,
) -> anyhow::Result<()> {
    if response.update_id != update_id {
        bail!(
            "ingest answered {:?} where {update_id:?} was expected next",
            response.update_id
        );
    }
    match &response.outcome {
        Some(Outcome::Ack(ack)) => {
            into.duplicates += u64::from(ack.duplicate);
            into.last_cursor = into.last_cursor.max(ack.cursor);
            Ok(())
        }
        Some(Outcome::Error(error)) => bail!(
            "the task service refused update {update_id}: {} (code {}{})",
            error.message,
            error.code,
            if error.field.is_empty() {
                String::new()
            } else {
                format!(", field {}", error.field)
            }
        ),
        None => bail!("ingest answered update {update_id} with no outcome"),
    }
}
