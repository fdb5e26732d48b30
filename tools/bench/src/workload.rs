//! What an office pushes: a deterministic stream of task creations, progress
//! notes and completions for the office's own tasks, as an office agent sends
//! them through `Ingest`. Each office's stream comes from its own seed, so
//! the raw baseline can replay the same sequence of rows the clients pushed.

use chrono::{DateTime, Duration as Days, NaiveDate, Utc};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use tasknet_domain::{date_to_proto, timestamp_to_proto, vietnam_date};
use tasknet_proto::v1;
use tasknet_proto::v1::ingest_request::Mutation;

/// What kind of change an item is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    Create,
    Note,
    Complete,
}

/// Which changes a workload makes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mix {
    /// Creations, progress notes and completions, about 40 / 36 / 24 %.
    Realistic,
    /// Creations only (bulk-loading a large data set).
    CreatesOnly,
}

/// The days the benchmark's tasks are dated: assigned a week before the
/// run, due a month after, so every completion is on time and the expected
/// figures are simple.
#[derive(Debug, Clone, Copy)]
pub struct Calendar {
    pub assigned: NaiveDate,
    pub deadline: NaiveDate,
    pub today: NaiveDate,
}

impl Calendar {
    pub fn around(now: DateTime<Utc>) -> Self {
        let today = vietnam_date(now);
        Self {
            assigned: today - Days::days(7),
            deadline: today + Days::days(30),
            today,
        }
    }
}

/// Fewer open tasks than this and the next item is always a creation, so an
/// office has tasks to report on.
const MIN_OPEN: usize = 8;

/// One office's generator; an endless iterator of (kind, request).
pub struct Workload {
    rng: ChaCha8Rng,
    office_unit_id: String,
    assigning_unit_id: String,
    calendar: Calendar,
    mix: Mix,
    open: Vec<String>,
    created: u64,
}

impl Workload {
    pub fn new(
        seed: u64,
        office_unit_id: &str,
        assigning_unit_id: &str,
        calendar: Calendar,
        mix: Mix,
    ) -> Self {
        Self {
            rng: ChaCha8Rng::seed_from_u64(seed),
            office_unit_id: office_unit_id.to_owned(),
            assigning_unit_id: assigning_unit_id.to_owned(),
            calendar,
            mix,
            open: Vec::new(),
            created: 0,
        }
    }

    fn next_kind(&mut self) -> Kind {
        if self.mix == Mix::CreatesOnly || self.open.len() < MIN_OPEN {
            return Kind::Create;
        }
        let roll: f64 = self.rng.random();
        if roll < 0.4 {
            Kind::Create
        } else if roll < 0.76 {
            Kind::Note
        } else {
            Kind::Complete
        }
    }

    /// A UUIDv7 as an office agent makes them: the clock's milliseconds
    /// (so ids arrive in index order, as real ones do) and random bits from
    /// the seeded generator.
    fn uuid(&mut self) -> String {
        let bytes: [u8; 10] = self.rng.random();
        uuid::Builder::from_unix_timestamp_millis(Utc::now().timestamp_millis() as u64, &bytes)
            .into_uuid()
            .to_string()
    }

    fn create(&mut self) -> Mutation {
        let task_id = self.uuid();
        self.created += 1;
        self.open.push(task_id.clone());
        Mutation::Create(v1::CreateTaskRequest {
            update_id: self.uuid(),
            task_id,
            effective_time: Some(timestamp_to_proto(Utc::now())),
            task: Some(v1::NewTask {
                title: format!("Báo cáo tiến độ điều tra số {} của đơn vị", self.created),
                assigning_unit_id: self.assigning_unit_id.clone(),
                assignee_unit_id: self.office_unit_id.clone(),
                assigned_date: Some(date_to_proto(self.calendar.assigned)),
                deadline: Some(date_to_proto(self.calendar.deadline)),
                plan_ids: Vec::new(),
            }),
        })
    }

