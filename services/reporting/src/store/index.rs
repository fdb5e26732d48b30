//! The in-memory status index: every task's timeline segments in a few bytes
//! each, bucketed by assigned day, answering `status_by_unit` exactly as the
//! SQL over `rpt_segments` does (docs/reporting-index.md).
//!
//! Entries carry no task id. Two entries with equal fields count the same
//! way in every question, so the index is a multiset: removing "an entry
//! equal to this one" is exact, and no per-task map (tens of MB at 10 M
//! tasks) is needed to apply a change.

use std::collections::{BTreeMap, HashMap};

use chrono::NaiveDate;
use tasknet_domain::{date_from_storage, date_to_storage};

use super::query::{StatusQuery, UnitCounts, UnitDaysLate};
use crate::counts::StatusCounts;

/// Stored `seg_from` meaning "from the beginning" and `seg_until` meaning
/// "open-ended" (as in apply.rs).
pub const SEGMENT_START: i64 = 0;
pub const SEGMENT_END: i64 = 99_991_231;

/// Day numbers count from here; 65 534 days reach 2179.
const EPOCH: NaiveDate = match NaiveDate::from_ymd_opt(2000, 1, 1) {
    Some(date) => date,
    None => panic!("2000-01-01 is a date"),
};
/// "Not completed" and "open-ended"; no real day maps to it.
const NONE: u16 = u16::MAX;

/// One row of `rpt_segments` without its task id, as stored (yyyymmdd).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SegmentRow {
    pub from: i64,
    pub until: i64,
    pub unit: String,
    pub assigned: i64,
    pub deadline: i64,
    pub completed: Option<i64>,
}

/// A span of as-of days `[from, until)` over which the task is open with
/// `deadline` before `completed` and completed on `completed` from then on.
/// Merging "open until X, then completed on X" (the common history of a
/// completed task) into one entry halves the entries of completed tasks.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Span<'a> {
    from: i64,
    until: i64,
    unit: &'a str,
    assigned: i64,
    deadline: i64,
    completed: Option<i64>,
    /// Whether `completed` holds only from that day on (open before it).
    merged: bool,
}

/// The spans of one task's segments (sorted by `from`): deterministic, so the
/// spans of the old segments of a task are exactly the ones to remove.
fn spans(segments: &[SegmentRow]) -> impl Iterator<Item = Span<'_>> {
    let mut i = 0;
    std::iter::from_fn(move || {
        let segment = segments.get(i)?;
        let merged = segments.get(i + 1).filter(|next| {
            segment.completed.is_none()
                && next.completed == Some(next.from)
                && next.from == segment.until
                && next.unit == segment.unit
                && next.deadline == segment.deadline
                && next.assigned == segment.assigned
        });
        let (until, completed, step) = match merged {
            Some(next) => (next.until, next.completed, 2),
            None => (segment.until, segment.completed, 1),
        };
        i += step;
        Some(Span {
            from: segment.from,
            until,
            unit: &segment.unit,
            assigned: segment.assigned,
            deadline: segment.deadline,
            completed,
            merged: step == 2,
        })
    })
}

/// Day number of a stored date, if it has one below [`NONE`].
fn day(stored: i64) -> Option<u16> {
    let date = date_from_storage(stored)?;
    u16::try_from((date - EPOCH).num_days())
        .ok()
        .filter(|day| *day < NONE)
}

fn date_day(date: NaiveDate) -> Option<u16> {
    day(date_to_storage(date))
}

/// A span valid for every as-of day: `[unit, deadline, completed]`.
type Simple = [u16; 3];
/// `[unit, deadline, completed, from, until]`.
type General = [u16; 5];

/// The spans of tasks assigned on one day.
#[derive(Debug, Default, Clone)]
struct Bucket {
    simple: Vec<Simple>,
    general: Vec<General>,
}

