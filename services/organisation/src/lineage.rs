//! SQL for reorganisations and the lineage between units, one text for both
//! back ends. Functions take a connection so that applying a reorganisation
//! runs them all inside one transaction.

use chrono::NaiveDate;
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};
use tasknet_domain::{date_from_storage, date_to_proto, date_to_storage};
use tasknet_proto::prost::Message;
use tasknet_proto::v1::{self, LineageKind};

use crate::error::Error;

const LINK_COLUMNS: &str =
    "predecessor_id, successor_id, effective_date, kind, reorganisation_id, is_primary";

/// Links in a stable order on both back ends (a dissolution's NULL
/// successor sorts first everywhere).
const LINK_ORDER: &str =
    "ORDER BY effective_date, reorganisation_id, predecessor_id, COALESCE(successor_id, '')";

/// An applied reorganisation as stored.
#[derive(Debug, Clone)]
pub struct StoredReorganisation {
    pub reorganisation: v1::Reorganisation,
    pub apply_time_us: i64,
}

/// The reorganisation with this id or this name, if one was applied.
pub async fn find_reorganisation(
    conn: &mut AnyConnection,
    id: &str,
    name: &str,
) -> Result<Option<StoredReorganisation>, Error> {
    let row = sqlx::query(
        "SELECT id, apply_time_us, payload FROM reorganisations \
         WHERE id = $1 OR name = $2 ORDER BY effective_date, id LIMIT 1",
    )
    .bind(id)
    .bind(name)
    .fetch_optional(conn)
    .await?;
    row.as_ref().map(reorganisation_from_row).transpose()
}

/// Every applied reorganisation, in effective-date order.
pub async fn list_reorganisations(
    conn: &mut AnyConnection,
) -> Result<Vec<StoredReorganisation>, Error> {
    let rows = sqlx::query(
        "SELECT id, apply_time_us, payload FROM reorganisations ORDER BY effective_date, id",
    )
    .fetch_all(conn)
    .await?;
    rows.iter().map(reorganisation_from_row).collect()
}

fn reorganisation_from_row(row: &AnyRow) -> Result<StoredReorganisation, Error> {
    let id: String = row.try_get("id")?;
    let payload: Vec<u8> = row.try_get("payload")?;
    let reorganisation =
        v1::Reorganisation::decode(payload.as_slice()).map_err(|error| Error::Corrupt {
            id: id.clone(),
            problem: format!("reorganisation payload: {error}"),
        })?;
    Ok(StoredReorganisation {
        reorganisation,
        apply_time_us: row.try_get("apply_time_us")?,
    })
}

pub async fn insert_reorganisation(
    conn: &mut AnyConnection,
    reorganisation: &v1::Reorganisation,
    effective: NaiveDate,
    apply_time_us: i64,
) -> Result<(), Error> {
    sqlx::query(
        "INSERT INTO reorganisations (id, name, effective_date, apply_time_us, payload) \
         VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(&reorganisation.id)
    .bind(&reorganisation.name)
    .bind(date_to_storage(effective))
    .bind(apply_time_us)
    .bind(reorganisation.encode_to_vec())
    .execute(conn)
    .await?;
    Ok(())
}

pub async fn insert_link(conn: &mut AnyConnection, link: &v1::LineageLink) -> Result<(), Error> {
    let effective =
        tasknet_domain::date_from_proto("effective_date", link.effective_date.as_ref())?;
    let successor = (!link.successor_unit_id.is_empty()).then(|| link.successor_unit_id.clone());
    sqlx::query(&format!(
        "INSERT INTO unit_lineage ({LINK_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6)"
    ))
    .bind(&link.predecessor_unit_id)
    .bind(successor)
    .bind(date_to_storage(effective))
    .bind(i64::from(link.kind))
    .bind(&link.reorganisation_id)
    .bind(i64::from(link.primary))
    .execute(conn)
    .await?;
    Ok(())
}

/// Every link, or those of one reorganisation.
pub async fn list_links(
    conn: &mut AnyConnection,
    reorganisation_id: Option<&str>,
) -> Result<Vec<v1::LineageLink>, Error> {
    let rows =
        match reorganisation_id {
            Some(id) => sqlx::query(&format!(
                "SELECT {LINK_COLUMNS} FROM unit_lineage WHERE reorganisation_id = $1 {LINK_ORDER}"
            ))
            .bind(id)
            .fetch_all(conn)
            .await?,
            None => {
                sqlx::query(&format!(
                    "SELECT {LINK_COLUMNS} FROM unit_lineage {LINK_ORDER}"
                ))
                .fetch_all(conn)
                .await?
            }
        };
    rows.iter().map(link_from_row).collect()
}

/// The link that ended `unit_id` (any of them, for a split), if any.
pub async fn ending_link(
    conn: &mut AnyConnection,
    unit_id: &str,
) -> Result<Option<v1::LineageLink>, Error> {
    let row = sqlx::query(&format!(
        "SELECT {LINK_COLUMNS} FROM unit_lineage WHERE predecessor_id = $1 {LINK_ORDER} LIMIT 1"
    ))
    .bind(unit_id)
    .fetch_optional(conn)
    .await?;
    row.as_ref().map(link_from_row).transpose()
}

/// Units whose parent is `parent_id` and that are still valid on `day`.
pub async fn children_valid_on(
    conn: &mut AnyConnection,
    parent_id: &str,
    day: NaiveDate,
) -> Result<Vec<String>, Error> {
    let rows = sqlx::query(
        "SELECT id FROM units WHERE parent_id = $1 AND (valid_to IS NULL OR valid_to >= $2) \
         ORDER BY id",
    )
    .bind(parent_id)
    .bind(date_to_storage(day))
    .fetch_all(conn)
    .await?;
    rows.iter()
        .map(|row| Ok(row.try_get::<String, _>("id")?))
        .collect()
}

fn link_from_row(row: &AnyRow) -> Result<v1::LineageLink, Error> {
    let predecessor: String = row.try_get("predecessor_id")?;
    let effective =
        date_from_storage(row.try_get("effective_date")?).ok_or_else(|| Error::Corrupt {
            id: predecessor.clone(),
            problem: "invalid lineage effective_date".to_owned(),
        })?;
    let kind = i32::try_from(row.try_get::<i64, _>("kind")?)
        .ok()
        .filter(|kind| LineageKind::try_from(*kind).is_ok())
        .ok_or_else(|| Error::Corrupt {
            id: predecessor.clone(),
            problem: "unknown lineage kind".to_owned(),
        })?;
    Ok(v1::LineageLink {
        successor_unit_id: row
            .try_get::<Option<String>, _>("successor_id")?
            .unwrap_or_default(),
        effective_date: Some(date_to_proto(effective)),
        kind,
        reorganisation_id: row.try_get("reorganisation_id")?,
        primary: row.try_get::<i64, _>("is_primary")? != 0,
        predecessor_unit_id: predecessor,
    })
}
