//! Reassignment by reorganisation, all of it: after a reorganisation is
//! applied in the organisation service, the tasks its ended units still hold
//! pass to their primary successors, effective on its date. Here are the
//! command ([`Reassign`], whose id makes a repeated transfer a repeat), the
//! rule it applies ([`transition`], called by the writer like any other
//! task rule), and the plan of a transfer ([`Succession`], [`transfer_dates`],
//! [`Tally`]). `TransferOpenTasks` (in [`crate::transfer`]) only reads what
//! the plan needs, submits its reassignments to the writer and counts them.
//!
//! Which tasks pass: those open on the day before the effective date pass
//! on that date (and the successor completes them). Tasks completed before
//! it stay with the unit that completed them — unless they are reopened
//! later, when the ended unit can no longer act on them: they pass from
//! their reopening. A transfer only sees reopenings recorded by then, so it
//! is run again after late updates; repeating it changes nothing else.

mod command;
mod plan;
mod rule;

pub use command::Reassign;
pub use plan::{Succession, Tally, transfer_dates};
pub use rule::transition;
