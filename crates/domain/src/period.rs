//! Reporting periods: "2024-H1", "2024-Q3", "2024", "2024-06" or explicit
//! dates, and the same period one year earlier.

use std::ops::RangeInclusive;

use chrono::{Datelike, NaiveDate};
use tasknet_proto::v1;

use crate::{FieldError, date_from_proto};

/// An inclusive range of civil dates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DatePeriod {
    pub start: NaiveDate,
    pub end: NaiveDate,
}

impl DatePeriod {
    pub fn new(start: NaiveDate, end: NaiveDate) -> Option<Self> {
        (start <= end).then_some(Self { start, end })
    }

    /// Parses a period label: `YYYY`, `YYYY-H1|H2` (also `S1|S2`, as SDMX writes
    /// half-years), `YYYY-Q1..Q4`, `YYYY-MM`, or `YYYY-MM-DD..YYYY-MM-DD`;
    /// years in [`REPORT_YEARS`], digits only (no signs, no other widths).
    pub fn parse(label: &str) -> Option<Self> {
        let label = label.trim();
        if let Some((start, end)) = label.split_once("..") {
            return Self::new(strict_date(start.trim())?, strict_date(end.trim())?);
        }
        let (year, part) = match label.split_once('-') {
            Some((year, part)) => (year, Some(part)),
            None => (label, None),
        };
        let year = strict_year(year)?;
        let (first_month, months) = match part.map(str::to_ascii_uppercase).as_deref() {
            None => (1, 12),
            Some("H1" | "S1") => (1, 6),
            Some("H2" | "S2") => (7, 6),
            Some("Q1") => (1, 3),
            Some("Q2") => (4, 3),
            Some("Q3") => (7, 3),
            Some("Q4") => (10, 3),
            Some(month) => (strict_number(month, 2)?, 1),
        };
        let start = NaiveDate::from_ymd_opt(year, first_month, 1)?;
        let end = start
            .checked_add_months(chrono::Months::new(months))?
            .pred_opt()?;
        Self::new(start, end)
    }

    /// A period from the wire, validated; errors name `field`.
    pub fn from_proto(field: &str, period: Option<&v1::Period>) -> Result<Self, FieldError> {
        use v1::period::Kind;
        match period.and_then(|period| period.kind.as_ref()) {
            None => Err(FieldError::missing(field)),
            Some(Kind::Label(label)) => Self::parse(label).ok_or_else(|| {
                FieldError::new(
                    field,
                    format!(
                        "{label:?} is not a period (try 2024, 2024-H1, 2024-Q3, 2024-06 or \
                         2024-01-01..2024-03-31; years {}–{})",
                        REPORT_YEARS.start(),
                        REPORT_YEARS.end()
                    ),
                )
            }),
            Some(Kind::Range(range)) => {
                let start = report_date(&format!("{field}.range.start"), range.start.as_ref())?;
                let end = report_date(&format!("{field}.range.end"), range.end.as_ref())?;
                Self::new(start, end).ok_or_else(|| {
                    FieldError::new(format!("{field}.range.end"), "is before the start")
                })
            }
        }
    }

    /// The as-of date of a report on this period, from the wire: a report
    /// as of a day before the period began has nothing to count, so it is
    /// refused rather than answered with zeros.
    pub fn as_of_from_proto(
        self,
        field: &str,
        as_of: Option<&v1::Date>,
    ) -> Result<NaiveDate, FieldError> {
        let as_of = date_from_proto(field, as_of)?;
        if as_of < self.start {
            return Err(FieldError::new(
                field,
                format!(
                    "{as_of} is before the period begins ({}): a report as of then has nothing to count",
                    self.start
                ),
            ));
        }
        Ok(as_of)
    }

    pub fn to_proto(self) -> v1::DateRange {
        v1::DateRange {
            start: Some(crate::date_to_proto(self.start)),
            end: Some(crate::date_to_proto(self.end)),
        }
    }

    /// The same period one year earlier (29 February maps to 28 February).
    pub fn previous_year(self) -> Self {
        Self {
            start: previous_year_date(self.start),
            end: previous_year_date(self.end),
        }
    }

    pub fn contains(self, date: NaiveDate) -> bool {
        self.start <= date && date <= self.end
    }

