//! Page sizes and opaque page tokens for keyset pagination. A token holds
//! the sort key of the last item of the page (hex-encoded, so clients treat
//! it as opaque rather than building their own).

use tasknet_domain::FieldError;

/// Items per page when the request says 0.
pub const DEFAULT_PAGE_SIZE: i64 = 100;
/// The most items a page holds.
pub const MAX_PAGE_SIZE: i64 = 1000;

/// The page size a request asks for: 0 means the default, larger than the
/// maximum means the maximum, negative is an error.
pub fn page_size(requested: i32) -> Result<i64, FieldError> {
    match i64::from(requested) {
        0 => Ok(DEFAULT_PAGE_SIZE),
        size if size < 0 => Err(FieldError::new("page_size", "must not be negative")),
        size => Ok(size.min(MAX_PAGE_SIZE)),
    }
}

/// The token of a task page ending at (assigned date, id).
pub fn task_token(assigned_date: i64, id: &str) -> String {
    hex::encode(format!("t/{assigned_date}/{id}"))
}

pub fn parse_task_token(token: &str) -> Result<Option<(i64, String)>, FieldError> {
    if token.is_empty() {
        return Ok(None);
    }
    unhex(token)
        .and_then(|text| {
            let rest = text.strip_prefix("t/")?;
            let (date, id) = rest.split_once('/')?;
            Some((date.parse().ok()?, id.to_owned()))
        })
        .map(Some)
        .ok_or_else(invalid_token)
}

/// The token of a plan page ending at `id`.
pub fn plan_token(id: &str) -> String {
    hex::encode(format!("p/{id}"))
}

pub fn parse_plan_token(token: &str) -> Result<Option<String>, FieldError> {
    if token.is_empty() {
        return Ok(None);
    }
    unhex(token)
        .and_then(|text| text.strip_prefix("p/").map(str::to_owned))
        .map(Some)
        .ok_or_else(invalid_token)
}

fn invalid_token() -> FieldError {
    FieldError::new("page_token", "is not a token this service issued")
}

fn unhex(token: &str) -> Option<String> {
    String::from_utf8(hex::decode(token).ok()?).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_sizes_default_and_cap() {
        assert_eq!(page_size(0).unwrap(), 100);
        assert_eq!(page_size(7).unwrap(), 7);
        assert_eq!(page_size(5000).unwrap(), 1000);
        assert_eq!(page_size(-1).unwrap_err().field, "page_size");
    }

    #[test]
    fn tokens_round_trip_and_reject_forgeries() {
        let token = task_token(20_240_630, "0190a5b2-7c3d-7e4f-8a1b-2c3d4e5f6a7b");
        assert_eq!(
            parse_task_token(&token).unwrap(),
            Some((
                20_240_630,
                "0190a5b2-7c3d-7e4f-8a1b-2c3d4e5f6a7b".to_owned()
            ))
        );
        assert_eq!(parse_task_token("").unwrap(), None);
        assert_eq!(parse_task_token("zz").unwrap_err().field, "page_token");
        assert!(parse_task_token(&plan_token("x")).is_err());
        assert_eq!(
            parse_plan_token(&plan_token("x")).unwrap(),
            Some("x".into())
        );
        assert!(parse_plan_token("é1").is_err());
    }
}
