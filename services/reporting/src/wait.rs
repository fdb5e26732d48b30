//! Read-your-writes: waiting, within a request's deadline, until the read
//! model has applied a given change-log cursor.

use std::time::Duration;

use tasknet_domain::FieldError;
use tasknet_proto::tonic::metadata::MetadataMap;
use tokio::sync::watch;

use crate::error::Error;

/// How long to wait when the caller set no deadline.
pub const DEFAULT_WAIT: Duration = Duration::from_secs(10);

/// The part of the caller's deadline left for waiting: answering a little
/// before it lets the caller see our explanation rather than its own timeout.
pub fn wait_budget(metadata: &MetadataMap) -> Duration {
    let Some(timeout) = metadata
        .get("grpc-timeout")
        .and_then(|value| value.to_str().ok())
        .and_then(parse_grpc_timeout)
    else {
        return DEFAULT_WAIT;
    };
    timeout
        .mul_f64(0.9)
        .saturating_sub(Duration::from_millis(5))
}

/// Parses the `grpc-timeout` header: up to 8 digits and a unit (H M S m u n).
fn parse_grpc_timeout(value: &str) -> Option<Duration> {
    let split = value.len().checked_sub(1)?;
    let (digits, unit) = value.split_at(split);
    if digits.is_empty() || digits.len() > 8 {
        return None;
    }
    let amount: u64 = digits.parse().ok()?;
    Some(match unit {
        "H" => Duration::from_secs(amount * 3600),
        "M" => Duration::from_secs(amount * 60),
        "S" => Duration::from_secs(amount),
        "m" => Duration::from_millis(amount),
        "u" => Duration::from_micros(amount),
        "n" => Duration::from_nanos(amount),
        _ => return None,
    })
}

/// Checks `min_cursor` (0 means "no wait").
pub fn validate_min_cursor(min_cursor: i64) -> Result<i64, FieldError> {
    if min_cursor < 0 {
        return Err(FieldError::new("min_cursor", "must not be negative"));
    }
    Ok(min_cursor)
}

/// Waits until `applied` reaches `min_cursor`, for at most `budget`; returns
/// the applied cursor then.
pub async fn wait_for_cursor(
    applied: &watch::Receiver<i64>,
    min_cursor: i64,
    budget: Duration,
) -> Result<i64, Error> {
    let mut receiver = applied.clone();
    let current = *receiver.borrow_and_update();
    if current >= min_cursor {
        return Ok(current);
    }
    let reached =
        tokio::time::timeout(budget, receiver.wait_for(|cursor| *cursor >= min_cursor)).await;
    match reached {
        Ok(Ok(cursor)) => Ok(*cursor),
        // Timed out, or the follower is gone (shutting down).
        Ok(Err(_)) | Err(_) => Err(Error::NotCaughtUp {
            min_cursor,
            applied: *applied.borrow(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grpc_timeouts_parse() {
        assert_eq!(parse_grpc_timeout("5S"), Some(Duration::from_secs(5)));
        assert_eq!(parse_grpc_timeout("250m"), Some(Duration::from_millis(250)));
        assert_eq!(parse_grpc_timeout("2H"), Some(Duration::from_secs(7200)));
        assert_eq!(parse_grpc_timeout("S"), None);
        assert_eq!(parse_grpc_timeout("123456789S"), None);
        assert_eq!(parse_grpc_timeout("5x"), None);
        assert_eq!(wait_budget(&MetadataMap::new()), DEFAULT_WAIT);
    }

    #[tokio::test]
    async fn waits_until_the_cursor_is_applied_or_times_out() {
        let (sender, receiver) = watch::channel(3_i64);
        assert_eq!(
            wait_for_cursor(&receiver, 2, Duration::ZERO).await.unwrap(),
            3
        );
        let waiting = tokio::spawn({
            let receiver = receiver.clone();
            async move { wait_for_cursor(&receiver, 7, Duration::from_secs(5)).await }
        });
        sender.send_replace(5);
        sender.send_replace(8);
        assert_eq!(waiting.await.unwrap().unwrap(), 8);
        let error = wait_for_cursor(&receiver, 9, Duration::from_millis(20))
            .await
            .unwrap_err();
        assert!(matches!(
            error,
            Error::NotCaughtUp {
                min_cursor: 9,
                applied: 8
            }
        ));
        assert!(validate_min_cursor(-1).is_err());
    }
}
