//! The fold and its validity check: the issue's examples, then random
//! histories in random arrival orders, with duplicates, against a model
//! written separately and as plainly as possible.

use chrono::{DateTime, NaiveDate, Utc};
use proptest::prelude::*;

use super::*;
use crate::status::StatusClass;

fn d(month: u32, day: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(2024, month, day).unwrap()
}

/// Noon in Hà Nội on that day.
fn noon(day: NaiveDate) -> DateTime<Utc> {
    crate::date::vietnam_start_of_day(day) + chrono::Duration::hours(12)
}

fn history(deadline: NaiveDate) -> TaskHistory {
    TaskHistory::new(TaskOrigin {
        update_id: "create".into(),
        effective_time: noon(d(6, 1)),
        assigned_date: d(6, 1),
        deadline,
        assignee_unit_id: "ha-noi".into(),
    })
}

fn change(id: &str, day: NaiveDate, kind: ChangeKind) -> HistoryChange {
    HistoryChange {
        update_id: id.into(),
        effective_time: noon(day),
        kind,
        note: String::new(),
    }
}

#[test]
fn deadline_changes_arriving_out_of_order_leave_the_one_in_force() {
    // First "effective 25/6, new deadline 20/7", then "effective 10/6, new deadline 28/6".
    let mut task = history(d(6, 15));
    let late = ChangeKind::DeadlineChanged { deadline: d(7, 20) };
    let early = ChangeKind::DeadlineChanged { deadline: d(6, 28) };
    task.accept(change("a", d(6, 25), late)).unwrap();
    task.accept(change("b", d(6, 10), early)).unwrap();
    assert_eq!(task.current().deadline, d(7, 20));
    assert_eq!(task.state_as_of(d(6, 20)).deadline, d(6, 28));
    assert_eq!(task.state_as_of(d(6, 9)).deadline, d(6, 15));
    assert_eq!(task.version(), 3);
}

#[test]
fn a_completion_arriving_after_a_later_reopening_is_refused_by_it() {
    // Completion effective 15/6 arriving after a reopening effective 20/6:
    // the reopening was itself refused (nothing to reopen on 20/6), so the
    // completion is accepted and the task is completed.
    let mut task = history(d(6, 30));
    let refused = task
        .accept(change("reopen", d(6, 20), ChangeKind::Reopened))
        .unwrap_err();
    assert_eq!(refused.update_id, "create");
    assert_eq!(refused.with_kind, "creation");
    task.accept(change("done", d(6, 15), ChangeKind::Completed))
        .unwrap();
    assert_eq!(task.current().completed_on, Some(d(6, 15)));
    // Now the reopening fits: it follows the completion in force.
    task.accept(change("reopen", d(6, 20), ChangeKind::Reopened))
        .unwrap();
    assert_eq!(task.current().completed_on, None);
    assert_eq!(task.state_as_of(d(6, 19)).completed_on, Some(d(6, 15)));
}

#[test]
fn a_reopening_effective_before_the_completion_is_refused_naming_it() {
    let mut task = history(d(6, 30));
    task.accept(change("done", d(6, 20), ChangeKind::Completed))
        .unwrap();
    let conflict = task
        .accept(change("reopen", d(6, 18), ChangeKind::Reopened))
        .unwrap_err();
    assert_eq!(conflict.update_id, "create");
    let conflict = task
        .check(&change("again", d(6, 25), ChangeKind::Completed))
        .unwrap_err();
    assert_eq!(conflict.update_id, "done");
    assert_eq!(conflict.effective_date, d(6, 20));
    assert!(
        conflict.to_string().starts_with(
            "conflicts with the completion done effective 2024-06-20 (2024-06-20 05:00:00 UTC): \
             the task is already completed by then (on 2024-06-20)"
        ),
        "{conflict}"
    );
}

#[test]
fn an_earlier_completion_would_break_the_later_one_and_is_refused_naming_it() {
    let mut task = history(d(6, 30));
    task.accept(change("done", d(6, 20), ChangeKind::Completed))
        .unwrap();
    let conflict = task
        .check(&change("earlier", d(6, 15), ChangeKind::Completed))
        .unwrap_err();
    assert_eq!(conflict.update_id, "done");
    assert_eq!(conflict.with_kind, "completion");
    assert!(conflict.reason.contains("completed already"), "{conflict}");
    // Nothing was written by the refusal.
    assert_eq!(task.version(), 2);
}

