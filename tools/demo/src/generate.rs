//! The generator: from a [`DemoSpec`] and the unit list, the plans and the
//! tasks (each a creation and its ordered updates) as the task service's
//! requests, reproducibly.

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, TimeDelta, Utc};
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use tasknet_domain::{DatePeriod, StatusClass, date_to_proto, timestamp_to_proto};
use tasknet_proto::prost::Message;
use tasknet_proto::v1::{self, UnitCategory};

use crate::apportion::apportion;
use crate::calendar::{between, office_hours, plus, uuid_v7};
use crate::population::province_populations;
use crate::scenario::{Scenario, Step, Window, scenario};
use crate::spec::{DemoSpec, PlanSpec, YearSpec};
use crate::titles;

/// Why a data set could not be generated or counted.
#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    #[error("no headquarters unit (category HEADQUARTERS) valid over {period:?}")]
    NoHeadquarters { period: DatePeriod },
    #[error("no {category:?} unit valid over {period:?}, but the spec gives that category tasks")]
    NoUnits {
        category: UnitCategory,
        period: DatePeriod,
    },
    #[error("provincial office with code {code:?} has no population figure")]
    UnknownProvince { code: String },
    #[error("invalid demo spec: {0}")]
    InvalidSpec(String),
    #[error("not a period or date: {0:?}")]
    InvalidQuery(String),
    #[error("task {task_id}: {field}: {message}")]
    Malformed {
        task_id: String,
        field: String,
        message: String,
    },
}

/// One task: its creation and its later updates, in effective-time order.
#[derive(Debug, Clone, PartialEq)]
pub struct DemoTask {
    pub create: v1::CreateTaskRequest,
    pub updates: Vec<v1::UpdateTaskRequest>,
}

/// Everything the loader sends: the plans first, then the tasks.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct DemoDataset {
    pub plans: Vec<v1::CreatePlanRequest>,
    pub tasks: Vec<DemoTask>,
}

impl DemoDataset {
    pub fn update_count(&self) -> usize {
        self.tasks.iter().map(|task| task.updates.len()).sum()
    }

    /// Creations plus updates: what goes through `Ingest`.
    pub fn mutation_count(&self) -> usize {
        self.tasks.len() + self.update_count()
    }

    /// Every request, protobuf-encoded and length-delimited, in order: two
    /// data sets are the same exactly when these bytes are.
    pub fn encode(&self) -> Vec<u8> {
        let mut bytes = Vec::new();
        for plan in &self.plans {
            bytes.extend(plan.encode_length_delimited_to_vec());
        }
        for task in &self.tasks {
            bytes.extend(task.create.encode_length_delimited_to_vec());
            for update in &task.updates {
                bytes.extend(update.encode_length_delimited_to_vec());
            }
        }
        bytes
    }
}

/// Generates the data set of `spec` over `units` (as `ListUnits` returns
/// them, in any order). Same spec and same units give the same bytes.
pub fn generate(spec: &DemoSpec, units: &[v1::Unit]) -> Result<DemoDataset, DemoError> {
    validate(spec)?;
    let mut rng = ChaCha8Rng::seed_from_u64(spec.seed);
    let mut sorted: Vec<&v1::Unit> = units.iter().collect();
    // Input order must not matter: ListUnits pages in whatever order it likes.
    sorted.sort_by(|a, b| (&a.code, &a.id).cmp(&(&b.code, &b.id)));
    let mut dataset = DemoDataset::default();
    let mut plan_ids = Vec::with_capacity(spec.plans.len());
    for plan in &spec.plans {
        let request = plan_request(&mut rng, plan, &sorted)?;
        plan_ids.push(request.plan_id.clone());
        dataset.plans.push(request);
    }
    for year in &spec.years {
        let generator = YearGenerator {
            spec,
            year,
            units: &sorted,
            headquarters: headquarters(&sorted, year.period())?,
            plans: spec
                .plans
                .iter()
                .zip(&plan_ids)
                .filter(|(plan, _)| plan.year() == year.year)
                .collect(),
        };
        generator.generate(&mut rng, &mut dataset.tasks)?;
    }
    Ok(dataset)
}

