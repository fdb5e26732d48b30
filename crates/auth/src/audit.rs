//! The audit log every service keeps in its own database, in a table of the
//! same shape (`audit_log`, created by this crate's migrations, which each
//! service lists among its `Migrations::shared`): accepted
//! changes, written in the transaction of the change itself, and rejected
//! attempts, written on their own and rate-limited per caller.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use sqlx::any::AnyRow;
use sqlx::migrate::Migrator;
use sqlx::{AnyConnection, AnyPool, Row};
use tasknet_domain::{FieldError, error::parse_uuid, timestamp_from_proto, timestamp_to_proto};
use tasknet_proto::tonic::Status;
use tasknet_proto::v1::{self, AuditOutcome};
use tasknet_storage::Migrations;
use tasknet_storage::bulk::{Arg, BulkInsert};
use tokio_util::task::TaskTracker;

use crate::principal::{AuthContext, Principal, Role};
use crate::rate::{KeyedLimiter, Rate, Take};

static SQLITE: Migrator = sqlx::migrate!("./migrations/sqlite");
static POSTGRES: Migrator = sqlx::migrate!("./migrations/postgres");

/// The `audit_log` table, for every service's `Migrations::shared`.
pub static MIGRATIONS: Migrations = Migrations::new(&SQLITE, &POSTGRES);

const COLUMNS: &str = "time_us, rpc, outcome, credential_id, unit_id, role, peer, target, \
                       subject_unit_id, before_json, after_json, message, suppressed";
/// Rows per multi-row INSERT (13 parameters each).
const INSERT_CHUNK: usize = 50;
const DEFAULT_PAGE_SIZE: i64 = 100;
const MAX_PAGE_SIZE: i64 = 1000;
/// Longest rejection message kept.
const MAX_MESSAGE_CHARS: usize = 500;

/// One audit record to write.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditEntry {
    pub time_us: i64,
    pub rpc: String,
    pub outcome: i32,
    pub credential_id: String,
    pub unit_id: String,
    pub role: i32,
    pub peer: String,
    pub target: String,
    pub subject_unit_id: String,
    pub before: String,
    pub after: String,
    pub message: String,
    pub suppressed: i64,
}

impl AuditEntry {
    /// An accepted change by the caller of `context`.
    pub fn accepted(context: &AuthContext, target: String, subject_unit_id: &str) -> Self {
        let mut entry = Self::by(Some(&context.principal), &context.rpc, context.peer_text());
        entry.outcome = AuditOutcome::Accepted as i32;
        entry.target = target;
        subject_unit_id.clone_into(&mut entry.subject_unit_id);
        entry
    }

    /// The state before and after, as JSON (empty for none).
    pub fn with_change(mut self, before: Option<String>, after: Option<String>) -> Self {
        self.before = before.unwrap_or_default();
        self.after = after.unwrap_or_default();
        self
    }

    /// A rejected attempt.
    pub fn rejected(
        principal: Option<&Principal>,
        rpc: &str,
        peer: Option<String>,
        outcome: AuditOutcome,
        message: &str,
    ) -> Self {
        let mut entry = Self::by(principal, rpc, peer);
        entry.outcome = outcome as i32;
        entry.message = message.chars().take(MAX_MESSAGE_CHARS).collect();
        entry
    }

    fn by(principal: Option<&Principal>, rpc: &str, peer: Option<String>) -> Self {
        Self {
            time_us: Utc::now().timestamp_micros(),
            rpc: rpc.to_owned(),
            credential_id: principal
                .map(|p| p.credential_id.clone())
                .unwrap_or_default(),
            unit_id: principal
                .and_then(|p| p.unit_id.clone())
                .unwrap_or_default(),
            role: principal.map_or(Role::Unspecified, |p| p.role) as i32,
            peer: peer.unwrap_or_default(),
            ..Self::default()
        }
    }

    fn to_proto(&self, id: i64) -> v1::AuditRecord {
        v1::AuditRecord {
            id,
            time: DateTime::<Utc>::from_timestamp_micros(self.time_us).map(timestamp_to_proto),
            rpc: self.rpc.clone(),
            outcome: self.outcome,
            credential_id: self.credential_id.clone(),
            unit_id: self.unit_id.clone(),
            role: self.role,
            peer: self.peer.clone(),
            target: self.target.clone(),
            subject_unit_id: self.subject_unit_id.clone(),
            before: self.before.clone(),
            after: self.after.clone(),
            message: self.message.clone(),
            suppressed: self.suppressed,
        }
    }
}