/// A span that does not fit the compact form (a date outside 2000–2179, or
/// a completed segment whose completion date is after its start); kept
/// with the SQL's own comparisons. Expected to be rare or absent.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Wide {
    unit: u16,
    from: i64,
    until: i64,
    assigned: i64,
    deadline: i64,
    completed: Option<i64>,
    /// Whether `completed` only holds from that day on (a merged span).
    merged: bool,
}

/// Where a span lives in the index.
enum Placed {
    Simple(u16, Simple),
    General(u16, General),
    Wide(Wide),
}

/// The index proper (no locking; see `live.rs`).
#[derive(Debug, Default)]
pub struct StatusIndex {
    units: Vec<String>,
    unit_ids: HashMap<String, u16>,
    buckets: BTreeMap<u16, Bucket>,
    wide: Vec<Wide>,
    entries: usize,
}

/// Every entry as (unit id, assigned day, the other fields), sorted.
#[cfg(test)]
pub type Canonical = Vec<(String, u16, Vec<u16>)>;

/// A removal found nothing to remove: the index no longer matches the database.
#[derive(Debug)]
pub struct Diverged;

impl StatusIndex {
    /// The unit's number, added to the dictionary if new.
    fn unit(&mut self, id: &str) -> Option<u16> {
        if let Some(number) = self.unit_ids.get(id) {
            return Some(*number);
        }
        let number = u16::try_from(self.units.len()).ok()?;
        self.units.push(id.to_owned());
        self.unit_ids.insert(id.to_owned(), number);
        Some(number)
    }

    fn place(&mut self, span: &Span<'_>) -> Option<Placed> {
        let unit = self.unit(span.unit)?;
        let compact = || -> Option<Placed> {
            let assigned = day(span.assigned)?;
            let deadline = day(span.deadline)?;
            let completed = match span.completed {
                None => NONE,
                Some(on) => {
                    // The compact form counts a completion from its day on;
                    // a plain completed segment counts as completed on every
                    // day it holds, which is the same only if it starts on
                    // or after the completion.
                    if !span.merged && (span.from == SEGMENT_START || on > span.from) {
                        return None;
                    }
                    day(on)?
                }
            };
            if span.from == SEGMENT_START && span.until == SEGMENT_END {
                return Some(Placed::Simple(assigned, [unit, deadline, completed]));
            }
            let from = if span.from == SEGMENT_START {
                0
            } else {
                day(span.from)?
            };
            let until = if span.until == SEGMENT_END {
                NONE
            } else {
                day(span.until)?
            };
            Some(Placed::General(
                assigned,
                [unit, deadline, completed, from, until],
            ))
        };
        Some(compact().unwrap_or(Placed::Wide(Wide {
            unit,
            from: span.from,
            until: span.until,
            assigned: span.assigned,
            deadline: span.deadline,
            completed: span.completed,
            merged: span.merged,
        })))
    }

    /// Adds the spans of one task's segments.
    pub fn add_task(&mut self, segments: &[SegmentRow]) -> Result<(), Diverged> {
        for span in spans(segments) {
            self.add_span(&span)?;
        }
        Ok(())
    }

    /// Adds a task whose timeline is one segment, from the beginning and
    /// open-ended (most tasks: never extended, completed or reassigned): the
    /// same as `add_task` with that segment, without building it. The
    /// snapshot loads read these rows apart from the rest, unordered.
    pub fn add_one_segment_task(
        &mut self,
        unit: &str,
        assigned: i64,
        deadline: i64,
        completed: Option<i64>,
    ) -> Result<(), Diverged> {
        self.add_span(&Span {
            from: SEGMENT_START,
            until: SEGMENT_END,
            unit,
            assigned,
            deadline,
            completed,
            merged: false,
        })
    }

    fn add_span(&mut self, span: &Span<'_>) -> Result<(), Diverged> {
        match self.place(span).ok_or(Diverged)? {
            Placed::Simple(at, entry) => self.buckets.entry(at).or_default().simple.push(entry),
            Placed::General(at, entry) => {
                self.buckets.entry(at).or_default().general.push(entry);
            }
            Placed::Wide(wide) => self.wide.push(wide),
        }
        self.entries += 1;
        Ok(())
    }

