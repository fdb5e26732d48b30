//! Which tasks a reorganisation passes on, to whom and from which day, and
//! the tally a transfer answers with. Pure: the caller reads the
//! reorganisation, the tasks and their change log, and submits the result.

use std::collections::{BTreeMap, HashMap};

use chrono::{NaiveDate, TimeDelta};
use tasknet_domain::{
    TaskTimeline, TimelineEvent, date_from_proto, date_to_proto, optional_date_from_proto,
};
use tasknet_proto::v1;

use super::command::Reassign;
use crate::error::{Error, Result};

/// A reorganisation as a transfer sees it: its effective date and each
/// ended unit's primary successor (dissolved units have none: their tasks
/// stay).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Succession {
    pub reorganisation_id: String,
    pub effective: NaiveDate,
    /// Predecessor unit id → successor unit id.
    pub successors: BTreeMap<String, String>,
}

impl Succession {
    /// From the organisation service's answer about `reorganisation_id`.
    pub fn from_proto(
        reorganisation_id: &str,
        found: &v1::GetReorganisationResponse,
    ) -> Result<Self> {
        let reorganisation = found.reorganisation.clone().unwrap_or_default();
        let effective =
            date_from_proto("effective_date", reorganisation.effective_date.as_ref())
                .map_err(|e| Error::Internal(format!("reorganisation {reorganisation_id}: {e}")))?;
        let successors = found
            .links
            .iter()
            .filter(|link| link.primary && !link.successor_unit_id.is_empty())
            .map(|link| {
                (
                    link.predecessor_unit_id.clone(),
                    link.successor_unit_id.clone(),
                )
            })
            .collect();
        Ok(Self {
            reorganisation_id: reorganisation_id.to_owned(),
            effective,
            successors,
        })
    }

    /// Refused before the effective date: tasks pass on that day or later.
    pub fn check_in_force(&self, today: NaiveDate) -> Result<()> {
        if self.effective > today {
            return Err(Error::failed_precondition(
                "reorganisation_id",
                format!(
                    "the reorganisation takes effect on {}; its open tasks pass on that day or later",
                    self.effective
                ),
            ));
        }
        Ok(())
    }

    /// The units whose tasks may pass on.
    pub fn ended_units(&self) -> Vec<String> {
        self.successors.keys().cloned().collect()
    }

    /// The reassignment of each task (id, current assignee) that passes on,
    /// with the unit it passes from; `dates` from [`transfer_dates`].
    pub fn reassignments(
        &self,
        tasks: &[(String, String)],
        dates: &HashMap<String, NaiveDate>,
    ) -> Vec<Reassign> {
        tasks
            .iter()
            .filter_map(|(task_id, from)| {
                let to = self.successors.get(from)?;
                let date = dates.get(task_id)?;
                Some(Reassign::new(
                    task_id,
                    from,
                    to,
                    *date,
                    &self.reorganisation_id,
                ))
            })
            .collect()
    }
}

/// The day each task passes on: the effective date if it was open the day
/// before; else (completed then, open or completed again since) the day it
/// was first reopened on or after it. Read from the change log's effective
/// dates (`changes`: each task's changes in log order), so late entries
/// count as of the day they took effect.
pub fn transfer_dates(
    changes: impl IntoIterator<Item = (String, v1::Change)>,
    effective: NaiveDate,
) -> HashMap<String, NaiveDate> {
    let mut timelines: HashMap<String, (TaskTimeline, Vec<NaiveDate>)> = HashMap::new();
    for (task_id, change) in changes {
        let Some(v1::change::Event::TaskEvent(event)) = change.event else {
            continue;
        };
        let (timeline, reopenings) = timelines
            .entry(task_id)
            .or_insert_with(|| (TaskTimeline::new(effective), Vec::new()));
        let Ok(Some(day)) = optional_date_from_proto("", event.effective_date.as_ref()) else {
            continue;
        };
        match v1::TaskEventKind::try_from(event.kind) {
            Ok(v1::TaskEventKind::Completed) => {
                timeline
                    .events
                    .push(TimelineEvent::Completed { effective: day });
            }
            Ok(v1::TaskEventKind::Reopened) => {
                timeline
                    .events
                    .push(TimelineEvent::Reopened { effective: day });
                reopenings.push(day);
            }
            _ => {}
        }
    }
    let day_before = effective - TimeDelta::days(1);
    timelines
        .into_iter()
        .filter_map(|(task_id, (timeline, reopenings))| {
            let date = if timeline.state_as_of(day_before).completed_on.is_none() {
                Some(effective)
            } else {
                reopenings.into_iter().filter(|day| *day >= effective).min()
            };
            date.map(|date| (task_id, date))
        })
        .collect()
}

