//! Reorganisations: one effective-dated change set (merges, splits, renames,
//! moves, dissolutions), checked as a whole — first on its own ([`Plan`],
//! here), then against the stored units inside the transaction that applies
//! it ([`apply`]). The built-in 2025 provincial merger is in [`reference`].

pub mod apply;
mod handlers;
pub mod reference;

#[cfg(test)]
mod tests;

use std::collections::{HashMap, HashSet};

use chrono::NaiveDate;
use tasknet_domain::FieldError;
use tasknet_proto::v1::{self, LineageKind};
use uuid::Uuid;

use crate::model::{UnitFields, canonical_uuid, fields_from_proto, optional_uuid};
use crate::reference::REFERENCE_NAMESPACE;

/// Longest reorganisation name, in characters.
const MAX_NAME_CHARS: usize = 64;
/// Longest description, in characters.
const MAX_DESCRIPTION_CHARS: usize = 2000;
/// Most changes in one reorganisation.
const MAX_CHANGES: usize = 1000;

/// A reorganisation checked on its own: ids normalised, successors' fields
/// validated, each kind with the right number of units on each side.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    pub id: String,
    pub name: String,
    pub description: String,
    /// The first day of the new structure.
    pub effective: NaiveDate,
    pub changes: Vec<PlannedChange>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlannedChange {
    pub kind: LineageKind,
    pub predecessors: Vec<String>,
    /// (id, fields), valid from the effective date.
    pub successors: Vec<(String, UnitFields)>,
}

/// The id a reorganisation without one gets: the same for the same name.
pub fn reorganisation_id_for(name: &str) -> String {
    let name = format!("reorganisation:{name}");
    Uuid::new_v5(&REFERENCE_NAMESPACE, name.as_bytes())
        .hyphenated()
        .to_string()
}

/// The path of change `index` in the request.
pub fn change_path(index: usize) -> String {
    format!("reorganisation.changes[{index}]")
}

impl Plan {
    /// Everything that can be checked without the database.
    pub fn from_proto(reorganisation: &v1::Reorganisation) -> Result<Self, FieldError> {
        let name = validate_name(&reorganisation.name)?;
        let id = match optional_uuid("reorganisation.id", &reorganisation.id)? {
            Some(id) => id,
            None => reorganisation_id_for(&name),
        };
        let description = validate_description(&reorganisation.description)?;
        let effective = tasknet_domain::date_from_proto(
            "reorganisation.effective_date",
            reorganisation.effective_date.as_ref(),
        )?;
        if reorganisation.changes.is_empty() {
            return Err(FieldError::missing("reorganisation.changes"));
        }
        if reorganisation.changes.len() > MAX_CHANGES {
            return Err(FieldError::new(
                "reorganisation.changes",
                format!("has more than {MAX_CHANGES} changes"),
            ));
        }
        let changes = reorganisation
            .changes
            .iter()
            .enumerate()
            .map(|(index, change)| planned_change(index, change, effective))
            .collect::<Result<Vec<_>, _>>()?;
        let plan = Self {
            id,
            name,
            description,
            effective,
            changes,
        };
        plan.check_unique()?;
        Ok(plan)
    }

    /// No unit ends twice, no successor id repeats or names a predecessor,
    /// and no two successors share a code.
    fn check_unique(&self) -> Result<(), FieldError> {
        let mut ended = HashSet::new();
        for (i, change) in self.changes.iter().enumerate() {
            for (j, id) in change.predecessors.iter().enumerate() {
                if !ended.insert(id.as_str()) {
                    let field = format!("{}.predecessor_unit_ids[{j}]", change_path(i));
                    return Err(FieldError::new(
                        field,
                        format!("unit {id} ends twice in this reorganisation"),
                    ));
                }
            }
        }
        let mut created = HashSet::new();
        let mut codes: HashMap<&str, usize> = HashMap::new();
        for (i, change) in self.changes.iter().enumerate() {
            for (j, (id, fields)) in change.successors.iter().enumerate() {
                let path = format!("{}.successors[{j}]", change_path(i));
                if ended.contains(id.as_str()) || !created.insert(id.as_str()) {
                    let message = format!("unit {id} appears twice in this reorganisation");
                    return Err(FieldError::new(format!("{path}.id"), message));
                }
                if let Some(other) = codes.insert(fields.code.as_str(), i) {
                    let message = format!(
                        "code {:?} is given to two new units (also in changes[{other}])",
                        fields.code
                    );
                    return Err(FieldError::new(format!("{path}.code"), message));
                }
            }
        }
        Ok(())
    }

