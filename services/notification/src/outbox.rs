//! The notification database: the outbox (every decision, written before
//! anything is sent, once per deterministic id), the days judged, and the
//! webhook subscriptions. Senders claim due rows with a lease, so replicas
//! sharing the outbox never send a row at the same time and a crashed
//! sender's rows come back once its lease expires.

use chrono::{DateTime, NaiveDate, Utc};
use sqlx::any::AnyRow;
use sqlx::migrate::Migrator;
use sqlx::{AnyPool, Row};
use tasknet_auth::{AuditEntry, audit};
use tasknet_domain::{date_from_storage, date_to_proto, date_to_storage, timestamp_to_proto};
use tasknet_proto::v1;
use tasknet_storage::{Backend, Database, DatabaseOptions, Migrations};

use crate::quiet::QuietHours;
use crate::rules::{Decision, Payload};

static SQLITE: Migrator = sqlx::migrate!("./migrations/sqlite");
static POSTGRES: Migrator = sqlx::migrate!("./migrations/postgres");

/// The outbox's migrations, then the audit log's.
pub static MIGRATIONS: Migrations = Migrations {
    sqlite: &SQLITE,
    postgres: &POSTGRES,
    shared: &[&tasknet_auth::audit::MIGRATIONS],
    edited: &[],
};

const COLUMNS: &str = "id, rule, days, task_id, unit_id, day, channel, recipient, language, \
                       payload, quiet_start, quiet_end, state, attempts, create_time_us, \
                       next_attempt_us, sent_time_us, last_error";
/// The dead letters GetNotificationStatus lists.
const DEAD_LETTERS_LISTED: i64 = 100;
const DEFAULT_PAGE_SIZE: i64 = 100;
const MAX_PAGE_SIZE: i64 = 1000;

fn micros(time: DateTime<Utc>) -> i64 {
    time.timestamp_micros()
}

fn from_micros(value: i64) -> Option<DateTime<Utc>> {
    DateTime::<Utc>::from_timestamp_micros(value)
}

/// One row of the outbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub id: String,
    pub rule: v1::NotificationRule,
    pub days: i32,
    pub task_id: String,
    pub unit_id: String,
    pub day: NaiveDate,
    pub channel: v1::NotificationChannel,
    pub recipient: String,
    pub language: v1::Language,
    pub payload: String,
    pub quiet_hours: Option<QuietHours>,
    pub state: v1::DeliveryState,
    pub attempts: i32,
    pub create_time_us: i64,
    pub next_attempt_us: i64,
    pub sent_time_us: Option<i64>,
    pub last_error: String,
}

impl Entry {
    fn from_row(row: &AnyRow) -> Result<Self, sqlx::Error> {
        let int = |name: &str| -> Result<i32, sqlx::Error> {
            let value: i64 = row.try_get(name)?;
            i32::try_from(value).map_err(|error| sqlx::Error::Decode(Box::new(error)))
        };
        let day: i64 = row.try_get("day")?;
        let quiet_start: Option<i64> = row.try_get("quiet_start")?;
        let quiet_end: Option<i64> = row.try_get("quiet_end")?;
        let quiet_hours = match (quiet_start, quiet_end) {
            (Some(start), Some(end)) => QuietHours::new(
                i32::try_from(start).unwrap_or(-1),
                i32::try_from(end).unwrap_or(-1),
            ),
            _ => None,
        };
        Ok(Self {
            id: row.try_get("id")?,
            rule: v1::NotificationRule::try_from(int("rule")?).unwrap_or_default(),
            days: int("days")?,
            task_id: row.try_get("task_id")?,
            unit_id: row.try_get("unit_id")?,
            day: date_from_storage(day).ok_or_else(|| {
                sqlx::Error::Decode(format!("stored day {day} is not a date").into())
            })?,
            channel: v1::NotificationChannel::try_from(int("channel")?).unwrap_or_default(),
            recipient: row.try_get("recipient")?,
            language: v1::Language::try_from(int("language")?).unwrap_or_default(),
            payload: row.try_get("payload")?,
            quiet_hours,
            state: v1::DeliveryState::try_from(int("state")?).unwrap_or_default(),
            attempts: int("attempts")?,
            create_time_us: row.try_get("create_time_us")?,
            next_attempt_us: row.try_get("next_attempt_us")?,
            sent_time_us: row.try_get("sent_time_us")?,
            last_error: row.try_get("last_error")?,
        })
    }