/// Writes entries, a few statements whatever their number; call it inside
/// the transaction of the changes they record.
pub async fn insert(connection: &mut AnyConnection, entries: &[AuditEntry]) -> sqlx::Result<()> {
    BulkInsert::new(&format!("INSERT INTO audit_log ({COLUMNS})"))
        .rows_per_statement(INSERT_CHUNK)
        .execute(connection, entries, |e| {
            [
                Arg::Int(e.time_us),
                Arg::Text(e.rpc.clone()),
                Arg::Int(i64::from(e.outcome)),
                Arg::Text(e.credential_id.clone()),
                Arg::Text(e.unit_id.clone()),
                Arg::Int(i64::from(e.role)),
                Arg::Text(e.peer.clone()),
                Arg::Text(e.target.clone()),
                Arg::Text(e.subject_unit_id.clone()),
                Arg::Text(e.before.clone()),
                Arg::Text(e.after.clone()),
                Arg::Text(e.message.clone()),
                Arg::Int(e.suppressed),
            ]
        })
        .await
}

/// [`insert`] through the native PostgreSQL driver: one statement for any
/// number of entries, each column bound as an array and unnested (the task
/// writer's typed path, docs/design.md "Typed PostgreSQL paths").
pub async fn insert_postgres(
    connection: &mut sqlx::PgConnection,
    entries: &[AuditEntry],
) -> sqlx::Result<()> {
    if entries.is_empty() {
        return Ok(());
    }
    let text = |field: fn(&AuditEntry) -> &str| entries.iter().map(field).collect::<Vec<_>>();
    let int = |field: fn(&AuditEntry) -> i64| entries.iter().map(field).collect::<Vec<_>>();
    sqlx::query(&format!(
        "INSERT INTO audit_log ({COLUMNS}) SELECT * FROM UNNEST($1::bigint[], $2::text[], \
         $3::bigint[], $4::text[], $5::text[], $6::bigint[], $7::text[], $8::text[], \
         $9::text[], $10::text[], $11::text[], $12::text[], $13::bigint[])"
    ))
    .bind(int(|e| e.time_us))
    .bind(text(|e| &e.rpc))
    .bind(int(|e| i64::from(e.outcome)))
    .bind(text(|e| &e.credential_id))
    .bind(text(|e| &e.unit_id))
    .bind(int(|e| i64::from(e.role)))
    .bind(text(|e| &e.peer))
    .bind(text(|e| &e.target))
    .bind(text(|e| &e.subject_unit_id))
    .bind(text(|e| &e.before))
    .bind(text(|e| &e.after))
    .bind(text(|e| &e.message))
    .bind(int(|e| e.suppressed))
    .execute(connection)
    .await?;
    Ok(())
}

/// Which records to list.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditFilter {
    pub unit_id: Option<String>,
    pub since_us: Option<i64>,
    pub outcome: Option<i32>,
    /// Records after this id (oldest first), or before it (newest first).
    pub after_id: i64,
    pub newest_first: bool,
    pub limit: i64,
}

impl AuditFilter {
    /// Validates a ListAuditRecords request.
    pub fn from_request(request: &v1::ListAuditRecordsRequest) -> Result<Self, FieldError> {
        let unit_id = match request.unit_id.as_str() {
            "" => None,
            id => Some(parse_uuid("unit_id", id)?.hyphenated().to_string()),
        };
        let since_us = match &request.since {
            Some(_) => {
                Some(timestamp_from_proto("since", request.since.as_ref())?.timestamp_micros())
            }
            None => None,
        };
        let outcome = match AuditOutcome::try_from(request.outcome) {
            Ok(AuditOutcome::Unspecified) => None,
            Ok(outcome) => Some(outcome as i32),
            Err(_) => {
                let message = format!("{} is not an audit outcome", request.outcome);
                return Err(FieldError::new("outcome", message));
            }
        };
        let limit = match i64::from(request.page_size) {
            0 => DEFAULT_PAGE_SIZE,
            size @ 1..=MAX_PAGE_SIZE => size,
            size => {
                let message =
                    format!("{size} is not between 0 and {MAX_PAGE_SIZE} (page size limit)");
                return Err(FieldError::new("page_size", message));
            }
        };
        // Tokens say which way they page: `a` after an id, `b` before it.
        let (prefix, first) = if request.newest_first {
            ("b", i64::MAX)
        } else {
            ("a", 0)
        };
        let after_id = match request.page_token.as_str() {
            "" => first,
            token => token
                .strip_prefix(prefix)
                .and_then(|id| id.parse::<i64>().ok())
                .filter(|id| *id > 0)
                .ok_or_else(|| {
                    FieldError::new(
                        "page_token",
                        "is not a token this service issued for this order",
                    )
                })?,
        };
        Ok(Self {
            unit_id,
            since_us,
            outcome,
            after_id,
            newest_first: request.newest_first,
            limit,
        })
    }
}

