//! One rule for a task's state, over the real services on both back ends:
//! random task histories (notes, deadline changes, completions, reopenings,
//! with effective dates) delivered in random arrival orders with random
//! repeats. Every update is accepted or refused exactly as a model says that
//! folds the accepted changes in effective order; a refusal names the change
//! it conflicts with; `GetTask` and every `StatusBreakdown` figure for
//! several as-of dates equal the model's.

use chrono::{Duration, NaiveDate};
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use tasknet_domain::{
    StatusClass, TimelineState, date_to_proto, timestamp_to_proto, vietnam_start_of_day,
};
use tasknet_proto::tonic::Code;
use tasknet_proto::v1::{self, GroupBy, UnitCategory, update_task_request::Change};

use crate::reports::reference_units;
use crate::support::TestSystem;

fn ymd(m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(2024, m, d).unwrap()
}

/// What a change does, as the model sees it.
#[derive(Debug, Clone, PartialEq)]
enum Kind {
    Note,
    Deadline(NaiveDate),
    Complete,
    Reopen,
}

#[derive(Debug, Clone)]
struct Update {
    id: String,
    day: NaiveDate,
    /// Minutes after 07:00 in Hà Nội: the time of day does not matter.
    minute: i64,
    kind: Kind,
    note: String,
}

impl Update {
    fn request(&self, task_id: &str) -> v1::UpdateTaskRequest {
        let change = match &self.kind {
            Kind::Note => Change::Note(v1::ProgressNote {
                note: self.note.clone(),
            }),
            Kind::Deadline(day) => Change::DeadlineChange(v1::DeadlineChange {
                new_deadline: Some(date_to_proto(*day)),
                reason: self.note.clone(),
            }),
            Kind::Complete => Change::Complete(v1::Completion {
                note: self.note.clone(),
            }),
            Kind::Reopen => Change::Reopen(v1::Reopening {
                reason: self.note.clone(),
            }),
        };
        let time =
            vietnam_start_of_day(self.day) + Duration::hours(7) + Duration::minutes(self.minute);
        v1::UpdateTaskRequest {
            update_id: self.id.clone(),
            task_id: task_id.to_owned(),
            effective_time: Some(timestamp_to_proto(time)),
            expected_version: None,
            change: Some(change),
        }
    }
}

/// A task as the model keeps it: the creation and the accepted updates in
/// arrival order.
struct Model {
    task_id: String,
    create_id: String,
    assigned: NaiveDate,
    deadline: NaiveDate,
    accepted: Vec<Update>,
}

/// The model's state: deadline, completion day, last note.
type State = (NaiveDate, Option<NaiveDate>, String);

impl Model {
    /// The accepted updates plus `extra`, by day, arrival breaking ties.
    fn ordered<'a>(&'a self, extra: Option<&'a Update>) -> Vec<&'a Update> {
        let mut all: Vec<&Update> = self.accepted.iter().chain(extra).collect();
        all.sort_by_key(|u| u.day);
        all
    }

    /// `None` to accept `update`, or the id of the change it conflicts with.
    fn conflict(&self, update: &Update) -> Option<String> {
        let mut completed = false;
        let mut last_status: Option<&str> = None;
        for u in self.ordered(Some(update)) {
            let bad = match u.kind {
                Kind::Complete => completed,
                Kind::Reopen => !completed,
                _ => false,
            };
            if bad {
                let named = if u.id == update.id {
                    last_status.unwrap_or(&self.create_id)
                } else {
                    &u.id
                };
                return Some(named.to_owned());
            }
            match u.kind {
                Kind::Complete => completed = true,
                Kind::Reopen => completed = false,
                _ => {}
            }
            if matches!(u.kind, Kind::Complete | Kind::Reopen) {
                last_status = Some(&u.id);
            }
        }
        None
    }

    fn state_as_of(&self, as_of: NaiveDate) -> State {
        let mut state = (self.deadline, None, String::new());
        for u in self.ordered(None).into_iter().filter(|u| u.day <= as_of) {
            match u.kind {
                Kind::Deadline(day) => state.0 = day,
                Kind::Complete => state.1 = Some(u.day),
                Kind::Reopen => state.1 = None,
                Kind::Note => {}
            }
            if !u.note.is_empty() {
                state.2.clone_from(&u.note);
            }
        }
        state
    }
}

fn random_updates(rng: &mut ChaCha8Rng, n: usize, assigned: NaiveDate) -> Vec<Update> {
    (0..rng.random_range(0..8))
        .map(|i| {
            let day = assigned + Duration::days(rng.random_range(0..20));
            let kind = match rng.random_range(0..8) {
                0 => Kind::Note,
                1 | 2 => Kind::Deadline(assigned + Duration::days(rng.random_range(0..40))),
                3..=5 => Kind::Complete,
                _ => Kind::Reopen,
            };
            let note = match (&kind, rng.random_bool(0.5)) {
                (Kind::Note, _) | (_, true) => format!("ghi chú {n}.{i}"),
                _ => String::new(),
            };
            Update {
                id: uuid::Uuid::now_v7().to_string(),
                day,
                minute: rng.random_range(0..600),
                kind,
                note,
            }
        })
        .collect()
}

