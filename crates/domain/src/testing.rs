//! Builders the tests of several crates share (the `testing` feature):
//! dates, ids, and the changes of a task update.

use chrono::NaiveDate;
use tasknet_proto::v1;
use tasknet_proto::v1::update_task_request::Change;

use crate::date_to_proto;

pub fn ymd(year: i32, month: u32, day: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(year, month, day).expect("a valid date")
}

/// A new UUIDv7, as clients make them.
pub fn new_id() -> String {
    uuid::Uuid::now_v7().to_string()
}

pub fn note(text: &str) -> Change {
    Change::Note(v1::ProgressNote {
        note: text.to_owned(),
    })
}

pub fn complete() -> Change {
    Change::Complete(v1::Completion::default())
}

pub fn reopen() -> Change {
    Change::Reopen(v1::Reopening::default())
}

/// A new deadline, for `reason`.
pub fn deadline_change(date: NaiveDate, reason: &str) -> Change {
    Change::DeadlineChange(v1::DeadlineChange {
        new_deadline: Some(date_to_proto(date)),
        reason: reason.to_owned(),
    })
}