/// A page of records, oldest (or newest) first, and the token of the next page.
pub async fn list(
    pool: &AnyPool,
    filter: &AuditFilter,
) -> sqlx::Result<(Vec<v1::AuditRecord>, String)> {
    let (from, order, prefix) = if filter.newest_first {
        ("<", "DESC", "b")
    } else {
        (">", "ASC", "a")
    };
    let mut sql = format!("SELECT id, {COLUMNS} FROM audit_log WHERE id {from} $1");
    let mut n = 1;
    let mut next = |sql: &mut String, clause: &str| {
        n += 1;
        sql.push_str(&clause.replace('?', &format!("${n}")));
    };
    if filter.since_us.is_some() {
        next(&mut sql, " AND time_us >= ?");
    }
    if filter.unit_id.is_some() {
        next(&mut sql, " AND (unit_id = ? OR subject_unit_id = ?)");
    }
    if filter.outcome.is_some() {
        next(&mut sql, " AND outcome = ?");
    }
    next(&mut sql, &format!(" ORDER BY id {order} LIMIT ?"));
    let mut query = sqlx::query(&sql).bind(filter.after_id);
    if let Some(since) = filter.since_us {
        query = query.bind(since);
    }
    if let Some(unit) = &filter.unit_id {
        query = query.bind(unit.as_str());
    }
    if let Some(outcome) = filter.outcome {
        query = query.bind(i64::from(outcome));
    }
    let rows = query.bind(filter.limit + 1).fetch_all(pool).await?;
    let mut records = rows
        .iter()
        .map(record_from_row)
        .collect::<sqlx::Result<Vec<_>>>()?;
    let mut token = String::new();
    if records.len() as i64 > filter.limit {
        records.truncate(filter.limit as usize);
        if let Some(last) = records.last() {
            token = format!("{prefix}{}", last.id);
        }
    }
    Ok((records, token))
}

fn record_from_row(row: &AnyRow) -> sqlx::Result<v1::AuditRecord> {
    let narrow = |value: i64| i32::try_from(value).unwrap_or_default();
    let entry = AuditEntry {
        time_us: row.try_get("time_us")?,
        rpc: row.try_get("rpc")?,
        outcome: narrow(row.try_get("outcome")?),
        credential_id: row.try_get("credential_id")?,
        unit_id: row.try_get("unit_id")?,
        role: narrow(row.try_get("role")?),
        peer: row.try_get("peer")?,
        target: row.try_get("target")?,
        subject_unit_id: row.try_get("subject_unit_id")?,
        before: row.try_get("before_json")?,
        after: row.try_get("after_json")?,
        message: row.try_get("message")?,
        suppressed: row.try_get("suppressed")?,
    };
    Ok(entry.to_proto(row.try_get("id")?))
}

/// A service's audit log: the shared ListAuditRecords handler, and the
/// writer of rejected attempts (each caller's recorded at most
/// [`REJECTIONS_PER_MINUTE`] a minute; the rest are counted in the next).
#[derive(Debug, Clone)]
pub struct AuditLog {
    pool: AnyPool,
    limiter: Arc<KeyedLimiter>,
    /// The rejected attempts being written, waited for at shutdown.
    writes: TaskTracker,
}

/// Rejected attempts recorded per caller and minute.
pub const REJECTIONS_PER_MINUTE: u32 = 20;

impl AuditLog {
    pub fn new(pool: AnyPool) -> Self {
        Self {
            pool,
            limiter: Arc::new(KeyedLimiter::new(Rate::per(
                REJECTIONS_PER_MINUTE,
                Duration::from_secs(60),
            ))),
            writes: TaskTracker::new(),
        }
    }

