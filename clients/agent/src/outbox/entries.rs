//! Reading the outbox for people: counts, entries with what the centre
//! answered, and the office's decisions about parked updates (retry, discard).

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::Row;
use sqlx::sqlite::SqliteRow;
use tasknet_proto::prost::Message;
use tasknet_proto::v1;
use uuid::Uuid;

use super::{Outbox, from_micros, parse_id};
use crate::error::{Error, Result};
use crate::update::UpdateKind;

/// Where an outbox entry stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum EntryState {
    /// Not yet acknowledged by the centre.
    Pending,
    /// Acknowledged: the centre has applied it (exactly once).
    Sent,
    /// Refused by the centre; its task's later updates wait behind it.
    Parked,
    /// A parked update the office gave up on.
    Discarded,
}

impl EntryState {
    fn from_storage(value: i64) -> Result<Self> {
        Ok(match value {
            0 => Self::Pending,
            1 => Self::Sent,
            2 => Self::Parked,
            3 => Self::Discarded,
            other => return Err(Error::Corrupt(format!("entry state {other}"))),
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Sent => "sent",
            Self::Parked => "parked",
            Self::Discarded => "discarded",
        }
    }
}

/// The centre's acknowledgement of an entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Ack {
    pub at: DateTime<Utc>,
    /// The task's version after the update.
    pub version: i64,
    /// The update's position in the centre's change log.
    pub cursor: i64,
    /// The centre had applied it before (an earlier attempt's answer was lost).
    pub duplicate: bool,
}

/// Why the centre refused an entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Refusal {
    pub at: DateTime<Utc>,
    /// The gRPC code (`INVALID_ARGUMENT`, `NOT_FOUND`, …).
    pub code: String,
    pub message: String,
    /// The request field at fault, when the centre named one.
    pub field: String,
}

/// One update in the outbox.
#[derive(Debug, Clone, PartialEq)]
pub struct OutboxEntry {
    /// The office's order.
    pub seq: i64,
    pub update_id: Uuid,
    pub task_id: Uuid,
    pub kind: UpdateKind,
    pub state: EntryState,
    pub effective_time: DateTime<Utc>,
    pub entered_at: DateTime<Utc>,
    /// `api`, `cli` or `import:<file>`.
    pub source: String,
    pub ack: Option<Ack>,
    pub refusal: Option<Refusal>,
    /// The item exactly as it is (or was) sent.
    pub request: v1::IngestRequest,
}

/// Counts by state, and the age of the oldest pending entry.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Counts {
    pub pending: u64,
    pub held: u64,
    pub sent: u64,
    pub parked: u64,
    pub discarded: u64,
    pub oldest_pending: Option<DateTime<Utc>>,
    pub last_push: Option<DateTime<Utc>>,
    pub last_error: Option<(DateTime<Utc>, String)>,
}

const ENTRY_COLUMNS: &str = "seq, update_id, task_id, kind, state, effective_time_us, \
     entered_at_us, source, request, sent_at_us, ack_version, ack_cursor, ack_duplicate, \
     parked_at_us, error_code, error_message, error_field";

impl Outbox {
    pub async fn counts(&self) -> Result<Counts> {
        let mut counts = Counts::default();
        let rows = sqlx::query("SELECT state, COUNT(*) AS n FROM outbox GROUP BY state")
            .fetch_all(self.pool())
            .await?;
        for row in rows {
            let n = row.try_get::<i64, _>("n")?.max(0) as u64;
            match EntryState::from_storage(row.try_get("state")?)? {
                EntryState::Pending => counts.pending = n,
                EntryState::Sent => counts.sent = n,
                EntryState::Parked => counts.parked = n,
                EntryState::Discarded => counts.discarded = n,
            }
        }
        let row = sqlx::query(
            "SELECT (SELECT MIN(entered_at_us) FROM outbox WHERE state = 0) AS oldest, \
             (SELECT COUNT(*) FROM outbox p WHERE p.state = 0 AND EXISTS (SELECT 1 FROM outbox q \
              WHERE q.task_id = p.task_id AND q.state = 2 AND q.seq < p.seq)) AS held, \
             last_push_us, last_error, last_error_us FROM push_state WHERE id = 1",
        )
        .fetch_one(self.pool())
        .await?;
        counts.held = row.try_get::<i64, _>("held")?.max(0) as u64;
        counts.oldest_pending = row
            .try_get::<Option<i64>, _>("oldest")?
            .and_then(from_micros);
        counts.last_push = row
            .try_get::<Option<i64>, _>("last_push_us")?
            .and_then(from_micros);
        let error_at = row
            .try_get::<Option<i64>, _>("last_error_us")?
            .and_then(from_micros);
        let error: Option<String> = row.try_get("last_error")?;
        counts.last_error = error_at.zip(error);
        Ok(counts)
    }

    /// Every entry, in the office's order.
    pub async fn entries(&self) -> Result<Vec<OutboxEntry>> {
        let sql = format!("SELECT {ENTRY_COLUMNS} FROM outbox ORDER BY seq");
        let rows = sqlx::query(&sql).fetch_all(self.pool()).await?;
        rows.iter().map(entry).collect()
    }