    fn update(&mut self, kind: Kind) -> Mutation {
        let index = self.rng.random_range(0..self.open.len());
        let task_id = if kind == Kind::Complete {
            self.open.swap_remove(index)
        } else {
            self.open[index].clone()
        };
        let change = if kind == Kind::Complete {
            v1::update_task_request::Change::Complete(v1::Completion {
                note: "Đã hoàn thành, gửi báo cáo".to_owned(),
            })
        } else {
            v1::update_task_request::Change::Note(v1::ProgressNote {
                note: format!("Đã thu thập {} phiếu", self.rng.random_range(10..5000_u32)),
            })
        };
        Mutation::Update(v1::UpdateTaskRequest {
            update_id: self.uuid(),
            task_id,
            effective_time: Some(timestamp_to_proto(Utc::now())),
            expected_version: None,
            change: Some(change),
        })
    }
}

impl Iterator for Workload {
    type Item = (Kind, v1::IngestRequest);

    fn next(&mut self) -> Option<Self::Item> {
        let kind = self.next_kind();
        let mutation = match kind {
            Kind::Create => self.create(),
            Kind::Note | Kind::Complete => self.update(kind),
        };
        Some((
            kind,
            v1::IngestRequest {
                mutation: Some(mutation),
            },
        ))
    }
}

/// The client-generated id of a request.
pub fn update_id(request: &v1::IngestRequest) -> &str {
    match &request.mutation {
        Some(Mutation::Create(create)) => &create.update_id,
        Some(Mutation::Update(update)) => &update.update_id,
        None => "",
    }
}

/// Counts of each kind.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Counts {
    pub creates: u64,
    pub notes: u64,
    pub completions: u64,
}

impl Counts {
    pub fn add(&mut self, kind: Kind) {
        match kind {
            Kind::Create => self.creates += 1,
            Kind::Note => self.notes += 1,
            Kind::Complete => self.completions += 1,
        }
    }

    pub fn plus(self, other: Counts) -> Counts {
        Counts {
            creates: self.creates + other.creates,
            notes: self.notes + other.notes,
            completions: self.completions + other.completions,
        }
    }

    pub fn total(self) -> u64 {
        self.creates + self.notes + self.completions
    }
}

impl std::fmt::Display for Counts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} creations, {} progress notes, {} completions",
            self.creates, self.notes, self.completions
        )
    }
}

/// A seed per office, fixed across runs.
pub fn office_seed(index: usize) -> u64 {
    0x7A5C_2024_0000_0000 ^ index as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    fn workload(mix: Mix) -> Workload {
        let calendar = Calendar::around(Utc::now());
        Workload::new(1, "office", "hq", calendar, mix)
    }

    #[test]
    fn the_mix_updates_only_tasks_it_created_and_completes_each_once() {
        let mut created = std::collections::HashSet::new();
        let mut completed = std::collections::HashSet::new();
        let mut counts = Counts::default();
        for (kind, request) in workload(Mix::Realistic).take(5000) {
            counts.add(kind);
            match request.mutation {
                Some(Mutation::Create(create)) => assert!(created.insert(create.task_id)),
                Some(Mutation::Update(update)) => {
                    assert!(created.contains(&update.task_id));
                    assert!(!completed.contains(&update.task_id));
                    if kind == Kind::Complete {
                        completed.insert(update.task_id);
                    }
                }
                None => panic!("no mutation"),
            }
        }
        assert!(counts.creates > 1500 && counts.notes > 1200 && counts.completions > 800);
    }

    fn is_uuid_v7(id: &str) -> bool {
        uuid::Uuid::parse_str(id).is_ok_and(|id| id.get_version_num() == 7)
    }

    #[test]
    fn ids_are_uuid_v7_and_creates_only_creates() {
        for (kind, request) in workload(Mix::CreatesOnly).take(50) {
            assert_eq!(kind, Kind::Create);
            assert!(is_uuid_v7(update_id(&request)));
        }
    }
}