    /// What the message says.
    pub fn payload(&self) -> Result<Payload, serde_json::Error> {
        serde_json::from_str(&self.payload)
    }

    pub fn to_proto(&self) -> v1::Notification {
        v1::Notification {
            id: self.id.clone(),
            rule: self.rule as i32,
            days: self.days,
            task_id: self.task_id.clone(),
            unit_id: self.unit_id.clone(),
            day: Some(date_to_proto(self.day)),
            channel: self.channel as i32,
            recipient: self.recipient.clone(),
            language: self.language as i32,
            state: self.state as i32,
            attempts: self.attempts,
            create_time: from_micros(self.create_time_us).map(timestamp_to_proto),
            next_attempt_time: (self.state == v1::DeliveryState::Pending)
                .then(|| from_micros(self.next_attempt_us).map(timestamp_to_proto))
                .flatten(),
            sent_time: self
                .sent_time_us
                .and_then(from_micros)
                .map(timestamp_to_proto),
            last_error: self.last_error.clone(),
        }
    }
}

/// What writing a day's decisions did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Written {
    /// New rows.
    pub decided: i64,
    /// Rows that were already there (the same id).
    pub already_decided: i64,
}

/// How a failed delivery attempt ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AfterFailure {
    /// Back in the queue, not before the given time.
    Retry,
    /// Given up: a dead letter.
    Dead,
    /// The lease had passed to another sender; nothing was changed.
    LeaseLost,
}

/// A filter for ListNotifications.
#[derive(Debug, Clone, Default)]
pub struct ListFilter {
    pub unit_id: Option<String>,
    pub state: Option<v1::DeliveryState>,
    pub day: Option<NaiveDate>,
    pub page_size: i64,
    /// (create_time_us, id) of the last row of the previous page.
    pub after: Option<(i64, String)>,
}

impl ListFilter {
    pub fn page_size(requested: i32) -> i64 {
        match i64::from(requested) {
            size if size <= 0 => DEFAULT_PAGE_SIZE,
            size => size.min(MAX_PAGE_SIZE),
        }
    }
}

/// Counts by channel and state, the last day judged and the dead letters.
#[derive(Debug, Clone, Default)]
pub struct Status {
    pub last_judged: Option<(NaiveDate, i64)>,
    /// (channel, state, count).
    pub counts: Vec<(i32, i32, i64)>,
    pub dead_letters: Vec<Entry>,
}

/// A webhook subscription as stored (with its secret).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Webhook {
    pub id: String,
    pub url: String,
    pub unit_ids: Vec<String>,
    pub label: String,
    pub language: v1::Language,
    pub secret: String,
    pub create_time_us: i64,
}

impl Webhook {
    fn from_row(row: &AnyRow) -> Result<Self, sqlx::Error> {
        let unit_ids: String = row.try_get("unit_ids")?;
        let language: i64 = row.try_get("language")?;
        Ok(Self {
            id: row.try_get("id")?,
            url: row.try_get("url")?,
            unit_ids: unit_ids.split_whitespace().map(str::to_owned).collect(),
            label: row.try_get("label")?,
            language: i32::try_from(language)
                .ok()
                .and_then(|l| v1::Language::try_from(l).ok())
                .unwrap_or_default(),
            secret: row.try_get("secret")?,
            create_time_us: row.try_get("create_time_us")?,
        })
    }