/// Checks the plans fit in the central departments' tasks of their year.
fn validate(spec: &DemoSpec) -> Result<(), DemoError> {
    let invalid = |message: String| Err(DemoError::InvalidSpec(message));
    for plan in &spec.plans {
        let named_done = plan.named_tasks.iter().filter(|t| t.completed).count() as u64;
        let named_open = plan.named_tasks.len() as u64 - named_done;
        if plan.done > plan.total || named_done > plan.done || named_open > plan.total - plan.done {
            return invalid(format!("plan {:?}: inconsistent done/total", plan.name));
        }
        if spec.year(plan.year()).is_none() {
            return invalid(format!("plan {:?}: no year {}", plan.name, plan.year()));
        }
    }
    for year in &spec.years {
        let plans = spec.plans.iter().filter(|plan| plan.year() == year.year);
        let (done, open) = plans.fold((0, 0), |(d, o), p| (d + p.done, o + p.total - p.done));
        if done > year.central.completed() || open > year.central.open() {
            return invalid(format!(
                "{}: plans need {done} completed and {open} open central tasks, the year has {} and {}",
                year.year,
                year.central.completed(),
                year.central.open()
            ));
        }
    }
    Ok(())
}

/// Valid on every day of `period` (open-ended validity counts as valid).
fn valid_over(unit: &v1::Unit, period: DatePeriod) -> bool {
    let date = |d: Option<&v1::Date>| {
        tasknet_domain::optional_date_from_proto("", d)
            .ok()
            .flatten()
    };
    let from_ok = date(unit.valid_from.as_ref()).is_none_or(|from| from <= period.start);
    let to_ok = date(unit.valid_to.as_ref()).is_none_or(|to| to >= period.end);
    from_ok && to_ok
}

pub(crate) fn units_of<'a>(
    units: &[&'a v1::Unit],
    category: UnitCategory,
    period: DatePeriod,
) -> Vec<&'a v1::Unit> {
    units
        .iter()
        .copied()
        .filter(|unit| unit.category == category as i32 && valid_over(unit, period))
        .collect()
}

pub(crate) fn headquarters<'a>(
    units: &[&'a v1::Unit],
    period: DatePeriod,
) -> Result<&'a v1::Unit, DemoError> {
    units_of(units, UnitCategory::Headquarters, period)
        .first()
        .copied()
        .ok_or(DemoError::NoHeadquarters { period })
}

fn plan_request(
    rng: &mut ChaCha8Rng,
    plan: &PlanSpec,
    units: &[&v1::Unit],
) -> Result<v1::CreatePlanRequest, DemoError> {
    let owner = headquarters(units, plan.period)?;
    let day = between(rng, plan.period.start, plus(plan.period.start, 3));
    let created = office_hours(rng, day);
    let plan_id = uuid_v7(rng, created).to_string();
    Ok(v1::CreatePlanRequest {
        plan_id,
        plan: Some(v1::Plan {
            name: plan.name.clone(),
            kind: plan.kind as i32,
            owner_unit_id: owner.id.clone(),
            period: Some(plan.period.to_proto()),
            ..Default::default()
        }),
    })
}

/// A task's membership of a plan, fixed before its dates are drawn.
#[derive(Debug, Clone)]
struct Membership {
    plan_id: String,
    title: Option<String>,
}

/// The tasks of one year.
struct YearGenerator<'a> {
    spec: &'a DemoSpec,
    year: &'a YearSpec,
    units: &'a [&'a v1::Unit],
    headquarters: &'a v1::Unit,
    plans: Vec<(&'a PlanSpec, &'a String)>,
}

