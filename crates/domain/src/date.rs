//! Civil dates and instants: conversion to and from the protobuf forms and
//! storage, and the Vietnam civil date of an instant (UTC+7, no daylight saving).

use chrono::{DateTime, Datelike, FixedOffset, NaiveDate, Offset, Utc};
use tasknet_proto::{prost_types, v1};

use crate::FieldError;

/// Vietnam's offset from UTC. Vietnam has kept UTC+7 without daylight saving since 1975.
pub const VIETNAM_OFFSET_SECONDS: i32 = 7 * 3600;

fn vietnam_offset() -> FixedOffset {
    // 7 hours is within ±24 h, so `east_opt` cannot fail; fall back to UTC for the type's sake.
    FixedOffset::east_opt(VIETNAM_OFFSET_SECONDS).unwrap_or_else(|| Utc.fix())
}

/// The civil date in Vietnam at an instant: 2024-06-30T23:30Z is 1 July in Hà Nội.
pub fn vietnam_date(instant: DateTime<Utc>) -> NaiveDate {
    instant.with_timezone(&vietnam_offset()).date_naive()
}

/// The instant a civil date begins in Vietnam (00:00 UTC+7).
pub fn vietnam_start_of_day(date: NaiveDate) -> DateTime<Utc> {
    let local = date.and_hms_opt(0, 0, 0).unwrap_or_default();
    DateTime::<Utc>::from_naive_utc_and_offset(local, Utc)
        - chrono::Duration::seconds(i64::from(VIETNAM_OFFSET_SECONDS))
}

/// A required protobuf date, validated.
pub fn date_from_proto(field: &str, date: Option<&v1::Date>) -> Result<NaiveDate, FieldError> {
    optional_date_from_proto(field, date)?.ok_or_else(|| FieldError::missing(field))
}

/// An optional protobuf date: unset (or all zeros) is `None`; a set but
/// impossible date (31 February) is an error naming the field.
pub fn optional_date_from_proto(
    field: &str,
    date: Option<&v1::Date>,
) -> Result<Option<NaiveDate>, FieldError> {
    let Some(date) = date else { return Ok(None) };
    if date.year == 0 && date.month == 0 && date.day == 0 {
        return Ok(None);
    }
    let month = u32::try_from(date.month).ok();
    let day = u32::try_from(date.day).ok();
    match (month, day) {
        (Some(month), Some(day)) if (1000..=9999).contains(&date.year) => {
            NaiveDate::from_ymd_opt(date.year, month, day)
        }
        _ => None,
    }
    .map(Some)
    .ok_or_else(|| {
        FieldError::new(
            field,
            format!(
                "{:04}-{:02}-{:02} is not a valid date",
                date.year, date.month, date.day
            ),
        )
    })
}

pub fn date_to_proto(date: NaiveDate) -> v1::Date {
    v1::Date {
        year: date.year(),
        month: date.month() as i32,
        day: date.day() as i32,
    }
}

/// Dates are stored as integers `yyyymmdd`: portable across SQLite and
/// PostgreSQL, ordered like dates, and readable by an operator at a SQL prompt.
pub fn date_to_storage(date: NaiveDate) -> i64 {
    i64::from(date.year()) * 10_000 + i64::from(date.month()) * 100 + i64::from(date.day())
}

/// The inverse of [`date_to_storage`]; `None` for a value no date produces.
pub fn date_from_storage(value: i64) -> Option<NaiveDate> {
    let year = i32::try_from(value / 10_000).ok()?;
    let month = u32::try_from(value / 100 % 100).ok()?;
    let day = u32::try_from(value % 100).ok()?;
    NaiveDate::from_ymd_opt(year, month, day)
}

/// A required protobuf timestamp, validated.
pub fn timestamp_from_proto(
    field: &str,
    timestamp: Option<&prost_types::Timestamp>,
) -> Result<DateTime<Utc>, FieldError> {
    let timestamp = timestamp.ok_or_else(|| FieldError::missing(field))?;
    let nanos = u32::try_from(timestamp.nanos).ok();
    nanos
        .and_then(|nanos| DateTime::from_timestamp(timestamp.seconds, nanos))
        .filter(|instant| (1000..=9999).contains(&instant.year()))
        .ok_or_else(|| FieldError::new(field, "is not a valid timestamp"))
}

pub fn timestamp_to_proto(instant: DateTime<Utc>) -> prost_types::Timestamp {
    prost_types::Timestamp {
        seconds: instant.timestamp(),
        nanos: instant.timestamp_subsec_nanos() as i32,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ymd(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    #[test]
    fn late_evening_utc_is_the_next_day_in_vietnam() {
        let instant = "2024-06-30T23:30:00Z".parse::<DateTime<Utc>>().unwrap();
        assert_eq!(vietnam_date(instant), ymd(2024, 7, 1));
        let instant = "2024-06-30T16:59:59Z".parse::<DateTime<Utc>>().unwrap();
        assert_eq!(vietnam_date(instant), ymd(2024, 6, 30));
        let instant = "2024-06-30T17:00:00Z".parse::<DateTime<Utc>>().unwrap();
        assert_eq!(vietnam_date(instant), ymd(2024, 7, 1));
    }

    #[test]
    fn start_of_day_is_seventeen_hundred_utc_the_day_before() {
        let start = vietnam_start_of_day(ymd(2024, 7, 1));
        assert_eq!(start.to_rfc3339(), "2024-06-30T17:00:00+00:00");
        assert_eq!(vietnam_date(start), ymd(2024, 7, 1));
    }

    #[test]
    fn storage_form_round_trips_and_orders() {
        let date = ymd(2024, 2, 29);
        assert_eq!(date_to_storage(date), 20_240_229);
        assert_eq!(date_from_storage(20_240_229), Some(date));
        assert_eq!(date_from_storage(20_230_229), None);
        assert!(date_to_storage(ymd(2023, 12, 31)) < date_to_storage(ymd(2024, 1, 1)));
    }

    #[test]
    fn proto_dates_are_validated_with_the_field_name() {
        let bad = v1::Date {
            year: 2024,
            month: 2,
            day: 30,
        };
        let error = date_from_proto("task.deadline", Some(&bad)).unwrap_err();
        assert_eq!(error.field, "task.deadline");
        assert_eq!(
            date_from_proto("task.deadline", None).unwrap_err(),
            FieldError::missing("task.deadline")
        );
        let zero = v1::Date::default();
        assert_eq!(
            optional_date_from_proto("as_of", Some(&zero)).unwrap(),
            None
        );
        let good = date_to_proto(ymd(2024, 6, 30));
        assert_eq!(date_from_proto("x", Some(&good)).unwrap(), ymd(2024, 6, 30));
    }

    #[test]
    fn timestamps_are_validated() {
        let bad = prost_types::Timestamp {
            seconds: 0,
            nanos: -1,
        };
        assert!(timestamp_from_proto("effective_time", Some(&bad)).is_err());
        assert!(timestamp_from_proto("effective_time", None).is_err());
        let instant = "2024-06-28T03:00:00Z".parse::<DateTime<Utc>>().unwrap();
        let proto = timestamp_to_proto(instant);
        assert_eq!(timestamp_from_proto("t", Some(&proto)).unwrap(), instant);
    }
}
