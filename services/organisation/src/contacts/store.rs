//! Unit contacts in storage: SQL for both back ends, and the writes, each
//! checked against the stored state and written with its audit record in
//! one transaction holding the organisation write lock (so a contact
//! cannot be added to a unit while another writer checks the same thing).

use chrono::{DateTime, Utc};
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};
use tasknet_auth::{AuditEntry, audit};
use tasknet_proto::v1::{self, ContactRole, Language};
use tasknet_storage::Database;

use super::{ContactFields, Quiet, StoredContact, contact_fields_from_proto};
use crate::error::Error;
use crate::repository::{self as repo, Conditions, Value};

const COLUMNS: &str = "id, unit_id, role, name, email, language, quiet_start_minute, \
                       quiet_end_minute, opted_out, version, create_time_us, update_time_us";

/// Where a page of contacts starts: the listing order's key of the last
/// contact of the previous page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContactCursor {
    pub unit_id: String,
    pub role: i64,
    pub name: String,
    pub id: String,
}

impl ContactCursor {
    pub fn after(contact: &StoredContact) -> Self {
        Self {
            unit_id: contact.fields.unit_id.clone(),
            role: contact.fields.role as i64,
            name: contact.fields.name.clone(),
            id: contact.id.clone(),
        }
    }
}

/// Creates the contact `id`, or acknowledges a repeat of the same creation;
/// returns the stored contact and whether this call created it.
pub async fn create(
    db: &Database,
    id: &str,
    fields: ContactFields,
    audit: Option<AuditEntry>,
) -> Result<(StoredContact, bool), Error> {
    let mut tx = repo::begin_write(db).await?;
    if let Some(existing) = get_contact(&mut tx, id).await? {
        if existing.fields == fields {
            return Ok((existing, false));
        }
        return Err(Error::already_exists(
            "contact_id",
            format!("{id} is the id of a contact with other content"),
        ));
    }
    check_references(&mut tx, id, &fields).await?;
    let now = now();
    let contact = StoredContact {
        id: id.to_owned(),
        fields,
        version: 1,
        create_time: now,
        update_time: now,
    };
    insert(&mut tx, &contact).await?;
    if let Some(entry) = audit {
        let entry = about(entry, &contact).with_change(None, Some(contact.to_json()));
        audit::insert(&mut tx, &[entry]).await?;
    }
    tx.commit().await?;
    Ok((contact, true))
}

/// Replaces the fields named by `paths` (already checked against
/// [`super::UPDATABLE_CONTACT_PATHS`]) with those of `patch`; a change that
/// changes nothing keeps the version and writes no audit record.
pub async fn update(
    db: &Database,
    id: &str,
    paths: &[String],
    patch: &v1::UnitContact,
    expected_version: Option<i64>,
    audit: Option<AuditEntry>,
) -> Result<StoredContact, Error> {
    let mut tx = repo::begin_write(db).await?;
    let current = get_contact(&mut tx, id)
        .await?
        .ok_or_else(|| Error::not_found("contact.id", format!("no contact {id}")))?;
    crate::store::check_expected_version("contact", id, expected_version, current.version)?;
    let fields = merged_fields(&current, paths, patch)?;
    if fields == current.fields {
        return Ok(current);
    }
    check_references(&mut tx, id, &fields).await?;
    let before = current.to_json();
    let contact = StoredContact {
        fields,
        version: current.version + 1,
        update_time: now(),
        ..current
    };
    sqlx::query(
        "UPDATE unit_contacts SET role = $2, name = $3, email = $4, language = $5, \
         quiet_start_minute = $6, quiet_end_minute = $7, opted_out = $8, version = $9, \
         update_time_us = $10 WHERE id = $1",
    )
    .bind(&contact.id)
    .bind(contact.fields.role as i64)
    .bind(&contact.fields.name)
    .bind(&contact.fields.email)
    .bind(contact.fields.language as i64)
    .bind(
        contact
            .fields
            .quiet_hours
            .map(|q| i64::from(q.start_minute)),
    )
    .bind(contact.fields.quiet_hours.map(|q| i64::from(q.end_minute)))
    .bind(i64::from(contact.fields.opted_out))
    .bind(contact.version)
    .bind(contact.update_time.timestamp_micros())
    .execute(&mut *tx)
    .await?;
    if let Some(entry) = audit {
        let entry = about(entry, &contact).with_change(Some(before), Some(contact.to_json()));
        audit::insert(&mut tx, &[entry]).await?;
    }
    tx.commit().await?;
    Ok(contact)
}