impl YearGenerator<'_> {
    fn generate(&self, rng: &mut ChaCha8Rng, tasks: &mut Vec<DemoTask>) -> Result<(), DemoError> {
        for category in [
            UnitCategory::CentralDepartment,
            UnitCategory::PublicServiceUnit,
            UnitCategory::ProvincialOffice,
        ] {
            self.generate_category(rng, category, tasks)?;
        }
        Ok(())
    }

    fn generate_category(
        &self,
        rng: &mut ChaCha8Rng,
        category: UnitCategory,
        tasks: &mut Vec<DemoTask>,
    ) -> Result<(), DemoError> {
        let targets = self.year.category(category);
        if targets.total() == 0 {
            return Ok(());
        }
        let period = self.year.period();
        let units = units_of(self.units, category, period);
        if units.is_empty() {
            return Err(DemoError::NoUnits { category, period });
        }
        let weights = self.weights(rng, category, &units)?;
        let per_unit = apportion(targets.total(), &weights);
        let mut classes: Vec<StatusClass> = StatusClass::ALL
            .iter()
            .flat_map(|&class| std::iter::repeat_n(class, targets.get(class) as usize))
            .collect();
        classes.shuffle(rng);
        let mut memberships = if category == UnitCategory::CentralDepartment {
            self.plan_memberships(&classes)
        } else {
            BTreeMap::new()
        };
        let assignees = units
            .iter()
            .zip(&per_unit)
            .flat_map(|(unit, &count)| std::iter::repeat_n(*unit, count as usize));
        let window = Window {
            start: period.start,
            as_of: self.year.as_of(),
        };
        for (slot, (class, assignee)) in classes.iter().zip(assignees).enumerate() {
            let membership = memberships.remove(&slot);
            let task = self.task(rng, *class, window, category, assignee, membership);
            tasks.push(task);
        }
        Ok(())
    }

    /// Provincial offices: half an equal share, half a population share.
    /// Others: seeded random weights.
    fn weights(
        &self,
        rng: &mut ChaCha8Rng,
        category: UnitCategory,
        units: &[&v1::Unit],
    ) -> Result<Vec<u64>, DemoError> {
        if category != UnitCategory::ProvincialOffice {
            return Ok(units.iter().map(|_| titles::unit_weight(rng)).collect());
        }
        let populations = province_populations();
        let population = |unit: &v1::Unit| {
            populations
                .get(unit.code.as_str())
                .copied()
                .ok_or_else(|| DemoError::UnknownProvince {
                    code: unit.code.clone(),
                })
        };
        let people = units
            .iter()
            .map(|u| population(u))
            .collect::<Result<Vec<_>, _>>()?;
        let sum: u64 = people.iter().sum();
        let n = units.len() as u64;
        // 0.5/n + 0.5·p/sum, scaled by 2·n·sum to stay in integers.
        Ok(people.iter().map(|p| sum + n * p).collect())
    }

    /// Which slots (indexes into the shuffled classes) are plan tasks:
    /// completed members take completed slots, open members open slots.
    fn plan_memberships(&self, classes: &[StatusClass]) -> BTreeMap<usize, Membership> {
        let completed = |c: &StatusClass| {
            matches!(c, StatusClass::CompletedOnTime | StatusClass::CompletedLate)
        };
        let mut done_slots = (0..classes.len()).filter(|&i| completed(&classes[i]));
        let mut open_slots = (0..classes.len()).filter(|&i| !completed(&classes[i]));
        let mut memberships = BTreeMap::new();
        for (plan, plan_id) in &self.plans {
            let named_done = plan.named_tasks.iter().filter(|t| t.completed).count() as u64;
            let named = plan
                .named_tasks
                .iter()
                .map(|t| (Some(t.title.clone()), t.completed));
            let generated_done = plan.done - named_done;
            let generated_open =
                plan.total - plan.done - (plan.named_tasks.len() as u64 - named_done);
            let generated = std::iter::repeat_n((None, true), generated_done as usize)
                .chain(std::iter::repeat_n((None, false), generated_open as usize));
            for (title, is_done) in named.chain(generated) {
                let slot = if is_done {
                    done_slots.next()
                } else {
                    open_slots.next()
                };
                // `validate` made sure there are enough slots of each kind.
                if let Some(slot) = slot {
                    let plan_id = (*plan_id).clone();
                    memberships.insert(slot, Membership { plan_id, title });
                }
            }
        }
        memberships
    }

    fn task(
        &self,
        rng: &mut ChaCha8Rng,
        class: StatusClass,
        window: Window,
        category: UnitCategory,
        assignee: &v1::Unit,
        membership: Option<Membership>,
    ) -> DemoTask {
        let scenario = scenario(rng, class, window);
        let from_headquarters = category != UnitCategory::ProvincialOffice
            || rng.random_range(0..100) < self.spec.provincial_from_headquarters_percent;
        let assigning = if from_headquarters {
            self.headquarters
        } else {
            assignee
        };
        let (title, plan_ids) = match membership {
            Some(Membership {
                plan_id,
                title: Some(title),
            }) => (title, vec![plan_id]),
            Some(Membership {
                plan_id,
                title: None,
            }) => (
                titles::task_title(rng, category, scenario.assigned),
                vec![plan_id],
            ),
            None => (
                titles::task_title(rng, category, scenario.assigned),
                Vec::new(),
            ),
        };
        let new_task = v1::NewTask {
            title,
            assigning_unit_id: assigning.id.clone(),
            assignee_unit_id: assignee.id.clone(),
            assigned_date: Some(date_to_proto(scenario.assigned)),
            deadline: Some(date_to_proto(scenario.deadline)),
            plan_ids,
        };
        build_requests(rng, new_task, &scenario)
    }
}

