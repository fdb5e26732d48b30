//! What the offices enter in the fault tests: per office, tasks of its own,
//! each created and then updated through a fixed cycle (notes, deadline
//! changes, completion and reopening) that is valid in order and only in
//! order, with the final state each task must end in.

use chrono::{Duration, NaiveDate};
use tasknet_agent::{NewTask, Update};
use uuid::Uuid;

/// The state a task must end in at the centre.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expected {
    pub completed_on: Option<NaiveDate>,
    pub deadline: NaiveDate,
    pub last_note: String,
    /// One per update, creation included.
    pub version: i64,
}

pub struct TaskWork {
    pub task_id: Uuid,
    pub updates: Vec<Update>,
    pub expected: Expected,
}

pub struct OfficeWork {
    pub office: String,
    pub tasks: Vec<TaskWork>,
}

#[derive(Clone, Copy)]
enum Step {
    Note,
    Deadline,
    Complete,
    Reopen,
}

/// Starts and ends open, so it can repeat; completing or reopening out of
/// order would be refused by the centre, and a note's text names it.
const CYCLE: [Step; 8] = [
    Step::Note,
    Step::Deadline,
    Step::Complete,
    Step::Note,
    Step::Reopen,
    Step::Note,
    Step::Deadline,
    Step::Note,
];

fn day(base: NaiveDate, days: usize) -> NaiveDate {
    base + Duration::days(days as i64)
}

/// `tasks` tasks of `updates` updates each (creation included) for one office.
pub fn office_work(office: &str, office_index: usize, tasks: usize, updates: usize) -> OfficeWork {
    let start = NaiveDate::from_ymd_opt(2024, 1, 2).unwrap();
    let tasks = (0..tasks)
        .map(|index| task_work(office_index, index, day(start, index % 200), updates.max(1)))
        .collect();
    OfficeWork {
        office: office.to_owned(),
        tasks,
    }
}

fn task_work(office_index: usize, index: usize, assigned: NaiveDate, updates: usize) -> TaskWork {
    let mut task = NewTask::new(
        format!("Nhiệm vụ {office_index}-{index}"),
        day(assigned, 30),
    );
    task.assigned_date = Some(assigned);
    let create = Update::create(task).effective_on(assigned);
    let task_id = create.task_id;
    let mut expected = Expected {
        completed_on: None,
        deadline: day(assigned, 30),
        last_note: String::new(),
        version: 1,
    };
    let mut list = vec![create];
    for k in 1..updates {
        let text = format!("{office_index}/{index}/{k}");
        let on = day(assigned, k);
        let update = match CYCLE[(k - 1) % CYCLE.len()] {
            Step::Note => Update::note(task_id, &text),
            Step::Deadline => {
                expected.deadline = day(assigned, 60 + k);
                Update::deadline(task_id, expected.deadline, &text)
            }
            Step::Complete => {
                expected.completed_on = Some(on);
                Update::complete(task_id, &text)
            }
            Step::Reopen => {
                expected.completed_on = None;
                Update::reopen(task_id, &text)
            }
        };
        expected.last_note = text;
        expected.version += 1;
        list.push(update.effective_on(on));
    }
    TaskWork {
        task_id,
        updates: list,
        expected,
    }
}

impl OfficeWork {
    /// The office's updates in the order it enters them: round by round
    /// across its tasks, so many tasks have updates waiting at once.
    pub fn in_entry_order(&self) -> Vec<Update> {
        let rounds = self
            .tasks
            .iter()
            .map(|t| t.updates.len())
            .max()
            .unwrap_or(0);
        (0..rounds)
            .flat_map(|round| {
                self.tasks
                    .iter()
                    .filter_map(move |t| t.updates.get(round).cloned())
            })
            .collect()
    }

    pub fn update_count(&self) -> usize {
        self.tasks.iter().map(|t| t.updates.len()).sum()
    }

    /// The same updates as an import file (docs/agent.md), tasks named by id.
    pub fn to_csv(&self) -> String {
        use tasknet_agent::Change;
        let mut csv = String::from("action,task,effective,title,assigned_date,deadline,text\n");
        for update in self.in_entry_order() {
            let effective = update.effective_time.unwrap().to_rfc3339();
            let (action, title, assigned, deadline, text) = match &update.change {
                Change::Create(task) => (
                    "create",
                    task.title.clone(),
                    task.assigned_date
                        .map(|d| d.to_string())
                        .unwrap_or_default(),
                    task.deadline.to_string(),
                    String::new(),
                ),
                Change::Note { note } => (
                    "note",
                    String::new(),
                    String::new(),
                    String::new(),
                    note.clone(),
                ),
                Change::Deadline {
                    new_deadline,
                    reason,
                } => (
                    "deadline",
                    String::new(),
                    String::new(),
                    new_deadline.to_string(),
                    reason.clone(),
                ),
                Change::Complete { note } => (
                    "complete",
                    String::new(),
                    String::new(),
                    String::new(),
                    note.clone(),
                ),
                Change::Reopen { reason } => (
                    "reopen",
                    String::new(),
                    String::new(),
                    String::new(),
                    reason.clone(),
                ),
            };
            csv.push_str(&format!(
                "{action},{},{effective},{title},{assigned},{deadline},{text}\n",
                update.task_id
            ));
        }
        csv
    }
}