/// What a transfer did, per ended unit.
#[derive(Debug)]
pub struct Tally {
    effective: NaiveDate,
    /// Predecessor → (successor, transferred now, found already transferred).
    units: BTreeMap<String, (String, i64, i64)>,
    last_cursor: i64,
}

impl Tally {
    /// Every ended unit with a successor, at zero.
    pub fn new(succession: &Succession) -> Self {
        Self {
            effective: succession.effective,
            units: succession
                .successors
                .iter()
                .map(|(from, to)| (from.clone(), (to.clone(), 0, 0)))
                .collect(),
            last_cursor: 0,
        }
    }

    /// A task of `from` passed on (or, for a repeat, had passed already).
    pub fn passed(&mut self, from: &str, duplicate: bool, cursor: i64) {
        if let Some((_, transferred, already)) = self.units.get_mut(from) {
            if duplicate {
                *already += 1;
            } else {
                *transferred += 1;
            }
        }
        self.last_cursor = self.last_cursor.max(cursor);
    }

    pub fn into_response(self) -> v1::TransferOpenTasksResponse {
        let units: Vec<v1::UnitTransfer> = self
            .units
            .into_iter()
            .map(|(from, (to, transferred, already))| v1::UnitTransfer {
                predecessor_unit_id: from,
                successor_unit_id: to,
                transferred,
                already_transferred: already,
            })
            .collect();
        v1::TransferOpenTasksResponse {
            effective_date: Some(date_to_proto(self.effective)),
            transferred: units.iter().map(|u| u.transferred).sum(),
            already_transferred: units.iter().map(|u| u.already_transferred).sum(),
            units,
            last_cursor: self.last_cursor,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(month: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(2025, month, day).unwrap()
    }

    fn event(task_id: &str, kind: v1::TaskEventKind, on: NaiveDate) -> (String, v1::Change) {
        let event = v1::TaskEvent {
            kind: kind as i32,
            effective_date: Some(date_to_proto(on)),
            ..v1::TaskEvent::default()
        };
        let change = v1::Change {
            event: Some(v1::change::Event::TaskEvent(event)),
            ..v1::Change::default()
        };
        (task_id.to_owned(), change)
    }

    #[test]
    fn open_tasks_pass_on_the_date_and_completed_ones_from_their_reopening() {
        use v1::TaskEventKind::{Completed, Created, Reopened};
        let effective = day(7, 1);
        let changes = vec![
            event("open", Created, day(6, 1)),
            event("done-after", Created, day(6, 1)),
            event("done-after", Completed, day(7, 3)),
            event("done-before", Created, day(6, 1)),
            event("done-before", Completed, day(6, 20)),
            event("reopened", Created, day(6, 1)),
            event("reopened", Completed, day(6, 20)),
            event("reopened", Reopened, day(7, 10)),
        ];
        let dates = transfer_dates(changes, effective);
        assert_eq!(dates.get("open"), Some(&effective));
        assert_eq!(dates.get("done-after"), Some(&effective));
        assert_eq!(dates.get("done-before"), None);
        assert_eq!(dates.get("reopened"), Some(&day(7, 10)));
    }

    #[test]
    fn only_ended_units_with_a_successor_pass_tasks_on() {
        let succession = Succession {
            reorganisation_id: "r".into(),
            effective: day(7, 1),
            successors: BTreeMap::from([("binh-dinh".into(), "gia-lai".into())]),
        };
        let tasks = [
            ("t1".to_owned(), "binh-dinh".to_owned()),
            ("t2".to_owned(), "dissolved".to_owned()),
            ("t3".to_owned(), "binh-dinh".to_owned()),
        ];
        let dates = HashMap::from([("t1".to_owned(), day(7, 1)), ("t2".to_owned(), day(7, 1))]);
        let passing = succession.reassignments(&tasks, &dates);
        assert_eq!(passing.len(), 1);
        assert_eq!(passing[0].task_id, "t1");
        assert_eq!(passing[0].to_unit_id, "gia-lai");
        let mut tally = Tally::new(&succession);
        tally.passed("binh-dinh", false, 7);
        tally.passed("binh-dinh", true, 3);
        let response = tally.into_response();
        assert_eq!((response.transferred, response.already_transferred), (1, 1));
        assert_eq!(response.last_cursor, 7);
        assert!(
            succession.check_in_force(day(6, 30)).is_err(),
            "not before the effective date"
        );
        assert!(succession.check_in_force(day(7, 1)).is_ok());
    }
}