    /// The lineage links the plan records.
    pub fn links(&self) -> Vec<v1::LineageLink> {
        let effective = Some(tasknet_domain::date_to_proto(self.effective));
        let mut links = Vec::new();
        for change in &self.changes {
            for predecessor in &change.predecessors {
                let link = |successor: &str, primary: bool| v1::LineageLink {
                    predecessor_unit_id: predecessor.clone(),
                    successor_unit_id: successor.to_owned(),
                    effective_date: effective,
                    kind: change.kind as i32,
                    reorganisation_id: self.id.clone(),
                    primary,
                };
                if change.successors.is_empty() {
                    links.push(link("", false));
                }
                for (index, (successor, _)) in change.successors.iter().enumerate() {
                    links.push(link(successor, index == 0));
                }
            }
        }
        links
    }

    /// The reorganisation as applied: ids and successors filled in.
    pub fn to_proto(&self, apply_time_us: i64) -> v1::Reorganisation {
        let changes = self
            .changes
            .iter()
            .map(|change| v1::UnitChange {
                kind: change.kind as i32,
                predecessor_unit_ids: change.predecessors.clone(),
                successors: change
                    .successors
                    .iter()
                    .map(|(id, fields)| unit_proto(id, fields))
                    .collect(),
            })
            .collect();
        v1::Reorganisation {
            id: self.id.clone(),
            name: self.name.clone(),
            description: self.description.clone(),
            effective_date: Some(tasknet_domain::date_to_proto(self.effective)),
            changes,
            apply_time: chrono::DateTime::from_timestamp_micros(apply_time_us)
                .map(tasknet_domain::timestamp_to_proto),
        }
    }
}

/// A successor's content as the wire shows it (no version or times yet).
fn unit_proto(id: &str, fields: &UnitFields) -> v1::Unit {
    v1::Unit {
        id: id.to_owned(),
        category: fields.category as i32,
        parent_id: fields.parent_id.clone().unwrap_or_default(),
        code: fields.code.clone(),
        name_vi: fields.name_vi.clone(),
        name_en: fields.name_en.clone(),
        region_code: fields.region_code.clone().unwrap_or_default(),
        valid_from: Some(tasknet_domain::date_to_proto(fields.valid_from)),
        valid_to: fields.valid_to.map(tasknet_domain::date_to_proto),
        ..Default::default()
    }
}

fn validate_name(name: &str) -> Result<String, FieldError> {
    const FIELD: &str = "reorganisation.name";
    if name.is_empty() {
        return Err(FieldError::missing(FIELD));
    }
    let well_formed = name.chars().count() <= MAX_NAME_CHARS
        && !name.starts_with('-')
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    if !well_formed {
        let message = format!(
            "{name:?} is not a name: up to {MAX_NAME_CHARS} lower-case letters, digits and '-'"
        );
        return Err(FieldError::new(FIELD, message));
    }
    Ok(name.to_owned())
}

fn validate_description(text: &str) -> Result<String, FieldError> {
    const FIELD: &str = "reorganisation.description";
    if text.chars().count() > MAX_DESCRIPTION_CHARS {
        let message = format!("is longer than {MAX_DESCRIPTION_CHARS} characters");
        return Err(FieldError::new(FIELD, message));
    }
    if text.chars().any(|c| c.is_control() && c != '\n') {
        return Err(FieldError::new(FIELD, "contains control characters"));
    }
    Ok(text.trim().to_owned())
}