    /// Removes the spans of one task's segments, as they were added.
    pub fn remove_task(&mut self, segments: &[SegmentRow]) -> Result<(), Diverged> {
        for span in spans(segments) {
            match self.place(&span).ok_or(Diverged)? {
                Placed::Simple(at, entry) => {
                    let bucket = self.buckets.get_mut(&at).ok_or(Diverged)?;
                    remove_one(&mut bucket.simple, &entry)?;
                }
                Placed::General(at, entry) => {
                    let bucket = self.buckets.get_mut(&at).ok_or(Diverged)?;
                    remove_one(&mut bucket.general, &entry)?;
                }
                Placed::Wide(wide) => remove_one(&mut self.wide, &wide)?,
            }
            self.entries = self.entries.saturating_sub(1);
        }
        Ok(())
    }

    /// Reserves room for `tasks` spans assigned on `assigned` (stored date),
    /// so that a load does not leave doubling slack behind.
    pub fn reserve(&mut self, assigned: i64, tasks: usize) {
        if let Some(at) = day(assigned) {
            self.buckets
                .entry(at)
                .or_default()
                .simple
                .reserve_exact(tasks);
        }
    }

    /// Gives back what reservations and growth left unused.
    pub fn shrink(&mut self) {
        for bucket in self.buckets.values_mut() {
            bucket.simple.shrink_to_fit();
            bucket.general.shrink_to_fit();
        }
        self.wide.shrink_to_fit();
    }

    pub fn entries(&self) -> usize {
        self.entries
    }

    /// Counts per unit for each question, or `None` when a question's dates
    /// fall outside what the compact form can compare (ask the SQL then).
    pub fn status_by_unit(&self, queries: &[StatusQuery]) -> Option<Vec<UnitCounts>> {
        let mut results = Vec::with_capacity(queries.len());
        for query in queries {
            results.push(self.answer(query)?);
        }
        Some(results)
    }

    fn answer(&self, query: &StatusQuery) -> Option<UnitCounts> {
        let as_of = date_day(query.as_of)?;
        // Tasks assigned after the as-of day did not exist on it.
        let end = query.period.end.min(query.as_of);
        let mut counts = vec![[0_u32; 4]; self.units.len()];
        if query.period.start <= end {
            // Every compact entry was assigned in 2000 or later.
            let first = date_day(query.period.start.max(EPOCH))?;
            let last = date_day(end)?;
            let buckets: Vec<&Bucket> = self.buckets.range(first..=last).map(|(_, b)| b).collect();
            count_buckets(&buckets, as_of, &mut counts);
        }
        let mut result = UnitCounts::new();
        for (number, [on_time, late, within, overdue]) in counts.iter().enumerate() {
            if on_time + late + within + overdue == 0 {
                continue;
            }
            let id = self.units.get(number)?.clone();
            result.insert(
                id,
                StatusCounts {
                    completed_on_time: i64::from(*on_time),
                    completed_late: i64::from(*late),
                    open_within_deadline: i64::from(*within),
                    open_overdue: i64::from(*overdue),
                },
            );
        }
        let (start, end, as_of) = (
            date_to_storage(query.period.start),
            date_to_storage(end),
            date_to_storage(query.as_of),
        );
        for wide in &self.wide {
            if wide.assigned < start || wide.assigned > end {
                continue;
            }
            if wide.from > as_of || wide.until <= as_of {
                continue;
            }
            let completed = wide.completed.filter(|on| !wide.merged || *on <= as_of);
            let counts = result.entry(self.units.get(usize::from(wide.unit))?.clone());
            let counts = counts.or_default();
            match completed {
                Some(on) if on <= wide.deadline => counts.completed_on_time += 1,
                Some(_) => counts.completed_late += 1,
                None if wide.deadline >= as_of => counts.open_within_deadline += 1,
                None => counts.open_overdue += 1,
            }
        }
        Some(result)
    }

