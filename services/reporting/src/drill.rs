//! Drill-down: the tasks behind one cell of a breakdown (ListGroupTasks),
//! one task's timeline (GetTaskTimeline) and the caller's scope
//! (GetReaderScope). Groups, bases and coverage mean exactly what they mean
//! in StatusBreakdown, so the tasks listed over all pages are the cell's count.

use std::collections::BTreeSet;
use std::time::Duration;

use chrono::{DateTime, NaiveDate, Utc};
use tasknet_auth::{Coverage, Principal};
use tasknet_domain::{
    DatePeriod, FieldError, date_from_storage, date_to_proto, error::parse_uuid,
    timestamp_to_proto, vietnam_date,
};
use tasknet_proto::v1::{self, GroupBy, ReportBasis, StatusClass};

use crate::basis::{self, Restatement};
use crate::breakdown::group_key;
use crate::catalog::{Catalog, UnitSource};
use crate::error::Error;
use crate::reports::{Reports, parse_group_by};
use crate::store::drill::{self, After, GroupTaskRow};
use crate::store::{StatusQuery, timeline};
use crate::wait::{validate_min_cursor, wait_for_cursor};

const DEFAULT_PAGE_SIZE: usize = 100;
const MAX_PAGE_SIZE: usize = 1000;

/// A validated ListGroupTasks request.
#[derive(Debug, Clone)]
struct GroupQuestion {
    query: StatusQuery,
    group_by: GroupBy,
    group_key: String,
    class: StatusClass,
    basis: ReportBasis,
    page_size: usize,
    after: Option<After>,
    min_cursor: i64,
}

impl GroupQuestion {
    fn parse(request: &v1::ListGroupTasksRequest) -> Result<Self, FieldError> {
        let period = DatePeriod::from_proto("period", request.period.as_ref())?;
        let as_of = period.as_of_from_proto("as_of", request.as_of.as_ref())?;
        let group_by = parse_group_by(request.group_by)?;
        match (group_by, request.group_key.is_empty()) {
            (GroupBy::None, false) => {
                let message = "must be empty without a group_by (all tasks the caller covers)";
                return Err(FieldError::new("group_key", message));
            }
            (GroupBy::None, true) | (_, false) => {}
            (_, true) => return Err(FieldError::missing("group_key")),
        }
        let class = StatusClass::try_from(request.status_class).map_err(|_| {
            let message = format!("{} is not a status class", request.status_class);
            FieldError::new("status_class", message)
        })?;
        let page_size = match usize::try_from(request.page_size) {
            Ok(0) => DEFAULT_PAGE_SIZE,
            Ok(size) if size <= MAX_PAGE_SIZE => size,
            _ => {
                let message = format!("must be between 0 and {MAX_PAGE_SIZE}");
                return Err(FieldError::new("page_size", message));
            }
        };
        let mut question = Self {
            query: StatusQuery { period, as_of },
            group_by,
            group_key: request.group_key.clone(),
            class,
            basis: basis::parse("basis", request.basis)?,
            page_size,
            after: None,
            min_cursor: validate_min_cursor(request.min_cursor)?,
        };
        if !request.page_token.is_empty() {
            question.after = Some(question.read_token(&request.page_token)?);
        }
        Ok(question)
    }

    /// What the page token is bound to: a token answers only its question.
    fn fingerprint(&self) -> u64 {
        let text = format!(
            "{}|{}|{}|{}|{}|{}|{}",
            self.query.period.start,
            self.query.period.end,
            self.query.as_of,
            self.group_by as i32,
            self.group_key,
            self.class as i32,
            self.basis as i32
        );
        // FNV-1a: stable across processes and versions, unlike std's hasher.
        text.bytes().fold(0xcbf2_9ce4_8422_2325, |hash, byte| {
            (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3)
        })
    }

    fn token(&self, last: &GroupTaskRow) -> String {
        let plain = format!(
            "{:016x}.{}.{}",
            self.fingerprint(),
            last.deadline,
            last.task_id
        );
        plain.bytes().map(|byte| format!("{byte:02x}")).collect()
    }

