//! The four-way status of a task as of a date, built from the effective dates
//! of its updates, not from the order or time the centre received them.
//!
//! "As of D" is the state in force at the end of day D in Vietnam: every
//! update that took effect on or before D applies, in effective order; later
//! ones do not. A task completed on 20/6 and reopened on 10/7 was completed as
//! of 30/6; a deadline extended on 1/7 does not change the figures as of 30/6.

use chrono::NaiveDate;

use crate::date::vietnam_start_of_day;
use crate::history::{ChangeKind, HistoryChange, TaskHistory, TaskOrigin};

/// The four disjoint classes the review report splits tasks into.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum StatusClass {
    /// Completed on or before the deadline (hoàn thành).
    CompletedOnTime,
    /// Completed after the deadline (hoàn thành trễ hạn).
    CompletedLate,
    /// Not completed, deadline not yet passed (chưa hoàn thành nhưng còn thời hạn).
    OpenWithinDeadline,
    /// Not completed, deadline passed (chưa hoàn thành và quá thời hạn).
    OpenOverdue,
}

impl StatusClass {
    pub const ALL: [StatusClass; 4] = [
        StatusClass::CompletedOnTime,
        StatusClass::CompletedLate,
        StatusClass::OpenWithinDeadline,
        StatusClass::OpenOverdue,
    ];
}

/// A task's state at some moment: the deadline in force and, if completed, the day.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimelineState {
    pub deadline: NaiveDate,
    pub completed_on: Option<NaiveDate>,
}

impl TimelineState {
    /// Classifies the state at the end of `as_of`. A deadline equal to `as_of`
    /// is still within deadline; a completion on the deadline day is on time.
    pub fn classify(self, as_of: NaiveDate) -> StatusClass {
        match self.completed_on {
            Some(done) if done <= self.deadline => StatusClass::CompletedOnTime,
            Some(_) => StatusClass::CompletedLate,
            None if self.deadline >= as_of => StatusClass::OpenWithinDeadline,
            None => StatusClass::OpenOverdue,
        }
    }
}

/// An update as it affects the status, with the Vietnam civil date it took effect.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimelineEvent {
    DeadlineChanged {
        effective: NaiveDate,
        deadline: NaiveDate,
    },
    Completed {
        effective: NaiveDate,
    },
    Reopened {
        effective: NaiveDate,
    },
}

impl TimelineEvent {
    pub fn effective(self) -> NaiveDate {
        match self {
            Self::DeadlineChanged { effective, .. }
            | Self::Completed { effective }
            | Self::Reopened { effective } => effective,
        }
    }
}

/// A span of days over which a task's state is constant: it holds for every
/// as-of date `d` with `from <= d` (or no lower bound) and `d < until` (or no
/// upper bound). A read model can store these and answer any as-of query with
/// one range predicate per task.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimelineSegment {
    pub from: Option<NaiveDate>,
    pub until: Option<NaiveDate>,
    pub state: TimelineState,
}

/// Everything that decides a task's status over time: its initial deadline
/// and its status-relevant updates in the order the centre accepted them.
/// A status-only view of [`TaskHistory`](crate::history::TaskHistory): its
/// answers come from the same fold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskTimeline {
    pub initial_deadline: NaiveDate,
    /// In acceptance order; ties on effective date keep this order.
    pub events: Vec<TimelineEvent>,
}

impl TaskTimeline {
    pub fn new(initial_deadline: NaiveDate) -> Self {
        Self {
            initial_deadline,
            events: Vec::new(),
        }
    }

    /// The history these events are a view of (ids and notes left empty:
    /// the status does not read them).
    pub fn history(&self) -> TaskHistory {
        let origin = TaskOrigin {
            update_id: String::new(),
            effective_time: vietnam_start_of_day(self.initial_deadline),
            assigned_date: self.initial_deadline,
            deadline: self.initial_deadline,
            assignee_unit_id: String::new(),
        };
        let changes = self
            .events
            .iter()
            .map(|event| {
                let kind = match *event {
                    TimelineEvent::DeadlineChanged { deadline, .. } => {
                        ChangeKind::DeadlineChanged { deadline }
                    }
                    TimelineEvent::Completed { .. } => ChangeKind::Completed,
                    TimelineEvent::Reopened { .. } => ChangeKind::Reopened,
                };
                HistoryChange {
                    update_id: String::new(),
                    effective_time: vietnam_start_of_day(event.effective()),
                    kind,
                    note: String::new(),
                }
            })
            .collect();
        TaskHistory::with_changes(origin, changes)
    }

    /// The state in force at the end of `as_of`.
    pub fn state_as_of(&self, as_of: NaiveDate) -> TimelineState {
        self.history().state_as_of(as_of).timeline_state()
    }

    pub fn classify(&self, as_of: NaiveDate) -> StatusClass {
        self.state_as_of(as_of).classify(as_of)
    }