    /// Per question and unit, the days past the deadline summed over the
    /// tasks that are completed late (deadline to completion) or open
    /// overdue (deadline to the as-of day), classified as `answer` does.
    pub fn days_late_by_unit(&self, queries: &[StatusQuery]) -> Option<Vec<UnitDaysLate>> {
        queries.iter().map(|query| self.days_late(query)).collect()
    }

    fn days_late(&self, query: &StatusQuery) -> Option<UnitDaysLate> {
        let as_of = date_day(query.as_of)?;
        let end = query.period.end.min(query.as_of);
        let mut days = vec![0_u64; self.units.len()];
        if query.period.start <= end {
            let first = date_day(query.period.start.max(EPOCH))?;
            let last = date_day(end)?;
            for (_, bucket) in self.buckets.range(first..=last) {
                for &[unit, deadline, completed] in &bucket.simple {
                    add_days_late(&mut days, unit, deadline, completed, as_of);
                }
                for &[unit, deadline, completed, from, until] in &bucket.general {
                    if from <= as_of && as_of < until {
                        add_days_late(&mut days, unit, deadline, completed, as_of);
                    }
                }
            }
        }
        let mut result = UnitDaysLate::new();
        for (number, total) in days.iter().enumerate() {
            if *total > 0 {
                let id = self.units.get(number)?.clone();
                result.insert(id, i64::try_from(*total).ok()?);
            }
        }
        let (start, end, as_of_stored) = (
            date_to_storage(query.period.start),
            date_to_storage(end),
            date_to_storage(query.as_of),
        );
        for wide in &self.wide {
            if wide.assigned < start
                || wide.assigned > end
                || wide.from > as_of_stored
                || wide.until <= as_of_stored
            {
                continue;
            }
            let completed = wide
                .completed
                .filter(|on| !wide.merged || *on <= as_of_stored);
            let late = days_past(wide.deadline, completed.unwrap_or(as_of_stored));
            if late > 0 {
                let unit = self.units.get(usize::from(wide.unit))?.clone();
                *result.entry(unit).or_default() += late;
            }
        }
        Some(result)
    }

    /// Every entry, sorted: two indexes holding the same multiset compare equal.
    #[cfg(test)]
    pub fn canonical(&self) -> Canonical {
        let name = |unit: u16| self.units[usize::from(unit)].clone();
        let mut all = Vec::new();
        for (at, bucket) in &self.buckets {
            for e in &bucket.simple {
                all.push((name(e[0]), *at, e[1..].to_vec()));
            }
            for e in &bucket.general {
                all.push((name(e[0]), *at, e[1..].to_vec()));
            }
        }
        all.sort();
        all
    }
}

fn remove_one<T: PartialEq>(entries: &mut Vec<T>, entry: &T) -> Result<(), Diverged> {
    let at = entries.iter().position(|e| e == entry).ok_or(Diverged)?;
    entries.swap_remove(at);
    Ok(())
}

/// Classifies every entry of `buckets` as of `as_of` into `counts` (indexed
/// by unit number: on time, late, within deadline, overdue). The rules are
/// `status_select`'s in query.rs; an entry's completion counts from its day.
fn count_buckets(buckets: &[&Bucket], as_of: u16, counts: &mut [[u32; 4]]) {
    // Two threads pay off only on big ranges (thread start costs ~50 µs).
    let total: usize = buckets
        .iter()
        .map(|b| b.simple.len() + b.general.len())
        .sum();
    if total < 200_000 || buckets.len() < 2 {
        count_serial(buckets, as_of, counts);
        return;
    }
    let (left, right) = buckets.split_at(buckets.len() / 2);
    let mut other = vec![[0_u32; 4]; counts.len()];
    std::thread::scope(|scope| {
        scope.spawn(|| count_serial(right, as_of, &mut other));
        count_serial(left, as_of, counts);
    });
    for (mine, theirs) in counts.iter_mut().zip(&other) {
        for (a, b) in mine.iter_mut().zip(theirs) {
            *a += b;
        }
    }
}

