//! Tests of the read model and the reports on both back ends, fed with
//! hand-built change-log entries.

mod drill;
mod index;
mod random;
mod reorganised;
mod restart;
mod scorecard;
mod service;
mod web;

use chrono::NaiveDate;
use tasknet_domain::date_to_proto;
use tasknet_proto::v1::{self, TaskEventKind};
use tasknet_storage::DatabaseOptions;
use tasknet_storage::testing::TestDatabase;

use crate::store::ReadModel;

pub fn ymd(year: i32, month: u32, day: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(year, month, day).unwrap()
}

pub async fn open(db: &TestDatabase) -> ReadModel {
    let options = DatabaseOptions {
        max_connections: 4,
        ..DatabaseOptions::default()
    };
    ReadModel::open(db.url(), &options).await.unwrap()
}

/// What the tests know of a task when building its events.
#[derive(Debug, Clone)]
pub struct TaskSpec {
    pub id: String,
    pub assignee: String,
    pub assigned: NaiveDate,
    pub deadline: NaiveDate,
    pub plans: Vec<String>,
}

impl TaskSpec {
    fn snapshot(&self) -> v1::Task {
        v1::Task {
            id: self.id.clone(),
            title: format!("task {}", self.id),
            assigning_unit_id: "hq".into(),
            assignee_unit_id: self.assignee.clone(),
            assigned_date: Some(date_to_proto(self.assigned)),
            deadline: Some(date_to_proto(self.deadline)),
            plan_ids: self.plans.clone(),
            status: v1::TaskStatus::Open as i32,
            version: 1,
            ..Default::default()
        }
    }
}

fn task_change(cursor: i64, event: v1::TaskEvent) -> v1::Change {
    v1::Change {
        cursor,
        record_time: None,
        event: Some(v1::change::Event::TaskEvent(event)),
    }
}

pub fn created(cursor: i64, task: &TaskSpec) -> v1::Change {
    task_change(
        cursor,
        v1::TaskEvent {
            update_id: format!("u{cursor}"),
            kind: TaskEventKind::Created as i32,
            effective_date: Some(date_to_proto(task.assigned)),
            task: Some(task.snapshot()),
            ..Default::default()
        },
    )
}

/// An update of `kind` taking effect on `effective` (`new_deadline` for deadline changes).
pub fn updated(
    cursor: i64,
    task: &TaskSpec,
    kind: TaskEventKind,
    effective: NaiveDate,
    new_deadline: Option<NaiveDate>,
) -> v1::Change {
    task_change(
        cursor,
        v1::TaskEvent {
            update_id: format!("u{cursor}"),
            kind: kind as i32,
            effective_date: Some(date_to_proto(effective)),
            new_deadline: new_deadline.map(date_to_proto),
            task: Some(task.snapshot()),
            ..Default::default()
        },
    )
}

pub fn plan_created(
    cursor: i64,
    id: &str,
    name: &str,
    kind: v1::PlanKind,
    start: NaiveDate,
    end: NaiveDate,
) -> v1::Change {
    v1::Change {
        cursor,
        record_time: None,
        event: Some(v1::change::Event::PlanCreated(v1::Plan {
            id: id.into(),
            name: name.into(),
            kind: kind as i32,
            owner_unit_id: "hq".into(),
            period: Some(v1::DateRange {
                start: Some(date_to_proto(start)),
                end: Some(date_to_proto(end)),
            }),
            create_time: None,
        })),
    }
}