/// Deletes a contact and returns what it was.
pub async fn delete(
    db: &Database,
    id: &str,
    audit: Option<AuditEntry>,
) -> Result<StoredContact, Error> {
    let mut tx = repo::begin_write(db).await?;
    let current = get_contact(&mut tx, id)
        .await?
        .ok_or_else(|| Error::not_found("contact_id", format!("no contact {id}")))?;
    sqlx::query("DELETE FROM unit_contacts WHERE id = $1")
        .bind(id)
        .execute(&mut *tx)
        .await?;
    if let Some(entry) = audit {
        let entry = about(entry, &current).with_change(Some(current.to_json()), None);
        audit::insert(&mut tx, &[entry]).await?;
    }
    tx.commit().await?;
    Ok(current)
}

pub async fn get(db: &Database, id: &str) -> Result<Option<StoredContact>, Error> {
    let mut conn = db.pool().acquire().await?;
    get_contact(&mut conn, id).await
}

/// Up to `limit` contacts (of `unit_id` only, when given) after `cursor`,
/// by unit, role, name and id.
pub async fn list(
    db: &Database,
    unit_id: Option<&str>,
    cursor: Option<&ContactCursor>,
    limit: i64,
) -> Result<Vec<StoredContact>, Error> {
    let mut conditions = Conditions::default();
    if let Some(unit_id) = unit_id {
        let p = conditions.value(Value::Text(unit_id.to_owned()));
        conditions.clauses.push(format!("unit_id = {p}"));
    }
    if let Some(c) = cursor {
        let unit_id = conditions.value(Value::Text(c.unit_id.clone()));
        let role = conditions.value(Value::Int(c.role));
        let name = conditions.value(Value::Text(c.name.clone()));
        let id = conditions.value(Value::Text(c.id.clone()));
        conditions.clauses.push(format!(
            "(unit_id, role, name, id) > ({unit_id}, {role}, {name}, {id})"
        ));
    }
    let limit = conditions.value(Value::Int(limit));
    let sql = format!(
        "SELECT {COLUMNS} FROM unit_contacts {} ORDER BY unit_id, role, name, id LIMIT {limit}",
        conditions.where_clause()
    );
    let rows = conditions.bind(&sql).fetch_all(db.pool()).await?;
    rows.iter().map(from_row).collect()
}

/// The audit entry names the contact and is about the contact's unit.
fn about(mut entry: AuditEntry, contact: &StoredContact) -> AuditEntry {
    entry.target = format!("contact/{}", contact.id);
    entry.subject_unit_id.clone_from(&contact.fields.unit_id);
    entry
}

/// The current contact with the masked fields taken from `patch`, validated
/// as a whole (the unit is not among the paths: it stays).
fn merged_fields(
    current: &StoredContact,
    paths: &[String],
    patch: &v1::UnitContact,
) -> Result<ContactFields, Error> {
    let mut merged = current.to_proto();
    for path in paths {
        match path.as_str() {
            "name" => merged.name.clone_from(&patch.name),
            "role" => merged.role = patch.role,
            "email" => merged.email.clone_from(&patch.email),
            "language" => merged.language = patch.language,
            "quiet_hours" => merged.quiet_hours = patch.quiet_hours,
            "opted_out" => merged.opted_out = patch.opted_out,
            other => {
                return Err(tasknet_domain::FieldError::new(
                    "update_mask",
                    format!("unknown path {other:?}"),
                )
                .into());
            }
        }
    }
    Ok(contact_fields_from_proto("contact", &merged)?)
}

