//! Quiet hours: local (Vietnam, UTC+7) minutes between which nothing is
//! delivered to a contact. What falls due inside the window waits for its end.

use chrono::{DateTime, Duration, NaiveTime, Timelike, Utc};
use tasknet_domain::VIETNAM_OFFSET_SECONDS;

const MINUTES_PER_DAY: i32 = 24 * 60;

/// A window of local minutes after midnight; it may wrap midnight (22:00–06:00).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QuietHours {
    pub start_minute: i32,
    pub end_minute: i32,
}

impl QuietHours {
    /// `None` for an empty or out-of-range window (treated as no quiet hours).
    pub fn new(start_minute: i32, end_minute: i32) -> Option<Self> {
        let valid = |minute: i32| (0..MINUTES_PER_DAY).contains(&minute);
        (valid(start_minute) && valid(end_minute) && start_minute != end_minute).then_some(Self {
            start_minute,
            end_minute,
        })
    }

    fn contains(self, minute: i32) -> bool {
        if self.start_minute < self.end_minute {
            (self.start_minute..self.end_minute).contains(&minute)
        } else {
            minute >= self.start_minute || minute < self.end_minute
        }
    }

    /// When the window `now` falls in ends; `None` when `now` is outside it.
    pub fn until(self, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let offset = Duration::seconds(i64::from(VIETNAM_OFFSET_SECONDS));
        let local = now.naive_utc() + offset;
        let minute = i32::try_from(local.time().num_seconds_from_midnight() / 60).ok()?;
        if !self.contains(minute) {
            return None;
        }
        let end = u32::try_from(self.end_minute).ok()?;
        let end_time = NaiveTime::from_hms_opt(end / 60, end % 60, 0)?;
        let mut end_local = local.date().and_time(end_time);
        if end_local <= local {
            end_local += Duration::days(1);
        }
        Some(DateTime::<Utc>::from_naive_utc_and_offset(
            end_local - offset,
            Utc,
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text).unwrap().to_utc()
    }

    #[test]
    fn a_window_defers_to_its_end_in_vietnam_time() {
        // 22:00–06:00 local; 23:30 local is 16:30Z.
        let night = QuietHours::new(22 * 60, 6 * 60).unwrap();
        assert_eq!(
            night.until(at("2024-03-01T16:30:00Z")),
            Some(at("2024-03-01T23:00:00Z"))
        );
        // 05:59 local, the next morning: still quiet, ends at 06:00.
        assert_eq!(
            night.until(at("2024-03-01T22:59:00Z")),
            Some(at("2024-03-01T23:00:00Z"))
        );
        // 06:00 local: the window has ended.
        assert_eq!(night.until(at("2024-03-01T23:00:00Z")), None);
        // 12:00–13:00 local, at 12:15 local (05:15Z).
        let lunch = QuietHours::new(12 * 60, 13 * 60).unwrap();
        assert_eq!(
            lunch.until(at("2024-03-01T05:15:00Z")),
            Some(at("2024-03-01T06:00:00Z"))
        );
        assert_eq!(lunch.until(at("2024-03-01T04:59:00Z")), None);
    }

    #[test]
    fn empty_or_impossible_windows_are_none() {
        assert!(QuietHours::new(60, 60).is_none());
        assert!(QuietHours::new(-1, 60).is_none());
        assert!(QuietHours::new(0, 1440).is_none());
    }
}
