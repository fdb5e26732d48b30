//! The life of one task as dates: when it was assigned, its deadline, and
//! the dated changes that put it in a given status class as of 30 June.
//!
//! Most tasks follow the plain path of their class; small shares take paths
//! that exercise the as-of rules: completions entered after 30 June,
//! deadlines extended before or after it, completions reopened and redone.

use chrono::NaiveDate;
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use tasknet_domain::StatusClass;

use crate::calendar::{Skew, between, pick, plus};

/// A dated change to a task.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    Note,
    Extend(NaiveDate),
    Complete,
    Reopen,
}

/// A task's dates: assigned, initial deadline, and its changes in order
/// (their dates never decrease).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scenario {
    pub assigned: NaiveDate,
    pub deadline: NaiveDate,
    pub steps: Vec<(NaiveDate, Step)>,
}

/// The window the task lives in: assigned from `start`, judged at `as_of`.
#[derive(Debug, Clone, Copy)]
pub struct Window {
    pub start: NaiveDate,
    pub as_of: NaiveDate,
}

impl Window {
    /// `days` after 30 June (before it when negative).
    fn a(self, days: i64) -> NaiveDate {
        plus(self.as_of, days)
    }
}

/// A percent chance.
fn chance(rng: &mut ChaCha8Rng, percent: u32) -> bool {
    rng.random_range(0..100) < percent
}

/// A task that is in `class` as of `window.as_of`.
pub fn scenario(rng: &mut ChaCha8Rng, class: StatusClass, window: Window) -> Scenario {
    let mut scenario = match class {
        StatusClass::CompletedOnTime => on_time(rng, window),
        StatusClass::CompletedLate => late(rng, window),
        StatusClass::OpenWithinDeadline => open_within(rng, window),
        StatusClass::OpenOverdue => overdue(rng, window),
    };
    add_notes(rng, &mut scenario);
    scenario
}

/// Assigned in the window, deadline 5..60 days later, capped at `latest_deadline`.
fn assign(
    rng: &mut ChaCha8Rng,
    window: Window,
    last_assigned: NaiveDate,
    latest_deadline: NaiveDate,
    skew: Skew,
) -> (NaiveDate, NaiveDate) {
    let assigned = pick(rng, window.start, last_assigned, skew);
    let deadline = between(
        rng,
        plus(assigned, 5),
        plus(assigned, 60).min(latest_deadline),
    );
    (assigned, deadline)
}

/// Reopened after 30 June (returned for revision), usually redone later.
fn reopen_after(rng: &mut ChaCha8Rng, window: Window, steps: &mut Vec<(NaiveDate, Step)>) {
    let reopened = between(rng, window.a(1), window.a(60));
    steps.push((reopened, Step::Reopen));
    if chance(rng, 80) {
        steps.push((
            between(rng, plus(reopened, 1), plus(reopened, 30)),
            Step::Complete,
        ));
    }
}

fn on_time(rng: &mut ChaCha8Rng, w: Window) -> Scenario {
    let roll = rng.random_range(0..100);
    if roll < 2 {
        // Completed, sent back, and completed again before 30 June.
        let (assigned, deadline) = assign(rng, w, w.a(-15), w.a(400), Skew::Uniform);
        let last = deadline.min(w.as_of);
        let first = between(rng, plus(assigned, 1), last);
        let reopened = between(rng, first, last);
        let again = between(rng, reopened, last);
        let steps = vec![
            (first, Step::Complete),
            (reopened, Step::Reopen),
            (again, Step::Complete),
        ];
        return Scenario {
            assigned,
            deadline,
            steps,
        };
    }
    if roll < 5 {
        // Extended, then completed after the first deadline but within the new one.
        let (assigned, deadline) = assign(rng, w, w.a(-20), w.a(-2), Skew::Uniform);
        let extended_on = between(rng, plus(assigned, 1), deadline);
        let new_deadline = between(rng, plus(deadline, 7), plus(deadline, 30));
        let done = between(rng, plus(deadline, 1), new_deadline.min(w.as_of));
        let steps = vec![
            (extended_on, Step::Extend(new_deadline)),
            (done, Step::Complete),
        ];
        return Scenario {
            assigned,
            deadline,
            steps,
        };
    }
    let (assigned, deadline) = assign(rng, w, w.a(-1), w.a(400), Skew::Uniform);
    let done = between(rng, plus(assigned, 1), deadline.min(w.as_of));
    let mut steps = vec![(done, Step::Complete)];
    if roll < 6 {
        reopen_after(rng, w, &mut steps);
    }
    Scenario {
        assigned,
        deadline,
        steps,
    }
}