/// Adds an entry's days past its deadline, if it is late or overdue on `as_of`.
#[inline]
fn add_days_late(days: &mut [u64], unit: u16, deadline: u16, completed: u16, as_of: u16) {
    // A completion after the as-of day is not one yet: open, judged on the day.
    let judged_on = if completed <= as_of { completed } else { as_of };
    if judged_on > deadline
        && let Some(total) = days.get_mut(usize::from(unit))
    {
        *total += u64::from(judged_on - deadline);
    }
}

/// Days from the stored date `deadline` to the stored date `day`, 0 if not after it.
pub fn days_past(deadline: i64, day: i64) -> i64 {
    match (date_from_storage(deadline), date_from_storage(day)) {
        (Some(deadline), Some(day)) => (day - deadline).num_days().max(0),
        _ => 0,
    }
}

#[inline]
fn class(deadline: u16, completed: u16, as_of: u16) -> usize {
    // NONE (open) is above every as-of day, so an open task takes the
    // second branch; a completion after the as-of day is not yet one.
    if completed <= as_of {
        usize::from(completed > deadline)
    } else {
        2 + usize::from(deadline < as_of)
    }
}

fn count_serial(buckets: &[&Bucket], as_of: u16, counts: &mut [[u32; 4]]) {
    for bucket in buckets {
        for &[unit, deadline, completed] in &bucket.simple {
            if let Some(row) = counts.get_mut(usize::from(unit)) {
                row[class(deadline, completed, as_of)] += 1;
            }
        }
        for &[unit, deadline, completed, from, until] in &bucket.general {
            if from <= as_of
                && as_of < until
                && let Some(row) = counts.get_mut(usize::from(unit))
            {
                row[class(deadline, completed, as_of)] += 1;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(from: i64, until: i64, deadline: i64, completed: Option<i64>) -> SegmentRow {
        SegmentRow {
            from,
            until,
            unit: "u".into(),
            assigned: 20240105,
            deadline,
            completed,
        }
    }

    #[test]
    fn open_then_completed_merges_into_one_span() {
        let segments = [
            row(SEGMENT_START, 20240301, 20240201, None),
            row(20240301, SEGMENT_END, 20240201, Some(20240301)),
        ];
        assert_eq!(spans(&segments).count(), 1);
        let mut index = StatusIndex::default();
        index.add_task(&segments).unwrap();
        assert_eq!(
            index
                .buckets
                .values()
                .map(|b| b.simple.len())
                .sum::<usize>(),
            1
        );
        index.remove_task(&segments).unwrap();
        assert_eq!(index.entries(), 0);
        assert!(index.remove_task(&segments).is_err());
    }

    #[test]
    fn a_one_segment_task_is_added_as_its_segment_would_be() {
        for (deadline, completed) in [(20240201, None), (20240201, Some(20240110))] {
            let mut by_segment = StatusIndex::default();
            by_segment
                .add_task(&[row(SEGMENT_START, SEGMENT_END, deadline, completed)])
                .unwrap();
            let mut by_fields = StatusIndex::default();
            by_fields
                .add_one_segment_task("u", 20240105, deadline, completed)
                .unwrap();
            assert_eq!(by_fields.canonical(), by_segment.canonical());
            assert_eq!(by_fields.entries(), 1);
        }
    }

    #[test]
    fn classes_follow_the_sql() {
        // Completed on day 10 with deadline 12: on time from day 10, open before.
        assert_eq!(class(12, 10, 10), 0);
        assert_eq!(class(12, 10, 9), 2);
        assert_eq!(class(8, 10, 11), 1);
        assert_eq!(class(8, NONE, 8), 2);
        assert_eq!(class(8, NONE, 9), 3);
    }
}
