//! Single fields of a request: ids, dates, instants and free text, each
//! refused with the field's name when it is malformed.

use chrono::{DateTime, NaiveDate, Utc};
use tasknet_domain::error::parse_uuid;
use tasknet_domain::{FieldError, optional_date_from_proto, timestamp_from_proto};
use tasknet_proto::v1;

/// How far ahead of the server's clock an effective time may be (clock skew, time zones).
pub(super) const MAX_FUTURE: chrono::TimeDelta = chrono::TimeDelta::days(1);

/// A required UUIDv7, normalised.
pub fn uuid_v7(field: &str, value: &str) -> Result<String, FieldError> {
    let id = parse_uuid(field, value)?;
    match id.get_version_num() {
        7 => Ok(id.to_string()),
        version => Err(FieldError::new(
            field,
            format!("must be a UUIDv7 ({value:?} is version {version})"),
        )),
    }
}

/// A required UUID of any version, normalised.
pub fn uuid_any(field: &str, value: &str) -> Result<String, FieldError> {
    Ok(parse_uuid(field, value)?.to_string())
}

/// An optional UUID filter: empty means no filter.
pub fn optional_uuid(field: &str, value: &str) -> Result<Option<String>, FieldError> {
    if value.is_empty() {
        return Ok(None);
    }
    uuid_any(field, value).map(Some)
}

/// An optional inclusive date range filter; either end may be open.
pub fn optional_date_range(
    field: &str,
    range: Option<&v1::DateRange>,
) -> Result<(Option<NaiveDate>, Option<NaiveDate>), FieldError> {
    let Some(range) = range else {
        return Ok((None, None));
    };
    let start = optional_date_from_proto(&format!("{field}.start"), range.start.as_ref())?;
    let end = optional_date_from_proto(&format!("{field}.end"), range.end.as_ref())?;
    if let (Some(start), Some(end)) = (start, end)
        && end < start
    {
        return Err(FieldError::new(
            format!("{field}.end"),
            "is before the start",
        ));
    }
    Ok((start, end))
}

pub(super) fn effective_time(
    timestamp: Option<&tasknet_proto::prost_types::Timestamp>,
    now: DateTime<Utc>,
) -> Result<DateTime<Utc>, FieldError> {
    let instant = timestamp_from_proto("effective_time", timestamp)?;
    if instant > now + MAX_FUTURE {
        return Err(FieldError::new(
            "effective_time",
            format!("{instant} is more than a day in the future"),
        ));
    }
    Ok(instant)
}

/// Free text: length in characters, and no control characters other than
/// line breaks and tabs (PostgreSQL cannot store NUL in text at all).
pub(super) fn text(
    field: &str,
    value: &str,
    max_chars: usize,
    required: bool,
) -> Result<String, FieldError> {
    if required && value.trim().is_empty() {
        return Err(FieldError::missing(field));
    }
    let chars = value.chars().count();
    if chars > max_chars {
        return Err(FieldError::new(
            field,
            format!("is {chars} characters long; at most {max_chars} are allowed"),
        ));
    }
    if value
        .chars()
        .any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t'))
    {
        return Err(FieldError::new(field, "contains control characters"));
    }
    Ok(value.to_owned())
}

/// A single line that reports and screens show (a title, a name): [`text`],
/// and no line breaks, tabs or bidirectional formatting characters either.
pub(super) fn line(
    field: &str,
    value: &str,
    max_chars: usize,
    required: bool,
) -> Result<String, FieldError> {
    tasknet_domain::text::check_line(field, value)?;
    text(field, value, max_chars, required)
}
