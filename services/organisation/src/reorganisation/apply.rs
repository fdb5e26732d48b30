//! Applying a [`Plan`] in one transaction that holds the unit write lock:
//! refused if the reorganisation was applied before; each predecessor must
//! exist, be valid the day before the effective date and not be ended
//! already (which is what an overlapping reorganisation runs into); each
//! successor must be new, with a parent, region and free code. Any refusal
//! rolls everything back, so nothing is half applied.

use chrono::{DateTime, NaiveDate, TimeDelta, Utc};
use sqlx::AnyConnection;
use tasknet_auth::{AuditEntry, audit};
use tasknet_proto::v1::{self, LineageKind};

use super::{Plan, PlannedChange, change_path};
use crate::error::Error;
use crate::lineage;
use crate::model::{StoredUnit, UnitFields};
use crate::repository as repo;
use crate::store::Store;

/// What applying (or validating) a reorganisation did.
#[derive(Debug, Clone)]
pub struct Applied {
    pub reorganisation: v1::Reorganisation,
    pub links: Vec<v1::LineageLink>,
    pub ended: usize,
    pub created: usize,
    pub validated_only: bool,
}

/// Applies `plan`, or with `validate_only` checks it and rolls back.
/// `audit` is recorded in the same transaction.
pub async fn apply(
    store: &Store,
    plan: &Plan,
    validate_only: bool,
    audit: Option<AuditEntry>,
) -> Result<Applied, Error> {
    let mut tx = repo::begin_write(store.database()).await?;
    refuse_repeat(&mut tx, plan).await?;
    let now = now();
    let mut ended = 0;
    let mut created = 0;
    for (index, change) in plan.changes.iter().enumerate() {
        ended += end_predecessors(&mut tx, plan, index, change, now).await?;
    }
    for (index, change) in plan.changes.iter().enumerate() {
        created += create_successors(&mut tx, plan, index, change, now).await?;
    }
    let apply_time_us = now.timestamp_micros();
    let reorganisation = plan.to_proto(apply_time_us);
    lineage::insert_reorganisation(&mut tx, &reorganisation, plan.effective, apply_time_us).await?;
    let links = plan.links();
    for link in &links {
        lineage::insert_link(&mut tx, link).await?;
    }
    if let Some(entry) = audit {
        let after = serde_json::json!({
            "id": plan.id, "name": plan.name, "effective_date": plan.effective.to_string(),
            "units_ended": ended, "units_created": created,
        });
        let entry = entry.with_change(None, Some(after.to_string()));
        audit::insert(&mut tx, &[entry]).await?;
    }
    if validate_only {
        tx.rollback().await?;
    } else {
        tx.commit().await?;
    }
    Ok(Applied {
        reorganisation,
        links,
        ended,
        created,
        validated_only: validate_only,
    })
}

/// The same reorganisation (by id or name) cannot be applied twice.
async fn refuse_repeat(conn: &mut AnyConnection, plan: &Plan) -> Result<(), Error> {
    let Some(stored) = lineage::find_reorganisation(conn, &plan.id, &plan.name).await? else {
        return Ok(());
    };
    let existing = &stored.reorganisation;
    let field = if existing.name == plan.name {
        "reorganisation.name"
    } else {
        "reorganisation.id"
    };
    let applied = DateTime::from_timestamp_micros(stored.apply_time_us)
        .map_or_else(String::new, |t| {
            format!(" at {}", t.format("%Y-%m-%d %H:%M UTC"))
        });
    let effective = tasknet_domain::optional_date_from_proto("", existing.effective_date.as_ref())
        .ok()
        .flatten()
        .map_or_else(String::new, |d| format!(", effective {d}"));
    Err(Error::already_exists(
        field,
        format!(
            "reorganisation {:?} ({}) was already applied{applied}{effective}; nothing was changed",
            existing.name, existing.id
        ),
    ))
}

/// "id (code name)", for messages.
fn describe(unit: &StoredUnit) -> String {
    format!("{} ({} {})", unit.id, unit.fields.code, unit.fields.name_vi)
}

/// Checks and ends the predecessors of one change; returns how many.
async fn end_predecessors(
    conn: &mut AnyConnection,
    plan: &Plan,
    index: usize,
    change: &PlannedChange,
    now: DateTime<Utc>,
) -> Result<usize, Error> {
    let last_day = plan.effective - TimeDelta::days(1);
    for (j, id) in change.predecessors.iter().enumerate() {
        let field = format!("{}.predecessor_unit_ids[{j}]", change_path(index));
        let unit = repo::get_unit(conn, id)
            .await?
            .ok_or_else(|| Error::not_found(&field, format!("no unit {id}")))?;
        check_still_valid(conn, &field, &unit, plan.effective).await?;
        check_kind_against(index, change, &unit)?;
        check_children(conn, plan, &field, &unit).await?;
        let ended = StoredUnit {
            fields: UnitFields {
                valid_to: Some(last_day),
                ..unit.fields.clone()
            },
            version: unit.version + 1,
            update_time: now,
            ..unit
        };
        repo::update_unit(conn, &ended).await?;
    }
    Ok(change.predecessors.len())
}

