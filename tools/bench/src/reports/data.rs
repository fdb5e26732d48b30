//! The reports benchmark's data set: deterministic tasks over 2024–2025
//! (ChaCha8, fixed seed) on the organisation service's reference units,
//! bulk-loaded into a reporting database (through the reporting service's
//! `bulk-load` feature) and, the same tasks, into a plain `naive_tasks`
//! table a dashboard would query.

use anyhow::Context;
use chrono::NaiveDate;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use tasknet_domain::{TaskTimeline, TimelineEvent, date_to_storage};
use tasknet_reporting::bulk_load::{BulkTask, Loader, Value, load_read_model};
use tasknet_storage::Backend;

const SEED: u64 = 0x7a5c_2026;

/// A unit tasks are assigned to, with its breakdown keys.
#[derive(Debug, Clone)]
pub struct Unit {
    pub id: String,
    pub category_key: String,
    pub region_key: String,
    pub provincial: bool,
}

/// One generated task; at most one deadline extension, one completion, one
/// reopening and one completion after it, in that order of effective dates
/// (so a flat row describes its whole history).
#[derive(Debug, Clone)]
pub struct Task {
    pub number: u64,
    pub unit: usize,
    pub assigned: NaiveDate,
    pub deadline: NaiveDate,
    pub extension: Option<(NaiveDate, NaiveDate)>,
    pub completed: Option<NaiveDate>,
    pub reopened: Option<NaiveDate>,
    pub recompleted: Option<NaiveDate>,
}

fn plus(date: NaiveDate, days: i64) -> NaiveDate {
    date + chrono::Duration::days(days)
}

/// The `count` tasks, always the same for the same units and count.
pub fn tasks(count: u64, units: &[Unit]) -> impl Iterator<Item = Task> + '_ {
    let mut rng = ChaCha8Rng::seed_from_u64(SEED);
    let provincial: Vec<usize> = (0..units.len()).filter(|i| units[*i].provincial).collect();
    let first = NaiveDate::from_ymd_opt(2024, 1, 1).unwrap_or_default();
    (0..count).map(move |number| {
        // Provincial offices carry most of the work.
        let unit = if !provincial.is_empty() && rng.random_bool(0.7) {
            provincial[rng.random_range(0..provincial.len())]
        } else {
            rng.random_range(0..units.len())
        };
        let assigned = plus(first, rng.random_range(0..731));
        let deadline = plus(assigned, rng.random_range(7..120));
        let span = (deadline - assigned).num_days();
        let extension = rng.random_bool(0.05).then(|| {
            let on = plus(assigned, rng.random_range(1..=span));
            (on, plus(deadline, rng.random_range(15..60)))
        });
        let after = extension.map_or(assigned, |(on, _)| on);
        let completed = rng
            .random_bool(0.75)
            .then(|| plus(after, rng.random_range(1..span + 60)));
        let reopened = completed
            .filter(|_| rng.random_bool(0.06))
            .map(|on| plus(on, rng.random_range(1..30)));
        let recompleted = reopened
            .filter(|_| rng.random_bool(0.5))
            .map(|on| plus(on, rng.random_range(1..40)));
        Task {
            number,
            unit,
            assigned,
            deadline,
            extension,
            completed,
            reopened,
            recompleted,
        }
    })
}

impl Task {
    pub fn id(&self) -> String {
        let n = self.number;
        format!(
            "0190b000-{:04x}-7000-8000-{:012x}",
            (n >> 48) & 0xffff,
            n & 0xffff_ffff_ffff
        )
    }

    /// Its history as the domain's timeline (no reassignments).
    fn timeline(&self) -> TaskTimeline {
        let mut events = Vec::new();
        if let Some((effective, deadline)) = self.extension {
            events.push(TimelineEvent::DeadlineChanged {
                effective,
                deadline,
            });
        }
        if let Some(effective) = self.completed {
            events.push(TimelineEvent::Completed { effective });
        }
        if let Some(effective) = self.reopened {
            events.push(TimelineEvent::Reopened { effective });
        }
        if let Some(effective) = self.recompleted {
            events.push(TimelineEvent::Completed { effective });
        }
        TaskTimeline {
            initial_deadline: self.deadline,
            events,
        }
    }
}

