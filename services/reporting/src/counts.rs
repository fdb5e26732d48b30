//! The four-way status counts of a group of tasks, and their arithmetic.

use std::ops::AddAssign;

use tasknet_domain::StatusClass;
use tasknet_proto::v1;

/// Tasks of a group, split into the four disjoint classes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StatusCounts {
    pub completed_on_time: i64,
    pub completed_late: i64,
    pub open_within_deadline: i64,
    pub open_overdue: i64,
}

impl StatusCounts {
    pub fn total(&self) -> i64 {
        self.completed_on_time + self.completed_late + self.open_within_deadline + self.open_overdue
    }

    /// Counts one task of the given class.
    pub fn add(&mut self, class: StatusClass) {
        match class {
            StatusClass::CompletedOnTime => self.completed_on_time += 1,
            StatusClass::CompletedLate => self.completed_late += 1,
            StatusClass::OpenWithinDeadline => self.open_within_deadline += 1,
            StatusClass::OpenOverdue => self.open_overdue += 1,
        }
    }

    pub fn to_proto(self) -> v1::StatusCounts {
        v1::StatusCounts {
            total: self.total(),
            completed_on_time: self.completed_on_time,
            completed_late: self.completed_late,
            open_within_deadline: self.open_within_deadline,
            open_overdue: self.open_overdue,
        }
    }
}

impl AddAssign for StatusCounts {
    fn add_assign(&mut self, other: Self) {
        self.completed_on_time += other.completed_on_time;
        self.completed_late += other.completed_late;
        self.open_within_deadline += other.open_within_deadline;
        self.open_overdue += other.open_overdue;
    }
}

/// `(current - previous) / previous * 100`, or `None` when there is nothing to compare with.
pub fn change_percent(current: i64, previous: i64) -> Option<f64> {
    // Counts stay far below 2^53, so the conversions are exact.
    (previous > 0).then(|| (current - previous) as f64 / previous as f64 * 100.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn totals_and_changes() {
        let mut counts = StatusCounts::default();
        for class in StatusClass::ALL {
            counts.add(class);
        }
        counts.add(StatusClass::OpenOverdue);
        let mut sum = counts;
        sum += counts;
        assert_eq!(sum.total(), 10);
        assert_eq!(sum.to_proto().open_overdue, 4);
        assert_eq!(change_percent(5, 0), None);
        let change = change_percent(2886, 2591).unwrap();
        assert!((change - 11.3856).abs() < 1e-3, "{change}");
    }
}