    /// Entries in one state, oldest first, at most `limit`.
    pub async fn entries_in(&self, state: EntryState, limit: usize) -> Result<Vec<OutboxEntry>> {
        let stored = match state {
            EntryState::Pending => 0,
            EntryState::Sent => 1,
            EntryState::Parked => 2,
            EntryState::Discarded => 3,
        };
        let sql =
            format!("SELECT {ENTRY_COLUMNS} FROM outbox WHERE state = $1 ORDER BY seq LIMIT $2");
        let rows = sqlx::query(&sql)
            .bind(stored)
            .bind(i64::try_from(limit).unwrap_or(i64::MAX))
            .fetch_all(self.pool())
            .await?;
        rows.iter().map(entry).collect()
    }

    /// The office's updates its copy of the centre's tasks does not show
    /// yet: pending ones (held included), and acknowledged ones the feed has
    /// not brought back yet; in the office's order.
    pub async fn unseen_entries(&self) -> Result<Vec<OutboxEntry>> {
        let sql = format!(
            "SELECT {ENTRY_COLUMNS} FROM outbox o WHERE o.state IN (0, 1) AND NOT EXISTS \
             (SELECT 1 FROM task_events e WHERE e.update_id = o.update_id) ORDER BY o.seq"
        );
        let rows = sqlx::query(&sql).fetch_all(self.pool()).await?;
        rows.iter().map(entry).collect()
    }

    pub async fn entry(&self, update_id: Uuid) -> Result<Option<OutboxEntry>> {
        let sql = format!("SELECT {ENTRY_COLUMNS} FROM outbox WHERE update_id = $1");
        let row = sqlx::query(&sql)
            .bind(update_id.to_string())
            .fetch_optional(self.pool())
            .await?;
        row.as_ref().map(entry).transpose()
    }

    /// Moves a parked entry to `to` (pending again, or discarded).
    pub async fn resolve_parked(&self, update_id: Uuid, to: EntryState) -> Result<()> {
        let state = match to {
            EntryState::Pending => 0,
            EntryState::Discarded => 3,
            EntryState::Sent | EntryState::Parked => {
                return Err(Error::Corrupt(format!(
                    "cannot move a parked entry to {}",
                    to.as_str()
                )));
            }
        };
        let changed =
            sqlx::query("UPDATE outbox SET state = $2 WHERE update_id = $1 AND state = 2")
                .bind(update_id.to_string())
                .bind(state)
                .execute(self.pool())
                .await?
                .rows_affected();
        if changed == 1 {
            return Ok(());
        }
        match self.entry(update_id).await? {
            None => Err(Error::UnknownUpdate(update_id.to_string())),
            Some(entry) => Err(Error::NotParked {
                update_id: update_id.to_string(),
                state: entry.state.as_str().to_owned(),
            }),
        }
    }
}

fn instant(row: &SqliteRow, column: &str) -> Result<Option<DateTime<Utc>>> {
    Ok(row.try_get::<Option<i64>, _>(column)?.and_then(from_micros))
}

fn entry(row: &SqliteRow) -> Result<OutboxEntry> {
    let kind = row.try_get::<i64, _>("kind")?;
    let request: Vec<u8> = row.try_get("request")?;
    let seq: i64 = row.try_get("seq")?;
    let ack = match (
        instant(row, "sent_at_us")?,
        row.try_get::<Option<i64>, _>("ack_version")?,
    ) {
        (Some(at), Some(version)) => Some(Ack {
            at,
            version,
            cursor: row
                .try_get::<Option<i64>, _>("ack_cursor")?
                .unwrap_or_default(),
            duplicate: row
                .try_get::<Option<i64>, _>("ack_duplicate")?
                .unwrap_or_default()
                != 0,
        }),
        _ => None,
    };
    let refusal = match instant(row, "parked_at_us")? {
        Some(at) => Some(Refusal {
            at,
            code: code_name(
                row.try_get::<Option<i64>, _>("error_code")?
                    .unwrap_or_default(),
            ),
            message: row
                .try_get::<Option<String>, _>("error_message")?
                .unwrap_or_default(),
            field: row
                .try_get::<Option<String>, _>("error_field")?
                .unwrap_or_default(),
        }),
        None => None,
    };
    Ok(OutboxEntry {
        seq,
        update_id: parse_id(&row.try_get::<String, _>("update_id")?)?,
        task_id: parse_id(&row.try_get::<String, _>("task_id")?)?,
        kind: UpdateKind::from_storage(kind)
            .ok_or_else(|| Error::Corrupt(format!("entry {seq} has kind {kind}")))?,
        state: EntryState::from_storage(row.try_get("state")?)?,
        effective_time: instant(row, "effective_time_us")?.unwrap_or_default(),
        entered_at: instant(row, "entered_at_us")?.unwrap_or_default(),
        source: row.try_get("source")?,
        ack,
        refusal,
        request: v1::IngestRequest::decode(request.as_slice())
            .map_err(|error| Error::Corrupt(format!("entry {seq}: {error}")))?,
    })
}

/// `INVALID_ARGUMENT` for 3, and so on.
pub(crate) fn code_name(code: i64) -> String {
    let code = i32::try_from(code).unwrap_or(2);
    let name = format!("{:?}", tasknet_proto::tonic::Code::from_i32(code));
    // `InvalidArgument` → `INVALID_ARGUMENT`.
    let mut upper = String::with_capacity(name.len() + 4);
    for (i, c) in name.chars().enumerate() {
        if c.is_uppercase() && i > 0 {
            upper.push('_');
        }
        upper.push(c.to_ascii_uppercase());
    }
    upper
}