/// The unit exists, and no other contact of the unit has the same role and
/// address (it would be told everything twice).
async fn check_references(
    conn: &mut AnyConnection,
    id: &str,
    fields: &ContactFields,
) -> Result<(), Error> {
    if !repo::unit_exists(conn, &fields.unit_id).await? {
        return Err(Error::not_found(
            "contact.unit_id",
            format!("no unit {}", fields.unit_id),
        ));
    }
    let twin = sqlx::query(
        "SELECT id FROM unit_contacts WHERE unit_id = $1 AND role = $2 AND email = $3 \
         AND id <> $4 ORDER BY id LIMIT 1",
    )
    .bind(&fields.unit_id)
    .bind(fields.role as i64)
    .bind(&fields.email)
    .bind(id)
    .fetch_optional(conn)
    .await?;
    if let Some(twin) = twin {
        let twin: String = twin.try_get("id")?;
        return Err(Error::already_exists(
            "contact.email",
            format!(
                "{} is already this unit's {} as contact {twin}",
                fields.email,
                role_words(fields.role)
            ),
        ));
    }
    Ok(())
}

fn role_words(role: ContactRole) -> &'static str {
    match role {
        ContactRole::Head => "head",
        ContactRole::FocalPoint | ContactRole::Unspecified => "focal point",
    }
}

async fn insert(conn: &mut AnyConnection, contact: &StoredContact) -> Result<(), Error> {
    let f = &contact.fields;
    sqlx::query(&format!(
        "INSERT INTO unit_contacts ({COLUMNS}) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)"
    ))
    .bind(&contact.id)
    .bind(&f.unit_id)
    .bind(f.role as i64)
    .bind(&f.name)
    .bind(&f.email)
    .bind(f.language as i64)
    .bind(f.quiet_hours.map(|q| i64::from(q.start_minute)))
    .bind(f.quiet_hours.map(|q| i64::from(q.end_minute)))
    .bind(i64::from(f.opted_out))
    .bind(contact.version)
    .bind(contact.create_time.timestamp_micros())
    .bind(contact.update_time.timestamp_micros())
    .execute(conn)
    .await?;
    Ok(())
}

async fn get_contact(conn: &mut AnyConnection, id: &str) -> Result<Option<StoredContact>, Error> {
    let row = sqlx::query(&format!(
        "SELECT {COLUMNS} FROM unit_contacts WHERE id = $1"
    ))
    .bind(id)
    .fetch_optional(conn)
    .await?;
    row.as_ref().map(from_row).transpose()
}

fn from_row(row: &AnyRow) -> Result<StoredContact, Error> {
    let id: String = row.try_get("id")?;
    let corrupt = |problem: &str| Error::Corrupt {
        id: id.clone(),
        problem: problem.to_owned(),
    };
    let role = i32::try_from(row.try_get::<i64, _>("role")?)
        .ok()
        .and_then(|value| ContactRole::try_from(value).ok())
        .filter(|role| *role != ContactRole::Unspecified)
        .ok_or_else(|| corrupt("unknown contact role"))?;
    let language = i32::try_from(row.try_get::<i64, _>("language")?)
        .ok()
        .and_then(|value| Language::try_from(value).ok())
        .filter(|language| *language != Language::Unspecified)
        .ok_or_else(|| corrupt("unknown language"))?;
    let minute = |column: &str| -> Result<Option<i32>, Error> {
        row.try_get::<Option<i64>, _>(column)?
            .map(|m| i32::try_from(m).map_err(|_| corrupt(column)))
            .transpose()
    };
    let quiet_hours = match (minute("quiet_start_minute")?, minute("quiet_end_minute")?) {
        (Some(start_minute), Some(end_minute)) => Some(Quiet {
            start_minute,
            end_minute,
        }),
        (None, None) => None,
        _ => return Err(corrupt("half a quiet window")),
    };
    let instant = |column: &str| -> Result<DateTime<Utc>, Error> {
        let micros: i64 = row.try_get(column)?;
        DateTime::from_timestamp_micros(micros).ok_or_else(|| corrupt(column))
    };
    Ok(StoredContact {
        fields: ContactFields {
            unit_id: row.try_get("unit_id")?,
            name: row.try_get("name")?,
            role,
            email: row.try_get("email")?,
            language,
            quiet_hours,
            opted_out: row.try_get::<i64, _>("opted_out")? != 0,
        },
        version: row.try_get("version")?,
        create_time: instant("create_time_us")?,
        update_time: instant("update_time_us")?,
        id,
    })
}

/// Now, to the microsecond that storage keeps, so a returned contact equals
/// the same contact read back.
fn now() -> DateTime<Utc> {
    let now = Utc::now();
    DateTime::from_timestamp_micros(now.timestamp_micros()).unwrap_or(now)
}
