//! Reporting periods: "2024-H1", "2024-Q3", "2024", "2024-06" or explicit
//! dates, and the same period one year earlier.

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
    /// half-years), `YYYY-Q1..Q4`, `YYYY-MM`, or `YYYY-MM-DD..YYYY-MM-DD`.
    pub fn parse(label: &str) -> Option<Self> {
        let label = label.trim();
        if let Some((start, end)) = label.split_once("..") {
            let start = NaiveDate::parse_from_str(start.trim(), "%Y-%m-%d").ok()?;
            let end = NaiveDate::parse_from_str(end.trim(), "%Y-%m-%d").ok()?;
            return Self::new(start, end);
        }
        let (year, part) = match label.split_once('-') {
            Some((year, part)) => (year, Some(part)),
            None => (label, None),
        };
        if year.len() != 4 {
            return None;
        }
        let year: i32 = year.parse().ok()?;
        let (first_month, months) = match part.map(str::to_ascii_uppercase).as_deref() {
            None => (1, 12),
            Some("H1" | "S1") => (1, 6),
            Some("H2" | "S2") => (7, 6),
            Some("Q1") => (1, 3),
            Some("Q2") => (4, 3),
            Some("Q3") => (7, 3),
            Some("Q4") => (10, 3),
            Some(month) if month.len() == 2 => (month.parse::<u32>().ok()?, 1),
            Some(_) => return None,
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
                    format!("{label:?} is not a period (try 2024, 2024-H1, 2024-Q3, 2024-06)"),
                )
            }),
            Some(Kind::Range(range)) => {
                let start = date_from_proto(&format!("{field}.range.start"), range.start.as_ref())?;
                let end = date_from_proto(&format!("{field}.range.end"), range.end.as_ref())?;
                Self::new(start, end).ok_or_else(|| {
                    FieldError::new(format!("{field}.range.end"), "is before the start")
                })
            }
        }
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
