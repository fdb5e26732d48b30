//! SQL for units and regions, one text for both back ends. Functions take a
//! connection so that the write paths can run them inside one transaction.

use chrono::{DateTime, NaiveDate, Utc};
use sqlx::any::{AnyArguments, AnyRow};
use sqlx::query::Query;
use sqlx::{Any, AnyConnection, Row, Transaction};
use tasknet_domain::{date_from_storage, date_to_storage};
use tasknet_proto::v1::{self, UnitCategory};
use tasknet_storage::{Backend, Database};

use crate::error::Error;
use crate::model::{StoredUnit, UnitFields};

const UNIT_COLUMNS: &str = "id, category, parent_id, code, name_vi, name_en, region_code, \
                            valid_from, valid_to, version, create_time_us, update_time_us";

/// Stands for "no end" when comparing validity intervals.
const END_OF_TIME: i64 = 99_991_231;

/// Advisory-lock key serialising unit writes on PostgreSQL ("tasknet-org").
const WRITE_LOCK_KEY: i64 = 0x0074_6173_6b6f_7267;

/// Starts a transaction that holds the unit write lock until it ends, so a
/// check ("is this code free?") and the write that relies on it cannot
/// interleave with another writer's. Unit writes are rare; one at a time
/// costs nothing.
pub async fn begin_write(db: &Database) -> Result<Transaction<'static, Any>, sqlx::Error> {
    match db.backend() {
        // IMMEDIATE takes SQLite's write lock at once (waiting up to the busy
        // timeout), rather than failing when a read turns into a write.
        Backend::Sqlite => db.pool().begin_with("BEGIN IMMEDIATE").await,
        Backend::Postgres => {
            let mut tx = db.pool().begin().await?;
            // pg_advisory_xact_lock returns void, which the Any driver cannot
            // decode, hence the wrapping query.
            sqlx::query("SELECT CAST(1 AS BIGINT) FROM (SELECT pg_advisory_xact_lock($1)) AS l")
                .bind(WRITE_LOCK_KEY)
                .execute(&mut *tx)
                .await?;
            Ok(tx)
        }
    }
}

/// Which units to list; `None` means no restriction.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UnitFilter {
    pub category: Option<UnitCategory>,
    pub parent_id: Option<String>,
    pub region_code: Option<String>,
    pub code: Option<String>,
    pub as_of: Option<NaiveDate>,
}

/// The position after which a page starts: the last (code, id) of the previous page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cursor {
    pub code: String,
    pub id: String,
}

/// A value bound to a placeholder of a query built at run time.
pub(crate) enum Value {
    Int(i64),
    Text(String),
}

pub async fn get_unit(conn: &mut AnyConnection, id: &str) -> Result<Option<StoredUnit>, Error> {
    let sql = format!("SELECT {UNIT_COLUMNS} FROM units WHERE id = $1");
    let row = sqlx::query(&sql).bind(id).fetch_optional(conn).await?;
    row.as_ref().map(unit_from_row).transpose()
}

pub async fn unit_exists(conn: &mut AnyConnection, id: &str) -> Result<bool, Error> {
    let row = sqlx::query("SELECT id FROM units WHERE id = $1")
        .bind(id)
        .fetch_optional(conn)
        .await?;
    Ok(row.is_some())
}

/// The parent of a unit (`None` for a root or an unknown unit).
pub async fn parent_of(conn: &mut AnyConnection, id: &str) -> Result<Option<String>, Error> {
    let row = sqlx::query("SELECT parent_id FROM units WHERE id = $1")
        .bind(id)
        .fetch_optional(conn)
        .await?;
    Ok(match row {
        Some(row) => row.try_get::<Option<String>, _>("parent_id")?,
        None => None,
    })
}

pub async fn region_exists(conn: &mut AnyConnection, code: &str) -> Result<bool, Error> {
    let row = sqlx::query("SELECT code FROM regions WHERE code = $1")
        .bind(code)
        .fetch_optional(conn)
        .await?;
    Ok(row.is_some())
}