    /// The state over all time as contiguous segments, one per distinct
    /// effective date (same-day updates collapse into the end-of-day state).
    pub fn segments(&self) -> Vec<TimelineSegment> {
        self.history().segments()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use StatusClass::*;

    fn d(m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(2024, m, day).unwrap()
    }

    fn timeline(deadline: NaiveDate, events: &[TimelineEvent]) -> TaskTimeline {
        TaskTimeline {
            initial_deadline: deadline,
            events: events.to_vec(),
        }
    }

    /// Cross-checks the segment form against the direct computation on every day.
    fn assert_segments_agree(timeline: &TaskTimeline) {
        let segments = timeline.segments();
        let mut day = d(1, 1);
        while day <= d(12, 31) {
            let holding: Vec<_> = segments
                .iter()
                .filter(|s| s.from.is_none_or(|f| f <= day) && s.until.is_none_or(|u| day < u))
                .collect();
            assert_eq!(holding.len(), 1, "exactly one segment holds on {day}");
            assert_eq!(holding[0].state, timeline.state_as_of(day), "on {day}");
            day = day.succ_opt().unwrap();
        }
    }

    #[test]
    fn completed_on_the_deadline_day_is_on_time() {
        let t = timeline(
            d(6, 20),
            &[TimelineEvent::Completed {
                effective: d(6, 20),
            }],
        );
        assert_eq!(t.classify(d(6, 30)), CompletedOnTime);
    }

    #[test]
    fn completed_the_day_after_the_deadline_is_late() {
        let t = timeline(
            d(6, 20),
            &[TimelineEvent::Completed {
                effective: d(6, 21),
            }],
        );
        assert_eq!(t.classify(d(6, 30)), CompletedLate);
    }

    #[test]
    fn deadline_on_the_as_of_day_is_within_deadline() {
        let t = timeline(d(6, 30), &[]);
        assert_eq!(t.classify(d(6, 30)), OpenWithinDeadline);
        assert_eq!(t.classify(d(7, 1)), OpenOverdue);
    }

    #[test]
    fn completed_after_as_of_is_open_at_as_of() {
        let t = timeline(d(6, 20), &[TimelineEvent::Completed { effective: d(7, 2) }]);
        assert_eq!(t.classify(d(6, 30)), OpenOverdue);
        assert_eq!(t.classify(d(7, 2)), CompletedLate);
        let t = timeline(d(7, 20), &[TimelineEvent::Completed { effective: d(7, 2) }]);
        assert_eq!(t.classify(d(6, 30)), OpenWithinDeadline);
    }

    #[test]
    fn reopened_task_counts_as_completed_before_the_reopening() {
        let t = timeline(
            d(6, 25),
            &[
                TimelineEvent::Completed {
                    effective: d(6, 20),
                },
                TimelineEvent::Reopened {
                    effective: d(7, 10),
                },
            ],
        );
        assert_eq!(t.classify(d(6, 30)), CompletedOnTime);
        assert_eq!(t.classify(d(7, 10)), OpenOverdue);
        assert_segments_agree(&t);
    }

    #[test]
    fn later_deadline_extension_does_not_change_earlier_figures() {
        let t = timeline(
            d(6, 15),
            &[TimelineEvent::DeadlineChanged {
                effective: d(7, 1),
                deadline: d(8, 1),
            }],
        );
        assert_eq!(t.classify(d(6, 30)), OpenOverdue);
        assert_eq!(t.classify(d(7, 1)), OpenWithinDeadline);
        assert_segments_agree(&t);
    }

    #[test]
    fn completion_entered_late_counts_from_its_effective_date() {
        // Entered on 2/7 after a reopening that took effect earlier: effective
        // order, not arrival order, decides.
        let t = timeline(
            d(6, 30),
            &[
                TimelineEvent::Reopened { effective: d(7, 5) },
                TimelineEvent::Completed {
                    effective: d(6, 28),
                },
            ],
        );
        assert_eq!(t.classify(d(6, 30)), CompletedOnTime);
        assert_eq!(t.classify(d(7, 5)), OpenOverdue);
        assert_segments_agree(&t);
    }

    #[test]
    fn same_day_updates_keep_acceptance_order() {
        let t = timeline(
            d(6, 30),
            &[
                TimelineEvent::Completed {
                    effective: d(6, 10),
                },
                TimelineEvent::Reopened {
                    effective: d(6, 10),
                },
                TimelineEvent::Completed {
                    effective: d(6, 12),
                },
            ],
        );
        assert_eq!(t.classify(d(6, 10)), OpenWithinDeadline);
        assert_eq!(t.state_as_of(d(6, 12)).completed_on, Some(d(6, 12)));
        assert_eq!(t.segments().len(), 3);
        assert_segments_agree(&t);
    }

    #[test]
    fn time_zone_edge_moves_a_completion_to_the_next_day() {
        // 23:30 UTC on the deadline day is already the next day in Hà Nội.
        let instant = "2024-06-20T23:30:00Z".parse().unwrap();
        let effective = crate::vietnam_date(instant);
        let t = timeline(d(6, 20), &[TimelineEvent::Completed { effective }]);
        assert_eq!(t.classify(d(6, 30)), CompletedLate);
        let instant = "2024-06-20T16:30:00Z".parse().unwrap();
        let effective = crate::vietnam_date(instant);
        let t = timeline(d(6, 20), &[TimelineEvent::Completed { effective }]);
        assert_eq!(t.classify(d(6, 30)), CompletedOnTime);
    }
}