async fn create(system: &TestSystem, model: &Model, hq: &str, office: &str) {
    system
        .tasks()
        .create_task(v1::CreateTaskRequest {
            update_id: model.create_id.clone(),
            task_id: model.task_id.clone(),
            effective_time: Some(timestamp_to_proto(
                vietnam_start_of_day(model.assigned) + Duration::hours(8),
            )),
            task: Some(v1::NewTask {
                title: format!("Nhiệm vụ {}", model.task_id),
                assigning_unit_id: hq.to_owned(),
                assignee_unit_id: office.to_owned(),
                assigned_date: Some(date_to_proto(model.assigned)),
                deadline: Some(date_to_proto(model.deadline)),
                plan_ids: vec![],
            }),
        })
        .await
        .unwrap();
}

/// Delivers `update` and checks the answer against the model.
async fn deliver(system: &TestSystem, model: &mut Model, update: &Update) -> i64 {
    let repeat = model.accepted.iter().any(|u| u.id == update.id);
    let expected = if repeat { None } else { model.conflict(update) };
    match system
        .tasks()
        .update_task(update.request(&model.task_id))
        .await
    {
        Ok(response) => {
            let response = response.into_inner();
            assert_eq!(expected, None, "{update:?} was accepted");
            assert_eq!(response.duplicate, repeat, "{update:?}");
            if !repeat {
                model.accepted.push(update.clone());
            }
            response.cursor
        }
        Err(status) => {
            assert_eq!(status.code(), Code::FailedPrecondition, "{status:?}");
            let named = expected.unwrap_or_else(|| panic!("{update:?} refused: {status:?}"));
            assert!(
                status.message().contains(&format!(" {named} effective ")),
                "{update:?}: {} should name {named}",
                status.message()
            );
            0
        }
    }
}

async fn random_histories_fold_in_effective_order_everywhere(system: &TestSystem) {
    let units = reference_units(system).await;
    let hq = units
        .iter()
        .find(|u| u.category() == UnitCategory::Headquarters)
        .unwrap();
    let office = units.iter().find(|u| u.code == "01").unwrap();
    let mut rng = ChaCha8Rng::seed_from_u64(20_240_615);
    let mut models = Vec::new();
    let mut refused = 0;
    let mut cursor = 0;
    for n in 0..40 {
        let assigned = ymd(6, 1) + Duration::days(rng.random_range(0..10));
        let mut model = Model {
            task_id: uuid::Uuid::now_v7().to_string(),
            create_id: uuid::Uuid::now_v7().to_string(),
            assigned,
            deadline: assigned + Duration::days(rng.random_range(0..20)),
            accepted: Vec::new(),
        };
        create(system, &model, &hq.id, &office.id).await;
        let updates = random_updates(&mut rng, n, assigned);
        // Random arrival order, with about a third delivered twice.
        let mut deliveries = updates.clone();
        deliveries.extend(updates.iter().filter(|_| rng.random_bool(0.35)).cloned());
        deliveries.shuffle(&mut rng);
        for update in &deliveries {
            let at = deliver(system, &mut model, update).await;
            refused += usize::from(at == 0);
            cursor = cursor.max(at);
        }
        models.push(model);
    }
    assert!(
        refused > 10,
        "the histories must exercise refusals ({refused})"
    );

    for model in &models {
        let task = system
            .tasks()
            .get_task(v1::GetTaskRequest {
                task_id: model.task_id.clone(),
            })
            .await
            .unwrap()
            .into_inner()
            .task
            .unwrap();
        let (deadline, completed_on, note) = model.state_as_of(ymd(12, 31));
        assert_eq!(task.deadline, Some(date_to_proto(deadline)), "{}", task.id);
        assert_eq!(
            task.completed_on,
            completed_on.map(date_to_proto),
            "{}",
            task.id
        );
        assert_eq!(task.last_note, note, "{}", task.id);
        assert_eq!(task.version, model.accepted.len() as i64 + 1, "{}", task.id);
    }

    for as_of in [ymd(6, 5), ymd(6, 12), ymd(6, 20), ymd(6, 30), ymd(7, 31)] {
        let mut expected = [0_i64; 5];
        for model in models.iter().filter(|m| m.assigned <= as_of) {
            let (deadline, completed_on, _) = model.state_as_of(as_of);
            let class = TimelineState {
                deadline,
                completed_on,
            }
            .classify(as_of);
            expected[0] += 1;
            expected[1 + StatusClass::ALL.iter().position(|c| *c == class).unwrap()] += 1;
        }
        let response = system
            .reporting()
            .status_breakdown(v1::StatusBreakdownRequest {
                basis: v1::ReportBasis::Unspecified as i32,
                period: Some(v1::Period {
                    kind: Some(v1::period::Kind::Label("2024".into())),
                }),
                as_of: Some(date_to_proto(as_of)),
                group_by: GroupBy::None as i32,
                min_cursor: cursor,
            })
            .await
            .unwrap()
            .into_inner();
        let counts = response
            .national
            .and_then(|r| r.current)
            .unwrap_or_default();
        let reported = [
            counts.total,
            counts.completed_on_time,
            counts.completed_late,
            counts.open_within_deadline,
            counts.open_overdue,
        ];
        assert_eq!(reported, expected, "as of {as_of}");
    }
}

crate::system_tests!(random_histories_fold_in_effective_order_everywhere);
