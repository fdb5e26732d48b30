//! The service's operations on storage: each write validates against the
//! stored state and writes in one transaction holding the unit write lock.

use chrono::{DateTime, Utc};
use sqlx::AnyConnection;
use tasknet_auth::{AuditEntry, audit};
use tasknet_domain::FieldError;
use tasknet_proto::v1;
use tasknet_storage::Database;

use crate::error::Error;
use crate::model::{StoredUnit, UnitFields, fields_from_proto};
use crate::reference;
use crate::repository::{self as repo, Cursor, UnitFilter};

/// Deepest hierarchy walked when checking for cycles; real ones are 2–4 deep.
const MAX_DEPTH: usize = 64;

/// The fields UpdateUnit can replace, as named in `update_mask`.
pub const UPDATABLE_PATHS: &[&str] = &[
    "name_vi",
    "name_en",
    "parent_id",
    "code",
    "region_code",
    "category",
    "valid_from",
    "valid_to",
];

#[derive(Debug, Clone)]
pub struct Store {
    db: Database,
}

impl Store {
    pub fn new(db: Database) -> Self {
        Self { db }
    }

    pub fn database(&self) -> &Database {
        &self.db
    }

    /// Creates the unit `id`, or acknowledges a repeat of the same creation.
    /// Returns the stored unit and whether this call created it.
    /// `audit`, when given, is recorded in the same transaction as a creation.
    pub async fn create(
        &self,
        id: &str,
        fields: UnitFields,
        audit: Option<AuditEntry>,
    ) -> Result<(StoredUnit, bool), Error> {
        let mut tx = repo::begin_write(&self.db).await?;
        if let Some(existing) = repo::get_unit(&mut tx, id).await? {
            if existing.fields == fields {
                return Ok((existing, false));
            }
            return Err(Error::already_exists(
                "unit_id",
                format!("{id} is the id of a unit with other content"),
            ));
        }
        check_references(&mut tx, id, &fields).await?;
        let now = now();
        let unit = StoredUnit {
            id: id.to_owned(),
            fields,
            version: 1,
            create_time: now,
            update_time: now,
        };
        repo::insert_unit(&mut tx, &unit).await?;
        if let Some(entry) = audit {
            let entry = entry.with_change(None, Some(unit.to_json()));
            audit::insert(&mut tx, &[entry]).await?;
        }
        tx.commit().await?;
        Ok((unit, true))
    }

    /// Replaces the fields named by `paths` (already checked against
    /// [`UPDATABLE_PATHS`]) with those of `patch`; a no-op keeps the version.
    pub async fn update(
        &self,
        id: &str,
        paths: &[String],
        patch: &v1::Unit,
        expected_version: Option<i64>,
        audit: Option<AuditEntry>,
    ) -> Result<StoredUnit, Error> {
        let mut tx = repo::begin_write(&self.db).await?;
        let current = repo::get_unit(&mut tx, id)
            .await?
            .ok_or_else(|| Error::not_found("unit.id", format!("no unit {id}")))?;
        check_expected_version("unit", id, expected_version, current.version)?;
        let fields = merged_fields(&current, paths, patch)?;
        if fields == current.fields {
            return Ok(current);
        }
        check_references(&mut tx, id, &fields).await?;
        let before = current.to_json();
        let unit = StoredUnit {
            fields,
            version: current.version + 1,
            update_time: now(),
            ..current
        };
        repo::update_unit(&mut tx, &unit).await?;
        if let Some(entry) = audit {
            let entry = entry.with_change(Some(before), Some(unit.to_json()));
            audit::insert(&mut tx, &[entry]).await?;
        }
        tx.commit().await?;
        Ok(unit)
    }

    pub async fn get(&self, id: &str) -> Result<Option<StoredUnit>, Error> {
        let mut conn = self.db.pool().acquire().await?;
        repo::get_unit(&mut conn, id).await
    }

    pub async fn list(
        &self,
        filter: &UnitFilter,
        cursor: Option<&Cursor>,
        limit: i64,
    ) -> Result<Vec<StoredUnit>, Error> {
        let mut conn = self.db.pool().acquire().await?;
        repo::list_units(&mut conn, filter, cursor, limit).await
    }

    pub async fn regions(&self) -> Result<Vec<v1::Region>, Error> {
        let mut conn = self.db.pool().acquire().await?;
        repo::list_regions(&mut conn).await
    }