    /// The subscription as clients see it (never the secret).
    pub fn to_proto(&self) -> v1::WebhookSubscription {
        v1::WebhookSubscription {
            id: self.id.clone(),
            url: self.url.clone(),
            unit_ids: self.unit_ids.clone(),
            label: self.label.clone(),
            language: self.language as i32,
            create_time: from_micros(self.create_time_us).map(timestamp_to_proto),
        }
    }
}

/// A handle on the notification database (cheap to clone).
#[derive(Debug, Clone)]
pub struct Outbox {
    database: Database,
}

impl Outbox {
    /// Connects and migrates.
    pub async fn open(url: &str, options: &DatabaseOptions) -> anyhow::Result<Self> {
        let database = Database::open(url, options, &MIGRATIONS).await?;
        Ok(Self { database })
    }

    pub fn database(&self) -> &Database {
        &self.database
    }

    pub fn pool(&self) -> &AnyPool {
        self.database.pool()
    }

    pub async fn close(&self) {
        self.database.close().await;
    }

    /// Writes a day's decisions (each once: a known id adds nothing) and
    /// records the day as judged at `cursor`, in one transaction.
    pub async fn write_day(
        &self,
        day: NaiveDate,
        cursor: i64,
        decisions: &[Decision],
        now: DateTime<Utc>,
    ) -> Result<Written, sqlx::Error> {
        let mut tx = self.pool().begin().await?;
        let mut written = Written::default();
        for decision in decisions {
            let payload = serde_json::to_string(&decision.payload)
                .map_err(|error| sqlx::Error::Encode(Box::new(error)))?;
            let inserted = sqlx::query(
                "INSERT INTO ntf_outbox (id, rule, days, task_id, unit_id, day, channel, \
                 recipient, language, payload, quiet_start, quiet_end, state, attempts, \
                 create_time_us, next_attempt_us, last_error) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, 0, $14, $15, '') \
                 ON CONFLICT (id) DO NOTHING",
            )
            .bind(&decision.id)
            .bind(decision.rule as i64)
            .bind(i64::from(decision.days))
            .bind(&decision.task_id)
            .bind(&decision.unit_id)
            .bind(date_to_storage(decision.day))
            .bind(decision.channel as i64)
            .bind(&decision.recipient)
            .bind(decision.language as i64)
            .bind(payload)
            .bind(decision.quiet_hours.map(|q| i64::from(q.start_minute)))
            .bind(decision.quiet_hours.map(|q| i64::from(q.end_minute)))
            .bind(v1::DeliveryState::Pending as i64)
            .bind(micros(now))
            .bind(micros(decision.not_before))
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if inserted > 0 {
                written.decided += 1;
            } else {
                written.already_decided += 1;
            }
        }
        sqlx::query(
            "INSERT INTO ntf_judged_days (day, judged_time_us, cursor) VALUES ($1, $2, $3) \
             ON CONFLICT (day) DO UPDATE SET judged_time_us = excluded.judged_time_us, \
             cursor = excluded.cursor",
        )
        .bind(date_to_storage(day))
        .bind(micros(now))
        .bind(cursor)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(written)
    }

    /// The last day judged and the cursor it read.
    pub async fn last_judged(&self) -> Result<Option<(NaiveDate, i64)>, sqlx::Error> {
        let row = sqlx::query("SELECT day, cursor FROM ntf_judged_days ORDER BY day DESC LIMIT 1")
            .fetch_optional(self.pool())
            .await?;
        let Some(row) = row else { return Ok(None) };
        let day: i64 = row.try_get("day")?;
        Ok(date_from_storage(day).map(|day| (day, row.try_get("cursor").unwrap_or(0))))
    }