/// A unit other than `except_id` with the same code whose validity interval
/// overlaps [valid_from, valid_to]: the code would be ambiguous on some day.
pub async fn code_conflict(
    conn: &mut AnyConnection,
    fields: &UnitFields,
    except_id: &str,
) -> Result<Option<String>, Error> {
    let row = sqlx::query(
        "SELECT id FROM units WHERE code = $1 AND id <> $2 \
         AND valid_from <= $3 AND (valid_to IS NULL OR valid_to >= $4) \
         ORDER BY id LIMIT 1",
    )
    .bind(&fields.code)
    .bind(except_id)
    .bind(fields.valid_to.map_or(END_OF_TIME, date_to_storage))
    .bind(date_to_storage(fields.valid_from))
    .fetch_optional(conn)
    .await?;
    Ok(row.map(|row| row.try_get::<String, _>("id")).transpose()?)
}

pub async fn insert_unit(conn: &mut AnyConnection, unit: &StoredUnit) -> Result<(), Error> {
    let f = &unit.fields;
    sqlx::query(
        "INSERT INTO units (id, category, parent_id, code, name_vi, name_en, region_code, \
         valid_from, valid_to, version, create_time_us, update_time_us) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
    )
    .bind(&unit.id)
    .bind(f.category as i64)
    .bind(f.parent_id.clone())
    .bind(&f.code)
    .bind(&f.name_vi)
    .bind(&f.name_en)
    .bind(f.region_code.clone())
    .bind(date_to_storage(f.valid_from))
    .bind(f.valid_to.map(date_to_storage))
    .bind(unit.version)
    .bind(unit.create_time.timestamp_micros())
    .bind(unit.update_time.timestamp_micros())
    .execute(conn)
    .await
    .map_err(|error| code_rule_refused(error, &f.code))?;
    Ok(())
}

/// Replaces the fields, version and update time of an existing unit.
pub async fn update_unit(conn: &mut AnyConnection, unit: &StoredUnit) -> Result<(), Error> {
    let f = &unit.fields;
    sqlx::query(
        "UPDATE units SET category = $2, parent_id = $3, code = $4, name_vi = $5, name_en = $6, \
         region_code = $7, valid_from = $8, valid_to = $9, version = $10, update_time_us = $11 \
         WHERE id = $1",
    )
    .bind(&unit.id)
    .bind(f.category as i64)
    .bind(f.parent_id.clone())
    .bind(&f.code)
    .bind(&f.name_vi)
    .bind(&f.name_en)
    .bind(f.region_code.clone())
    .bind(date_to_storage(f.valid_from))
    .bind(f.valid_to.map(date_to_storage))
    .bind(unit.version)
    .bind(unit.update_time.timestamp_micros())
    .execute(conn)
    .await
    .map_err(|error| code_rule_refused(error, &f.code))?;
    Ok(())
}

/// The database's own check of "one unit per code per day" (migration 0005:
/// an exclusion constraint on PostgreSQL, triggers on SQLite), named in its
/// error on both.
const CODE_RULE: &str = "units_one_per_code_per_day";

/// ALREADY_EXISTS naming `unit.code` when the database refused the write for
/// the code rule (the service's own check comes first and names the unit;
/// this is the rule holding for any writer); other errors as they are.
fn code_rule_refused(error: sqlx::Error, code: &str) -> Error {
    let refused = error
        .as_database_error()
        .is_some_and(|database| database.message().contains(CODE_RULE));
    if refused {
        Error::already_exists(
            "unit.code",
            format!("code {code:?} is used by another unit on dates that overlap this unit's"),
        )
    } else {
        error.into()
    }
}

/// Conditions and their values, numbering placeholders in order of first
/// appearance (as SQLite needs).
#[derive(Default)]
pub(crate) struct Conditions {
    pub(crate) clauses: Vec<String>,
    values: Vec<Value>,
}

impl Conditions {
    /// Adds a value and returns its placeholder.
    pub(crate) fn value(&mut self, value: Value) -> String {
        self.values.push(value);
        format!("${}", self.values.len())
    }

    /// `sql` with the values bound in order.
    pub(crate) fn bind(self, sql: &str) -> Query<'_, Any, AnyArguments<'_>> {
        let mut query = sqlx::query(sql);
        for value in self.values {
            query = match value {
                Value::Int(v) => query.bind(v),
                Value::Text(v) => query.bind(v),
            };
        }
        query
    }

    pub(crate) fn where_clause(&self) -> String {
        if self.clauses.is_empty() {
            String::new()
        } else {
            format!("WHERE {}", self.clauses.join(" AND "))
        }
    }
}