    /// Adds the reference regions and units that are missing, in one
    /// transaction; units already present (even if edited since) are left
    /// alone. Returns (units created, reference units in total).
    pub async fn load_reference(&self, audit: Option<AuditEntry>) -> Result<(usize, usize), Error> {
        let regions = reference::reference_regions()?;
        let units = reference::reference_units()?
            .iter()
            .map(|unit| {
                fields_from_proto("unit", unit)
                    .map(|fields| (unit.id.clone(), fields))
                    .map_err(|e| Error::ReferenceData(format!("{}: {e}", unit.code)))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let mut tx = repo::begin_write(&self.db).await?;
        for region in &regions {
            repo::insert_region_if_missing(&mut tx, region).await?;
        }
        let mut created = 0;
        for (id, fields) in &units {
            if repo::unit_exists(&mut tx, id).await? {
                continue;
            }
            check_references(&mut tx, id, fields).await?;
            let now = now();
            let unit = StoredUnit {
                id: id.clone(),
                fields: fields.clone(),
                version: 1,
                create_time: now,
                update_time: now,
            };
            repo::insert_unit(&mut tx, &unit).await?;
            created += 1;
        }
        if let Some(entry) = audit.filter(|_| created > 0) {
            let after = serde_json::json!({ "reference_units_created": created }).to_string();
            audit::insert(&mut tx, &[entry.with_change(None, Some(after))]).await?;
        }
        tx.commit().await?;
        Ok((created, units.len()))
    }
}

/// The current unit with the masked fields taken from `patch`, validated as a whole.
fn merged_fields(
    current: &StoredUnit,
    paths: &[String],
    patch: &v1::Unit,
) -> Result<UnitFields, Error> {
    let mut merged = current.to_proto();
    for path in paths {
        match path.as_str() {
            "name_vi" => merged.name_vi.clone_from(&patch.name_vi),
            "name_en" => merged.name_en.clone_from(&patch.name_en),
            "parent_id" => merged.parent_id.clone_from(&patch.parent_id),
            "code" => merged.code.clone_from(&patch.code),
            "region_code" => merged.region_code.clone_from(&patch.region_code),
            "category" => merged.category = patch.category,
            "valid_from" => merged.valid_from = patch.valid_from,
            "valid_to" => merged.valid_to = patch.valid_to,
            other => {
                return Err(
                    FieldError::new("update_mask", format!("unknown path {other:?}")).into(),
                );
            }
        }
    }
    Ok(fields_from_proto("unit", &merged)?)
}

/// The checks against other rows: the parent exists and is not the unit or
/// one of its descendants, the region exists, and no other unit uses the
/// code on an overlapping date.
async fn check_references(
    conn: &mut AnyConnection,
    id: &str,
    fields: &UnitFields,
) -> Result<(), Error> {
    if let Some(parent_id) = &fields.parent_id {
        check_parent(conn, id, parent_id).await?;
    }
    if let Some(region_code) = &fields.region_code
        && !repo::region_exists(conn, region_code).await?
    {
        return Err(Error::not_found(
            "unit.region_code",
            format!("no region {region_code:?}"),
        ));
    }
    if let Some(other) = repo::code_conflict(conn, fields, id).await? {
        return Err(Error::already_exists(
            "unit.code",
            format!(
                "code {:?} is used by unit {other} on dates that overlap this unit's",
                fields.code
            ),
        ));
    }
    Ok(())
}

async fn check_parent(conn: &mut AnyConnection, id: &str, parent_id: &str) -> Result<(), Error> {
    if !repo::unit_exists(conn, parent_id).await? {
        return Err(Error::not_found(
            "unit.parent_id",
            format!("no unit {parent_id}"),
        ));
    }
    let mut ancestor = Some(parent_id.to_owned());
    for _ in 0..MAX_DEPTH {
        let Some(current) = ancestor else {
            return Ok(());
        };
        if current == id {
            return Err(
                FieldError::new("unit.parent_id", "would make the unit its own ancestor").into(),
            );
        }
        ancestor = repo::parent_of(conn, &current).await?;
    }
    Err(FieldError::new(
        "unit.parent_id",
        format!("hierarchy is deeper than {MAX_DEPTH}"),
    )
    .into())
}

/// Now, to the microsecond that storage keeps, so a returned unit equals
/// the same unit read back.
fn now() -> DateTime<Utc> {
    let now = Utc::now();
    DateTime::from_timestamp_micros(now.timestamp_micros()).unwrap_or(now)
}

/// Optimistic concurrency for updates: FAILED_PRECONDITION naming
/// `expected_version` unless the caller's version (when given) is current.
pub(crate) fn check_expected_version(
    kind: &str,
    id: &str,
    expected: Option<i64>,
    current: i64,
) -> Result<(), Error> {
    match expected {
        Some(expected) if expected != current => Err(Error::failed_precondition(
            "expected_version",
            format!("{kind} {id} is at version {current}, not {expected}"),
        )),
        _ => Ok(()),
    }
}