/// A predecessor exists before the effective date and has not ended.
async fn check_still_valid(
    conn: &mut AnyConnection,
    field: &str,
    unit: &StoredUnit,
    effective: NaiveDate,
) -> Result<(), Error> {
    if unit.fields.valid_from >= effective {
        let message = format!(
            "unit {} begins on {}, not before the effective date {effective}",
            describe(unit),
            unit.fields.valid_from
        );
        return Err(Error::failed_precondition(field, message));
    }
    let Some(valid_to) = unit.fields.valid_to else {
        return Ok(());
    };
    let by = match lineage::ending_link(conn, &unit.id).await? {
        Some(link) => {
            match lineage::find_reorganisation(conn, &link.reorganisation_id, "").await? {
                Some(stored) => format!(" by reorganisation {:?}", stored.reorganisation.name),
                None => String::new(),
            }
        }
        None => String::new(),
    };
    let message = format!(
        "unit {} already ended on {valid_to}{by}; it cannot be ended again (nothing was changed)",
        describe(unit)
    );
    Err(Error::failed_precondition(field, message))
}

/// A rename keeps the parent; a move changes it.
fn check_kind_against(
    index: usize,
    change: &PlannedChange,
    unit: &StoredUnit,
) -> Result<(), Error> {
    let Some((_, successor)) = change.successors.first() else {
        return Ok(());
    };
    let same_parent = successor.parent_id == unit.fields.parent_id;
    let problem = match change.kind {
        LineageKind::Rename if !same_parent => "a rename keeps the parent (use MOVE to change it)",
        LineageKind::Move if same_parent => "a move changes the parent (use RENAME to keep it)",
        _ => return Ok(()),
    };
    let field = format!("{}.successors[0].parent_id", change_path(index));
    Err(Error::failed_precondition(&field, problem))
}

/// Units under an ended unit must be moved or ended in the same reorganisation.
async fn check_children(
    conn: &mut AnyConnection,
    plan: &Plan,
    field: &str,
    unit: &StoredUnit,
) -> Result<(), Error> {
    let children = lineage::children_valid_on(conn, &unit.id, plan.effective).await?;
    let ended: Vec<&String> = plan.changes.iter().flat_map(|c| &c.predecessors).collect();
    if let Some(child) = children.iter().find(|child| !ended.contains(child)) {
        let message = format!(
            "unit {} has unit {child} under it, still valid on {}; move or end it in the same reorganisation",
            describe(unit),
            plan.effective
        );
        return Err(Error::failed_precondition(field, message));
    }
    Ok(())
}

/// Checks and creates the successors of one change; returns how many.
async fn create_successors(
    conn: &mut AnyConnection,
    plan: &Plan,
    index: usize,
    change: &PlannedChange,
    now: DateTime<Utc>,
) -> Result<usize, Error> {
    for (j, (id, fields)) in change.successors.iter().enumerate() {
        let path = format!("{}.successors[{j}]", change_path(index));
        if repo::unit_exists(conn, id).await? {
            let message = format!("unit {id} exists already; a successor is a new unit");
            return Err(Error::already_exists(&format!("{path}.id"), message));
        }
        check_successor_references(conn, plan, &path, id, fields).await?;
        let unit = StoredUnit {
            id: id.clone(),
            fields: fields.clone(),
            version: 1,
            create_time: now,
            update_time: now,
        };
        repo::insert_unit(conn, &unit).await?;
    }
    Ok(change.successors.len())
}

/// The parent exists on the effective date and is not ended by this
/// reorganisation; the region exists; no other unit has the code then.
async fn check_successor_references(
    conn: &mut AnyConnection,
    plan: &Plan,
    path: &str,
    id: &str,
    fields: &UnitFields,
) -> Result<(), Error> {
    if let Some(parent_id) = &fields.parent_id {
        let field = format!("{path}.parent_id");
        let parent = repo::get_unit(conn, parent_id)
            .await?
            .ok_or_else(|| Error::not_found(&field, format!("no unit {parent_id}")))?;
        let valid = parent.fields.valid_from <= plan.effective
            && parent.fields.valid_to.is_none_or(|to| to >= plan.effective);
        if !valid {
            let message = format!(
                "the parent {} is not valid on {} (ended by this or an earlier change?)",
                describe(&parent),
                plan.effective
            );
            return Err(Error::failed_precondition(&field, message));
        }
    }
    if let Some(region) = &fields.region_code
        && !repo::region_exists(conn, region).await?
    {
        let field = format!("{path}.region_code");
        return Err(Error::not_found(&field, format!("no region {region:?}")));
    }
    if let Some(other) = repo::code_conflict(conn, fields, id).await? {
        let holder = repo::get_unit(conn, &other)
            .await?
            .map_or(other.clone(), |unit| describe(&unit));
        let message = format!(
            "code {:?} is used by unit {holder} on or after {}; the code is not free",
            fields.code, plan.effective
        );
        return Err(Error::already_exists(&format!("{path}.code"), message));
    }
    Ok(())
}

/// Now, to the microsecond that storage keeps.
fn now() -> DateTime<Utc> {
    let now = Utc::now();
    DateTime::from_timestamp_micros(now.timestamp_micros()).unwrap_or(now)
}