fn filter_conditions(filter: &UnitFilter, cursor: Option<&Cursor>) -> Conditions {
    let mut c = Conditions::default();
    if let Some(category) = filter.category {
        let p = c.value(Value::Int(category as i64));
        c.clauses.push(format!("category = {p}"));
    }
    if let Some(parent_id) = &filter.parent_id {
        let p = c.value(Value::Text(parent_id.clone()));
        c.clauses.push(format!("parent_id = {p}"));
    }
    if let Some(region_code) = &filter.region_code {
        let p = c.value(Value::Text(region_code.clone()));
        c.clauses.push(format!("region_code = {p}"));
    }
    if let Some(code) = &filter.code {
        let p = c.value(Value::Text(code.clone()));
        c.clauses.push(format!("code = {p}"));
    }
    if let Some(as_of) = filter.as_of {
        let p = c.value(Value::Int(date_to_storage(as_of)));
        c.clauses.push(format!(
            "valid_from <= {p} AND (valid_to IS NULL OR valid_to >= {p})"
        ));
    }
    if let Some(cursor) = cursor {
        let code = c.value(Value::Text(cursor.code.clone()));
        let id = c.value(Value::Text(cursor.id.clone()));
        c.clauses
            .push(format!("(code > {code} OR (code = {code} AND id > {id}))"));
    }
    c
}

/// Up to `limit` units matching `filter` after `cursor`, ordered by (code, id).
pub async fn list_units(
    conn: &mut AnyConnection,
    filter: &UnitFilter,
    cursor: Option<&Cursor>,
    limit: i64,
) -> Result<Vec<StoredUnit>, Error> {
    let mut conditions = filter_conditions(filter, cursor);
    let limit = conditions.value(Value::Int(limit));
    let sql = format!(
        "SELECT {UNIT_COLUMNS} FROM units {} ORDER BY code, id LIMIT {limit}",
        conditions.where_clause()
    );
    let rows = conditions.bind(&sql).fetch_all(conn).await?;
    rows.iter().map(unit_from_row).collect()
}

pub async fn list_regions(conn: &mut AnyConnection) -> Result<Vec<v1::Region>, Error> {
    let rows = sqlx::query("SELECT code, name_vi, name_en FROM regions ORDER BY code")
        .fetch_all(conn)
        .await?;
    rows.iter()
        .map(|row| {
            Ok(v1::Region {
                code: row.try_get("code")?,
                name_vi: row.try_get("name_vi")?,
                name_en: row.try_get("name_en")?,
            })
        })
        .collect()
}

/// Adds a region unless its code is known; true when it was added.
pub async fn insert_region_if_missing(
    conn: &mut AnyConnection,
    region: &v1::Region,
) -> Result<bool, Error> {
    let result = sqlx::query(
        "INSERT INTO regions (code, name_vi, name_en) VALUES ($1, $2, $3) \
         ON CONFLICT (code) DO NOTHING",
    )
    .bind(&region.code)
    .bind(&region.name_vi)
    .bind(&region.name_en)
    .execute(conn)
    .await?;
    Ok(result.rows_affected() > 0)
}

fn unit_from_row(row: &AnyRow) -> Result<StoredUnit, Error> {
    let id: String = row.try_get("id")?;
    let corrupt = |problem: &str| Error::Corrupt {
        id: id.clone(),
        problem: problem.to_owned(),
    };
    let category = i32::try_from(row.try_get::<i64, _>("category")?)
        .ok()
        .and_then(|value| UnitCategory::try_from(value).ok())
        .filter(|category| *category != UnitCategory::Unspecified)
        .ok_or_else(|| corrupt("unknown category"))?;
    let valid_from = date_from_storage(row.try_get("valid_from")?)
        .ok_or_else(|| corrupt("invalid valid_from"))?;
    let valid_to = match row.try_get::<Option<i64>, _>("valid_to")? {
        Some(value) => Some(date_from_storage(value).ok_or_else(|| corrupt("invalid valid_to"))?),
        None => None,
    };
    let instant = |column: &str| -> Result<DateTime<Utc>, Error> {
        let micros: i64 = row.try_get(column)?;
        DateTime::from_timestamp_micros(micros).ok_or_else(|| corrupt(column))
    };
    Ok(StoredUnit {
        fields: UnitFields {
            category,
            parent_id: row.try_get("parent_id")?,
            code: row.try_get("code")?,
            name_vi: row.try_get("name_vi")?,
            name_en: row.try_get("name_en")?,
            region_code: row.try_get("region_code")?,
            valid_from,
            valid_to,
        },
        version: row.try_get("version")?,
        create_time: instant("create_time_us")?,
        update_time: instant("update_time_us")?,
        id,
    })
}
