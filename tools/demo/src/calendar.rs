//! Working days and office hours in Vietnam, and the seeded random picks of
//! dates, instants and UUIDv7 ids the generator is built from.

use chrono::{DateTime, Datelike, NaiveDate, TimeDelta, Utc, Weekday};
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use tasknet_domain::date::vietnam_start_of_day;
use uuid::Uuid;

/// Public holidays of the demo's years on which offices are closed (New
/// Year, Tết, Hùng Kings' day, 30/4–1/5 and National Day, with the days off
/// the government moved around them).
const HOLIDAYS: &[(i32, u32, u32, u32)] = &[
    // (year, month, first day, last day)
    (2023, 1, 2, 2),
    (2023, 1, 20, 26),
    (2023, 4, 29, 30),
    (2023, 5, 1, 3),
    (2023, 9, 1, 4),
    (2024, 1, 1, 1),
    (2024, 2, 8, 14),
    (2024, 4, 18, 18),
    (2024, 4, 27, 30),
    (2024, 5, 1, 1),
    (2024, 8, 31, 31),
    (2024, 9, 1, 3),
    (2025, 1, 1, 1),
    (2025, 1, 25, 31),
    (2025, 2, 1, 2),
    (2025, 4, 7, 7),
    (2025, 4, 30, 30),
    (2025, 5, 1, 2),
    (2025, 8, 30, 31),
    (2025, 9, 1, 2),
    (2026, 1, 1, 1),
    (2026, 2, 14, 22),
];

/// `days` after `date` (before it when negative).
pub fn plus(date: NaiveDate, days: i64) -> NaiveDate {
    date.checked_add_signed(TimeDelta::days(days))
        .unwrap_or(date)
}

/// Monday to Friday and not a public holiday.
pub fn is_working_day(date: NaiveDate) -> bool {
    if matches!(date.weekday(), Weekday::Sat | Weekday::Sun) {
        return false;
    }
    !HOLIDAYS.iter().any(|&(year, month, first, last)| {
        date.year() == year && date.month() == month && (first..=last).contains(&date.day())
    })
}

/// How a date is drawn from a range.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Skew {
    Uniform,
    /// More likely near the start of the range (the smaller of two uniform draws).
    Early,
}

/// A date in `lo..=hi`, a working day whenever the range has one within a
/// few draws. An empty range (`hi < lo`) yields `lo`.
pub fn pick(rng: &mut ChaCha8Rng, lo: NaiveDate, hi: NaiveDate, skew: Skew) -> NaiveDate {
    let span = (hi - lo).num_days().max(0);
    let mut candidate = lo;
    for _ in 0..16 {
        let mut offset = rng.random_range(0..=span);
        if skew == Skew::Early {
            offset = offset.min(rng.random_range(0..=span));
        }
        candidate = plus(lo, offset);
        if is_working_day(candidate) {
            break;
        }
    }
    candidate
}

/// A uniformly drawn date in `lo..=hi` (a working day when possible).
pub fn between(rng: &mut ChaCha8Rng, lo: NaiveDate, hi: NaiveDate) -> NaiveDate {
    pick(rng, lo, hi, Skew::Uniform)
}

/// An instant during office hours (08:00–17:00 Vietnam time, UTC+7) of `date`.
pub fn office_hours(rng: &mut ChaCha8Rng, date: NaiveDate) -> DateTime<Utc> {
    let seconds = rng.random_range(8 * 3600..17 * 3600);
    vietnam_start_of_day(date) + TimeDelta::seconds(seconds)
}

/// A UUIDv7 whose timestamp is `instant` and whose other bits come from the
/// seeded generator, so ids are both time-ordered and reproducible.
pub fn uuid_v7(rng: &mut ChaCha8Rng, instant: DateTime<Utc>) -> Uuid {
    let mut random = [0u8; 10];
    rng.fill(&mut random);
    let millis = u64::try_from(instant.timestamp_millis()).unwrap_or_default();
    uuid::Builder::from_unix_timestamp_millis(millis, &random).into_uuid()
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use tasknet_domain::vietnam_date;

    fn ymd(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    #[test]
    fn weekends_and_tet_are_not_working_days() {
        assert!(!is_working_day(ymd(2024, 6, 30))); // Sunday
        assert!(!is_working_day(ymd(2024, 2, 12))); // Tết
        assert!(is_working_day(ymd(2024, 7, 1)));
        assert!(is_working_day(ymd(2023, 6, 30)));
    }

    #[test]
    fn picks_stay_in_range_and_prefer_working_days() {
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let (lo, hi) = (ymd(2024, 6, 1), ymd(2024, 6, 30));
        for _ in 0..1_000 {
            let day = pick(&mut rng, lo, hi, Skew::Early);
            assert!(lo <= day && day <= hi);
            assert!(is_working_day(day));
        }
        // A range of one Sunday still yields that Sunday.
        assert_eq!(between(&mut rng, hi, hi), hi);
        assert_eq!(between(&mut rng, hi, lo), hi);
    }

    #[test]
    fn office_hours_are_on_the_vietnam_date() {
        let mut rng = ChaCha8Rng::seed_from_u64(2);
        for _ in 0..1_000 {
            let instant = office_hours(&mut rng, ymd(2024, 6, 30));
            assert_eq!(vietnam_date(instant), ymd(2024, 6, 30));
            let hour = (instant.timestamp().rem_euclid(86_400)) / 3600;
            assert!((1..10).contains(&hour), "{instant}"); // 08–17 UTC+7
        }
    }

    #[test]
    fn ids_are_version_7_with_the_instant() {
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let instant = "2024-06-28T03:00:00Z".parse().unwrap();
        let id = uuid_v7(&mut rng, instant);
        assert_eq!(id.get_version_num(), 7);
        let (seconds, _) = id.get_timestamp().unwrap().to_unix();
        assert_eq!(seconds as i64, instant.timestamp());
    }
}
