//! The pusher's side of the outbox: reading what is still to send, and
//! recording what the centre answered (several answers per transaction).

use sqlx::Row;

use super::{Outbox, micros};
use crate::error::Result;

/// An unsent row: pending, or parked (which holds back its task's later rows).
#[derive(Debug, Clone)]
pub(crate) struct StoredItem {
    pub seq: i64,
    pub update_id: String,
    pub task_id: String,
    pub parked: bool,
    pub request: Vec<u8>,
}

/// What became of a sent row.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Outcome {
    /// Acknowledged: applied now, or recognised as applied before.
    Sent {
        seq: i64,
        at_us: i64,
        version: i64,
        cursor: i64,
        duplicate: bool,
    },
    /// Refused for good: kept with the reason until the office acts.
    Parked {
        seq: i64,
        at_us: i64,
        code: i32,
        message: String,
        field: String,
    },
}

impl Outbox {
    /// The first `limit` pending or parked rows, in the office's order.
    pub async fn load_unsent(&self, limit: usize) -> Result<Vec<StoredItem>> {
        let rows = sqlx::query(
            "SELECT seq, update_id, task_id, state, request FROM outbox \
             WHERE state IN (0, 2) ORDER BY seq LIMIT $1",
        )
        .bind(i64::try_from(limit).unwrap_or(i64::MAX))
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|row| {
                Ok(StoredItem {
                    seq: row.try_get("seq")?,
                    update_id: row.try_get("update_id")?,
                    task_id: row.try_get("task_id")?,
                    parked: row.try_get::<i64, _>("state")? == 2,
                    request: row.try_get("request")?,
                })
            })
            .collect()
    }

    /// Writes answers, the time of the last acknowledgement and the last
    /// error (cleared by an acknowledgement after it), in one transaction. Only pending rows change: a row the office
    /// retried or discarded meanwhile keeps what the office decided.
    pub async fn record(
        &self,
        outcomes: &[Outcome],
        last_error: Option<&(i64, String)>,
    ) -> Result<()> {
        let mut transaction = self.pool().begin().await?;
        let mut last_push = None;
        for outcome in outcomes {
            match outcome {
                Outcome::Sent {
                    seq,
                    at_us,
                    version,
                    cursor,
                    duplicate,
                } => {
                    sqlx::query(
                        "UPDATE outbox SET state = 1, sent_at_us = $2, ack_version = $3, \
                         ack_cursor = $4, ack_duplicate = $5 WHERE seq = $1 AND state = 0",
                    )
                    .bind(seq)
                    .bind(at_us)
                    .bind(version)
                    .bind(cursor)
                    .bind(i64::from(*duplicate))
                    .execute(&mut *transaction)
                    .await?;
                    last_push = Some(last_push.map_or(*at_us, |last: i64| last.max(*at_us)));
                }
                Outcome::Parked {
                    seq,
                    at_us,
                    code,
                    message,
                    field,
                } => {
                    sqlx::query(
                        "UPDATE outbox SET state = 2, parked_at_us = $2, error_code = $3, \
                         error_message = $4, error_field = $5 WHERE seq = $1 AND state = 0",
                    )
                    .bind(seq)
                    .bind(at_us)
                    .bind(i64::from(*code))
                    .bind(message)
                    .bind(field)
                    .execute(&mut *transaction)
                    .await?;
                }
            }
        }
        if let Some(at_us) = last_push {
            sqlx::query("UPDATE push_state SET last_push_us = $1 WHERE id = 1")
                .bind(at_us)
                .execute(&mut *transaction)
                .await?;
            // A push acknowledged after the last error: the error is over,
            // and `tasknet agent status` must not keep showing it.
            sqlx::query(
                "UPDATE push_state SET last_error = NULL, last_error_us = NULL \
                 WHERE id = 1 AND last_error_us < $1",
            )
            .bind(at_us)
            .execute(&mut *transaction)
            .await?;
        }
        if let Some((at_us, message)) = last_error {
            sqlx::query("UPDATE push_state SET last_error = $1, last_error_us = $2 WHERE id = 1")
                .bind(message)
                .bind(at_us)
                .execute(&mut *transaction)
                .await?;
        }
        transaction.commit().await?;
        Ok(())
    }
}

/// The current time as stored.
pub(crate) fn now_us() -> i64 {
    micros(chrono::Utc::now())
}
