//! Who holds a task over time: the unit it was assigned to, then each unit a
//! reorganisation passed it to from the reassignment's effective date. A
//! task's timeline segments are split at those dates, so that the segment in
//! force at the end of any day names the unit holding the task that day.

use chrono::NaiveDate;
use tasknet_domain::date_to_storage;

/// A task passed to `assignee` from `effective` on (a REASSIGNED change).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reassignment {
    pub cursor: i64,
    pub effective: NaiveDate,
    pub assignee: String,
}

/// A piece of a segment: `[from, until)` in storage dates, and its holder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Piece<'a> {
    pub from: i64,
    pub until: i64,
    pub assignee: &'a str,
}

/// Splits the segment `[from, until)` (storage dates; `from` may be the
/// start of time, `until` the end) by who held the task. Reassignments
/// apply in (effective date, cursor) order; of two on the same day the
/// later accepted wins.
pub fn split<'a>(
    from: i64,
    until: i64,
    initial: &'a str,
    reassignments: &'a [Reassignment],
) -> Vec<Piece<'a>> {
    let mut ordered: Vec<&Reassignment> = reassignments.iter().collect();
    ordered.sort_by_key(|r| (r.effective, r.cursor));
    let mut spans: Vec<(i64, &str)> = vec![(i64::MIN, initial)];
    spans.extend(
        ordered
            .iter()
            .map(|r| (date_to_storage(r.effective), r.assignee.as_str())),
    );
    let mut pieces = Vec::new();
    for (index, (start, assignee)) in spans.iter().enumerate() {
        let end = spans.get(index + 1).map_or(i64::MAX, |(next, _)| *next);
        let (lo, hi) = (from.max(*start), until.min(end));
        if lo < hi {
            pieces.push(Piece {
                from: lo,
                until: hi,
                assignee,
            });
        }
    }
    pieces
}

#[cfg(test)]
mod tests {
    use super::*;

    fn moved(cursor: i64, month: u32, day: u32, to: &str) -> Reassignment {
        Reassignment {
            cursor,
            effective: NaiveDate::from_ymd_opt(2025, month, day).unwrap(),
            assignee: to.to_owned(),
        }
    }

    #[test]
    fn segments_split_at_reassignment_dates() {
        let none: Vec<Reassignment> = Vec::new();
        assert_eq!(
            split(0, 99_991_231, "a", &none),
            [Piece {
                from: 0,
                until: 99_991_231,
                assignee: "a"
            }]
        );
        let once = [moved(9, 7, 1, "b")];
        assert_eq!(
            split(20_250_601, 20_250_801, "a", &once),
            [
                Piece {
                    from: 20_250_601,
                    until: 20_250_701,
                    assignee: "a"
                },
                Piece {
                    from: 20_250_701,
                    until: 20_250_801,
                    assignee: "b"
                },
            ]
        );
        // A segment wholly before or after the date is not split.
        assert_eq!(split(0, 20_250_701, "a", &once).len(), 1);
        assert_eq!(split(20_250_701, 99_991_231, "a", &once)[0].assignee, "b");
    }

    #[test]
    fn later_reassignments_win_and_order_by_date() {
        let many = [
            moved(5, 9, 1, "c"),
            moved(3, 7, 1, "b"),
            moved(7, 9, 1, "d"),
        ];
        let pieces = split(0, 99_991_231, "a", &many);
        let holders: Vec<_> = pieces.iter().map(|p| p.assignee).collect();
        assert_eq!(holders, ["a", "b", "d"]);
        assert_eq!(pieces[2].from, 20_250_901);
    }
}