    /// The part of the period up to and including `as_of`, if any: tasks
    /// assigned after the as-of day do not exist yet on that day.
    pub fn clipped_to(self, as_of: NaiveDate) -> Option<Self> {
        Self::new(self.start, self.end.min(as_of))
    }

    /// The SDMX `TIME_PERIOD` form: `2024`, `2024-S1`, `2024-Q3`, `2024-06`,
    /// or `2024-01-01/2024-03-15` for any other range.
    pub fn sdmx_label(self) -> String {
        let year = self.start.year();
        for (label, suffix) in [
            ("", String::new()),
            ("H1", "-S1".to_owned()),
            ("H2", "-S2".to_owned()),
            ("Q1", "-Q1".to_owned()),
            ("Q2", "-Q2".to_owned()),
            ("Q3", "-Q3".to_owned()),
            ("Q4", "-Q4".to_owned()),
        ] {
            let text = if label.is_empty() {
                format!("{year}")
            } else {
                format!("{year}-{label}")
            };
            if Self::parse(&text) == Some(self) {
                return format!("{year}{suffix}");
            }
        }
        let month = format!("{year}-{:02}", self.start.month());
        if Self::parse(&month) == Some(self) {
            return month;
        }
        format!("{}/{}", self.start, self.end)
    }
}

/// The years a report can be about. Year 0 or 9999 is a typing mistake, and
/// the same period a year earlier must still be a year the calendar has.
pub const REPORT_YEARS: RangeInclusive<i32> = 1900..=2999;

/// A date of a period from the wire, within [`REPORT_YEARS`].
fn report_date(field: &str, date: Option<&v1::Date>) -> Result<NaiveDate, FieldError> {
    let date = date_from_proto(field, date)?;
    if REPORT_YEARS.contains(&date.year()) {
        Ok(date)
    } else {
        Err(FieldError::new(
            field,
            format!(
                "{date} is outside the years a report can cover ({}–{})",
                REPORT_YEARS.start(),
                REPORT_YEARS.end()
            ),
        ))
    }
}

/// `digits` ASCII digits exactly, as a number.
fn strict_number(text: &str, digits: usize) -> Option<u32> {
    (text.len() == digits && text.bytes().all(|b| b.is_ascii_digit()))
        .then(|| text.parse().ok())
        .flatten()
}

fn strict_year(text: &str) -> Option<i32> {
    let year = i32::try_from(strict_number(text, 4)?).ok()?;
    REPORT_YEARS.contains(&year).then_some(year)
}

/// `YYYY-MM-DD`, digits only, in [`REPORT_YEARS`].
fn strict_date(text: &str) -> Option<NaiveDate> {
    let mut parts = text.split('-');
    let year = strict_year(parts.next()?)?;
    let month = strict_number(parts.next()?, 2)?;
    let day = strict_number(parts.next()?, 2)?;
    if parts.next().is_some() {
        return None;
    }
    NaiveDate::from_ymd_opt(year, month, day)
}