    /// Leases up to `limit` pending rows due at `now` to `owner` until
    /// `lease_until`, and returns them. A row leased to another sender
    /// whose lease has not expired is never returned; the conditions are
    /// repeated on the updated row so that two senders racing for the same
    /// row cannot both win it (PostgreSQL re-checks them after a
    /// concurrent update; SQLite runs one writer at a time).
    pub async fn claim(
        &self,
        owner: &str,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        limit: i64,
        channels: &[v1::NotificationChannel],
    ) -> Result<Vec<Entry>, sqlx::Error> {
        // Channel numbers come from the enum, never from input.
        let channels = channels
            .iter()
            .map(|channel| (*channel as i32).to_string())
            .collect::<Vec<_>>()
            .join(", ");
        if channels.is_empty() {
            return Ok(Vec::new());
        }
        let skip_locked = match self.database.backend() {
            // Replicas skip rows another is claiming instead of queueing on them.
            Backend::Postgres => " FOR UPDATE SKIP LOCKED",
            Backend::Sqlite => "",
        };
        let claimable = format!(
            "state = $3 AND next_attempt_us <= $4 AND channel IN ({channels}) \
             AND (lease_until_us IS NULL OR lease_until_us <= $4)"
        );
        let sql = format!(
            "UPDATE ntf_outbox SET lease_owner = $1, lease_until_us = $2 \
             WHERE {claimable} AND id IN (SELECT id FROM ntf_outbox WHERE {claimable} \
             ORDER BY next_attempt_us, id LIMIT $5{skip_locked})"
        );
        sqlx::query(&sql)
            .bind(owner)
            .bind(micros(lease_until))
            .bind(v1::DeliveryState::Pending as i64)
            .bind(micros(now))
            .bind(limit)
            .execute(self.pool())
            .await?;
        let rows = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM ntf_outbox WHERE lease_owner = $1 AND state = $2 \
             ORDER BY next_attempt_us, id"
        ))
        .bind(owner)
        .bind(v1::DeliveryState::Pending as i64)
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(Entry::from_row).collect()
    }

    /// Marks a leased row sent at `now`; false when the lease had passed
    /// to another sender (which will then find it sent or send it itself).
    pub async fn mark_sent(
        &self,
        id: &str,
        owner: &str,
        now: DateTime<Utc>,
    ) -> Result<bool, sqlx::Error> {
        let updated = sqlx::query(
            "UPDATE ntf_outbox SET state = $1, sent_time_us = $2, attempts = attempts + 1, \
             lease_owner = NULL, lease_until_us = NULL, last_error = '' \
             WHERE id = $3 AND lease_owner = $4 AND state = $5",
        )
        .bind(v1::DeliveryState::Sent as i64)
        .bind(micros(now))
        .bind(id)
        .bind(owner)
        .bind(v1::DeliveryState::Pending as i64)
        .execute(self.pool())
        .await?
        .rows_affected();
        Ok(updated > 0)
    }

    /// Records a failed attempt: back in the queue at `retry_at`, or a dead
    /// letter once it has had `max_attempts`.
    pub async fn mark_failed(
        &self,
        entry: &Entry,
        owner: &str,
        error: &str,
        max_attempts: i32,
        retry_at: DateTime<Utc>,
    ) -> Result<AfterFailure, sqlx::Error> {
        let attempts = entry.attempts.saturating_add(1);
        let (state, outcome) = if attempts >= max_attempts {
            (v1::DeliveryState::Dead, AfterFailure::Dead)
        } else {
            (v1::DeliveryState::Pending, AfterFailure::Retry)
        };
        let error: String = error.chars().take(500).collect();
        let updated = sqlx::query(
            "UPDATE ntf_outbox SET state = $1, attempts = attempts + 1, last_error = $2, \
             next_attempt_us = $3, lease_owner = NULL, lease_until_us = NULL \
             WHERE id = $4 AND lease_owner = $5 AND state = $6",
        )
        .bind(state as i64)
        .bind(error)
        .bind(micros(retry_at))
        .bind(&entry.id)
        .bind(owner)
        .bind(v1::DeliveryState::Pending as i64)
        .execute(self.pool())
        .await?
        .rows_affected();
        Ok(if updated > 0 {
            outcome
        } else {
            AfterFailure::LeaseLost
        })
    }

    /// Puts a leased row back without counting an attempt (quiet hours, no
    /// SMTP server configured), not before `until`, noting `reason`.
    pub async fn defer(
        &self,
        id: &str,
        owner: &str,
        until: DateTime<Utc>,
        reason: &str,
    ) -> Result<(), sqlx::Error> {
        sqlx::query(
            "UPDATE ntf_outbox SET next_attempt_us = $1, last_error = $2, lease_owner = NULL, \
             lease_until_us = NULL WHERE id = $3 AND lease_owner = $4",
        )
        .bind(micros(until))
        .bind(reason)
        .bind(id)
        .bind(owner)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    pub async fn get(&self, id: &str) -> Result<Option<Entry>, sqlx::Error> {
        let row = sqlx::query(&format!("SELECT {COLUMNS} FROM ntf_outbox WHERE id = $1"))
            .bind(id)
            .fetch_optional(self.pool())
            .await?;
        row.as_ref().map(Entry::from_row).transpose()
    }

    /// Puts a dead letter back in the queue, its attempts starting again;
    /// `None` when it is not a dead letter (the caller tells why).
    pub async fn retry(
        &self,
        id: &str,
        now: DateTime<Utc>,
        audit_entry: AuditEntry,
    ) -> Result<Option<Entry>, sqlx::Error> {
        let mut tx = self.pool().begin().await?;
        let updated = sqlx::query(
            "UPDATE ntf_outbox SET state = $1, attempts = 0, next_attempt_us = $2, \
             last_error = '', lease_owner = NULL, lease_until_us = NULL \
             WHERE id = $3 AND state = $4",
        )
        .bind(v1::DeliveryState::Pending as i64)
        .bind(micros(now))
        .bind(id)
        .bind(v1::DeliveryState::Dead as i64)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if updated == 0 {
            return Ok(None);
        }
        let after = serde_json::json!({ "notification_id": id, "state": "PENDING" });
        audit::insert(
            &mut tx,
            &[audit_entry.with_change(
                Some(serde_json::json!({ "notification_id": id, "state": "DEAD" }).to_string()),
                Some(after.to_string()),
            )],
        )
        .await?;
        tx.commit().await?;
        self.get(id).await
    }

    /// Newest first, filtered, one page.
    pub async fn list(&self, filter: &ListFilter) -> Result<Vec<Entry>, sqlx::Error> {
        let mut conditions = Vec::new();
        let mut next = 1;
        let mut placeholder = || {
            let text = format!("${next}");
            next += 1;
            text
        };
        if filter.unit_id.is_some() {
            conditions.push(format!("unit_id = {}", placeholder()));
        }
        if filter.state.is_some() {
            conditions.push(format!("state = {}", placeholder()));
        }
        if filter.day.is_some() {
            conditions.push(format!("day = {}", placeholder()));
        }
        if filter.after.is_some() {
            let (time, id) = (placeholder(), placeholder());
            conditions.push(format!(
                "(create_time_us < {time} OR (create_time_us = {time} AND id < {id}))"
            ));
        }
        let limit = placeholder();
        let filter_sql = if conditions.is_empty() {
            String::new()
        } else {
            format!("WHERE {}", conditions.join(" AND "))
        };
        let sql = format!(
            "SELECT {COLUMNS} FROM ntf_outbox {filter_sql} \
             ORDER BY create_time_us DESC, id DESC LIMIT {limit}"
        );
        let mut query = sqlx::query(&sql);
        if let Some(unit_id) = &filter.unit_id {
            query = query.bind(unit_id.clone());
        }
        if let Some(state) = filter.state {
            query = query.bind(state as i64);
        }
        if let Some(day) = filter.day {
            query = query.bind(date_to_storage(day));
        }
        if let Some((time, id)) = &filter.after {
            query = query.bind(*time).bind(id.clone());
        }
        let rows = query.bind(filter.page_size).fetch_all(self.pool()).await?;
        rows.iter().map(Entry::from_row).collect()
    }

    /// Counts by channel and state, the last day judged, the newest dead letters.
    pub async fn status(&self) -> Result<Status, sqlx::Error> {
        let rows = sqlx::query(
            "SELECT channel, state, COUNT(*) AS n FROM ntf_outbox GROUP BY channel, state \
             ORDER BY channel, state",
        )
        .fetch_all(self.pool())
        .await?;
        let mut counts = Vec::new();
        for row in rows {
            let channel: i64 = row.try_get("channel")?;
            let state: i64 = row.try_get("state")?;
            let count: i64 = row.try_get("n")?;
            counts.push((
                i32::try_from(channel).unwrap_or_default(),
                i32::try_from(state).unwrap_or_default(),
                count,
            ));
        }
        let dead = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM ntf_outbox WHERE state = $1 \
             ORDER BY create_time_us DESC, id DESC LIMIT $2"
        ))
        .bind(v1::DeliveryState::Dead as i64)
        .bind(DEAD_LETTERS_LISTED)
        .fetch_all(self.pool())
        .await?;
        Ok(Status {
            last_judged: self.last_judged().await?,
            counts,
            dead_letters: dead.iter().map(Entry::from_row).collect::<Result<_, _>>()?,
        })
    }

    /// Stores a new subscription (and its audit record) in one transaction.
    pub async fn create_webhook(
        &self,
        webhook: &Webhook,
        audit_entry: AuditEntry,
    ) -> Result<(), sqlx::Error> {
        let mut tx = self.pool().begin().await?;
        sqlx::query(
            "INSERT INTO ntf_webhooks (id, url, unit_ids, label, language, secret, create_time_us) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(&webhook.id)
        .bind(&webhook.url)
        .bind(webhook.unit_ids.join(" "))
        .bind(&webhook.label)
        .bind(webhook.language as i64)
        .bind(&webhook.secret)
        .bind(webhook.create_time_us)
        .execute(&mut *tx)
        .await?;
        let after = webhook_json(webhook);
        audit::insert(&mut tx, &[audit_entry.with_change(None, Some(after))]).await?;
        tx.commit().await
    }

    pub async fn webhooks(&self) -> Result<Vec<Webhook>, sqlx::Error> {
        let rows = sqlx::query(
            "SELECT id, url, unit_ids, label, language, secret, create_time_us \
             FROM ntf_webhooks ORDER BY create_time_us, id",
        )
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(Webhook::from_row).collect()
    }

    pub async fn webhook(&self, id: &str) -> Result<Option<Webhook>, sqlx::Error> {
        let row = sqlx::query(
            "SELECT id, url, unit_ids, label, language, secret, create_time_us \
             FROM ntf_webhooks WHERE id = $1",
        )
        .bind(id)
        .fetch_optional(self.pool())
        .await?;
        row.as_ref().map(Webhook::from_row).transpose()
    }

    /// Deletes a subscription (and records it); false when there was none.
    pub async fn delete_webhook(
        &self,
        id: &str,
        audit_entry: AuditEntry,
    ) -> Result<bool, sqlx::Error> {
        let Some(webhook) = self.webhook(id).await? else {
            return Ok(false);
        };
        let mut tx = self.pool().begin().await?;
        let deleted = sqlx::query("DELETE FROM ntf_webhooks WHERE id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        if deleted == 0 {
            return Ok(false);
        }
        let before = webhook_json(&webhook);
        audit::insert(&mut tx, &[audit_entry.with_change(Some(before), None)]).await?;
        tx.commit().await?;
        Ok(true)
    }
}

/// A subscription as the audit log records it (without the secret).
fn webhook_json(webhook: &Webhook) -> String {
    serde_json::json!({
        "id": webhook.id, "url": webhook.url, "unit_ids": webhook.unit_ids,
        "label": webhook.label, "language": webhook.language as i32,
    })
    .to_string()
}