    fn read_token(&self, token: &str) -> Result<After, FieldError> {
        let invalid = || {
            FieldError::new(
                "page_token",
                "not a page token of this question (pass next_page_token back with the same request)",
            )
        };
        let bytes = (0..token.len())
            .step_by(2)
            .map(|i| {
                token
                    .get(i..i + 2)
                    .and_then(|hex| u8::from_str_radix(hex, 16).ok())
            })
            .collect::<Option<Vec<u8>>>()
            .ok_or_else(invalid)?;
        let plain = String::from_utf8(bytes).map_err(|_| invalid())?;
        let mut parts = plain.splitn(3, '.');
        let (Some(fingerprint), Some(deadline), Some(task_id)) =
            (parts.next(), parts.next(), parts.next())
        else {
            return Err(invalid());
        };
        if u64::from_str_radix(fingerprint, 16).ok() != Some(self.fingerprint()) {
            return Err(invalid());
        }
        Ok(After {
            deadline: deadline.parse().map_err(|_| invalid())?,
            task_id: task_id.to_owned(),
        })
    }
}

/// The label of a unit for an answer (the id alone for unknown units).
pub(crate) fn label(catalog: &Catalog, id: &str) -> v1::UnitLabel {
    match catalog.unit(id) {
        Some(unit) => v1::UnitLabel {
            id: id.to_owned(),
            code: unit.code.clone(),
            name_vi: unit.name_vi.clone(),
            name_en: unit.name_en.clone(),
            category: unit.category,
            region_code: unit.region_code.clone(),
        },
        None => v1::UnitLabel {
            id: id.to_owned(),
            ..Default::default()
        },
    }
}

fn labels<'a>(catalog: &Catalog, ids: impl IntoIterator<Item = &'a String>) -> Vec<v1::UnitLabel> {
    let ids: BTreeSet<&String> = ids.into_iter().filter(|id| !id.is_empty()).collect();
    ids.into_iter().map(|id| label(catalog, id)).collect()
}

fn count_of(counts: &crate::counts::StatusCounts, class: StatusClass) -> i64 {
    match class {
        StatusClass::Unspecified => counts.total(),
        StatusClass::CompletedOnTime => counts.completed_on_time,
        StatusClass::CompletedLate => counts.completed_late,
        StatusClass::OpenWithinDeadline => counts.open_within_deadline,
        StatusClass::OpenOverdue => counts.open_overdue,
    }
}

impl<U: UnitSource> Reports<U> {
    /// ListGroupTasks for a caller covering `coverage`.
    pub async fn list_group_tasks(
        &self,
        request: &v1::ListGroupTasksRequest,
        budget: Duration,
        coverage: &Coverage,
    ) -> Result<v1::ListGroupTasksResponse, Error> {
        let question = GroupQuestion::parse(request)?;
        let applied = wait_for_cursor(&self.applied, question.min_cursor, budget).await?;
        // The units with tasks in the cell, from the same counts the
        // breakdown reads: no scan of units that have none.
        let counts = self
            .store
            .status_by_unit(&[question.query])
            .await?
            .pop()
            .unwrap_or_default();
        let held: Vec<String> = counts
            .iter()
            .filter(|(_, counts)| count_of(counts, question.class) > 0)
            .map(|(unit, _)| unit.clone())
            .collect();
        let mut catalog = self
            .units
            .catalog(held.clone())
            .await
            .map_err(Error::Directory)?;
        let restatement = (question.basis == ReportBasis::CurrentStructure)
            .then(|| Restatement::on(question.query.as_of, catalog.lineage()));
        let reported_of = |unit: &str| -> String {
            restatement
                .as_ref()
                .map_or(unit, |restatement| restatement.unit_for(unit))
                .to_owned()
        };
        if held
            .iter()
            .any(|unit| catalog.unit(&reported_of(unit)).is_none())
        {
            // A successor created after the catalog's copy was taken.
            let mut ids = held.clone();
            ids.extend(held.iter().map(|unit| reported_of(unit)));
            catalog = self.units.catalog(ids).await.map_err(Error::Directory)?;
        }
        let units: Vec<String> = held
            .iter()
            .filter(|unit| {
                let reported = reported_of(unit);
                coverage.contains(&reported)
                    && (question.group_by == GroupBy::None
                        || group_key(question.group_by, &reported, &catalog).as_deref()
                            == Some(question.group_key.as_str()))
            })
            .cloned()
            .collect();
        let mut rows = drill::group_tasks(
            self.store.pool(),
            question.query,
            question.class,
            &units,
            question.after.as_ref(),
            question.page_size + 1,
        )
        .await?;
        let next_page_token = if rows.len() > question.page_size {
            rows.truncate(question.page_size);
            rows.last()
                .map(|last| question.token(last))
                .unwrap_or_default()
        } else {
            String::new()
        };
        let tasks: Vec<v1::GroupTask> = rows
            .iter()
            .map(|row| {
                group_task(
                    row,
                    question.query.as_of,
                    reported_of(&row.assignee_unit_id),
                )
            })
            .collect();
        let named = tasks.iter().flat_map(|task| {
            [
                &task.assignee_unit_id,
                &task.assigning_unit_id,
                &task.reported_unit_id,
            ]
        });
        Ok(v1::ListGroupTasksResponse {
            units: labels(&catalog, named),
            tasks,
            next_page_token,
            applied_cursor: applied,
        })
    }