    /// Waits for the rejected attempts still being written: a service
    /// calls it when it stops, before its pool closes, so no record is lost.
    pub async fn flush(&self) {
        self.writes.close();
        self.writes.wait().await;
        // Open again: a log shared with a service still running keeps taking
        // records (close only lets `wait` end once nothing is in flight).
        self.writes.reopen();
    }

    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    /// Records a rejected attempt, unless this caller's rejections are over
    /// the limit. Written in the background: a rejection must not wait on,
    /// or fail because of, the database.
    pub fn record_rejection(&self, mut entry: AuditEntry) {
        let key = if entry.credential_id.is_empty() {
            // Unauthenticated callers are told apart by address, not port.
            let host = entry
                .peer
                .rsplit_once(':')
                .map_or(entry.peer.as_str(), |(h, _)| h);
            format!("peer/{host}")
        } else {
            format!("credential/{}", entry.credential_id)
        };
        match self.limiter.take(&key) {
            Take::Refused => return,
            Take::Allowed { refused_before } => entry.suppressed = refused_before as i64,
        }
        tracing::warn!(rpc = %entry.rpc, outcome = entry.outcome, credential = %entry.credential_id,
            peer = %entry.peer, message = %entry.message, suppressed = entry.suppressed, "rejected request");
        let pool = self.pool.clone();
        self.writes.spawn(async move {
            let result = async {
                let mut connection = pool.acquire().await?;
                insert(&mut connection, std::slice::from_ref(&entry)).await
            }
            .await;
            if let Err(error) = result {
                tracing::error!(%error, "failed to record a rejected request in the audit log");
            }
        });
    }

    /// The ListAuditRecords RPC (the policy table lets only administrators call it).
    pub async fn list_rpc(
        &self,
        request: &v1::ListAuditRecordsRequest,
    ) -> Result<v1::ListAuditRecordsResponse, Status> {
        let filter = AuditFilter::from_request(request).map_err(Status::from)?;
        let (records, next_page_token) = list(&self.pool, &filter).await.map_err(|error| {
            tracing::error!(%error, cause = ?error, "failed to read the audit log");
            Status::internal("internal error: the audit log could not be read")
        })?;
        Ok(v1::ListAuditRecordsResponse {
            records,
            next_page_token,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn rejections_being_written_are_in_the_log_after_a_flush() {
        let database = tasknet_storage::testing::TestDatabase::sqlite();
        let store = tasknet_storage::Database::open(
            database.url(),
            &tasknet_storage::DatabaseOptions::default(),
            &MIGRATIONS,
        )
        .await
        .unwrap();
        let log = AuditLog::new(store.pool().clone());
        for n in 0..5 {
            log.record_rejection(AuditEntry::rejected(
                None,
                "/tasknet.v1.TaskService/CreateTask",
                Some(format!("10.0.0.{n}:1")),
                AuditOutcome::Invalid,
                "task.title: is required",
            ));
        }
        log.flush().await;
        let filter = AuditFilter::from_request(&v1::ListAuditRecordsRequest::default()).unwrap();
        let (records, _) = list(store.pool(), &filter).await.unwrap();
        assert_eq!(records.len(), 5);
        // The log still takes records after a flush.
        log.record_rejection(AuditEntry::rejected(
            None,
            "/tasknet.v1.TaskService/CreateTask",
            Some("10.0.0.9:1".to_owned()),
            AuditOutcome::Denied,
            "no",
        ));
        log.flush().await;
        let (records, _) = list(store.pool(), &filter).await.unwrap();
        assert_eq!(records.len(), 6);
        store.close().await;
    }

    #[test]
    fn list_requests_are_validated_naming_the_field() {
        let request = |f: fn(&mut v1::ListAuditRecordsRequest)| {
            let mut request = v1::ListAuditRecordsRequest::default();
            f(&mut request);
            AuditFilter::from_request(&request)
        };
        assert_eq!(request(|_| {}).unwrap().limit, 100);
        assert_eq!(
            request(|r| r.unit_id = "x".into()).unwrap_err().field,
            "unit_id"
        );
        assert_eq!(
            request(|r| r.page_size = 1001).unwrap_err().field,
            "page_size"
        );
        assert_eq!(
            request(|r| r.page_size = -1).unwrap_err().field,
            "page_size"
        );
        assert_eq!(
            request(|r| r.page_token = "b7".into()).unwrap_err().field,
            "page_token"
        );
        assert_eq!(request(|r| r.outcome = 99).unwrap_err().field, "outcome");
        assert_eq!(request(|r| r.page_token = "a7".into()).unwrap().after_id, 7);
        // Newest first pages before an id, with tokens of its own.
        let newest = request(|r| r.newest_first = true).unwrap();
        assert!(newest.newest_first);
        assert_eq!(newest.after_id, i64::MAX);
        let older = request(|r| {
            r.newest_first = true;
            r.page_token = "b7".into();
        });
        assert_eq!(older.unwrap().after_id, 7);
        let mixed = request(|r| {
            r.newest_first = true;
            r.page_token = "a7".into();
        });
        assert_eq!(mixed.unwrap_err().field, "page_token");
    }
}