/// The creation and updates of a scenario, with strictly increasing
/// effective instants during office hours and ids drawn from the seed.
pub(crate) fn build_requests(
    rng: &mut ChaCha8Rng,
    new_task: v1::NewTask,
    scenario: &Scenario,
) -> DemoTask {
    let created = office_hours(rng, scenario.assigned);
    let task_id = uuid_v7(rng, created).to_string();
    let create = v1::CreateTaskRequest {
        update_id: uuid_v7(rng, created).to_string(),
        task_id: task_id.clone(),
        effective_time: Some(timestamp_to_proto(created)),
        task: Some(new_task),
    };
    let mut previous = created;
    let mut updates = Vec::with_capacity(scenario.steps.len());
    for (date, step) in &scenario.steps {
        let at = next_instant(rng, *date, previous);
        previous = at;
        updates.push(v1::UpdateTaskRequest {
            update_id: uuid_v7(rng, at).to_string(),
            task_id: task_id.clone(),
            effective_time: Some(timestamp_to_proto(at)),
            expected_version: None,
            change: Some(change(rng, step)),
        });
    }
    DemoTask { create, updates }
}

/// An office-hours instant on `date`, after `previous` (a few minutes after
/// it when both fall on the same day).
fn next_instant(rng: &mut ChaCha8Rng, date: NaiveDate, previous: DateTime<Utc>) -> DateTime<Utc> {
    let at = office_hours(rng, date);
    if at > previous {
        return at;
    }
    previous + TimeDelta::seconds(rng.random_range(60..=2_400))
}

fn change(rng: &mut ChaCha8Rng, step: &Step) -> v1::update_task_request::Change {
    use v1::update_task_request::Change;
    match step {
        Step::Note => Change::Note(v1::ProgressNote {
            note: titles::progress_note(rng),
        }),
        Step::Extend(deadline) => Change::DeadlineChange(v1::DeadlineChange {
            new_deadline: Some(date_to_proto(*deadline)),
            reason: titles::extension_reason(rng),
        }),
        Step::Complete => Change::Complete(v1::Completion {
            note: titles::completion_note(rng),
        }),
        Step::Reopen => Change::Reopen(v1::Reopening {
            reason: titles::reopen_reason(rng),
        }),
    }
}