fn late(rng: &mut ChaCha8Rng, w: Window) -> Scenario {
    let roll = rng.random_range(0..100);
    if roll < 4 {
        // Extended once, and late even so.
        let (assigned, deadline) = assign(rng, w, w.a(-25), w.a(-15), Skew::Early);
        let extended_on = between(rng, plus(assigned, 1), deadline);
        let new_deadline = between(rng, plus(deadline, 3), plus(deadline, 20).min(w.a(-2)));
        let done = pick(rng, plus(new_deadline, 1), w.as_of, Skew::Early);
        let steps = vec![
            (extended_on, Step::Extend(new_deadline)),
            (done, Step::Complete),
        ];
        return Scenario {
            assigned,
            deadline,
            steps,
        };
    }
    // Fewer late completions among recently assigned tasks: the draw leans early.
    let (assigned, deadline) = assign(rng, w, w.a(-8), w.a(-1), Skew::Early);
    let done = pick(rng, plus(deadline, 1), w.as_of, Skew::Early);
    let mut steps = vec![(done, Step::Complete)];
    if roll < 6 {
        reopen_after(rng, w, &mut steps);
    }
    Scenario {
        assigned,
        deadline,
        steps,
    }
}

fn open_within(rng: &mut ChaCha8Rng, w: Window) -> Scenario {
    let roll = rng.random_range(0..100);
    let mut scenario = if roll < 25 {
        // The first deadline fell before 30 June; an extension made before
        // then is what keeps the task within its deadline.
        let assigned = between(rng, plus(w.start, 20), w.a(-10));
        let deadline = between(rng, plus(assigned, 5), plus(assigned, 45).min(w.a(-1)));
        let extended_on = between(rng, plus(assigned, 1), plus(deadline, 5).min(w.as_of));
        let new_deadline = between(rng, w.as_of, w.a(60));
        Scenario {
            assigned,
            deadline,
            steps: vec![(extended_on, Step::Extend(new_deadline))],
        }
    } else {
        let assigned = between(rng, w.a(-55).max(w.start), w.as_of);
        let deadline = between(rng, plus(assigned, 5).max(w.as_of), plus(assigned, 60));
        Scenario {
            assigned,
            deadline,
            steps: Vec::new(),
        }
    };
    if chance(rng, 35) {
        // Done after 30 June: open as of 30 June all the same.
        let done = between(rng, w.a(1), w.a(75));
        scenario.steps.push((done, Step::Complete));
    }
    scenario
}

fn overdue(rng: &mut ChaCha8Rng, w: Window) -> Scenario {
    let roll = rng.random_range(0..100);
    let (assigned, deadline, mut steps) = if roll < 10 {
        // Extended only after 30 June, which does not change the 30 June figures.
        let (assigned, deadline) = assign(rng, w, w.a(-6), w.a(-1), Skew::Uniform);
        let extended_on = between(rng, w.a(1), w.a(30));
        let new_deadline = between(rng, plus(extended_on, 10), plus(extended_on, 45));
        let mut steps = vec![(extended_on, Step::Extend(new_deadline))];
        if chance(rng, 60) {
            let done = between(rng, plus(extended_on, 1), plus(new_deadline, 10));
            steps.push((done, Step::Complete));
        }
        return Scenario {
            assigned,
            deadline,
            steps,
        };
    } else if roll < 15 {
        // Completed, then sent back before 30 June and not redone by then.
        let (assigned, deadline) = assign(rng, w, w.a(-10), w.a(-1), Skew::Uniform);
        let done = between(rng, plus(assigned, 1), w.a(-1));
        let reopened = between(rng, done, w.as_of);
        (
            assigned,
            deadline,
            vec![(done, Step::Complete), (reopened, Step::Reopen)],
        )
    } else if roll < 18 {
        // Extended before 30 June, and the new deadline passed too.
        let (assigned, deadline) = assign(rng, w, w.a(-30), w.a(-20), Skew::Uniform);
        let extended_on = between(rng, plus(assigned, 1), deadline);
        let new_deadline = between(rng, plus(deadline, 5), w.a(-1));
        (
            assigned,
            deadline,
            vec![(extended_on, Step::Extend(new_deadline))],
        )
    } else {
        let (assigned, deadline) = assign(rng, w, w.a(-6), w.a(-1), Skew::Uniform);
        (assigned, deadline, Vec::new())
    };
    if chance(rng, 35) {
        steps.push((between(rng, w.a(1), w.a(80)), Step::Complete));
    }
    Scenario {
        assigned,
        deadline,
        steps,
    }
}