fn planned_change(
    index: usize,
    change: &v1::UnitChange,
    effective: NaiveDate,
) -> Result<PlannedChange, FieldError> {
    let path = change_path(index);
    let kind = match LineageKind::try_from(change.kind) {
        Ok(LineageKind::Unspecified) => return Err(FieldError::missing(format!("{path}.kind"))),
        Ok(kind) => kind,
        Err(_) => {
            let message = format!("{} is not a lineage kind", change.kind);
            return Err(FieldError::new(format!("{path}.kind"), message));
        }
    };
    let predecessors = change
        .predecessor_unit_ids
        .iter()
        .enumerate()
        .map(|(j, id)| canonical_uuid(&format!("{path}.predecessor_unit_ids[{j}]"), id))
        .collect::<Result<Vec<_>, _>>()?;
    let successors = change
        .successors
        .iter()
        .enumerate()
        .map(|(j, unit)| successor(&format!("{path}.successors[{j}]"), unit, effective))
        .collect::<Result<Vec<_>, _>>()?;
    check_arity(&path, kind, predecessors.len(), successors.len())?;
    Ok(PlannedChange {
        kind,
        predecessors,
        successors,
    })
}

/// A new unit: valid from the effective date, open-ended.
fn successor(
    path: &str,
    unit: &v1::Unit,
    effective: NaiveDate,
) -> Result<(String, UnitFields), FieldError> {
    let id = optional_uuid(&format!("{path}.id"), &unit.id)?
        .unwrap_or_else(|| Uuid::now_v7().hyphenated().to_string());
    let mut unit = unit.clone();
    match tasknet_domain::optional_date_from_proto(
        &format!("{path}.valid_from"),
        unit.valid_from.as_ref(),
    )? {
        Some(from) if from != effective => {
            let message = format!("{from} is not the effective date {effective} (leave it unset)");
            return Err(FieldError::new(format!("{path}.valid_from"), message));
        }
        _ => unit.valid_from = Some(tasknet_domain::date_to_proto(effective)),
    }
    if unit.valid_to.is_some() {
        let message =
            "must be unset: a new unit is open-ended (end it with a later reorganisation)";
        return Err(FieldError::new(format!("{path}.valid_to"), message));
    }
    Ok((id, fields_from_proto(path, &unit)?))
}

fn check_arity(
    path: &str,
    kind: LineageKind,
    predecessors: usize,
    successors: usize,
) -> Result<(), FieldError> {
    let (min_before, max_before, min_after, max_after, rule) = match kind {
        LineageKind::Merge => (2, usize::MAX, 1, 1, "a merge joins 2 or more units into 1"),
        LineageKind::Split => (1, 1, 2, usize::MAX, "a split divides 1 unit into 2 or more"),
        LineageKind::Rename => (1, 1, 1, 1, "a rename turns 1 unit into 1"),
        LineageKind::Move => (1, 1, 1, 1, "a move turns 1 unit into 1"),
        LineageKind::Dissolve => (
            1,
            usize::MAX,
            0,
            0,
            "a dissolution ends units with no successor",
        ),
        LineageKind::Unspecified => (0, 0, 0, 0, "unspecified"),
    };
    if !(min_before..=max_before).contains(&predecessors) {
        let message = format!("has {predecessors} predecessors; {rule}");
        return Err(FieldError::new(
            format!("{path}.predecessor_unit_ids"),
            message,
        ));
    }
    if !(min_after..=max_after).contains(&successors) {
        let message = if successors == 0 {
            format!("are required: {rule} (only a dissolution leaves units without a successor)")
        } else {
            format!("has {successors} successors; {rule}")
        };
        return Err(FieldError::new(format!("{path}.successors"), message));
    }
    Ok(())
}