/// The plain table a dashboard would query: one row per task, its history
/// in columns.
const NAIVE_TABLE: &str = "CREATE TABLE naive_tasks (id TEXT NOT NULL, \
    assignee_unit_id TEXT NOT NULL, assigned_date BIGINT NOT NULL, deadline BIGINT NOT NULL, \
    extended_on BIGINT, extended_deadline BIGINT, completed_on BIGINT, reopened_on BIGINT, \
    recompleted_on BIGINT)";

/// Loads the data set into a migrated reporting database at `url`; returns
/// how many timeline segments the read model holds.
pub async fn load(backend: Backend, url: &str, count: u64, units: &[Unit]) -> anyhow::Result<u64> {
    let mut loader = Loader::connect(backend, url)
        .await
        .context("failed to connect for the bulk load")?;
    let segments = load_read_model(&mut loader, || {
        tasks(count, units).map(|task| BulkTask {
            task_id: task.id(),
            assignee_unit_id: &units[task.unit].id,
            assigned: task.assigned,
            timeline: task.timeline(),
        })
    })
    .await?;
    loader.execute(NAIVE_TABLE).await?;
    let date = |d: NaiveDate| Value::Int(Some(date_to_storage(d)));
    let opt = |d: Option<NaiveDate>| Value::Int(d.map(date_to_storage));
    loader
        .load(
            "naive_tasks",
            "id, assignee_unit_id, assigned_date, deadline, extended_on, extended_deadline, \
             completed_on, reopened_on, recompleted_on",
            tasks(count, units),
            |task, w| {
                let id = task.id();
                w.row(&[
                    Value::Text(&id),
                    Value::Text(&units[task.unit].id),
                    date(task.assigned),
                    date(task.deadline),
                    opt(task.extension.map(|(on, _)| on)),
                    opt(task.extension.map(|(_, deadline)| deadline)),
                    opt(task.completed),
                    opt(task.reopened),
                    opt(task.recompleted),
                ]);
            },
        )
        .await
        .context("loading naive_tasks")?;
    // What a dashboard's DBA would add for date-range reports.
    loader
        .execute("CREATE INDEX naive_tasks_assigned ON naive_tasks (assigned_date)")
        .await?;
    if backend == Backend::Postgres {
        loader.execute("ANALYZE naive_tasks").await?;
    }
    loader.commit().await?;
    Ok(segments)
}

/// The naive dashboard query: one statement, GROUP BY unit and period, the
/// state as of each period's as-of day worked out with CASE on the dates.
/// Dates are yyyymmdd; `current`/`previous` are (start, end, as_of) with end
/// already capped at as_of.
pub fn naive_sql(current: (i64, i64, i64), previous: (i64, i64, i64)) -> String {
    let (cs, ce, ca) = current;
    let (ps, pe, pa) = previous;
    format!(
        "SELECT assignee_unit_id, p, \
           COUNT(CASE WHEN c IS NOT NULL AND c <= d THEN 1 END), \
           COUNT(CASE WHEN c IS NOT NULL AND c > d THEN 1 END), \
           COUNT(CASE WHEN c IS NULL AND d >= a THEN 1 END), \
           COUNT(CASE WHEN c IS NULL AND d < a THEN 1 END) \
         FROM (SELECT assignee_unit_id, p, a, \
                 CASE WHEN extended_on IS NOT NULL AND extended_on <= a \
                      THEN extended_deadline ELSE deadline END AS d, \
                 CASE WHEN recompleted_on IS NOT NULL AND recompleted_on <= a THEN recompleted_on \
                      WHEN reopened_on IS NOT NULL AND reopened_on <= a THEN NULL \
                      WHEN completed_on IS NOT NULL AND completed_on <= a THEN completed_on END AS c \
               FROM (SELECT *, \
                       CASE WHEN assigned_date >= {cs} THEN 0 ELSE 1 END AS p, \
                       CASE WHEN assigned_date >= {cs} THEN {ca} ELSE {pa} END AS a \
                     FROM naive_tasks \
                     WHERE (assigned_date >= {cs} AND assigned_date <= {ce}) \
                        OR (assigned_date >= {ps} AND assigned_date <= {pe})) AS t) AS s \
         GROUP BY assignee_unit_id, p"
    )
}