#[test]
fn same_day_changes_apply_in_arrival_order() {
    let mut task = history(d(6, 30));
    task.accept(change("done", d(6, 10), ChangeKind::Completed))
        .unwrap();
    task.accept(change("reopen", d(6, 10), ChangeKind::Reopened))
        .unwrap();
    assert_eq!(task.state_as_of(d(6, 10)).completed_on, None);
    let mut note = change("n", d(6, 10), ChangeKind::Note);
    note.note = "last".into();
    task.accept(note).unwrap();
    assert_eq!(task.current().last_note, "last");
    assert_eq!(
        task.state_as_of(d(6, 10))
            .timeline_state()
            .classify(d(6, 10)),
        StatusClass::OpenWithinDeadline
    );
}

#[test]
fn notes_and_reassignments_follow_effective_order_too() {
    let mut task = history(d(6, 30));
    let mut late = change("n2", d(6, 20), ChangeKind::Note);
    late.note = "second".into();
    let mut early = change("n1", d(6, 10), ChangeKind::Note);
    early.note = "first".into();
    task.accept(late).unwrap();
    task.accept(early).unwrap();
    assert_eq!(task.current().last_note, "second");
    assert_eq!(task.state_as_of(d(6, 15)).last_note, "first");
    let moved = ChangeKind::Reassigned {
        assignee_unit_id: "ha-tay".into(),
    };
    task.accept(change("r", d(7, 1), moved)).unwrap();
    assert_eq!(task.state_as_of(d(6, 30)).assignee_unit_id, "ha-noi");
    assert_eq!(task.current().assignee_unit_id, "ha-tay");
}

#[test]
fn histories_accepted_before_the_rule_still_fold_and_are_not_held_against_new_changes() {
    // Two completions with nothing between them (accepted in arrival order
    // under the old rule): the later one is in force.
    let mut task = history(d(6, 30));
    task.changes
        .push(change("a", d(6, 10), ChangeKind::Completed));
    task.changes
        .push(change("b", d(6, 12), ChangeKind::Completed));
    assert_eq!(task.current().completed_on, Some(d(6, 12)));
    task.accept(change("note", d(6, 11), ChangeKind::Note))
        .unwrap();
}

// ---- the model ----

/// A change as the model sees it: an id, a day, what it does.
#[derive(Debug, Clone)]
struct Spec {
    id: String,
    day: NaiveDate,
    kind: ChangeKind,
    note: String,
}

impl Spec {
    fn change(&self) -> HistoryChange {
        HistoryChange {
            update_id: self.id.clone(),
            // Any time of the day: only the Vietnam date counts.
            effective_time: crate::date::vietnam_start_of_day(self.day)
                + chrono::Duration::minutes((self.id.len() * 97 % 1440) as i64),
            kind: self.kind.clone(),
            note: self.note.clone(),
        }
    }
}

/// The specs sorted by day, arrival (their position) breaking ties.
fn model_order(accepted: &[Spec]) -> Vec<Spec> {
    let mut indexed: Vec<(NaiveDate, usize, Spec)> = accepted
        .iter()
        .cloned()
        .enumerate()
        .map(|(i, spec)| (spec.day, i, spec))
        .collect();
    indexed.sort_by_key(|a| (a.0, a.1));
    indexed.into_iter().map(|(_, _, spec)| spec).collect()
}

/// The id the model expects a refusal of `new` to name, or `None` to accept.
fn model_conflict(accepted: &[Spec], new: &Spec) -> Option<String> {
    let mut all = accepted.to_vec();
    all.push(new.clone());
    let mut completed = false;
    let mut last_status: Option<String> = None;
    for spec in model_order(&all) {
        let is_new = spec.id == new.id;
        let bad = match spec.kind {
            ChangeKind::Completed => completed,
            ChangeKind::Reopened => !completed,
            _ => false,
        };
        if bad {
            return Some(if is_new {
                last_status.unwrap_or_else(|| "create".to_owned())
            } else {
                spec.id
            });
        }
        match spec.kind {
            ChangeKind::Completed => completed = true,
            ChangeKind::Reopened => completed = false,
            _ => {}
        }
        if matches!(spec.kind, ChangeKind::Completed | ChangeKind::Reopened) {
            last_status = Some(spec.id.clone());
        }
    }
    None
}

