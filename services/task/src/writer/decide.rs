//! What a batch does, decided in memory before anything is written: each
//! mutation in order against the state as of the batch (including the batch's
//! own earlier mutations), yielding its outcome and the rows to write.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use chrono::Utc;
use tasknet_auth::AuditEntry;
use tasknet_domain::{TaskHistory, timestamp_to_proto};
use tasknet_proto::prost::Message;
use tasknet_proto::v1;

use crate::access::Access;
use crate::command::{CreatePlan, CreateTask, Mutation, UpdateTask};
use crate::error::{Error, Result};
use crate::model::{PlanRecord, TaskState, Transition};
use crate::reassign::{self, Reassign};
use crate::store::batch::{AppliedRecord, NewChange};
pub use crate::store::seam::{Prefetched, Writes};
use crate::transition;

/// A change-log position: known already, or the n-th change of this batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CursorRef {
    Known(i64),
    New(usize),
}

/// A mutation's outcome before its cursor is known.
#[derive(Debug, Clone)]
pub enum Pending {
    Task {
        version: i64,
        cursor: CursorRef,
        duplicate: bool,
        /// The task after the change (not kept for duplicates).
        task: Option<v1::Task>,
    },
    Plan {
        plan: PlanRecord,
        duplicate: bool,
    },
}

/// The identity of a change to an existing task.
struct Change<'a> {
    task_id: &'a str,
    update_id: &'a str,
    digest: &'a str,
}

impl<'a> Change<'a> {
    fn new(task_id: &'a str, update_id: &'a str, digest: &'a str) -> Self {
        Self {
            task_id,
            update_id,
            digest,
        }
    }
}

/// An update id applied before or earlier in the batch.
#[derive(Debug, Clone)]
struct Recorded {
    digest: String,
    version: i64,
    cursor: CursorRef,
}

/// Each task the batch changed, with its version after the batch and its
/// history: what the writer keeps for the next batch once this one commits.
pub type Changed = Vec<(String, i64, TaskHistory)>;

/// Decides every mutation of a batch, in order, each as its caller may.
pub fn decide(
    mutations: &[(Mutation, Arc<Access>)],
    prefetched: Prefetched,
    record_time_us: i64,
) -> (Vec<Result<Pending>>, Writes, Changed) {
    let mut batch = Batch {
        recorded: prefetched
            .applied
            .into_iter()
            .map(|(id, record)| {
                let recorded = Recorded {
                    digest: record.digest,
                    version: record.version,
                    cursor: CursorRef::Known(record.cursor),
                };
                (id, recorded)
            })
            .collect(),
        tasks: prefetched.tasks,
        histories: prefetched.histories,
        plans: prefetched.plans,
        dirty: Vec::new(),
        dirty_set: HashSet::new(),
        writes: Writes::default(),
        record_time_us,
    };
    let outcomes = mutations
        .iter()
        .map(|(mutation, access)| batch.apply(mutation, access))
        .collect();
    let Batch {
        mut tasks,
        mut histories,
        dirty,
        mut writes,
        ..
    } = batch;
    writes.tasks = dirty.iter().filter_map(|id| tasks.remove(id)).collect();
    let changed = writes
        .tasks
        .iter()
        .filter_map(|task| {
            let history = histories.remove(&task.id)?;
            Some((task.id.clone(), task.version, history))
        })
        .collect();
    (outcomes, writes, changed)
}

struct Batch {
    recorded: HashMap<String, Recorded>,
    tasks: HashMap<String, TaskState>,
    histories: HashMap<String, TaskHistory>,
    plans: HashMap<String, PlanRecord>,
    dirty: Vec<String>,
    dirty_set: HashSet<String>,
    writes: Writes,
    record_time_us: i64,
}

impl Batch {
    fn apply(&mut self, mutation: &Mutation, access: &Access) -> Result<Pending> {
        match mutation {
            Mutation::CreateTask(create) => self.create_task(create, access),
            Mutation::UpdateTask(update) => self.update_task(update, access),
            Mutation::CreatePlan(create) => self.create_plan(create, access),
            Mutation::Reassign(reassign) => self.reassign(reassign, access),
        }
    }

    /// A repeat of an applied update id: acknowledged if it is the same
    /// request, refused if the id was used for something else.
    fn repeat(&self, update_id: &str, digest: &str) -> Option<Result<Pending>> {
        let recorded = self.recorded.get(update_id)?;
        if recorded.digest != digest {
            return Some(Err(Error::already_exists(
                "update_id",
                format!("{update_id} was already used for a different change"),
            )));
        }
        Some(Ok(Pending::Task {
            version: recorded.version,
            cursor: recorded.cursor,
            duplicate: true,
            task: None,
        }))
    }

    fn create_task(&mut self, create: &CreateTask, access: &Access) -> Result<Pending> {
        access.check_create(create)?;
        if let Some(repeat) = self.repeat(&create.update_id, &create.digest) {
            return repeat;
        }
        if self.tasks.contains_key(&create.task_id) {
            return Err(Error::already_exists(
                "task_id",
                format!(
                    "task {} was already created by another update",
                    create.task_id
                ),
            ));
        }
        let (transition, history) = transition::create(create, self.record_time_us);
        self.histories.insert(create.task_id.clone(), history);
        for plan_id in &create.plan_ids {
            self.writes
                .memberships
                .push((create.task_id.clone(), plan_id.clone()));
        }
        let audit = access.audit(format!("task/{}", create.task_id), &create.assignee_unit_id);
        Ok(self.record(&create.update_id, &create.digest, transition, audit))
    }