    /// GetTaskTimeline for a caller covering `coverage`: an unknown task and
    /// one outside the caller's units get the same answer.
    pub async fn task_timeline(
        &self,
        request: &v1::GetTaskTimelineRequest,
        budget: Duration,
        coverage: &Coverage,
    ) -> Result<v1::GetTaskTimelineResponse, Error> {
        let task_id = parse_uuid("task_id", &request.task_id)?.to_string();
        let min_cursor = validate_min_cursor(request.min_cursor)?;
        let applied = wait_for_cursor(&self.applied, min_cursor, budget).await?;
        let not_found = || Error::not_found("task_id", format!("no task {task_id}"));
        let head = timeline::task_head(self.store.pool(), &task_id)
            .await?
            .ok_or_else(not_found)?;
        let entries = timeline::entries(self.store.pool(), &task_id).await?;
        let mut ids: Vec<String> = head.holders.clone();
        ids.push(head.assigning_unit_id.clone());
        ids.extend(entries.iter().map(|entry| entry.assignee_unit_id.clone()));
        let catalog = self
            .units
            .catalog(ids.clone())
            .await
            .map_err(Error::Directory)?;
        if !coverage.is_all() {
            // Its holders, or the units they became (a merged office's
            // successor reads the tasks it took over).
            let today = Restatement::on(vietnam_date(Utc::now()), catalog.lineage());
            let covered = head
                .holders
                .iter()
                .any(|unit| coverage.contains(unit) || coverage.contains(today.unit_for(unit)));
            if !covered {
                return Err(not_found());
            }
        }
        let date = |value: i64| date_from_storage(value).map(date_to_proto);
        let time = |us: i64| DateTime::from_timestamp_micros(us).map(timestamp_to_proto);
        let entries = entries
            .into_iter()
            .map(|entry| v1::TimelineEntry {
                cursor: entry.cursor,
                update_id: entry.update_id,
                kind: i32::try_from(entry.kind).unwrap_or_default(),
                effective_time: time(entry.effective_time_us),
                effective_date: date(entry.effective_date),
                record_time: time(entry.record_time_us),
                deadline: entry.deadline.and_then(date),
                note: entry.note,
                assignee_unit_id: entry.assignee_unit_id,
            })
            .collect();
        Ok(v1::GetTaskTimelineResponse {
            units: labels(&catalog, &ids),
            task_id,
            title: head.title,
            assigning_unit_id: head.assigning_unit_id,
            assigned_date: date(head.assigned_date),
            entries,
            applied_cursor: applied,
        })
    }

    /// GetReaderScope: who the caller is and which units it covers.
    pub async fn reader_scope(
        &self,
        principal: &Principal,
    ) -> Result<v1::GetReaderScopeResponse, Error> {
        let coverage = self.coverage(principal).await?;
        let units = match &coverage {
            Coverage::All => Vec::new(),
            Coverage::Units(ids) => {
                let ids: Vec<String> = ids.iter().cloned().collect();
                let catalog = self
                    .units
                    .catalog(ids.clone())
                    .await
                    .map_err(Error::Directory)?;
                labels(&catalog, &ids)
            }
        };
        Ok(v1::GetReaderScopeResponse {
            role: principal.role as i32,
            unit_id: principal.unit_id.clone().unwrap_or_default(),
            nationwide: coverage.is_all(),
            units,
            expire_time: principal.expire_time.map(timestamp_to_proto),
        })
    }
}

fn group_task(row: &GroupTaskRow, as_of: NaiveDate, reported_unit_id: String) -> v1::GroupTask {
    let (class, days_overdue) = drill::classify(row, as_of);
    let date = |value: i64| date_from_storage(value).map(date_to_proto);
    v1::GroupTask {
        task_id: row.task_id.clone(),
        title: row.title.clone(),
        assignee_unit_id: row.assignee_unit_id.clone(),
        assigning_unit_id: row.assigning_unit_id.clone(),
        assigned_date: date(row.assigned_date),
        deadline: date(row.deadline),
        completed_on: row.completed_on.and_then(date),
        status_class: class as i32,
        days_overdue,
        reported_unit_id,
    }
}