/// The same day one year earlier; 29 February becomes 28 February.
pub fn previous_year_date(date: NaiveDate) -> NaiveDate {
    date.with_year(date.year() - 1)
        .or_else(|| {
            date.pred_opt()
                .and_then(|day| day.with_year(day.year() - 1))
        })
        .unwrap_or(date)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ymd(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    #[test]
    fn labels_parse_to_inclusive_ranges() {
        let h1 = DatePeriod::parse("2024-H1").unwrap();
        assert_eq!((h1.start, h1.end), (ymd(2024, 1, 1), ymd(2024, 6, 30)));
        let h2 = DatePeriod::parse("2025-S2").unwrap();
        assert_eq!((h2.start, h2.end), (ymd(2025, 7, 1), ymd(2025, 12, 31)));
        let q3 = DatePeriod::parse("2024-q3").unwrap();
        assert_eq!((q3.start, q3.end), (ymd(2024, 7, 1), ymd(2024, 9, 30)));
        let year = DatePeriod::parse("2024").unwrap();
        assert_eq!((year.start, year.end), (ymd(2024, 1, 1), ymd(2024, 12, 31)));
        let feb = DatePeriod::parse("2024-02").unwrap();
        assert_eq!(feb.end, ymd(2024, 2, 29));
        let range = DatePeriod::parse("2024-01-15..2024-03-01").unwrap();
        assert_eq!(
            (range.start, range.end),
            (ymd(2024, 1, 15), ymd(2024, 3, 1))
        );
    }

    #[test]
    fn bad_labels_are_rejected() {
        for label in [
            "",
            "24-H1",
            "2024-H3",
            "2024-13",
            "2024-Q5",
            "2024-03-01..2024-01-01",
            "x",
            // Years a report cannot mean, and forms the documentation does not list.
            "0000",
            "0000-Q1",
            "1899",
            "3000-H1",
            "+202",
            "+2024",
            "2024-+1",
            "2024- 1",
            "2024-1",
            "2024-001",
            "0001-01-01..9999-12-31",
            "2024-01-01..3000-01-01",
            "+2024-01-01..2024-02-01",
            "2024-1-01..2024-02-01",
        ] {
            assert_eq!(DatePeriod::parse(label), None, "{label}");
        }
        let error = DatePeriod::from_proto("period", None).unwrap_err();
        assert_eq!(error.field, "period");
        let bad = v1::Period {
            kind: Some(v1::period::Kind::Label("2024-H9".into())),
        };
        assert_eq!(
            DatePeriod::from_proto("period", Some(&bad))
                .unwrap_err()
                .field,
            "period"
        );
    }

    #[test]
    fn ranges_from_the_wire_must_be_in_report_years() {
        let range = |start: (i32, i32, i32), end: (i32, i32, i32)| v1::Period {
            kind: Some(v1::period::Kind::Range(v1::DateRange {
                start: Some(v1::Date {
                    year: start.0,
                    month: start.1,
                    day: start.2,
                }),
                end: Some(v1::Date {
                    year: end.0,
                    month: end.1,
                    day: end.2,
                }),
            })),
        };
        let error =
            DatePeriod::from_proto("period", Some(&range((1000, 1, 1), (2024, 1, 1)))).unwrap_err();
        assert_eq!(error.field, "period.range.start");
        let error = DatePeriod::from_proto("period", Some(&range((2024, 1, 1), (9999, 12, 31))))
            .unwrap_err();
        assert_eq!(error.field, "period.range.end");
        assert!(
            DatePeriod::from_proto("period", Some(&range((1900, 1, 1), (2999, 12, 31)))).is_ok()
        );
        assert!(DatePeriod::parse("1900").is_some());
        assert!(DatePeriod::parse("2999-12").is_some());
    }

    #[test]
    fn as_of_before_the_period_is_refused() {
        let q3 = DatePeriod::parse("2024-Q3").unwrap();
        let date = |day| v1::Date {
            year: 2024,
            month: 6,
            day,
        };
        let error = q3.as_of_from_proto("as_of", Some(&date(30))).unwrap_err();
        assert_eq!(error.field, "as_of");
        assert!(error.message.contains("2024-07-01"), "{}", error.message);
        let first = v1::Date {
            year: 2024,
            month: 7,
            day: 1,
        };
        assert_eq!(
            q3.as_of_from_proto("as_of", Some(&first)).unwrap(),
            q3.start
        );
    }

    #[test]
    fn previous_year_handles_leap_days() {
        let h1 = DatePeriod::parse("2024-H1").unwrap().previous_year();
        assert_eq!((h1.start, h1.end), (ymd(2023, 1, 1), ymd(2023, 6, 30)));
        assert_eq!(previous_year_date(ymd(2024, 2, 29)), ymd(2023, 2, 28));
    }

    #[test]
    fn sdmx_labels() {
        assert_eq!(
            DatePeriod::parse("2024-H1").unwrap().sdmx_label(),
            "2024-S1"
        );
        assert_eq!(
            DatePeriod::parse("2024-Q3").unwrap().sdmx_label(),
            "2024-Q3"
        );
        assert_eq!(DatePeriod::parse("2024").unwrap().sdmx_label(), "2024");
        assert_eq!(
            DatePeriod::parse("2024-06").unwrap().sdmx_label(),
            "2024-06"
        );
        assert_eq!(
            DatePeriod::parse("2024-01-15..2024-03-01")
                .unwrap()
                .sdmx_label(),
            "2024-01-15/2024-03-01"
        );
    }
}
