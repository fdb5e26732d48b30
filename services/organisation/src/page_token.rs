//! Opaque page tokens: for ListUnits, the (code, id) of the last unit of the
//! previous page (keyset paging, so pages stay correct while units are
//! added), bound to the filters they were issued for; [`seal`] and [`open`]
//! do the same for the other listings (unit contacts).

use tasknet_domain::FieldError;

use crate::repository::{Cursor, UnitFilter};

const FIELD: &str = "page_token";
/// The unit listing's kind of token.
const VERSION: &str = "u1";
/// Separates the parts; codes cannot contain control characters.
const SEPARATOR: char = '\u{1f}';

/// The token that continues after `cursor` under `filter`.
pub fn encode(filter: &UnitFilter, cursor: &Cursor) -> String {
    seal(
        VERSION,
        &filter_text(filter),
        &[cursor.code.as_str(), &cursor.id],
    )
}

/// The cursor in `token` (`None` for an empty token, the first page). A token
/// that does not decode, or that was issued for other filters, names the field.
pub fn decode(filter: &UnitFilter, token: &str) -> Result<Option<Cursor>, FieldError> {
    let Some(parts) = open(VERSION, &filter_text(filter), token)? else {
        return Ok(None);
    };
    let [code, id] = parts.as_slice() else {
        return Err(not_issued());
    };
    if code.is_empty() || uuid::Uuid::try_parse(id).is_err() {
        return Err(not_issued());
    }
    Ok(Some(Cursor {
        code: code.clone(),
        id: id.clone(),
    }))
}

fn filter_text(filter: &UnitFilter) -> String {
    format!(
        "{:?}|{:?}|{:?}|{:?}|{:?}",
        filter.category.map(|c| c as i32),
        filter.parent_id,
        filter.region_code,
        filter.code,
        filter.as_of.map(tasknet_domain::date_to_storage),
    )
}

/// A token of `kind` (a listing's own version tag) carrying `parts` (which
/// must not contain control characters), bound to `filters` (the request's
/// filters as text).
pub(crate) fn seal(kind: &str, filters: &str, parts: &[&str]) -> String {
    let print = format!("{:016x}", fingerprint(filters));
    let mut all = vec![kind, print.as_str()];
    all.extend_from_slice(parts);
    hex::encode(all.join(&SEPARATOR.to_string()))
}

/// The parts [`seal`] put in `token` (`None` for an empty token, the first
/// page). A token of another kind, or issued for other filters, names the field.
pub(crate) fn open(
    kind: &str,
    filters: &str,
    token: &str,
) -> Result<Option<Vec<String>>, FieldError> {
    if token.is_empty() {
        return Ok(None);
    }
    let bytes = hex::decode(token).map_err(|_| not_issued())?;
    let plain = String::from_utf8(bytes).map_err(|_| not_issued())?;
    let mut parts = plain.split(SEPARATOR);
    if parts.next() != Some(kind) {
        return Err(not_issued());
    }
    if parts.next() != Some(format!("{:016x}", fingerprint(filters)).as_str()) {
        return Err(FieldError::new(
            FIELD,
            "was issued for a request with other filters",
        ));
    }
    Ok(Some(parts.map(str::to_owned).collect()))
}

fn not_issued() -> FieldError {
    FieldError::new(FIELD, "is not a token this service issued")
}

/// FNV-1a over the filters: stable across builds and machines, unlike
/// `DefaultHasher`, so any replica accepts a token another replica issued.
fn fingerprint(filters: &str) -> u64 {
    filters.bytes().fold(0xcbf2_9ce4_8422_2325, |hash, byte| {
        (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cursor() -> Cursor {
        Cursor {
            code: "Hà-01".into(),
            id: "0190a5b2-7c3d-7e4f-8a1b-2c3d4e5f6a7b".into(),
        }
    }

    #[test]
    fn tokens_round_trip() {
        let filter = UnitFilter::default();
        let token = encode(&filter, &cursor());
        assert!(token.chars().all(|c| c.is_ascii_hexdigit()));
        assert_eq!(decode(&filter, &token).unwrap(), Some(cursor()));
        assert_eq!(decode(&filter, "").unwrap(), None);
    }

    #[test]
    fn malformed_tokens_name_the_field() {
        let filter = UnitFilter::default();
        for token in [
            "zz",
            "abc",
            "00",
            "é1",
            &hex::encode("u1\u{1f}0\u{1f}01\u{1f}nope"),
        ] {
            assert_eq!(decode(&filter, token).unwrap_err().field, FIELD, "{token}");
        }
    }

    #[test]
    fn tokens_are_bound_to_their_filters() {
        let token = encode(&UnitFilter::default(), &cursor());
        let other = UnitFilter {
            code: Some("01".into()),
            ..Default::default()
        };
        assert_eq!(decode(&other, &token).unwrap_err().field, FIELD);
    }
}