    fn update_task(&mut self, update: &UpdateTask, access: &Access) -> Result<Pending> {
        access.check_still_exists(update.effective_time)?;
        let change = Change::new(&update.task_id, &update.update_id, &update.digest);
        self.change_task(change, access, |current, history, record_time_us| {
            transition::update(current, history, update, record_time_us)
        })
    }

    fn reassign(&mut self, command: &Reassign, access: &Access) -> Result<Pending> {
        let change = Change::new(&command.task_id, &command.update_id, &command.digest);
        self.change_task(change, access, |current, history, record_time_us| {
            reassign::transition(current, history, command, record_time_us)
        })
    }

    /// A change of an existing task by `rule`, which says what the change
    /// does to the task's history and state (or why it cannot be applied).
    fn change_task(
        &mut self,
        change: Change<'_>,
        access: &Access,
        rule: impl FnOnce(&TaskState, &mut TaskHistory, i64) -> Result<Transition>,
    ) -> Result<Pending> {
        // Access first: a caller learns nothing about another unit's task,
        // not even whether an update id was applied to it.
        if let Some(current) = self.tasks.get(change.task_id) {
            access.check_update(current)?;
        }
        if let Some(repeat) = self.repeat(change.update_id, change.digest) {
            return repeat;
        }
        let current = self.tasks.get(change.task_id).ok_or_else(|| {
            Error::not_found("task_id", format!("there is no task {}", change.task_id))
        })?;
        let history = self.histories.entry(current.id.clone()).or_insert_with(|| {
            tracing::warn!(task_id = %current.id, "no readable history; folding its current state");
            current.stand_in_history()
        });
        // The rule extends the history in place only when it accepts.
        let transition = rule(current, history, self.record_time_us)?;
        let audit = access
            .audit(format!("task/{}", current.id), &current.assignee_unit_id)
            .with_change(Some(task_json(current)), None);
        Ok(self.record(change.update_id, change.digest, transition, audit))
    }

    /// Applies an accepted task change to the batch state and its writes.
    fn record(
        &mut self,
        update_id: &str,
        digest: &str,
        transition: Transition,
        mut audit: AuditEntry,
    ) -> Pending {
        let Transition { state, event } = transition;
        audit.after = task_json(&state);
        audit.time_us = self.record_time_us;
        self.writes.audit.push(audit);
        let task = event.task.clone();
        let index = self.push_change(
            Some(state.id.clone()),
            Some(update_id.to_owned()),
            v1::change::Event::TaskEvent(event),
        );
        let cursor = CursorRef::New(index);
        self.writes.applied.push(AppliedRecord {
            update_id: update_id.to_owned(),
            task_id: state.id.clone(),
            digest: digest.to_owned(),
            version: state.version,
            cursor: index as i64,
        });
        self.recorded.insert(
            update_id.to_owned(),
            Recorded {
                digest: digest.to_owned(),
                version: state.version,
                cursor,
            },
        );
        if self.dirty_set.insert(state.id.clone()) {
            self.dirty.push(state.id.clone());
        }
        let version = state.version;
        self.tasks.insert(state.id.clone(), state);
        Pending::Task {
            version,
            cursor,
            duplicate: false,
            task,
        }
    }

    fn create_plan(&mut self, create: &CreatePlan, access: &Access) -> Result<Pending> {
        access.check_plan(&create.plan)?;
        if let Some(existing) = self.plans.get(&create.plan.id) {
            if existing.same_content(&create.plan) {
                return Ok(Pending::Plan {
                    plan: existing.clone(),
                    duplicate: true,
                });
            }
            return Err(Error::already_exists(
                "plan_id",
                format!("plan {} already exists with other content", create.plan.id),
            ));
        }
        let mut plan = create.plan.clone();
        plan.create_time_us = self.record_time_us;
        self.push_change(None, None, v1::change::Event::PlanCreated(plan.to_proto()));
        self.plans.insert(plan.id.clone(), plan.clone());
        self.writes.plans.push(plan.clone());
        let mut audit = access.audit(format!("plan/{}", plan.id), &plan.owner_unit_id);
        audit.after = plan_json(&plan);
        audit.time_us = self.record_time_us;
        self.writes.audit.push(audit);
        Ok(Pending::Plan {
            plan,
            duplicate: false,
        })
    }

    /// Appends a change-log entry and returns its index in the batch.
    fn push_change(
        &mut self,
        task_id: Option<String>,
        update_id: Option<String>,
        event: v1::change::Event,
    ) -> usize {
        let record_time = chrono::DateTime::<Utc>::from_timestamp_micros(self.record_time_us)
            .map(timestamp_to_proto);
        let change = v1::Change {
            cursor: 0,
            record_time,
            event: Some(event),
        };
        self.writes.changes.push(NewChange {
            task_id,
            update_id,
            record_time_us: self.record_time_us,
            payload: change.encode_to_vec(),
        });
        self.writes.changes.len() - 1
    }
}

/// A task as the audit log records it.
fn task_json(task: &TaskState) -> String {
    serde_json::json!({
        "id": task.id, "title": task.title, "assigning_unit_id": task.assigning_unit_id,
        "assignee_unit_id": task.assignee_unit_id, "assigned_date": task.assigned_date.to_string(),
        "deadline": task.deadline.to_string(), "plan_ids": task.plan_ids,
        "completed_on": task.completed_on.map(|d| d.to_string()), "last_note": task.last_note,
        "version": task.version,
    })
    .to_string()
}

fn plan_json(plan: &PlanRecord) -> String {
    serde_json::json!({
        "id": plan.id, "name": plan.name, "kind": plan.kind.as_str_name(),
        "owner_unit_id": plan.owner_unit_id, "period_start": plan.period_start.to_string(),
        "period_end": plan.period_end.to_string(),
    })
    .to_string()
}