/// Progress notes on a tenth of tasks, while they are still open.
fn add_notes(rng: &mut ChaCha8Rng, scenario: &mut Scenario) {
    let count = match rng.random_range(0..100) {
        0..8 => 1,
        8..10 => 2,
        _ => return,
    };
    let first_completion = scenario
        .steps
        .iter()
        .find(|(_, step)| *step == Step::Complete)
        .map(|(date, _)| *date);
    let last = first_completion.unwrap_or(plus(scenario.assigned, 30));
    for _ in 0..count {
        let date = between(rng, scenario.assigned, last);
        // Before the first later-or-same-day step and before any completion,
        // so the steps stay in date order and the note lands while open.
        let at = scenario
            .steps
            .iter()
            .position(|(day, step)| *day >= date || *step == Step::Complete)
            .unwrap_or(scenario.steps.len());
        scenario.steps.insert(at, (date, Step::Note));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use tasknet_domain::{TaskTimeline, TimelineEvent};

    fn timeline(scenario: &Scenario) -> TaskTimeline {
        let mut timeline = TaskTimeline::new(scenario.deadline);
        for (effective, step) in &scenario.steps {
            let effective = *effective;
            match step {
                Step::Note => {}
                Step::Extend(deadline) => timeline.events.push(TimelineEvent::DeadlineChanged {
                    effective,
                    deadline: *deadline,
                }),
                Step::Complete => timeline.events.push(TimelineEvent::Completed { effective }),
                Step::Reopen => timeline.events.push(TimelineEvent::Reopened { effective }),
            }
        }
        timeline
    }

    #[test]
    fn every_scenario_lands_in_its_class() {
        let mut rng = ChaCha8Rng::seed_from_u64(11);
        for year in [2023, 2024] {
            let window = Window {
                start: NaiveDate::from_ymd_opt(year, 1, 1).unwrap(),
                as_of: NaiveDate::from_ymd_opt(year, 6, 30).unwrap(),
            };
            for class in StatusClass::ALL {
                for _ in 0..20_000 {
                    let s = scenario(&mut rng, class, window);
                    assert!(window.start <= s.assigned && s.assigned <= window.as_of);
                    assert!(s.deadline >= plus(s.assigned, 5), "{s:?}");
                    let dates: Vec<_> = s.steps.iter().map(|(d, _)| *d).collect();
                    assert!(dates.windows(2).all(|w| w[0] <= w[1]), "{s:?}");
                    assert!(dates.iter().all(|d| *d >= s.assigned), "{s:?}");
                    assert_eq!(timeline(&s).classify(window.as_of), class, "{s:?}");
                    assert_valid_transitions(&s);
                }
            }
        }
    }

    /// Complete only while open, reopen only while completed, extend only while open.
    fn assert_valid_transitions(s: &Scenario) {
        let mut completed = false;
        for (_, step) in &s.steps {
            match step {
                Step::Complete => assert!(!completed, "{s:?}"),
                Step::Reopen => assert!(completed, "{s:?}"),
                Step::Extend(deadline) => {
                    assert!(!completed, "{s:?}");
                    assert!(*deadline >= s.assigned);
                }
                Step::Note => assert!(!completed, "{s:?}"),
            }
            match step {
                Step::Complete => completed = true,
                Step::Reopen => completed = false,
                _ => {}
            }
        }
    }
}