fn model_state(accepted: &[Spec], as_of: NaiveDate, deadline: NaiveDate) -> FoldedTask {
    let mut state = FoldedTask {
        deadline,
        completed_on: None,
        assignee_unit_id: "ha-noi".into(),
        last_note: String::new(),
    };
    for spec in model_order(accepted) {
        if spec.day > as_of {
            continue;
        }
        match &spec.kind {
            ChangeKind::DeadlineChanged { deadline } => state.deadline = *deadline,
            ChangeKind::Completed => state.completed_on = Some(spec.day),
            ChangeKind::Reopened => state.completed_on = None,
            ChangeKind::Reassigned { assignee_unit_id } => {
                state.assignee_unit_id = assignee_unit_id.clone()
            }
            ChangeKind::Note => {}
        }
        if !spec.note.is_empty() {
            state.last_note = spec.note.clone();
        }
    }
    state
}

fn kind() -> impl Strategy<Value = ChangeKind> {
    prop_oneof![
        1 => Just(ChangeKind::Note),
        2 => (0u32..40).prop_map(|n| ChangeKind::DeadlineChanged { deadline: d(6, 1) + chrono::Days::new(n.into()) }),
        3 => Just(ChangeKind::Completed),
        3 => Just(ChangeKind::Reopened),
        1 => prop_oneof![Just("ha-tay"), Just("ha-nam")].prop_map(|u| ChangeKind::Reassigned { assignee_unit_id: u.into() }),
    ]
}

/// Up to 10 changes over 12 days (many on the same day), delivered in a
/// random order with random repeats.
fn deliveries() -> impl Strategy<Value = Vec<Spec>> {
    prop::collection::vec((kind(), 0u64..12, prop::bool::ANY), 0..10)
        .prop_map(|specs| {
            specs
                .into_iter()
                .enumerate()
                .map(|(i, (kind, day, noted))| Spec {
                    id: format!("u{i}"),
                    day: d(6, 1) + chrono::Days::new(day),
                    kind,
                    note: if noted {
                        format!("note {i}")
                    } else {
                        String::new()
                    },
                })
                .collect::<Vec<_>>()
        })
        .prop_flat_map(|specs| {
            let n = specs.len();
            let repeats = prop::collection::vec(0..n.max(1), 0..=n);
            (Just(specs), repeats)
        })
        .prop_flat_map(|(specs, repeats)| {
            let mut sequence = specs.clone();
            if !specs.is_empty() {
                sequence.extend(repeats.iter().map(|&i| specs[i].clone()));
            }
            Just(sequence).prop_shuffle()
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn the_fold_and_the_check_agree_with_the_model(sequence in deliveries()) {
        let deadline = d(6, 20);
        let mut task = history(deadline);
        let mut accepted: Vec<Spec> = Vec::new();
        for spec in sequence {
            // A repeat of an accepted update is a duplicate, as the service treats it.
            if accepted.iter().any(|a| a.id == spec.id) {
                continue;
            }
            let expected = model_conflict(&accepted, &spec);
            match task.accept(spec.change()) {
                Ok(()) => {
                    prop_assert_eq!(expected, None, "accepted {:?}", spec);
                    accepted.push(spec);
                }
                Err(conflict) => {
                    prop_assert_eq!(Some(conflict.update_id.clone()), expected, "{}", conflict);
                    let named = accepted.iter().find(|a| a.id == conflict.update_id);
                    let day = named.map_or(d(6, 1), |a| a.day);
                    prop_assert_eq!(conflict.effective_date, day);
                }
            }
            prop_assert_eq!(task.version(), accepted.len() as i64 + 1);
            for as_of in [d(5, 31), d(6, 1), d(6, 5), d(6, 8), d(6, 12), d(6, 30)] {
                let state = task.state_as_of(as_of);
                prop_assert_eq!(&state, &model_state(&accepted, as_of, deadline), "as of {}", as_of);
                // The segments say the same on every day.
                let holding: Vec<_> = task
                    .segments()
                    .into_iter()
                    .filter(|s| s.from.is_none_or(|f| f <= as_of) && s.until.is_none_or(|u| as_of < u))
                    .collect();
                prop_assert_eq!(holding.len(), 1);
                prop_assert_eq!(holding[0].state, state.timeline_state());
            }
            prop_assert_eq!(task.current(), model_state(&accepted, d(12, 31), deadline));
        }
    }
}
