//! The demo data set of tasknet: a deterministic reproduction of the task
//! data behind the seed review report (`shared/seed/README.md`): the tasks
//! assigned in the first halves of 2023 and 2024 to headquarters' central
//! departments, the public service units and the 63 provincial offices, and
//! the three plans of 2024 — and a loader that pushes it through the public
//! gRPC API as the offices would.
//!
//! - [`DemoSpec`] holds the targets ([`DemoSpec::seed_report`] is the full
//!   size, about 222,000 tasks; [`DemoSpec::small`] the same shape at about
//!   6,000) and the fixed seed [`SEED`] (20240716, the day of the review
//!   conference).
//! - [`generate`] turns a spec and the unit list into requests: each task a
//!   `CreateTaskRequest` and its ordered `UpdateTaskRequest`s, ids UUIDv7
//!   from the seeded ChaCha8 generator, effective times in office hours in
//!   Vietnam. Same spec and units, same bytes.
//! - [`expected_breakdown`] and [`expected_plan_progress`] count what the
//!   reports must say, independently of any database.
//! - [`load`] runs the whole thing against a running server, after
//!   [`preflight`] has checked it would not mix two data sets.
//! - [`ContinuationSpec`] and [`load_continuation`]: the half-years after
//!   the seed's (H2 2024, H1 2025, H2 2025) across the provincial merger of
//!   1 July 2025, which the loader applies between them, passing the merged
//!   offices' open tasks to their successors.
//! - [`demo_contacts`] and [`load_contacts`]: a focal point for every unit
//!   valid at the end, and a head for each provincial office, so
//!   notifications have recipients (addresses at `example.invalid`).
//!
//! Provincial offices get tasks in proportion to half an equal share plus
//! half a population share, from approximate 2023 populations
//! (`reference/province-population-2023.csv`, rounded estimates, not
//! official figures).

mod apportion;
mod calendar;
mod contacts;
mod continuation;
mod continuation_load;
mod expected;
mod generate;
mod load;
mod note;
mod population;
mod preflight;
mod scenario;
mod spec;
mod titles;

pub use apportion::apportion;
pub use contacts::{ContactsSummary, demo_contacts, load_contacts};
pub use continuation::{
    CONTINUATION_SEED, ContinuationSpec, HalfSpec, generate_continuation, merger_date,
    provinces_2025,
};
pub use continuation_load::{ContinuationSummary, MERGER, load_continuation};
pub use expected::{
    ExpectedCounts, ExpectedPlanProgress, expected_breakdown, expected_plan_progress,
};
pub use generate::{DemoDataset, DemoError, DemoTask, generate};
pub use load::{
    DEFAULT_STREAMS, LoadProgress, LoadStage, LoadSummary, load, load_dataset, load_split,
    load_units,
};
pub use note::add_seed_note;
pub use population::province_populations;
pub use preflight::{DemoConflict, Preflight, demo_name, preflight};
pub use spec::{
    ClassCounts, DemoSpec, NamedTask, PlanSpec, SEED, SEED_NOTE_EN, SEED_NOTE_VI, YearSpec,
};
